// ops.h — the C++ API of nn_core's ops. The ops of the schema (ops/ops.schema) are
// declared in the generated ops_generated.h, included here: each nn::OP checks for an
// interceptor (ops/intercept.h) and calls nn::native_OP, which checks its arguments
// (errors name the op, the shapes and the rule), allocates its output, calls the device's
// kernel through kernels/dispatch.h; a row with derivative formulas gets its backward node
// from its generated autograd layer (autograd_OP), the other differentiable rows record
// theirs in the native. This file declares what is not a schema row: the family entry points, convenience
// overloads, helpers and the factories that are not traced. Semantics follow PyTorch.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "kernels/op_table.h"
#include "ops/op_types.h"
#include "ops_generated.h"

namespace nn {

// ---- elementwise (ops/elementwise.cpp) -------------------------------------------
// The family entry points: `op` is a unary (or binary / compare) row; they intercept as
// that row (ops_generated.cpp) and run native_unary_op / native_binary_op.
Tensor unary_op(OpId op, const Tensor& x);
Tensor binary_op(OpId op, const Tensor& a, const Tensor& b);
Tensor native_unary_op(OpId op, const Tensor& x);
Tensor native_binary_op(OpId op, const Tensor& a, const Tensor& b);
// A 0-dim tensor holding a Python scalar: it takes part in broadcasting but not in type
// promotion beyond its kind (int / float / bool), as in PyTorch.
Tensor scalar_tensor(double value, DType dtype);
Tensor wrapped_scalar(double value, bool is_integral, bool is_bool = false);
DType result_type(const Tensor& a, const Tensor& b);

// ---- composites (ops/composite.cpp) ------------------------------------------------
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim);  // equal chunks of split_size
// Sums `x` down to `shape` (the reverse of broadcasting); used by backward formulas.
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- shape (ops/shape.cpp) -----------------------------------------------------------
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// ---- convolution (ops/conv.cpp): padding "valid" or "same" (stride 1; an odd total pads
// the extra row/column at the end); they resolve the padding and call the schema op.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const std::vector<int64_t>& stride,
              const std::string& padding, const std::vector<int64_t>& dilation, int64_t groups, bool relu = false);
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, const std::vector<int64_t>& stride,
              const std::string& padding, const std::vector<int64_t>& dilation, int64_t groups);

// ---- factories and random numbers (ops/factory.cpp) --------------------------------
// Not schema rows: a traced model that makes one of these captures it as a constant.
Tensor zeros(const Shape& shape, DType dtype = DType::Float32);
Tensor ones(const Shape& shape, DType dtype = DType::Float32);
void manual_seed(uint64_t seed);
uint64_t initial_seed();
Tensor rand(const Shape& shape, DType dtype = DType::Float32);
Tensor randn(const Shape& shape, DType dtype = DType::Float32);
Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype = DType::Int64);
void uniform_(const Tensor& t, double low, double high);
void normal_(const Tensor& t, double mean, double std);

// ---- autograd (autograd/engine.cpp) ------------------------------------------------
void backward(const Tensor& root, const Tensor& gradient, bool retain_graph);

}  // namespace nn
