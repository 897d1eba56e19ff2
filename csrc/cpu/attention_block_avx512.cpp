// attention_block_avx512.cpp — the float32 AVX-512 forward and backward tasks of the
// fused attention kernel (contracts: FwdTaskF32 / BwdTaskF32 in cpu/attention_rows.h;
// drivers and the plain references, the generic blocked kernels, in
// cpu/attention_kernels.cpp). Called only when active_isa() is Avx512.
//
// Note [Transposed score tile]: one task owns nq <= 64 query rows of one (batch, head).
// It packs Q^T (D x 64, pre-multiplied by scale * log2(e), queries >= nq zero) once, then
// walks the keys in blocks of BK = 96 and keeps the scores transposed, S^T (BK x 64: one
// row per key, the 64 queries along the vector lanes). With queries on the lanes:
//  * S^T = K Q^T reads K rows straight from the input (broadcasts of K[j][d]), so
//    neither K nor V is ever packed or copied;
//  * the online softmax (Note [Online softmax] in attention_kernels.cpp) is vertical:
//    running max, exp and row sums are per-lane vector ops, no horizontal reductions;
//  * O += P V broadcasts P^T[j][q] (contiguous in q) and reads V rows straight from the
//    input; the output rows themselves are the accumulator.
// Scores are kept in log2 units (scale * log2(e) folded into Q^T, the mask multiplied by
// log2(e)), so the softmax uses 2^x; lse = ln(2) * m + ln(l) at the end.
// The backward (one q head and one range of keys per call, query blocks of 64, key
// blocks of BK) keeps the same layout: S^T, then P^T = 2^(S^T - lse * log2(e));
// dP^T = V dO^T (the score kernel with dO^T packed like Q^T); scale * dS^T =
// scale * P^T (dP^T - Dsum); and dV += P^T dO, dQ += (scale dS^T)^T K,
// dK += (scale dS^T) Q by acc_tile, reading dO, K, Q in place.
//
// Microkernels (register tiles, all accumulators in zmm registers):
//  scores_tile<R, C>: S^T rows j..j+R-1 (R <= 6 keys) x 16*C queries (C <= 4 vectors):
//    per d, C loads of Q^T[d] and R broadcasts of K[j+r][d]; 6 x 4 = 24 accumulators.
//    Edge tiles: the key tail is a smaller R, the query tail is zero columns of Q^T.
//  pv_tile<R, NV>: O rows q..q+R-1 (R <= 6 queries) x 16*NV output columns (NV <= 4,
//    the last vector masked for the Dv tail): O = alpha[q] * O + sum_j P^T[j][q] V[j];
//    per key, NV loads of V[j] and R broadcasts of P^T[j][q]; Dv > 64 is walked in
//    64-column chunks.
//  acc_tile<R, NV>: C rows (R <= 6) x 16*NV columns += A B, A a P^T / dS^T tile read
//    along either axis (broadcasts), B rows of the inputs; edges as in pv_tile.
// exp2 is a range reduction x = k + r, |r| <= 1/2, a degree-6 polynomial for 2^r
// (relative error ~1.2e-7) and scalef for 2^k; x < -126 (masked keys: -inf) gives 0, and
// a NaN score stays NaN (its row of the output is NaN, as in the reference).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 intrinsic headers (bug 105593)
#pragma GCC diagnostic ignored "-Wuninitialized"        // the same false positive
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "cpu/attention_rows.h"

namespace nn::cpu::attn {
namespace {

constexpr int64_t BQ = kFwdBlockQ, BK = kFwdBlockK;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2 = 0.693147180559945309f;

inline __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xFFFF)
                    : left <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << left) - 1);
}

// 2^x for x <= 0 (see the header); x below -126 or -inf gives 0, NaN stays NaN.
inline __m512 exp2_512(__m512 x) {
  const __mmask16 live = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-126.0f), _CMP_NLT_UQ);
  const __m512 k = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_sub_ps(x, k);
  __m512 p = _mm512_set1_ps(1.5403530393381606e-4f);  // ln2^n / n!, n = 6 .. 0
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3333558146428443e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(9.6181291076284770e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.5504108664821580e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.24022650695910071f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kLn2));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_maskz_scalef_ps(live, p, k);
}

