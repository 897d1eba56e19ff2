// attention_block_avx2.cpp — the float32 AVX2+FMA forward and backward tasks of the fused
// attention kernel (contracts: FwdTaskF32 / BwdTaskF32 in cpu/attention_rows.h; drivers
// and the plain references, the generic blocked kernels, in cpu/attention_kernels.cpp).
// Called only when active_isa() is Avx2.
//
// The algorithm and layout are those of the AVX-512 tasks (Note [Transposed score tile]
// in attention_block_avx512.cpp): a task owns nq <= 64 query rows, packs Q^T (D x 64,
// pre-multiplied by scale * log2(e), queries >= nq zero), walks the keys in blocks of
// BK = 96 and keeps the scores transposed, S^T (BK x 64, one row per key, the queries
// along the vector lanes), so K, V (and dO, Q in the backward) are read in place, the
// online softmax is vertical (per-lane running max / sum, no horizontal reductions) and
// scores are in log2 units (softmax with 2^x, lse = ln(2) * m + ln(l) at the end).
// Here a vector holds 8 queries: the 64 query lanes are nvq = ceil(nq / 8) <= 8 vectors,
// and only the vectors that hold a query are computed.
//
// Register tiles, sized for the 16 ymm registers: an R x NV tile keeps R * NV
// accumulators, the NV vectors loaded for one step of the inner loop and one broadcast,
// R * NV + NV + 1 <= 16, so nothing spills:
//  scores_tile<R, C>: S^T rows j..j+R-1 (R <= kScoreKeys = 4 keys) x 8*C queries
//    (C <= kScoreVecs = 3 vectors): per d, C loads of Q^T[d] and R broadcasts of K[j+r][d]
//    for 12 FMAs. The 8 query vectors are walked 3 + 3 + 2; the key tail is a smaller R,
//    the query tail zero columns of Q^T.
//  acc_tile<R, NV, Masked>: C rows (R <= kAccRows = 4) x 8*NV columns (NV <= kAccVecs =
//    3) += A B, A a P^T / dS^T tile read along either axis (broadcasts), B rows straight
//    from the inputs (V, dO, K, Q); per step NV loads and R broadcasts for 12 FMAs. Wider
//    rows are walked in 24-column chunks; Masked: the last vector of a row is the
//    Dv / D tail (maskload / maskstore). The forward's O = alpha * O + P V is acc_tile
//    with the per-row alpha applied to C as it is loaded; O's rows are the accumulator.
// exp2 is x = k + r, |r| <= 1/2, the degree-6 polynomial of the AVX-512 tasks for 2^r
// and 2^k built in the exponent bits; x is clamped to [-127, 128] first, so x < -126.5
// (masked keys: -inf) gives 0, and a NaN score stays NaN (its output row is NaN, as in
// the reference).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 intrinsic headers (bug 105593)
#pragma GCC diagnostic ignored "-Wuninitialized"        // the same false positive
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "cpu/attention_rows.h"

