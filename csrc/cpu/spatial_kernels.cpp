// spatial_kernels.cpp — upsample (nearest, nearest-exact, bilinear, bicubic) forward and backward,
// im2col / col2im (unfold / fold), grid_sample and adaptive_max_pool2d forward and backward.
//
// Layout: every tensor is contiguous float32 or float64 (ops/spatial.cpp guarantees it).
// Upsample works on planes: x (P, H, W) -> y (P, OH, OW), P = N*C (a 3-D `linear`
// input arrives as H = OH = 1). im2col: x (N, C, H, W) -> cols (N, C*kh*kw, OH*OW) with
// row (c*kh + i)*kw + j (PyTorch's order). grid_sample: x (N, C, H, W), grid (N, OH, OW, 2)
// holding (x, y) in [-1, 1], y (N, C, OH, OW).
//
// Note [Upsample coordinates] (PyTorch's rules, ATen/native/UpSample.h):
//   nearest:        src = min(floor(dst * s), in - 1)            s = 1/scale or in/out (float32)
//   nearest-exact:  src = min(floor((dst + 0.5) * s), in - 1)
//   bilinear:       align_corners: src = dst * (in - 1) / (out - 1)  (0 when out == 1)
//                   else           src = max((dst + 0.5) * s - 0.5, 0),  s = 1/scale or in/out
//                   taps i0 = floor(src), i1 = min(i0 + 1, in - 1), weights 1 - f, f.
//                   An axis whose size does not change is copied (s = 1) whatever the
//                   scale factor (PyTorch; bicubic and nearest-exact do use the scale).
//   bicubic:        src as bilinear but not clamped at 0; taps floor(src) - 1 .. + 2, each
//                   clamped into [0, in - 1], Keys' cubic weights with A = -0.75.
// The user's scale factor, when given, sets s (not in/out): 5 -> 8 with scale 1.7 maps
// with 1/1.7, as PyTorch does unless recompute_scale_factor.
//
// Upsample has two implementations: `*_reference` computes each output element's source
// coordinates from scratch in plain loops; the fast kernels precompute per-axis tap
// tables once and stream rows (nearest copies repeated rows, bilinear blends each input row
// along W once and mixes two such rows per output row; the same arithmetic, in the same
// order, as the reference). tests/test_spatial_ops.py
// compares the two. Threads: parallel_for over output rows (forward) or planes (backward:
// a plane's input gradient is written by all of its output rows).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernels.h"

