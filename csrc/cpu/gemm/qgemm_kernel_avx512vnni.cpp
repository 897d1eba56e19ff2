// qgemm_kernel_avx512vnni.cpp — the AVX-512 VNNI int8 microkernel qgemm_avx512vnni_14x32
// and the AVX-512 int8 epilogue (Note [QGEMM epilogue] in qgemm.h).
//
// Microkernel contract (see Note [QGEMM packed layouts] in qgemm_internal.h):
//   register tile: MR x NR = 14 x 32 int32, in 28 zmm accumulators (2 per row). Per k
//     group (4 k steps) it loads two B vectors (64 bytes each: 16 columns x 4 int8), and
//     for each row broadcasts 4 uint8 of A as one dword; vpdpbusd (_mm512_dpbusd_epi32)
//     multiplies u8 x s8 pairwise and adds the 4 products of each lane to the int32
//     accumulator without saturation (28 vpdpbusd, 16 loads per group).
//   a_panel: u8 format, a[g*14*4 + i*4 + t] = A[i, 4g+t], zero padded.
//   b_panel: 64-byte aligned, b[g*128 + j*4 + t] = B[4g+t, j], zero padded columns.
//   output: rows [0, m) x 32 columns of int32 sums to acc (row stride 32); m < 14 is a
//     separate instantiation that keeps only m rows of accumulators. The driver applies
//     the epilogue to the valid m x n part, so nothing outside C's tile is touched.
//   overflow: each lane sums K products |a*b| <= 255*128; K <= kQgemmMaxK keeps it exact.
// GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsic headers (GCC bug
// 105593); it is a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "cpu/gemm/gemm_internal.h"
#include "cpu/gemm/qgemm_internal.h"

