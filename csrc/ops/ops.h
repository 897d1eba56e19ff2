// ops.h — the C++ API of every op in the op table (kernels/op_table.h). Each op checks its
// arguments (errors name the op, the shapes and the rule), allocates its output, calls
// the device's kernel through kernels/dispatch.h and records its backward node when any
// input requires grad. Semantics and names follow PyTorch.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "kernels/op_table.h"

namespace nn {

using Dims = std::vector<int64_t>;  // for reductions: empty means "all dims"

// ---- elementwise (ops/elementwise.cpp) -------------------------------------------
Tensor unary_op(OpId op, const Tensor& x);
Tensor binary_op(OpId op, const Tensor& a, const Tensor& b);
// In place: self = op(self, other). other broadcasts to self and is cast to self's dtype.
void binary_op_(OpId op, const Tensor& self, const Tensor& other);
void unary_op_(OpId op, const Tensor& self);
// A 0-dim tensor holding a Python scalar: it takes part in broadcasting but not in type
// promotion beyond its kind (int / float / bool), as in PyTorch.
Tensor scalar_tensor(double value, DType dtype);
Tensor wrapped_scalar(double value, bool is_integral, bool is_bool = false);
DType result_type(const Tensor& a, const Tensor& b);

#define NN_DECLARE_UNARY(name, grad) Tensor name(const Tensor& x);
NN_UNARY_OPS(NN_DECLARE_UNARY)
#undef NN_DECLARE_UNARY
#define NN_DECLARE_BINARY(name, grad) Tensor name(const Tensor& a, const Tensor& b);
NN_BINARY_OPS(NN_DECLARE_BINARY)
NN_COMPARE_OPS(NN_DECLARE_BINARY)
#undef NN_DECLARE_BINARY

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor cast(const Tensor& x, DType dtype);          // a copy unless dtype is already x's
void copy_(const Tensor& dst, const Tensor& src);   // broadcast + cast; bumps version
void fill_(const Tensor& t, double value);          // bumps version
Tensor clone(const Tensor& x);
Tensor detach(const Tensor& x);

// ---- composites (ops/composite.cpp) ------------------------------------------------
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);
Tensor leaky_relu(const Tensor& x, double negative_slope);
Tensor softplus(const Tensor& x, double beta, double threshold);
Tensor mean(const Tensor& x, const Dims& dims, bool keepdim);
Tensor var(const Tensor& x, const Dims& dims, double correction, bool keepdim);
Tensor std(const Tensor& x, const Dims& dims, double correction, bool keepdim);
Tensor logsumexp(const Tensor& x, const Dims& dims, bool keepdim);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim);
Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim);
// Sums `x` down to `shape` (the reverse of broadcasting); used by backward formulas.
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- reductions (ops/reduce.cpp) ---------------------------------------------------
Tensor sum(const Tensor& x, const Dims& dims, bool keepdim, std::optional<DType> dtype = std::nullopt);
Tensor prod(const Tensor& x, const Dims& dims, bool keepdim);
Tensor amax(const Tensor& x, const Dims& dims, bool keepdim);
Tensor amin(const Tensor& x, const Dims& dims, bool keepdim);
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim);  // values, indices
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim);
Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim);
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim);
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// ---- shape and views (ops/shape.cpp) -----------------------------------------------
Tensor view(const Tensor& x, const Shape& shape);      // one -1 allowed; error when strides forbid
Tensor reshape(const Tensor& x, const Shape& shape);   // a view when possible, else a copy
Tensor permute(const Tensor& x, const Dims& dims);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor expand(const Tensor& x, const Shape& shape);    // -1 keeps a size
Tensor squeeze(const Tensor& x, std::optional<Dims> dims);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor slice(const Tensor& x, int64_t dim, std::optional<int64_t> start, std::optional<int64_t> stop,
             int64_t step);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
