"""OpInfo entries of the schema rows that reach Python as methods, factories, subscripts
and in-place operators rather than as functions of their own: clone, detach, full,
arange, get_item (x[key]), set_item (x[key] = v), index_put_, the in-place unary and
binary rows (x.exp_(), x.add_(y), x += y). Appended to OP_DB by tests/op_db.py, so the
forward, gradient, fuzz and trace/replay harnesses all cover them.

In-place entries run on a destination drawn without expand (writing into a broadcast
view is an error) and return the destination; references are NumPy in float64."""
import operator as _op

import numpy as np
from hypothesis import strategies as st

import nn_core as nc
import samples as S
from samples import ALL, FLOAT, INT, NUMERIC, Dom, Sample, TArg

# ---------------------------------------------------------------- samples ----------


def s_full(draw, dt, m):
    shp = list(S.shape(draw, m, max_ndim=3))
    if m.fuzz and shp and draw(st.integers(0, 4)) == 0:
        shp[0] = -1  # invalid: a negative size
    values = {"bool": [False, True], "uint8": [0, 7, 255]}.get(dt, [0, 1, -3] if dt in INT else [0.0, -2.5, 0.1, 3e4])
    return Sample(shp, draw(st.sampled_from(values)), dt=dt)


def s_arange(draw, dt, m):
    if dt in FLOAT:
        start, end, step = draw(st.sampled_from([(0, 5, 1), (-1.5, 2.0, 0.25), (3.0, -2.0, -0.5), (0.0, 1.0, 0.3),
                                                 (2.0, 2.0, 1.0), (0, 129, 1)]))
    else:
        lo = 0 if dt == "uint8" else -5
        start, end = draw(st.integers(lo, 20)), draw(st.integers(lo, 20))
        step = draw(st.sampled_from([1, 2, 3])) * (1 if end >= start else -1)
    if m.fuzz and draw(st.integers(0, 3)) == 0:
        step = draw(st.sampled_from([0, -step]))  # invalid: zero step or the wrong sign
    return Sample(start, end, step, dt=dt)


def s_get_item(draw, dt, m):
    """A basic (slice / integer) or advanced subscript: the samples of the slice, select
    and index rows, which Python's x[key] reaches through get_item."""
    return draw(st.sampled_from([S.s_slice, S.s_select, S.s_index]))(draw, dt, m)


def s_set_item(draw, dt, m):
    """x[key] = v with a basic subscript (slices, an integer) and a value that broadcasts
    to the selected region (a tensor of its trailing shape, or a Python scalar)."""
    x = S.tensor(draw, m, S.shape(draw, m, min_ndim=1), dt, expand=False)
    nd, shp = len(x.shape), x.shape
    d = draw(st.integers(0, nd - 1))
    if draw(st.booleans()) and shp[d] > 0:
        item = draw(st.integers(-shp[d], shp[d] - 1))
    else:
        item = slice(draw(st.sampled_from([None, 0, 1, -2])), draw(st.sampled_from([None, -1, 3])),
                     draw(st.sampled_from([None, 2, -1])))
    key = (slice(None),) * d + (item,)
    target = np.empty(shp)[key].shape
    if draw(st.integers(0, 3)) == 0:
        v = S.scalar(draw, dt)
    else:
        drop = draw(st.integers(0, len(target)))
        v = S.tensor(draw, m, tuple(1 if draw(st.integers(0, 3)) == 0 else s for s in target[drop:]), dt)
    return Sample(x, key, v, dt=dt)


def s_index_put_(draw, dt, m):
    """index_put_(indices, values, accumulate): k int64 index tensors of one shape for the
    leading k dims (None: the whole dim), values broadcast to index_shape + the rest.
    Without accumulate the positions are distinct (repeated writes have no order)."""
    x = S.tensor(draw, m, S.shape(draw, m, min_ndim=1, max_ndim=3), dt, expand=False)
    shp = x.shape
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    accumulate = draw(st.booleans())
    k = draw(st.integers(1, len(shp)))
    count = draw(st.sampled_from([0, 1, 3, 5]))
    none_dim = draw(st.sampled_from([None] + list(range(k)))) if k > 1 else None
    indices = []
    for d in range(k):
        if d == none_dim:
            indices.append(None)
            continue
        n = shp[d]
        if n == 0:
            idx = np.zeros(0, np.int64)
        elif accumulate:
            idx = rng.integers(-n, n, count)
        else:
            idx = rng.permutation(n)[:count] - (n if rng.random() < 0.3 else 0)
        if m.fuzz and rng.random() < 0.2:
            idx = idx + n + 1  # out of range
        indices.append(S.TArg(idx.astype(np.int64), "int64", role="index"))
    lengths = {len(i.base) for i in indices if i is not None}
    if len(lengths) > 1:  # unequal lengths (a 0-size dim): trim to the shortest
        c = min(lengths)
        indices = [None if i is None else S.TArg(i.base[:c], "int64", role="index") for i in indices]
    in_range = [None if i is None else i.base % max(n, 1) for i, n in zip(indices, shp)]  # for the shape only
    ref_shape = np.empty(shp)[_np_key(indices, in_range)].shape
    v = S.tensor(draw, m, ref_shape if draw(st.booleans()) else ref_shape[-1:] if ref_shape else (), dt)
    return Sample(x, indices, v, dt=dt, accumulate=accumulate)


