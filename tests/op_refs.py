"""float64 NumPy references of the ops in tests/op_db.py, with PyTorch semantics for
dims (ints wrap with max(ndim, 1), no duplicates), size inference and edge cases (empty
reductions, chunk of an empty dim, ...). A reference raises ValueError/IndexError where
PyTorch raises, and Unspecified where PyTorch leaves the behaviour open.

Also the error-scale ("mag") functions used by the tolerance check for ops whose rounding
error scales with more than |result| (sums, products, dot products, cancellations)."""
import math

import numpy as np

from samples import INT


class Unspecified(Exception):
    """Raised by a reference for inputs whose behaviour PyTorch leaves open (the fuzz
    test then only checks that the call does not crash); forward samples avoid them."""


def axes(ndim, dim):
    """PyTorch dim semantics: None = all; ints wrap with n = max(ndim, 1); no duplicates."""
    if dim is None:
        return tuple(range(ndim))
    ds = (dim,) if isinstance(dim, int) else tuple(dim)
    if len(ds) == 0:
        raise Unspecified("empty dim list (legacy: all dims)")
    n = max(ndim, 1)
    out = []
    for d in ds:
        if not -n <= d < n:
            raise IndexError(f"dim {d} out of range for {ndim} dims")
        out.append(d % n)
    if len(set(out)) != len(out):
        raise ValueError("dim appears multiple times")
    return tuple(out) if ndim else ()


def wrap(d, n):
    n = max(n, 1)
    if not -n <= d < n:
        raise IndexError(f"dim {d} out of range")
    return d % n


def _nonempty(x, ax):
    if any(x.shape[a] == 0 for a in ax) or (x.ndim > 0 and not ax and x.size == 0):
        raise IndexError("reduction over an empty dim")


def _sigmoid(x):
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


_erf = np.frompyfunc(math.erf, 1, 1)


def _gelu(x):
    return 0.5 * x * (1 + np.asarray(_erf(x / math.sqrt(2)), dtype=np.float64))


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def _errstate(f):
    def g(*a, **k):
        with np.errstate(all="ignore"):
            return f(*a, **k)
    return g


def _sum_mag(x, dim=None, keepdim=False, **_):
    # Summation error scales with the sum of the terms' magnitudes, not with |sum|.
    return np.sum(np.abs(x), axis=axes(x.ndim, dim), keepdims=keepdim)


def ref_reduce(fn, need_nonempty=False):
    @_errstate
    def ref(x, dim=None, keepdim=False):
        ax = axes(x.ndim, dim)
        if need_nonempty:
            _nonempty(x, ax)
        return fn(x, axis=ax, keepdims=keepdim)
    return ref


def ref_minmax(vals, arg):
    def ref(x, dim=None, keepdim=False):
        if dim is None:
            _nonempty(x, tuple(range(x.ndim)))
            return vals(x)
        d = wrap(dim, x.ndim)
        if x.ndim == 0:
            return x.copy(), np.zeros((), np.int64)
        _nonempty(x, (d,))
        return vals(x, axis=d, keepdims=keepdim), arg(x, axis=d, keepdims=keepdim)
    return ref


def ref_arg(arg):
    def ref(x, dim=None, keepdim=False):
        if dim is None:
            _nonempty(x, tuple(range(x.ndim)))
            return np.asarray(arg(x.reshape(-1)))
        d = wrap(dim, x.ndim)
        if x.ndim == 0:
            return np.zeros((), np.int64)
        _nonempty(x, (d,))
        return arg(x, axis=d, keepdims=keepdim)
    return ref


@_errstate
def ref_mean(x, dim=None, keepdim=False):
    ax = axes(x.ndim, dim)
    n = math.prod(x.shape[a] for a in ax)
    return np.sum(x, axis=ax, keepdims=keepdim) / n


@_errstate
def ref_var(x, dim=None, keepdim=False, correction=None, unbiased=None):
    c = correction if correction is not None else (1 if unbiased in (None, True) else 0)
    ax = axes(x.ndim, dim)
    n = math.prod(x.shape[a] for a in ax)
    mu = np.sum(x, axis=ax, keepdims=True) / n
    return np.sum((x - mu) ** 2, axis=ax, keepdims=keepdim) / max(0, n - c)


def ref_std(x, **kw):
    return np.sqrt(ref_var(x, **kw))


@_errstate
def ref_logsumexp(x, dim, keepdim=False):
    ax = axes(x.ndim, dim)
    m = np.max(x, axis=ax, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0)
    r = np.log(np.sum(np.exp(x - m), axis=ax, keepdims=True)) + m
    return r if keepdim else np.squeeze(r, axis=ax)


