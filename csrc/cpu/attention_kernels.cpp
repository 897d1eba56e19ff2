// attention_kernels.cpp — the fused (flash-style) scaled-dot-product attention kernels,
// forward and backward, float32 and float64 (AttentionArgs contract in kernels/dispatch.h).
//
// Layout: q (B, Hq, Lq, D), k (B, Hkv, Lk, D), v (B, Hkv, Lk, Dv), q head h reads kv
// head h / (Hq / Hkv) (grouped-query attention). Rows are addressed through strides, so
// permuted views such as (B, L, H, D) -> (B, H, L, D) are read without copies.
//
// Note [Online softmax]: the forward visits the keys in blocks of BK for a block of BQ
// queries. For each row it keeps the running max m, the running sum l of exp(s - m) and
// an unnormalised output O. A new block with row max m' > m rescales: l *= exp(m - m'),
// O *= exp(m - m'). At the end out = O / l and the row's log-sum-exp m + log(l) is saved.
// Only BQ x BK scores exist at a time: no Lq x Lk matrix, in forward or backward.
//
// Note [Attention backward]: with P = exp(S - lse) recomputed block by block,
//   dV += P^T dO,  dP = dO V^T,  dS = P * (dP - Dsum),  dQ += scale dS K,  dK += scale dS^T Q
// where Dsum = rowsum(dO * O). Work is split over (batch, kv head): each task owns its
// dK/dV rows and the dQ rows of the q heads of its group, so no two threads write one
// element and the result does not depend on the thread count.
//
// Note [Attention dropout]: element (b, h, i, j) of the Lq x Lk probabilities has flat
// index e = ((b*Hq + h)*Lq + i)*Lk + j and is kept when word e % 4 of
// philox(counter = offset + e / 4, key = seed) is >= p * 2^32; kept values are scaled by
// 1 / (1 - p). The backward regenerates the same mask from (seed, offset). The softmax
// normaliser l (and so the saved log-sum-exp) is computed before dropout, as in PyTorch.
//
// Rows with no visible key (fully masked) give out = 0, lse = +inf and zero gradients.
//
// Paths: float32 without dropout on AVX-512 or AVX2 runs the dedicated tasks of
// attention_block_avx512.cpp / attention_block_avx2.cpp (Note [Transposed score tile]:
// register-tiled microkernels that read K, V, dO in place, scores with the queries on the
// vector lanes), split over (batch, head, 64 queries) forward and (batch, kv head)
// backward by the same drivers (one task function per ISA). Everything else (float64,
// generic, dropout) runs the blocked kernels of this file, which are also
// the reference the fast path is tested against: their GEMMs (S = Q K^T, O += P V and
// the five backward products) go through the library GEMM on blocks (cpu/gemm/gemm.h);
// inside a parallel task it runs on the calling thread.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "core/parallel.h"
#include "core/random.h"
#include "cpu/attention_rows.h"
#include "cpu/cpu_features.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/gemm/gemm.h"
#include "cpu/kernels.h"

namespace nn::cpu {
namespace {
using attn::RowOps;

// C (M x N, row stride c_rs) = alpha * A B + beta * C.
template <typename T>
void block_gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t a_rs, int64_t a_cs, const T* B, int64_t b_rs,
                int64_t b_cs, T* C, int64_t c_rs, T alpha, T beta) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * c_rs + j] = beta == 0 ? T(0) : beta * C[i * c_rs + j];
    return;
  }
  gemm::Epilogue ep;
  ep.alpha = static_cast<float>(alpha);
  ep.beta = static_cast<float>(beta);
  if constexpr (std::is_same_v<T, float>) {
    gemm::sgemm(M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, C, c_rs, 1, ep);
  } else {
    // float64 (gradcheck): the plain reference GEMM; alpha is applied here, not in the
    // float epilogue, to keep double precision.
    ep.alpha = 1.0f;
    if (beta == 0) {
      gemm::gemm_ref<double>(M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, C, c_rs, 1, ep);
      if (alpha != 1)
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) C[i * c_rs + j] *= alpha;
    } else {
      std::vector<double> tmp(static_cast<size_t>(M * N));
      gemm::gemm_ref<double>(M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, tmp.data(), N, 1, ep);
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) C[i * c_rs + j] = alpha * tmp[i * N + j] + beta * C[i * c_rs + j];
    }
  }
}

