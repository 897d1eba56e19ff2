// kernels.h — registration entry points of the CPU kernel files (called once from
// cpu/register_cpu_kernels.cpp when the registry is built).
#pragma once

#include "kernels/dispatch.h"

namespace nn::cpu {
void register_unary_kernels(KernelRegistry& r);
void register_binary_kernels(KernelRegistry& r);
void register_reduce_kernels(KernelRegistry& r);
void register_copy_kernels(KernelRegistry& r);
void register_matmul_kernels(KernelRegistry& r);
void register_softmax_kernels(KernelRegistry& r);
void register_index_kernels(KernelRegistry& r);
void register_gather_scatter_kernels(KernelRegistry& r);  // gather, scatter(_add), index_select
void register_scan_sort_kernels(KernelRegistry& r);       // cumsum, cumprod, sort, argsort, topk
void register_conv_kernels(KernelRegistry& r);
void register_pool_kernels(KernelRegistry& r);
void register_norm_kernels(KernelRegistry& r);
void register_attention_kernels(KernelRegistry& r);  // scaled_dot_product_attention
void register_layer_norm_kernels(KernelRegistry& r);  // layer_norm, rms_norm, dropout
void register_optim_kernels(KernelRegistry& r);
void register_quantize_kernels(KernelRegistry& r);  // int8 element ops (cpu/quantize_kernels.cpp)
void register_qgemm_kernels(KernelRegistry& r);     // int8 GEMM, packing, conv (cpu/qgemm_kernels.cpp)
void register_data_kernels(KernelRegistry& r);      // checks, mask coordinates, random, arange (cpu/data_kernels.cpp)
void register_rnn_kernels(KernelRegistry& r);       // rnn_layer cell steps (cpu/rnn_kernels.cpp)
void register_spatial_kernels(KernelRegistry& r);   // upsample, im2col, grid_sample, ... (cpu/spatial_kernels.cpp)
// The plain matmul kernel (dispatch.h MatmulKernel contract; float32/float64), used as
// the reference the GEMM paths are tested against.
void matmul_reference(const Tensor& a, const Tensor& b, const Tensor& out);
// Contiguous float32 exp / tanh / sigmoid / gelu / silu, and out = g * f'(x) for gelu, tanh gelu,
// silu, relu and hardswish (cpu/vec_math.h), one set per ISA unit.
#define NN_DECLARE_VEC_MATH(SUFFIX)                                                       \
  void exp_f32_##SUFFIX(const float* x, float* y, int64_t n);                             \
  void tanh_f32_##SUFFIX(const float* x, float* y, int64_t n);                            \
  void sigmoid_f32_##SUFFIX(const float* x, float* y, int64_t n);                         \
  void gelu_f32_##SUFFIX(const float* x, float* y, int64_t n);                            \
  void gelu_tanh_f32_##SUFFIX(const float* x, float* y, int64_t n);                       \
  void silu_f32_##SUFFIX(const float* x, float* y, int64_t n);                            \
  void gelu_grad_f32_##SUFFIX(const float* g, const float* x, float* out, int64_t n);      \
  void gelu_tanh_grad_f32_##SUFFIX(const float* g, const float* x, float* out, int64_t n); \
  void silu_grad_f32_##SUFFIX(const float* g, const float* x, float* out, int64_t n);      \
  void relu_grad_f32_##SUFFIX(const float* g, const float* x, float* out, int64_t n);      \
  void hardswish_grad_f32_##SUFFIX(const float* g, const float* x, float* out, int64_t n);
NN_DECLARE_VEC_MATH(generic)
NN_DECLARE_VEC_MATH(avx2)
NN_DECLARE_VEC_MATH(avx512)
#undef NN_DECLARE_VEC_MATH
}  // namespace nn::cpu
