// composite.cpp — the COMPOSITE family: ops written with other differentiable ops
// (STYLE.md 2). They need no kernel and no derivative of their own; their gradients come
// from the ops they are made of.
#include <cmath>
#include <limits>

#include "ops/internal.h"

namespace nn {

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.sizes() == shape) return x;
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  NN_CHECK(lead >= 0, ShapeError, "sum_to: cannot reduce shape ", x.sizes(), " to ", shape);
  Dims dims;
  for (int64_t d = 0; d < lead; ++d) dims.push_back(d);
  for (size_t i = 0; i < shape.size(); ++i) {
    const int64_t xs = x.sizes()[lead + i];
    if (shape[i] == 1 && xs != 1) dims.push_back(lead + static_cast<int64_t>(i));
    else NN_CHECK(shape[i] == xs, ShapeError, "sum_to: cannot reduce shape ", x.sizes(), " to ", shape);
  }
  if (dims.empty()) return reshape(x, shape);
  return reshape(sum(x, dims, true), shape);
}

Tensor native_clamp(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  NN_CHECK(min || max, ValueError, "clamp: at least one of 'min' or 'max' must not be None");
  const bool integral = !is_floating(x.dtype());
  Tensor out = x;
  // where() keeps the gradient 1 on the closed interval [min, max], as PyTorch does.
  if (min) {
    Tensor lo = wrapped_scalar(*min, integral && std::floor(*min) == *min);
    out = where(lt(out, lo), lo, out);
  }
  if (max) {
    Tensor hi = wrapped_scalar(*max, integral && std::floor(*max) == *max);
    out = where(gt(out, hi), hi, out);
  }
  return out;
}

Tensor native_leaky_relu(const Tensor& x, double negative_slope) {
  return where(gt(x, wrapped_scalar(0, true)), x, mul(x, wrapped_scalar(negative_slope, false)));
}

Tensor native_softplus(const Tensor& x, double beta, double threshold) {
  // softplus(z) = max(z, 0) + log1p(exp(-|z|)), z = beta * x: no overflow for large |z|
  // and full relative accuracy for very negative z. The gradient is sigmoid(z): at z = 0,
  // maximum() gives each tied side half (1/2) and |z|' = 0, so 1/2 as it should be.
  NN_CHECK(beta != 0, ValueError, "softplus: beta must be non-zero");
  Tensor z = mul(x, wrapped_scalar(beta, false));
  Tensor soft = div(add(maximum(z, zeros({}, z.dtype())), log1p(exp(neg(abs(z))))), wrapped_scalar(beta, false));
  return where(gt(z, wrapped_scalar(threshold, false)), x, soft);
}

static int64_t reduced_count(const Tensor& x, const Dims& dims) {
  if (dims.empty()) return x.numel();
  int64_t n = 1;
  std::vector<bool> seen(std::max<int64_t>(x.dim(), 1), false);
  for (int64_t d : dims) {
    const int64_t w = wrap_dim(d, x.dim(), "reduction");
    if (x.dim() == 0 || seen[w]) continue;
    seen[w] = true;
    n *= x.sizes()[w];
  }
  return n;
}

Tensor native_mean(const Tensor& x, const Dims& dims, bool keepdim) {
  NN_CHECK(is_floating(x.dtype()), DTypeError, "mean: input dtype must be floating point, got ", x.dtype(),
           " (cast it first, e.g. x.float())");
  return div(sum(x, dims, keepdim), wrapped_scalar(static_cast<double>(reduced_count(x, dims)), false));
}

Tensor native_var(const Tensor& x, const Dims& dims, double correction, bool keepdim) {
  NN_CHECK(is_floating(x.dtype()), DTypeError, "var: input dtype must be floating point, got ", x.dtype());
  const double n = static_cast<double>(reduced_count(x, dims));
  Tensor centered = sub(x, mean(x, dims, true));
  const double denom = std::max(n - correction, 0.0);
  return div(sum(mul(centered, centered), dims, keepdim), wrapped_scalar(denom, false));
}

Tensor native_std(const Tensor& x, const Dims& dims, double correction, bool keepdim) {
  return sqrt(var(x, dims, correction, keepdim));
}

