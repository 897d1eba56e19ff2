"""A seeded random fuzzer of nn_core's public API, run in a child process.

    python tools/api_fuzz.py --calls 20000 --seed 1 [--filter REGEX] [--timeout 10]
    python tools/api_fuzz.py --repro "a0 = T((2, 0), 'float32', 'T', 7); nc.sum(a0, dim=-3)"

What is called (discovered at run time, so new ops are fuzzed as soon as they exist):
every public callable of ``nn_core`` (functions, factories, classes), of
``nn_core.functional`` and of ``nn_core.linalg`` / ``nn_core.special`` when present, every
public method and property of ``nn_core.Tensor`` and its operator dunders (``__add__``,
``__matmul__``, ``__getitem__``, ``__setitem__``, ``__iadd__``, ...). SKIPPED lists what is
left out and why.

Arguments: tensors of every dtype with shapes holding 0, 1 and odd sizes (0-dim too), as
contiguous, transposed, stepped-slice, expanded (stride 0) and permuted views, the same
tensor passed twice; extreme scalars (nan, +-inf, 1e308, -0.0, 2**63, 2**100, -2**63-1);
wrong types (str, object(), lists, nested lists, dicts, None); negative and huge dims;
random keyword arguments named in the callable's signature (from ``inspect`` or, for the
pybind11 functions, the signature line of their docstring).

The contract checked: a call returns, or raises one of ALLOWED_EXCEPTIONS
(ValueError, TypeError, IndexError, RuntimeError incl. NotImplementedError, MemoryError,
OverflowError, KeyError). Anything else is a failure: another exception (AttributeError,
ZeroDivisionError, AssertionError, RecursionError, UnboundLocalError, SystemError, ...), a
crash (a signal), a hang (no progress for ``--timeout`` seconds), or a CHANGED INPUT: the
values, shape, strides and dtype of every tensor argument are snapshotted before the call
and compared after; only ``self`` of an in-place method (name ending in ``_``,
``__setitem__``, ``__i*__``), the first tensor of a function ending in ``_`` or called with
``inplace=True``, and ``out=`` tensors may change.

Layout: the parent (``run``) starts a child (``--child``) that makes calls ``start..N-1``
of a seed; call ``i`` is drawn from ``random.Random(f"{seed}:{i}")`` alone, so any call can
be replayed without the ones before it. The child writes each call as a Python statement
to the call log (flushed) BEFORE making it and each failure as a JSON line to the failure
log. When the child dies (signal) or stalls, the parent records the last logged call and
restarts the child at the next call. ``--repro`` runs one logged statement in a namespace
holding ``nc`` (nn_core), ``F`` (nn_core.functional), ``np``, ``math``, ``T``
(``make_tensor``) and ``B`` (``backward_through``: a call wrapped in ``B(...)`` also
back-propagates from its result when an argument requires grad).
"""
from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

ALLOWED_EXCEPTIONS = (ValueError, TypeError, IndexError, RuntimeError, MemoryError, OverflowError, KeyError)

# name (as reported, e.g. "nn_core.save", "Tensor.numpy") -> why it is not called randomly
SKIPPED = {
    "nn_core.save": "writes files",
    "nn_core.load": "reads files",
}
# Not skipped, but called with a small int (1..4) as their one argument: why.
SMALL_INT_ONLY = {
    "nn_core.set_num_threads": "a huge random thread count would start that many OS threads",
}
# Of Tensor's dunders only the operators and conversions in DUNDERS are called; object
# machinery (__init__, __new__, __setattr__, __getattribute__, __setstate__, ...) is not an
# operation of the library.

DUNDERS = [
    "__add__", "__radd__", "__iadd__", "__sub__", "__rsub__", "__isub__", "__mul__", "__rmul__", "__imul__",
    "__truediv__", "__rtruediv__", "__itruediv__", "__floordiv__", "__rfloordiv__", "__ifloordiv__",
    "__mod__", "__rmod__", "__imod__", "__pow__", "__rpow__", "__ipow__", "__matmul__", "__rmatmul__",
    "__imatmul__", "__and__", "__rand__", "__iand__", "__or__", "__ror__", "__ior__", "__xor__", "__rxor__",
    "__ixor__", "__lshift__", "__rshift__", "__invert__", "__neg__", "__pos__", "__abs__",
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__getitem__", "__setitem__", "__len__",
    "__bool__", "__float__", "__int__", "__index__", "__iter__", "__contains__", "__repr__", "__str__",
    "__hash__", "__array__", "__deepcopy__", "__copy__", "__reduce_ex__",
]

