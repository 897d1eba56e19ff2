// gemm_kernel_generic.cpp — portable C++ pieces of the GEMM: the scalar epilogue
// helpers every path shares, the generic 4x16 microkernel, and the generic small-M
// kernels. These compile without ISA flags and run on any CPU.
//
// Microkernel contract (sgemm_generic_4x16), see Note [GEMM packed layouts]:
//   register tile MR x NR = 4 x 16 (a local float array; the compiler vectorizes it);
//   a_panel: kc x 4 k-major, b_panel: kc x 16 k-major, both zero padded at edges;
//   C tile m x n (m <= 4, n <= 16), unit column stride; beta == 0 never reads C;
//   edges: the full tile is computed and only the valid m x n part is written.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/cpu_features.h"
#include "cpu/gemm/gemm_internal.h"
#include "cpu/kernels.h"

namespace nn {
namespace gemm {
namespace detail {

float gelu_exact(float x) {
  return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752440f));
}

void apply_epilogue_scalar(const float* acc, int64_t acc_rs, float* c, int64_t c_rs,
                           int64_t c_cs, int64_t m, int64_t n, const TileEpilogue& ep) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float v = ep.alpha * acc[i * acc_rs + j];
      float& out = c[i * c_rs + j * c_cs];
      if (ep.beta != 0.0f) v += ep.beta * out;
      if (ep.bias != nullptr) {
        if (ep.bias_kind == BiasKind::PerColumn) v += ep.bias[j];
        if (ep.bias_kind == BiasKind::PerRow) v += ep.bias[i];
      }
      if (ep.act == Activation::Relu) v = v < 0.0f ? 0.0f : v;  // NaN stays NaN
      if (ep.act == Activation::Gelu) v = gelu_exact(v);
      out = v;
    }
  }
}

// The stored tile's rows through the active ISA's vectorised GELU (cpu/vec_math.h,
// within ~1e-6 relative of gelu_exact; the scalar epilogue keeps std::erf).
void apply_gelu_tile(float* c, int64_t c_rs, int m, int n) {
  using Loop = void (*)(const float*, float*, int64_t);
  Loop loop = &cpu::gelu_f32_generic;
#if defined(NN_CORE_X86)
  const cpu::Isa isa = cpu::active_isa();
  if (isa == cpu::Isa::Avx512) loop = &cpu::gelu_f32_avx512;
  if (isa == cpu::Isa::Avx2) loop = &cpu::gelu_f32_avx2;
#endif
  for (int i = 0; i < m; ++i) loop(c + i * c_rs, c + i * c_rs, n);
}

namespace {

constexpr int kGenericMr = 4;
constexpr int kGenericNr = 16;

void sgemm_generic_4x16(int64_t kc, const float* a_panel, const float* b_panel, float* c,
                        int64_t c_rs, int m, int n, const TileEpilogue& ep) {
  float acc[kGenericMr][kGenericNr] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const float* a = a_panel + k * kGenericMr;
    const float* b = b_panel + k * kGenericNr;
    for (int i = 0; i < kGenericMr; ++i)
      for (int j = 0; j < kGenericNr; ++j) acc[i][j] += a[i] * b[j];
  }
  apply_epilogue_scalar(&acc[0][0], kGenericNr, c, c_rs, 1, m, n, ep);
}

TileEpilogue full_epilogue(const Epilogue& ep, int64_t row0, int64_t col0) {
  TileEpilogue t{ep.alpha, ep.beta, nullptr, ep.bias_kind, ep.act};
  if (ep.bias != nullptr && ep.bias_kind == BiasKind::PerColumn) t.bias = ep.bias + col0;
  if (ep.bias != nullptr && ep.bias_kind == BiasKind::PerRow) t.bias = ep.bias + row0;
  return t;
}

}  // namespace

const SgemmKernelInfo& sgemm_kernel_generic() {
  static const SgemmKernelInfo info{"sgemm_generic_4x16", kGenericMr, kGenericNr,
                                    /*mc=*/128, /*kc=*/256, /*nc=*/2048, sgemm_generic_4x16};
  return info;
}

// Note [Small-M GEMM]: with M <= 4 rows the product is bound by reading B once, so
// B is streamed in its own layout (no packing) and the few accumulator rows stay in a
// small buffer in L1: for row-major B, k outer and contiguous columns inner (acc[i, :]
// += A[i,k] * B[k, :]); for column-major B, dot products of A rows with B columns.
void small_m_rowmajor_b_generic(const SmallMArgs& s, int64_t n_begin, int64_t n_end) {
  constexpr int64_t kColBlock = 1024;
  std::vector<float> acc(static_cast<size_t>(kSmallMMaxRows * kColBlock));
  for (int64_t n0 = n_begin; n0 < n_end; n0 += kColBlock) {
    const int64_t nb = std::min(kColBlock, n_end - n0);
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t k = 0; k < s.K; ++k) {
      const float* brow = s.B + k * s.b_rs + n0;
      for (int64_t i = 0; i < s.M; ++i) {
        const float a = s.A[i * s.a_rs + k * s.a_cs];
        float* out = acc.data() + i * kColBlock;
        for (int64_t j = 0; j < nb; ++j) out[j] += a * brow[j];
      }
    }
    apply_epilogue_scalar(acc.data(), kColBlock, s.C + n0 * s.c_cs, s.c_rs, s.c_cs, s.M, nb,
                          full_epilogue(s.ep, 0, n0));
  }
}

// Any M (the driver limits it per ISA, Note [Direct Linear-layout GEMM]); one plain dot
// product per element of C. The reference for the AVX2/AVX-512 colmajor_b kernels.
void small_m_colmajor_b_generic(const SmallMArgs& s, int64_t n_begin, int64_t n_end) {
  for (int64_t n = n_begin; n < n_end; ++n) {
    const float* bcol = s.B + n * s.b_cs;
    for (int64_t i = 0; i < s.M; ++i) {
      const float* arow = s.A + i * s.a_rs;
      float sum = 0.0f;
      for (int64_t k = 0; k < s.K; ++k) sum += arow[k] * bcol[k];
      apply_epilogue_scalar(&sum, 1, s.C + i * s.c_rs + n * s.c_cs, s.c_rs, s.c_cs, 1, 1,
                            full_epilogue(s.ep, i, n));
    }
  }
}

}  // namespace detail
}  // namespace gemm
}  // namespace nn
