"""``nn_core.nn.Module`` and ``Parameter``: the container every layer derives from.

Attribute assignment registers parameters, buffers and submodules (as in PyTorch), so
``state_dict()`` keys follow the attribute path ("features.0.weight") and weights from
a PyTorch ``state_dict`` of the same module tree load unchanged.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import nn_core as nc
from nn_core import Tensor


class Parameter(Tensor):
    """A tensor that is a module's learnable parameter (a leaf with requires_grad=True)."""

    def __init__(self, data: Optional[Tensor] = None, requires_grad: bool = True):
        if data is None:
            data = nc.empty(0)
        Tensor.__init__(self, data.detach())
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + Tensor.__repr__(self)

    __str__ = __repr__


class Module:
    """Base class of all layers. Subclasses set attributes in ``__init__`` and define ``forward``."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration -------------------------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        params = self.__dict__.get("_parameters")
        if params is None:
            raise AttributeError("cannot assign attributes before Module.__init__() is called")
        for d in (self._parameters, self._buffers, self._modules):
            if name in d and not (d is self._buffers and isinstance(value, Tensor)) and not (
                    d is self._parameters and (isinstance(value, Parameter) or value is None)) and not (
                    d is self._modules and (isinstance(value, Module) or value is None)):
                del d[name]
        if isinstance(value, Parameter):
            self.__dict__.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self.__dict__.pop(name, None)
            self._modules[name] = value
        elif name in self._buffers:
            self._buffers[name] = value
        elif name in self._parameters and value is None:
            self._parameters[name] = None
        elif name in self._modules and value is None:
            self._modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Optional[Parameter]) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be a Parameter or None, got {type(param).__name__}")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Optional[Tensor], persistent: bool = True) -> None:
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be a Tensor or None, got {type(tensor).__name__}")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Optional["Module"]) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: '{name}' must be a Module or None, got {type(module).__name__}")
        self._modules[name] = module

    register_module = add_module

    # ---- traversal ----------------------------------------------------------------
    def named_modules(self, prefix: str = "", memo=None) -> Iterator[Tuple[str, "Module"]]:
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[Tuple[str, "Module"]]:
        for name, child in self._modules.items():
            if child is not None:
                yield name, child

    def children(self) -> Iterator["Module"]:
        for _, c in self.named_children():
            yield c

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[Tuple[str, Parameter]]:
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_prefix, m in mods:
            for name, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[Tuple[str, Tensor]]:
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_prefix, m in mods:
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mod_prefix}.{name}" if mod_prefix else name), b

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes and bulk operations ----------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                with nc.no_grad():
                    p.grad.zero_()

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, *args, **kwargs) -> "Module":
        """to(dtype) / to(device) / to(device, dtype) / to(tensor) / to(device=..., dtype=...), as
        torch.nn.Module.to: moves parameters and buffers to the device and casts the
        floating-point ones to the dtype (in place on the module; returns it)."""
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"Module.to(): unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, nc.Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, nc.dtype):
                dtype = a
            elif a is not None:
                device = a
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError(f"Module.to() only accepts floating point dtypes, but got desired dtype={dtype}")

        def convert(t):
            out = t if device is None else t.to(device)
            if dtype is not None and out.dtype.is_floating_point and out.dtype != dtype:
                out = out.to(dtype)
            return out

        converted = {}  # id(old parameter) -> new one: a parameter shared by modules (tied weights) stays shared
        with nc.no_grad():
            for m in self.modules():
                for name, p in m._parameters.items():
                    if p is not None:
                        if id(p) not in converted:
                            q = convert(p)
                            converted[id(p)] = (p, p if q is p else Parameter(q, p.requires_grad))
                        m._parameters[name] = converted[id(p)][1]
                for name, b in m._buffers.items():
                    if b is not None:
                        m._buffers[name] = convert(b)
        return self

    def float(self) -> "Module":
        return self.to(nc.float32)

    def double(self) -> "Module":
        return self.to(nc.float64)

    # ---- state ----------------------------------------------------------------------
    def state_dict(self, prefix: str = "") -> "OrderedDict[str, Tensor]":
        """Parameters and persistent buffers by dotted name (detached, sharing storage)."""
        out: "OrderedDict[str, Tensor]" = OrderedDict()
        for mod_prefix, m in self.named_modules(prefix.rstrip(".")):
            for name, p in m._parameters.items():
                if p is not None:
                    out[f"{mod_prefix}.{name}" if mod_prefix else name] = p.detach()
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    out[f"{mod_prefix}.{name}" if mod_prefix else name] = b.detach()
        return out

    def load_state_dict(self, state_dict: Dict[str, Tensor], strict: bool = True):
        """Copies values from ``state_dict`` into the parameters and buffers.

        Everything is validated before anything is written: on a missing, unexpected or
        mismatched-shape key (strict mode), the module is left unchanged and a
        RuntimeError lists every problem. Returns (missing_keys, unexpected_keys).
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = []
        for k, target in own.items():
            if k in state_dict:
                value = state_dict[k]
                if not isinstance(value, Tensor):
                    value = nc.tensor(value)
                if tuple(value.shape) != tuple(target.shape):
                    mismatched.append(f"{k}: checkpoint shape {tuple(value.shape)}, model shape {tuple(target.shape)}")
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if mismatched:
            problems.append("shape mismatch: " + "; ".join(mismatched))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n  " + "\n  ".join(problems))
        with nc.no_grad():
            for k, target in own.items():
                if k in state_dict:
                    value = state_dict[k]
                    target.copy_(value if isinstance(value, Tensor) else nc.tensor(value))
        return missing, unexpected

    # ---- hooks and calling ----------------------------------------------------------
    def register_forward_pre_hook(self, hook: Callable) -> "_HookHandle":
        return _HookHandle.add(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook: Callable) -> "_HookHandle":
        return _HookHandle.add(self._forward_hooks, hook)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    # ---- printing -------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines: List[str] = []
        extra = self.extra_repr()
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {child_repr}")
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = ("\n  " + extra) if extra else ""
        return f"{type(self).__name__}({body}\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return list(super().__dir__()) + list(self._parameters) + list(self._buffers) + list(self._modules)