namespace nn::cpu {
namespace {

// ---------------------------------------------------------------- upsample --------

struct Taps {  // one output coordinate's source taps (1 nearest, 2 linear, 4 cubic) and weights
  int n = 1;
  int64_t at[4] = {0, 0, 0, 0};
  double w[4] = {1.0, 0.0, 0.0, 0.0};
};

// Keys' cubic convolution with A = -0.75 (PyTorch's bicubic): weights of the taps at
// floor(src) - 1 .. floor(src) + 2 for the fraction t.
template <class T>
void cubic_weights(T t, T out[4]) {
  const T A = T(-0.75);
  auto near = [&](T x) { return ((A + 2) * x - (A + 3)) * x * x + 1; };        // |x| <= 1
  auto far = [&](T x) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; };  // 1 < |x| < 2
  out[0] = far(t + 1);
  out[1] = near(t);
  out[2] = near(1 - t);
  out[3] = far(2 - t);
}

int64_t clamp_index(int64_t i, int64_t n) { return std::min(std::max<int64_t>(i, 0), n - 1); }

// The source taps of output `dst` along one axis (Note [Upsample coordinates]); T is the
// arithmetic type PyTorch uses for the coordinates (float for float32 inputs).
template <class T>
Taps source_taps(UpsampleMode mode, bool align_corners, double user_scale, int64_t in, int64_t out, int64_t dst) {
  Taps taps;
  if (mode == UpsampleMode::nearest || mode == UpsampleMode::nearest_exact) {
    int64_t src;
    if (out == in && mode == UpsampleMode::nearest) {
      src = dst;
    } else if (out == 2 * in && mode == UpsampleMode::nearest) {
      src = dst >> 1;
    } else {
      const float s = user_scale > 0 ? static_cast<float>(1.0 / user_scale)
                                     : static_cast<float>(in) / static_cast<float>(out);
      const float at = mode == UpsampleMode::nearest ? static_cast<float>(dst) * s
                                                     : (static_cast<float>(dst) + 0.5f) * s;
      // compared as float first: a huge coordinate (tiny scale in a direct call) never
      // reaches the integer conversion
      src = at < static_cast<float>(in - 1) ? static_cast<int64_t>(std::floor(at)) : in - 1;
    }
    taps.at[0] = src;
    return taps;
  }
  T s;
  if (align_corners) s = out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0);
  else if (in == out && mode == UpsampleMode::bilinear) s = T(1);  // PyTorch: a linear axis of unchanged size is copied
  else s = user_scale > 0 ? static_cast<T>(1.0 / user_scale) : static_cast<T>(in) / static_cast<T>(out);
  T src = align_corners ? s * static_cast<T>(dst) : s * (static_cast<T>(dst) + T(0.5)) - T(0.5);
  if (mode == UpsampleMode::bicubic) {  // no clamp of src; taps clamped into the input
    // a coordinate beyond the input (a scale that disagrees with the sizes, from a direct
    // call) is clamped where every tap lands on an edge pixel: finite weights, same taps
    src = std::min(std::max(src, T(-2)), static_cast<T>(in + 1));
    const T base = std::floor(src);
    T w[4];
    cubic_weights<T>(src - base, w);
    taps.n = 4;
    for (int k = 0; k < 4; ++k) {
      taps.at[k] = clamp_index(static_cast<int64_t>(base) - 1 + k, in);
      taps.w[k] = static_cast<double>(w[k]);
    }
    return taps;
  }
  if (src < T(0)) src = T(0);
  // clamped: a scale factor that disagrees with the sizes (a direct call) stays inside
  const int64_t i0 = src < static_cast<T>(in - 1) ? static_cast<int64_t>(src) : in - 1;
  const T l1 = std::min(std::max(src - static_cast<T>(i0), T(0)), T(1));
  taps.n = 2;
  taps.at[0] = i0;
  taps.at[1] = i0 + (i0 < in - 1 ? 1 : 0);
  taps.w[0] = static_cast<double>(T(1) - l1);
  taps.w[1] = static_cast<double>(l1);
  return taps;
}

struct PlaneDims {
  int64_t P, H, W, OH, OW;
};
PlaneDims plane_dims(const Tensor& x, const Tensor& y) {
  return {x.sizes()[0], x.sizes()[1], x.sizes()[2], y.sizes()[1], y.sizes()[2]};
}

// Plain reference: each output element computes its taps and sums its (up to 16) inputs,
// rows outer: y = sum_j wh[j] * (sum_i ww[i] * x[h_j, w_i]).
void upsample_reference(const Tensor& x, const Tensor& y, const UpsampleParams& p) {
  const PlaneDims d = plane_dims(x, y);
  dispatch_float_dtype(x.dtype(), "upsample", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    for (int64_t pl = 0; pl < d.P; ++pl)
      for (int64_t oh = 0; oh < d.OH; ++oh)
        for (int64_t ow = 0; ow < d.OW; ++ow) {
          const Taps h = source_taps<T>(p.mode, p.align_corners, p.scale[0], d.H, d.OH, oh);
          const Taps w = source_taps<T>(p.mode, p.align_corners, p.scale[1], d.W, d.OW, ow);
          const T* plane = xp + pl * d.H * d.W;
          T acc = 0;
          for (int j = 0; j < h.n; ++j) {
            T row = 0;
            for (int i = 0; i < w.n; ++i) row += T(w.w[i]) * plane[h.at[j] * d.W + w.at[i]];
            acc += T(h.w[j]) * row;
          }
          yp[(pl * d.OH + oh) * d.OW + ow] = acc;
        }
  });
}

