// gemm_ref.cpp — the plain-loop reference GEMM (gemm_ref<float|double>, bf16gemm_ref)
// and the bf16 conversion helpers. Every fast path falls back to these.
#include <cmath>
#include <cstring>
#include <vector>

#include "cpu/gemm/gemm.h"

#include "core/dtype.h"

namespace nn {
namespace gemm {

namespace {
template <typename Acc>
Acc apply_activation(Acc x, Activation act) {
  switch (act) {
    case Activation::None:
      return x;
    case Activation::Relu:
      return x < Acc(0) ? Acc(0) : x;  // NaN stays NaN
    case Activation::Gelu:
      return Acc(0.5) * x * (Acc(1) + std::erf(x * Acc(0.70710678118654752440)));
  }
  return x;
}
}  // namespace

template <typename T>
void gemm_ref(int64_t M, int64_t N, int64_t K,
              const T* A, int64_t a_rs, int64_t a_cs,
              const T* B, int64_t b_rs, int64_t b_cs,
              T* C, int64_t c_rs, int64_t c_cs, const Epilogue& ep) {
  // float accumulates in double; double in double.
  using Acc = double;
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      Acc acc = 0;
      for (int64_t k = 0; k < K; ++k) {
        acc += Acc(A[m * a_rs + k * a_cs]) * Acc(B[k * b_rs + n * b_cs]);
      }
      T& c = C[m * c_rs + n * c_cs];
      Acc v = acc * Acc(ep.alpha);
      if (ep.beta != 0.0f) v += Acc(ep.beta) * Acc(c);
      if (ep.bias != nullptr && ep.bias_kind == BiasKind::PerColumn) v += Acc(ep.bias[n]);
      if (ep.bias != nullptr && ep.bias_kind == BiasKind::PerRow) v += Acc(ep.bias[m]);
      c = T(apply_activation(v, ep.act));
    }
  }
}

template void gemm_ref<float>(int64_t, int64_t, int64_t, const float*, int64_t, int64_t,
                              const float*, int64_t, int64_t, float*, int64_t, int64_t,
                              const Epilogue&);
template void gemm_ref<double>(int64_t, int64_t, int64_t, const double*, int64_t, int64_t,
                               const double*, int64_t, int64_t, double*, int64_t, int64_t,
                               const Epilogue&);

void bf16gemm_ref(int64_t M, int64_t N, int64_t K,
                  const uint16_t* A, int64_t a_rs, int64_t a_cs,
                  const uint16_t* B, int64_t b_rs, int64_t b_cs,
                  float* C, int64_t c_rs, int64_t c_cs, const Epilogue& ep) {
  std::vector<float> a(static_cast<size_t>(M * K)), b(static_cast<size_t>(K * N));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) a[m * K + k] = nn::bf16_to_float(A[m * a_rs + k * a_cs]);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) b[k * N + n] = nn::bf16_to_float(B[k * b_rs + n * b_cs]);
  gemm_ref<float>(M, N, K, a.data(), K, 1, b.data(), N, 1, C, c_rs, c_cs, ep);
}

}  // namespace gemm
}  // namespace nn
