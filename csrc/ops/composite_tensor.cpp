// composite_tensor.cpp — COMPOSITE rows of PyTorch's everyday tensor functions (masked_fill,
// lerp, addcmul, outer, tril / triu, flip, roll, repeat, narrow, all / any), each written
// with other ops of the schema (STYLE.md 2): no kernel and no derivative of their own;
// gradients come from the ops they are made of. Argument rules and error messages follow
// PyTorch's.
#include <algorithm>
#include <cmath>
#include <set>

#include "ops/internal.h"

namespace nn {

namespace {

Tensor scalar_like(double value, DType dtype) { return full({}, value, dtype); }

}  // namespace

Tensor native_masked_fill(const Tensor& x, const Tensor& mask, double value) {
  NN_CHECK(mask.dtype() == DType::Bool, DTypeError, "masked_fill: expected a bool mask, got ", mask.dtype());
  const Shape out = broadcast_shapes(x.sizes(), mask.sizes(), "masked_fill");
  NN_CHECK(out == x.sizes(), ShapeError, "masked_fill: the mask of shape ", mask.sizes(),
           " must broadcast to the input's shape ", x.sizes());
  return where(mask, scalar_like(value, x.dtype()), x);
}

Tensor native_lerp(const Tensor& start, const Tensor& end, const Tensor& weight) {
  NN_CHECK(is_floating(start.dtype()) && start.dtype() == end.dtype() && weight.dtype() == start.dtype(), DTypeError,
           "lerp: expected start, end and weight of one floating dtype, got ", start.dtype(), ", ", end.dtype(),
           " and ", weight.dtype());
  return add(start, mul(weight, sub(end, start)));
}

Tensor native_addcmul(const Tensor& x, const Tensor& tensor1, const Tensor& tensor2, double value) {
  Tensor product = mul(tensor1, tensor2);
  if (value != 1.0) product = mul(product, wrapped_scalar(value, !is_floating(product.dtype()) && std::floor(value) == value));
  return add(x, product);
}

Tensor native_outer(const Tensor& a, const Tensor& b) {
  NN_CHECK(a.dim() == 1 && b.dim() == 1, ShapeError, "outer: expected two 1-D tensors, got shapes ", a.sizes(),
           " and ", b.sizes());
  return mul(unsqueeze(a, 1), unsqueeze(b, 0));
}

namespace {

// Elements (.., i, j) with j - i <= diagonal (lower) or >= diagonal (upper) kept, others 0.
Tensor triangle(const Tensor& x, int64_t diagonal, bool lower, const char* op) {
  NN_CHECK(x.dim() >= 2, ShapeError, op, ": expected a tensor of at least 2 dims, got shape ", x.sizes());
  const int64_t rows = x.sizes()[x.dim() - 2], cols = x.sizes()[x.dim() - 1];
  Tensor i = unsqueeze(arange(0, static_cast<double>(rows), 1, DType::Int64), 1);
  Tensor j = unsqueeze(arange(0, static_cast<double>(cols), 1, DType::Int64), 0);
  Tensor offset = sub(j, i);
  Tensor keep = lower ? le(offset, wrapped_scalar(static_cast<double>(diagonal), true))
                      : ge(offset, wrapped_scalar(static_cast<double>(diagonal), true));
  return where(keep, x, scalar_like(0, x.dtype()));
}

std::vector<int64_t> distinct_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op) {
  std::vector<int64_t> out;
  std::set<int64_t> seen;
  for (int64_t d : dims) {
    const int64_t w = wrap_dim(d, ndim, op);
    NN_CHECK(seen.insert(w).second, ValueError, op, ": dim ", w, " appears multiple times in the list of dims");
    out.push_back(w);
  }
  return out;
}

}  // namespace

Tensor native_tril(const Tensor& x, int64_t diagonal) { return triangle(x, diagonal, true, "tril"); }
Tensor native_triu(const Tensor& x, int64_t diagonal) { return triangle(x, diagonal, false, "triu"); }