void upsample_backward_reference(const Tensor& gy, const Tensor& dx, const UpsampleParams& p) {
  const PlaneDims d = plane_dims(dx, gy);
  dispatch_float_dtype(dx.dtype(), "upsample backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* dp = dx.data<T>();
    const T* gp = gy.data<T>();
    std::fill(dp, dp + dx.numel(), T(0));
    for (int64_t pl = 0; pl < d.P; ++pl)
      for (int64_t oh = 0; oh < d.OH; ++oh)
        for (int64_t ow = 0; ow < d.OW; ++ow) {
          const Taps h = source_taps<T>(p.mode, p.align_corners, p.scale[0], d.H, d.OH, oh);
          const Taps w = source_taps<T>(p.mode, p.align_corners, p.scale[1], d.W, d.OW, ow);
          T* plane = dp + pl * d.H * d.W;
          const T g = gp[(pl * d.OH + oh) * d.OW + ow];
          for (int j = 0; j < h.n; ++j)
            for (int i = 0; i < w.n; ++i) plane[h.at[j] * d.W + w.at[i]] += T(h.w[j]) * T(w.w[i]) * g;
        }
  });
}

// Per-axis tap tables for the fast kernels: n taps per output, indices and weights in T.
template <class T>
struct AxisTable {
  int n = 1;
  std::vector<int64_t> at;
  std::vector<T> w;
  AxisTable(const UpsampleParams& p, double user_scale, int64_t in, int64_t out) {
    for (int64_t o = 0; o < out; ++o) {
      const Taps t = source_taps<T>(p.mode, p.align_corners, user_scale, in, out, o);
      if (o == 0) {
        n = t.n;
        at.resize(out * n);
        w.resize(out * n);
      }
      for (int k = 0; k < n; ++k) {
        at[o * n + k] = t.at[k];
        w[o * n + k] = static_cast<T>(t.w[k]);
      }
    }
  }
};

void upsample_fast(const Tensor& x, const Tensor& y, const UpsampleParams& p) {
  const PlaneDims d = plane_dims(x, y);
  dispatch_float_dtype(x.dtype(), "upsample", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const AxisTable<T> th(p, p.scale[0], d.H, d.OH), tw(p, p.scale[1], d.W, d.OW);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(d.OW, 1));
    parallel_for(0, d.P * d.OH, grain, [&](int64_t r0, int64_t r1) {
      // bilinear: input rows interpolated along W, each computed once and kept while the
      // output rows that blend it are written (two slots: the rows advance monotonically)
      std::vector<T> blended(th.n == 2 ? 2 * d.OW : 0);
      int64_t slot_row[2] = {-1, -1}, slot_plane = -1;
      auto width_blended = [&](const T* plane, int64_t pl, int64_t ih, int64_t keep) -> const T* {
        if (pl != slot_plane) slot_row[0] = slot_row[1] = -1, slot_plane = pl;
        for (int k = 0; k < 2; ++k)
          if (slot_row[k] == ih) return &blended[k * d.OW];
        const int k = slot_row[0] == keep ? 1 : 0;
        slot_row[k] = ih;
        T* out = &blended[k * d.OW];
        const T* src = plane + ih * d.W;
        for (int64_t ow = 0; ow < d.OW; ++ow)
          out[ow] = tw.w[2 * ow] * src[tw.at[2 * ow]] + tw.w[2 * ow + 1] * src[tw.at[2 * ow + 1]];
        return out;
      };
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t pl = r / d.OH, oh = r % d.OH;
        const T* plane = xp + pl * d.H * d.W;
        T* out = yp + r * d.OW;
        if (th.n == 1) {  // nearest: a row that reads the same input row as the one above copies it
          if (oh > 0 && r > r0 && th.at[oh] == th.at[oh - 1]) {
            std::memcpy(out, out - d.OW, sizeof(T) * d.OW);
            continue;
          }
          const T* src = plane + th.at[oh] * d.W;
          for (int64_t ow = 0; ow < d.OW; ++ow) out[ow] = src[tw.at[ow]];
        } else if (th.n == 2) {  // bilinear, the hot case: a * top + b * bottom of width-blended rows
          const int64_t i0 = th.at[2 * oh], i1 = th.at[2 * oh + 1];
          const T* top = width_blended(plane, pl, i0, i1);
          const T* bottom = width_blended(plane, pl, i1, i0);
          const T a = th.w[2 * oh], b = th.w[2 * oh + 1];
          for (int64_t ow = 0; ow < d.OW; ++ow) out[ow] = a * top[ow] + b * bottom[ow];
        } else {  // bicubic: four input rows, four taps each
          const T* rows[4];
          for (int j = 0; j < 4; ++j) rows[j] = plane + th.at[4 * oh + j] * d.W;
          const T* wh = &th.w[4 * oh];
          for (int64_t ow = 0; ow < d.OW; ++ow) {
            const int64_t* c = &tw.at[4 * ow];
            const T* ww = &tw.w[4 * ow];
            T acc = 0;
            for (int j = 0; j < 4; ++j)
              acc += wh[j] * (ww[0] * rows[j][c[0]] + ww[1] * rows[j][c[1]] + ww[2] * rows[j][c[2]] +
                              ww[3] * rows[j][c[3]]);
            out[ow] = acc;
          }
        }
      }
    });
  });
}