Tensor native_logsumexp(const Tensor& x, const Dims& dims, bool keepdim) {
  Tensor xf = is_floating(x.dtype()) ? x : cast(x, DType::Float32);
  if (reduced_count(xf, dims) == 0) {
    Tensor s = sum(xf, dims, keepdim);  // for the output shape
    return add(mul(s, zeros({}, s.dtype())), full({}, -std::numeric_limits<double>::infinity(), s.dtype()));
  }
  // Shift by the (detached) maximum so exp never overflows; infinite maxima shift by 0.
  Tensor m = detach(amax(xf, dims, true));
  m = where(eq(abs(m), full({}, std::numeric_limits<double>::infinity(), m.dtype())), zeros({}, m.dtype()), m);
  Tensor out = add(log(sum(exp(sub(xf, m)), dims, true)), m);
  if (!keepdim) out = squeeze(out, dims.empty() ? std::optional<Dims>() : std::optional<Dims>(dims));
  if (!keepdim && dims.empty()) out = reshape(out, {});
  return out;
}

std::vector<Tensor> native_split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  const int64_t d = wrap_dim(dim, x.dim(), "split");
  NN_CHECK(x.dim() > 0, ValueError, "split: cannot split a 0-dim tensor");
  int64_t total = 0;
  for (int64_t s : sizes) {
    NN_CHECK(s >= 0, ValueError, "split: split sizes must be non-negative, got ", sizes);
    total += s;
  }
  NN_CHECK(total == x.sizes()[d], ValueError, "split: split sizes ", sizes, " must sum to the size of dimension ", d,
           " (", x.sizes()[d], ")");
  std::vector<Tensor> parts;
  int64_t start = 0;
  for (int64_t s : sizes) {
    parts.push_back(slice(x, d, start, start + s, 1));
    start += s;
  }
  return parts;
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  const int64_t d = wrap_dim(dim, x.dim(), "split");
  NN_CHECK(x.dim() > 0, ValueError, "split: cannot split a 0-dim tensor");
  const int64_t len = x.sizes()[d];
  NN_CHECK(split_size > 0 || (split_size == 0 && len == 0), ValueError,
           "split: split_size must be positive, got ", split_size);
  std::vector<int64_t> sizes;
  for (int64_t start = 0; start < len; start += split_size) sizes.push_back(std::min(split_size, len - start));
  if (sizes.empty()) sizes.push_back(0);
  return split(x, sizes, d);
}

std::vector<Tensor> native_chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  NN_CHECK(chunks > 0, ValueError, "chunk: number of chunks must be positive, got ", chunks);
  const int64_t d = wrap_dim(dim, x.dim(), "chunk");
  NN_CHECK(x.dim() > 0, ValueError, "chunk: cannot chunk a 0-dim tensor");
  const int64_t len = x.sizes()[d];
  const int64_t size = std::max<int64_t>((len + chunks - 1) / chunks, 1);
  if (len == 0) return split(x, std::vector<int64_t>(static_cast<size_t>(chunks), 0), d);  // PyTorch keeps `chunks`
  return split(x, size, d);
}

Tensor native_stack(const std::vector<Tensor>& tensors, int64_t dim) {
  NN_CHECK(!tensors.empty(), ValueError, "stack: expected a non-empty list of tensors");
  const int64_t d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> expanded;
  for (size_t i = 0; i < tensors.size(); ++i) {
    NN_CHECK(tensors[i].sizes() == tensors[0].sizes(), ShapeError, "stack: expects each tensor to be equal size, but "
             "got ", tensors[0].sizes(), " at entry 0 and ", tensors[i].sizes(), " at entry ", i);
    expanded.push_back(unsqueeze(tensors[i], d));
  }
  return cat(expanded, d);
}

Tensor native_flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) {
    wrap_dim(start_dim, 0, "flatten");
    wrap_dim(end_dim, 0, "flatten");
    return reshape(x, {1});
  }
  const int64_t s = wrap_dim(start_dim, x.dim(), "flatten"), e = wrap_dim(end_dim, x.dim(), "flatten");
  NN_CHECK(s <= e, ValueError, "flatten: start_dim (", start_dim, ") cannot come after end_dim (", end_dim, ")");
  Shape shape;
  for (int64_t d = 0; d < s; ++d) shape.push_back(x.sizes()[d]);
  int64_t n = 1;
  for (int64_t d = s; d <= e; ++d) n *= x.sizes()[d];
  shape.push_back(n);
  for (int64_t d = e + 1; d < x.dim(); ++d) shape.push_back(x.sizes()[d]);
  return reshape(x, shape);
}

}  // namespace nn
