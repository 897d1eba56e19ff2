"""``Optimizer``: the base of nn_core's optimizers (parameter groups, per-parameter state,
``zero_grad``, ``state_dict`` / ``load_state_dict``), PyTorch's layout and names.

State layout: ``optimizer.state[param]`` is a dict (e.g. ``{"step": 3, "exp_avg": Tensor}``);
``state_dict()`` returns ``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``
with parameters numbered in group order, as ``torch.optim`` does, so the two load each
other's dicts. The updates themselves run in native fused kernels (``nn_core._C._*_step``,
csrc/cpu/optim_kernels.cpp); Python only gathers the tensors of a group.
"""
from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any, Callable, Dict, Iterable, List, Optional

import numpy as np

import nn_core as nc
from nn_core import Tensor


class _RequiredParameter:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Holds parameter groups and per-parameter state; subclasses implement ``step``."""

    def __init__(self, params, defaults: Dict[str, Any]):
        self.defaults = dict(defaults)
        self.state: Dict[Tensor, Dict[str, Any]] = defaultdict(dict)
        self.param_groups: List[Dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or dicts, got a Tensor")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, param_group: Dict[str, Any]) -> None:
        if not isinstance(param_group, dict):
            raise TypeError(f"{type(self).__name__}.add_param_group: expected a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: can't optimize a non-leaf Tensor (shape {tuple(p.shape)})")
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"{type(self).__name__}: parameter group didn't specify a value of required "
                                 f"optimization parameter '{name}'")
            group.setdefault(name, default)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in existing for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError(f"{type(self).__name__}: some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    def step(self, closure: Optional[Callable[[], Any]] = None):
        raise NotImplementedError

    def _closure_loss(self, closure):
        if closure is None:
            return None
        with nc.enable_grad():
            return closure()

    # ---- state_dict ---------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """``{"state": {i: {name: value}}, "param_groups": [...]}`` (tensors shared, not copied)."""
        index: Dict[int, int] = {}
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            packed["params"] = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Restores hyperparameters and state. State tensors are copied and cast to each
        parameter's dtype; numpy arrays and torch tensors are accepted in place of Tensors."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{type(self).__name__}.load_state_dict: loaded state dict has {len(groups)} parameter "
                             f"groups, the optimizer has {len(self.param_groups)}")
        for i, (mine, theirs) in enumerate(zip(self.param_groups, groups)):
            if len(mine["params"]) != len(theirs["params"]):
                raise ValueError(f"{type(self).__name__}.load_state_dict: parameter group {i} has "
                                 f"{len(theirs['params'])} parameters in the state dict and {len(mine['params'])} "
                                 "in the optimizer")
        id_map = {}
        for mine, theirs in zip(self.param_groups, groups):
            for p, idx in zip(mine["params"], theirs["params"]):
                id_map[idx] = p
        new_state: Dict[Tensor, Dict[str, Any]] = defaultdict(dict)
        for idx, s in state_dict["state"].items():
            if idx not in id_map:
                continue
            p = id_map[idx]
            new_state[p] = {k: _cast_state(k, v, p, type(self).__name__) for k, v in s.items()}
        for mine, theirs in zip(self.param_groups, groups):
            for k, v in theirs.items():
                if k != "params":
                    mine[k] = copy.deepcopy(v)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)

    # ---- helpers for subclasses ----------------------------------------------------------
    def _params_with_grad(self, group) -> List[Tensor]:
        out = []
        for p in group["params"]:
            if p.grad is not None:
                out.append(p)
        return out


def _to_tensor(value, like: Tensor) -> Tensor:
    if isinstance(value, Tensor):
        t = value.detach()
    elif type(value).__module__.startswith("torch"):
        t = nc.from_numpy(np.ascontiguousarray(value.detach().cpu().numpy()))
    else:
        t = nc.tensor(np.asarray(value))
    t = t.to(like.dtype) if t.dtype != like.dtype else t.clone()
    return t.contiguous()


def _cast_state(key: str, value, param: Tensor, opt_name: str):
    """A loaded state entry: 'step' becomes a Python int; tensors of the parameter's shape
    become contiguous copies in its dtype."""
    if key == "step":
        if isinstance(value, Tensor) or type(value).__module__.startswith("torch"):
            return int(value.item())
        return int(value)
    if value is None or isinstance(value, (int, float, bool, str)):
        return value
    t = _to_tensor(value, param)
    if tuple(t.shape) != tuple(param.shape):
        raise ValueError(f"{opt_name}.load_state_dict: state '{key}' has shape {tuple(t.shape)}, the parameter has "
                         f"shape {tuple(param.shape)}")
    return t