# Parameters that usually take a tensor of one dtype (indices, class targets, masks).
DTYPE_OF_PARAM = {"index": "int64", "indices": "int64", "target": "int64", "mask": "bool", "condition": "bool",
                  "attn_mask": "bool", "input_ids": "int64"}
DTYPES = ["float32", "float64", "float16", "bfloat16", "int8", "uint8", "int32", "int64", "bool"]
VIEWS = ["contig", "contig", "T", "step", "expand", "permute", "offset"]
SIZES = [0, 1, 1, 2, 3, 3, 5, 7]
EXTREME_FLOATS = ["float('nan')", "float('inf')", "float('-inf')", "1e308", "-0.0", "1e-310", "0.5", "-2.5"]
EXTREME_INTS = ["2**63", "2**100", "-2**63-1", "2**31", "-2**31", "2**62", "-1", "-7", "10**9"]
WRONG = ["'foo'", "''", "'cpu'", "'mean'", "object()", "None", "[]", "[1, 2]", "[[1, 2], [3]]", "[[1.5], [2.5]]",
         "{'a': 1}", "{}", "(1, -1)", "(0,)", "1+2j", "...", "slice(None, None, -1)", "b'x'", "nc.float64",
         "nc.int64", "nc.bool", "nc.device('cpu')", "math", "float", "np.float64(1.5)", "np.array([1, 2])",
         "True", "False"]


# ---- tensors ---------------------------------------------------------------------------------
def make_tensor(shape, dtype="float32", view="contig", seed=0, requires_grad=False):
    """A tensor of ``shape`` and dtype name ``dtype`` laid out as ``view``: 'contig', 'T' (the
    transpose of a contiguous tensor), 'step' (every other element of dim 0), 'expand' (stride-0
    dims where the size allows), 'permute' (a reversed permutation) or 'offset' (a nonzero
    storage offset). Values come from ``seed``;
    floats include a nan and an inf when there are at least 5 elements."""
    import nn_core as nc

    shape = tuple(shape)
    rng = np.random.default_rng(seed)
    base_shape = list(shape)
    if view == "T" and len(shape) >= 2:
        base_shape[-1], base_shape[-2] = base_shape[-2], base_shape[-1]
    elif view == "step" and len(shape) >= 1:
        base_shape[0] = 2 * base_shape[0]
    elif view == "expand":
        base_shape = [1 if i % 2 == 0 else s for i, s in enumerate(shape)]
    elif view == "permute":
        base_shape = base_shape[::-1]
    elif view == "offset":
        base_shape = [base_shape[0] + 1] + base_shape[1:] if base_shape else [2]
    if dtype == "bool":
        arr = rng.random(base_shape) < 0.5
    elif dtype in ("int8", "uint8", "int32", "int64"):
        lo = 0 if dtype == "uint8" else -4
        arr = rng.integers(lo, 6, size=base_shape).astype(dtype)
    else:
        arr = rng.standard_normal(base_shape) * 3
        if arr.size >= 5:
            arr.flat[1], arr.flat[3] = np.nan, np.inf
        arr = arr.astype(np.float64)
    t = nc.tensor(arr)
    if t.dtype != getattr(nc, dtype):
        t = t.to(getattr(nc, dtype))
    if view == "T" and len(shape) >= 2:
        t = t.transpose(-1, -2)
    elif view == "step" and len(shape) >= 1:
        t = t[::2]
    elif view == "expand":
        t = t.expand(*shape)
    elif view == "permute":
        t = t.permute(*range(len(shape) - 1, -1, -1))
    elif view == "offset":  # a nonzero storage offset: the tail of a longer tensor (0-dim: its element 1)
        t = t[1:] if shape else t[1]
    if requires_grad and t.dtype.is_floating_point:
        t = t.detach().requires_grad_(True) if view == "contig" else t.detach().clone().requires_grad_(True)
    return t


def snapshot(t):
    """(shape, strides, dtype, storage id, value bytes) of a tensor, read without autograd."""
    d = t.detach()
    if d.dtype.name == "bfloat16":
        arr = d.to(_nc().float32).numpy()  # exact: every bfloat16 is a float32
    else:
        arr = d.numpy()
    return (tuple(d._shape), tuple(d.stride()), d.dtype.name, np.ascontiguousarray(arr).tobytes())


def _nc():
    import nn_core
    return nn_core


