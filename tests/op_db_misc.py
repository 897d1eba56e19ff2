"""OpInfo entries of the misc rows (csrc/ops/misc_ops.cpp, einsum.cpp, misc_nn_ops.cpp and
the binary rows fmod / remainder): samples and float64 NumPy references, appended to OP_DB
by tests/op_db.py so that the forward (every dtype, odd sizes, strided / permuted /
expanded inputs), float64 gradient, fuzz and trace/replay harnesses cover them.

References raise ValueError / IndexError where PyTorch rejects the input, and Unspecified
where PyTorch leaves the result open. Sorted inputs (searchsorted's sequence) are built
sorted and passed contiguous; index tensors (one_hot, embedding_bag) have role "index"."""
import math

import numpy as np
from hypothesis import strategies as st

import nn_core as nc
import samples as S
from op_refs import Unspecified, axes, wrap
from samples import ALL, FLOAT, INT, NUMERIC, Dom, Sample, TArg

INF = math.inf
# Chains of rounded ops in half types (pow, sum, root; exp, mul): about 4x the one-op tolerance.
CHAIN_HALF_TOL = {"float16": (4e-3, 8e-3), "bfloat16": (3.2e-2, 6.4e-2)}


def _fn(name):
    return lambda *a, **k: getattr(nc, name)(*a, **k)


def _ffn(name):
    return lambda *a, **k: getattr(nc.functional, name)(*a, **k)


def _method(name):
    return lambda x, *a, **k: getattr(x, name)(*a, **k)


def _no_zero_sizes(shp):
    return tuple(max(s, 1) for s in shp)


# ---------------------------------------------------------------- fmod / remainder ------

def s_mod(reflected):
    """a op b, b (or, reflected, a: remainder's 2 % t) may be a python number; b nonzero."""
    return lambda draw, dt, m: _s_mod(draw, dt, m, reflected)


def _s_mod(draw, dt, m, reflected):
    sa, sb = S.broadcast_shapes(draw, m, 2)
    kind = draw(st.sampled_from(["tt", "tt", "ts"] + (["st"] if reflected else [])))
    a = S.tensor(draw, m, sa, dt, Dom(-9, 9)) if kind != "st" else S.scalar(draw, dt, Dom(-9, 9))
    b = S.tensor(draw, m, sb, dt, S.NONZERO) if kind != "ts" else S.scalar(draw, dt, S.NONZERO)
    return Sample(a, b, dt=dt)


def _mod_call(name):
    def call(a, b):
        if not isinstance(a, nc.Tensor):
            return a % b  # reflected: Tensor.__rmod__
        return getattr(nc, name)(a, b)
    return call


def _ref_mod(f):
    def ref(a, b):
        if np.any(np.asarray(b) == 0):
            raise Unspecified  # integer divisors of 0 raise, float ones give nan: the tests check both
        with np.errstate(all="ignore"):
            return f(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    return ref


def _mod_out(s):
    from op_db import binary_out
    return binary_out(s)


# ---------------------------------------------------------------- selection -------------

def s_masked_select(draw, dt, m):
    """The mask is contiguous: the trace test replays on rolled values, which keep a
    contiguous mask's count of True (the result's size) but not a strided view's
    (tests/test_misc_ops.py covers strided masks)."""
    sx, sm = S.broadcast_shapes(draw, m, 2)
    return Sample(S.tensor(draw, m, sx, dt), S.tensor(draw, m, sm, "bool", view=False), dt=dt)


def ref_masked_select(x, mask):
    xb, mb = np.broadcast_arrays(x, mask)
    return xb[mb.astype(bool)]


def s_nan_to_num(draw, dt, m):
    x = S.tensor(draw, m, S.shape(draw, m), dt)
    kw = {}
    if draw(st.booleans()):
        kw["nan"] = draw(st.sampled_from([0.0, -1.5, 7.0]))
    posinf = draw(st.sampled_from([None, 3.0, 100.0]))
    neginf = draw(st.sampled_from([None, -3.0, -50.0]))
    if dt in FLOAT and not m.small and x.base.size:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        base = np.array(x.base, copy=True)
        flat = base.reshape(-1)
        specials = [np.nan] + ([np.inf] if posinf is not None else []) + ([-np.inf] if neginf is not None else [])
        picks = rng.integers(0, flat.size, size=min(flat.size, 5))
        flat[picks] = rng.choice(specials, size=picks.size)
        x = TArg(base, dt, x.slices, x.perm, x.expand, x.desc + " +specials")
    return Sample(x, posinf=posinf, neginf=neginf, dt=dt, **kw)


def ref_nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    if x.dtype.kind != "f":
        return x
    big = 1e300  # None with an infinity present does not occur in the samples
    out = np.nan_to_num(x, nan=nan, posinf=big if posinf is None else posinf, neginf=-big if neginf is None else neginf)
    return out


def s_isclose(draw, dt, m):
    sa, sb = S.broadcast_shapes(draw, m, 2)
    a, b = S.tensor(draw, m, sa, dt, S.TIES), S.tensor(draw, m, sb, dt, S.TIES)
    rtol, atol = draw(st.sampled_from([(1e-5, 1e-8), (0.25, 0.5), (0.0, 0.0), (0.0, 1.0)]))
    return Sample(a, b, rtol=rtol, atol=atol, equal_nan=draw(st.booleans()), dt=dt)


def ref_isclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    return np.isclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=rtol, atol=atol, equal_nan=equal_nan)


