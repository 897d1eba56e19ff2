// matmul_kernels.cpp — the batched matmul kernel: out[b] = a[b] @ b[b].
//
// Layout: a (B, M, K), b (B, K, N) with any strides, out (B, M, N) contiguous; float32
// accumulates in float32 in the i-k-j order (each output row is a sum of scaled rows of
// b, which the compiler vectorises), float64 in float64. Threads split the B*M output
// rows. This is the plain reference kernel; the packed GEMM (csrc/cpu/gemm) replaces it
// for speed and is tested against it.
#include "cpu/dtype_dispatch.h"
#include "cpu/kernels.h"
#include "core/parallel.h"

namespace nn::cpu {
namespace {

void matmul_reference(const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_float_dtype(a.dtype(), "matmul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t B = out.sizes()[0], M = out.sizes()[1], N = out.sizes()[2], K = a.sizes()[2];
    const int64_t abs_ = a.strides()[0], ars = a.strides()[1], acs = a.strides()[2];
    const int64_t bbs = b.strides()[0], brs = b.strides()[1], bcs = b.strides()[2];
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pc = out.data<T>();
    const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(K * N, 1));
    parallel_for(0, B * M, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t bi = r / M, i = r % M;
        T* crow = pc + (bi * M + i) * N;
        for (int64_t j = 0; j < N; ++j) crow[j] = T(0);
        const T* arow = pa + bi * abs_ + i * ars;
        const T* bmat = pb + bi * bbs;
        for (int64_t k = 0; k < K; ++k) {
          const T av = arow[k * acs];
          const T* brow = bmat + k * brs;
          if (bcs == 1) {
            for (int64_t j = 0; j < N; ++j) crow[j] += av * brow[j];
          } else {
            for (int64_t j = 0; j < N; ++j) crow[j] += av * brow[j * bcs];
          }
        }
      }
    });
  });
}

}  // namespace

void register_matmul_kernels(KernelRegistry& r) { r.matmul.set(OpId::matmul, DeviceType::CPU, &matmul_reference); }

}  // namespace nn::cpu
