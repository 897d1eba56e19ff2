// spatial_composite.cpp — COMPOSITE spatial rows written with other differentiable ops
// (STYLE.md 2): pad (constant / reflect / replicate / circular), pixel_shuffle,
// pixel_unshuffle and affine_grid. No kernel and no derivative of their own.
//
// pad follows PyTorch's tuple order: (left, right) of the last dim first, then the dim
// before it, ...; constant pads may be negative (they crop). The other modes pad 1, 2 or
// 3 trailing dims of a batched or unbatched input by gathering source positions
// (index_select), so their gradient is index_select's scatter-add.
// affine_grid (2-D): grid[n, h, w] = theta[n] @ (x_w, y_h, 1), x and y in [-1, 1] at pixel
// centers (align_corners=False) or corners (True); shape (N, H, W, 2).
#include <algorithm>
#include <cmath>

#include "ops/internal.h"

namespace nn {

namespace {

// A 1-D int64 CPU tensor of host values (index lists built from sizes, not from data).
Tensor index_tensor(const std::vector<int64_t>& values) {
  Tensor t = empty({static_cast<int64_t>(values.size())}, DType::Int64);
  std::copy(values.begin(), values.end(), t.data<int64_t>());
  return t;
}

// Source position of padded position j (j in [-lo, size + hi)) for the non-constant modes.
int64_t padded_source(const std::string& mode, int64_t j, int64_t size) {
  if (j >= 0 && j < size) return j;
  if (mode == "reflect") return j < 0 ? -j : 2 * (size - 1) - j;
  if (mode == "replicate") return j < 0 ? 0 : size - 1;
  return ((j % size) + size) % size;  // circular
}

Tensor constant_pad(const Tensor& input, const std::vector<int64_t>& pad, double value) {
  Tensor out = input;
  const int64_t n = input.dim();
  for (size_t i = 0; i < pad.size() / 2; ++i) {
    const int64_t d = n - 1 - static_cast<int64_t>(i), lo = pad[2 * i], hi = pad[2 * i + 1];
    const int64_t size = input.sizes()[d];
    const int64_t kept = size + std::min<int64_t>(lo, 0) + std::min<int64_t>(hi, 0);
    NN_CHECK(kept >= 0, ValueError, "pad: the input size ", size, " of dim ", d, " cannot be cropped by the negative "
             "padding in (", lo, ", ", hi, "): that removes more than the dim holds (input shape ", input.sizes(),
             ")");
    if (lo < 0 || hi < 0) {
      const int64_t start = std::max<int64_t>(-lo, 0);
      out = slice(out, d, start, start + kept, 1);
    }
    std::vector<Tensor> parts;
    Shape side = out.sizes();
    if (lo > 0) {
      side[d] = lo;
      parts.push_back(full(side, value, input.dtype()));
    }
    parts.push_back(out);
    if (hi > 0) {
      side[d] = hi;
      parts.push_back(full(side, value, input.dtype()));
    }
    if (parts.size() > 1) out = cat(parts, d);
  }
  return out;
}

}  // namespace

Tensor native_pad_nd(const Tensor& input, const std::vector<int64_t>& pad, const std::string& mode, double value) {
  const char* op = "pad";
  const int64_t n = input.dim();
  NN_CHECK(pad.size() % 2 == 0 && static_cast<int64_t>(pad.size()) <= 2 * n, ValueError, op,
           ": the padding length must be even and at most twice the input's dims (", 2 * n, " for shape ",
           input.sizes(), "), got ", pad.size(), " values");
  if (mode == "constant") return constant_pad(input, pad, value);
  NN_CHECK(mode == "reflect" || mode == "replicate" || mode == "circular", ValueError, op,
           ": mode must be 'constant', 'reflect', 'replicate' or 'circular', got '", mode, "'");
  NN_CHECK(value == 0.0, ValueError, op, ": padding mode '", mode, "' doesn't take in value argument");
  const int64_t padded_dims = static_cast<int64_t>(pad.size()) / 2;
  NN_CHECK(padded_dims >= 1 && padded_dims <= 3 && (n == padded_dims + 1 || n == padded_dims + 2), ShapeError, op,
           ": mode '", mode, "' pads 1, 2 or 3 trailing dims of an input with one or two leading (batch, channel) "
           "dims: ", pad.size(), " padding values need a ", padded_dims + 1, "-D or ", padded_dims + 2,
           "-D input, got shape ", input.sizes());
  Tensor out = input;
  for (int64_t i = 0; i < padded_dims; ++i) {
    const int64_t d = n - 1 - i, lo = pad[2 * i], hi = pad[2 * i + 1], size = input.sizes()[d];
    NN_CHECK(lo >= 0 && hi >= 0, ValueError, op, ": mode '", mode, "' takes non-negative padding, got (", lo, ", ",
             hi, ") for dim ", d);
    if (mode == "reflect")
      NN_CHECK(lo < size && hi < size, ValueError, op, ": padding size should be less than the corresponding input "
               "dimension for mode 'reflect', but got padding (", lo, ", ", hi, ") at dim ", d, " of input shape ",
               input.sizes());
    if (mode == "circular")
      NN_CHECK(lo <= size && hi <= size, ValueError, op, ": padding (", lo, ", ", hi, ") at dim ", d,
               " of input shape ", input.sizes(), " would wrap around more than once (mode 'circular' needs "
               "padding <= size)");
    NN_CHECK(size > 0 || (lo == 0 && hi == 0), ShapeError, op, ": mode '", mode, "' cannot pad the empty dim ", d,
             " of input shape ", input.sizes());
    if (lo == 0 && hi == 0) continue;
    std::vector<int64_t> source;
    for (int64_t j = -lo; j < size + hi; ++j) source.push_back(padded_source(mode, j, size));
    out = index_select(out, d, index_tensor(source));
  }
  return out;
}

namespace {

void check_shuffle_input(const Tensor& input, int64_t factor, const char* op, const char* what) {
  NN_CHECK(input.dim() >= 3, ShapeError, op, ": expected an input of at least 3 dims (*, C, H, W), got shape ",
           input.sizes());
  NN_CHECK(factor > 0, ValueError, op, ": ", what, " must be greater than 0, got ", factor);
}

Shape batch_dims(const Tensor& t) { return Shape(t.sizes().begin(), t.sizes().end() - 3); }

std::vector<int64_t> joined(const Shape& batch, std::initializer_list<int64_t> tail) {
  std::vector<int64_t> out(batch.begin(), batch.end());
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

}  // namespace

Tensor native_pixel_shuffle(const Tensor& input, int64_t upscale_factor) {
  const char* op = "pixel_shuffle";
  check_shuffle_input(input, upscale_factor, op, "upscale_factor");
  const int64_t r = upscale_factor, n = input.dim();
  const int64_t C = input.sizes()[n - 3], H = input.sizes()[n - 2], W = input.sizes()[n - 1];
  NN_CHECK(C % (r * r) == 0, ShapeError, op, ": expected the channel dim (", C,
           ") to be divisible by the square of upscale_factor (", r * r, "), input shape ", input.sizes());
  const Shape batch = batch_dims(input);
  const int64_t b = static_cast<int64_t>(batch.size()), oc = C / (r * r);
  Tensor t = reshape(input, joined(batch, {oc, r, r, H, W}));
  std::vector<int64_t> order;
  for (int64_t i = 0; i < b; ++i) order.push_back(i);
  for (int64_t i : {0, 3, 1, 4, 2}) order.push_back(b + i);  // (c, H, r, W, r)
  return reshape(permute(t, order), joined(batch, {oc, H * r, W * r}));
}

Tensor native_pixel_unshuffle(const Tensor& input, int64_t downscale_factor) {
  const char* op = "pixel_unshuffle";
  check_shuffle_input(input, downscale_factor, op, "downscale_factor");
  const int64_t r = downscale_factor, n = input.dim();
  const int64_t C = input.sizes()[n - 3], H = input.sizes()[n - 2], W = input.sizes()[n - 1];
  NN_CHECK(H % r == 0 && W % r == 0, ShapeError, op, ": expected height (", H, ") and width (", W,
           ") divisible by downscale_factor ", r, ", input shape ", input.sizes());
  const Shape batch = batch_dims(input);
  const int64_t b = static_cast<int64_t>(batch.size());
  Tensor t = reshape(input, joined(batch, {C, H / r, r, W / r, r}));
  std::vector<int64_t> order;
  for (int64_t i = 0; i < b; ++i) order.push_back(i);
  for (int64_t i : {0, 2, 4, 1, 3}) order.push_back(b + i);  // (c, r, r, H/r, W/r)
  return reshape(permute(t, order), joined(batch, {C * r * r, H / r, W / r}));
}

Tensor native_affine_grid(const Tensor& theta, const std::vector<int64_t>& size, bool align_corners) {
  const char* op = "affine_grid";
  NN_CHECK(is_floating(theta.dtype()), DTypeError, op, ": expected a floating-point theta, got ", theta.dtype());
  NN_CHECK(size.size() == 4, ValueError, op, ": only 2-D sizes (N, C, H, W) are supported, got ", size.size(),
           " values");
  const int64_t N = size[0], H = size[2], W = size[3];
  NN_CHECK(N >= 0 && size[1] >= 0 && H > 0 && W > 0, ValueError, op, ": expected non-negative N, C and positive H, "
           "W in size, got (", N, ", ", size[1], ", ", H, ", ", W, ")");
  NN_CHECK(theta.dim() == 3 && theta.sizes()[0] == N && theta.sizes()[1] == 2 && theta.sizes()[2] == 3, ShapeError,
           op, ": expected theta of shape (N, 2, 3) = (", N, ", 2, 3) for size (", N, ", ", size[1], ", ", H, ", ", W,
           "), got ", theta.sizes());
  // Coordinates of step i of n in [-1, 1]: pixel corners or (scaled) pixel centers.
  auto coord = [&](int64_t i, int64_t n) {
    if (n <= 1) return 0.0;
    const double c = -1.0 + 2.0 * static_cast<double>(i) / static_cast<double>(n - 1);
    return align_corners ? c : c * static_cast<double>(n - 1) / static_cast<double>(n);
  };
  Tensor base = empty({H * W, 3}, DType::Float64);
  double* bp = base.data<double>();
  for (int64_t h = 0; h < H; ++h)
    for (int64_t w = 0; w < W; ++w) {
      double* row = bp + (h * W + w) * 3;
      row[0] = coord(w, W);
      row[1] = coord(h, H);
      row[2] = 1.0;
    }
  const DType compute = theta.dtype() == DType::Float64 ? DType::Float64 : DType::Float32;
  Tensor grid = matmul(unsqueeze(cast(base, compute), 0), transpose(cast(theta, compute), 1, 2));  // (N, HW, 2)
  return cast(reshape(grid, {N, H, W, 2}), theta.dtype());
}

}  // namespace nn
