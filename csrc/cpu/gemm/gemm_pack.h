// gemm_pack.h — packing of A and B blocks into microkernel panels from any strides
// (layouts in Note [GEMM packed layouts], gemm_internal.h). Transposed operands are
// handled here, by reading with the given strides; no other copy is made.
//
//   Src    — element type of the operand: float, or uint16_t (bf16 bits).
//   Packed — element type of the panels: float (fp32 kernels; bf16 is widened exactly
//            here, which is the converted bf16 fallback) or uint16_t (bf16 kernels).
//   kGroup — consecutive k stored together per row/column: 1 (fp32), 2 (bf16 pairs).
// Panels hold k_pad >= k steps (k_pad a multiple of kGroup); padding rows, columns and
// k steps are zero.
// These templates are the plain reference packers. The layouts whose packing is a
// transpose (B with unit row stride, e.g. a Linear weight; row-major A) also have
// in-register transposing packers per ISA (Note [Transposing packs],
// gemm_pack_avx512.cpp / gemm_pack_avx2.cpp) that the driver uses where they apply.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace nn {
namespace gemm {
namespace detail {

template <typename Packed, typename Src>
inline Packed convert_element(Src v) {
  if constexpr (std::is_same<Packed, Src>::value) {
    return v;
  } else {
    static_assert(std::is_same<Packed, float>::value && std::is_same<Src, uint16_t>::value,
                  "only bf16 -> float widening is supported");
    const uint32_t bits = static_cast<uint32_t>(v) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  }
}

// A block: rows [0, m) and k in [0, k) of A (A[i, kk] = a[i*rs + kk*cs]) into
// ceil(m/mr) panels of mr x k_pad, panel p at dst + p*mr*k_pad.
template <typename Src, typename Packed, int kGroup>
void pack_a_block(const Src* a, int64_t rs, int64_t cs, int64_t m, int64_t k, int mr,
                  int64_t k_pad, Packed* dst) {
  for (int64_t i0 = 0; i0 < m; i0 += mr) {
    const int64_t rows = std::min<int64_t>(mr, m - i0);
    Packed* panel = dst + i0 * k_pad;  // == (i0/mr) * mr * k_pad
    if (rows < mr || k_pad != k) std::fill(panel, panel + mr * k_pad, Packed(0));
    if (rs == 1 && cs != 1) {  // transposed A (e.g. grad_out^T in a backward): rows contiguous
      for (int64_t kk = 0; kk < k; ++kk) {
        const Src* src = a + i0 + kk * cs;
        Packed* out = panel + kk / kGroup * mr * kGroup + kk % kGroup;
        for (int64_t i = 0; i < rows; ++i) out[i * kGroup] = convert_element<Packed>(src[i]);
      }
      continue;
    }
    for (int64_t i = 0; i < rows; ++i) {
      const Src* src = a + (i0 + i) * rs;
      for (int64_t kk = 0; kk < k; ++kk) {
        const int64_t pos = (kk / kGroup * mr + i) * kGroup + kk % kGroup;
        panel[pos] = convert_element<Packed>(src[kk * cs]);
      }
    }
  }
}

// B block: k in [0, k) and columns [0, n) of B (B[kk, j] = b[kk*rs + j*cs]); writes
// panels [panel_begin, panel_end) of nr columns each, panel q at dst + q*nr*k_pad.
template <typename Src, typename Packed, int kGroup>
void pack_b_panels(const Src* b, int64_t rs, int64_t cs, int64_t k, int64_t n, int nr,
                   int64_t k_pad, int64_t panel_begin, int64_t panel_end, Packed* dst) {
  for (int64_t q = panel_begin; q < panel_end; ++q) {
    const int64_t j0 = q * nr;
    const int64_t cols = std::min<int64_t>(nr, n - j0);
    Packed* panel = dst + q * nr * k_pad;
    if (cols < nr || k_pad != k) std::fill(panel, panel + nr * k_pad, Packed(0));
    if (kGroup == 1 && cs == 1) {
      for (int64_t kk = 0; kk < k; ++kk) {
        const Src* src = b + kk * rs + j0;
        Packed* out = panel + kk * nr;
        for (int64_t j = 0; j < cols; ++j) out[j] = convert_element<Packed>(src[j]);
      }
    } else if (rs == 1) {
      for (int64_t j = 0; j < cols; ++j) {
        const Src* src = b + (j0 + j) * cs;
        for (int64_t kk = 0; kk < k; ++kk) {
          panel[(kk / kGroup * nr + j) * kGroup + kk % kGroup] = convert_element<Packed>(src[kk]);
        }
      }
    } else {
      for (int64_t kk = 0; kk < k; ++kk) {
        const Src* src = b + kk * rs + j0 * cs;
        const int64_t base = kk / kGroup * nr * kGroup + kk % kGroup;
        for (int64_t j = 0; j < cols; ++j) {
          panel[base + j * kGroup] = convert_element<Packed>(src[j * cs]);
        }
      }
    }
  }
}

}  // namespace detail
}  // namespace gemm
}  // namespace nn