template <typename T>
RowOps<T> row_ops() {
#if defined(NN_CORE_X86)
  if constexpr (std::is_same_v<T, float>) {
    switch (active_isa()) {
      case Isa::Avx512: return attn::avx512_row_ops();
      case Isa::Avx2: return attn::avx2_row_ops();
      default: break;
    }
  }
#endif
  return attn::generic_row_ops<T>();
}

// Keep factors of one row of dropout (Note [Attention dropout]): z[j] for flat indices
// e0 .. e0 + n - 1 is 1 / (1 - p) (kept) or 0.
template <typename T>
void dropout_row(T* z, int64_t n, uint64_t e0, const AttentionArgs& a) {
  const uint64_t threshold = static_cast<uint64_t>(a.dropout_p * 4294967296.0);
  const T keep = a.dropout_p >= 1 ? T(0) : static_cast<T>(1.0 / (1.0 - a.dropout_p));
  std::array<uint32_t, 4> r{};
  for (int64_t j = 0; j < n; ++j) {
    const uint64_t e = e0 + static_cast<uint64_t>(j);
    if (j == 0 || e % 4 == 0) r = philox4x32_10(a.offset + e / 4, a.seed);
    z[j] = r[e % 4] >= threshold ? keep : T(0);
  }
}

struct AttnDims {
  int64_t B, Hq, Hkv, Lq, Lk, D, Dv, group;
  explicit AttnDims(const AttentionArgs& a)
      : B(a.q.sizes()[0]), Hq(a.q.sizes()[1]), Hkv(a.k.sizes()[1]), Lq(a.q.sizes()[2]), Lk(a.k.sizes()[2]),
        D(a.q.sizes()[3]), Dv(a.v.sizes()[3]), group(Hq / std::max<int64_t>(Hkv, 1)) {}
};

// Block sizes: BQ query rows share each packed K/V block; BK keys per online-softmax step.
template <typename T> constexpr int64_t kBlockQ = std::is_same_v<T, float> ? 128 : 16;
template <typename T> constexpr int64_t kBlockK = std::is_same_v<T, float> ? 256 : 16;

#if defined(NN_CORE_X86)
// The register-tiled float32 tasks of the active ISA (attention_rows.h), or null (the
// generic ISA: the blocked kernels below).
using ForwardTaskFn = void (*)(const attn::FwdTaskF32&, float*);
using BackwardTaskFn = void (*)(const attn::BwdTaskF32&, float*);

ForwardTaskFn tiled_forward_task() {
  switch (active_isa()) {
    case Isa::Avx512: return &attn::attention_forward_task_avx512;
    case Isa::Avx2: return &attn::attention_forward_task_avx2;
    default: return nullptr;
  }
}

BackwardTaskFn tiled_backward_task() {
  switch (active_isa()) {
    case Isa::Avx512: return &attn::attention_backward_task_avx512;
    case Isa::Avx2: return &attn::attention_backward_task_avx2;
    default: return nullptr;
  }
}

