"""OpInfo entries of the ops that index along one dim (gather, scatter, scatter_add,
index_select), the scans (cumsum, cumprod) and sorting (sort, argsort, topk), with
their samples and float64 NumPy references (np.take_along_axis, np.add.at, np.cumsum,
a stable lexsort with NaN above every number). Appended to OP_DB by tests/op_db.py.

References raise IndexError / ValueError where PyTorch rejects the input (index dtype,
ndim and size rules, index values outside [0, size)), so the forward and fuzz tests
check the errors too. Samples: scatter indices are distinct along dim (with repeats
scatter is unspecified); sort/topk forward samples have ties and NaN, the gradient
samples neither (at a tie the values are not differentiable)."""
import numpy as np
from hypothesis import strategies as st

import nn_core as nc
import samples as S
from op_refs import wrap
from samples import ALL, FLOAT, INT, NUMERIC, Dom, Sample, TArg

# ---------------------------------------------------------------- references -------


def _at_least_1d(a):
    return a.reshape(1) if a.ndim == 0 else a


def _check_index(index, op):
    if index.dtype != np.int64:
        raise ValueError(f"{op}: index dtype {index.dtype} is not int64")


def _check_same_ndim(a, index, op):
    if max(a.ndim, 1) != max(index.ndim, 1):
        raise ValueError(f"{op}: index ndim {index.ndim} != {a.ndim}")


def _check_fits(index, a, skip, op):
    i1, a1 = _at_least_1d(index), _at_least_1d(a)
    for e in range(i1.ndim):
        if e != skip and i1.shape[e] > a1.shape[e]:
            raise ValueError(f"{op}: index {index.shape} larger than {a.shape} at dim {e}")


def _check_values(index, size, op):
    if index.size and (index.min() < 0 or index.max() >= size):
        raise IndexError(f"{op}: index out of range for size {size}")


def _coords(i1, d):
    """Advanced-index coordinates of every position of i1, with dim d replaced by i1."""
    coords = list(np.indices(i1.shape, sparse=True))
    coords[d] = i1
    return tuple(coords)


def ref_gather(x, dim, index):
    _check_index(index, "gather")
    d = wrap(dim, x.ndim)
    if index.size == 0:
        return np.zeros(index.shape)
    _check_same_ndim(x, index, "gather")
    _check_fits(index, x, d, "gather")
    x1, i1 = _at_least_1d(x), _at_least_1d(index)
    _check_values(i1, x1.shape[d], "gather")
    return x1[_coords(i1, d)].reshape(index.shape)


def _ref_scatter(x, dim, index, src, add):
    op = "scatter_add" if add else "scatter"
    _check_index(index, op)
    d = wrap(dim, x.ndim)
    out = np.array(x, dtype=np.float64)
    if index.size == 0:
        return out
    _check_same_ndim(x, index, op)
    _check_same_ndim(src, index, op)
    _check_fits(index, x, d, op)
    _check_fits(index, src, -1, op)
    out1, i1, s1 = _at_least_1d(out), _at_least_1d(index), _at_least_1d(np.asarray(src, dtype=np.float64))
    _check_values(i1, out1.shape[d], op)
    values = s1[tuple(slice(0, n) for n in i1.shape)]
    if add:
        np.add.at(out1, _coords(i1, d), values)
    else:
        out1[_coords(i1, d)] = values
    return out


def ref_scatter(x, dim, index, src):
    return _ref_scatter(x, dim, index, src, add=False)


def ref_scatter_add(x, dim, index, src):
    return _ref_scatter(x, dim, index, src, add=True)


def ref_index_select(x, dim, index):
    if index.dtype not in (np.int64, np.int32):
        raise ValueError("index_select: index must be int64 or int32")
    if index.ndim > 1:
        raise IndexError("index_select: index must be a vector")
    d = wrap(dim, x.ndim)
    x1 = _at_least_1d(x)
    if x.ndim == 0 and index.size != 1:
        raise IndexError("index_select: a 0-d input takes one index")
    _check_values(index, x1.shape[d], "index_select")
    out = np.take(x1, index.reshape(-1), axis=d)
    return out.reshape(()) if x.ndim == 0 else out


