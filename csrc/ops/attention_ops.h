// attention_ops.h — C++ API of the attention and transformer building-block ops
// (op table rows NN_ATTENTION_OPS in kernels/op_table.h): ops/attention.cpp, ops/layer_norm.cpp.
// Semantics and argument names follow torch.nn.functional.
#pragma once
#include <optional>

#include "core/tensor.h"

namespace nn {

// softmax(q k^T * scale + mask) v, fused (cpu/attention_kernels.cpp). q (B, Hq, Lq, D),
// k (B, Hkv, Lk, D), v (B, Hkv, Lk, Dv) with Hq % Hkv == 0 (grouped-query attention).
// attn_mask (undefined, bool: true = attend, or floating: added to the scores)
// broadcasts to (B, Hq, Lq, Lk); is_causal is top-left aligned (query i sees keys
// j <= i); scale defaults to 1/sqrt(D). Rows with no visible key give zeros.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                                    double dropout_p, bool is_causal, std::optional<double> scale);
// Normalises over the trailing dims `normalized_shape`; weight/bias of that shape or undefined.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps);
// eps defaults to the machine epsilon of x's dtype (as torch.nn.functional.rms_norm).
Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, std::optional<double> eps);
// weight[indices]; the row padding_idx (negative counts from the end) gets no gradient.
Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<int64_t> padding_idx);
// Zeroes each element with probability p (library generator) and scales the rest by 1/(1-p).
Tensor dropout(const Tensor& x, double p, bool training);

}  // namespace nn