# ---------------------------------------------------------------- reductions ------------

def s_norm(draw, dt, m):
    x = S.tensor(draw, m, S.shape(draw, m), dt)
    ps = [1, 2, 3, INF, -INF] + ([] if m.small else [0])
    kw = {"p": draw(st.sampled_from(ps)), "dim": S.dims(draw, m, len(x.shape)), "keepdim": draw(st.booleans())}
    if draw(st.integers(0, 4)) == 0 and not m.fuzz:
        kw["p"] = "fro"
    return Sample(x, dt=dt, **kw)


def ref_norm(x, p="fro", dim=None, keepdim=False):
    ax = axes(x.ndim, dim)
    if p == "fro":
        if isinstance(dim, tuple) and len(dim) > 2:
            raise ValueError("norm: the Frobenius norm takes at most 2 dims")
        p = 2
    a = np.abs(x)
    if p == INF:
        return np.max(a, axis=ax, keepdims=keepdim)
    if p == -INF:
        return np.min(a, axis=ax, keepdims=keepdim)
    if p == 0:
        return np.sum(a != 0, axis=ax, keepdims=keepdim).astype(np.float64)
    return np.sum(a ** p, axis=ax, keepdims=keepdim) ** (1.0 / p)


def s_median(draw, dt, m):
    shp = S.shape(draw, m)
    if not m.fuzz:
        shp = _no_zero_sizes(shp)
    ties = dt not in FLOAT or (not m.small and draw(st.booleans()))  # no ties for gradcheck
    return Sample(S.tensor(draw, m, shp, dt, S.TIES if ties else S.DEFAULT), dt=dt)


def ref_median(x):
    if x.size == 0:
        raise IndexError("median of an empty tensor")
    return np.sort(x.reshape(-1), kind="stable")[(x.size - 1) // 2]


def s_median_dim(draw, dt, m):
    smp = s_median(draw, dt, m)
    x = smp.args[0]
    smp.args = (x, S.dim(draw, m, len(x.shape)), draw(st.booleans()))
    return smp


def ref_median_dim(x, dim, keepdim):
    d = wrap(dim, x.ndim)
    if x.ndim == 0:
        return x, np.array(0)
    if x.shape[d] == 0:
        raise IndexError("median of an empty dim")
    order = np.argsort(x, axis=d, kind="stable")
    k = (x.shape[d] - 1) // 2
    idx = np.take(order, [k], axis=d)
    vals = np.take_along_axis(x, idx, axis=d)
    if not keepdim:
        idx, vals = np.squeeze(idx, d), np.squeeze(vals, d)
    return vals, idx


def s_unique(draw, dt, m):
    """Contiguous input, as masked_select's mask (the result's size depends on the values)."""
    x = S.tensor(draw, m, S.shape(draw, m, max_ndim=3), dt, S.TIES, view=False)
    nd = len(x.shape)
    d = None if draw(st.booleans()) else S.dim(draw, m, nd)
    return Sample(x, return_inverse=draw(st.booleans()), return_counts=draw(st.booleans()), dim=d, dt=dt)


def call_unique(x, return_inverse, return_counts, dim):
    out = nc.unique(x, return_inverse=return_inverse, return_counts=return_counts, dim=dim)
    out = list(out) if isinstance(out, tuple) else [out]
    empty = nc.zeros(0, dtype=nc.int64)
    values = out.pop(0)
    inverse = out.pop(0) if return_inverse else empty
    counts = out.pop(0) if return_counts else empty
    return values, inverse, counts


def ref_unique(x, return_inverse, return_counts, dim):
    empty = np.zeros(0, np.int64)
    if dim is None:
        values, inverse, counts = np.unique(x.reshape(-1), return_inverse=True, return_counts=True)
        inverse = inverse.reshape(x.shape)
    else:
        if x.ndim == 0:
            raise Unspecified
        d = wrap(dim, x.ndim)
        if x.shape[d] == 0 or x.size == 0:
            raise Unspecified  # empty slices: PyTorch's results differ between versions
        values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True, axis=d)
        inverse = inverse.reshape(-1)
    return values, inverse if return_inverse else empty, counts if return_counts else empty