// In-place transpose of a 16 x 16 tile held as 16 row vectors.
inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // rows 4i .. 4i+3 interleaved: u[4i + c] holds columns c, c+4, c+8, c+12
    const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 2]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 1]), d = _mm512_castps_pd(t[4 * i + 3]);
    u[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
  }
  for (int c = 0; c < 4; ++c) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);
    const __m512 v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);
    const __m512 v2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
    const __m512 v3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
    r[c] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    r[c + 8] = _mm512_shuffle_f32x4(v0, v2, 0xdd);
    r[c + 4] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    r[c + 12] = _mm512_shuffle_f32x4(v1, v3, 0xdd);
  }
}

// Loads rows 0..15 (rows >= n_rows zero) of a row-major (stride rs) block, columns
// 0 .. n_cols - 1 (n_cols <= 16, the rest zero), each multiplied by s, and transposes.
inline void load_transposed(const float* x, int64_t rs, int64_t n_rows, int64_t n_cols, float s, __m512 r[16]) {
  const __mmask16 cm = tail_mask(n_cols);
  const __m512 vs = _mm512_set1_ps(s);
  for (int64_t i = 0; i < 16; ++i)
    r[i] = i < n_rows ? _mm512_mul_ps(_mm512_maskz_loadu_ps(cm, x + i * rs), vs) : _mm512_setzero_ps();
  transpose16(r);
}

// qt[d * BQ + q] = s * q[q][d] for q < nq, 0 for nq <= q < 16 * C.
void pack_qt(const float* q, int64_t q_rs, int64_t nq, int64_t D, float s, int C, float* qt) {
  __m512 r[16];
  for (int64_t q0 = 0; q0 < 16 * C; q0 += 16)
    for (int64_t d0 = 0; d0 < D; d0 += 16) {
      const int64_t nd = std::min<int64_t>(16, D - d0);
      load_transposed(q + q0 * q_rs + d0, q_rs, nq - q0, nd, s, r);
      for (int64_t i = 0; i < nd; ++i) _mm512_store_ps(qt + (d0 + i) * BQ + q0, r[i]);
    }
}

// st[j * BQ + q] += log2(e) * mask[q][j] for j < nk, q < nq (mask rows of stride m_rs).
void add_mask(const float* mask, int64_t m_rs, int64_t nq, int64_t nk, int C, float* st) {
  __m512 r[16];
  for (int64_t q0 = 0; q0 < 16 * C; q0 += 16)
    for (int64_t j0 = 0; j0 < nk; j0 += 16) {
      const int64_t nj = std::min<int64_t>(16, nk - j0);
      load_transposed(mask + q0 * m_rs + j0, m_rs, nq - q0, nj, kLog2e, r);
      for (int64_t i = 0; i < nj; ++i) {
        float* row = st + (j0 + i) * BQ + q0;
        _mm512_store_ps(row, _mm512_add_ps(_mm512_load_ps(row), r[i]));
      }
    }
}

// S^T rows 0..R-1 (keys k[0], k[k_rs], ...) x 16*C queries = K Q^T.
template <int R, int C>
void scores_tile(const float* qt, int64_t D, const float* k, int64_t k_rs, float* st) {
  __m512 acc[R][C];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  for (int64_t d = 0; d < D; ++d) {
    __m512 qv[C];
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) qv[c] = _mm512_load_ps(qt + d * BQ + 16 * c);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m512 kb = _mm512_set1_ps(k[r * k_rs + d]);
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(kb, qv[c], acc[r][c]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) _mm512_store_ps(st + r * BQ + 16 * c, acc[r][c]);
}

