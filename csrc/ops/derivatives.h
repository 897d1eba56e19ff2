// derivatives.h — what the derivative formulas of ops.schema use besides the ops
// themselves (PyTorch's FunctionsManual): the metadata kept of an input, the final
// sum-to-shape-and-cast of each input's gradient, and the formulas too long for a
// schema line. Everything here is written over ops (ops.h), never over a device's
// kernels, so a formula holds on every device that has the ops.
//
// Layout: a formula's gradient is shaped like the op's (broadcast) output; to_input sums
// it down to the input's shape and casts it to the input's dtype, as the engine requires.
#pragma once
#include <vector>

#include "core/tensor.h"
#include "ops/op_types.h"

namespace nn::derivatives {

// The shape and dtype of an input, kept instead of the tensor when the formulas only
// need those (sum's gradient needs x's sizes, not x).
struct TensorMeta {
  Shape sizes;
  DType dtype = DType::Float32;
  TensorMeta() = default;
  explicit TensorMeta(const Tensor& t) {
    if (t.defined()) {
      sizes = t.sizes();
      dtype = t.dtype();
    }
  }
};

// g summed down to the input's shape (the reverse of broadcasting) and cast to its dtype;
// g itself when it already matches.
Tensor to_input(const Tensor& g, const TensorMeta& input);

// A Python-style float scalar for formulas: broadcasts, does not promote the other operand.
Tensor scalar(double value);

// ---- binary ops
// d(a^b)/da = b * a^(b-1) (0^0-style points give b * 0^(b-1), as the formula does).
Tensor pow_base_backward(const Tensor& grad, const Tensor& a, const Tensor& b);
// d(a^b)/db = a^b * log(a), taken as 0 where a == 0 (PyTorch's convention).
Tensor pow_exponent_backward(const Tensor& grad, const Tensor& a, const Tensor& result);
// maximum / minimum: the winner takes the gradient, ties split it evenly. first: the
// gradient of a (else of b).
Tensor extremum_backward(const Tensor& grad, const Tensor& a, const Tensor& b, bool is_max, bool first);

// ---- reductions (dims empty = every dim, as the ops take them)
// sum: the gradient broadcast back over the reduced dims.
Tensor sum_backward(const Tensor& grad, const Shape& input_sizes, const std::vector<int64_t>& dims);
// prod: the product of the other elements, computed without dividing by zero.
Tensor prod_backward(const Tensor& grad, const Tensor& x, const std::vector<int64_t>& dims);
// amax / amin: split evenly among the elements equal to the extreme.
Tensor extreme_backward(const Tensor& grad, const Tensor& x, const Tensor& result, const std::vector<int64_t>& dims);
// max / min along dim (values and indices): the gradient goes to the selected position.
Tensor index_reduction_backward(const Tensor& grad, const Tensor& indices, const Shape& input_sizes, int64_t dim);

// ---- special rows
// matmul: the gradient of a (first) or b, with 1-D operands promoted as the op does and
// broadcast batch dims summed back.
Tensor matmul_backward(const Tensor& grad, const Tensor& a, const Tensor& b, bool first);
// softmax / log_softmax along dim, from the forward's result.
Tensor softmax_backward_data(const Tensor& grad, const Tensor& result, int64_t dim);
Tensor log_softmax_backward_data(const Tensor& grad, const Tensor& result, int64_t dim);
// cumsum: each x[i] reaches every y[j], j >= i: a reversed cumulative sum.
Tensor cumsum_backward(const Tensor& grad, int64_t dim);
// sort / topk values: the gradient goes to the input positions named by the indices.
Tensor selection_backward(const Tensor& grad, const Tensor& indices, const Shape& input_sizes, int64_t dim);

}  // namespace nn::derivatives
