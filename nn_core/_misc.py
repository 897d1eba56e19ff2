"""PyTorch's everyday tensor functions that nn_core gained with the misc rows of
csrc/ops/ops.schema (csrc/ops/misc_ops.cpp, einsum.cpp; fmod / remainder are binary kernel
rows bound in bindings/misc.cpp), with PyTorch's Python signatures: module functions
``nn_core.NAME`` and, where torch has them, Tensor methods; plus ``nn_core.linalg``'s
``norm`` / ``vector_norm`` and the random functions randperm, multinomial and bernoulli.

The random functions are not schema rows (like rand / randn they are not traced): they
draw from nn_core's one seeded counter-based generator (``nn_core.manual_seed``) and build
their results with rows of the schema (argsort, searchsorted, topk, lt):
  randperm(n)          argsort of n float64 uniforms (a uniformly random permutation; ties
                       have probability ~ n^2 / 2^54 and keep a permutation: stable sort)
  multinomial, with replacement     inverse CDF: searchsorted(cumsum(p) / sum(p), u, right)
  multinomial, without replacement  Efraimidis-Spirakis keys log(u) / p, top num_samples
                       (the same law as drawing one at a time and removing it)
  bernoulli(p)         u < p
"""
from __future__ import annotations

import builtins as _builtins
import collections
import math
import types

from ._checks import tensor_arg
from . import _C
from ._C import Tensor

_ops = _C.ops

_median_result = collections.namedtuple("median", ["values", "indices"])


def _dims(dim) -> list:
    if dim is None:
        return []
    if isinstance(dim, int):
        return [dim]
    return [_builtins.int(d) for d in dim]


def _number(value, what):
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{what}: expected a number or a 1-element tensor, got shape {tuple(value.shape)}")
        return value.item()
    return value


def _check_no_generator(generator, op):
    if generator is not None:
        raise TypeError(f"{op}: nn_core has one global generator (seed it with nn_core.manual_seed); "
                        f"generator objects are not supported, got {type(generator).__name__}")


def _finish(t: Tensor, device, requires_grad) -> Tensor:
    if device is not None:
        t = t.to(device)
    if requires_grad:
        t.requires_grad_(True)
    return t


# ---- elementwise and selection -------------------------------------------------------