# ---- targets -----------------------------------------------------------------------------------
def _doc_params(fn):
    """Parameters from ``inspect.signature`` or a pybind11 docstring's first signature line: a
    list of (name, has_default, annotation text; '*' for ``*args``), or None when unknown."""
    try:
        sig = inspect.signature(fn)
        out = []
        for p in sig.parameters.values():
            if p.kind == p.VAR_KEYWORD:
                continue
            ann = "" if p.annotation is inspect.Parameter.empty else str(p.annotation)
            out.append((p.name, p.default is not inspect.Parameter.empty or p.kind == p.VAR_POSITIONAL,
                        "*" if p.kind == p.VAR_POSITIONAL else ann))
        return out
    except (TypeError, ValueError):
        pass
    doc = getattr(fn, "__doc__", None) or ""
    m = re.search(r"\w+\((.*?)\) ->", doc)
    if not m:
        return None
    out = []
    for part in re.split(r",\s*(?![^\[\]()]*[\])])", m.group(1)):
        star = part.strip().startswith("*") and not part.strip().startswith("**")
        name = part.split(":")[0].split("=")[0].strip().lstrip("*")
        ann = part.split(":", 1)[1].split("=")[0].strip() if ":" in part else ""
        if name and name.isidentifier() and not part.strip().startswith("**"):
            out.append((name, "=" in part or star, "*" if star else ann))
    return out


