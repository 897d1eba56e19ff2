// derivatives.cpp — the helpers of the derivative formulas (ops/derivatives.h), written
// over ops only. They run inside backward, where grad mode is off.
#include "ops/derivatives.h"

#include "ops/internal.h"

namespace nn::derivatives {

Tensor to_input(const Tensor& g, const TensorMeta& input) {
  if (!g.defined() || (g.sizes() == input.sizes && g.dtype() == input.dtype)) return g;
  return detail::reduce_grad(g, input.sizes, input.dtype);
}

Tensor scalar(double value) { return wrapped_scalar(value, false); }

Tensor pow_base_backward(const Tensor& grad, const Tensor& a, const Tensor& b) {
  return mul(grad, mul(b, pow(a, sub(b, wrapped_scalar(1, true)))));
}

Tensor pow_exponent_backward(const Tensor& grad, const Tensor& a, const Tensor& result) {
  Tensor term = mul(result, log(a));
  return mul(grad, where(eq(a, wrapped_scalar(0, true)), zeros({}, term.dtype()), term));
}

Tensor extremum_backward(const Tensor& grad, const Tensor& a, const Tensor& b, bool is_max, bool first) {
  Tensor win = is_max ? gt(a, b) : lt(a, b);
  Tensor tie = eq(a, b);
  Tensor weight_a = add(detail::cast_raw(win, grad.dtype()),
                        mul(detail::cast_raw(tie, grad.dtype()), wrapped_scalar(0.5, false)));
  return mul(grad, first ? weight_a : sub(wrapped_scalar(1, true), weight_a));
}

namespace {
// The input's sizes with the reduced dims set to 1 (dims empty: all of them).
Shape kept_sizes(const Shape& sizes, const std::vector<int64_t>& dims) {
  const int64_t n = static_cast<int64_t>(sizes.size());
  Shape keep = sizes;
  if (dims.empty()) {
    for (int64_t& s : keep) s = 1;
  } else {
    for (int64_t d : dims) {
      if (n == 0) continue;
      keep[wrap_dim(d, n, "backward")] = 1;
    }
  }
  return keep;
}
}  // namespace

Tensor sum_backward(const Tensor& grad, const Shape& input_sizes, const std::vector<int64_t>& dims) {
  return expand(reshape(grad, kept_sizes(input_sizes, dims)), input_sizes);
}

Tensor prod_backward(const Tensor& grad, const Tensor& x, const std::vector<int64_t>& dims) {
  Tensor is_zero = eq(x, zeros({}, x.dtype()));
  Tensor nonzero = where(is_zero, ones({}, x.dtype()), x);
  Tensor prod_nonzero = prod(nonzero, dims, true);
  Tensor zero_count = sum(is_zero, dims, true);
  Tensor none_zero = div(prod_nonzero, nonzero);
  Tensor one_zero = where(logical_and(eq(zero_count, ones({}, DType::Int64)), is_zero), prod_nonzero,
                          zeros({}, x.dtype()));
  Tensor d = where(eq(zero_count, zeros({}, DType::Int64)), none_zero, one_zero);
  return mul(reshape(grad, kept_sizes(x.sizes(), dims)), d);
}

Tensor extreme_backward(const Tensor& grad, const Tensor& x, const Tensor& result, const std::vector<int64_t>& dims) {
  const Shape keep = kept_sizes(x.sizes(), dims);
  Tensor gk = reshape(grad, keep), rk = reshape(result, keep);
  Tensor mask = detail::cast_raw(eq(x, rk), grad.dtype());
  Tensor count = sum(mask, dims, true);
  return div(mul(gk, mask), count);
}

Tensor index_reduction_backward(const Tensor& grad, const Tensor& indices, const Shape& input_sizes, int64_t dim) {
  const int64_t n = static_cast<int64_t>(input_sizes.size());
  const int64_t d = n == 0 ? 0 : wrap_dim(dim, n, "backward");
  const Shape keep = kept_sizes(input_sizes, n == 0 ? std::vector<int64_t>{} : std::vector<int64_t>{dim});
  Shape pos_shape(input_sizes.size(), 1);
  if (n > 0) pos_shape[d] = input_sizes[d];
  Tensor positions = reshape(arange(0, n == 0 ? 1 : static_cast<double>(input_sizes[d]), 1, DType::Int64), pos_shape);
  Tensor mask = detail::cast_raw(eq(positions, reshape(indices, keep)), grad.dtype());
  return mul(expand(reshape(grad, keep), input_sizes), mask);
}

Tensor matmul_backward(const Tensor& grad, const Tensor& a, const Tensor& b, bool first) {
  // Work on the promoted (>= 2-D) forms, then squeeze the promoted dims back.
  Tensor a2 = a.dim() == 1 ? unsqueeze(a, 0) : a;
  Tensor b2 = b.dim() == 1 ? unsqueeze(b, 1) : b;
  Tensor g = grad;
  if (a.dim() == 1) g = unsqueeze(g, g.dim() - (b.dim() == 1 ? 0 : 1));
  if (b.dim() == 1) g = unsqueeze(g, g.dim());
  if (first) {
    Tensor ga = detail::reduce_grad(matmul(g, transpose(b2, -1, -2)), a2.sizes(), a.dtype());
    return a.dim() == 1 ? reshape(ga, a.sizes()) : ga;
  }
  Tensor gb = detail::reduce_grad(matmul(transpose(a2, -1, -2), g), b2.sizes(), b.dtype());
  return b.dim() == 1 ? reshape(gb, b.sizes()) : gb;
}

Tensor softmax_backward_data(const Tensor& grad, const Tensor& result, int64_t dim) {
  const int64_t d = wrap_dim(dim, result.dim(), "softmax backward");
  return mul(result, sub(grad, sum(mul(grad, result), {d}, true)));
}

Tensor log_softmax_backward_data(const Tensor& grad, const Tensor& result, int64_t dim) {
  const int64_t d = wrap_dim(dim, result.dim(), "log_softmax backward");
  return sub(grad, mul(exp(result), sum(grad, {d}, true)));
}

Tensor cumsum_backward(const Tensor& grad, int64_t dim) {
  if (grad.dim() == 0) return grad;  // a 0-d cumsum is the identity
  const int64_t d = wrap_dim(dim, grad.dim(), "cumsum backward");
  return flip(cumsum(flip(grad, {d}), d), {d});
}

Tensor selection_backward(const Tensor& grad, const Tensor& indices, const Shape& input_sizes, int64_t dim) {
  const int64_t d = wrap_dim(dim, static_cast<int64_t>(input_sizes.size()), "backward");
  return scatter_add(zeros(input_sizes, grad.dtype()), d, indices, grad);
}

}  // namespace nn::derivatives