def _logsumexp_mag(x, dim, keepdim=False):
    # m + log(sum(exp(x - m))) cancels when the two terms have opposite signs.
    ax = axes(x.ndim, dim)
    return np.abs(ref_logsumexp(x, dim, keepdim)) + np.max(np.abs(x), axis=ax, keepdims=keepdim, initial=0)


@_errstate
def ref_softmax(x, dim):
    d = wrap(dim, x.ndim)
    if x.ndim == 0:
        return np.ones_like(x)
    e = np.exp(x - np.max(x, axis=d, keepdims=True, initial=-np.inf))
    return e / np.sum(e, axis=d, keepdims=True)


@_errstate
def ref_log_softmax(x, dim):
    d = wrap(dim, x.ndim)
    if x.ndim == 0:
        return np.zeros_like(x)
    m = np.max(x, axis=d, keepdims=True, initial=-np.inf)
    return x - m - np.log(np.sum(np.exp(x - m), axis=d, keepdims=True))


def _log_softmax_mag(x, dim):
    # x - max - log(sum) cancels; its rounding error scales with the terms.
    if x.ndim == 0:
        return np.zeros_like(x)
    d = wrap(dim, x.ndim)
    return np.abs(ref_log_softmax(x, dim)) + np.max(np.abs(x), axis=d, keepdims=True, initial=0) + 1


def ref_clamp(x, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max")
    if min is not None:
        x = np.maximum(x, min)
    if max is not None:
        x = np.minimum(x, max)
    return x


@_errstate
def ref_softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta)


