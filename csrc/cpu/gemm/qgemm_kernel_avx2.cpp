// qgemm_kernel_avx2.cpp — the AVX2 int8 microkernels (for chips without AVX-512 VNNI):
// qgemm_avx2_u7_6x16 for 7-bit activations (every A value <= 127, what dynamic
// quantization produces on AVX2) and the exact 8-bit fallback qgemm_avx2_6x8.
//
// Note [AVX2 int8 saturation]: the classic AVX2 sequence vpmaddubsw (u8 x s8 -> s16,
// adding adjacent pairs with SATURATION) + vpmaddwd(ones) is not exact for 8-bit
// activations: a pair 255*127 + 255*127 = 64770 does not fit in int16. With 7-bit
// activations (0..127) it is: |a0*b0 + a1*b1| <= 2*127*128 = 32512 < 32767. So:
//   - qgemm_avx2_u7_6x16 uses vpmaddubsw + vpmaddwd(ones) + vpaddd: 3 instructions per
//     32 multiply-adds (2 on the multiply ports), twice the multiply-adds per
//     instruction of the float32 FMA kernel. It is only exact for A <= 127, so the
//     driver (qgemm_driver.cpp) runs it only on A blocks whose bytes OR to < 128
//     (QgemmKernelInfo::a_max), checked on the packed block.
//   - qgemm_avx2_6x8 keeps full 8-bit activations exact by widening: A is packed as
//     int16 (zero-extended u8), B's int8 bytes are sign-extended to int16 (vpmovsxbw)
//     once per k group and reused for all 6 rows, and vpmaddwd (s16 x s16, adjacent
//     pairs added into int32) cannot overflow: |a0*b0 + a1*b1| <= 2*255*128 = 65280.
//     It runs every block with a value above 127 (QgemmKernelInfo::wide), so any u8
//     input gets the exact product.
// Dynamic quantization picks 0..127 on this path (qgemm_dynamic_qmax() in qgemm.h).
// The file also holds the AVX2 int8 epilogue qepilogue_avx2 (Note [QGEMM epilogue] in
// qgemm.h), bit-identical to qepilogue_scalar.
//
// Microkernel contract (Note [QGEMM packed layouts] in qgemm_internal.h):
//   b_panel (both kernels): 64-byte aligned, b[g*128 + j*4 + t] = B[4g+t, j].
//   output: rows [0, m) x 32 columns of int32 sums to acc (row stride 32); m < 6 is a
//     separate instantiation that keeps only m rows of accumulators.
//   qgemm_avx2_u7_6x16: a_panel u8 format, a[g*6*4 + i*4 + t] = A[i, 4g+t], zero padded.
//     Register tile 6 rows x 16 columns, 12 ymm accumulators (2 per row: columns 0-7
//     and 8-15 of the pass, lane j = column j, the 4 k of a group already summed); the
//     32 columns of a panel are 2 passes, each reading one 64-byte line of every
//     128-byte k group of B (the A panel stays in L1). Per group and row: one dword
//     broadcast of A, then per 8 columns vpmaddubsw(a, b) -> 16 s16 pair sums,
//     vpmaddwd(., ones) -> 8 s32 group sums, vpaddd into the accumulator.
//   qgemm_avx2_6x8: a_panel s16 format, a[g*6*4 + i*4 + t] = A[i, 4g+t] as int16, zero
//     padded. Register tile 6 rows x 8 columns per pass, 12 ymm accumulators; each
//     holds 4 columns x 2 partial sums (k pairs {0,1} and {2,3} of each group); the 32
//     columns of a panel are 4 passes. Partial sums are combined with vphaddd at the end.
#include <immintrin.h>

#include <cstring>

#include "cpu/gemm/qgemm_internal.h"

namespace nn {
namespace gemm {
namespace detail {
namespace {

constexpr int kMr = 6;

template <int kRows>
void qgemm_avx2_6x8_rows(int64_t kg, const int16_t* a_panel, const int8_t* b_panel, int32_t* acc) {
  for (int quarter = 0; quarter < 4; ++quarter) {
    __m256i s0[kRows], s1[kRows];  // columns 0-3 and 4-7 of this quarter, 2 partials each
    for (int i = 0; i < kRows; ++i) {
      s0[i] = _mm256_setzero_si256();
      s1[i] = _mm256_setzero_si256();
    }
    const int16_t* a = a_panel;
    const int8_t* b = b_panel + quarter * 32;
    for (int64_t g = 0; g < kg; ++g) {
      const __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b)));
      const __m256i b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16)));
#pragma GCC unroll 6
      for (int i = 0; i < kRows; ++i) {
        int64_t four;
        std::memcpy(&four, a + i * 4, sizeof(four));
        const __m256i ai = _mm256_set1_epi64x(four);
        s0[i] = _mm256_add_epi32(s0[i], _mm256_madd_epi16(ai, b0));
        s1[i] = _mm256_add_epi32(s1[i], _mm256_madd_epi16(ai, b1));
      }
      a += kMr * 4;
      b += 128;
    }
    for (int i = 0; i < kRows; ++i) {
      // hadd -> columns (0,1,4,5 | 2,3,6,7); the permute restores 0..7.
      const __m256i h = _mm256_hadd_epi32(s0[i], s1[i]);
      const __m256i cols = _mm256_permute4x64_epi64(h, 0xd8);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + i * 32 + quarter * 8), cols);
    }
  }
}

