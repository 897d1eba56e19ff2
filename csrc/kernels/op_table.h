// op_table.h — the one op table. Every op the library exposes is one row here; the
// OpId enum, the op names, the per-family kernel dispatch tables (ops/dispatch.h), the
// Python-visible op list (nn_core._C.op_table(), from which tests/op_db.py's coverage
// check comes) are all generated from these lists.
//
// Families:
//   UNARY      elementwise, one input, a kernel functor in cpu/unary_kernels.cpp and a
//              derivative in ops/unary.cpp (both generated from this list: a row without
//              its functor or derivative fails to compile).
//   BINARY     elementwise with broadcasting, a functor in cpu/binary_kernels.cpp and a
//              derivative in ops/binary.cpp (same rule).
//   COMPARE    elementwise with broadcasting, bool result, no gradient.
//   REDUCE     reductions over any dims with keepdim, kernels in cpu/reduce_kernels.cpp.
//   COMPOSITE  written with other differentiable ops (STYLE.md 2): no kernel of their own.
//   SHAPE      views and data movement (slicing, indexing, cat, ...), ops/shape.cpp,
//              ops/index.cpp.
//   SPECIAL    ops with a dedicated kernel (matmul, linear/addmm through the fused GEMM
//              epilogue, softmax, where, cast, ...).
//
// Columns: X(name, differentiable)
#pragma once
#include <cstdint>

#define NN_UNARY_OPS(X)                                                              \
  X(neg, true) X(exp, true) X(log, true) X(log1p, true) X(sqrt, true) X(rsqrt, true) \
  X(abs, true) X(relu, true) X(sigmoid, true) X(tanh, true) X(gelu, true)            \
  X(gelu_tanh, true) X(silu, true) X(logical_not, false)

#define NN_BINARY_OPS(X)                                                              \
  X(add, true) X(sub, true) X(mul, true) X(div, true) X(pow, true) X(maximum, true)   \
  X(minimum, true)

#define NN_COMPARE_OPS(X)                                                             \
  X(eq, false) X(ne, false) X(lt, false) X(le, false) X(gt, false) X(ge, false)       \
  X(logical_and, false) X(logical_or, false) X(logical_xor, false)

#define NN_REDUCE_OPS(X)                                                              \
  X(sum, true) X(prod, true) X(amax, true) X(amin, true) X(max, true) X(min, true)    \
  X(argmax, false) X(argmin, false)

#define NN_COMPOSITE_OPS(X)                                                           \
  X(mean, true) X(var, true) X(std, true) X(logsumexp, true) X(clamp, true)           \
  X(leaky_relu, true) X(softplus, true) X(split, true) X(chunk, true) X(stack, true)   \
  X(flatten, true)

#define NN_SHAPE_OPS(X)                                                               \
  X(view, true) X(reshape, true) X(permute, true) X(transpose, true) X(expand, true)  \
  X(squeeze, true) X(unsqueeze, true) X(slice, true) X(select, true) X(index, true)   \
  X(index_put, true) X(cat, true) X(contiguous, true)

#define NN_SPECIAL_OPS(X)                                                             \
  X(matmul, true) X(bmm, true) X(linear, true) X(addmm, true) X(softmax, true) X(log_softmax, true) X(where, true) X(cast, true)  \
  X(copy_, false) X(fill_, false)

// Convolution, pooling and normalization (ops/conv.cpp, ops/pool.cpp, ops/norm.cpp),
// family Special; conv1d is conv2d on a (N, C, 1, L) view.
#define NN_CONV_OPS(X)                                                                \
  X(conv2d, true) X(conv1d, true) X(conv_transpose2d, true) X(max_pool2d, true)       \
  X(avg_pool2d, true) X(adaptive_avg_pool2d, true) X(batch_norm, true) X(group_norm, true)

// Attention and the transformer building blocks (family Special): fused kernels in
// cpu/attention_kernels*.cpp and cpu/layer_norm_kernels.cpp, ops in ops/attention.cpp,
// ops/layer_norm.cpp.
#define NN_ATTENTION_OPS(X)                                                           \
  X(scaled_dot_product_attention, true) X(layer_norm, true) X(rms_norm, true)         \
  X(embedding, true) X(dropout, true)

// int8 quantization (family Special, not differentiable): ops/quantized.cpp, loops in
// cpu/quantize_kernels*.cpp. The quantized linear / conv2d take a packed weight object
// (not a tensor) and are tested in tests/test_int8.py rather than through this table.
#define NN_QUANTIZED_OPS(X)                                                           \
  X(quantize_per_tensor, false) X(quantize_per_channel, false) X(dequantize, false)   \
  X(quantize_rows, false)

#define NN_ALL_OPS(X)                                                                 \
  NN_UNARY_OPS(X) NN_BINARY_OPS(X) NN_COMPARE_OPS(X) NN_REDUCE_OPS(X)                 \
  NN_COMPOSITE_OPS(X) NN_SHAPE_OPS(X) NN_SPECIAL_OPS(X) NN_CONV_OPS(X) NN_ATTENTION_OPS(X) \
  NN_QUANTIZED_OPS(X)

namespace nn {

enum class OpId : uint16_t {
#define NN_OP_ENUM(name, grad) name,
  NN_ALL_OPS(NN_OP_ENUM)
#undef NN_OP_ENUM
  kCount
};
constexpr int kNumOps = static_cast<int>(OpId::kCount);

// The cheap guard (ggml's): adding or removing a row must also update the op list the
// tests check against (tests/op_db.py) — change this number together with it.
static_assert(kNumOps == 89, "op table changed: update tests/op_db.py and this count");

enum class OpFamily : uint8_t { Unary, Binary, Compare, Reduce, Composite, Shape, Special };

struct OpInfo {
  const char* name;
  OpFamily family;
  bool differentiable;
};

const OpInfo& op_info(OpId op);
const char* op_family_name(OpFamily f);

}  // namespace nn