def load_planted(path):
    """The module at ``path``, imported as ``planted`` (extra targets: the driver's own tests plant
    crashing, hanging and input-changing callables this way)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("planted", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def discover(filter_regex=None, planted=None):
    """[(qualified name, kind, object)]: kind is 'func' (called as is), 'method' (called on a
    random tensor self) or 'property' (read from one). ``planted``: a module whose public
    callables are targets too (named ``planted.NAME``)."""
    import nn_core as nc

    targets = []
    modules = [("nn_core", nc), ("nn_core.functional", nc.functional)]
    if planted is not None:
        modules.append(("planted", planted))
    for sub in ("linalg", "special"):
        if hasattr(nc, sub):
            modules.append((f"nn_core.{sub}", getattr(nc, sub)))
    for mod_name, mod in modules:
        for name in sorted(dir(mod)):
            if name.startswith("_"):
                continue
            obj = getattr(mod, name)
            if not (getattr(obj, "__module__", None) or mod_name).startswith(mod_name.split(".")[0]):
                continue  # imported from elsewhere (typing.Optional), not nn_core's API
            if callable(obj) and not inspect.ismodule(obj):
                targets.append((f"{mod_name}.{name}", "func", obj))
    names = {n for n in dir(nc.Tensor) if not n.startswith("_")} | {d for d in DUNDERS if hasattr(nc.Tensor, d)}
    for name in sorted(names):
        raw = inspect.getattr_static(nc.Tensor, name, None)
        kind = "property" if isinstance(raw, property) or type(raw).__name__ == "property" else "method"
        if kind == "method" and not callable(getattr(nc.Tensor, name)):
            kind = "property"
        targets.append((f"Tensor.{name}", kind, name))
    pattern = re.compile(filter_regex) if filter_regex else None
    return [t for t in targets if t[0] not in SKIPPED and (pattern is None or pattern.search(t[0]))]


# ---- argument generation --------------------------------------------------------------------------
class Call:
    """One random call: ``setup`` statements defining tensors a0, a1, ... and the call expression."""

    def __init__(self, rng):
        self.rng = rng
        self.setup = []
        self.tensors = []  # variable names
        self.shapes = []  # their shapes and dtype names, to draw related ones
        self.dtypes = []
        self.well_typed = rng.random() < 0.7  # arguments of the annotated types (else anything goes)
        # A well-typed call draws most sizes from two values, so that the tensors of ops such as
        # conv2d, addmm or gather often agree where they must.
        self.size_pool = rng.sample([1, 2, 3, 5], 2)

    def tensor(self, dtype=None):
        """A tensor argument (sometimes one already drawn: aliasing); ``dtype``: a dtype name
        the parameter usually takes (int64 for indices, bool for masks), used most of the time."""
        r = self.rng
        if self.tensors and r.random() < 0.2:  # aliasing: the same tensor again
            return r.choice(self.tensors)
        if self.shapes and r.random() < 0.5:  # related to an earlier argument: same or broadcastable shape
            shape = list(r.choice(self.shapes))
            if shape and r.random() < 0.3:
                shape = shape[r.randint(0, len(shape)):]
            if shape and r.random() < 0.3:
                shape[r.randrange(len(shape))] = 1
            shape = tuple(shape)
        else:
            ndim = r.choice([0, 0, 1, 1, 2, 2, 3, 4])
            sizes = self.size_pool if self.well_typed and r.random() < 0.7 else SIZES
            shape = tuple(r.choice(sizes) for _ in range(ndim))
        self.shapes.append(shape)
        if dtype is not None and r.random() < 0.8:
            pass
        elif self.dtypes and r.random() < 0.5:
            dtype = r.choice(self.dtypes)
        else:
            dtype = r.choice(DTYPES) if r.random() < 0.6 else r.choice(["float32", "float64", "int64"])
        self.dtypes.append(dtype)
        view = r.choice(VIEWS)
        grad = r.random() < 0.15
        name = f"a{len(self.tensors)}"
        self.setup.append(f"{name} = T({shape!r}, {dtype!r}, {view!r}, {r.randrange(1000)}"
                          f"{', True' if grad else ''})")
        self.tensors.append(name)
        return name

    def typed(self, ann, hint=""):
        """An argument of the annotated type (pybind11 / Python annotation text), or None."""
        r = self.rng
        if ("None" in ann or "Optional" in ann) and r.random() < 0.25:
            return "None"
        if "Sequence" in ann or "list[" in ann.lower():
            if "Tensor" in ann:
                return "[" + ", ".join(self.tensor() for _ in range(r.randint(0, 3))) + "]"
            return r.choice(["[2, 3]", "[]", "[0]", "[-1, 1]", "[1, 1, 1]", "(3,)", "[2**31]"])
        if "Tensor" in ann:
            return self.tensor(DTYPE_OF_PARAM.get(hint))
        if "DType" in ann:
            return "nc." + r.choice(DTYPES)
        if re.search(r"\bbool\b", ann):
            return r.choice(["True", "False"])
        if "SupportsInt" in ann or re.search(r"\bint\b", ann):
            return r.choice(["0", "1", "-1", "2", "3", "-2", "0", "1"])
        if "SupportsFloat" in ann or re.search(r"\bfloat\b", ann):
            return r.choice(["0.5", "1.0", "0.0", "-1.5", "2.0", "1e-5"])
        if re.search(r"\bstr\b", ann):
            return r.choice(["'mean'", "'none'", "'sum'", "'tanh'", "'relu'", "'same'", "'valid'", "'cpu'", "'x'"])
        return None

    def value(self, hint="", ann=""):
        """An argument expression; ``hint`` is the parameter name and ``ann`` its annotation, when known.
        In a well-typed call (``self.well_typed``) it mostly fits both."""
        r = self.rng
        h = hint.lower()
        if self.well_typed and ann and r.random() < 0.9:
            v = self.typed(ann, h)
            if v is not None:
                return v
        if r.random() < (0.95 if self.well_typed else 0.75) and h:
            if h in ("dim", "dims", "axis", "dim0", "dim1", "start_dim", "end_dim", "source", "destination"):
                return r.choice(["0", "1", "-1", "2", "-3", "5", "2**40", "(0, 1)", "[-1]", "None", "()"])
            if h in ("keepdim", "inplace", "training", "descending", "stable", "largest", "sorted", "ceil_mode",
                     "unbiased", "is_causal", "requires_grad", "count_include_pad", "return_indices", "upper",
                     "non_blocking", "copy", "align_corners", "enable_gqa", "mode"):
                return r.choice(["True", "False"])
            if h == "dtype":
                return "nc." + r.choice(DTYPES)
            if h in ("size", "shape", "sizes", "normalized_shape", "output_size", "kernel_size", "stride",
                     "padding", "dilation", "repeats", "shifts", "split_size_or_sections", "split_size"):
                return r.choice(["(2, 3)", "()", "(0,)", "[1, -1]", "3", "-1", "(2**31, 2**31)", "1", "(1, 1)", "0"])
            if h in ("out", "input", "other", "self", "tensor", "target", "mask", "end", "tensor1", "tensor2",
                     "query", "key", "value", "bias", "running_mean", "running_var", "src", "index", "vec2",
                     "mat1", "mat2", "condition", "weight", "exponent", "t"):
                if r.random() < 0.8:
                    return self.tensor(DTYPE_OF_PARAM.get(h))
            if h in ("reduction",):
                return r.choice(["'mean'", "'sum'", "'none'", "'bogus'"])
            if h in ("p", "alpha", "beta", "eps", "value", "min", "max", "negative_slope", "scale", "momentum",
                     "threshold", "delta", "fill_value", "weight", "exponent", "label_smoothing", "dropout_p",
                     "start", "end", "step", "low", "high", "k", "n", "diagonal", "index", "chunks", "sections",
                     "groups", "num_groups", "ignore_index", "padding_idx", "other", "approximate", "margin"):
                if r.random() < 0.5:
                    return r.choice(["0", "1", "2", "0.5", "-1", "3"])
        x = r.random()
        if self.well_typed and x < 0.8:
            return self.tensor() if r.random() < 0.7 else str(r.choice([0, 1, 2, -1]))
        if x < 0.55:
            return self.tensor()
        if x < 0.65:
            return str(r.choice([0, 1, 2, 3, -1, -2, 4]))
        if x < 0.72:
            return r.choice(EXTREME_INTS)
        if x < 0.79:
            return r.choice(EXTREME_FLOATS)
        if x < 0.83:
            return f"[{self.tensor()}, {self.tensor()}]"
        return r.choice(WRONG)


def index_value(call):
    r = call.rng
    parts = []
    for _ in range(r.choice([0, 1, 1, 2, 3, 5])):
        parts.append(r.choice(["0", "-1", "1", "5", "2**63", "slice(None)", "slice(None, None, 2)",
                               "slice(1, -1)", "slice(None, None, -1)", "slice(0, 0)", "None", "...",
                               "slice(None, None, 0)", "[0, 1]", "[]", "True", "'a'", "1.5", call.tensor()]))
    if r.random() < 0.3:
        return call.value()
    return "(" + "".join(p + ", " for p in parts) + ")"


def make_call(target, rng):
    """(setup statements, call expression, names allowed to change) for one random call of ``target``."""
    qual, kind, obj = target
    call = Call(rng)
    may_change = set()
    if kind == "property":
        self_name = call.tensor()
        return call.setup, f"{self_name}.{obj}", may_change
    if kind == "method":
        name = obj
        self_name = call.tensor()
        fn = getattr(_nc().Tensor, name)
        params = _doc_params(fn)
        if params and (params[0][0] == "self" or inspect.isfunction(fn)):  # Python methods may call it input
            params = params[1:]
        prefix = f"{self_name}.{name}"
        if name.endswith("_") or name == "__setitem__" or re.match(r"__i\w+__$", name):
            may_change.add(self_name)
    else:
        name = qual.rsplit(".", 1)[1]
        params = _doc_params(obj)
        prefix = "planted." + name if qual.startswith("planted.") else "nc." + qual[len("nn_core."):]
        if qual in SMALL_INT_ONLY:
            return call.setup, f"{prefix}({rng.randint(1, 4)})", may_change
    args, kwargs = [], {}
    if name in ("__getitem__", "__setitem__"):
        args.append(index_value(call))
        if name == "__setitem__":
            args.append(call.value())
    else:
        params = params or []
        positional = [(p, ann) for p, has_default, ann in params if not has_default]
        if params and rng.random() < 0.3:  # some optional ones positionally too
            positional = [(p, ann) for p, _, ann in params[:rng.randint(len(positional), len(params))]]
        if params and rng.random() < (0.95 if call.well_typed else 0.6):
            spec = positional
        else:
            spec = [(params[i][0], params[i][2]) if i < len(params) else ("", "") for i in range(rng.randint(0, 4))]
        for p, ann in spec:
            if ann == "*":  # *args: sizes / dims, as Tensor.reshape(*shape), or a tensor
                args.extend(rng.choice(["2", "3", "-1", "0", "1", "2**40", call.tensor(), "(2, 3)"])
                            for _ in range(rng.randint(0, 3)))
            else:
                args.append(call.value(p, ann))
        taken = {p for p, _ in spec}
        optional = [(p, ann) for p, has_default, ann in params if has_default and ann != "*" and p not in taken]
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            if optional and (call.well_typed or rng.random() < 0.9):
                k, ann = rng.choice(optional)
            elif call.well_typed:  # no keyword it does not name
                break
            else:
                k, ann = rng.choice(["dim", "keepdim", "dtype", "out", "bogus_kw", "inplace"]), ""
            kwargs[k] = call.value(k, ann)
    # inplace=True, by keyword or at the parameter's position, lets the first argument change
    inplace_at = next((i for i, (p, _, _) in enumerate(params or []) if p == "inplace"), None)
    not_inplace = (None, "False", "None", "0", "0.0", "-0.0", "''", "[]", "()")  # falsy spellings
    positional_inplace = inplace_at is not None and inplace_at < len(args) and args[inplace_at] not in not_inplace
    if kind == "func" and (name.endswith("_") or kwargs.get("inplace") not in not_inplace or positional_inplace) \
            and args:
        first = args[0]
        if re.fullmatch(r"a\d+", first):
            may_change.add(first)
    if "out" in kwargs and re.fullmatch(r"a\d+", kwargs["out"]):
        may_change.add(kwargs["out"])
    text = ", ".join(args + [f"{k}={v}" for k, v in kwargs.items()])
    expr = f"{prefix}({text})"
    if any(", True)" in line for line in call.setup) and rng.random() < 0.5:
        expr = f"B({expr})"  # a tensor requires grad: differentiate through the result too
    return call.setup, expr, may_change


def backward_through(result):
    """``result`` after back-propagating from it: the sum of each floating tensor in it that has
    a gradient path is differentiated (so derivatives run on the fuzzed shapes and views)."""
    for t in _tensors_in(result):
        if t.requires_grad and t.dtype.is_floating_point:
            t.sum().backward()
    return result


def namespace(planted=None):
    import nn_core as nc
    return {"nc": nc, "F": nc.functional, "np": np, "math": math, "T": make_tensor, "B": backward_through,
            "planted": planted}


def _tensors_in(value, depth=0):
    import nn_core as nc
    if isinstance(value, nc.Tensor):
        yield value
    elif depth < 3 and isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors_in(v, depth + 1)


def check_call(setup, expr, may_change, ns=None, outcome=None):
    """Run one call; None when it kept the contract, else a (failure class, message) pair.
    ``outcome`` (a list), when given, gets 'returned' or the name of the allowed exception raised."""
    ns = dict(namespace() if ns is None else ns)
    for stmt in setup:  # building the arguments is not under test; it must not fail
        exec(stmt, ns)
    tensors = {k: v for k, v in ns.items() if re.fullmatch(r"a\d+", k)}
    before = {k: snapshot(v) for k, v in tensors.items()}
    changeable_storages = {tensors[k]._storage_id() for k in may_change if k in tensors}
    try:
        result = eval(expr, ns)
        if outcome is not None:
            outcome.append("returned")
    except ALLOWED_EXCEPTIONS as e:
        result = None
        if outcome is not None:
            outcome.append(type(e).__name__)
    except BaseException as e:  # noqa: BLE001 -- everything else is the finding
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        return (f"exception:{type(e).__name__}", f"{type(e).__name__}: {e}")
    for t in _tensors_in(result):  # a returned tensor describes itself consistently and prints
        try:
            shape, strides = tuple(t._shape), tuple(t.stride())
            if len(strides) != len(shape) or any(n < 0 for n in shape) or t.numel() != math.prod(shape):
                return ("bad-result", f"returned a tensor with shape {shape}, strides {strides}, numel {t.numel()}")
            repr(t)
        except Exception as e:  # noqa: BLE001 -- any error here is the finding
            return ("bad-result", f"repr/describe of the returned tensor raised {type(e).__name__}: {e}")
    for k, t in tensors.items():
        if t._storage_id() in changeable_storages:
            continue
        after = snapshot(t)
        if after != before[k]:
            what = [n for n, a, b in zip(("shape", "strides", "dtype", "values"), before[k], after) if a != b]
            return ("changed-input", f"argument {k} changed ({', '.join(what)})")
    return None


# ---- child: make calls ------------------------------------------------------------------------------
def child_main(seed, start, calls, filter_regex, call_log, failure_log, planted_path=None):
    warnings.simplefilter("ignore")
    planted = load_planted(planted_path) if planted_path else None
    ns = namespace(planted)
    targets = discover(filter_regex, planted)
    if not targets:
        raise SystemExit(f"no callable matches {filter_regex!r}")
    stats = {}  # target -> {outcome: count}
    with open(call_log, "a") as log, open(failure_log, "a") as fails:
        for i in range(start, calls):
            rng = random.Random(f"{seed}:{i}")
            target = targets[rng.randrange(len(targets))]
            setup, expr, may_change = make_call(target, rng)
            stmt = "; ".join(setup + [expr])
            log.write(json.dumps({"i": i, "target": target[0], "stmt": stmt, "may_change": sorted(may_change)}) + "\n")
            log.flush()
            outcome = []
            try:
                verdict = check_call(setup, expr, may_change, ns, outcome)
            except ALLOWED_EXCEPTIONS as e:  # building the arguments failed: a finding of its own
                verdict = ("setup-failed", f"{type(e).__name__}: {e}")
            if not ns["nc"].is_grad_enabled():  # e.g. set_grad_enabled(False): each call starts alike
                ns["nc"]._C.set_grad_enabled(True)
            counts = stats.setdefault(target[0], {})
            key = outcome[0] if outcome else "failed"
            counts[key] = counts.get(key, 0) + 1
            if i % 1000 == 999 or i == calls - 1:  # the statistics survive a later crash of this child
                with open(failure_log.replace("failures_", "stats_"), "a") as f:
                    f.write(json.dumps(stats) + "\n")
                stats = {}
            if verdict is not None:
                fails.write(json.dumps({"i": i, "target": target[0], "stmt": stmt, "class": verdict[0],
                                        "message": verdict[1][:500], "may_change": sorted(may_change)}) + "\n")
                fails.flush()


# ---- parent: supervise ----------------------------------------------------------------------------
def _last_logged(call_log):
    try:
        with open(call_log, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 20000))
            lines = f.read().decode(errors="replace").strip().splitlines()
        return json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None


def run(calls, seed, filter_regex=None, timeout=10.0, workdir=None, mem_limit_mb=3072, quiet=False,
        env=None, planted_path=None, verbose=False):
    """Fuzz ``calls`` calls of ``seed`` in child processes; a list of failure dicts
    (i, target, stmt, class, message). A crash or a hang is recorded and the child restarted
    at the next call. ``env``: the children's environment (default: os.environ with the
    imported nn_core first on PYTHONPATH); ``planted_path``: see ``load_planted``."""
    workdir = workdir or tempfile.mkdtemp(prefix="api_fuzz_")
    os.makedirs(workdir, exist_ok=True)
    call_log = os.path.join(workdir, f"calls_{seed}.jsonl")
    failure_log = os.path.join(workdir, f"failures_{seed}.jsonl")
    for p in (call_log, failure_log, os.path.join(workdir, f"stats_{seed}.jsonl")):
        open(p, "w").close()
    failures, start = [], 0
    env = dict(os.environ if env is None else env)
    env.setdefault("OMP_NUM_THREADS", "1")
    try:  # the child imports the nn_core this process imports
        import nn_core
        parent = os.path.dirname(os.path.dirname(os.path.abspath(nn_core.__file__)))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [parent, os.environ.get("PYTHONPATH")]))
    except ImportError:
        pass
    while start < calls:
        cmd = [sys.executable, "-X", "faulthandler", os.path.abspath(__file__), "--child", "--seed", str(seed),
               "--start", str(start), "--calls", str(calls), "--call-log", call_log, "--failure-log", failure_log,
               "--mem-limit-mb", str(mem_limit_mb)]
        if filter_regex:
            cmd += ["--filter", filter_regex]
        if planted_path:
            cmd += ["--planted", planted_path]
        proc = subprocess.Popen(cmd, env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        last_size, last_change, hung = -1, time.monotonic(), False
        while proc.poll() is None:
            time.sleep(0.05)
            size = os.path.getsize(call_log)
            if size != last_size:
                last_size, last_change = size, time.monotonic()
            elif time.monotonic() - last_change > timeout:
                proc.kill()
                hung = True
        stderr = proc.stderr.read()
        proc.stderr.close()
        proc.wait()
        if proc.returncode == 0 and not hung:
            break
        last = _last_logged(call_log)
        if last is None or last["i"] < start:
            raise RuntimeError(f"the fuzz child failed before its first call (status {proc.returncode}):\n"
                               f"{stderr[-3000:]}")
        if hung:
            cls, msg = "hang", f"no progress for {timeout} s"
        elif proc.returncode < 0:
            cls, msg = f"crash:signal {-proc.returncode}", stderr.strip().splitlines()[0] if stderr.strip() else ""
        else:
            cls, msg = f"child-exit:{proc.returncode}", stderr[-500:]
        with open(failure_log, "a") as f:
            f.write(json.dumps({"i": last["i"], "target": last["target"], "stmt": last["stmt"], "class": cls,
                                "message": msg}) + "\n")
        start = last["i"] + 1
    with open(failure_log) as f:
        failures = [json.loads(line) for line in f if line.strip()]
    failures.sort(key=lambda d: d["i"])
    if not quiet:
        print(report(failures, calls, seed, workdir, verbose))
    return failures


def outcome_stats(workdir, seed):
    """{target: {outcome: count}} over a run: 'returned', an allowed exception's name, or 'failed'."""
    total = {}
    path = os.path.join(workdir, f"stats_{seed}.jsonl")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                for target, counts in json.loads(line).items():
                    mine = total.setdefault(target, {})
                    for k, n in counts.items():
                        mine[k] = mine.get(k, 0) + n
    return total