namespace nn {
namespace gemm {
namespace detail {
namespace {

constexpr int kMr = 14;

template <int kRows>
void qgemm_avx512vnni_14x32_rows(int64_t kg, const uint8_t* a, const int8_t* b, int32_t* acc) {
  __m512i lo[kRows];
  __m512i hi[kRows];
#pragma GCC unroll 14
  for (int i = 0; i < kRows; ++i) {
    lo[i] = _mm512_setzero_si512();
    hi[i] = _mm512_setzero_si512();
  }
#pragma GCC unroll 2
  for (int64_t g = 0; g < kg; ++g) {
    const __m512i b_lo = _mm512_load_si512(b);
    const __m512i b_hi = _mm512_load_si512(b + 64);
    _mm_prefetch(reinterpret_cast<const char*>(b + 1024), _MM_HINT_T0);
#pragma GCC unroll 14
    for (int i = 0; i < kRows; ++i) {
      int32_t quad;
      std::memcpy(&quad, a + i * 4, sizeof(quad));
      const __m512i ai = _mm512_set1_epi32(quad);
      lo[i] = _mm512_dpbusd_epi32(lo[i], ai, b_lo);
      hi[i] = _mm512_dpbusd_epi32(hi[i], ai, b_hi);
    }
    a += kMr * 4;
    b += 128;
  }
#pragma GCC unroll 14
  for (int i = 0; i < kRows; ++i) {
    _mm512_store_si512(acc + i * 32, lo[i]);
    _mm512_store_si512(acc + i * 32 + 16, hi[i]);
  }
}

using RowsKernel = void (*)(int64_t, const uint8_t*, const int8_t*, int32_t*);
constexpr RowsKernel kRowsKernels[kMr] = {
    &qgemm_avx512vnni_14x32_rows<1>,  &qgemm_avx512vnni_14x32_rows<2>,
    &qgemm_avx512vnni_14x32_rows<3>,  &qgemm_avx512vnni_14x32_rows<4>,
    &qgemm_avx512vnni_14x32_rows<5>,  &qgemm_avx512vnni_14x32_rows<6>,
    &qgemm_avx512vnni_14x32_rows<7>,  &qgemm_avx512vnni_14x32_rows<8>,
    &qgemm_avx512vnni_14x32_rows<9>,  &qgemm_avx512vnni_14x32_rows<10>,
    &qgemm_avx512vnni_14x32_rows<11>, &qgemm_avx512vnni_14x32_rows<12>,
    &qgemm_avx512vnni_14x32_rows<13>, &qgemm_avx512vnni_14x32_rows<14>};

void qgemm_avx512vnni_14x32(int64_t kg, const void* a_panel, const int8_t* b_panel, int32_t* acc,
                            int m) {
  kRowsKernels[m - 1](kg, static_cast<const uint8_t*>(a_panel), b_panel, acc);
}

inline __mmask16 lane_mask(int count) {
  if (count >= 16) return static_cast<__mmask16>(0xffff);
  if (count <= 0) return 0;
  return static_cast<__mmask16>((1u << count) - 1u);
}

// 16 lanes of one row: accz -> float epilogue -> store (Note [QGEMM epilogue]).
inline void epilogue_lanes(__m512i acc, __m512i za, __m512i col_sums, __m512 sa, __m512 sb,
                           __m512 bias, __mmask16 mask, void* c, const QEpilogue& ep) {
  const __m512i accz = _mm512_sub_epi32(acc, _mm512_mullo_epi32(za, col_sums));
  if (ep.output == QOutput::Int32) {
    _mm512_mask_storeu_epi32(c, mask, accz);
    return;
  }
  const __m512 s = _mm512_mul_ps(sa, sb);
  __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(accz), s, bias);
  if (ep.act == Activation::Relu) v = _mm512_max_ps(_mm512_setzero_ps(), v);
  if (ep.output == QOutput::Float32) {
    _mm512_mask_storeu_ps(c, mask, v);
    return;
  }
  const bool is_u8 = ep.output == QOutput::UInt8;
  __m512 r = _mm512_div_ps(v, _mm512_set1_ps(ep.out_scale));
  r = _mm512_roundscale_ps(r, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm512_add_ps(r, _mm512_set1_ps(static_cast<float>(ep.out_zero_point)));
  r = _mm512_max_ps(r, _mm512_set1_ps(is_u8 ? 0.0f : -128.0f));  // NaN -> qmin (second operand)
  r = _mm512_min_ps(r, _mm512_set1_ps(is_u8 ? 255.0f : 127.0f));
  const __m512i q = _mm512_cvtps_epi32(r);  // already integral
  _mm512_mask_cvtepi32_storeu_epi8(c, mask, q);
}

}  // namespace

// Unit column stride only; Gelu and strided C go through the scalar epilogue.
void qepilogue_avx512(const QTile& t, const QEpilogue& ep) {
  if (ep.act == Activation::Gelu || t.c_cs != 1) return qepilogue_scalar(t, ep);
  const int64_t esize = (ep.output == QOutput::Float32 || ep.output == QOutput::Int32) ? 4 : 1;
  const __mmask16 m_lo = lane_mask(t.n), m_hi = lane_mask(t.n - 16);
  const __m512i cs_lo = _mm512_maskz_loadu_epi32(m_lo, t.col_sums);
  const __m512i cs_hi = _mm512_maskz_loadu_epi32(m_hi, t.col_sums + 16);
  __m512 sb_lo = _mm512_set1_ps(t.b_scale), sb_hi = sb_lo;
  if (t.b_scales) {
    sb_lo = _mm512_maskz_loadu_ps(m_lo, t.b_scales);
    sb_hi = _mm512_maskz_loadu_ps(m_hi, t.b_scales + 16);
  }
  __m512 bias_lo = _mm512_setzero_ps(), bias_hi = bias_lo;
  if (ep.bias) {
    bias_lo = _mm512_maskz_loadu_ps(m_lo, ep.bias + t.col0);
    bias_hi = _mm512_maskz_loadu_ps(m_hi, ep.bias + t.col0 + 16);
  }
  for (int i = 0; i < t.m; ++i) {
    const int64_t row = t.row0 + i;
    const __m512i za = _mm512_set1_epi32(ep.a_zero_points ? ep.a_zero_points[row] : ep.a_zero_point);
    const __m512 sa = _mm512_set1_ps(ep.a_scales ? ep.a_scales[row] : ep.a_scale);
    char* crow = static_cast<char*>(t.c) + i * t.c_rs * esize;
    epilogue_lanes(_mm512_load_si512(t.acc + i * 32), za, cs_lo, sa, sb_lo, bias_lo, m_lo, crow, ep);
    if (t.n > 16) {
      epilogue_lanes(_mm512_load_si512(t.acc + i * 32 + 16), za, cs_hi, sa, sb_hi, bias_hi, m_hi,
                     crow + 16 * esize, ep);
    }
  }
}

// The driver streams B panels (Kp*32 bytes) over an A block of up to qgemm_block_rows()
// rows kept in L2; see qgemm_driver.cpp.
const QgemmKernelInfo& qgemm_kernel_avx512vnni() {
  static const QgemmKernelInfo info{"qgemm_avx512vnni_14x32", kMr, QPackA::U8, qgemm_avx512vnni_14x32};
  return info;
}

}  // namespace detail
}  // namespace gemm
}  // namespace nn