// O rows 0..R-1 (stride o_rs) x 16*NV columns = alpha[r] * O + sum_j pt[j * BQ + r] V[j];
// the last vector of each row is masked by `last`.
template <int R, int NV>
void pv_tile(const float* pt, int64_t nk, const float* v, int64_t v_rs, float* o, int64_t o_rs, const float* alpha,
             __mmask16 last) {
  __m512 acc[R][NV];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    const __m512 a = _mm512_set1_ps(alpha[r]);
#pragma GCC unroll 4
    for (int c = 0; c < NV; ++c)
      acc[r][c] = _mm512_mul_ps(_mm512_maskz_loadu_ps(c == NV - 1 ? last : 0xFFFF, o + r * o_rs + 16 * c), a);
  }
  for (int64_t j = 0; j < nk; ++j) {
    __m512 vv[NV];
#pragma GCC unroll 4
    for (int c = 0; c < NV; ++c)
      vv[c] = c == NV - 1 ? _mm512_maskz_loadu_ps(last, v + j * v_rs + 16 * c) : _mm512_loadu_ps(v + j * v_rs + 16 * c);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m512 pb = _mm512_set1_ps(pt[j * BQ + r]);
#pragma GCC unroll 4
      for (int c = 0; c < NV; ++c) acc[r][c] = _mm512_fmadd_ps(pb, vv[c], acc[r][c]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < NV; ++c) _mm512_mask_storeu_ps(o + r * o_rs + 16 * c, c == NV - 1 ? last : 0xFFFF, acc[r][c]);
}