def _ref_scan(fn):
    def ref(x, dim):
        d = wrap(dim, x.ndim)
        x = np.asarray(x, dtype=np.float64)
        return x.copy() if x.ndim == 0 else fn(x, axis=d)
    return ref


def _sort_order(x, d, descending):
    """Indices sorting x along d: NaN above every number, ties by the lower index."""
    x = np.moveaxis(np.asarray(x, dtype=np.float64), d, -1)
    nan = np.isnan(x)
    value = np.where(nan, 0.0, x)
    idx = np.broadcast_to(np.arange(x.shape[-1]), x.shape)
    keys = (idx, -value, ~nan) if descending else (idx, value, nan)
    return np.moveaxis(np.lexsort(keys, axis=-1), -1, d)


def ref_sort(x, dim=-1, descending=False, stable=False):
    d = wrap(dim, x.ndim)
    if x.ndim == 0:
        return np.asarray(x, dtype=np.float64), np.zeros((), np.int64)
    order = _sort_order(x, d, descending)
    return np.take_along_axis(np.asarray(x, dtype=np.float64), order, d), order


def ref_argsort(x, dim=-1, descending=False, stable=False):
    return ref_sort(x, dim, descending)[1]


def ref_topk(x, k, dim=-1, largest=True, sorted=True):
    d = wrap(dim, x.ndim)
    n = x.shape[d] if x.ndim else 1
    if not 0 <= k <= n:
        raise IndexError(f"topk: k={k} out of range for size {n}")
    values, indices = ref_sort(x, dim, descending=largest)
    if x.ndim == 0:
        return values, indices
    take = tuple(slice(0, k) if e == d else slice(None) for e in range(x.ndim))
    return values[take], indices[take]


# ---------------------------------------------------------------- samples ----------


def _rng(draw):
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


def _index_dtype(draw, m):
    """int64; fuzz: sometimes int32 or float32 (both rejected by gather and the scatters)."""
    return draw(st.sampled_from(["int64", "int64", "int64", "int32", "float32"])) if m.fuzz else "int64"


def _index_shape(draw, m, rng, shp, d, along):
    """A shape of the input's ndim with sizes <= the input's off dim d and `along` at d;
    fuzz: sometimes one size too large or another ndim."""
    if not shp:
        return () if rng.random() < 0.5 else (1,)
    out = [along if e == d else int(rng.integers(0, n + 1)) for e, n in enumerate(shp)]
    if m.fuzz and rng.random() < 0.15:
        e = int(rng.integers(0, len(out)))
        out[e] += 1
    if m.fuzz and rng.random() < 0.1:
        out = out + [1] if rng.random() < 0.5 else out[:-1]
    return tuple(out)


def _index_values(m, rng, ishape, size, distinct_along=None):
    """Values in [0, size); fuzz: sometimes negative or >= size. distinct_along: dim along
    which every line holds distinct values (needs ishape[dim] <= size)."""
    if m.fuzz and rng.random() < 0.2:
        return rng.integers(-2, size + 2, ishape).astype(np.int64)
    if size == 0 or 0 in ishape:
        return np.zeros(ishape, np.int64)
    if distinct_along is None:
        return rng.integers(0, size, ishape).astype(np.int64)
    k = distinct_along
    full = list(ishape)
    full[k] = size
    perm = np.argsort(rng.random(full), axis=k)  # a random permutation per line
    return np.take(perm, np.arange(ishape[k]), axis=k).astype(np.int64)


def _dim_input(draw, dt, m, dom=S.DEFAULT, expand=True):
    x = S.tensor(draw, m, S.shape(draw, m, max_ndim=3), dt, dom, expand=expand)
    return x, S.dim(draw, m, len(x.shape))