def report(failures, calls, seed, workdir, verbose=False):
    lines = [f"api_fuzz: seed {seed}, {calls} calls, {len(failures)} failures (logs in {workdir})"]
    stats = outcome_stats(workdir, seed)
    if stats:
        by_outcome = {}
        for counts in stats.values():
            for k, n in counts.items():
                by_outcome[k] = by_outcome.get(k, 0) + n
        n_calls = sum(by_outcome.values())
        lines.append("  outcomes: " + ", ".join(f"{k} {n} ({100 * n / n_calls:.0f}%)" for k, n in
                                                 sorted(by_outcome.items(), key=lambda kv: -kv[1])))
        never = sorted(t for t, c in stats.items() if not c.get("returned"))
        lines.append(f"  {len(stats) - len(never)} of {len(stats)} callables called returned at least once")
        if verbose and never:
            lines.append("  never returned: " + ", ".join(never))
    classes = {}
    for f in failures:
        classes.setdefault((f["class"], f["target"]), []).append(f)
    for (cls, target), group in sorted(classes.items()):
        f = group[0]
        lines.append(f"  [{cls}] {target} x{len(group)}: {f['message'][:300]}")
        lines.append(f"      repro: python tools/api_fuzz.py --repro {json.dumps(f['stmt'])}"
                     + (f" --may-change {' '.join(f['may_change'])}" if f.get("may_change") else ""))
    return "\n".join(lines)


