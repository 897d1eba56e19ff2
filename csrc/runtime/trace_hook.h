// trace_hook.h — the one-line hook that lets the inference runtime trace op calls.
// Each traced op starts with NN_TRACE(fn, args...): while a Tracer is active on this
// thread, the call is forwarded to runtime::traced::fn, which runs the op with tracing
// suspended (so ops called inside it are not recorded) and records one graph node.
// When no tracer is active the hook is one thread-local load and a predicted branch.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "ops/attention_ops.h"
#include "ops/ops.h"
#include "ops/quantized_ops.h"

namespace nn::runtime {

class Tracer;
inline thread_local Tracer* tl_tracer = nullptr;

namespace traced {
Tensor unary_op(OpId op, const Tensor& x);
Tensor binary_op(OpId op, const Tensor& a, const Tensor& b);
void unary_op_(OpId op, const Tensor& self);
void binary_op_(OpId op, const Tensor& self, const Tensor& other);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor cast(const Tensor& x, DType dtype);
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);
Tensor leaky_relu(const Tensor& x, double negative_slope);
Tensor softplus(const Tensor& x, double beta, double threshold);
Tensor sum(const Tensor& x, const Dims& dims, bool keepdim, std::optional<DType> dtype);
Tensor mean(const Tensor& x, const Dims& dims, bool keepdim);
Tensor amax(const Tensor& x, const Dims& dims, bool keepdim);
Tensor amin(const Tensor& x, const Dims& dims, bool keepdim);
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
Tensor view(const Tensor& x, const Shape& shape);
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor permute(const Tensor& x, const Dims& dims);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor expand(const Tensor& x, const Shape& shape);
Tensor squeeze(const Tensor& x, std::optional<Dims> dims);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor slice(const Tensor& x, int64_t dim, std::optional<int64_t> start, std::optional<int64_t> stop, int64_t step);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
Tensor contiguous(const Tensor& x);
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim);
Tensor get_item(const Tensor& x, const std::vector<TensorIndex>& key);
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const std::string& activation);
Tensor addmm(const Tensor& input, const Tensor& mat1, const Tensor& mat2, double beta, double alpha);
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const std::vector<int64_t>& stride,
              const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation, int64_t groups, bool relu);
std::pair<Tensor, Tensor> max_pool2d(const Tensor& input, const std::vector<int64_t>& kernel_size,
                                     const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                                     const std::vector<int64_t>& dilation, bool ceil_mode);
Tensor avg_pool2d(const Tensor& input, const std::vector<int64_t>& kernel_size, const std::vector<int64_t>& stride,
                  const std::vector<int64_t>& padding, bool ceil_mode, bool count_include_pad,
                  std::optional<int64_t> divisor_override);
Tensor adaptive_avg_pool2d(const Tensor& input, const std::vector<int64_t>& output_size);
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps);
Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps);
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps);
Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, std::optional<double> eps);
Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<int64_t> padding_idx);
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                                    double dropout_p, bool is_causal, std::optional<double> scale);
Tensor dropout(const Tensor& x, double p, bool training);
Tensor full(const Shape& shape, double value, DType dtype);
Tensor arange(double start, double end, double step, DType dtype);
Tensor detach(const Tensor& x);
Tensor clone(const Tensor& x);
void copy_(const Tensor& dst, const Tensor& src);
void fill_(const Tensor& t, double value);
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim);
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim);
Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim);
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim);
Tensor prod(const Tensor& x, const Dims& dims, bool keepdim);
Tensor var(const Tensor& x, const Dims& dims, double correction, bool keepdim);
Tensor std(const Tensor& x, const Dims& dims, double correction, bool keepdim);
Tensor index(const Tensor& x, const std::vector<std::optional<Tensor>>& indices);
void index_put_(const Tensor& x, const std::vector<std::optional<Tensor>>& indices, const Tensor& values,
                bool accumulate);
void set_item(const Tensor& x, const std::vector<TensorIndex>& key, const Tensor& value);
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                        const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                        const std::vector<int64_t>& output_padding, int64_t groups,
                        const std::vector<int64_t>& dilation);
Tensor quantize_per_tensor(const Tensor& x, double scale, int64_t zero_point, DType dtype);
Tensor dequantize_per_tensor(const Tensor& q, double scale, int64_t zero_point);
Tensor quantized_linear_dynamic(const Tensor& x, const QWeight& w, const Tensor& bias, const std::string& activation);
Tensor quantized_linear(const Tensor& x, double x_scale, int64_t x_zero_point, const QWeight& w, const Tensor& bias,
                        const std::string& activation, DType out_dtype, double out_scale, int64_t out_zero_point);
Tensor quantized_conv2d(const Tensor& x, double x_scale, int64_t x_zero_point, const QWeight& w, int64_t kh,
                        int64_t kw, const Tensor& bias, std::vector<int64_t> stride, std::vector<int64_t> padding,
                        std::vector<int64_t> dilation, const std::string& activation, DType out_dtype,
                        double out_scale, int64_t out_zero_point);
}  // namespace traced

}  // namespace nn::runtime

#define NN_TRACE(fn, ...)                                                   \
  if (__builtin_expect(::nn::runtime::tl_tracer != nullptr, 0))             \
  return ::nn::runtime::traced::fn(__VA_ARGS__)