def _along(rng, n, distinct):
    """Index length along dim: at most n when distinct (scatter), else up to n + 2."""
    hi = n if distinct else min(n + 2, 8)
    return int(rng.integers(0, max(min(hi, 8), 0) + 1))


def s_gather(draw, dt, m):
    x, d = _dim_input(draw, dt, m)
    rng, shp = _rng(draw), x.shape
    dw = d % max(len(shp), 1) if -max(len(shp), 1) <= d < max(len(shp), 1) else 0
    n = shp[dw] if shp else 1
    ishape = _index_shape(draw, m, rng, shp, dw, _along(rng, n, False) if n else 0)
    index = TArg(_index_values(m, rng, ishape, n), _index_dtype(draw, m), role="index")
    return Sample(x, d, index, dt=dt)


def s_index_select(draw, dt, m):
    x, d = _dim_input(draw, dt, m)
    rng, shp = _rng(draw), x.shape
    dw = d % max(len(shp), 1) if -max(len(shp), 1) <= d < max(len(shp), 1) else 0
    n = shp[dw] if shp else 1
    if not shp:
        ishape = (1,) if rng.random() < 0.5 else ()
    else:
        ishape = (int(rng.integers(0, 9)) if n else 0,) if rng.random() < 0.8 else ()
    if m.fuzz and rng.random() < 0.1:
        ishape = (2, 2)
    idt = draw(st.sampled_from(["int64", "int64", "int32", "float32"])) if m.fuzz else \
        draw(st.sampled_from(["int64", "int64", "int32"]))
    index = TArg(_index_values(m, rng, ishape, n), idt, role="index")
    return Sample(x, d, index, dt=dt)


def s_scatter(distinct):
    def sample(draw, dt, m):
        x, d = _dim_input(draw, dt, m)
        rng, shp = _rng(draw), x.shape
        dw = d % max(len(shp), 1) if -max(len(shp), 1) <= d < max(len(shp), 1) else 0
        n = shp[dw] if shp else 1
        ishape = _index_shape(draw, m, rng, shp, dw, _along(rng, n, distinct))
        idx = _index_values(m, rng, ishape, n, distinct_along=dw if distinct and len(ishape) > dw and
                            ishape[dw] <= n else None)
        index = TArg(idx, _index_dtype(draw, m), role="index")
        sshape = tuple(s + int(rng.integers(0, 2)) for s in ishape)
        if m.fuzz and sshape and rng.random() < 0.1:
            sshape = sshape[:-1] + (max(sshape[-1] - 1, 0),)  # maybe smaller than index
        src = S.tensor(draw, m, sshape, dt)
        return Sample(x, d, index, src, dt=dt)
    return sample


def s_scan(draw, dt, m):
    x, d = _dim_input(draw, dt, m, dom=S.DEFAULT)
    return Sample(x, d, dt=dt)


def s_cumprod(draw, dt, m):
    """Factors near +-1 keep products of up to 129 factors finite; {-1, 0, 1} tests
    zeros (exact products, so every dtype, and the gradient's zero handling)."""
    dom = Dom(-1, 1, "ints") if dt in INT or draw(st.booleans()) else Dom(0.9, 1.1, "nonzero")
    x, d = _dim_input(draw, dt, m, dom=dom)
    return Sample(x, d, dt=dt)


def _sort_input(draw, dt, m):
    """Forward: ties (small integers) and NaN often; gradients: distinct values."""
    dom = S.DEFAULT if m.small else draw(st.sampled_from([S.DEFAULT, S.TIES]))
    x, d = _dim_input(draw, dt, m, dom=dom)
    if dt in FLOAT and not m.small and x.base.size and draw(st.booleans()):
        rng = _rng(draw)
        base = np.array(x.base, copy=True)
        base[rng.random(base.shape) < 0.2] = np.nan
        x.base = base
    return x, d