// float32 forward through the register-tiled tasks of the active ISA (Note [Transposed
// score tile] in attention_block_avx512.cpp) over (batch, head, block of 64 queries);
// false (nothing done) when the ISA has none, dropout is on or Lq < 6: the blocked
// forward below is then the path, and the reference the fast one is tested against.
bool attention_forward_f32_tiled(const AttentionArgs& a, const Tensor& out, const Tensor& lse) {
  const AttnDims d(a);
  const ForwardTaskFn run_task = tiled_forward_task();
  // Fewer than 6 queries (decoding one token at a time) would leave most of the query
  // lanes (16 on AVX-512, 8 on AVX2) idle; the blocked path's small-M GEMM is faster
  // there (1 query x 2048 keys: 0.51 ms against 0.76 ms single-thread, AVX-512).
  if (run_task == nullptr || a.dropout_p > 0 || d.Lq < 6) return false;
  const int64_t BQ = attn::kFwdBlockQ, nqb = (d.Lq + BQ - 1) / BQ;
  const auto& qs = a.q.strides(); const auto& ks = a.k.strides(); const auto& vs = a.v.strides();
  const auto& os = out.strides();
  const float* M = a.mask.defined() ? a.mask.data<float>() : nullptr;
  const Shape ms = a.mask.defined() ? a.mask.strides() : Shape(4, 0);
  const float* Q = a.q.data<float>(); const float* K = a.k.data<float>(); const float* V = a.v.data<float>();
  float* O = out.data<float>();
  float* LSE = lse.data<float>();
  parallel_for(0, d.B * d.Hq * nqb, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> buf(static_cast<size_t>(attn::forward_task_scratch_floats(d.D) + 16));
    float* scratch = buf.data() + ((64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64) / sizeof(float);
    for (int64_t t = t0; t < t1; ++t) {
      // Query blocks in the order 0, n-1, 1, n-2, ...: with causal masking block i costs
      // ~i + 1, so any contiguous share of the tasks gets a fair share of the work.
      const int64_t r = t % nqb, qb = r % 2 == 0 ? r / 2 : nqb - 1 - r / 2;
      const int64_t bh = t / nqb, b = bh / d.Hq, h = bh % d.Hq, hk = h / d.group;
      attn::FwdTaskF32 task;
      task.nq = std::min(BQ, d.Lq - qb * BQ);
      task.i0 = qb * BQ;
      task.q = Q + b * qs[0] + h * qs[1] + task.i0 * qs[2]; task.q_rs = qs[2];
      task.k = K + b * ks[0] + hk * ks[1]; task.k_rs = ks[2];
      task.v = V + b * vs[0] + hk * vs[1]; task.v_rs = vs[2];
      task.mask = M ? M + b * ms[0] + h * ms[1] + task.i0 * ms[2] : nullptr; task.m_rs = ms[2];
      task.out = O + b * os[0] + h * os[1] + task.i0 * os[2]; task.o_rs = os[2];
      task.lse = LSE + bh * d.Lq + task.i0;
      task.n_keys = a.causal ? std::min(d.Lk, task.i0 + task.nq) : d.Lk;
      task.d = d.D; task.dv = d.Dv;
      task.causal = a.causal;
      task.scale = static_cast<float>(a.scale);
      run_task(task, scratch);
    }
  });
  return true;
}
#endif

template <typename T>
void attention_forward_impl(const AttentionArgs& a, const Tensor& out, const Tensor& lse) {
#if defined(NN_CORE_X86)
  if constexpr (std::is_same_v<T, float>)
    if (attention_forward_f32_tiled(a, out, lse)) return;
#endif
  const AttnDims d(a);
  const int64_t BQ = kBlockQ<T>, BK = kBlockK<T>;
  const int64_t nqb = (d.Lq + BQ - 1) / BQ;
  const auto& qs = a.q.strides(); const auto& ks = a.k.strides(); const auto& vs = a.v.strides();
  const auto& os = out.strides();
  const T* Q = a.q.data<T>(); const T* K = a.k.data<T>(); const T* V = a.v.data<T>();
  const T* M = a.mask.defined() ? a.mask.data<T>() : nullptr;
  const Shape ms = a.mask.defined() ? a.mask.strides() : Shape(4, 0);
  T* O = out.data<T>();
  T* LSE = lse.data<T>();
  const T scale = static_cast<T>(a.scale);
  const bool dropout = a.dropout_p > 0;
  const RowOps<T> ops = row_ops<T>();
  const T ninf = -std::numeric_limits<T>::infinity();

  parallel_for(0, d.B * d.Hq * nqb, 1, [&](int64_t t0, int64_t t1) {
    std::vector<T> S(BQ * BK), acc(BQ * std::max<int64_t>(d.Dv, 1)), m(BQ), l(BQ), z(BK);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t qb = t % nqb, bh = t / nqb, b = bh / d.Hq, h = bh % d.Hq, hk = h / d.group;
      const int64_t i0 = qb * BQ, nq = std::min(BQ, d.Lq - i0);
      const T* qp = Q + b * qs[0] + h * qs[1] + i0 * qs[2];
      const T* kp = K + b * ks[0] + hk * ks[1];
      const T* vp = V + b * vs[0] + hk * vs[1];
      std::fill(acc.begin(), acc.end(), T(0));
      std::fill(m.begin(), m.end(), ninf);
      std::fill(l.begin(), l.end(), T(0));
      const int64_t j_end = a.causal ? std::min(d.Lk, i0 + nq) : d.Lk;
      for (int64_t j0 = 0; j0 < j_end; j0 += BK) {
        const int64_t nk = std::min(BK, j_end - j0);
        block_gemm<T>(nq, nk, d.D, qp, qs[2], 1, kp + j0 * ks[2], 1, ks[2], S.data(), BK, scale, 0);
        for (int64_t r = 0; r < nq; ++r) {
          const int64_t i = i0 + r;
          T* row = S.data() + r * BK;
          const T* mrow = M ? M + b * ms[0] + h * ms[1] + i * ms[2] + j0 : nullptr;
          const T mb = ops.mask_max(row, mrow, nk, a.causal ? i - j0 + 1 : nk);
          const T mnew = mb != mb ? mb : std::max(m[r], mb);  // NaN scores: a NaN row out
          if (mnew == ninf) {  // nothing visible in this row yet
            ops.exp_sum(row, nk, std::numeric_limits<T>::infinity());
            continue;
          }
          const T alpha = std::exp(m[r] - mnew);
          l[r] = l[r] * alpha + ops.exp_sum(row, nk, mnew);
          if (alpha != T(1)) ops.scale(acc.data() + r * d.Dv, d.Dv, alpha);
          m[r] = mnew;
          if (dropout) {
            dropout_row<T>(z.data(), nk, static_cast<uint64_t>((bh * d.Lq + i) * d.Lk + j0), a);
            for (int64_t j = 0; j < nk; ++j) row[j] *= z[j];
          }
        }
        block_gemm<T>(nq, d.Dv, nk, S.data(), BK, 1, vp + j0 * vs[2], vs[2], 1, acc.data(), d.Dv, 1, 1);
      }
      for (int64_t r = 0; r < nq; ++r) {
        T* orow = O + b * os[0] + h * os[1] + (i0 + r) * os[2];
        const T inv = l[r] > 0 ? T(1) / l[r] : T(0);
        for (int64_t c = 0; c < d.Dv; ++c) orow[c] = acc[r * d.Dv + c] * inv;
        LSE[bh * d.Lq + i0 + r] = l[r] > 0 ? m[r] + std::log(l[r]) : std::numeric_limits<T>::infinity();
      }
    }
  });
}