namespace nn::cpu::attn {
namespace {

constexpr int64_t BQ = kFwdBlockQ, BK = kFwdBlockK;
constexpr int64_t kLanes = 8;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2 = 0.693147180559945309f;

constexpr int kScoreKeys = 4, kScoreVecs = 3;  // S^T tile: 4 keys x 24 queries
constexpr int kAccRows = 4, kAccVecs = 3;      // accumulate tile: 4 rows x 24 columns
static_assert(kScoreKeys * kScoreVecs + kScoreVecs + 1 <= 16 && kAccRows * kAccVecs + kAccVecs + 1 <= 16);

#include "cpu/vec_avx2.h"

// 2^x (see the header). max/min return their second operand when one is NaN, so the
// clamp keeps a NaN, which then runs through the polynomial.
inline __m256 exp2_256(__m256 x) {
  x = _mm256_max_ps(_mm256_set1_ps(-127.0f), x);
  x = _mm256_min_ps(_mm256_set1_ps(128.0f), x);
  const __m256 k = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 r = _mm256_sub_ps(x, k);
  __m256 p = _mm256_set1_ps(1.5403530393381606e-4f);  // ln2^n / n!, n = 6 .. 0
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3333558146428443e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(9.6181291076284770e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.5504108664821580e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.24022650695910071f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kLn2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  // 2^k: biased exponent k + 127 in 0 (k = -127: the value 0) .. 255 (k = 128: +inf).
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

// In-place transpose of an 8 x 8 tile held as 8 row vectors.
inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);      // a0 b0 a1 b1 | a4 b4 a5 b5
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);  // a2 b2 a3 b3 | a6 b6 a7 b7
  }
  for (int i = 0; i < 2; ++i) {  // u[4i + c]: columns c and c + 4 of rows 4i .. 4i + 3
    u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    r[c + 4] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
}

// Loads rows 0..7 (rows >= n_rows zero) of a row-major (stride rs) block, columns
// 0 .. n_cols - 1 (n_cols <= 8, the rest zero), each multiplied by s, and transposes.
inline void load_transposed(const float* x, int64_t rs, int64_t n_rows, int64_t n_cols, float s, __m256 r[8]) {
  const __m256 vs = _mm256_set1_ps(s);
  for (int64_t i = 0; i < 8; ++i)
    r[i] = i < n_rows ? _mm256_mul_ps(load_partial(x + i * rs, n_cols), vs) : _mm256_setzero_ps();
  transpose8(r);
}

// qt[d * BQ + q] = s * q[q][d] for q < nq, 0 for nq <= q < 8 * nvq.
void pack_qt(const float* q, int64_t q_rs, int64_t nq, int64_t D, float s, int64_t nvq, float* qt) {
  __m256 r[8];
  for (int64_t q0 = 0; q0 < kLanes * nvq; q0 += kLanes)
    for (int64_t d0 = 0; d0 < D; d0 += kLanes) {
      const int64_t nd = std::min<int64_t>(kLanes, D - d0);
      load_transposed(q + q0 * q_rs + d0, q_rs, nq - q0, nd, s, r);
      for (int64_t i = 0; i < nd; ++i) _mm256_store_ps(qt + (d0 + i) * BQ + q0, r[i]);
    }
}

// st[j * BQ + q] += log2(e) * mask[q][j] for j < nk, q < nq (mask rows of stride m_rs).
void add_mask(const float* mask, int64_t m_rs, int64_t nq, int64_t nk, int64_t nvq, float* st) {
  __m256 r[8];
  for (int64_t q0 = 0; q0 < kLanes * nvq; q0 += kLanes)
    for (int64_t j0 = 0; j0 < nk; j0 += kLanes) {
      const int64_t nj = std::min<int64_t>(kLanes, nk - j0);
      load_transposed(mask + q0 * m_rs + j0, m_rs, nq - q0, nj, kLog2e, r);
      for (int64_t i = 0; i < nj; ++i) {
        float* row = st + (j0 + i) * BQ + q0;
        _mm256_store_ps(row, _mm256_add_ps(_mm256_load_ps(row), r[i]));
      }
    }
}

// S^T rows 0..R-1 (keys k[0], k[k_rs], ...) x 8*C queries = K Q^T.
template <int R, int C>
void scores_tile(const float* qt, int64_t D, const float* k, int64_t k_rs, float* st) {
  __m256 acc[R][C];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 3
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  for (int64_t d = 0; d < D; ++d) {
    __m256 qv[C];
#pragma GCC unroll 3
    for (int c = 0; c < C; ++c) qv[c] = _mm256_load_ps(qt + d * BQ + kLanes * c);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 kb = _mm256_broadcast_ss(k + r * k_rs + d);
#pragma GCC unroll 3
      for (int c = 0; c < C; ++c) acc[r][c] = _mm256_fmadd_ps(kb, qv[c], acc[r][c]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 3
    for (int c = 0; c < C; ++c) _mm256_store_ps(st + r * BQ + kLanes * c, acc[r][c]);
}

// C rows 0..R-1 (stride c_rs) x 8*NV columns = alpha[r] * C + sum_k a[r * a_rs + k * a_cs] B[k]
// for k < n (B rows of stride b_rs; alpha null: 1). Masked: the last vector of each row
// holds its first `tail` lanes only. The forward's O = alpha O + P V and the backward's
// dV += P^T dO, dQ += dS K, dK += dS^T Q (A a P^T / dS^T tile read along either axis).
template <int R, int NV, bool Masked>
void acc_tile(const float* a, int64_t a_rs, int64_t a_cs, int64_t n, const float* b, int64_t b_rs, float* c,
              int64_t c_rs, const float* alpha, int64_t tail) {
  const __m256i last = lane_mask(tail);
  auto load = [&](const float* p, int v) {
    return Masked && v == NV - 1 ? _mm256_maskload_ps(p, last) : _mm256_loadu_ps(p);
  };
  __m256 acc[R][NV];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[r][v] = load(c + r * c_rs + kLanes * v, v);
  if (alpha != nullptr) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 al = _mm256_set1_ps(alpha[r]);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_mul_ps(acc[r][v], al);
    }
  }
  for (int64_t k = 0; k < n; ++k) {
    __m256 bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) bv[v] = load(b + k * b_rs + kLanes * v, v);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 ab = _mm256_broadcast_ss(a + r * a_rs + k * a_cs);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(ab, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      float* p = c + r * c_rs + kLanes * v;
      if (Masked && v == NV - 1)
        _mm256_maskstore_ps(p, last, acc[r][v]);
      else
        _mm256_storeu_ps(p, acc[r][v]);
    }
}

// Tables of the tiles by size: kScores[C][R], kAcc[Masked][NV][R] (index 0 unused).
using ScoresFn = void (*)(const float*, int64_t, const float*, int64_t, float*);
using AccFn = void (*)(const float*, int64_t, int64_t, int64_t, const float*, int64_t, float*, int64_t, const float*,
                       int64_t);

template <int C, int... Rs>
constexpr std::array<ScoresFn, kScoreKeys + 1> scores_row(std::integer_sequence<int, Rs...>) {
  return {nullptr, &scores_tile<Rs + 1, C>...};
}
template <int... Cs>
constexpr std::array<std::array<ScoresFn, kScoreKeys + 1>, kScoreVecs + 1> scores_table(
    std::integer_sequence<int, Cs...>) {
  return {std::array<ScoresFn, kScoreKeys + 1>{}, scores_row<Cs + 1>(std::make_integer_sequence<int, kScoreKeys>())...};
}
constexpr auto kScores = scores_table(std::make_integer_sequence<int, kScoreVecs>());

template <bool Masked, int NV, int... Rs>
constexpr std::array<AccFn, kAccRows + 1> acc_row(std::integer_sequence<int, Rs...>) {
  return {nullptr, &acc_tile<Rs + 1, NV, Masked>...};
}
template <bool Masked, int... NVs>
constexpr std::array<std::array<AccFn, kAccRows + 1>, kAccVecs + 1> acc_table(std::integer_sequence<int, NVs...>) {
  return {std::array<AccFn, kAccRows + 1>{}, acc_row<Masked, NVs + 1>(std::make_integer_sequence<int, kAccRows>())...};
}
constexpr std::array<std::array<std::array<AccFn, kAccRows + 1>, kAccVecs + 1>, 2> kAcc = {
    acc_table<false>(std::make_integer_sequence<int, kAccVecs>()),
    acc_table<true>(std::make_integer_sequence<int, kAccVecs>())};

// S^T (nk x 8*nvq, row stride BQ) = K Q^T for nk keys (rows of stride k_rs).
void scores_block(const float* qt, int64_t D, const float* k, int64_t k_rs, int64_t nk, int64_t nvq, float* st) {
  for (int64_t v0 = 0; v0 < nvq; v0 += kScoreVecs) {
    const auto& tiles = kScores[std::min<int64_t>(kScoreVecs, nvq - v0)];
    const float* qv = qt + kLanes * v0;
    float* sv = st + kLanes * v0;
    int64_t jj = 0;
    for (; jj + kScoreKeys <= nk; jj += kScoreKeys) tiles[kScoreKeys](qv, D, k + jj * k_rs, k_rs, sv + jj * BQ);
    if (jj < nk) tiles[nk - jj](qv, D, k + jj * k_rs, k_rs, sv + jj * BQ);
  }
}

// C (rows x cols, stride c_rs) = alpha[r] * C + A B with A[r][k] = a[r * a_rs + k * a_cs]
// (k < n), B rows b + k * b_rs, alpha null: 1. acc_tile over kAccRows-row groups and
// 8 * kAccVecs-column chunks.
void acc_block(const float* a, int64_t a_rs, int64_t a_cs, int64_t rows, int64_t n, const float* b, int64_t b_rs,
               float* c, int64_t c_rs, int64_t cols, const float* alpha) {
  constexpr int64_t kChunk = kLanes * kAccVecs;
  for (int64_t c0 = 0; c0 < cols; c0 += kChunk) {
    const int64_t left = std::min(kChunk, cols - c0);
    const int64_t nv = (left + kLanes - 1) / kLanes, tail = left - kLanes * (nv - 1);
    const auto& tiles = kAcc[tail < kLanes][nv];
    for (int64_t r0 = 0; r0 < rows; r0 += kAccRows)
      tiles[std::min<int64_t>(kAccRows, rows - r0)](a + r0 * a_rs, a_rs, a_cs, n, b + c0, b_rs, c + r0 * c_rs + c0,
                                                    c_rs, alpha == nullptr ? nullptr : alpha + r0, tail);
  }
}

// Key j0 + jj is visible to query lane q of a task starting at query i0 iff
// j0 + jj <= i0 + q: the lanes of vector c at or past `first` = j0 + jj - i0.
inline __m256 causal_cut(__m256 x, int64_t c, int64_t first) {
  const __m256i lane = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                        _mm256_set1_epi32(static_cast<int>(kLanes * c)));
  const __m256i visible = _mm256_cmpgt_epi32(lane, _mm256_set1_epi32(static_cast<int>(first - 1)));
  return _mm256_blendv_ps(_mm256_set1_ps(-std::numeric_limits<float>::infinity()), x, _mm256_castsi256_ps(visible));
}