Tensor contiguous(const Tensor& x);
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim);
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// ---- indexing (ops/index.cpp) ------------------------------------------------------
// NumPy advanced indexing: indices[d] (int64 or bool) indexes dim d, nullopt keeps it.
Tensor index(const Tensor& x, const std::vector<std::optional<Tensor>>& indices);
// Out of place: a copy of x with x[indices] (+)= values.
Tensor index_put(const Tensor& x, const std::vector<std::optional<Tensor>>& indices,
                 const Tensor& values, bool accumulate);
void index_put_(const Tensor& x, const std::vector<std::optional<Tensor>>& indices,
                const Tensor& values, bool accumulate);

// One item of a Python-style subscript: x[0, 1:5:2, None, ..., mask].
struct TensorIndex {
  enum class Kind { Integer, Slice, None, Ellipsis, Tensor };
  Kind kind = Kind::None;
  int64_t integer = 0;
  std::optional<int64_t> start, stop;
  int64_t step = 1;
  nn::Tensor tensor;
};
Tensor get_item(const Tensor& x, const std::vector<TensorIndex>& key);
void set_item(const Tensor& x, const std::vector<TensorIndex>& key, const Tensor& value);

// ---- matmul, bmm, linear, addmm (ops/matmul.cpp, ops/linear.cpp) -------------------
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);  // (B, M, K) @ (B, K, N), no broadcasting
// y = act(x @ weight^T + bias); x (..., K), weight (N, K), bias (N) or undefined.
// activation: "none", "relu" or "gelu" (exact); float32/bfloat16 fuse it into the GEMM.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const std::string& activation = "none");
// beta * input + alpha * (mat1 @ mat2); input broadcasts to (M, N).
Tensor addmm(const Tensor& input, const Tensor& mat1, const Tensor& mat2, double beta = 1.0, double alpha = 1.0);

// ---- convolution, pooling, normalization (ops/conv.cpp, ops/pool.cpp, ops/norm.cpp) --
// NCHW, PyTorch semantics. Pairs (stride, padding, ...) are given as 1 or 2 ints; bias
// and the norms' weight/bias/running stats may be undefined. relu fuses max(y, 0) into
// the GEMM write-back (an nn_core extension).
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const std::vector<int64_t>& stride,
              const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation, int64_t groups,
              bool relu = false);
// padding "valid" or "same" (stride 1; an odd total pads the extra row/column at the end).
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const std::vector<int64_t>& stride,
              const std::string& padding, const std::vector<int64_t>& dilation, int64_t groups, bool relu = false);
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, const std::vector<int64_t>& stride,
              const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation, int64_t groups);
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, const std::vector<int64_t>& stride,
              const std::string& padding, const std::vector<int64_t>& dilation, int64_t groups);
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                        const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                        const std::vector<int64_t>& output_padding, int64_t groups,
                        const std::vector<int64_t>& dilation);
// stride empty: kernel_size. Returns (values, int64 indices into each input plane).
std::pair<Tensor, Tensor> max_pool2d(const Tensor& input, const std::vector<int64_t>& kernel_size,
                                     const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                                     const std::vector<int64_t>& dilation, bool ceil_mode);
Tensor avg_pool2d(const Tensor& input, const std::vector<int64_t>& kernel_size, const std::vector<int64_t>& stride,
                  const std::vector<int64_t>& padding, bool ceil_mode, bool count_include_pad,
                  std::optional<int64_t> divisor_override);
Tensor adaptive_avg_pool2d(const Tensor& input, const std::vector<int64_t>& output_size);
// training: batch statistics, and running_mean/var (when given) updated in place with
// momentum (running_var with the unbiased variance); eval: the running statistics.
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps);
Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps);

// ---- factories and random numbers (ops/factory.cpp) --------------------------------
Tensor zeros(const Shape& shape, DType dtype = DType::Float32);
Tensor ones(const Shape& shape, DType dtype = DType::Float32);
Tensor full(const Shape& shape, double value, DType dtype = DType::Float32);
Tensor arange(double start, double end, double step, DType dtype);
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
