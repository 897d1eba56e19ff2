"""OpInfo entries of the int8 quantization ops (op table rows NN_QUANTIZED_OPS, csrc/ops/
quantized.cpp): quantize_per_tensor, quantize_per_channel, dequantize (per tensor) and
quantize_rows, dequantize_per_channel, with NumPy references in float32 arithmetic (the
ops' definition: q = clamp(rint(x * (1/scale)) + zero_point), round half to even,
NaN -> qmin), and the int8 linear (dynamic and static) and conv2d ops with float output,
whose references run in float64 on the dequantized operands (the int32 accumulation is
exact, so only the float epilogue rounds: mag = the dot products of magnitudes).
Appended to OP_DB by tests/op_db.py. Samples cover the harness's sizes and layouts,
clamping (a wide domain) and exact ties (integer inputs with scale 2). The requantized
outputs and every ISA path of the int8 GEMM are tested in tests/test_int8.py."""
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
    qmax = _C()[1].qgemm_dynamic_qmax()  # 255, or 127 on the AVX2 int8 kernel
    scale = ((hi - lo) / np.float32(qmax)).astype(np.float32)
    if not np.all(np.isfinite(scale)):
        raise ValueError("range overflows")
    tiny = np.finfo(np.float32).tiny
    scale = np.where(scale >= tiny, scale, np.where(hi == lo, np.float32(1), tiny)).astype(np.float32)
    inv = (np.float32(1) / scale).astype(np.float32)
    zp = np.clip(np.rint(-lo * inv), 0, qmax).astype(np.float32)
    q = np.minimum(_quantize(x32, inv[:, None], zp[:, None], "uint8"), qmax).reshape(x.shape)
    return q, scale.astype(np.float64), zp.astype(np.float64)


def ref_dequantize_per_channel(q, scales, zero_points, axis):
    if q.ndim == 0 or not -q.ndim <= axis < q.ndim:
        raise IndexError("axis")
    C = q.shape[axis]
    if len(scales) != C or len(zero_points) != C:
        raise ValueError("parameter count")
    shape = [1] * q.ndim
    shape[axis] = C
    s = np.asarray(scales, np.float32).reshape(shape)
    z = np.asarray(zero_points, np.int64).reshape(shape)
    return ((q.astype(np.int64) - z).astype(np.float32) * s).astype(np.float64)


class QW:
    """A symmetric int8 weight (N, K) with per-channel (or one) scales: the reference
    reads w / scales, the op gets the packed form (built once, on first use)."""

    def __init__(self, w, scales):
        self.w, self.scales, self._packed = w, np.asarray(scales, np.float32), None

    def packed(self):
        if self._packed is None:
            nc, C = _C()
            self._packed = C.pack_linear_weight(nc.tensor(self.w.astype(np.int8)), nc.tensor(self.scales))
        return self._packed

    def dequantized(self):
        s = self.scales if self.scales.size > 1 else np.full(self.w.shape[0], self.scales[0], np.float32)
        return self.w.astype(np.float64) * s.astype(np.float64)[:, None]

    def __repr__(self):
        return f"QW({self.w.shape[0]}x{self.w.shape[1]}, {'per_channel' if self.scales.size > 1 else 'per_tensor'})"


def _act(y, activation):
    if activation not in ("none", "relu"):
        raise ValueError("activation")
    return np.maximum(y, 0) if activation == "relu" else y


def _bias(bias, n):
    if bias is None:
        return np.zeros(n)
    if bias.shape != (n,):
        raise ValueError("bias shape")
    return bias


def ref_quantized_linear_dynamic(x, w, bias, activation):
    if x.ndim == 0 or x.shape[-1] != w.w.shape[1]:
        raise ValueError("shape")
    q, s, z = ref_quantize_rows(x)
    q2, lead = q.reshape(-1, x.shape[-1]), x.shape[:-1]
    xd = (q2 - z[:, None]) * s[:, None]
    return _act(xd @ w.dequantized().T + _bias(bias, w.w.shape[0]), activation).reshape(lead + (w.w.shape[0],))


def _mag_linear_dynamic(x, w, bias, activation):
    q, s, z = ref_quantize_rows(x)
    xd = np.abs((q.reshape(-1, x.shape[-1]) - z[:, None]) * s[:, None])
    mag = xd @ np.abs(w.dequantized()).T + np.abs(_bias(bias, w.w.shape[0]))
    return mag.reshape(x.shape[:-1] + (w.w.shape[0],))


