"""OpInfo entries of the spatial ops (csrc/ops/spatial.cpp: upsample, im2col, col2im,
grid_sample, adaptive_max_pool2d; csrc/ops/spatial_composite.cpp: pad, pixel_shuffle, pixel_unshuffle,
affine_grid), reached through their torch.nn.functional names (nn_core/_spatial.py:
interpolate, pad, pixel_shuffle, pixel_unshuffle, unfold, fold, grid_sample, affine_grid).
Appended to OP_DB by tests/op_db.py, so the forward (every float dtype, odd sizes, strided /
permuted / expanded inputs), float64 gradient, fuzz and trace/replay harnesses cover them.

References are NumPy in float64 written from PyTorch's documented coordinate rules
(ATen/native/UpSample.h, GridSampler.h), independently of the C++ kernels; the nearest
modes compute their source index in float32 as PyTorch does (a float64 floor would pick
another pixel at some non-integer scales). Layout NCHW throughout."""
import math

import numpy as np
from hypothesis import strategies as st

import samples as S
from samples import FLOAT, INT, Dom, Sample


def _ffn(name):
    import nn_core as nc
    return lambda *a, **k: getattr(nc.functional, name)(*a, **k)


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


# ---------------------------------------------------------------- interpolate -------

def nearest_source(n_in, n_out, scale, exact):
    """Source index per output index (PyTorch: float32 coordinates; out == in and
    out == 2 * in take exact shortcuts for 'nearest')."""
    if not exact and n_out == n_in:
        return np.arange(n_out)
    if not exact and n_out == 2 * n_in:
        return np.arange(n_out) >> 1
    s = np.float32(1.0 / scale) if scale else np.float32(n_in) / np.float32(n_out)
    d = np.arange(n_out, dtype=np.float32)
    at = (d + np.float32(0.5)) * s if exact else d * s
    return np.minimum(np.floor(at).astype(np.int64), n_in - 1)


def linear_taps(n_in, n_out, align_corners, scale):
    """(i0, i1, w0, w1) per output index: align_corners maps corner pixels onto each other,
    else pixel centers (the half-pixel rule), clamped at 0."""
    if align_corners:
        s = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        src = s * np.arange(n_out)
    else:  # an axis of unchanged size is copied whatever the scale factor (PyTorch's linear modes)
        s = 1.0 if n_in == n_out else (1.0 / scale if scale else n_in / n_out)
        src = np.maximum(s * (np.arange(n_out) + 0.5) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w1 = np.clip(src - i0, 0.0, 1.0)
    return i0, i1, 1.0 - w1, w1


def cubic_taps(n_in, n_out, align_corners, scale):
    """[(index, weight)] * 4 per output: Keys' cubic convolution (A = -0.75) around the
    unclamped source coordinate, tap indices clamped into the input (PyTorch's bicubic)."""
    if align_corners:
        src = ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0) * np.arange(n_out)
    else:
        src = (1.0 / scale if scale else n_in / n_out) * (np.arange(n_out) + 0.5) - 0.5
    base = np.floor(src)
    t = src - base
    A = -0.75

    def near(v):
        return ((A + 2) * v - (A + 3)) * v * v + 1

    def far(v):
        return ((A * v - 5 * A) * v + 8 * A) * v - 4 * A

    weights = [far(t + 1), near(t), near(1 - t), far(2 - t)]
    return [(np.clip(base.astype(np.int64) - 1 + k, 0, n_in - 1), weights[k]) for k in range(4)]


def resample_axis(x, axis, n_out, mode, align_corners, scale, magnitude=False):
    n_in = x.shape[axis]
    if mode in ("nearest", "nearest-exact"):
        return np.take(x, nearest_source(n_in, n_out, scale, mode == "nearest-exact"), axis=axis)
    shape = [1] * x.ndim
    shape[axis] = n_out
    if mode == "bicubic":
        taps = cubic_taps(n_in, n_out, align_corners, scale)
        return sum(np.take(x, i, axis=axis) * (np.abs(w) if magnitude else w).reshape(shape) for i, w in taps)
    i0, i1, w0, w1 = linear_taps(n_in, n_out, align_corners, scale)
    return np.take(x, i0, axis=axis) * w0.reshape(shape) + np.take(x, i1, axis=axis) * w1.reshape(shape)