void upsample_backward_fast(const Tensor& gy, const Tensor& dx, const UpsampleParams& p) {
  const PlaneDims d = plane_dims(dx, gy);
  dispatch_float_dtype(dx.dtype(), "upsample backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const AxisTable<T> th(p, p.scale[0], d.H, d.OH), tw(p, p.scale[1], d.W, d.OW);
    T* dp = dx.data<T>();
    const T* gp = gy.data<T>();
    // Separable: each output row's gradient is first folded along W into `folded` (one
    // input row wide, in cache), then added to its input rows with the row weights:
    // nw + nh scatter-adds per output element instead of nw * nh.
    parallel_for(0, d.P, 1, [&](int64_t p0, int64_t p1) {
      std::vector<T> folded(d.W);
      for (int64_t pl = p0; pl < p1; ++pl) {
        T* plane = dp + pl * d.H * d.W;
        std::fill(plane, plane + d.H * d.W, T(0));
        for (int64_t oh = 0; oh < d.OH; ++oh) {
          const T* g = gp + (pl * d.OH + oh) * d.OW;
          if (th.n == 1) {
            T* row = plane + th.at[oh] * d.W;
            for (int64_t ow = 0; ow < d.OW; ++ow) row[tw.at[ow]] += g[ow];
            continue;
          }
          std::fill(folded.begin(), folded.end(), T(0));
          for (int64_t ow = 0; ow < d.OW; ++ow)
            for (int i = 0; i < tw.n; ++i) folded[tw.at[ow * tw.n + i]] += tw.w[ow * tw.n + i] * g[ow];
          for (int j = 0; j < th.n; ++j) {
            T* row = plane + th.at[oh * th.n + j] * d.W;
            const T a = th.w[oh * th.n + j];
            for (int64_t iw = 0; iw < d.W; ++iw) row[iw] += a * folded[iw];
          }
        }
      }
    });
  });
}

// ---------------------------------------------------------------- im2col ----------

struct PatchDims {
  int64_t N, C, H, W, OH, OW;
};
PatchDims patch_dims(const Tensor& image, const Tensor& cols, const PatchParams& p) {
  PatchDims d{image.sizes()[0], image.sizes()[1], image.sizes()[2], image.sizes()[3], 0, 0};
  d.OH = (d.H + 2 * p.padding[0] - p.dilation[0] * (p.kernel[0] - 1) - 1) / p.stride[0] + 1;
  d.OW = (d.W + 2 * p.padding[1] - p.dilation[1] * (p.kernel[1] - 1) - 1) / p.stride[1] + 1;
  (void)cols;
  return d;
}

// cols[n, (c*kh + i)*kw + j, oh*OW + ow] = x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]
// (0 outside); col2im adds each column entry back to that position.
template <bool kToCols>
void patches(const Tensor& image, const Tensor& cols, const PatchParams& p, const char* op) {
  const PatchDims d = patch_dims(image, cols, p);
  const int64_t kh = p.kernel[0], kw = p.kernel[1], L = d.OH * d.OW;
  dispatch_float_dtype(image.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* img = image.data<T>();
    T* col = cols.data<T>();
    parallel_for(0, d.N * d.C, 1, [&](int64_t q0, int64_t q1) {
      for (int64_t q = q0; q < q1; ++q) {
        T* plane = img + q * d.H * d.W;
        if (!kToCols) std::fill(plane, plane + d.H * d.W, T(0));
        for (int64_t i = 0; i < kh; ++i)
          for (int64_t j = 0; j < kw; ++j) {
            T* row = col + (q * kh * kw + i * kw + j) * L;  // (n*C + c)*kh*kw + i*kw + j
            for (int64_t oh = 0; oh < d.OH; ++oh) {
              const int64_t ih = oh * p.stride[0] - p.padding[0] + i * p.dilation[0];
              const bool row_in = ih >= 0 && ih < d.H;
              for (int64_t ow = 0; ow < d.OW; ++ow) {
                const int64_t iw = ow * p.stride[1] - p.padding[1] + j * p.dilation[1];
                const bool in = row_in && iw >= 0 && iw < d.W;
                if (kToCols) row[oh * d.OW + ow] = in ? plane[ih * d.W + iw] : T(0);
                else if (in) plane[ih * d.W + iw] += row[oh * d.OW + ow];
              }
            }
          }
      }
    });
  });
}