def repro(stmt, may_change=(), planted_path=None):
    """Run one logged statement and say whether it kept the contract."""
    *setup, expr = [s.strip() for s in stmt.split("; ")]
    ns = namespace(load_planted(planted_path) if planted_path else None)
    verdict = check_call(setup, expr, set(may_change), ns)
    print("ok (returned or raised an allowed exception)" if verdict is None else f"FAILURE {verdict[0]}: {verdict[1]}")
    return verdict


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=10000)
    ap.add_argument("--seed", type=int, nargs="+", default=[0])
    ap.add_argument("--filter", default=None, help="fuzz only names matching this regex (e.g. '^Tensor\\.')")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds without progress that count as a hang")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--mem-limit-mb", type=int, default=3072,
                    help="address-space limit of the child (0: none; none under AddressSanitizer)")
    ap.add_argument("--repro", default=None, help="run one logged statement")
    ap.add_argument("--verbose", action="store_true", help="also list the callables that never returned")
    ap.add_argument("--may-change", nargs="*", default=[], help="with --repro: tensors allowed to change")
    ap.add_argument("--planted", default=None, help="a .py file whose callables are fuzzed too (driver tests)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--call-log", help=argparse.SUPPRESS)
    ap.add_argument("--failure-log", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.repro:
        return 0 if repro(args.repro, args.may_change, args.planted) is None else 1
    if args.child:
        # An address-space limit keeps a runaway allocation from taking the machine. Not under
        # AddressSanitizer (docs/sanitizers.md): its shadow memory reserves terabytes of address
        # space, so any limit aborts the child at start; ASan's own allocator checks sizes there.
        under_asan = "libasan" in os.environ.get("LD_PRELOAD", "") or "ASAN_OPTIONS" in os.environ
        if args.mem_limit_mb > 0 and not under_asan:
            try:
                import resource
                limit = args.mem_limit_mb * 2**20
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            except (ImportError, ValueError, OSError):
                pass
        child_main(args.seed[0], args.start, args.calls, args.filter, args.call_log, args.failure_log, args.planted)
        return 0
    total, t0 = 0, time.time()
    for s in args.seed:
        total += len(run(args.calls, s, args.filter, args.timeout, args.workdir, args.mem_limit_mb,
                         planted_path=args.planted, verbose=args.verbose))
    print(f"api_fuzz: {args.calls * len(args.seed)} calls over {len(args.seed)} seeds, {total} failures, "
          f"{time.time() - t0:.1f} s")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