// One task (Note [Transposed score tile] in attention_block_avx512.cpp).
void forward_task(const FwdTaskF32& t, float* scratch) {
  const int64_t nvq = (t.nq + kLanes - 1) / kLanes;
  float* qt = scratch;            // D x BQ
  float* st = qt + t.d * BQ;      // BK x BQ
  float* alpha = st + BK * BQ;    // BQ: this block's rescale factors
  float* m = alpha + BQ;          // BQ: running max (log2 units)
  float* l = m + BQ;              // BQ: running sum
  pack_qt(t.q, t.q_rs, t.nq, t.d, t.scale * kLog2e, nvq, qt);
  for (int64_t r = 0; r < t.nq; ++r) std::memset(t.out + r * t.o_rs, 0, sizeof(float) * t.dv);
  const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t c = 0; c < nvq; ++c) {
    _mm256_store_ps(m + kLanes * c, ninf);
    _mm256_store_ps(l + kLanes * c, _mm256_setzero_ps());
  }

  for (int64_t j0 = 0; j0 < t.n_keys; j0 += BK) {
    const int64_t nk = std::min(BK, t.n_keys - j0);
    scores_block(qt, t.d, t.k + j0 * t.k_rs, t.k_rs, nk, nvq, st);
    if (t.mask != nullptr) add_mask(t.mask + j0, t.m_rs, t.nq, nk, nvq, st);
    // The causal cut only touches blocks that reach past the first query of the task.
    const bool cut = t.causal && j0 + nk - 1 > t.i0;
    for (int64_t c = 0; c < nvq; ++c) {  // one vector of queries at a time, down the keys
      float* col = st + kLanes * c;
      __m256 mb = ninf;
      for (int64_t jj = 0; jj < nk; ++jj) {
        __m256 x = _mm256_load_ps(col + jj * BQ);
        if (cut) {
          x = causal_cut(x, c, j0 + jj - t.i0);
          _mm256_store_ps(col + jj * BQ, x);
        }
        mb = _mm256_max_ps(mb, x);
      }
      // Online softmax update: mu is the new max with -inf (nothing visible yet) as 0.
      const __m256 mold = _mm256_load_ps(m + kLanes * c);
      const __m256 mnew = _mm256_max_ps(mold, mb);
      const __m256 mu = _mm256_blendv_ps(mnew, _mm256_setzero_ps(), _mm256_cmp_ps(mnew, ninf, _CMP_EQ_OQ));
      const __m256 al = exp2_256(_mm256_sub_ps(mold, mu));
      _mm256_store_ps(alpha + kLanes * c, al);
      _mm256_store_ps(m + kLanes * c, mnew);
      __m256 ls0 = _mm256_setzero_ps(), ls1 = _mm256_setzero_ps();  // two chains for the latency
      int64_t jj = 0;
      for (; jj + 2 <= nk; jj += 2) {
        const __m256 p0 = exp2_256(_mm256_sub_ps(_mm256_load_ps(col + jj * BQ), mu));
        const __m256 p1 = exp2_256(_mm256_sub_ps(_mm256_load_ps(col + (jj + 1) * BQ), mu));
        _mm256_store_ps(col + jj * BQ, p0);
        _mm256_store_ps(col + (jj + 1) * BQ, p1);
        ls0 = _mm256_add_ps(ls0, p0);
        ls1 = _mm256_add_ps(ls1, p1);
      }
      if (jj < nk) {
        const __m256 p0 = exp2_256(_mm256_sub_ps(_mm256_load_ps(col + jj * BQ), mu));
        _mm256_store_ps(col + jj * BQ, p0);
        ls0 = _mm256_add_ps(ls0, p0);
      }
      _mm256_store_ps(l + kLanes * c, _mm256_fmadd_ps(_mm256_load_ps(l + kLanes * c), al, _mm256_add_ps(ls0, ls1)));
    }
    // O = alpha O + P V (P^T read down its columns: A[q][j] = st[j * BQ + q]).
    acc_block(st, 1, BQ, t.nq, nk, t.v + j0 * t.v_rs, t.v_rs, t.out, t.o_rs, t.dv, alpha);
  }

  for (int64_t r = 0; r < t.nq; ++r) {
    float* orow = t.out + r * t.o_rs;
    const float lr = l[r];
    const __m256 inv = _mm256_set1_ps(lr > 0 ? 1.0f / lr : 0.0f);
    for (int64_t c0 = 0; c0 < t.dv; c0 += kLanes)
      store_partial(orow + c0, t.dv - c0, _mm256_mul_ps(load_partial(orow + c0, t.dv - c0), inv));
    t.lse[r] = lr > 0 ? kLn2 * m[r] + std::log(lr) : std::numeric_limits<float>::infinity();
  }
}