def ref_quantized_linear(x, x_scale, x_zero_point, w, bias, activation):
    if x.ndim == 0 or x.shape[-1] != w.w.shape[1]:
        raise ValueError("shape")
    _check_params(x_scale, x_zero_point, "uint8")
    xd = (x - x_zero_point) * np.float64(np.float32(x_scale))
    return _act(xd @ w.dequantized().T + _bias(bias, w.w.shape[0]), activation)


def _mag_linear(x, x_scale, x_zero_point, w, bias, activation):
    xd = np.abs(x - x_zero_point) * x_scale
    return xd @ np.abs(w.dequantized()).T + np.abs(_bias(bias, w.w.shape[0]))


def _conv(xd, wd, kh, kw, stride, padding, dilation):
    N, C, H, W = xd.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    span_h, span_w = H + 2 * ph - dh * (kh - 1) - 1, W + 2 * pw - dw * (kw - 1) - 1
    if span_h < 0 or span_w < 0:
        raise ValueError("kernel larger than the padded input")
    OH, OW = span_h // sh + 1, span_w // sw + 1
    xp = np.pad(xd, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    w4 = wd.reshape(wd.shape[0], C, kh, kw)
    out = np.zeros((N, wd.shape[0], OH, OW))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i * dh: i * dh + sh * (OH - 1) + 1: sh, j * dw: j * dw + sw * (OW - 1) + 1: sw]
            out += np.einsum("ncij,oc->noij", patch, w4[:, :, i, j])
    return out


def ref_quantized_conv2d(x, x_scale, x_zero_point, w, kh, kw, bias, stride, padding, dilation, activation):
    if x.ndim != 4 or w.w.shape[1] != x.shape[1] * kh * kw:
        raise ValueError("shape")
    _check_params(x_scale, x_zero_point, "uint8")
    xd = (x - x_zero_point) * np.float64(np.float32(x_scale))
    y = _conv(xd, w.dequantized(), kh, kw, stride, padding, dilation)
    return _act(y + _bias(bias, w.w.shape[0])[None, :, None, None], activation)


def _mag_conv2d(x, x_scale, x_zero_point, w, kh, kw, bias, stride, padding, dilation, activation):
    xd = np.abs(x - x_zero_point) * x_scale
    y = _conv(xd, np.abs(w.dequantized()), kh, kw, stride, padding, dilation)
    return y + np.abs(_bias(bias, w.w.shape[0]))[None, :, None, None]


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


def s_dequantize_per_channel(draw, dt, m):
    shp = S.shape(draw, m, min_ndim=1)
    axis = draw(st.integers(-len(shp), len(shp) - 1))
    params = [_params(draw, dt if dt in QRANGE else "int8") for _ in range(shp[axis])]
    if m.fuzz and draw(st.integers(0, 4)) == 0:
        params = params[:-1] if params else [(1.0, 0)]  # invalid: one parameter too few / many
    return Sample(S.tensor(draw, m, shp, dt), [p[0] for p in params], [p[1] for p in params], axis=axis, dt=dt)


def _qweight(draw, n, k):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    w = rng.integers(-127, 128, (n, k))
    scales = rng.uniform(0.002, 0.02, n if draw(st.booleans()) else 1)
    return QW(w, scales), rng


def _maybe_bias(draw, rng, n):
    return S.TArg(rng.standard_normal(n).astype(np.float32), "float32") if draw(st.booleans()) else None


def s_quantized_linear_dynamic(draw, dt, m):
    k, n = draw(st.sampled_from((1, 3, 17, 64))), draw(st.sampled_from((1, 5, 33)))
    lead = S.shape(draw, m, max_ndim=2)
    x = S.tensor(draw, m, tuple(lead) + (k,), dt, draw(st.sampled_from((S.DEFAULT, WIDE))))
    w, rng = _qweight(draw, n, k + (1 if m.fuzz and draw(st.integers(0, 4)) == 0 else 0))
    return Sample(x, w, _maybe_bias(draw, rng, n), draw(st.sampled_from(("none", "relu"))), dt=dt)