class _HookHandle:
    _next_id = 0

    def __init__(self, store, key):
        self._store, self._key = store, key

    @classmethod
    def add(cls, store, hook) -> "_HookHandle":
        key = cls._next_id
        cls._next_id += 1
        store[key] = hook
        return cls(store, key)

    def remove(self) -> None:
        self._store.pop(self._key, None)


class Identity(Module):
    def forward(self, x):
        return x


class Sequential(Module):
    """Runs its modules in order: ``Sequential(Linear(4, 8), ReLU(), Linear(8, 2))``."""

    def __init__(self, *modules: Module):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def __getitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return Sequential(*mods[idx])
        return mods[idx]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self)), module)
        return self

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(Module):
    def __init__(self, modules=None):
        super().__init__()
        for m in modules or []:
            self.append(m)

    def append(self, module: Module) -> "ModuleList":
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules) -> "ModuleList":
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(mods[idx])
        return mods[idx]

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules.keys())[idx]
        self.add_module(key, module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    def __init__(self, modules=None):
        super().__init__()
        for k, m in (modules or {}).items():
            self.add_module(k, m)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()


class ParameterList(Module):
    """A list of Parameters registered under "0", "1", ... (plain tensors are wrapped in a
    Parameter on insertion, as PyTorch does)."""

    def __init__(self, values=None):
        super().__init__()
        for v in values or []:
            self.append(v)

    @staticmethod
    def _as_parameter(value):
        if value is None or isinstance(value, Parameter):
            return value
        if isinstance(value, Tensor):
            return Parameter(value)
        raise TypeError(f"ParameterList: expected a Parameter or Tensor, got {type(value).__name__}")

    def append(self, value) -> "ParameterList":
        self.register_parameter(str(len(self._parameters)), self._as_parameter(value))
        return self

    def extend(self, values) -> "ParameterList":
        for v in values:
            self.append(v)
        return self

    def __getitem__(self, idx):
        values = list(self._parameters.values())
        if isinstance(idx, slice):
            return ParameterList(values[idx])
        return values[idx]

    def __setitem__(self, idx: int, value) -> None:
        key = list(self._parameters.keys())[idx]
        self.register_parameter(key, self._as_parameter(value))

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def extra_repr(self) -> str:
        return "\n".join(f"({k}): Parameter containing: [{p.dtype} of size {tuple(p.shape)}]"
                         for k, p in self._parameters.items() if p is not None)


class ParameterDict(Module):
    """A dict of Parameters keyed by name (tensors wrapped in a Parameter on insertion)."""

    def __init__(self, parameters=None):
        super().__init__()
        items = parameters.items() if hasattr(parameters, "items") else (parameters or [])
        for k, v in items:
            self[k] = v

    def __getitem__(self, key: str):
        return self._parameters[key]

    def __setitem__(self, key: str, value) -> None:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict: keys must be str, got {type(key).__name__}")
        self.register_parameter(key, ParameterList._as_parameter(value))

    def __delitem__(self, key: str) -> None:
        del self._parameters[key]

    def __contains__(self, key: str) -> bool:
        return key in self._parameters

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def keys(self):
        return self._parameters.keys()

    def values(self):
        return self._parameters.values()

    def items(self):
        return self._parameters.items()

    def update(self, parameters) -> None:
        items = parameters.items() if hasattr(parameters, "items") else parameters
        for k, v in items:
            self[k] = v