def _np_key(indices, arrays):
    return tuple(slice(None) if a is None else a for a in arrays)


UNARY_INPLACE = {"neg_": np.negative, "exp_": np.exp, "abs_": np.abs, "relu_": lambda x: np.maximum(x, 0),
                 "sigmoid_": lambda x: 1 / (1 + np.exp(-x)), "tanh_": np.tanh}
BINARY_INPLACE = {"add_": np.add, "sub_": np.subtract, "mul_": np.multiply, "maximum_": np.maximum,
                  "__iadd__": np.add, "__imul__": np.multiply}


def s_unary_(draw, dt, m):
    return Sample(S.tensor(draw, m, S.shape(draw, m), dt, Dom(-5, 5), expand=False),
                  draw(st.sampled_from(sorted(UNARY_INPLACE))), dt=dt)


def s_binary_(draw, dt, m):
    sd, ss = S.broadcast_shapes(draw, m, 2)
    if not m.fuzz:
        sd = tuple(np.broadcast_shapes(sd, ss))  # the destination is never broadcast
    dst = S.tensor(draw, m, sd, dt, expand=False)
    src = S.tensor(draw, m, ss, dt) if draw(st.integers(0, 3)) else S.scalar(draw, dt)
    return Sample(dst, src, draw(st.sampled_from(sorted(BINARY_INPLACE))), dt=dt)


# ---------------------------------------------------------------- calls / refs -----

def _index_put_(x, indices, values, accumulate):
    y = x.clone()
    out = y.index_put_(indices, values, accumulate=accumulate)
    assert out is y
    return y


def ref_index_put_(x, indices, values, accumulate):
    y = x.copy()
    key = _np_key(indices, indices)
    if any(i is not None and i.size and (i.min() < -n or i.max() >= n)
           for i, n in zip(indices, x.shape)):
        raise IndexError("index out of range")
    vals = np.broadcast_to(values, y[key].shape)  # ValueError when it does not broadcast
    if accumulate:
        np.add.at(y, key, vals)
    else:
        y[key] = vals
    return y


def _set_item(x, key, v):
    y = x.clone()
    y[key] = v
    return y


def ref_set_item(x, key, v):
    y = x.copy()
    y[key] = v
    return y


def _unary_(x, name):
    out = getattr(x, name)()
    assert out is x, f"{name} returned another object"
    return x


def _binary_(x, y, name):
    if name.startswith("__"):
        z = x
        z = getattr(z, name)(y)
        assert z is x
        return z
    out = getattr(x, name)(y)
    assert out is x, f"{name} returned another object"
    return x


def ref_binary_(x, y, name):
    out = BINARY_INPLACE[name](x, y)
    if np.shape(out) != x.shape:
        raise ValueError("the result does not fit the destination")
    return out


def _arange_ref(start, end, step, dtype):
    if step == 0 or (end - start) * step < 0:
        raise ValueError("arange: bad step")
    return np.arange(start, end, step, dtype=np.float64)


def _full_ref(shape, value, dtype):
    if any(s < 0 for s in shape):
        raise ValueError("negative size")
    return np.full(shape, value, np.float64)


def _entries():
    from op_db import COMPOSITE_HALF_TOL, OpInfo
    def with_dtype(sample):
        def s(draw, dt, m):
            smp = sample(draw, dt, m)
            smp.kwargs["dtype"] = dt
            return smp
        return s

    return [
        OpInfo("clone", "special", lambda x: x.clone(), lambda x: x, S.s_unary(), dtypes=ALL),
        OpInfo("detach", "special", lambda x: x.detach(), lambda x: x, S.s_unary(), dtypes=ALL, differentiable=False),
        OpInfo("full", "special", lambda shape, value, dtype: nc.full(shape, value, dtype=getattr(nc, dtype)),
               _full_ref, with_dtype(s_full), dtypes=ALL, differentiable=False),
        OpInfo("arange", "special", lambda a, b, c, dtype: nc.arange(a, b, c, dtype=getattr(nc, dtype)),
               _arange_ref, with_dtype(s_arange), dtypes=NUMERIC, differentiable=False),
        OpInfo("get_item", "special", _op.getitem, _op.getitem, s_get_item, dtypes=ALL),
        OpInfo("set_item", "special", _set_item, ref_set_item, s_set_item, dtypes=ALL, differentiable=False),
        # accumulate adds repeated positions one by one in the storage dtype: the error of a
        # sum (mag: the accumulated magnitudes), several roundings in half types.
        OpInfo("index_put_", "special", _index_put_, ref_index_put_, s_index_put_, dtypes=NUMERIC,
               differentiable=False, tol=COMPOSITE_HALF_TOL,
               mag=lambda x, i, v, accumulate: ref_index_put_(np.abs(x), i, np.abs(v), accumulate)),
        OpInfo("unary_", "special", _unary_, lambda x, name: UNARY_INPLACE[name](x), s_unary_, dtypes=FLOAT,
               differentiable=False),
        OpInfo("binary_", "special", _binary_, ref_binary_, s_binary_,
               dtypes=FLOAT, differentiable=False),
    ]


OPS_SPECIAL = _entries()