def ref_interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                    recompute_scale_factor=None, _magnitude=False):
    """PyTorch's interpolate for 3-D / 4-D inputs and 5-D nearest (separable: one axis
    after the other, which is exactly bilinear / bicubic interpolation)."""
    if mode not in ("nearest", "nearest-exact", "linear", "bilinear", "bicubic"):
        raise ValueError("unknown mode")
    if mode.startswith("nearest") and align_corners is not None:
        raise ValueError("align_corners with a nearest mode")
    dim = x.ndim - 2
    nearest = mode.startswith("nearest")
    if dim not in ((1, 2, 3) if nearest else (1, 2)) or (mode == "linear" and dim != 1) or \
            (mode in ("bilinear", "bicubic") and dim != 2):
        raise ValueError("bad input rank for mode")
    if (size is None) == (scale_factor is None):
        raise ValueError("exactly one of size and scale_factor")
    if size is not None:
        out = list(size) if isinstance(size, (list, tuple)) else [size] * dim
        scales = [None] * dim
    else:
        scales = list(scale_factor) if isinstance(scale_factor, (list, tuple)) else [scale_factor] * dim
        out = [int(math.floor(float(n) * s)) for n, s in zip(x.shape[2:], scales)]
        if recompute_scale_factor:
            scales = [None] * dim
    if len(out) != dim or min(out) <= 0 or min(x.shape[2:]) <= 0:
        raise ValueError("empty input or output")
    y = x
    for a in range(dim):
        y = resample_axis(y, 2 + a, out[a], mode, bool(align_corners), scales[a], _magnitude)
    return y


def s_interpolate(draw, dt, m):
    dim = draw(st.sampled_from((1, 2)))
    sizes = (1, 2, 3, 4) if m.small else (1, 2, 3, 5, 7, 8)
    spatial = tuple(draw(st.sampled_from(sizes)) for _ in range(dim))
    shape = (draw(st.sampled_from((1, 2))), draw(st.sampled_from((1, 3))), *spatial)
    if m.fuzz and draw(st.integers(0, 3)) == 0:
        shape = S.shape(draw, m, max_ndim=5)
    x = S.tensor(draw, m, shape, dt)
    mode = draw(st.sampled_from(("nearest", "nearest-exact") + (("linear",) if dim == 1 else ("bilinear", "bicubic"))))
    kw = dict(mode=mode)
    if mode in ("linear", "bilinear", "bicubic"):
        kw["align_corners"] = draw(st.booleans())
    if draw(st.booleans()):
        kw["size"] = [draw(st.integers(1, 5 if m.small else 11)) for _ in range(dim)]
    else:
        scale = draw(st.sampled_from((2.0, 3.0, 0.5, 1.7, 2.5, 0.75, 1.0)))
        kw["scale_factor"] = scale if draw(st.booleans()) else [scale] * dim
        kw["recompute_scale_factor"] = draw(st.sampled_from((None, True)))
    if m.fuzz:
        bad = draw(st.integers(0, 5))
        if bad == 0:
            kw["size"], kw["scale_factor"] = [2] * dim, 2.0  # both
        elif bad == 1:
            kw["mode"] = "cubic-ish"
        elif bad == 2:
            kw.pop("size", None), kw.pop("scale_factor", None)  # neither
    return Sample(x, **kw, dt=dt)


# ---------------------------------------------------------------- pad ----------------