#if defined(NN_CORE_X86)
// float32 backward through the per-head tasks of the active ISA over (batch, kv head), the
// split of the blocked backward below (its reference); false when the ISA has none,
// dropout is on or Lq < 6. With fewer than 4 (batch, kv head) pairs the keys are split as
// well, into n_split ranges of whole key blocks (at least 4 blocks each): each task then
// owns the dK/dV rows of its range and writes its share of dQ to its own buffer; the
// shares are summed in range order afterwards. n_split depends only on the shapes, so the
// result does not depend on the thread count.
bool attention_backward_f32_tiled(const AttentionArgs& a, const Tensor& grad_out, const Tensor& out,
                                  const Tensor& lse, const Tensor& dq, const Tensor& dk, const Tensor& dv) {
  const AttnDims d(a);
  const BackwardTaskFn run_task = tiled_backward_task();
  if (run_task == nullptr || a.dropout_p > 0 || d.Lq < 6) return false;  // as the forward
  const auto& qs = a.q.strides(); const auto& ks = a.k.strides(); const auto& vs = a.v.strides();
  const auto& gs = grad_out.strides(); const auto& os = out.strides();
  const float* M = a.mask.defined() ? a.mask.data<float>() : nullptr;
  const Shape ms = a.mask.defined() ? a.mask.strides() : Shape(4, 0);
  float* DQ = dq.data<float>(); float* DK = dk.data<float>(); float* DV = dv.data<float>();
  const int64_t BK = attn::kFwdBlockK, pairs = d.B * d.Hkv, nkb = (d.Lk + BK - 1) / BK;
  int64_t n_split = pairs >= 4 || pairs == 0 ? 1 : std::min((4 + pairs - 1) / pairs, nkb / 4);
  n_split = std::max<int64_t>(n_split, 1);
  const int64_t split_blocks = (nkb + n_split - 1) / n_split;
  if (n_split > 1) n_split = (nkb + split_blocks - 1) / split_blocks;
  const int64_t dq_numel = d.B * d.Hq * d.Lq * d.D;
  std::vector<float> shares(n_split > 1 ? static_cast<size_t>(n_split * dq_numel) : 0);
  parallel_for(0, pairs * n_split, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> buf(static_cast<size_t>(attn::backward_task_scratch_floats(d.D, d.Dv) + 16));
    float* scratch = buf.data() + ((64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64) / sizeof(float);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t s = t % n_split, pair = t / n_split, b = pair / d.Hkv, hk = pair % d.Hkv;
      attn::BwdTaskF32 task;
      task.k = a.k.data<float>() + b * ks[0] + hk * ks[1]; task.k_rs = ks[2];
      task.v = a.v.data<float>() + b * vs[0] + hk * vs[1]; task.v_rs = vs[2];
      task.k0 = std::min(d.Lk, s * split_blocks * BK);
      task.k1 = n_split > 1 ? std::min(d.Lk, task.k0 + split_blocks * BK) : d.Lk;
      task.dk = DK + pair * d.Lk * d.D;
      task.dv_out = DV + pair * d.Lk * d.Dv;
      std::fill(task.dk + task.k0 * d.D, task.dk + task.k1 * d.D, 0.0f);
      std::fill(task.dv_out + task.k0 * d.Dv, task.dv_out + task.k1 * d.Dv, 0.0f);
      task.lq = d.Lq; task.lk = d.Lk; task.d = d.D; task.dv = d.Dv;
      task.causal = a.causal;
      task.scale = static_cast<float>(a.scale);
      for (int64_t h = hk * d.group; h < (hk + 1) * d.group; ++h) {
        const int64_t bh = b * d.Hq + h;
        task.q = a.q.data<float>() + b * qs[0] + h * qs[1]; task.q_rs = qs[2];
        task.g = grad_out.data<float>() + b * gs[0] + h * gs[1]; task.g_rs = gs[2];
        task.o = out.data<float>() + b * os[0] + h * os[1]; task.o_rs = os[2];
        task.mask = M ? M + b * ms[0] + h * ms[1] : nullptr; task.m_rs = ms[2];
        task.lse = lse.data<float>() + bh * d.Lq;
        task.dq = (n_split > 1 ? shares.data() + s * dq_numel : DQ) + bh * d.Lq * d.D;
        std::fill(task.dq, task.dq + d.Lq * d.D, 0.0f);
        if (task.k0 < task.k1) run_task(task, scratch);
      }
    }
  });
  if (n_split > 1)
    parallel_for(0, dq_numel, 4096, [&](int64_t e0, int64_t e1) {
      for (int64_t e = e0; e < e1; ++e) {
        float acc = shares[static_cast<size_t>(e)];
        for (int64_t s = 1; s < n_split; ++s) acc += shares[static_cast<size_t>(s * dq_numel + e)];
        DQ[e] = acc;
      }
    });
  return true;
}
#endif