// One query block of the backward (Note [Attention backward] in attention_kernels.cpp) in
// the transposed layout: P^T, dP^T and dS^T are BK x 64 tiles with the queries on the lanes.
void backward_block(const BwdTaskF32& t, int64_t i0, int64_t nq, float* scratch) {
  const int64_t nvq = (nq + kLanes - 1) / kLanes;
  float* qt = scratch;              // D x BQ: Q^T * scale * log2(e)
  float* gt = qt + t.d * BQ;        // Dv x BQ: dO^T
  float* pt = gt + t.dv * BQ;       // BK x BQ: S^T, then P^T
  float* dpt = pt + BK * BQ;        // BK x BQ: dP^T, then scale * dS^T
  float* lse2 = dpt + BK * BQ;      // BQ: lse * log2(e), +inf past nq
  float* dsum = lse2 + BQ;          // BQ: rowsum(dO * O)
  const float* q = t.q + i0 * t.q_rs;
  const float* g = t.g + i0 * t.g_rs;
  pack_qt(q, t.q_rs, nq, t.d, t.scale * kLog2e, nvq, qt);
  pack_qt(g, t.g_rs, nq, t.dv, 1.0f, nvq, gt);
  for (int64_t r = 0; r < kLanes * nvq; ++r) {
    lse2[r] = r < nq ? t.lse[i0 + r] * kLog2e : std::numeric_limits<float>::infinity();
    __m256 acc = _mm256_setzero_ps();
    if (r < nq)
      for (int64_t c0 = 0; c0 < t.dv; c0 += kLanes)
        acc = _mm256_fmadd_ps(load_partial(g + r * t.g_rs + c0, t.dv - c0),
                              load_partial(t.o + (i0 + r) * t.o_rs + c0, t.dv - c0), acc);
    dsum[r] = horizontal_sum(acc);
  }
  const __m256 vscale = _mm256_set1_ps(t.scale);
  float* dq = t.dq + i0 * t.d;
  const int64_t j_end = std::min(t.k1, t.causal ? std::min(t.lk, i0 + nq) : t.lk);
  for (int64_t j0 = t.k0; j0 < j_end; j0 += BK) {
    const int64_t nk = std::min(BK, j_end - j0);
    scores_block(qt, t.d, t.k + j0 * t.k_rs, t.k_rs, nk, nvq, pt);
    if (t.mask != nullptr) add_mask(t.mask + i0 * t.m_rs + j0, t.m_rs, nq, nk, nvq, pt);
    const bool cut = t.causal && j0 + nk - 1 > i0;
    for (int64_t c = 0; c < nvq; ++c) {  // P = 2^(S - lse), cut past the diagonal
      float* col = pt + kLanes * c;
      const __m256 vl = _mm256_load_ps(lse2 + kLanes * c);
      for (int64_t jj = 0; jj < nk; ++jj) {
        __m256 x = _mm256_load_ps(col + jj * BQ);
        if (cut) x = causal_cut(x, c, j0 + jj - i0);
        _mm256_store_ps(col + jj * BQ, exp2_256(_mm256_sub_ps(x, vl)));
      }
    }
    acc_block(pt, BQ, 1, nk, nq, g, t.g_rs, t.dv_out + j0 * t.dv, t.dv, t.dv, nullptr);  // dV += P^T dO
    scores_block(gt, t.dv, t.v + j0 * t.v_rs, t.v_rs, nk, nvq, dpt);                     // dP^T = V dO^T
    for (int64_t c = 0; c < nvq; ++c) {  // scale * dS^T = scale * P^T (dP^T - Dsum)
      const float* pcol = pt + kLanes * c;
      float* col = dpt + kLanes * c;
      const __m256 vd = _mm256_load_ps(dsum + kLanes * c);
      for (int64_t jj = 0; jj < nk; ++jj)
        _mm256_store_ps(col + jj * BQ, _mm256_mul_ps(_mm256_mul_ps(_mm256_load_ps(pcol + jj * BQ), vscale),
                                                     _mm256_sub_ps(_mm256_load_ps(col + jj * BQ), vd)));
    }
    acc_block(dpt, 1, BQ, nq, nk, t.k + j0 * t.k_rs, t.k_rs, dq, t.d, t.d, nullptr);  // dQ += scale dS K
    acc_block(dpt, BQ, 1, nk, nq, q, t.q_rs, t.dk + j0 * t.d, t.d, t.d, nullptr);      // dK += scale dS^T Q
  }
}

}  // namespace

void attention_forward_task_avx2(const FwdTaskF32& t, float* scratch) {
  if (t.nq > 0) forward_task(t, scratch);
}

void attention_backward_task_avx2(const BwdTaskF32& t, float* scratch) {
  for (int64_t i0 = 0; i0 < t.lq; i0 += BQ) {
    const int64_t nq = std::min(BQ, t.lq - i0);
    if (t.causal && t.k0 >= i0 + nq) continue;  // no key of [k0, k1) visible to this block
    backward_block(t, i0, nq, scratch);
  }
}

}  // namespace nn::cpu::attn