_NP_PAD_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def ref_pad(x, pad, mode="constant", value=None):
    pad = list(pad)
    if len(pad) % 2 or len(pad) > 2 * x.ndim:
        raise ValueError("bad pad length")
    pairs = [(pad[2 * i], pad[2 * i + 1]) for i in range(len(pad) // 2)]
    widths = [(0, 0)] * (x.ndim - len(pairs)) + pairs[::-1]
    if mode == "constant":
        if x.ndim == 0:
            return x.copy()  # nothing to pad (np.pad rejects an empty width list)
        sl = []
        for d, (lo, hi) in enumerate(widths):
            n = x.shape[d]
            kept = n + min(lo, 0) + min(hi, 0)
            if kept < 0:
                raise ValueError("the negative pads remove more than the dim holds")
            sl.append(slice(max(-lo, 0), max(-lo, 0) + kept))
        y = x[tuple(sl)]
        return np.pad(y, [(max(lo, 0), max(hi, 0)) for lo, hi in widths], constant_values=value or 0)
    if mode not in _NP_PAD_MODE:
        raise ValueError("unknown mode")
    if value:
        raise ValueError("value with a non-constant mode")
    if x.ndim not in (len(pairs) + 1, len(pairs) + 2) or not pairs:
        raise ValueError("bad rank for a non-constant pad")
    for d, (lo, hi) in enumerate(widths):
        n = x.shape[d]
        if lo < 0 or hi < 0 or (mode == "reflect" and max(lo, hi) >= n) or (mode == "circular" and max(lo, hi) > n):
            raise ValueError("padding too large or negative")
        if n == 0 and (lo or hi):
            raise ValueError("cannot pad an empty dim")
    return np.pad(x, widths, mode=_NP_PAD_MODE[mode])


def s_pad(draw, dt, m):
    mode = draw(st.sampled_from(("constant", "constant", "reflect", "replicate", "circular")))
    if mode == "constant":
        shape = S.shape(draw, m, max_ndim=4)
        k = draw(st.integers(0, len(shape)))
        pad = [draw(st.integers(-2, 3)) for _ in range(2 * k)]
        value = draw(st.sampled_from((0, 1, 3) if dt in INT else (0.0, 1.5, -2.0)))  # unsigned-safe ints
        return Sample(S.tensor(draw, m, shape, dt), pad, mode, value, dt=dt)
    k = draw(st.integers(1, 2 if m.small else 3))
    sizes = (1, 2, 3, 4) if m.small else (1, 2, 3, 5, 7)
    shape = tuple(draw(st.sampled_from(sizes)) for _ in range(draw(st.integers(1, 2)) + k))
    pad = [draw(st.integers(0, 3)) for _ in range(2 * k)]
    if m.fuzz and draw(st.booleans()):
        pad = pad + [draw(st.integers(-3, 9))]
    return Sample(S.tensor(draw, m, shape, dt), pad, mode, dt=dt)


# ---------------------------------------------------------------- pixel shuffle ------

def ref_pixel_shuffle(x, r):
    if x.ndim < 3 or r <= 0 or x.shape[-3] % (r * r):
        raise ValueError("bad pixel_shuffle input")
    *b, c, h, w = x.shape
    y = x.reshape(*b, c // (r * r), r, r, h, w)
    n = len(b)
    y = y.transpose(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return y.reshape(*b, c // (r * r), h * r, w * r)


def ref_pixel_unshuffle(x, r):
    if x.ndim < 3 or r <= 0 or x.shape[-2] % r or x.shape[-1] % r:
        raise ValueError("bad pixel_unshuffle input")
    *b, c, h, w = x.shape
    y = x.reshape(*b, c, h // r, r, w // r, r)
    n = len(b)
    y = y.transpose(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return y.reshape(*b, c * r * r, h // r, w // r)


def s_pixel_shuffle(draw, dt, m):
    r = draw(st.sampled_from((1, 2, 3)))
    batch = tuple(draw(st.sampled_from((1, 2))) for _ in range(draw(st.integers(0, 2))))
    c = draw(st.sampled_from((1, 2))) * r * r
    hw = (draw(st.sampled_from((1, 2, 3))), draw(st.sampled_from((1, 3, 5))))
    if m.fuzz and draw(st.booleans()):
        c += draw(st.integers(-1, 1))
    return Sample(S.tensor(draw, m, (*batch, c, *hw), dt), r if not m.fuzz else draw(st.integers(-1, 3)), dt=dt)


def s_pixel_unshuffle(draw, dt, m):
    r = draw(st.sampled_from((1, 2, 3)))
    batch = tuple(draw(st.sampled_from((1, 2))) for _ in range(draw(st.integers(0, 2))))
    h, w = draw(st.sampled_from((1, 2))) * r, draw(st.sampled_from((1, 3))) * r
    if m.fuzz and draw(st.booleans()):
        h += draw(st.integers(-1, 1))
    return Sample(S.tensor(draw, m, (*batch, draw(st.sampled_from((1, 3))), h, w), dt),
                  r if not m.fuzz else draw(st.integers(-1, 3)), dt=dt)


# ---------------------------------------------------------------- unfold / fold -----

def _blocks(hw, k, d, p, s):
    out = [(hw[a] + 2 * p[a] - d[a] * (k[a] - 1) - 1) // s[a] + 1 for a in range(2)]
    if min(out) <= 0 or min(hw[a] + 2 * p[a] - d[a] * (k[a] - 1) - 1 for a in range(2)) < 0:
        raise ValueError("no block fits")
    return out


def ref_unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    k, d, p, s = _pair(kernel_size), _pair(dilation), _pair(padding), _pair(stride)
    if x.ndim not in (3, 4) or min(k + d + s) < 1 or min(p) < 0:
        raise ValueError("bad unfold arguments")
    unbatched = x.ndim == 3
    x = x[None] if unbatched else x
    N, C, H, W = x.shape
    OH, OW = _blocks((H, W), k, d, p, s)
    if C == 0:
        raise ValueError("no channels")
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    cols = np.zeros((N, C, k[0], k[1], OH, OW))
    for i in range(k[0]):
        for j in range(k[1]):
            cols[:, :, i, j] = xp[:, :, i * d[0]: i * d[0] + s[0] * (OH - 1) + 1: s[0],
                                  j * d[1]: j * d[1] + s[1] * (OW - 1) + 1: s[1]]
    cols = cols.reshape(N, C * k[0] * k[1], OH * OW)
    return cols[0] if unbatched else cols


def ref_fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    k, d, p, s, hw = _pair(kernel_size), _pair(dilation), _pair(padding), _pair(stride), _pair(output_size)
    if x.ndim not in (2, 3) or min(k + d + s + hw) < 1 or min(p) < 0:
        raise ValueError("bad fold arguments")
    unbatched = x.ndim == 2
    x = x[None] if unbatched else x
    N, rows, L = x.shape
    if rows == 0 or rows % (k[0] * k[1]):
        raise ValueError("rows not a multiple of the kernel size")
    OH, OW = _blocks(hw, k, d, p, s)
    if L != OH * OW:
        raise ValueError("L does not match the block count")
    C = rows // (k[0] * k[1])
    cols = x.reshape(N, C, k[0], k[1], OH, OW)
    out = np.zeros((N, C, hw[0] + 2 * p[0], hw[1] + 2 * p[1]))
    for i in range(k[0]):
        for j in range(k[1]):
            out[:, :, i * d[0]: i * d[0] + s[0] * (OH - 1) + 1: s[0],
                j * d[1]: j * d[1] + s[1] * (OW - 1) + 1: s[1]] += cols[:, :, i, j]
    out = out[:, :, p[0]:p[0] + hw[0], p[1]:p[1] + hw[1]]
    return out[0] if unbatched else out


def _patch_args(draw, m):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 1)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    if m.fuzz and draw(st.integers(0, 3)) == 0:
        k = (draw(st.integers(-1, 3)), 2)
    return k, d, p, s


def _patch_image(draw, m, k, d, p):
    sizes = (1, 2, 3, 4) if m.small else (1, 2, 3, 5, 7, 9)
    return [max(draw(st.sampled_from(sizes)), d[a] * (k[a] - 1) + 1 - 2 * p[a], 1) for a in range(2)]


def s_unfold(draw, dt, m):
    k, d, p, s = _patch_args(draw, m)
    hw = _patch_image(draw, m, k, d, p) if min(k) > 0 else [3, 3]
    shape = (draw(st.sampled_from((1, 2))), draw(st.sampled_from((1, 3))), *hw)
    if draw(st.integers(0, 4)) == 0:
        shape = shape[1:]
    return Sample(S.tensor(draw, m, shape, dt), k, dilation=d, padding=p, stride=s, dt=dt)


def s_fold(draw, dt, m):
    k, d, p, s = _patch_args(draw, m)
    hw = _patch_image(draw, m, k, d, p) if min(k) > 0 else [3, 3]
    try:
        L = math.prod(_blocks(hw, k, d, p, s))
    except ValueError:
        L = 1
    kk = k[0] * k[1] if min(k) > 0 else 2
    shape = (draw(st.sampled_from((1, 2))), draw(st.sampled_from((1, 2))) * kk, L)
    if draw(st.integers(0, 4)) == 0:
        shape = shape[1:]
    if m.fuzz and draw(st.booleans()):
        shape = shape[:-1] + (shape[-1] + draw(st.integers(-1, 1)),)
    return Sample(S.tensor(draw, m, shape, dt), hw, k, dilation=d, padding=p, stride=s, dt=dt)


# ---------------------------------------------------------------- grid_sample -------

def _reflect(v, twice_low, twice_high):
    if twice_low == twice_high:
        return np.zeros_like(v)
    lo, span = twice_low / 2, (twice_high - twice_low) / 2
    v = np.abs(v - lo)
    extra = np.fmod(v, span)
    flips = np.floor(v / span)
    return np.where(flips % 2 == 0, extra + lo, span - extra + lo)


def _grid_source(coord, size, padding_mode, align_corners):
    v = (coord + 1) / 2 * (size - 1) if align_corners else ((coord + 1) * size - 1) / 2
    if padding_mode == "border":
        v = np.clip(v, 0, size - 1)
    elif padding_mode == "reflection":
        v = _reflect(v, 0, 2 * (size - 1)) if align_corners else _reflect(v, -1, 2 * size - 1)
        v = np.clip(v, 0, size - 1)
    return v


def ref_grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    if mode not in ("bilinear", "nearest") or padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError("bad mode")
    if x.ndim != 4 or grid.ndim != 4 or grid.shape[3] != 2 or grid.shape[0] != x.shape[0] or min(x.shape[2:]) < 1:
        raise ValueError("bad shapes")
    N, C, H, W = x.shape
    ix = _grid_source(grid[..., 0], W, padding_mode, bool(align_corners))
    iy = _grid_source(grid[..., 1], H, padding_mode, bool(align_corners))
    out = np.zeros((N, C) + grid.shape[1:3])

    def read(n, yy, xx):  # (C,) values at integer (yy, xx), zeros outside
        if 0 <= xx < W and 0 <= yy < H:
            return x[n, :, int(yy), int(xx)]
        return np.zeros(C)

    for n in range(N):
        for a in range(grid.shape[1]):
            for b in range(grid.shape[2]):
                gx, gy = ix[n, a, b], iy[n, a, b]
                if mode == "nearest":
                    out[n, :, a, b] = read(n, np.rint(gy), np.rint(gx))
                    continue
                x0, y0 = np.floor(gx), np.floor(gy)
                fx, fy = gx - x0, gy - y0
                out[n, :, a, b] = (read(n, y0, x0) * (1 - fx) * (1 - fy) + read(n, y0, x0 + 1) * fx * (1 - fy)
                                   + read(n, y0 + 1, x0) * (1 - fx) * fy + read(n, y0 + 1, x0 + 1) * fx * fy)
    return out


def s_grid_sample(draw, dt, m):
    sizes = (1, 2, 3) if m.small else (1, 2, 3, 5, 7)
    N = draw(st.sampled_from((1, 2)))
    x = S.tensor(draw, m, (N, draw(st.sampled_from((1, 3))), draw(st.sampled_from(sizes)),
                           draw(st.sampled_from(sizes))), dt)
    gshape = (N, draw(st.sampled_from((1, 2, 3))), draw(st.sampled_from((1, 2, 4))), 2)
    if m.fuzz and draw(st.integers(0, 3)) == 0:
        gshape = S.shape(draw, m)
    grid = S.tensor(draw, m, gshape, dt, Dom(-1.4, 1.4))
    return Sample(x, grid, mode=draw(st.sampled_from(("bilinear", "bilinear", "nearest"))),
                  padding_mode=draw(st.sampled_from(("zeros", "border", "reflection"))),
                  align_corners=draw(st.booleans()), dt=dt)


def ref_affine_grid(theta, size, align_corners=None, _magnitude=False):
    if len(size) != 4 or theta.ndim != 3 or theta.shape != (size[0], 2, 3) or min(size[2:]) < 1:
        raise ValueError("bad affine_grid arguments")
    N, _, H, W = size

    def steps(n):
        if n <= 1:
            return np.zeros(n)
        v = np.linspace(-1, 1, n)
        return v if align_corners else v * (n - 1) / n

    xs, ys = np.meshgrid(steps(W), steps(H))
    base = np.stack([xs, ys, np.ones_like(xs)], axis=-1)  # (H, W, 3)
    if _magnitude:  # sum |theta_jk| |base_k|: the scale of the rounding error
        return np.einsum("hwk,njk->nhwj", np.abs(base), np.abs(theta))
    return np.einsum("hwk,njk->nhwj", base, theta)


def s_affine_grid(draw, dt, m):
    N = draw(st.sampled_from((1, 2, 3)))
    size = [N, draw(st.sampled_from((1, 3))), draw(st.sampled_from((1, 2, 3, 5))), draw(st.sampled_from((1, 2, 4, 7)))]
    tshape = (N, 2, 3)
    if m.fuzz and draw(st.integers(0, 3)) == 0:
        tshape = S.shape(draw, m)
    return Sample(S.tensor(draw, m, tshape, dt), size, align_corners=draw(st.booleans()), dt=dt)


# ---------------------------------------------------------------- adaptive max -----

def ref_adaptive_max_pool2d(x, output_size, return_indices=False):
    o = _pair(output_size)
    if x.ndim not in (3, 4) or min(o) < 1 or min(x.shape[-2:]) < 1:
        raise ValueError("bad adaptive_max_pool2d arguments")
    H, W = x.shape[-2:]
    vals = np.zeros(x.shape[:-2] + o)
    idx = np.zeros(x.shape[:-2] + o, dtype=np.int64)
    for oh in range(o[0]):
        for ow in range(o[1]):
            h0, h1 = oh * H // o[0], -(-(oh + 1) * H // o[0])
            w0, w1 = ow * W // o[1], -(-(ow + 1) * W // o[1])
            win = x[..., h0:h1, w0:w1].reshape(x.shape[:-2] + (-1,))
            first = np.argmax(np.where(np.isnan(win), np.inf, win), axis=-1)  # first max; NaN wins
            vals[..., oh, ow] = np.take_along_axis(win, first[..., None], -1)[..., 0]
            idx[..., oh, ow] = (h0 + first // (w1 - w0)) * W + w0 + first % (w1 - w0)
    return (vals, idx) if return_indices else vals


def s_adaptive_max_pool2d(draw, dt, m):
    sizes = (1, 2, 3, 4) if m.small else (1, 2, 3, 5, 7, 9)
    shape = (draw(st.sampled_from((1, 2))), draw(st.sampled_from((1, 3))), draw(st.sampled_from(sizes)),
             draw(st.sampled_from(sizes)))
    if draw(st.integers(0, 4)) == 0:
        shape = shape[1:]
    if m.fuzz and draw(st.integers(0, 3)) == 0:
        shape = S.shape(draw, m)
    out = (draw(st.integers(1, 4)), draw(st.integers(1 if not m.fuzz else -1, 5)))
    # no expanded layouts: repeated values would tie (the gradient is then not unique)
    return Sample(S.tensor(draw, m, shape, dt, expand=False), out, return_indices=draw(st.booleans()), dt=dt)


def _first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


# Interpolation weights are rounded to the input's type before they multiply (PyTorch
# does the same): float16 / bfloat16 outputs carry one more rounding than the default
# half tolerance assumes.
_RESAMPLE_TOL = {"float16": (2e-3, 4e-3), "bfloat16": (1.6e-2, 3.2e-2)}


def _entries():
    from op_db import OpInfo
    return [
        # mag: the same interpolation of |x| with |weights| (float32 coordinates round the weights, so a
        # result that cancels to near 0 is off by ~eps times its inputs, not itself).
        OpInfo("upsample", "special", _ffn("interpolate"), ref_interpolate, s_interpolate, tol=_RESAMPLE_TOL,
               mag=lambda x, **k: ref_interpolate(np.abs(x), _magnitude=True, **k)),
        OpInfo("pad", "composite", _ffn("pad"), ref_pad, s_pad, dtypes=FLOAT + INT),
        OpInfo("pixel_shuffle", "composite", _ffn("pixel_shuffle"), ref_pixel_shuffle, s_pixel_shuffle,
               dtypes=FLOAT + INT),
        OpInfo("pixel_unshuffle", "composite", _ffn("pixel_unshuffle"), ref_pixel_unshuffle, s_pixel_unshuffle,
               dtypes=FLOAT + INT),
        # mag: sums of up to kh*kw overlapping entries, error ~ the sum of |x|.
        OpInfo("im2col", "special", _ffn("unfold"), ref_unfold, s_unfold),
        OpInfo("col2im", "special", _ffn("fold"), ref_fold, s_fold,
               mag=lambda x, *a, **k: ref_fold(np.abs(x), *a, **k)),
        OpInfo("grid_sample", "special", _ffn("grid_sample"), ref_grid_sample, s_grid_sample, tol=_RESAMPLE_TOL,
               mag=lambda x, g, **k: ref_grid_sample(np.abs(x), g, **k)),
        # mag: a dot product of theta with (x, y, 1).
        OpInfo("affine_grid", "composite", _ffn("affine_grid"), ref_affine_grid, s_affine_grid,
               tol=_RESAMPLE_TOL, mag=lambda t, size, **k: ref_affine_grid(t, size, _magnitude=True, **k)),
        OpInfo("adaptive_max_pool2d", "special", _ffn("adaptive_max_pool2d"), ref_adaptive_max_pool2d,
               s_adaptive_max_pool2d, out_dtype=lambda s: (s.dt, "int64") if s.kwargs.get("return_indices") else s.dt,
               grad=dict(out=_first)),
    ]


OPS_SPATIAL = _entries()
