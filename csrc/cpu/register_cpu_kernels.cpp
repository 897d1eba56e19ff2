// register_cpu_kernels.cpp — fills the CPU column of the kernel registry.
#include "cpu/kernels.h"

namespace nn::cpu {
void register_kernels(KernelRegistry& r) {
  register_unary_kernels(r);
  register_binary_kernels(r);
  register_reduce_kernels(r);
  register_copy_kernels(r);
  register_matmul_kernels(r);
  register_softmax_kernels(r);
  register_index_kernels(r);
  register_gather_scatter_kernels(r);
  register_scan_sort_kernels(r);
  register_conv_kernels(r);
  register_pool_kernels(r);
  register_attention_kernels(r);
  register_layer_norm_kernels(r);
  register_norm_kernels(r);
  register_optim_kernels(r);
  register_quantize_kernels(r);
  register_qgemm_kernels(r);
  register_data_kernels(r);
  register_rnn_kernels(r);
  register_spatial_kernels(r);
}

namespace {
// Runs at static initialisation: the build links every object of the cpu layer (see
// CMakeLists.txt), so this registration is always present.
const bool kCpuKernelsRegistered = add_kernel_registration(&register_kernels);
}  // namespace
}  // namespace nn::cpu