// C rows 0..R-1 (stride c_rs) x 16*NV columns += sum_k a[r * a_rs + k * a_cs] B[k] for
// k < n (B rows of stride b_rs); the last vector of each row is masked by `last`. The
// backward's dV += P^T dO, dQ += dS K and dK += dS^T Q (A is a P^T / dS^T tile read
// along either of its axes, B rows straight from the inputs).
template <int R, int NV>
void acc_tile(const float* a, int64_t a_rs, int64_t a_cs, int64_t n, const float* b, int64_t b_rs, float* c,
              int64_t c_rs, __mmask16 last) {
  __m512 acc[R][NV];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_maskz_loadu_ps(v == NV - 1 ? last : 0xFFFF, c + r * c_rs + 16 * v);
  for (int64_t k = 0; k < n; ++k) {
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      bv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(last, b + k * b_rs + 16 * v) : _mm512_loadu_ps(b + k * b_rs + 16 * v);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m512 ab = _mm512_set1_ps(a[r * a_rs + k * a_cs]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(ab, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(c + r * c_rs + 16 * v, v == NV - 1 ? last : 0xFFFF, acc[r][v]);
}

using ScoresFn = void (*)(const float*, int64_t, const float*, int64_t, float*);
using PvFn = void (*)(const float*, int64_t, const float*, int64_t, float*, int64_t, const float*, __mmask16);

template <int C>
constexpr ScoresFn kScores[7] = {nullptr,           &scores_tile<1, C>, &scores_tile<2, C>, &scores_tile<3, C>,
                                 &scores_tile<4, C>, &scores_tile<5, C>, &scores_tile<6, C>};
template <int NV>
constexpr PvFn kPvRow[7] = {nullptr,        &pv_tile<1, NV>, &pv_tile<2, NV>, &pv_tile<3, NV>,
                            &pv_tile<4, NV>, &pv_tile<5, NV>, &pv_tile<6, NV>};
constexpr const PvFn* kPv[5] = {nullptr, kPvRow<1>, kPvRow<2>, kPvRow<3>, kPvRow<4>};

using AccFn = void (*)(const float*, int64_t, int64_t, int64_t, const float*, int64_t, float*, int64_t, __mmask16);
template <int NV>
constexpr AccFn kAccRow[7] = {nullptr,         &acc_tile<1, NV>, &acc_tile<2, NV>, &acc_tile<3, NV>,
                              &acc_tile<4, NV>, &acc_tile<5, NV>, &acc_tile<6, NV>};
constexpr const AccFn* kAcc[5] = {nullptr, kAccRow<1>, kAccRow<2>, kAccRow<3>, kAccRow<4>};

// C (rows x cols, stride c_rs) += A B with A[r][k] = a[r * a_rs + k * a_cs] (k < n) and
// B rows b + k * b_rs: acc_tile over 6-row groups and 64-column chunks.
void acc_block(const float* a, int64_t a_rs, int64_t a_cs, int64_t rows, int64_t n, const float* b, int64_t b_rs,
               float* c, int64_t c_rs, int64_t cols) {
  for (int64_t c0 = 0; c0 < cols; c0 += 64) {
    const int64_t left = std::min<int64_t>(64, cols - c0);
    const int64_t nv = (left + 15) / 16;
    const __mmask16 last = tail_mask(left - 16 * (nv - 1));
    for (int64_t r0 = 0; r0 < rows; r0 += 6)
      kAcc[nv][std::min<int64_t>(6, rows - r0)](a + r0 * a_rs, a_rs, a_cs, n, b + c0, b_rs, c + r0 * c_rs + c0, c_rs,
                                                last);
  }
}

// S^T (nk x 16*C, row stride BQ) = K Q^T for nk keys (rows of stride k_rs).
template <int C>
void scores_block(const float* qt, int64_t D, const float* k, int64_t k_rs, int64_t nk, float* st) {
  int64_t jj = 0;
  for (; jj + 6 <= nk; jj += 6) scores_tile<6, C>(qt, D, k + jj * k_rs, k_rs, st + jj * BQ);
  if (jj < nk) kScores<C>[nk - jj](qt, D, k + jj * k_rs, k_rs, st + jj * BQ);
}

// One task (Note [Transposed score tile]); C = ceil(nq / 16) query vectors.
template <int C>
void forward_task(const FwdTaskF32& t, float* scratch) {
  float* qt = scratch;               // D x BQ
  float* st = qt + t.d * BQ;         // BK x BQ
  float* alpha = st + BK * BQ;       // BQ
  float* mfin = alpha + BQ;          // BQ
  float* lfin = mfin + BQ;           // BQ
  pack_qt(t.q, t.q_rs, t.nq, t.d, t.scale * kLog2e, C, qt);
  for (int64_t r = 0; r < t.nq; ++r) std::memset(t.out + r * t.o_rs, 0, sizeof(float) * t.dv);

  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  __m512 m[C], l[C];
  for (int c = 0; c < C; ++c) m[c] = ninf, l[c] = _mm512_setzero_ps();

  for (int64_t j0 = 0; j0 < t.n_keys; j0 += BK) {
    const int64_t nk = std::min(BK, t.n_keys - j0);
    const float* kb = t.k + j0 * t.k_rs;
    scores_block<C>(qt, t.d, kb, t.k_rs, nk, st);
    if (t.mask != nullptr) add_mask(t.mask + j0, t.m_rs, t.nq, nk, C, st);

    // Block max per query; the causal cut (key j visible to query i iff j <= i) only
    // touches blocks that reach past the first query of the task.
    __m512 mb[C];
    for (int c = 0; c < C; ++c) mb[c] = ninf;
    const bool cut = t.causal && j0 + nk - 1 > t.i0;
    for (int64_t jj = 0; jj < nk; ++jj) {
      float* row = st + jj * BQ;
      const __m512i first = _mm512_set1_epi32(static_cast<int>(j0 + jj - t.i0));
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        __m512 x = _mm512_load_ps(row + 16 * c);
        if (cut) {
          const __mmask16 vis = _mm512_cmpge_epi32_mask(_mm512_add_epi32(iota, _mm512_set1_epi32(16 * c)), first);
          x = _mm512_mask_mov_ps(ninf, vis, x);
          _mm512_store_ps(row + 16 * c, x);
        }
        mb[c] = _mm512_max_ps(mb[c], x);
      }
    }
    // Online softmax update: mu is the new max with -inf (nothing visible yet) as 0.
    __m512 mu[C], al[C], ls[C];
    for (int c = 0; c < C; ++c) {
      const __m512 mnew = _mm512_max_ps(m[c], mb[c]);
      mu[c] = _mm512_mask_mov_ps(mnew, _mm512_cmp_ps_mask(mnew, ninf, _CMP_EQ_OQ), _mm512_setzero_ps());
      al[c] = exp2_512(_mm512_sub_ps(m[c], mu[c]));
      _mm512_store_ps(alpha + 16 * c, al[c]);
      m[c] = mnew;
      ls[c] = _mm512_setzero_ps();
    }
    for (int64_t jj = 0; jj < nk; ++jj) {
      float* row = st + jj * BQ;
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        const __m512 p = exp2_512(_mm512_sub_ps(_mm512_load_ps(row + 16 * c), mu[c]));
        _mm512_store_ps(row + 16 * c, p);
        ls[c] = _mm512_add_ps(ls[c], p);
      }
    }
    for (int c = 0; c < C; ++c) l[c] = _mm512_fmadd_ps(l[c], al[c], ls[c]);

    const float* vb = t.v + j0 * t.v_rs;
    for (int64_t c0 = 0; c0 < t.dv; c0 += 64) {
      const int64_t left = std::min<int64_t>(64, t.dv - c0);
      const int64_t nv = (left + 15) / 16;
      const __mmask16 last = tail_mask(left - 16 * (nv - 1));
      for (int64_t q0 = 0; q0 < t.nq; q0 += 6)
        kPv[nv][std::min<int64_t>(6, t.nq - q0)](st + q0, nk, vb + c0, t.v_rs, t.out + q0 * t.o_rs + c0, t.o_rs,
                                                 alpha + q0, last);
    }
  }

  for (int c = 0; c < C; ++c) {
    _mm512_store_ps(mfin + 16 * c, m[c]);
    _mm512_store_ps(lfin + 16 * c, l[c]);
  }
  for (int64_t r = 0; r < t.nq; ++r) {
    float* orow = t.out + r * t.o_rs;
    const float lr = lfin[r];
    const float inv = lr > 0 ? 1.0f / lr : 0.0f;
    const __m512 vi = _mm512_set1_ps(inv);
    for (int64_t c0 = 0; c0 < t.dv; c0 += 16) {
      const __mmask16 tm = tail_mask(t.dv - c0);
      _mm512_mask_storeu_ps(orow + c0, tm, _mm512_mul_ps(_mm512_maskz_loadu_ps(tm, orow + c0), vi));
    }
    t.lse[r] = lr > 0 ? kLn2 * mfin[r] + std::log(lr) : std::numeric_limits<float>::infinity();
  }
}

// One query block of the backward (Note [Attention backward] in attention_kernels.cpp) in
// the transposed layout: P^T, dP^T and dS^T are BK x 64 tiles with the queries on the lanes.
template <int C>
void backward_block(const BwdTaskF32& t, int64_t i0, int64_t nq, float* scratch) {
  float* qt = scratch;              // D x BQ: Q^T * scale * log2(e)
  float* gt = qt + t.d * BQ;        // Dv x BQ: dO^T
  float* pt = gt + t.dv * BQ;       // BK x BQ: S^T, then P^T
  float* dpt = pt + BK * BQ;        // BK x BQ: dP^T, then scale * dS^T
  float* lse2 = dpt + BK * BQ;      // BQ: lse * log2(e), +inf past nq
  float* dsum = lse2 + BQ;          // BQ: rowsum(dO * O)
  const float* q = t.q + i0 * t.q_rs;
  const float* g = t.g + i0 * t.g_rs;
  pack_qt(q, t.q_rs, nq, t.d, t.scale * kLog2e, C, qt);
  pack_qt(g, t.g_rs, nq, t.dv, 1.0f, C, gt);
  for (int64_t r = 0; r < 16 * C; ++r) {
    lse2[r] = r < nq ? t.lse[i0 + r] * kLog2e : std::numeric_limits<float>::infinity();
    float acc = 0;
    if (r < nq) {
      __m512 a = _mm512_setzero_ps();
      for (int64_t c0 = 0; c0 < t.dv; c0 += 16) {
        const __mmask16 tm = tail_mask(t.dv - c0);
        a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tm, g + r * t.g_rs + c0),
                            _mm512_maskz_loadu_ps(tm, t.o + (i0 + r) * t.o_rs + c0), a);
      }
      acc = _mm512_reduce_add_ps(a);
    }
    dsum[r] = acc;
  }
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const __m512 vscale = _mm512_set1_ps(t.scale);
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  __m512 vl[C], vd[C];
  for (int c = 0; c < C; ++c) vl[c] = _mm512_load_ps(lse2 + 16 * c), vd[c] = _mm512_load_ps(dsum + 16 * c);
  float* dq = t.dq + i0 * t.d;
  const int64_t j_end = std::min(t.k1, t.causal ? std::min(t.lk, i0 + nq) : t.lk);
  for (int64_t j0 = t.k0; j0 < j_end; j0 += BK) {
    const int64_t nk = std::min(BK, j_end - j0);
    scores_block<C>(qt, t.d, t.k + j0 * t.k_rs, t.k_rs, nk, pt);
    if (t.mask != nullptr) add_mask(t.mask + i0 * t.m_rs + j0, t.m_rs, nq, nk, C, pt);
    const bool cut = t.causal && j0 + nk - 1 > i0;
    for (int64_t jj = 0; jj < nk; ++jj) {  // P = 2^(S - lse), cut past the diagonal
      float* row = pt + jj * BQ;
      const __m512i first = _mm512_set1_epi32(static_cast<int>(j0 + jj - i0));
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        __m512 x = _mm512_load_ps(row + 16 * c);
        if (cut)
          x = _mm512_mask_mov_ps(ninf, _mm512_cmpge_epi32_mask(_mm512_add_epi32(iota, _mm512_set1_epi32(16 * c)), first),
                                 x);
        _mm512_store_ps(row + 16 * c, exp2_512(_mm512_sub_ps(x, vl[c])));
      }
    }
    acc_block(pt, BQ, 1, nk, nq, g, t.g_rs, t.dv_out + j0 * t.dv, t.dv, t.dv);  // dV += P^T dO
    scores_block<C>(gt, t.dv, t.v + j0 * t.v_rs, t.v_rs, nk, dpt);             // dP^T = V dO^T
    for (int64_t jj = 0; jj < nk; ++jj) {  // scale * dS^T = scale * P^T (dP^T - Dsum)
      const float* prow = pt + jj * BQ;
      float* row = dpt + jj * BQ;
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c)
        _mm512_store_ps(row + 16 * c, _mm512_mul_ps(_mm512_mul_ps(_mm512_load_ps(prow + 16 * c), vscale),
                                                    _mm512_sub_ps(_mm512_load_ps(row + 16 * c), vd[c])));
    }
    acc_block(dpt, 1, BQ, nq, nk, t.k + j0 * t.k_rs, t.k_rs, dq, t.d, t.d);       // dQ += scale dS K
    acc_block(dpt, BQ, 1, nk, nq, q, t.q_rs, t.dk + j0 * t.d, t.d, t.d);          // dK += scale dS^T Q
  }
}

}  // namespace

void attention_forward_task_avx512(const FwdTaskF32& t, float* scratch) {
  switch ((t.nq + 15) / 16) {
    case 1: forward_task<1>(t, scratch); break;
    case 2: forward_task<2>(t, scratch); break;
    case 3: forward_task<3>(t, scratch); break;
    case 4: forward_task<4>(t, scratch); break;
    default: break;  // nq == 0
  }
}


void attention_backward_task_avx512(const BwdTaskF32& t, float* scratch) {
  for (int64_t i0 = 0; i0 < t.lq; i0 += BQ) {
    const int64_t nq = std::min(BQ, t.lq - i0);
    if (t.causal && t.k0 >= i0 + nq) continue;  // no key of [k0, k1) visible to this block
    switch ((nq + 15) / 16) {
      case 1: backward_block<1>(t, i0, nq, scratch); break;
      case 2: backward_block<2>(t, i0, nq, scratch); break;
      case 3: backward_block<3>(t, i0, nq, scratch); break;
      default: backward_block<4>(t, i0, nq, scratch); break;
    }
  }
}

}  // namespace nn::cpu::attn