def s_sort(draw, dt, m):
    x, d = _sort_input(draw, dt, m)
    return Sample(x, dim=d, descending=draw(st.booleans()), dt=dt)


def s_topk(draw, dt, m):
    x, d = _sort_input(draw, dt, m)
    shp = x.shape
    n = shp[d % len(shp)] if shp and -len(shp) <= d < len(shp) else 1
    k = draw(st.integers(-1, n + 1)) if m.fuzz else draw(st.integers(0, n))
    return Sample(x, k, dim=d, largest=draw(st.booleans()), dt=dt)


# ---------------------------------------------------------------- entries ----------


def _fn(name):
    return lambda *a, **k: getattr(nc, name)(*a, **k)


def _method(name):
    return lambda x, *a, **k: getattr(x, name)(*a, **k)


def _pair(call):
    """values_indices named tuple -> (values, indices), checking the field names."""
    def run(*a, **k):
        r = call(*a, **k)
        assert r.values is r[0] and r.indices is r[1]
        return (r.values, r.indices)
    return run


# scatter_add sums up to 8 terms per element, each rounded to the storage dtype.
HALF_SUM_TOL = {"float16": (3e-3, 6e-3), "bfloat16": (2.4e-2, 4.8e-2)}
VALUES_ONLY = dict(out=lambda out: out[0] if isinstance(out, tuple) else out)


def _abs_args(ref):
    return lambda x, dim, index, src: ref(np.abs(x), dim, index, np.abs(src))


def _OpInfo(*a, **k):
    from op_db import OpInfo  # op_db imports this module at its end
    return OpInfo(*a, **k)


def entries():
    return [
        _OpInfo("gather", "shape", _fn("gather"), ref_gather, s_gather, dtypes=ALL, variants=(_method("gather"),)),
        _OpInfo("scatter", "shape", _fn("scatter"), ref_scatter, s_scatter(distinct=True), dtypes=ALL,
                variants=(_method("scatter"),)),
        # mag: the sum's rounding scales with the sum of |terms|.
        _OpInfo("scatter_add", "shape", _fn("scatter_add"), ref_scatter_add, s_scatter(distinct=False),
                dtypes=NUMERIC, variants=(_method("scatter_add"),), mag=_abs_args(ref_scatter_add),
                tol=HALF_SUM_TOL),
        _OpInfo("index_select", "shape", _fn("index_select"), ref_index_select, s_index_select, dtypes=ALL,
                variants=(_method("index_select"),)),
        # Integer and bool inputs scan in int64 (PyTorch). mag: partial sums of |x|.
        _OpInfo("cumsum", "special", _fn("cumsum"), _ref_scan(np.cumsum), s_scan, dtypes=ALL,
                out_dtype=lambda s: s.dt if s.dt in FLOAT else "int64", variants=(_method("cumsum"),),
                mag=lambda x, dim: _ref_scan(np.cumsum)(np.abs(x), dim)),
        _OpInfo("cumprod", "special", _fn("cumprod"), _ref_scan(np.cumprod), s_cumprod, dtypes=NUMERIC,
                out_dtype=lambda s: s.dt if s.dt in FLOAT else "int64", variants=(_method("cumprod"),)),
        _OpInfo("sort", "special", _pair(_fn("sort")), ref_sort, s_sort, dtypes=ALL,
                out_dtype=lambda s: (s.dt, "int64"), variants=(_pair(_method("sort")),), grad=VALUES_ONLY),
        _OpInfo("argsort", "special", _fn("argsort"), ref_argsort, s_sort, dtypes=ALL, differentiable=False,
                out_dtype=lambda s: "int64", variants=(_method("argsort"),)),
        _OpInfo("topk", "special", _pair(_fn("topk")), ref_topk, s_topk, dtypes=ALL,
                out_dtype=lambda s: (s.dt, "int64"), variants=(_pair(_method("topk")),), grad=VALUES_ONLY),
    ]