# ---------------------------------------------------------------- shape -----------------

def s_unbind(draw, dt, m):
    shp = S.shape(draw, m, min_ndim=0 if m.fuzz else 1)
    x = S.tensor(draw, m, shp if m.fuzz else _no_zero_sizes(shp), dt)
    return Sample(x, S.dim(draw, m, len(x.shape)), dt=dt)


def ref_unbind(x, dim):
    if x.ndim == 0:
        raise ValueError("unbind of a 0-d tensor")
    d = wrap(dim, x.ndim)
    return [np.take(x, i, axis=d) for i in range(x.shape[d])]


def s_diff(draw, dt, m):
    x = S.tensor(draw, m, S.shape(draw, m, min_ndim=0 if m.fuzz else 1, max_ndim=3), dt)
    nd = len(x.shape)
    d = S.dim(draw, m, nd)
    kw = {"n": draw(st.sampled_from([1, 1, 2, 3, 0])), "dim": d}
    for key in ("prepend", "append"):
        if nd and -nd <= d < nd and draw(st.integers(0, 2)) == 0:
            shp = list(x.shape)
            shp[d] = draw(st.sampled_from([1, 2]))
            kw[key] = S.tensor(draw, m, tuple(shp), dt)
    return Sample(x, dt=dt, **kw)


def ref_diff(x, n=1, dim=-1, prepend=None, append=None):
    if x.ndim == 0:
        raise ValueError("diff of a 0-d tensor")
    d = wrap(dim, x.ndim)
    # PyTorch concatenates prepend / append before differencing, also for n == 0
    # (NumPy returns the input unchanged for n == 0).
    out = np.concatenate([v for v in (prepend, x, append) if v is not None], axis=d)
    for _ in range(n):
        if out.shape[d] == 0:
            break
        out = np.diff(out, axis=d)
    return out


def mag_diff(x, n=1, dim=-1, prepend=None, append=None):
    """Each difference rounds a result whose error scales with |later| + |earlier|."""
    if x.dtype == np.bool_:
        return None
    d = wrap(dim, x.ndim)
    out = np.abs(np.concatenate([v for v in (prepend, x, append) if v is not None], axis=d))
    for _ in range(n):
        if out.shape[d] == 0:
            break
        k = out.shape[d]
        out = np.take(out, range(1, k), axis=d) + np.take(out, range(0, k - 1), axis=d)
    return out


def s_meshgrid(draw, dt, m):
    k = draw(st.integers(1, 3))
    sizes = [draw(st.sampled_from([0, 1, 2, 5] if not m.small else [1, 2, 3])) for _ in range(k)]
    ts = [S.tensor(draw, m, (n,) if draw(st.integers(0, 5)) else (), dt) for n in sizes]
    return Sample(*ts, indexing=draw(st.sampled_from(["ij", "xy"])), dt=dt)


def ref_meshgrid(*xs, indexing="ij"):
    return np.meshgrid(*[np.asarray(x).reshape(-1) for x in xs], indexing=indexing)


def s_einsum(draw, dt, m):
    n = lambda: draw(st.sampled_from([1, 2, 3, 5] if m.small else [0, 1, 2, 3, 5, 7]))  # noqa: E731
    i, j, k, b = n(), n(), n(), n()
    cases = [
        ("ij,jk->ik", [(i, j), (j, k)]), ("ij,jk", [(i, j), (j, k)]), ("bij,bjk->bik", [(b, i, j), (b, j, k)]),
        ("i,i->", [(i,), (i,)]), ("i,j->ij", [(i,), (j,)]), ("ii->i", [(i, i)]), ("ii", [(i, i)]),
        ("...ij,...jk->...ik", [(2, 1, i, j), (3, j, k)]), ("ij->ji", [(i, j)]), ("ijk->", [(i, j, k)]),
        ("bn,anm,bm->ba", [(b, j), (i, j, k), (b, k)]), ("i,i,i->i", [(i,), (i,), (i,)]),
        ("ab,ab->ab", [(i, j), (i, j)]), ("Ab,bA", [(i, j), (j, i)]), ("...i->...", [(b, 2, i)]),
        ("iij->j", [(i, i, j)]), ("ij,kj->ikj", [(i, j), (k, j)]),
    ]
    eq, shapes = draw(st.sampled_from(cases))
    if m.fuzz and draw(st.integers(0, 3)) == 0:
        eq = draw(st.sampled_from(["ij,jk->il", "ij->", "i,i", "ij,jk->ikk", "i$j->i", "ij..,jk", "->", "ij->ij,"]))
    return Sample(eq, *[S.tensor(draw, m, s, dt) for s in shapes], dt=dt)