def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements of ``input`` where ``mask`` (broadcast together) is True, as a 1-D tensor."""
    return _ops.masked_select(input, mask)


def nan_to_num(input: Tensor, nan: float = 0.0, posinf=None, neginf=None) -> Tensor:
    """NaN -> ``nan``, +inf -> ``posinf`` (default: the dtype's largest), -inf -> ``neginf``."""
    return _ops.nan_to_num(input, _builtins.float(nan), None if posinf is None else _builtins.float(posinf),
                           None if neginf is None else _builtins.float(neginf))


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol * |other| elementwise (bool); equal infinities are close."""
    return _ops.isclose(input, other, _builtins.float(rtol), _builtins.float(atol), _builtins.bool(equal_nan))


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """True when every element pair is close (``isclose``)."""
    return _builtins.bool(isclose(input, other, rtol, atol, equal_nan).all().item())


# ---- reductions ------------------------------------------------------------------------

def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """torch.norm: the p-norm over ``dim`` (all dims when None). p: 'fro' (the 2-norm of the
    elements), a number, inf or -inf. The nuclear norm ('nuc') is not supported."""
    tensor_arg(input, "norm", "input")
    if dtype is not None:
        input = input.to(dtype)
    if p is None:
        p = 2.0
    if isinstance(p, str):
        if p != "fro":
            raise ValueError(f"norm: p='{p}' is not supported (supported: 'fro', a number, inf, -inf)")
        dims = _dims(dim)
        if len(dims) > 2:
            raise ValueError(f"norm: the Frobenius norm takes at most 2 dims, got dim={dim}")
        p = 2.0
    return _ops.norm(input, _builtins.float(p), _dims(dim), _builtins.bool(keepdim))


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """torch.linalg.vector_norm: the ``ord``-norm of the elements over ``dim`` (all when None)."""
    tensor_arg(x, "linalg.vector_norm", "x")
    if isinstance(ord, str):
        raise ValueError(f"linalg.vector_norm: ord must be a number, got '{ord}'")
    return norm(x, _builtins.float(ord), dim, keepdim, dtype)


def _linalg_norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """torch.linalg.norm for vector norms and the Frobenius norm; other matrix norms
    (ord 'nuc', 1, 2, inf over two dims) raise ValueError."""
    tensor_arg(A, "linalg.norm", "A")
    dims = _dims(dim)
    if ord is None or ord == "fro":
        if ord == "fro" and not (len(dims) == 2 or (dim is None and A.dim() == 2)):
            raise ValueError("linalg.norm: ord='fro' needs a 2-D input or two dims")
        return norm(A, 2.0, dim, keepdim, dtype)
    if isinstance(ord, str) or len(dims) == 2 or (dim is None and A.dim() == 2):
        raise ValueError(f"linalg.norm: matrix norm ord={ord!r} is not supported (use ord=None or 'fro', "
                         "or a vector norm over one dim)")
    return norm(A, _builtins.float(ord), dim, keepdim, dtype)


linalg = types.ModuleType("nn_core.linalg", "torch.linalg's norms: norm (vector and Frobenius), vector_norm.")
linalg.norm, linalg.vector_norm = _linalg_norm, vector_norm


def median(input: Tensor, dim=None, keepdim: bool = False):
    """Without ``dim``: the lower median of all elements. With ``dim``: (values, indices) of
    the lower median along dim. NaN anywhere in a slice gives NaN (and its index)."""
    if dim is None:
        return _ops.median(input)
    values, indices = _ops.median_dim(input, _builtins.int(dim), _builtins.bool(keepdim))
    return _median_result(values, indices)


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
           dim=None):
    """The distinct values (or slices along ``dim``), sorted; with return_inverse the index
    of each input element's value, with return_counts how often each value occurs."""
    values, inverse, counts = _ops.unique(input, _builtins.bool(sorted), _builtins.bool(return_inverse),
                                          _builtins.bool(return_counts), None if dim is None else _builtins.int(dim))
    out = (values,) + ((inverse,) if return_inverse else ()) + ((counts,) if return_counts else ())
    return out[0] if len(out) == 1 else out


# ---- shape ---------------------------------------------------------------------------

def unbind(input: Tensor, dim: int = 0) -> tuple:
    """The slices along ``dim``, each without that dim (views)."""
    return tuple(_ops.unbind(input, _builtins.int(dim)))


def _edge(value, input: Tensor, dim: int):
    """diff's prepend / append: a number becomes a tensor of input's shape with size 1 at dim."""
    if value is None or isinstance(value, Tensor):
        return value
    shape = list(input.shape)
    if shape:
        shape[dim % len(shape)] = 1
    return _C._full(shape, _builtins.float(value), input.dtype)


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
    """The n-th forward difference along ``dim`` (out[i] = x[i + 1] - x[i]; bool: xor),
    after concatenating ``prepend`` / ``append`` along dim."""
    tensor_arg(input, "diff", "input")
    return _ops.diff(input, _builtins.int(n), _builtins.int(dim), _edge(prepend, input, dim), _edge(append, input, dim))


def meshgrid(*tensors, indexing: str = "ij") -> tuple:
    """Coordinate grids of 1-D tensors: 'ij' (matrix, dims in argument order) or 'xy'
    (Cartesian: the first two dims swapped). The grids are expanded views."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    return tuple(_ops.meshgrid(list(tensors), indexing if indexing is not None else "ij"))


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation: explicit ('ij,jk->ik') or implicit ('ij,jk') output, '...' for
    broadcast dims, a repeated subscript within one operand takes its diagonal."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return _ops.einsum(equation, list(operands))


# ---- factories -----------------------------------------------------------------------

def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from start to end (both included)."""
    dtype = dtype or _C.DType.float32
    t = _ops.linspace(_builtins.float(_number(start, "linspace")), _builtins.float(_number(end, "linspace")),
                      _builtins.int(steps), dtype)
    return _finish(t, device, requires_grad)


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """base ** linspace(start, end, steps)."""
    dtype = dtype or _C.DType.float32
    t = _ops.logspace(_builtins.float(_number(start, "logspace")), _builtins.float(_number(end, "logspace")),
                      _builtins.int(steps), _builtins.float(base), dtype)
    return _finish(t, device, requires_grad)


def eye(n: int, m=None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """The n x m identity (m = n when None)."""
    t = _ops.eye(_builtins.int(n), _builtins.int(n if m is None else m), dtype or _C.DType.float32)
    return _finish(t, device, requires_grad)


# ---- distances and searching -------------------------------------------------------------

def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode=None) -> Tensor:
    """p-norm distances between the rows of x1 (B.., P, M) and x2 (B.., R, M): (B.., P, R).
    ``compute_mode`` is accepted for compatibility; the distances are always exact differences."""
    return _ops.cdist(x1, x2, _builtins.float(p))


def _side(right, side, op):
    if side is None:
        return _builtins.bool(right)
    if side not in ("left", "right"):
        raise ValueError(f"{op}: side must be 'left' or 'right', got {side!r}")
    if right and side == "left":
        raise ValueError(f"{op}: side and right can't be set to opposites, got side of left while right was True")
    return side == "right"


def searchsorted(sorted_sequence: Tensor, values, *, out_int32: bool = False, right: bool = False, side=None,
                 sorter=None) -> Tensor:
    """For each value, the index where it would be inserted into its (innermost, sorted)
    row of ``sorted_sequence``: the first position with sequence >= value (right: > value)."""
    tensor_arg(sorted_sequence, "searchsorted", "sorted_sequence")
    if sorter is not None:
        sorted_sequence = sorted_sequence.gather(-1, sorter)
    values = values if isinstance(values, Tensor) else _C._full([], _builtins.float(values), sorted_sequence.dtype)
    out = _ops.searchsorted(sorted_sequence, values, _side(right, side, "searchsorted"))
    return out.to(_C.DType.int32) if out_int32 else out


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False) -> Tensor:
    """The bucket of each value among 1-D sorted ``boundaries`` (searchsorted of input into them)."""
    tensor_arg(boundaries, "bucketize", "boundaries")
    values = input if isinstance(input, Tensor) else _C._full([], _builtins.float(input), boundaries.dtype)
    out = _ops.bucketize(values, boundaries, _builtins.bool(right))
    return out.to(_C.DType.int32) if out_int32 else out