Tensor native_flip(const Tensor& x, const std::vector<int64_t>& dims) {
  Tensor out = x;
  for (int64_t d : distinct_dims(dims, std::max<int64_t>(x.dim(), 1), "flip")) {
    if (x.dim() == 0) break;
    const int64_t n = x.sizes()[d];
    std::vector<std::optional<Tensor>> key(static_cast<size_t>(d));
    key.push_back(arange(static_cast<double>(n - 1), -1.0, -1.0, DType::Int64));
    out = index(out, key);
  }
  return out;
}

Tensor native_roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims) {
  NN_CHECK(!shifts.empty(), ValueError, "roll: expected at least one shift");
  if (dims.empty()) {
    NN_CHECK(shifts.size() == 1, ValueError, "roll: without dims, shifts must be a single value, got ",
             shifts.size(), " values");
    return reshape(native_roll(reshape(x, {-1}), shifts, {0}), x.sizes());
  }
  NN_CHECK(shifts.size() == dims.size(), ValueError, "roll: shifts and dims must have the same length, got ",
           shifts.size(), " and ", dims.size());
  Tensor out = x;
  for (size_t k = 0; k < dims.size(); ++k) {
    const int64_t d = wrap_dim(dims[k], std::max<int64_t>(x.dim(), 1), "roll");
    if (x.dim() == 0) break;
    const int64_t n = x.sizes()[d];
    if (n == 0) continue;
    const int64_t s = ((shifts[k] % n) + n) % n;
    if (s == 0) continue;
    out = cat({slice(out, d, n - s, n, 1), slice(out, d, 0, n - s, 1)}, d);
  }
  return out;
}

Tensor native_repeat(const Tensor& x, const std::vector<int64_t>& repeats) {
  const int64_t nd = static_cast<int64_t>(repeats.size());
  NN_CHECK(nd >= x.dim(), ValueError, "repeat: the number of repeats (", nd,
           ") can not be smaller than the number of dims of the tensor (", x.dim(), ")");
  for (int64_t r : repeats) NN_CHECK(r >= 0, ValueError, "repeat: repeats must be non-negative, got ", r);
  // x viewed as (1, s0, 1, s1, ...) (leading dims of size 1 added), expanded to
  // (r0, s0, r1, s1, ...), then merged to (r0*s0, r1*s1, ...).
  Shape padded(static_cast<size_t>(nd - x.dim()), 1);
  padded.insert(padded.end(), x.sizes().begin(), x.sizes().end());
  std::vector<int64_t> inter, big, merged;
  for (int64_t k = 0; k < nd; ++k) {
    inter.push_back(1);
    inter.push_back(padded[k]);
    big.push_back(repeats[k]);
    big.push_back(padded[k]);
    int64_t size = 0;
    NN_CHECK(!__builtin_mul_overflow(repeats[k], padded[k], &size), ValueError, "repeat: repeats ", repeats,
             " of shape ", x.sizes(), " give a size past int64 in dim ", k);
    merged.push_back(size);
  }
  return reshape(expand(reshape(x, inter), big), merged);
}

Tensor native_narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  NN_CHECK(x.dim() > 0, ShapeError, "narrow: cannot be applied to a 0-dim tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "narrow");
  const int64_t n = x.sizes()[d];
  NN_CHECK(start >= -n && start <= n, IndexError, "narrow: start (", start, ") is out of bounds for dim ", d,
           " of size ", n);
  if (start < 0) start += n;
  NN_CHECK(length >= 0 && start + length <= n, IndexError, "narrow: start (", start, ") + length (", length,
           ") exceeds dimension size (", n, ")");
  return slice(x, d, start, start + length, 1);
}

Tensor native_all(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor zeros_found = sum(cast(eq(x, scalar_like(0, x.dtype())), DType::Int64), dims, keepdim);
  return eq(zeros_found, wrapped_scalar(0, true));
}

Tensor native_any(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor nonzeros = sum(cast(ne(x, scalar_like(0, x.dtype())), DType::Int64), dims, keepdim);
  return gt(nonzeros, wrapped_scalar(0, true));
}

}  // namespace nn