def ref_einsum(eq, *ops):
    return np.einsum(eq, *ops)


def mag_einsum(eq, *ops):
    return np.einsum(eq, *[np.abs(o) for o in ops])


# ---------------------------------------------------------------- factories -------------

def s_linspace(draw, dt, m):
    steps = draw(st.sampled_from([0, 1, 2, 5, 7, 129] if not m.fuzz else [-1, 0, 1, 3]))
    if dt in INT:  # integral steps keep every value exact (no truncation ties)
        start = draw(st.integers(-10, 10))
        k = draw(st.integers(0, 3)) if steps <= 7 else 0  # |values| <= 28: no int8 overflow
        end = start + k * max(steps - 1, 0) * draw(st.sampled_from([1, -1]))
        return Sample(float(start), float(end), steps, dtype=dt, dt=dt)
    start, end = draw(st.sampled_from([(-3.5, 2.25), (0.0, 1.0), (10.0, -4.0), (2.0, 2.0)]))
    return Sample(start, end, steps, dtype=dt, dt=dt)


def ref_linspace(start, end, steps, dtype):
    if steps < 0:
        raise ValueError("negative steps")
    return np.linspace(start, end, steps)


def s_logspace(draw, dt, m):
    smp = s_linspace(draw, "float64", m)
    smp.kwargs.update(dtype=dt, base=draw(st.sampled_from([10.0, 2.0, 0.5])))
    smp.dt = dt
    return smp


def ref_logspace(start, end, steps, dtype, base=10.0):
    return base ** ref_linspace(start, end, steps, dtype)


def s_eye(draw, dt, m):
    n = draw(st.sampled_from([0, 1, 3, 7] if not m.fuzz else [-1, 0, 2]))
    mm = draw(st.sampled_from([None, 0, 1, 4, 9]))
    return Sample(n, mm, dtype=dt, dt=dt)


def ref_eye(n, m, dtype):
    if n < 0 or (m is not None and m < 0):
        raise ValueError("negative size")
    return np.eye(n, m)


# ---------------------------------------------------------------- distances -------------

def s_cdist(draw, dt, m):
    sizes = [1, 2, 3] if m.small else [0, 1, 2, 5, 7]
    bshape = tuple(draw(st.sampled_from([1, 2])) for _ in range(draw(st.integers(0, 2))))
    p_, r, mm = draw(st.sampled_from(sizes)), draw(st.sampled_from(sizes)), draw(st.sampled_from(sizes[1:]))
    b1 = bshape if draw(st.booleans()) else bshape[-1:] if bshape else ()
    x1 = S.tensor(draw, m, b1 + (p_, mm), dt)
    x2 = S.tensor(draw, m, bshape + (r, mm if not (m.fuzz and draw(st.booleans())) else mm + 1), dt)
    p = draw(st.sampled_from([1.0, 2.0, 3.0, INF] + ([] if m.small else [0.0])))
    return Sample(x1, x2, p=p, dt=dt)


def _lp(a, p, axis):
    a = np.abs(a)
    if p == INF:
        return np.max(a, axis=axis)
    if p == 0:
        return np.sum(a != 0, axis=axis).astype(np.float64)
    return np.sum(a ** p, axis=axis) ** (1.0 / p)


def ref_cdist(x1, x2, p=2.0):
    if x1.shape[-1] != x2.shape[-1]:
        raise ValueError("cdist: column counts differ")
    return _lp(x1[..., :, None, :] - x2[..., None, :, :], p, -1)


def mag_cdist(x1, x2, p=2.0):
    return _lp(np.abs(x1[..., :, None, :]) + np.abs(x2[..., None, :, :]), p, -1)