using RowsKernel = void (*)(int64_t, const int16_t*, const int8_t*, int32_t*);
constexpr RowsKernel kRowsKernels[kMr] = {&qgemm_avx2_6x8_rows<1>, &qgemm_avx2_6x8_rows<2>,
                                          &qgemm_avx2_6x8_rows<3>, &qgemm_avx2_6x8_rows<4>,
                                          &qgemm_avx2_6x8_rows<5>, &qgemm_avx2_6x8_rows<6>};

// vpmaddubsw with the signed operand (32 bytes of B) read from memory. 12 accumulators,
// the broadcast A, the ones and a temporary fill 15 of the 16 ymm registers; with the
// two B vectors in registers as well (what the compiler picks for the intrinsic) one
// accumulator would live on the stack. The asm keeps B a memory operand (L1 loads are
// cheap here: 2 per group and row against 6 vector instructions).
inline __m256i maddubs_b(__m256i a_u8, const int8_t* b) {
  __m256i r;
  asm("vpmaddubsw %2, %1, %0" : "=x"(r) : "x"(a_u8), "m"(*reinterpret_cast<const __m256i*>(b)));
  return r;
}

// 7-bit activations (Note [AVX2 int8 saturation]): exact only when every A value <= 127.
template <int kRows>
void qgemm_avx2_u7_6x16_rows(int64_t kg, const uint8_t* a_panel, const int8_t* b_panel, int32_t* acc) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (int half = 0; half < 2; ++half) {
    __m256i c0[kRows], c1[kRows];  // columns 0-7 and 8-15 of this half
#pragma GCC unroll 6
    for (int i = 0; i < kRows; ++i) {
      c0[i] = _mm256_setzero_si256();
      c1[i] = _mm256_setzero_si256();
    }
    const uint8_t* a = a_panel;
    const int8_t* b = b_panel + half * 64;
#pragma GCC unroll 2
    for (int64_t g = 0; g < kg; ++g) {
#pragma GCC unroll 6
      for (int i = 0; i < kRows; ++i) {
        int32_t quad;
        std::memcpy(&quad, a + i * 4, sizeof(quad));
        const __m256i ai = _mm256_set1_epi32(quad);
        c0[i] = _mm256_add_epi32(c0[i], _mm256_madd_epi16(maddubs_b(ai, b), ones));
        c1[i] = _mm256_add_epi32(c1[i], _mm256_madd_epi16(maddubs_b(ai, b + 32), ones));
      }
      a += kMr * 4;
      b += 128;
    }
#pragma GCC unroll 6
    for (int i = 0; i < kRows; ++i) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(acc + i * 32 + half * 16), c0[i]);
      _mm256_store_si256(reinterpret_cast<__m256i*>(acc + i * 32 + half * 16 + 8), c1[i]);
    }
  }
}

using U7RowsKernel = void (*)(int64_t, const uint8_t*, const int8_t*, int32_t*);
constexpr U7RowsKernel kU7RowsKernels[kMr] = {
    &qgemm_avx2_u7_6x16_rows<1>, &qgemm_avx2_u7_6x16_rows<2>, &qgemm_avx2_u7_6x16_rows<3>,
    &qgemm_avx2_u7_6x16_rows<4>, &qgemm_avx2_u7_6x16_rows<5>, &qgemm_avx2_u7_6x16_rows<6>};

void qgemm_avx2_u7_6x16(int64_t kg, const void* a_panel, const int8_t* b_panel, int32_t* acc, int m) {
  kU7RowsKernels[m - 1](kg, static_cast<const uint8_t*>(a_panel), b_panel, acc);
}

void qgemm_avx2_6x8(int64_t kg, const void* a_panel, const int8_t* b_panel, int32_t* acc, int m) {
  kRowsKernels[m - 1](kg, static_cast<const int16_t*>(a_panel), b_panel, acc);
}