void im2col_kernel(const Tensor& x, const Tensor& cols, const PatchParams& p) { patches<true>(x, cols, p, "im2col"); }
void col2im_kernel(const Tensor& cols, const Tensor& x, const PatchParams& p) { patches<false>(x, cols, p, "col2im"); }

// ---------------------------------------------------------------- grid_sample -----
// Source coordinates as in ATen/native/GridSampler.h; each also returns d(source)/d(grid).

template <class T>
T unnormalize(T coord, int64_t size, bool align_corners, T* grad) {
  if (align_corners) {
    *grad = static_cast<T>(size - 1) / 2;
    return (coord + 1) / 2 * static_cast<T>(size - 1);
  }
  *grad = static_cast<T>(size) / 2;
  return ((coord + 1) * static_cast<T>(size) - 1) / 2;
}

template <class T>
T clip_coordinate(T in, int64_t limit, T* grad) {
  if (in <= T(0)) { *grad = 0; return T(0); }
  const T max = static_cast<T>(limit - 1);
  if (in >= max) { *grad = 0; return max; }
  *grad = 1;
  return in;
}

// Reflects `in` into [twice_low/2, twice_high/2] (bounds doubled so they stay integers).
template <class T>
T reflect_coordinate(T in, int64_t twice_low, int64_t twice_high, T* grad) {
  if (twice_low == twice_high) { *grad = 0; return T(0); }
  const T min = static_cast<T>(twice_low) / 2, span = static_cast<T>(twice_high - twice_low) / 2;
  in -= min;
  T sign = 1;
  if (in < T(0)) { sign = -1; in = -in; }
  const T extra = std::fmod(in, span);
  const bool even_flips = std::fmod(std::floor(in / span), T(2)) == T(0);  // in floating point: inf / NaN stay defined
  if (even_flips) { *grad = sign; return extra + min; }
  *grad = -sign;
  return span - extra + min;
}

template <class T>
T grid_source(T coord, int64_t size, const GridSampleParams& p, T* grad) {
  T g;
  coord = unnormalize(coord, size, p.align_corners, &g);
  if (p.padding == GridPadding::border) {
    T gc;
    coord = clip_coordinate(coord, size, &gc);
    g *= gc;
  } else if (p.padding == GridPadding::reflection) {
    T gr, gc;
    coord = p.align_corners ? reflect_coordinate(coord, 0, 2 * (size - 1), &gr)
                            : reflect_coordinate(coord, -1, 2 * size - 1, &gr);
    coord = clip_coordinate(coord, size, &gc);
    g *= gr * gc;
  }
  *grad = g;
  return coord;
}

// The four bilinear corners of (ix, iy): positions (or -1 when outside) and weights.
template <class T>
struct Corners {
  int64_t at[4];
  T w[4];
  T x0, y0;
  Corners(T ix, T iy, int64_t H, int64_t W) {
    x0 = std::floor(ix);
    y0 = std::floor(iy);
    const T fx = ix - x0, fy = iy - y0;
    const int64_t cx[4] = {0, 1, 0, 1}, cy[4] = {0, 0, 1, 1};
    const T wx[2] = {1 - fx, fx}, wy[2] = {1 - fy, fy};
    for (int k = 0; k < 4; ++k) {
      // a coordinate far outside (or NaN) is outside: compare in T before converting
      const T px = x0 + static_cast<T>(cx[k]), py = y0 + static_cast<T>(cy[k]);
      const bool in = px >= 0 && px < static_cast<T>(W) && py >= 0 && py < static_cast<T>(H);
      at[k] = in ? static_cast<int64_t>(py) * W + static_cast<int64_t>(px) : -1;
      w[k] = wx[cx[k]] * wy[cy[k]];
    }
  }
};