def s_quantized_linear(draw, dt, m):
    k, n = draw(st.sampled_from((1, 3, 17, 64))), draw(st.sampled_from((1, 5, 33)))
    x = S.tensor(draw, m, (draw(st.sampled_from((0, 1, 3, 7))), k), dt)
    w, rng = _qweight(draw, n, k)
    scale, zp = _params(draw, "uint8")
    return Sample(x, scale, zp, w, _maybe_bias(draw, rng, n), draw(st.sampled_from(("none", "relu"))), dt=dt)


def s_quantized_conv2d(draw, dt, m):
    N, C = draw(st.sampled_from((1, 2))), draw(st.sampled_from((1, 3)))
    H, W = draw(st.sampled_from((1, 4, 7))), draw(st.sampled_from((2, 5)))
    kh, kw = draw(st.sampled_from((1, 2, 3))), draw(st.sampled_from((1, 2)))
    x = S.tensor(draw, m, (N, C, H, W), dt)
    w, rng = _qweight(draw, draw(st.sampled_from((1, 4))), C * kh * kw)
    scale, zp = _params(draw, "uint8")
    pair = lambda vals: (draw(st.sampled_from(vals)), draw(st.sampled_from(vals)))  # noqa: E731
    return Sample(x, scale, zp, w, kh, kw, _maybe_bias(draw, rng, w.w.shape[0]), pair((1, 2)), pair((0, 1)),
                  pair((1, 2)), draw(st.sampled_from(("none", "relu"))), dt=dt)


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


def _op_dequantize_per_channel(q, scales, zero_points, axis):
    nc, C = _C()
    return C.dequantize_per_channel(q, nc.tensor(scales, dtype=nc.float64), nc.tensor(zero_points, dtype=nc.int64),
                                    axis)


def _op_quantized_linear_dynamic(x, w, bias, activation):
    return _C()[1].quantized_linear_dynamic(x, w.packed(), bias, activation)


def _op_quantized_linear(x, x_scale, x_zero_point, w, bias, activation):
    return _C()[1].quantized_linear(x, x_scale, x_zero_point, w.packed(), bias, activation)


def _op_quantized_conv2d(x, x_scale, x_zero_point, w, kh, kw, bias, stride, padding, dilation, activation):
    return _C()[1].quantized_conv2d(x, x_scale, x_zero_point, w.packed(), kh, kw, bias, stride, padding, dilation,
                                    activation)


def _entries():
    from op_db import OpInfo
    qdt = lambda s: s.kwargs["dtype"]  # noqa: E731
    f32 = lambda s: "float32"  # noqa: E731
    return [
        OpInfo("quantize_per_tensor", "special", _op_quantize_per_tensor, ref_quantize_per_tensor,
               s_quantize_per_tensor, dtypes=FLOAT, differentiable=False, out_dtype=qdt),
        OpInfo("quantize_per_channel", "special", _op_quantize_per_channel, ref_quantize_per_channel,
               s_quantize_per_channel, dtypes=FLOAT, differentiable=False, out_dtype=qdt),
        OpInfo("dequantize", "special", _op_dequantize, ref_dequantize, s_dequantize, dtypes=("uint8", "int8"),
               differentiable=False, out_dtype=lambda s: "float32"),
        OpInfo("quantize_rows", "special", _op_quantize_rows, ref_quantize_rows, s_quantize_rows, dtypes=FLOAT,
               differentiable=False, out_dtype=lambda s: ("uint8", "float32", "int32")),
        OpInfo("dequantize_per_channel", "special", _op_dequantize_per_channel, ref_dequantize_per_channel,
               s_dequantize_per_channel, dtypes=("uint8", "int8"), differentiable=False,
               out_dtype=lambda s: "float32"),
        OpInfo("quantized_linear_dynamic", "special", _op_quantized_linear_dynamic, ref_quantized_linear_dynamic,
               s_quantized_linear_dynamic, dtypes=FLOAT, differentiable=False, out_dtype=f32,
               mag=_mag_linear_dynamic),
        OpInfo("quantized_linear", "special", _op_quantized_linear, ref_quantized_linear, s_quantized_linear,
               dtypes=("uint8",), differentiable=False, out_dtype=f32, mag=_mag_linear),
        OpInfo("quantized_conv2d", "special", _op_quantized_conv2d, ref_quantized_conv2d, s_quantized_conv2d,
               dtypes=("uint8",), differentiable=False, out_dtype=f32, mag=_mag_conv2d),
    ]


OPS_QUANTIZED = _entries()
