"""OpInfo entries of the composite rows built from other ops (csrc/ops/composite_tensor.cpp:
masked_fill, lerp, addcmul, outer, tril, triu, flip, roll, repeat, narrow, all, any), reached
through their PyTorch-style Python functions and methods (nn_core/_composites.py).
Appended to OP_DB by tests/op_db.py, so the forward (every dtype, odd sizes, strided /
permuted / expanded inputs), float64 gradient, fuzz (bad arguments must raise, never
crash) and trace/replay harnesses cover them. References are NumPy in float64."""
import numpy as np
from hypothesis import strategies as st

import nn_core as nc
import samples as S
from samples import ALL, FLOAT, NUMERIC, Dom, Sample

# ---------------------------------------------------------------- samples ----------


def s_masked_fill(draw, dt, m):
    sx, sm = S.broadcast_shapes(draw, m, 2)
    if not m.fuzz:
        sx = tuple(np.broadcast_shapes(sx, sm))  # the mask broadcasts to the input, not the reverse
    value = S.scalar(draw, dt) if dt not in FLOAT else draw(st.sampled_from([0.0, -1.5, 2.25]))
    return Sample(S.tensor(draw, m, sx, dt), S.tensor(draw, m, sm, "bool"), value, dt=dt)


def s_three_broadcast(draw, dt, m):
    a, b, c = S.broadcast_shapes(draw, m, 3)
    return Sample(S.tensor(draw, m, a, dt), S.tensor(draw, m, b, dt), S.tensor(draw, m, c, dt), dt=dt)


def s_addcmul(draw, dt, m):
    smp = s_three_broadcast(draw, dt, m)
    smp.kwargs["value"] = draw(st.sampled_from([1, 2, -1] if dt not in FLOAT else [1.0, 0.5, -2.0]))
    return smp


def s_outer(draw, dt, m):
    na, nb = draw(st.sampled_from([0, 1, 3, 17])), draw(st.sampled_from([1, 2, 9]))
    a = S.tensor(draw, m, (na,) if not (m.fuzz and draw(st.booleans())) else S.shape(draw, m), dt)
    return Sample(a, S.tensor(draw, m, (nb,), dt), dt=dt)


def s_triangle(draw, dt, m):
    x = S.tensor(draw, m, S.shape(draw, m, min_ndim=0 if m.fuzz else 2), dt)
    return Sample(x, draw(st.integers(-3, 3)), dt=dt)


def s_flip(draw, dt, m):
    x = S.tensor(draw, m, S.shape(draw, m, min_ndim=1), dt)
    nd = len(x.shape)
    dims = draw(st.lists(st.integers(-nd, nd - 1), max_size=nd, unique_by=lambda d: d % nd))
    if m.fuzz and draw(st.booleans()):
        dims = draw(st.lists(st.integers(-nd - 1, nd), max_size=nd + 1))  # out of range or repeated
    return Sample(x, dims, dt=dt)


def s_roll(draw, dt, m):
    x = S.tensor(draw, m, S.shape(draw, m), dt)
    nd = len(x.shape)
    if nd == 0 or draw(st.integers(0, 3)) == 0:
        return Sample(x, draw(st.integers(-9, 9)), dt=dt)  # flattened
    k = draw(st.integers(1, nd))
    dims = [S.dim(draw, m, nd) for _ in range(k)]
    shifts = [draw(st.integers(-9, 9)) for _ in range(k if not (m.fuzz and draw(st.booleans())) else k + 1)]
    return Sample(x, shifts, dims, dt=dt)


def s_repeat(draw, dt, m):
    x = S.tensor(draw, m, S.shape(draw, m, max_ndim=3), dt)
    nd = len(x.shape)
    reps = [draw(st.sampled_from([1, 2, 3, 0] if not m.small else [1, 2])) for _ in range(nd + draw(st.integers(0, 2)))]
    if m.fuzz and draw(st.booleans()):
        reps = reps[:max(nd - 1, 0)] + [draw(st.sampled_from([-1, 2]))]  # too few or negative
    return Sample(x, *reps, dt=dt)