def s_searchsorted(draw, dt, m):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    lead = tuple(draw(st.sampled_from([1, 2, 3])) for _ in range(draw(st.integers(0, 2))))
    n = draw(st.sampled_from([0, 1, 4, 9]))
    seq = np.sort(S.gen_values(rng, lead + (n,), dt, S.TIES), axis=-1)
    vshape = lead + (draw(st.sampled_from([0, 1, 3, 6])),) if lead else S.shape(draw, m, max_ndim=2)
    if m.fuzz and lead and draw(st.booleans()):
        vshape = (lead[0] + 1,) + vshape[1:]
    values = S.tensor(draw, m, vshape, dt, S.TIES)
    return Sample(S.const(seq, dt), values, right=draw(st.booleans()), dt=dt)


def ref_searchsorted(seq, values, right=False):
    side = "right" if right else "left"
    if seq.ndim == 1:
        return np.searchsorted(seq, values, side=side)
    if values.ndim != seq.ndim or values.shape[:-1] != seq.shape[:-1]:
        raise ValueError("searchsorted: leading dims differ")
    out = np.zeros(values.shape, np.int64)
    for idx in np.ndindex(*seq.shape[:-1]):
        out[idx] = np.searchsorted(seq[idx], values[idx], side=side)
    return out


def s_bucketize(draw, dt, m):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.sampled_from([0, 1, 4, 9]))
    bounds = np.sort(S.gen_values(rng, (n,), dt, S.TIES))
    values = S.tensor(draw, m, S.shape(draw, m, max_ndim=3), dt, S.TIES)
    return Sample(values, S.const(bounds, dt), right=draw(st.booleans()), dt=dt)


def ref_bucketize(values, bounds, right=False):
    return np.searchsorted(bounds, values, side="right" if right else "left")


# ---------------------------------------------------------------- functional ------------

def s_one_hot(draw, dt, m):
    c = draw(st.integers(1, 6))
    x = S.tensor(draw, m, S.shape(draw, m, max_ndim=3), dt, Dom(0, c - 1) if not m.fuzz else Dom(-2, c + 1))
    return Sample(x, num_classes=c, dt=dt)


def ref_one_hot(x, num_classes):
    xi = np.asarray(x).astype(np.int64)
    if xi.size and (xi.min() < 0 or xi.max() >= num_classes):
        raise ValueError("one_hot: class values out of range")
    return np.eye(num_classes, dtype=np.int64)[xi]


def s_normalize(draw, dt, m):
    x = S.tensor(draw, m, S.shape(draw, m, min_ndim=0 if m.fuzz else 1), dt)
    return Sample(x, p=draw(st.sampled_from([1.0, 2.0, 3.0, INF])), dim=S.dim(draw, m, len(x.shape)),
                  eps=draw(st.sampled_from([1e-12, 0.5])), dt=dt)


def ref_normalize(x, p=2.0, dim=1, eps=1e-12):
    d = wrap(dim, x.ndim)
    if x.ndim == 0:
        raise Unspecified
    if p == INF and x.shape[d] == 0:
        raise ValueError("max of an empty dim")
    a = np.abs(x)
    nrm = np.max(a, axis=d, keepdims=True) if p == INF else np.sum(a ** p, axis=d, keepdims=True) ** (1 / p)
    return x / np.maximum(nrm, eps)


def s_two_floats(min_ndim=1):
    def sample(draw, dt, m):
        s1, s2 = S.broadcast_shapes(draw, m, 2, min_ndim=min_ndim if not m.fuzz else 0)
        # Another domain for x2: equal seeds must not give x1 == x2 (a kink of the distance).
        return Sample(S.tensor(draw, m, s1, dt), S.tensor(draw, m, s2, dt, Dom(-4.5, 3.5)), dt=dt)
    return sample


def s_cosine(draw, dt, m):
    smp = s_two_floats()(draw, dt, m)
    nd = max(len(smp.args[0].shape), len(smp.args[1].shape))
    smp.kwargs.update(dim=S.dim(draw, m, nd), eps=draw(st.sampled_from([1e-8, 0.5])))
    return smp


def ref_cosine(x1, x2, dim=1, eps=1e-8):
    a, b = np.broadcast_arrays(x1, x2)
    if a.ndim == 0:
        raise Unspecified
    d = wrap(dim, a.ndim)
    na = np.maximum(np.sqrt(np.sum(a * a, axis=d, keepdims=True)), eps)
    nb = np.maximum(np.sqrt(np.sum(b * b, axis=d, keepdims=True)), eps)
    return np.sum((a / na) * (b / nb), axis=d)