// The nearest input position of (ix, iy) (round half to even, as PyTorch), or -1.
template <class T>
int64_t nearest_position(T ix, T iy, int64_t H, int64_t W) {
  const T rx = std::nearbyint(ix), ry = std::nearbyint(iy);
  if (!(rx >= 0 && rx < static_cast<T>(W) && ry >= 0 && ry < static_cast<T>(H))) return -1;
  return static_cast<int64_t>(ry) * W + static_cast<int64_t>(rx);
}

void grid_sample_kernel(const Tensor& x, const Tensor& grid, const Tensor& y, const GridSampleParams& p) {
  const int64_t N = x.sizes()[0], C = x.sizes()[1], H = x.sizes()[2], W = x.sizes()[3];
  const int64_t OH = grid.sizes()[1], OW = grid.sizes()[2], S = OH * OW;
  dispatch_float_dtype(x.dtype(), "grid_sample", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    const T* gp = grid.data<T>();
    T* yp = y.data<T>();
    parallel_for(0, N * S, 64, [&](int64_t q0, int64_t q1) {
      for (int64_t q = q0; q < q1; ++q) {
        const int64_t n = q / S, s = q % S;
        T unused;
        const T ix = grid_source(gp[q * 2], W, p, &unused), iy = grid_source(gp[q * 2 + 1], H, p, &unused);
        const T* xn = xp + n * C * H * W;
        T* yn = yp + n * C * S + s;
        if (p.mode == GridMode::nearest) {
          const int64_t at = nearest_position(ix, iy, H, W);
          for (int64_t c = 0; c < C; ++c) yn[c * S] = at < 0 ? T(0) : xn[c * H * W + at];
          continue;
        }
        const Corners<T> k(ix, iy, H, W);
        for (int64_t c = 0; c < C; ++c) {
          const T* plane = xn + c * H * W;
          T acc = 0;
          for (int i = 0; i < 4; ++i)
            if (k.at[i] >= 0) acc += plane[k.at[i]] * k.w[i];
          yn[c * S] = acc;
        }
      }
    });
  });
}

void grid_sample_backward_kernel(const Tensor& gy, const Tensor& x, const Tensor& grid, const Tensor& dx,
                                 const Tensor& dgrid, const GridSampleParams& p) {
  const int64_t N = x.sizes()[0], C = x.sizes()[1], H = x.sizes()[2], W = x.sizes()[3];
  const int64_t OH = grid.sizes()[1], OW = grid.sizes()[2], S = OH * OW;
  dispatch_float_dtype(x.dtype(), "grid_sample backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    const T* gp = grid.data<T>();
    const T* gyp = gy.data<T>();
    T* dxp = dx.defined() ? dx.data<T>() : nullptr;
    T* dgp = dgrid.defined() ? dgrid.data<T>() : nullptr;
    parallel_for(0, N, 1, [&](int64_t n0, int64_t n1) {  // dx[n] gathers from every point of batch n
      for (int64_t n = n0; n < n1; ++n) {
        if (dxp) std::fill(dxp + n * C * H * W, dxp + (n + 1) * C * H * W, T(0));
        for (int64_t s = 0; s < S; ++s) {
          const int64_t q = n * S + s;
          T gmx, gmy;
          const T ix = grid_source(gp[q * 2], W, p, &gmx), iy = grid_source(gp[q * 2 + 1], H, p, &gmy);
          const T* gyn = gyp + n * C * S + s;
          if (p.mode == GridMode::nearest) {  // piecewise constant in the grid: no grid gradient
            const int64_t at = nearest_position(ix, iy, H, W);
            if (dxp && at >= 0)
              for (int64_t c = 0; c < C; ++c) dxp[(n * C + c) * H * W + at] += gyn[c * S];
            if (dgp) dgp[q * 2] = dgp[q * 2 + 1] = T(0);
            continue;
          }
          const Corners<T> k(ix, iy, H, W);
          const T fx = ix - k.x0, fy = iy - k.y0;
          // d(weight)/d(ix) and d(weight)/d(iy) of the nw, ne, sw, se corners
          const T dwx[4] = {-(1 - fy), 1 - fy, -fy, fy}, dwy[4] = {-(1 - fx), -fx, 1 - fx, fx};
          T gix = 0, giy = 0;
          for (int64_t c = 0; c < C; ++c) {
            const T g = gyn[c * S];
            const int64_t base = (n * C + c) * H * W;
            for (int i = 0; i < 4; ++i) {
              if (k.at[i] < 0) continue;
              if (dxp) dxp[base + k.at[i]] += k.w[i] * g;
              const T v = xp[base + k.at[i]] * g;
              gix += dwx[i] * v;
              giy += dwy[i] * v;
            }
          }
          if (dgp) {
            dgp[q * 2] = gix * gmx;
            dgp[q * 2 + 1] = giy * gmy;
          }
        }
      }
    });
  });
}

