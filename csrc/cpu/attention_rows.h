// attention_rows.h — the row operations of the fused attention kernel (everything that is
// not a GEMM): masking with the running max, exp-and-sum, row scaling, the softmax
// backward dS = P * (dP - D), and dot products. Rows are contiguous arrays of n scores.
//
// RowOps<T> holds function pointers so one kernel body serves every ISA: the generic
// template below (float and double) and the AVX-512 / AVX2 float versions in
// attention_kernels_avx512.cpp / attention_kernels_avx2.cpp (selected at run time through
// cpu/cpu_features.h).
//
// Below them, the task contracts of the float32 register-tiled kernels
// (attention_block_avx512.cpp, attention_block_avx2.cpp): one contract, one scratch
// layout, a task function per ISA, the same drivers in attention_kernels.cpp.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

namespace nn::cpu::attn {

template <typename T>
struct RowOps {
  // s[j] += mask[j] (mask may be null); s[j] = -inf for j >= n_visible; returns max_j s[j]
  // (generic: NaN if any s[j] is NaN, so a NaN row stays NaN).
  T (*mask_max)(T* s, const T* mask, int64_t n, int64_t n_visible);
  // s[j] = exp(s[j] - m); returns the sum (m may be +inf: every s[j] becomes 0).
  T (*exp_sum)(T* s, int64_t n, T m);
  // x[j] *= a.
  void (*scale)(T* x, int64_t n, T a);
  // ds[j] = p[j] * (dp[j] - d).
  void (*softmax_grad)(T* ds, const T* p, const T* dp, int64_t n, T d);
  T (*dot)(const T* a, const T* b, int64_t n);
};

template <typename T>
T mask_max_generic(T* s, const T* mask, int64_t n, int64_t n_visible) {
  const T ninf = -std::numeric_limits<T>::infinity();
  if (mask != nullptr)
    for (int64_t j = 0; j < n; ++j) s[j] += mask[j];
  for (int64_t j = n_visible < 0 ? 0 : n_visible; j < n; ++j) s[j] = ninf;
  T m = ninf;
  for (int64_t j = 0; j < n; ++j) m = (s[j] > m || s[j] != s[j]) ? s[j] : m;  // a NaN score wins
  return m;
}

template <typename T>
T exp_sum_generic(T* s, int64_t n, T m) {
  T sum = 0;
  if (std::isinf(m) && m > 0) {
    for (int64_t j = 0; j < n; ++j) s[j] = 0;
    return 0;
  }
  for (int64_t j = 0; j < n; ++j) {
    s[j] = std::exp(s[j] - m);
    sum += s[j];
  }
  return sum;
}

template <typename T>
void scale_generic(T* x, int64_t n, T a) {
  for (int64_t j = 0; j < n; ++j) x[j] *= a;
}

template <typename T>
void softmax_grad_generic(T* ds, const T* p, const T* dp, int64_t n, T d) {
  for (int64_t j = 0; j < n; ++j) ds[j] = p[j] * (dp[j] - d);
}

template <typename T>
T dot_generic(const T* a, const T* b, int64_t n) {
  T acc = 0;
  for (int64_t j = 0; j < n; ++j) acc += a[j] * b[j];
  return acc;
}

template <typename T>
RowOps<T> generic_row_ops() {
  return {&mask_max_generic<T>, &exp_sum_generic<T>, &scale_generic<T>, &softmax_grad_generic<T>, &dot_generic<T>};
}

#if defined(NN_CORE_X86)
// attention_kernels_avx512.cpp (call only when active_isa() is Avx512).
RowOps<float> avx512_row_ops();
// attention_kernels_avx2.cpp (call only when active_isa() is Avx2).
RowOps<float> avx2_row_ops();

// One task of the float32 fast forward (attention_block_avx512.cpp, Note [Transposed
// score tile], and its AVX2 twin attention_block_avx2.cpp): nq <= kFwdBlockQ query rows
// i0 .. i0 + nq - 1 of one (batch, head) against keys 0 .. n_keys - 1 of its kv head
// (n_keys already cut for causal). Rows are unit-stride vectors at the given row strides;
// mask (additive, may be null) points at row i0, key 0. Writes out (nq rows of dv) and
// lse (nq values) as the generic forward does; no dropout.
struct FwdTaskF32 {
  const float* q; int64_t q_rs;
  const float* k; int64_t k_rs;
  const float* v; int64_t v_rs;
  const float* mask; int64_t m_rs;
  float* out; int64_t o_rs;
  float* lse;
  int64_t nq, i0, n_keys, d, dv;
  bool causal;
  float scale;
};
constexpr int64_t kFwdBlockQ = 64, kFwdBlockK = 96;
// Floats of scratch one task needs (its start must be 64-byte aligned).
inline int64_t forward_task_scratch_floats(int64_t d) { return (d + kFwdBlockK + 3) * kFwdBlockQ; }
void attention_forward_task_avx512(const FwdTaskF32& t, float* scratch);
void attention_forward_task_avx2(const FwdTaskF32& t, float* scratch);  // when active_isa() is Avx2

// The backward of one q head (attention_block_avx512.cpp, attention_block_avx2.cpp): all
// Lq query rows of one (batch, head) against keys k0 .. k1 - 1 (0 <= k0 < k1 <= lk, k0 a
// multiple of kFwdBlockK) of its kv head (cut per query block for causal). q/g
// (grad_out)/o (out) rows i, mask rows i (at row 0, key 0; may be null); lse the head's lq values. dq
// (lq x d, contiguous) is accumulated into (those keys' share of dQ); dk (lk x d) and
// dv_out (lk x dv), contiguous from key 0, are accumulated into in rows k0 .. k1 - 1
// (the q heads of a group share them).
struct BwdTaskF32 {
  const float* q; int64_t q_rs;
  const float* k; int64_t k_rs;
  const float* v; int64_t v_rs;
  const float* g; int64_t g_rs;
  const float* o; int64_t o_rs;
  const float* mask; int64_t m_rs;
  const float* lse;
  float* dq; float* dk; float* dv_out;
  int64_t lq, lk, k0, k1, d, dv;
  bool causal;
  float scale;
};
inline int64_t backward_task_scratch_floats(int64_t d, int64_t dv) {
  return (d + dv + 2 * kFwdBlockK + 2) * kFwdBlockQ;
}
void attention_backward_task_avx512(const BwdTaskF32& t, float* scratch);
void attention_backward_task_avx2(const BwdTaskF32& t, float* scratch);  // when active_isa() is Avx2
#endif

}  // namespace nn::cpu::attn
