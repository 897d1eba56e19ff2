"""OpInfo entries of the int8 quantization ops (op table rows NN_QUANTIZED_OPS, csrc/ops/
quantized.cpp): quantize_per_tensor, quantize_per_channel, dequantize (per tensor) and
quantize_rows, with NumPy references in float32 arithmetic (the ops' definition:
q = clamp(rint(x * (1/scale)) + zero_point), round half to even, NaN -> qmin), appended to
OP_DB by tests/op_db.py. Samples cover the harness's sizes and layouts, clamping (a wide
domain) and exact ties (integer inputs with scale 2). The quantized linear / conv2d take
a packed weight object and are tested in tests/test_int8.py."""
import numpy as np
from hypothesis import strategies as st

import samples as S
from samples import FLOAT, Dom, Sample

QRANGE = {"uint8": (0, 255), "int8": (-128, 127)}
SCALES = (0.25, 0.1, 0.037, 1.0, 2.0)
WIDE = Dom(-300.0, 300.0)  # clamps at every scale above


def _C():
    import nn_core as nc
    return nc, nc._C


# ---------------------------------------------------------------- references -------

def _check_params(scale, zero_point, dtype):
    lo, hi = QRANGE[dtype]
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError("scale must be positive")
    if not lo <= zero_point <= hi:
        raise ValueError("zero point out of range")


def _quantize(x32, inv, zp, dtype):
    lo, hi = QRANGE[dtype]
    with np.errstate(all="ignore"):
        q = np.rint(x32 * inv) + np.float32(zp)
    return np.where(np.isnan(q), lo, np.clip(q, lo, hi)).astype(np.float64)


def ref_quantize_per_tensor(x, scale, zero_point, dtype):
    _check_params(scale, zero_point, dtype)
    return _quantize(np.asarray(x, np.float32), np.float32(1) / np.float32(scale), zero_point, dtype)


def ref_quantize_per_channel(x, scales, zero_points, axis, dtype):
    if x.ndim == 0 or not -x.ndim <= axis < x.ndim:
        raise IndexError("axis")
    C = x.shape[axis]
    if len(scales) != C or len(zero_points) != C:
        raise ValueError("parameter count")
    for s, z in zip(scales, zero_points):
        _check_params(s, z, dtype)
    shape = [1] * x.ndim
    shape[axis] = C
    inv = (np.float32(1) / np.asarray(scales, np.float32)).reshape(shape)
    return _quantize(np.asarray(x, np.float32), inv, np.asarray(zero_points, np.float32).reshape(shape), dtype)


def ref_dequantize(q, scale, zero_point):
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError("scale")
    return ((q.astype(np.int64) - zero_point).astype(np.float32) * np.float32(scale)).astype(np.float64)


def ref_quantize_rows(x):
    if x.ndim == 0:
        raise ValueError("0-dim")
    x32 = np.asarray(x, np.float32).reshape(int(np.prod(x.shape[:-1])), x.shape[-1])
    if not np.all(np.isfinite(x32)):
        raise ValueError("non-finite")
    lo = np.minimum(x32.min(1, initial=0.0), 0).astype(np.float32)
    hi = np.maximum(x32.max(1, initial=0.0), 0).astype(np.float32)
    scale = ((hi - lo) / np.float32(255)).astype(np.float32)
    if not np.all(np.isfinite(scale)):
        raise ValueError("range overflows")
    tiny = np.finfo(np.float32).tiny
    scale = np.where(scale >= tiny, scale, np.where(hi == lo, np.float32(1), tiny)).astype(np.float32)
    inv = (np.float32(1) / scale).astype(np.float32)
    zp = np.clip(np.rint(-lo * inv), 0, 255).astype(np.float32)
    q = _quantize(x32, inv[:, None], zp[:, None], "uint8").reshape(x.shape)
    return q, scale.astype(np.float64), zp.astype(np.float64)


# ---------------------------------------------------------------- samples ----------

def _params(draw, dtype):
    lo, hi = QRANGE[dtype]
    return draw(st.sampled_from(SCALES)), draw(st.sampled_from((lo, 0, hi, (lo + hi) // 2 + 3)))


def s_quantize_per_tensor(draw, dt, m):
    dtype = draw(st.sampled_from(("uint8", "int8")))
    scale, zp = _params(draw, dtype)
    dom = draw(st.sampled_from((S.DEFAULT, WIDE, S.TIES)))
    if dom is S.TIES:
        scale = 2.0  # odd integers / 2: exact ties, rounded half to even
    x = S.tensor(draw, m, S.shape(draw, m), dt, dom)
    return Sample(x, scale, zp, dtype=dtype, dt=dt)


def s_quantize_per_channel(draw, dt, m):
    dtype = draw(st.sampled_from(("uint8", "int8")))
    shp = S.shape(draw, m, min_ndim=1)
    axis = draw(st.integers(-len(shp), len(shp) - 1))
    params = [_params(draw, dtype) for _ in range(shp[axis])]
    x = S.tensor(draw, m, shp, dt, draw(st.sampled_from((S.DEFAULT, WIDE))))
    return Sample(x, [p[0] for p in params], [p[1] for p in params], axis=axis, dtype=dtype, dt=dt)


def s_dequantize(draw, dt, m):
    scale, zp = _params(draw, dt if dt in QRANGE else "int8")
    return Sample(S.tensor(draw, m, S.shape(draw, m), dt), scale, zp, dt=dt)


def s_quantize_rows(draw, dt, m):
    x = S.tensor(draw, m, S.shape(draw, m, min_ndim=1), dt, draw(st.sampled_from((S.DEFAULT, WIDE))))
    return Sample(x, dt=dt)


# ---------------------------------------------------------------- entries ----------

def _op_quantize_per_tensor(x, scale, zero_point, dtype):
    nc, C = _C()
    return C.quantize_per_tensor(x, scale, zero_point, getattr(nc, dtype))


def _op_quantize_per_channel(x, scales, zero_points, axis, dtype):
    nc, C = _C()
    return C.quantize_per_channel(x, nc.tensor(scales, dtype=nc.float64),
                                  nc.tensor(zero_points, dtype=nc.int64), axis, getattr(nc, dtype))


def _op_dequantize(q, scale, zero_point):
    return _C()[1].dequantize_per_tensor(q, scale, zero_point)


def _op_quantize_rows(x):
    return _C()[1].quantize_rows(x)


def _entries():
    from op_db import OpInfo
    qdt = lambda s: s.kwargs["dtype"]  # noqa: E731
    return [
        OpInfo("quantize_per_tensor", "special", _op_quantize_per_tensor, ref_quantize_per_tensor,
               s_quantize_per_tensor, dtypes=FLOAT, differentiable=False, out_dtype=qdt),
        OpInfo("quantize_per_channel", "special", _op_quantize_per_channel, ref_quantize_per_channel,
               s_quantize_per_channel, dtypes=FLOAT, differentiable=False, out_dtype=qdt),
        OpInfo("dequantize", "special", _op_dequantize, ref_dequantize, s_dequantize, dtypes=("uint8", "int8"),
               differentiable=False, out_dtype=lambda s: "float32"),
        OpInfo("quantize_rows", "special", _op_quantize_rows, ref_quantize_rows, s_quantize_rows, dtypes=FLOAT,
               differentiable=False, out_dtype=lambda s: ("uint8", "float32", "int32")),
    ]


OPS_QUANTIZED = _entries()