// 8 lanes of one row: accz -> float epilogue -> store (Note [QGEMM epilogue]); the same
// operations as qepilogue_scalar (wrapping int32 correction, one multiply for the scale,
// one fma, relu as max(0, v), requantize by division, round half to even, clamp with
// NaN -> qmin), so results are bit-identical.
inline void epilogue8(__m256i acc, __m256i za, __m256i col_sums, __m256 sa, __m256 sb, __m256 bias, void* c,
                      const QEpilogue& ep) {
  const __m256i accz = _mm256_sub_epi32(acc, _mm256_mullo_epi32(za, col_sums));
  if (ep.output == QOutput::Int32) {
    _mm256_storeu_si256(static_cast<__m256i*>(c), accz);
    return;
  }
  const __m256 s = _mm256_mul_ps(sa, sb);
  __m256 v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(accz), s, bias);
  if (ep.act == Activation::Relu) v = _mm256_max_ps(_mm256_setzero_ps(), v);
  if (ep.output == QOutput::Float32) {
    _mm256_storeu_ps(static_cast<float*>(c), v);
    return;
  }
  const bool is_u8 = ep.output == QOutput::UInt8;
  __m256 r = _mm256_div_ps(v, _mm256_set1_ps(ep.out_scale));
  r = _mm256_round_ps(r, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm256_add_ps(r, _mm256_set1_ps(static_cast<float>(ep.out_zero_point)));
  r = _mm256_max_ps(r, _mm256_set1_ps(is_u8 ? 0.0f : -128.0f));  // NaN -> qmin (second operand)
  r = _mm256_min_ps(r, _mm256_set1_ps(is_u8 ? 255.0f : 127.0f));
  const __m256i q = _mm256_cvtps_epi32(r);  // already integral and in the byte range
  const __m256i w = _mm256_packs_epi32(q, q);  // per 128-bit lane: q0-3 q0-3 | q4-7 q4-7
  const __m256i b = is_u8 ? _mm256_packus_epi16(w, w) : _mm256_packs_epi16(w, w);
  const __m256i bytes = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4));
  _mm_storel_epi64(static_cast<__m128i*>(c), _mm256_castsi256_si128(bytes));
}

}  // namespace

// Unit column stride only, 8 columns at a time; Gelu, strided C and the last n % 8
// columns go through the scalar epilogue.
void qepilogue_avx2(const QTile& t, const QEpilogue& ep) {
  if (ep.act == Activation::Gelu || t.c_cs != 1) return qepilogue_scalar(t, ep);
  const int64_t esize = (ep.output == QOutput::Float32 || ep.output == QOutput::Int32) ? 4 : 1;
  const int full = t.n / 8 * 8;
  for (int j = 0; j < full; j += 8) {
    const __m256i cs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.col_sums + j));
    const __m256 sb = t.b_scales ? _mm256_loadu_ps(t.b_scales + j) : _mm256_set1_ps(t.b_scale);
    const __m256 bias = ep.bias ? _mm256_loadu_ps(ep.bias + t.col0 + j) : _mm256_setzero_ps();
    for (int i = 0; i < t.m; ++i) {
      const int64_t row = t.row0 + i;
      const __m256i za = _mm256_set1_epi32(ep.a_zero_points ? ep.a_zero_points[row] : ep.a_zero_point);
      const __m256 sa = _mm256_set1_ps(ep.a_scales ? ep.a_scales[row] : ep.a_scale);
      char* c = static_cast<char*>(t.c) + (i * t.c_rs + j) * esize;
      epilogue8(_mm256_load_si256(reinterpret_cast<const __m256i*>(t.acc + i * 32 + j)), za, cs, sa, sb, bias, c, ep);
    }
  }
  if (full < t.n) {
    const QTile rest{t.acc + full, t.m, t.n - full, t.row0, t.col0 + full, t.col_sums + full,
                     t.b_scales ? t.b_scales + full : nullptr, t.b_scale,
                     static_cast<char*>(t.c) + full * esize, t.c_rs, t.c_cs};
    qepilogue_scalar(rest, ep);
  }
}

// The 7-bit kernel, with the exact 8-bit one for blocks that have a value above 127.
const QgemmKernelInfo& qgemm_kernel_avx2() {
  static const QgemmKernelInfo wide{"qgemm_avx2_6x8", kMr, QPackA::S16, qgemm_avx2_6x8};
  static const QgemmKernelInfo info{"qgemm_avx2_u7_6x16", kMr, QPackA::U8, qgemm_avx2_u7_6x16, nullptr, 127, &wide};
  return info;
}

}  // namespace detail
}  // namespace gemm
}  // namespace nn