// ---------------------------------------------------------------- adaptive max ----
// Window of output o over an input of n: [floor(o*n/on), ceil((o+1)*n/on)) (as
// adaptive_avg_pool2d). x (N, C, H, W), y and idx (N, C, OH, OW); idx holds flat h*W + w
// of the first maximum (NaN wins, as in PyTorch). Its own reference: plain loops.

void adaptive_max_kernel(const Tensor& x, const Tensor& y, const Tensor& idx, const Pool2dParams&) {
  const int64_t P = x.sizes()[0] * x.sizes()[1], H = x.sizes()[2], W = x.sizes()[3];
  const int64_t OH = y.sizes()[2], OW = y.sizes()[3];
  dispatch_float_dtype(x.dtype(), "adaptive_max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    parallel_for(0, P, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl) {
        const T* xp = x.data<T>() + pl * H * W;
        T* yp = y.data<T>() + pl * OH * OW;
        int64_t* ip = idx.data<int64_t>() + pl * OH * OW;
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) {
            const int64_t h0 = oh * H / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
            const int64_t w0 = ow * W / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
            int64_t at = h0 * W + w0;
            T best = xp[at];
            for (int64_t ih = h0; ih < h1; ++ih)
              for (int64_t iw = w0; iw < w1; ++iw) {
                const T v = xp[ih * W + iw];
                if ((v > best || std::isnan(v)) && !std::isnan(best)) {
                  best = v;
                  at = ih * W + iw;
                }
              }
            yp[oh * OW + ow] = best;
            ip[oh * OW + ow] = at;
          }
      }
    });
  });
}

// dx (N, C, H, W) overwritten: each output's gradient added at its index (windows overlap).
void adaptive_max_backward_kernel(const Tensor& gy, const Tensor& idx, const Tensor& dx, const Pool2dParams&) {
  const int64_t P = dx.sizes()[0] * dx.sizes()[1], HW = dx.sizes()[2] * dx.sizes()[3];
  const int64_t S = gy.sizes()[2] * gy.sizes()[3];
  dispatch_float_dtype(dx.dtype(), "adaptive_max_pool2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    parallel_for(0, P, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl) {
        T* dp = dx.data<T>() + pl * HW;
        const T* gp = gy.data<T>() + pl * S;
        const int64_t* ip = idx.data<int64_t>() + pl * S;
        std::fill(dp, dp + HW, T(0));
        for (int64_t k = 0; k < S; ++k) dp[ip[k]] += gp[k];
      }
    });
  });
}

}  // namespace

void register_spatial_kernels(KernelRegistry& r) {
  r.upsample.set(OpId::upsample, DeviceType::CPU, &upsample_fast);
  r.upsample_reference.set(OpId::upsample, DeviceType::CPU, &upsample_reference);
  r.upsample_backward.set(OpId::upsample, DeviceType::CPU, &upsample_backward_fast);
  r.upsample_backward_reference.set(OpId::upsample, DeviceType::CPU, &upsample_backward_reference);
  r.im2col.set(OpId::im2col, DeviceType::CPU, &im2col_kernel);
  r.col2im.set(OpId::col2im, DeviceType::CPU, &col2im_kernel);
  r.grid_sample.set(OpId::grid_sample, DeviceType::CPU, &grid_sample_kernel);
  r.grid_sample_backward.set(OpId::grid_sample, DeviceType::CPU, &grid_sample_backward_kernel);
  r.pool.set(OpId::adaptive_max_pool2d, DeviceType::CPU, &adaptive_max_kernel);
  r.pool_backward.set(OpId::adaptive_max_pool2d, DeviceType::CPU, &adaptive_max_backward_kernel);
}

}  // namespace nn::cpu