template <typename T>
void attention_backward_impl(const AttentionArgs& a, const Tensor& grad_out, const Tensor& out, const Tensor& lse,
                             const Tensor& dq, const Tensor& dk, const Tensor& dv) {
#if defined(NN_CORE_X86)
  if constexpr (std::is_same_v<T, float>)
    if (attention_backward_f32_tiled(a, grad_out, out, lse, dq, dk, dv)) return;
#endif
  const AttnDims d(a);
  const int64_t BQ = kBlockQ<T>, BK = kBlockK<T>;
  const auto& qs = a.q.strides(); const auto& ks = a.k.strides(); const auto& vs = a.v.strides();
  const auto& gs = grad_out.strides(); const auto& os = out.strides();
  const T* Q = a.q.data<T>(); const T* K = a.k.data<T>(); const T* V = a.v.data<T>();
  const T* G = grad_out.data<T>(); const T* O = out.data<T>(); const T* LSE = lse.data<T>();
  const T* M = a.mask.defined() ? a.mask.data<T>() : nullptr;
  const Shape ms = a.mask.defined() ? a.mask.strides() : Shape(4, 0);
  T* DQ = dq.data<T>(); T* DK = dk.data<T>(); T* DV = dv.data<T>();
  const T scale = static_cast<T>(a.scale);
  const bool dropout = a.dropout_p > 0;
  const RowOps<T> ops = row_ops<T>();

  parallel_for(0, d.B * d.Hkv, 1, [&](int64_t t0, int64_t t1) {
    std::vector<T> S(BQ * BK), DP(BQ * BK), Dsum(BQ);
    std::vector<T> PD(dropout ? BQ * BK : 0), Z(dropout ? BQ * BK : 0);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / d.Hkv, hk = t % d.Hkv;
      const T* kp = K + b * ks[0] + hk * ks[1];
      const T* vp = V + b * vs[0] + hk * vs[1];
      T* dkp = DK + t * d.Lk * d.D;
      T* dvp = DV + t * d.Lk * d.Dv;
      std::fill(dkp, dkp + d.Lk * d.D, T(0));
      std::fill(dvp, dvp + d.Lk * d.Dv, T(0));
      for (int64_t h = hk * d.group; h < (hk + 1) * d.group; ++h) {
        const int64_t bh = b * d.Hq + h;
        for (int64_t i0 = 0; i0 < d.Lq; i0 += BQ) {
          const int64_t nq = std::min(BQ, d.Lq - i0);
          const T* qp = Q + b * qs[0] + h * qs[1] + i0 * qs[2];
          const T* gp = G + b * gs[0] + h * gs[1] + i0 * gs[2];
          const T* op = O + b * os[0] + h * os[1] + i0 * os[2];
          const T* lp = LSE + bh * d.Lq + i0;
          T* dqp = DQ + (bh * d.Lq + i0) * d.D;
          std::fill(dqp, dqp + nq * d.D, T(0));
          for (int64_t r = 0; r < nq; ++r) Dsum[r] = ops.dot(gp + r * gs[2], op + r * os[2], d.Dv);
          const int64_t j_end = a.causal ? std::min(d.Lk, i0 + nq) : d.Lk;
          for (int64_t j0 = 0; j0 < j_end; j0 += BK) {
            const int64_t nk = std::min(BK, j_end - j0);
            block_gemm<T>(nq, nk, d.D, qp, qs[2], 1, kp + j0 * ks[2], 1, ks[2], S.data(), BK, scale, 0);
            for (int64_t r = 0; r < nq; ++r) {  // P = exp(S + mask - lse)
              const int64_t i = i0 + r;
              T* row = S.data() + r * BK;
              const T* mrow = M ? M + b * ms[0] + h * ms[1] + i * ms[2] + j0 : nullptr;
              ops.mask_max(row, mrow, nk, a.causal ? i - j0 + 1 : nk);
              ops.exp_sum(row, nk, lp[r]);
              if (dropout) {
                T* zr = Z.data() + r * BK;
                dropout_row<T>(zr, nk, static_cast<uint64_t>((bh * d.Lq + i) * d.Lk + j0), a);
                for (int64_t j = 0; j < nk; ++j) PD[r * BK + j] = row[j] * zr[j];
              }
            }
            const T* P = dropout ? PD.data() : S.data();
            block_gemm<T>(nk, d.Dv, nq, P, 1, BK, gp, gs[2], 1, dvp + j0 * d.Dv, d.Dv, 1, 1);  // dV += P^T dO
            block_gemm<T>(nq, nk, d.Dv, gp, gs[2], 1, vp + j0 * vs[2], 1, vs[2], DP.data(), BK, 1, 0);  // dP
            for (int64_t r = 0; r < nq; ++r) {
              T* dprow = DP.data() + r * BK;
              if (dropout)
                for (int64_t j = 0; j < nk; ++j) dprow[j] *= Z[r * BK + j];
              ops.softmax_grad(dprow, S.data() + r * BK, dprow, nk, Dsum[r]);  // dS
            }
            block_gemm<T>(nq, d.D, nk, DP.data(), BK, 1, kp + j0 * ks[2], ks[2], 1, dqp, d.D, scale, 1);
            block_gemm<T>(nk, d.D, nq, DP.data(), 1, BK, qp, qs[2], 1, dkp + j0 * d.D, d.D, scale, 1);
          }
        }
      }
    }
  });
}

void attention_forward(const AttentionArgs& a, const Tensor& out, const Tensor& lse) {
  dispatch_float_dtype(a.q.dtype(), "scaled_dot_product_attention", [&](auto tag) {
    attention_forward_impl<typename decltype(tag)::type>(a, out, lse);
  });
}

void attention_backward(const AttentionArgs& a, const Tensor& g, const Tensor& out, const Tensor& lse,
                        const Tensor& dq, const Tensor& dk, const Tensor& dv) {
  dispatch_float_dtype(a.q.dtype(), "scaled_dot_product_attention", [&](auto tag) {
    attention_backward_impl<typename decltype(tag)::type>(a, g, out, lse, dq, dk, dv);
  });
}

}  // namespace

void register_attention_kernels(KernelRegistry& r) {
  r.attention.set(OpId::scaled_dot_product_attention, DeviceType::CPU, &attention_forward);
  r.attention_backward.set(OpId::scaled_dot_product_attention, DeviceType::CPU, &attention_backward);
}

}  // namespace nn::cpu