def s_narrow(draw, dt, m):
    x = S.tensor(draw, m, S.shape(draw, m, min_ndim=0 if m.fuzz else 1), dt)
    nd = len(x.shape)
    d = S.dim(draw, m, nd)
    n = x.shape[d % nd] if nd and -nd <= d < nd else 3
    start = draw(st.integers(-n, n)) if not m.fuzz else draw(st.integers(-n - 2, n + 2))
    s0 = start + n if start < 0 else start
    length = draw(st.integers(0, max(n - s0, 0))) if not m.fuzz else draw(st.integers(-1, n + 1))
    return Sample(x, d, start, length, dt=dt)


# --------------------------------------------------------------- references --------


def ref_masked_fill(x, mask, value):
    return np.where(mask, value, x)


def ref_roll(x, shifts, dims=None):
    return np.roll(x, shifts, axis=tuple(dims) if isinstance(dims, list) else dims)


def ref_repeat(x, *reps):
    return np.tile(x, reps)


def ref_narrow(x, dim, start, length):
    n = x.shape[dim]
    start = start + n if start < 0 else start
    return np.take(x, np.arange(start, start + length), axis=dim)


def ref_reduce_bool(f):
    def ref(x, dim=None, keepdim=False):
        axis = tuple(dim) if isinstance(dim, (list, tuple)) else dim
        return f(x != 0, axis=axis, keepdims=keepdim)
    return ref


def _entries():
    from op_db import BOOL_OUT, COMPOSITE_HALF_TOL, OpInfo, method

    fn = lambda name: (lambda *a, **k: getattr(nc, name)(*a, **k))  # noqa: E731
    return [
        OpInfo("masked_fill", "composite", method("masked_fill"), ref_masked_fill, s_masked_fill, dtypes=ALL,
               variants=(fn("masked_fill"),)),
        OpInfo("lerp", "composite", fn("lerp"), lambda a, b, w: a + w * (b - a), s_three_broadcast,
               tol=COMPOSITE_HALF_TOL, variants=(method("lerp"),)),
        OpInfo("addcmul", "composite", fn("addcmul"), lambda x, a, b, value=1: x + value * a * b, s_addcmul,
               dtypes=FLOAT + ("int64", "int32"), tol=COMPOSITE_HALF_TOL, variants=(method("addcmul"),)),
        OpInfo("outer", "composite", fn("outer"), np.outer, s_outer, dtypes=NUMERIC, variants=(method("outer"),)),
        OpInfo("tril", "composite", fn("tril"), lambda x, k: np.tril(x, k) if x.ndim >= 2 else x, s_triangle,
               dtypes=ALL, variants=(method("tril"),)),
        OpInfo("triu", "composite", fn("triu"), lambda x, k: np.triu(x, k) if x.ndim >= 2 else x, s_triangle,
               dtypes=ALL, variants=(method("triu"),)),
        OpInfo("flip", "composite", fn("flip"), lambda x, dims: np.flip(x, tuple(dims)), s_flip, dtypes=ALL,
               variants=(method("flip"),)),
        OpInfo("roll", "composite", fn("roll"), ref_roll, s_roll, dtypes=ALL, variants=(method("roll"),)),
        OpInfo("repeat", "composite", method("repeat"), ref_repeat, s_repeat, dtypes=ALL),
        OpInfo("narrow", "composite", fn("narrow"), ref_narrow, s_narrow, dtypes=ALL, variants=(method("narrow"),)),
        OpInfo("all", "composite", fn("all"), ref_reduce_bool(np.all), S.s_reduce(), dtypes=ALL,
               variants=(method("all"),), **BOOL_OUT),
        OpInfo("any", "composite", fn("any"), ref_reduce_bool(np.any), S.s_reduce(), dtypes=ALL,
               variants=(method("any"),), **BOOL_OUT),
    ]


OPS_COMPOSITE = _entries()