def _split_sizes(n, size):
    if size < 0 or (size == 0 and n != 0):
        raise ValueError(f"split size {size} for a dim of size {n}")
    if size == 0:
        return [0]
    k = max(-(-n // size), 1)
    return [size] * (k - 1) + [n - size * (k - 1)]


def ref_split(x, split_size_or_sections, dim=0):
    if x.ndim == 0:
        raise ValueError("split of a 0-dim tensor")
    d = wrap(dim, x.ndim)
    s = split_size_or_sections
    if isinstance(s, int):
        sizes = _split_sizes(x.shape[d], s)
    else:
        sizes = list(s)
        if sum(sizes) != x.shape[d] or min(sizes, default=0) < 0:
            raise ValueError(f"split sections {sizes} for a dim of size {x.shape[d]}")
    bounds = np.cumsum([0] + sizes)
    return tuple(np.take(x, np.arange(a, b), axis=d) for a, b in zip(bounds[:-1], bounds[1:]))


def ref_chunk(x, chunks, dim=0):
    if chunks <= 0:
        raise ValueError("chunks must be positive")
    if x.ndim == 0:
        raise ValueError("chunk of a 0-dim tensor")
    n = x.shape[wrap(dim, x.ndim)]
    size = -(-n // chunks)
    if size == 0:  # an empty dim gives `chunks` empty pieces (PyTorch)
        return ref_split(x, [0] * chunks, dim)
    return ref_split(x, size, dim)


def ref_stack(tensors, dim=0):
    if not tensors or len({t.shape for t in tensors}) != 1:
        raise ValueError("stack: tensors must be non-empty and have equal shapes")
    return np.stack(tensors, axis=wrap(dim, tensors[0].ndim + 1))


def ref_cat(tensors, dim=0):
    if not tensors:
        raise ValueError("cat of an empty list")
    if any(t.ndim == 0 for t in tensors):
        raise ValueError("cat of a 0-dim tensor")
    if any(t.shape == (0,) for t in tensors) and len({t.ndim for t in tensors}) > 1:
        raise Unspecified("legacy: 1-D empty tensors are skipped by torch.cat")
    d = wrap(dim, tensors[0].ndim)
    shapes = {t.shape[:d] + t.shape[d + 1:] for t in tensors}
    if len(shapes) != 1 or len({t.ndim for t in tensors}) != 1:
        raise ValueError("cat: shapes differ outside the cat dim")
    return np.concatenate(tensors, axis=d)


def ref_flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        wrap(start_dim, 0), wrap(end_dim, 0)
        return x.reshape(1)
    s, e = wrap(start_dim, x.ndim), wrap(end_dim, x.ndim)
    if s > e:
        raise ValueError("flatten: start_dim after end_dim")
    return x.reshape(x.shape[:s] + (-1 if x.size else math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


def infer_size(shape, numel):
    """PyTorch's view/reshape size inference (one -1; -1 with zero elements is an error)."""
    infer, known = None, 1
    for i, s in enumerate(shape):
        if s == -1:
            if infer is not None:
                raise ValueError("only one dimension can be inferred")
            infer = i
        elif s < 0:
            raise ValueError(f"invalid shape dimension {s}")
        else:
            known *= s
    if numel == known or (infer is not None and known > 0 and numel % known == 0):
        out = list(shape)
        if infer is not None:
            if known == 0:
                raise ValueError("cannot infer a dim of a 0-element tensor")
            out[infer] = numel // known
        return tuple(out)
    raise ValueError(f"shape {shape} is invalid for {numel} elements")


def ref_permute(x, dims):
    if len(dims) != x.ndim:
        raise ValueError("permute: wrong number of dims")
    p = [wrap(d, x.ndim) for d in dims]
    if len(set(p)) != len(p):
        raise ValueError("permute: repeated dim")
    return x.transpose(p)


def ref_transpose(x, d0, d1):
    a, b = wrap(d0, x.ndim), wrap(d1, x.ndim)
    return x if x.ndim == 0 else np.swapaxes(x, a, b)


def ref_expand(x, sizes):
    sizes = list(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError("expand: fewer sizes than dims")
    out = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise ValueError("expand: negative size for a new dim")
            out.append(s)
            continue
        old = x.shape[i - lead]
        if s == -1:
            s = old
        if s < 0 or (old != 1 and s != old):
            raise ValueError(f"expand: size {old} to {s}")
        out.append(s)
    return np.broadcast_to(x, tuple(out))


def ref_squeeze(x, dim=None):
    if dim is None:
        return np.squeeze(x)
    d = wrap(dim, x.ndim)
    return np.squeeze(x, axis=d) if x.ndim and x.shape[d] == 1 else x


def ref_index_put(x, key, value):
    y = x.copy()
    y[key] = value
    return y


def ref_matmul(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul of a 0-dim tensor")
    return np.matmul(a, b)


def _matmul_mag(a, b):
    # Each output is a dot product; its rounding error scales with sum |a_ik| |b_kj|.
    return np.matmul(np.abs(a), np.abs(b)) if a.ndim and b.ndim else None


def ref_cast(x, dtype):
    if dtype == "bool":
        return x != 0
    return np.trunc(x) if dtype in INT else x


def ref_copy(dst, src):
    return np.array(np.broadcast_to(src, dst.shape), dtype=np.float64)


def _prod_mag(x, dim=None, keepdim=False):
    # Each of the n factors rounds once; the errors random-walk: sqrt(n) roundoffs.
    ax = axes(x.ndim, dim)
    n = math.prod(x.shape[a] for a in ax)
    return np.abs(np.prod(x, axis=ax, keepdims=keepdim)) * max(1.0, math.sqrt(n))


def ref_bmm(a, b):
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise ValueError("bmm: expects (B, M, K) and (B, K, N)")
    return np.matmul(a, b)


_ACT = {"none": lambda z: z, "relu": lambda z: np.maximum(z, 0), "gelu": _gelu}


def ref_linear(x, w, bias, activation="none"):
    if activation not in _ACT:
        raise ValueError(f"linear: unknown activation {activation!r}")
    if x.ndim == 0 or w.ndim != 2 or (bias is not None and bias.shape != (w.shape[0],)):
        raise ValueError("linear: bad shapes")
    z = np.matmul(x, w.T)
    return _ACT[activation](z + bias if bias is not None else z)


def _linear_mag(x, w, bias, activation="none"):
    # A dot product per output: error scales with sum |x_k w_k| (+ |bias|); the
    # activations here have slopes of at most ~1.13, so that scale carries through.
    if x.ndim == 0 or w.ndim != 2:
        return None
    return np.matmul(np.abs(x), np.abs(w).T) + (np.abs(bias) if bias is not None else 0)


def ref_addmm(inp, m1, m2, beta=1.0, alpha=1.0):
    if m1.ndim != 2 or m2.ndim != 2:
        raise ValueError("addmm: mat1 and mat2 must be matrices")
    prod = np.matmul(m1, m2)
    return beta * np.broadcast_to(inp, prod.shape) + alpha * prod


def _addmm_mag(inp, m1, m2, beta=1.0, alpha=1.0):
    if m1.ndim != 2 or m2.ndim != 2:
        return None
    return abs(beta) * np.abs(inp) + abs(alpha) * np.matmul(np.abs(m1), np.abs(m2))
