"""OpInfo entries of the convolution / pooling / normalization ops (csrc/ops/conv.cpp,
pool.cpp, norm.cpp), appended to OP_DB by tests/op_db.py: float64 NumPy references
written independently of the C++ kernels (tap-by-tap sums over strided slices of the
padded input), and sample generators covering odd sizes, strides / paddings /
dilations 1..3, groups (depthwise included), 1x1 kernels, batch 0 and 1, and the
harness's non-contiguous layouts. Layout NCHW throughout."""
import numpy as np
from hypothesis import strategies as st

import samples as S
from samples import FLOAT, Sample


def _ffn(name):
    import nn_core as nc
    return lambda *a, **k: getattr(nc.functional, name)(*a, **k)


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


# ---------------------------------------------------------------- references -------

def _same_padding(w, dilation):
    total = [d * (k - 1) for d, k in zip(dilation, w.shape[2:])]
    return [(t // 2, t - t // 2) for t in total]


def ref_conv2d(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Sum over the kernel taps (i, j) of strided input slices times w[:, :, i, j]."""
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError("conv2d: bad ranks")
    s, d = _pair(stride), _pair(dilation)
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0), (0, 0)]
        elif padding == "same" and s == (1, 1):
            pads = _same_padding(w, d)
        else:
            raise ValueError("conv2d: bad padding")
    else:
        pads = [(p, p) for p in _pair(padding)]
    N, C, H, W = x.shape
    Cout, Cg, kh, kw = w.shape
    if groups < 1 or C % groups or Cout % groups or Cg * groups != C:
        raise ValueError("conv2d: channels and groups disagree")
    xp = np.pad(x, ((0, 0), (0, 0), pads[0], pads[1]))
    Hp, Wp = xp.shape[2:]
    OH, OW = (Hp - d[0] * (kh - 1) - 1) // s[0] + 1, (Wp - d[1] * (kw - 1) - 1) // s[1] + 1
    if Hp - d[0] * (kh - 1) - 1 < 0 or Wp - d[1] * (kw - 1) - 1 < 0:
        raise ValueError("conv2d: kernel larger than input")
    out = np.zeros((N, Cout, OH, OW))
    Og = Cout // groups
    for g in range(groups):
        xg = xp[:, g * Cg:(g + 1) * Cg]
        wg = w[g * Og:(g + 1) * Og]
        for i in range(kh):
            for j in range(kw):
                sl = xg[:, :, i * d[0]: i * d[0] + s[0] * (OH - 1) + 1: s[0],
                        j * d[1]: j * d[1] + s[1] * (OW - 1) + 1: s[1]]
                out[:, g * Og:(g + 1) * Og] += np.einsum("nchw,oc->nohw", sl, wg[:, :, i, j])
    if bias is not None:
        out += bias[None, :, None, None]
    return out[0] if unbatched else out


def _conv2d_mag(x, w, bias=None, **kw):
    try:
        return ref_conv2d(np.abs(x), np.abs(w), None if bias is None else np.abs(bias), **kw)
    except ValueError:
        return None


def ref_conv1d(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1):
    if x.ndim not in (2, 3) or w.ndim != 3:
        raise ValueError("conv1d: bad ranks")
    pad = padding if isinstance(padding, str) else (0, padding)
    y = ref_conv2d(x[..., None, :], w[:, :, None, :], bias, (1, stride), pad, (1, dilation), groups)
    return y[..., 0, :]


def _conv1d_mag(x, w, bias=None, **kw):
    return ref_conv1d(np.abs(x), np.abs(w), None if bias is None else np.abs(bias), **kw)


def ref_conv_transpose2d(x, w, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Scatter form: input pixel (h, w) adds x * w[:, :, i, j] at (h*s + i*d - p, ...)."""
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    s, p, op, d = _pair(stride), _pair(padding), _pair(output_padding), _pair(dilation)
    N, Cin, H, W = x.shape
    _, Og, kh, kw = w.shape
    Cg = Cin // groups
    OH = (H - 1) * s[0] - 2 * p[0] + d[0] * (kh - 1) + op[0] + 1
    OW = (W - 1) * s[1] - 2 * p[1] + d[1] * (kw - 1) + op[1] + 1
    full = np.zeros((N, Og * groups, (H - 1) * s[0] + d[0] * (kh - 1) + 1 + op[0],
                     (W - 1) * s[1] + d[1] * (kw - 1) + 1 + op[1]))
    for g in range(groups):
        xg = x[:, g * Cg:(g + 1) * Cg]
        wg = w[g * Cg:(g + 1) * Cg]
        for i in range(kh):
            for j in range(kw):
                full[:, g * Og:(g + 1) * Og, i * d[0]: i * d[0] + s[0] * (H - 1) + 1: s[0],
                     j * d[1]: j * d[1] + s[1] * (W - 1) + 1: s[1]] += np.einsum("nchw,co->nohw", xg, wg[:, :, i, j])
    out = full[:, :, p[0]:p[0] + OH, p[1]:p[1] + OW]
    if bias is not None:
        out = out + bias[None, :, None, None]
    return out[0] if unbatched else out


def _conv_transpose2d_mag(x, w, bias=None, **kw):
    return ref_conv_transpose2d(np.abs(x), np.abs(w), None if bias is None else np.abs(bias), **kw)


def _pool_out(n, k, s, p, d, ceil_mode):
    span = n + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def ref_max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    k, p, d = _pair(kernel_size), _pair(padding), _pair(dilation)
    s = _pair(stride) if stride is not None else k
    H, W = x.shape[-2:]
    OH, OW = (_pool_out(H, k[0], s[0], p[0], d[0], ceil_mode), _pool_out(W, k[1], s[1], p[1], d[1], ceil_mode))
    vals = np.full(x.shape[:-2] + (OH, OW), -np.inf)
    idx = np.full(x.shape[:-2] + (OH, OW), -1, dtype=np.int64)
    for oh in range(OH):
        for ow in range(OW):
            for i in range(k[0]):
                ih = oh * s[0] - p[0] + i * d[0]
                if not 0 <= ih < H:
                    continue
                for j in range(k[1]):
                    iw = ow * s[1] - p[1] + j * d[1]
                    if not 0 <= iw < W:
                        continue
                    v = x[..., ih, iw]
                    better = (idx[..., oh, ow] < 0) | (v > vals[..., oh, ow]) | np.isnan(v)
                    vals[..., oh, ow] = np.where(better, v, vals[..., oh, ow])
                    idx[..., oh, ow] = np.where(better, ih * W + iw, idx[..., oh, ow])
    return (vals, idx) if return_indices else vals


def ref_avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                   divisor_override=None):
    k, p = _pair(kernel_size), _pair(padding)
    s = _pair(stride) if stride is not None else k
    H, W = x.shape[-2:]
    OH, OW = _pool_out(H, k[0], s[0], p[0], 1, ceil_mode), _pool_out(W, k[1], s[1], p[1], 1, ceil_mode)
    out = np.zeros(x.shape[:-2] + (OH, OW))
    for oh in range(OH):
        for ow in range(OW):
            h0, w0 = oh * s[0] - p[0], ow * s[1] - p[1]
            h1, w1 = min(h0 + k[0], H + p[0]), min(w0 + k[1], W + p[1])
            padded = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
            div = divisor_override or (padded if count_include_pad else (h1 - h0) * (w1 - w0))
            out[..., oh, ow] = x[..., h0:h1, w0:w1].sum(axis=(-2, -1)) / div
    return out


def ref_adaptive_avg_pool2d(x, output_size):
    o = _pair(output_size)
    H, W = x.shape[-2:]
    out = np.zeros(x.shape[:-2] + o)
    for oh in range(o[0]):
        for ow in range(o[1]):
            h0, h1 = oh * H // o[0], -(-(oh + 1) * H // o[0])
            w0, w1 = ow * W // o[1], -(-(ow + 1) * W // o[1])
            out[..., oh, ow] = x[..., h0:h1, w0:w1].mean(axis=(-2, -1))
    return out


def _affine(y, weight, bias):
    shape = (1, -1) + (1,) * (y.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def ref_batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        axes = (0,) + tuple(range(2, x.ndim))
        if x.size // x.shape[1] <= 1:
            raise ValueError("batch_norm: expected more than 1 value per channel when training")
        mean, var = x.mean(axis=axes), x.var(axis=axes)
    else:
        mean, var = running_mean, running_var
    return _affine((x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps), weight, bias)


def ref_group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    N, C = x.shape[:2]
    if C % num_groups:
        raise ValueError("group_norm: channels not divisible by groups")
    xg = x.reshape(N, num_groups, -1)
    y = (xg - xg.mean(axis=2, keepdims=True)) / np.sqrt(xg.var(axis=2, keepdims=True) + eps)
    return _affine(y.reshape(x.shape), weight, bias)


# ---------------------------------------------------------------- samples ----------

def _spatial(draw, m):
    return draw(st.sampled_from((1, 2, 3, 4) if m.small else (1, 2, 3, 5, 7, 8, 9, 13)))


def s_conv2d(draw, dt, m):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride, dil = (draw(st.integers(1, 3)), draw(st.integers(1, 3))), (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    groups = draw(st.sampled_from((1, 1, 2, 3)))
    cg = draw(st.sampled_from((1, 2, 3) if m.small else (1, 2, 3, 5)))
    og = draw(st.sampled_from((1, 2) if m.small else (1, 2, 4)))
    depthwise = draw(st.integers(0, 3)) == 0
    if depthwise:
        groups, cg = draw(st.sampled_from((2, 3, 4))), 1
    n = draw(st.sampled_from((1, 2) if m.small else (0, 1, 2, 3)))
    same = draw(st.integers(0, 4)) == 0
    if same:
        stride, padding = (1, 1), "same"
    else:
        padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    hw = []
    for a in range(2):
        lo = max(1, dil[a] * (k[a] - 1) + 1 - (0 if same else 2 * padding[a]))
        hw.append(max(lo, _spatial(draw, m)))
    x = S.tensor(draw, m, (n, groups * cg, *hw), dt)
    w = S.tensor(draw, m, (groups * og, cg, *k), dt)
    b = S.tensor(draw, m, (groups * og,), dt) if draw(st.booleans()) else None
    return Sample(x, w, b, stride=stride, padding=padding, dilation=dil, groups=groups, dt=dt)


def s_conv1d(draw, dt, m):
    k, stride, dil = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    groups, cg, og = draw(st.sampled_from((1, 2))), draw(st.sampled_from((1, 3))), draw(st.sampled_from((1, 2)))
    pad = draw(st.integers(0, 2))
    L = max(dil * (k - 1) + 1, draw(st.sampled_from((1, 4, 7) if m.small else (1, 5, 8, 17))))
    x = S.tensor(draw, m, (draw(st.sampled_from((1, 2))), groups * cg, L), dt)
    w = S.tensor(draw, m, (groups * og, cg, k), dt)
    b = S.tensor(draw, m, (groups * og,), dt) if draw(st.booleans()) else None
    return Sample(x, w, b, stride=stride, padding=pad, dilation=dil, groups=groups, dt=dt)


def s_conv_transpose2d(draw, dt, m):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride, dil = (draw(st.integers(1, 3)), draw(st.integers(1, 3))), (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    opad = tuple(draw(st.integers(0, max(stride[a], dil[a]) - 1)) for a in range(2))
    groups, cg, og = draw(st.sampled_from((1, 2))), draw(st.sampled_from((1, 2, 3))), draw(st.sampled_from((1, 2)))
    hw = []
    for a in range(2):
        while True:  # the output must be non-empty
            h = _spatial(draw, m)
            if (h - 1) * stride[a] - 2 * padding[a] + dil[a] * (k[a] - 1) + opad[a] + 1 > 0:
                break
            padding = tuple(0 if b == a else padding[b] for b in range(2))
        hw.append(h)
    x = S.tensor(draw, m, (draw(st.sampled_from((1,) if m.small else (0, 1, 2))), groups * cg, *hw), dt)
    w = S.tensor(draw, m, (groups * cg, og, *k), dt)
    b = S.tensor(draw, m, (groups * og,), dt) if draw(st.booleans()) else None
    return Sample(x, w, b, stride=stride, padding=padding, output_padding=opad, groups=groups, dilation=dil, dt=dt)


def _pool_input(draw, dt, m, k, p, d, view=True):
    hw = [max(d[a] * (k[a] - 1) + 1 - 2 * p[a], _spatial(draw, m), 1) for a in range(2)]
    shape = (draw(st.sampled_from((1, 2))), draw(st.sampled_from((1, 3))), *hw)
    if draw(st.integers(0, 4)) == 0:
        shape = shape[1:]  # unbatched (C, H, W)
    # no expanded layouts for max: repeated values would tie (the gradient is then not unique)
    return S.tensor(draw, m, shape, dt, expand=view)


def s_max_pool2d(draw, dt, m):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = tuple(draw(st.integers(0, k[a] // 2)) for a in range(2))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    stride = draw(st.sampled_from([None, 1, 2, (1, 3)]))
    x = _pool_input(draw, dt, m, k, p, d, view=False)
    return Sample(x, k, stride=stride, padding=p, dilation=d, ceil_mode=draw(st.booleans()),
                  return_indices=draw(st.booleans()), dt=dt)


def s_avg_pool2d(draw, dt, m):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = tuple(draw(st.integers(0, k[a] // 2)) for a in range(2))
    stride = draw(st.sampled_from([None, 1, 2, (2, 3)]))
    x = _pool_input(draw, dt, m, k, p, (1, 1))
    return Sample(x, k, stride=stride, padding=p, ceil_mode=draw(st.booleans()),
                  count_include_pad=draw(st.booleans()), divisor_override=draw(st.sampled_from([None, None, 3])),
                  dt=dt)


def s_adaptive_avg_pool2d(draw, dt, m):
    x = _pool_input(draw, dt, m, (1, 1), (0, 0), (1, 1))
    return Sample(x, (draw(st.integers(1, 4)), draw(st.integers(1, 5))), dt=dt)


def _norm_input(draw, dt, m, min_n=1):
    n = draw(st.sampled_from((1, 2, 3)))
    c = draw(st.sampled_from((1, 2, 4, 6)))
    spatial = tuple(draw(st.lists(st.sampled_from((1, 2, 3, 5)), min_size=0, max_size=2)))
    return S.tensor(draw, m, (max(n, min_n), c, *spatial), dt), c


def s_batch_norm(draw, dt, m):
    x, c = _norm_input(draw, dt, m, min_n=2)
    training = draw(st.booleans())
    rm = S.tensor(draw, m, (c,), dt, view=False)
    rv = S.tensor(draw, m, (c,), dt, S.POSITIVE, view=False)
    rm.role = rv.role = "buffer"  # running statistics: not differentiated, updated in place
    w = S.tensor(draw, m, (c,), dt) if draw(st.booleans()) else None
    b = S.tensor(draw, m, (c,), dt) if draw(st.booleans()) else None
    return Sample(x, rm, rv, w, b, training=training, momentum=0.1, eps=draw(st.sampled_from([1e-5, 1e-3])), dt=dt)


def s_group_norm(draw, dt, m):
    x, c = _norm_input(draw, dt, m)
    g = draw(st.sampled_from([d for d in (1, 2, 3, 6) if c % d == 0]))
    w = S.tensor(draw, m, (c,), dt) if draw(st.booleans()) else None
    b = S.tensor(draw, m, (c,), dt) if draw(st.booleans()) else None
    return Sample(x, g, w, b, eps=draw(st.sampled_from([1e-5, 1e-3])), dt=dt)


def _first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def _max_pool_out_dtype(s):
    return (s.dt, "int64") if s.kwargs.get("return_indices") else s.dt


# Normalisation divides by a standard deviation computed from the data: relative
# rounding of the inputs (half types) is amplified by |x - mean| / std, so the half-type
# tolerance is the composite one (several roundings).
_NORM_TOL = {"float16": (3e-3, 6e-3), "bfloat16": (2.4e-2, 4.8e-2), "float32": (1e-5, 1e-4)}


def _entries():
    from op_db import OpInfo
    return [
        # mag: every output is a dot product, error ~ sum |x_k w_k| (+ |bias|).
        OpInfo("conv2d", "special", _ffn("conv2d"), ref_conv2d, s_conv2d, mag=_conv2d_mag),
        OpInfo("conv1d", "special", _ffn("conv1d"), ref_conv1d, s_conv1d, mag=_conv1d_mag),
        OpInfo("conv_transpose2d", "special", _ffn("conv_transpose2d"), ref_conv_transpose2d, s_conv_transpose2d,
               mag=_conv_transpose2d_mag),
        OpInfo("max_pool2d", "special", _ffn("max_pool2d"), ref_max_pool2d, s_max_pool2d,
               out_dtype=_max_pool_out_dtype, grad=dict(out=_first)),
        # mag: a mean of a window, error ~ mean |x|.
        OpInfo("avg_pool2d", "special", _ffn("avg_pool2d"), ref_avg_pool2d, s_avg_pool2d,
               mag=lambda x, *a, **k: ref_avg_pool2d(np.abs(x), *a, **k)),
        OpInfo("adaptive_avg_pool2d", "special", _ffn("adaptive_avg_pool2d"), ref_adaptive_avg_pool2d,
               s_adaptive_avg_pool2d, mag=lambda x, o: ref_adaptive_avg_pool2d(np.abs(x), o)),
        OpInfo("batch_norm", "special", _ffn("batch_norm"), ref_batch_norm, s_batch_norm, tol=_NORM_TOL),
        OpInfo("group_norm", "special", _ffn("group_norm"), ref_group_norm, s_group_norm, tol=_NORM_TOL),
    ]


OPS_CONV = _entries()