# ---- random --------------------------------------------------------------------------------

def randperm(n: int, *, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A uniformly random permutation of 0 .. n-1 (nn_core's seeded generator)."""
    _check_no_generator(generator, "randperm")
    n = _builtins.int(n)
    if n < 0:
        raise ValueError(f"randperm: n must be non-negative, got {n}")
    keys = _C._rand([n], _C.DType.float64)
    out = keys.argsort(stable=True)
    if dtype is not None and dtype != out.dtype:
        out = out.to(dtype)
    return _finish(out, device, requires_grad)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """``num_samples`` category indices per row of ``input`` (1-D or 2-D non-negative weights,
    not necessarily normalised); without replacement no index repeats within a row."""
    _check_no_generator(generator, "multinomial")
    if not isinstance(input, Tensor) or input.dim() not in (1, 2):
        raise ValueError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {tuple(getattr(input, 'shape', ()))}")
    if not input.is_floating_point():
        raise TypeError(f"multinomial: only supports floating-point dtypes for input, got {input.dtype}")
    num_samples = _builtins.int(num_samples)
    categories = input.shape[-1]
    if num_samples <= 0:
        raise ValueError(f"multinomial: cannot sample num_samples={num_samples} <= 0 samples")
    if categories == 0:
        raise ValueError("multinomial: the number of categories cannot be 0")
    if not replacement and num_samples > categories:
        raise ValueError(f"multinomial: cannot sample num_samples={num_samples} > prob_dist.size(-1)={categories} "
                         "samples without replacement")
    p = input.detach().double()
    rows = p.reshape(-1, categories)
    if not _builtins.bool(rows.isfinite().all().item()) or _builtins.bool((rows < 0).any().item()):
        raise ValueError("multinomial: probability tensor contains either inf, nan or element < 0")
    totals = rows.sum(-1, keepdim=True)
    if _builtins.bool((totals <= 0).any().item()):
        raise ValueError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement:
        nonzero = (rows > 0).sum(-1)
        if _builtins.bool((nonzero < num_samples).any().item()):
            raise ValueError("multinomial: invalid multinomial distribution (with replacement=False, not enough "
                             "non-negative category to sample)")
        u = _C._rand([rows.shape[0], categories], _C.DType.float64)
        # keys log(u) / p: the top num_samples are a sample without replacement; zero
        # weights give -inf (never chosen while enough positive weights remain).
        keys = u.log() / rows
        out = keys.topk(num_samples, dim=-1).indices
    else:
        cdf = (rows / totals).cumsum(-1)
        u = _C._rand([rows.shape[0], num_samples], _C.DType.float64)
        out = searchsorted(cdf, u, right=True).clamp(max=categories - 1)
    return out.reshape(num_samples) if input.dim() == 1 else out


def bernoulli(input: Tensor, p=None, *, generator=None) -> Tensor:
    """1 with probability ``input`` (or ``p`` when given), else 0, in input's dtype."""
    tensor_arg(input, "bernoulli", "input")
    _check_no_generator(generator, "bernoulli")
    if p is not None:
        probs = _C._full(list(input.shape), _builtins.float(p), _C.DType.float64) if not isinstance(p, Tensor) else p
    else:
        probs = input
    probs = probs.detach().double()
    if probs.numel() and _builtins.bool(((probs < 0) | (probs > 1) | probs.isnan()).any().item()):
        raise ValueError("bernoulli: all probabilities must be in [0, 1]")
    u = _C._rand(list(probs.shape), _C.DType.float64)
    return (u < probs).to(input.dtype)


def _bernoulli_(self: Tensor, p=0.5, *, generator=None) -> Tensor:
    """In place: each element 1 with probability ``p`` (a number or a broadcastable tensor)."""
    sample = bernoulli(self, p if not isinstance(p, Tensor) else p.expand(*self.shape), generator=generator)
    return self.copy_(sample)


FUNCTIONS = ["masked_select", "nan_to_num", "isclose", "allclose", "norm", "median", "unique", "unbind", "diff",
             "meshgrid", "einsum", "linspace", "logspace", "eye", "cdist", "searchsorted", "bucketize", "randperm",
             "multinomial", "bernoulli"]
METHODS = ["masked_select", "nan_to_num", "isclose", "allclose", "norm", "median", "unique", "unbind", "diff",
           "multinomial", "bernoulli"]


def install(namespace: dict) -> None:
    """Module functions (and fmod / remainder, bound in C++) into ``namespace`` (nn_core's),
    the Tensor methods, and nn_core.linalg."""
    for name in FUNCTIONS:
        namespace[name] = globals()[name]
    namespace["fmod"], namespace["remainder"] = _C.fmod, _C.remainder
    namespace["linalg"] = linalg
    for name in METHODS:
        setattr(Tensor, name, globals()[name])
    Tensor.bernoulli_ = _bernoulli_
    Tensor.nan_to_num_ = lambda self, nan=0.0, posinf=None, neginf=None: self.copy_(
        nan_to_num(self, nan, posinf, neginf))
