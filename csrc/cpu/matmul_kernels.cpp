// matmul_kernels.cpp — the batched matmul kernel: out[b] = a[b] @ b[b].
//
// Layout: a (B, M, K), b (B, K, N) with any strides (batch stride 0 = broadcast), out
// (B, M, N) contiguous float32/float64. float32 and bfloat16 operands go to the packed
// GEMM (csrc/cpu/gemm, bf16 accumulating in float32 into a float32 out); float64, and
// operands with negative strides, take matmul_reference: i-k-j loops, float64
// accumulation order per output row, threads over the B*M rows. The reference is also
// what the tests compare the GEMM paths against (nn_core._C._matmul_reference).
#include "cpu/dtype_dispatch.h"
#include "cpu/gemm/gemm.h"
#include "cpu/kernels.h"
#include "core/parallel.h"

namespace nn::cpu {

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

namespace {

bool strides_nonnegative(const Tensor& t) {
  for (int64_t s : t.strides())
    if (s < 0) return false;
  return true;
}

void matmul_kernel(const Tensor& a, const Tensor& b, const Tensor& out) {
  const int64_t B = out.sizes()[0], M = out.sizes()[1], N = out.sizes()[2], K = a.sizes()[2];
  const bool gemm_ok = strides_nonnegative(a) && strides_nonnegative(b);
  if (a.dtype() == DType::Float32 && gemm_ok) {
    gemm::sgemm_batched(B, M, N, K, a.data<float>(), a.strides()[0], a.strides()[1], a.strides()[2], b.data<float>(),
                        b.strides()[0], b.strides()[1], b.strides()[2], out.data<float>(), M * N, N, 1, gemm::Epilogue{});
    return;
  }
  if (a.dtype() == DType::BFloat16) {
    NN_CHECK(gemm_ok && out.dtype() == DType::Float32, RuntimeError,
             "matmul: bfloat16 kernel needs non-negative strides and a float32 output");
    gemm::bf16gemm_batched(B, M, N, K, a.data<uint16_t>(), a.strides()[0], a.strides()[1], a.strides()[2],
                           b.data<uint16_t>(), b.strides()[0], b.strides()[1], b.strides()[2], out.data<float>(),
                           M * N, N, 1, gemm::Epilogue{});
    return;
  }
  matmul_reference(a, b, out);
}

gemm::Epilogue to_gemm_epilogue(const GemmEpilogue& ep) {
  gemm::Epilogue e;
  e.alpha = static_cast<float>(ep.alpha);
  e.beta = static_cast<float>(ep.beta);
  if (ep.bias.defined()) {
    e.bias = ep.bias.data<float>();
    e.bias_kind = gemm::BiasKind::PerColumn;
  }
  e.act = ep.act == GemmActivation::Relu ? gemm::Activation::Relu
          : ep.act == GemmActivation::Gelu ? gemm::Activation::Gelu : gemm::Activation::None;
  return e;
}

// linear / addmm: one 2-D product with the fused epilogue.
void gemm_kernel(const Tensor& a, const Tensor& b, const Tensor& out, const GemmEpilogue& ep) {
  const int64_t M = a.sizes()[0], K = a.sizes()[1], N = b.sizes()[1];
  NN_CHECK(strides_nonnegative(a) && strides_nonnegative(b), RuntimeError, "gemm: negative strides");
  const gemm::Epilogue e = to_gemm_epilogue(ep);
  if (a.dtype() == DType::Float32) {
    gemm::sgemm(M, N, K, a.data<float>(), a.strides()[0], a.strides()[1], b.data<float>(), b.strides()[0],
                b.strides()[1], out.data<float>(), out.strides()[0], out.strides()[1], e);
  } else if (a.dtype() == DType::BFloat16) {
    gemm::bf16gemm(M, N, K, a.data<uint16_t>(), a.strides()[0], a.strides()[1], b.data<uint16_t>(), b.strides()[0],
                   b.strides()[1], out.data<float>(), out.strides()[0], out.strides()[1], e);
  } else {
    throw DTypeError(str("gemm: no fused kernel for ", a.dtype()));
  }
}

}  // namespace

void register_matmul_kernels(KernelRegistry& r) {
  r.matmul.set(OpId::matmul, DeviceType::CPU, &matmul_kernel);
  r.matmul.set(OpId::bmm, DeviceType::CPU, &matmul_kernel);
  r.gemm.set(OpId::linear, DeviceType::CPU, &gemm_kernel);
  r.gemm.set(OpId::addmm, DeviceType::CPU, &gemm_kernel);
}

}  // namespace nn::cpu