def s_pairwise(draw, dt, m):
    smp = s_two_floats()(draw, dt, m)
    smp.kwargs.update(p=draw(st.sampled_from([1.0, 2.0, 3.0, INF])), eps=draw(st.sampled_from([1e-6, 0.0])),
                      keepdim=draw(st.booleans()))
    return smp


def ref_pairwise(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    d = np.asarray(x1 - x2 + eps)
    if d.ndim == 0:
        raise Unspecified
    if p == INF and d.shape[-1] == 0:
        raise ValueError("max of an empty dim")
    out = _lp(d, p, -1)
    return np.expand_dims(out, -1) if keepdim else out


def s_kl_div(draw, dt, m):
    si, stt = S.broadcast_shapes(draw, m, 2)
    log_target = draw(st.booleans())
    target = S.tensor(draw, m, stt, dt, Dom(-3, 1) if log_target else Dom(0.01, 2.0))
    return Sample(S.tensor(draw, m, si, dt, Dom(-4, 1)), target,
                  reduction=draw(st.sampled_from(["none", "mean", "sum", "batchmean"])), log_target=log_target, dt=dt)


def ref_kl_div(inp, target, reduction="mean", log_target=False):
    if log_target:
        loss = np.exp(target) * (target - inp)
    else:
        with np.errstate(all="ignore"):
            loss = np.where(target == 0, 0.0, target * np.log(np.where(target == 0, 1.0, target))) - target * inp
    if reduction == "none":
        return loss
    if reduction == "sum":
        return np.sum(loss)
    if reduction == "mean":
        return np.mean(loss) if loss.size else np.float64(np.nan)
    with np.errstate(all="ignore"):
        return np.sum(loss) / np.float64(inp.shape[0]) if inp.ndim else np.sum(loss)


def mag_kl_div(inp, target, reduction="mean", log_target=False):
    t = np.exp(target) if log_target else target
    with np.errstate(all="ignore"):
        terms = np.abs(t) * (np.abs(np.log(np.where(t == 0, 1.0, t))) + np.abs(inp)) + np.abs(t * inp)
    if reduction == "none":
        return terms
    if reduction == "sum":
        return np.sum(terms)
    if reduction == "mean":
        return np.mean(terms) if terms.size else np.float64(np.nan)
    with np.errstate(all="ignore"):
        return np.sum(terms) / np.float64(inp.shape[0]) if inp.ndim else np.sum(terms)


SELU = (1.6732632423543772848170429916717, 1.0507009873554804934193349852946)


def s_elu(draw, dt, m):
    return Sample(S.tensor(draw, m, S.shape(draw, m), dt, Dom(-6, 6)), kind=draw(st.sampled_from(["elu", "selu", "celu"])),
                  alpha=draw(st.sampled_from([1.0, 0.5, 2.0])), dt=dt)


def call_elu(x, kind, alpha):
    F = nc.functional
    return F.elu(x, alpha) if kind == "elu" else F.selu(x) if kind == "selu" else F.celu(x, alpha)


def ref_elu(x, kind, alpha):
    scale, input_scale = 1.0, 1.0
    if kind == "selu":
        alpha, scale = SELU
    elif kind == "celu":
        input_scale = 1.0 / alpha
    return np.where(x > 0, scale * x, scale * alpha * np.expm1(np.minimum(x, 0) * input_scale))


def mag_elu(x, kind, alpha):
    """The exp branch computes scale * alpha * (exp(.) - 1): its rounding scales with scale * alpha."""
    scale = SELU[1] if kind == "selu" else 1.0
    alpha = SELU[0] if kind == "selu" else alpha
    return np.abs(ref_elu(x, kind, alpha)) + np.where(x > 0, 0.0, scale * alpha)


def s_prelu(draw, dt, m):
    shp = S.shape(draw, m, max_ndim=4)
    channels = shp[1] if len(shp) >= 2 else 1
    wn = draw(st.sampled_from([1, channels])) if not m.fuzz else draw(st.sampled_from([1, channels, channels + 1]))
    return Sample(S.tensor(draw, m, shp, dt), S.tensor(draw, m, (wn,), dt, Dom(-1, 1)), dt=dt)


def ref_prelu(x, w):
    channels = x.shape[1] if x.ndim >= 2 else 1
    if w.size not in (1, channels):
        raise ValueError("prelu: weight size mismatch")
    ws = w.reshape(()) if w.size == 1 or x.ndim < 2 else w.reshape((1, channels) + (1,) * (x.ndim - 2))
    return np.where(x > 0, x, ws * x)


def s_embedding_bag(draw, dt, m):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    vocab, width = draw(st.sampled_from([1, 4, 9])), draw(st.sampled_from([1, 3, 5]))
    weight = S.tensor(draw, m, (vocab, width), dt)
    mode = draw(st.sampled_from(["sum", "mean", "max"]))
    kw = {"mode": mode}
    hi = vocab if not m.fuzz else vocab + 2
    if draw(st.booleans()):  # 2-D: fixed-size bags
        idx = rng.integers(0, hi, size=(draw(st.sampled_from([1, 2, 4])), draw(st.sampled_from([1, 3]))))
        offsets = None
    else:
        n = draw(st.sampled_from([0, 1, 5, 11]))
        idx = rng.integers(0, hi, size=(n,))
        cuts = np.sort(rng.integers(0, n + 1, size=draw(st.integers(0, 3))))
        offsets = np.concatenate([[0], cuts]).astype(np.int64)
        if draw(st.booleans()):
            kw["include_last_offset"] = True
            offsets = np.concatenate([offsets, [n]]).astype(np.int64)
        kw["offsets"] = S.const(offsets, "int64", role="index")
    if draw(st.integers(0, 2)) == 0:
        kw["padding_idx"] = int(rng.integers(0, vocab))
    if mode == "sum" and draw(st.booleans()):
        kw["per_sample_weights"] = S.tensor(draw, m, idx.shape, dt)
    return Sample(S.const(idx.astype(np.int64), "int64", role="index"), weight, dt=dt, **kw)


def ref_embedding_bag(idx, weight, offsets=None, mode="mean", per_sample_weights=None, include_last_offset=False,
                      padding_idx=None):
    vocab, width = weight.shape
    if idx.size and (idx.min() < 0 or idx.max() >= vocab):
        raise IndexError("embedding_bag: index out of range")
    if idx.ndim == 2:
        bags = [list(range(r * idx.shape[1], (r + 1) * idx.shape[1])) for r in range(idx.shape[0])]
    else:
        starts = list(offsets[:-1] if include_last_offset else offsets)
        ends = starts[1:] + [idx.size]
        bags = [list(range(s, e)) for s, e in zip(starts, ends)]
    flat = idx.reshape(-1)
    psw = None if per_sample_weights is None else per_sample_weights.reshape(-1)
    out = np.zeros((len(bags), width))
    for b, members in enumerate(bags):
        members = [i for i in members if padding_idx is None or flat[i] != padding_idx]
        if not members:
            continue
        rows = weight[flat[members]] * (psw[members][:, None] if psw is not None else 1.0)
        out[b] = rows.sum(0) if mode == "sum" else rows.mean(0) if mode == "mean" else rows.max(0)
    return out


def mag_embedding_bag(idx, weight, **kw):
    psw = kw.get("per_sample_weights")
    return ref_embedding_bag(idx, np.abs(weight), **{**kw, "per_sample_weights": None if psw is None else np.abs(psw)})


def _entries():
    from op_db import COMPOSITE_HALF_TOL, VALUES_ONLY, OpInfo

    return [
        OpInfo("fmod", "binary", _mod_call("fmod"), _ref_mod(np.fmod), s_mod(False), dtypes=NUMERIC,
               out_dtype=_mod_out, variants=(lambda a, b: a.fmod(b),)),
        OpInfo("remainder", "binary", _mod_call("remainder"), _ref_mod(np.remainder), s_mod(True),
               dtypes=NUMERIC, out_dtype=_mod_out,
               variants=(lambda a, b: a % b, lambda a, b: a.remainder(b) if isinstance(a, nc.Tensor) else a % b)),
        OpInfo("masked_select", "composite", _fn("masked_select"), ref_masked_select, s_masked_select, dtypes=ALL,
               variants=(_method("masked_select"),)),
        OpInfo("nan_to_num", "composite", _fn("nan_to_num"), ref_nan_to_num, s_nan_to_num, dtypes=ALL,
               variants=(_method("nan_to_num"),)),
        OpInfo("isclose", "composite", _fn("isclose"), ref_isclose, s_isclose, dtypes=ALL, differentiable=False,
               out_dtype=lambda s: "bool", variants=(_method("isclose"),)),
        # mag: |ref| (a sum of non-negative terms); half types round every step of the chain.
        OpInfo("norm", "composite", _fn("norm"), ref_norm, s_norm, tol=CHAIN_HALF_TOL, variants=(_method("norm"),)),
        OpInfo("median", "composite", _fn("median"), ref_median, s_median, dtypes=NUMERIC,
               variants=(_method("median"),)),
        OpInfo("median_dim", "composite", lambda x, d, k: tuple(nc.median(x, d, k)), ref_median_dim, s_median_dim,
               dtypes=NUMERIC, out_dtype=lambda s: (s.dt, "int64"), grad=VALUES_ONLY,
               variants=(lambda x, d, k: tuple(x.median(dim=d, keepdim=k)),)),
        OpInfo("unique", "composite", call_unique, ref_unique, s_unique, dtypes=ALL, differentiable=False,
               out_dtype=lambda s: (s.dt, "int64", "int64")),
        OpInfo("unbind", "composite", _fn("unbind"), ref_unbind, s_unbind, dtypes=ALL, variants=(_method("unbind"),)),
        OpInfo("diff", "composite", _fn("diff"), ref_diff, s_diff, dtypes=ALL, variants=(_method("diff"),),
               mag=mag_diff, tol=CHAIN_HALF_TOL),
        OpInfo("meshgrid", "composite", _fn("meshgrid"), ref_meshgrid, s_meshgrid, dtypes=ALL),
        # mag: the einsum of |operands| (each output is a sum of products, as matmul's).
        OpInfo("einsum", "composite", _fn("einsum"), ref_einsum, s_einsum, dtypes=FLOAT + ("int64", "int32"),
               mag=mag_einsum, tol=COMPOSITE_HALF_TOL),
        OpInfo("linspace", "composite", lambda a, b, n, dtype: nc.linspace(a, b, n, dtype=getattr(nc, dtype)),
               ref_linspace, s_linspace, dtypes=FLOAT + ("int64", "int32", "int8"), differentiable=False),
        OpInfo("logspace", "composite",
               lambda a, b, n, dtype, base: nc.logspace(a, b, n, base, dtype=getattr(nc, dtype)), ref_logspace,
               s_logspace, dtypes=FLOAT, differentiable=False),
        OpInfo("eye", "composite", lambda n, m, dtype: nc.eye(n, m, dtype=getattr(nc, dtype)), ref_eye, s_eye,
               dtypes=ALL, differentiable=False),
        OpInfo("cdist", "composite", _fn("cdist"), ref_cdist, s_cdist, mag=mag_cdist, tol=CHAIN_HALF_TOL),
        OpInfo("searchsorted", "composite", _fn("searchsorted"), ref_searchsorted, s_searchsorted, dtypes=NUMERIC,
               differentiable=False, out_dtype=lambda s: "int64"),
        OpInfo("bucketize", "composite", _fn("bucketize"), ref_bucketize, s_bucketize, dtypes=NUMERIC,
               differentiable=False, out_dtype=lambda s: "int64"),
        OpInfo("one_hot", "composite", _ffn("one_hot"), ref_one_hot, s_one_hot, dtypes=("int64",),
               differentiable=False),
        OpInfo("normalize", "composite", _ffn("normalize"), ref_normalize, s_normalize, tol=CHAIN_HALF_TOL),
        OpInfo("cosine_similarity", "composite", _ffn("cosine_similarity"), ref_cosine, s_cosine, tol=CHAIN_HALF_TOL,
               mag=lambda x1, x2, dim=1, eps=1e-8: np.ones_like(ref_cosine(x1, x2, dim, eps))),  # |cos| <= 1: scale 1
        OpInfo("pairwise_distance", "composite", _ffn("pairwise_distance"), ref_pairwise, s_pairwise,
               tol=CHAIN_HALF_TOL,
               mag=lambda x1, x2, p=2.0, eps=1e-6, keepdim=False: ref_pairwise(np.abs(x1), -np.abs(x2), p, eps, keepdim)),
        OpInfo("kl_div", "composite", _ffn("kl_div"), ref_kl_div, s_kl_div, mag=mag_kl_div, tol=CHAIN_HALF_TOL),
        OpInfo("elu", "composite", call_elu, ref_elu, s_elu, tol=CHAIN_HALF_TOL, mag=mag_elu),
        OpInfo("prelu", "composite", _ffn("prelu"), ref_prelu, s_prelu, tol=COMPOSITE_HALF_TOL),
        OpInfo("embedding_bag", "composite", lambda idx, w, **kw: nc.functional.embedding_bag(idx, w, **kw),
               ref_embedding_bag, s_embedding_bag, tol=CHAIN_HALF_TOL, mag=mag_embedding_bag),
    ]


OPS_MISC = _entries()
