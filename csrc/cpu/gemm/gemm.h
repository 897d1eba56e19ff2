// gemm.h — public CPU matrix-multiply API (fp32 and bf16 inputs, fp32 output).
//
// Layout conventions: every matrix is addressed by a row stride and a column stride in
// ELEMENTS (both >= 0), so A[m,k] = A[m*a_rs + k*a_cs]. A transposed view is the same
// buffer with the strides swapped; no copy is made (packing reads any strides).
//
// Semantics (Note [GEMM epilogue order]):
//   C[m,n] = act( alpha * sum_k A[m,k]*B[k,n]  +  beta*C[m,n]  +  bias )
// evaluated in exactly that order: acc*alpha, then + beta*C (only when beta != 0;
// beta == 0 never reads C, so C may hold NaN/garbage), then + bias (bias[n] for
// BiasKind::PerColumn as in Linear, bias[m] for BiasKind::PerRow as in conv), then the
// activation. Gelu is the exact erf form 0.5*x*(1+erf(x/sqrt(2))).
//
// The fast paths (BLIS-style packed GEMM, small-M/GEMV) are chosen per call from
// nn::cpu::active_isa(); gemm_ref is the plain-loop reference they fall back to.
#pragma once

#include <cstdint>

namespace nn {
namespace gemm {

enum class Activation { None, Relu, Gelu };
enum class BiasKind { None, PerColumn, PerRow };

struct Epilogue {
  float alpha = 1.0f;
  float beta = 0.0f;
  const float* bias = nullptr;
  BiasKind bias_kind = BiasKind::None;
  Activation act = Activation::None;
};

// C (M x N) = epilogue(A (M x K) @ B (K x N)). Threads: nn::get_num_threads().
void sgemm(int64_t M, int64_t N, int64_t K,
           const float* A, int64_t a_rs, int64_t a_cs,
           const float* B, int64_t b_rs, int64_t b_cs,
           float* C, int64_t c_rs, int64_t c_cs, const Epilogue& ep);

// A and B are bfloat16 bit patterns (the upper 16 bits of a float32); products are
// accumulated in float32 and C is float32.
void bf16gemm(int64_t M, int64_t N, int64_t K,
              const uint16_t* A, int64_t a_rs, int64_t a_cs,
              const uint16_t* B, int64_t b_rs, int64_t b_cs,
              float* C, int64_t c_rs, int64_t c_cs, const Epilogue& ep);

// batch x (M,K)@(K,N). Matrix b starts at A + b*a_bs (likewise B, C); a batch stride of
// 0 broadcasts that operand (C's batch stride must be nonzero when batch > 1).
// Threads split the batch when it is large enough, otherwise the tiles of each product.
void sgemm_batched(int64_t batch, int64_t M, int64_t N, int64_t K,
                   const float* A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                   const float* B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                   float* C, int64_t c_bs, int64_t c_rs, int64_t c_cs, const Epilogue& ep);
void bf16gemm_batched(int64_t batch, int64_t M, int64_t N, int64_t K,
                      const uint16_t* A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                      const uint16_t* B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                      float* C, int64_t c_bs, int64_t c_rs, int64_t c_cs, const Epilogue& ep);

// Reference: plain triple loop, single thread, same semantics as sgemm. T = float
// (accumulates in double) or double (used for float64 tensors and as the test oracle).
template <typename T>
void gemm_ref(int64_t M, int64_t N, int64_t K,
              const T* A, int64_t a_rs, int64_t a_cs,
              const T* B, int64_t b_rs, int64_t b_cs,
              T* C, int64_t c_rs, int64_t c_cs, const Epilogue& ep);

// Reference for bf16 inputs (converts each element exactly to float, then gemm_ref).
void bf16gemm_ref(int64_t M, int64_t N, int64_t K,
                  const uint16_t* A, int64_t a_rs, int64_t a_cs,
                  const uint16_t* B, int64_t b_rs, int64_t b_cs,
                  float* C, int64_t c_rs, int64_t c_cs, const Epilogue& ep);

// The direct (no packing) path for the Linear layout — B with unit row stride (B = W^T of
// a weight W (N, K)) and A with unit column stride — serves M up to this many rows on
// the active ISA (measured per ISA; Note [Direct Linear-layout GEMM] in gemm_driver.cpp).
// Tests and benchmarks move it with the override: rows >= 0 (0 = never direct); a
// negative value restores the measured default.
int64_t direct_linear_max_rows();
void set_direct_linear_max_rows_override(int64_t rows);

// Name of the microkernel the next large call would use for the active ISA, e.g.
// "sgemm_avx512_14x32", "bf16gemm_avx512bf16_14x32".
const char* kernel_name();
const char* bf16_kernel_name();

// bf16 <-> float32 conversions are nn::bf16_to_float / nn::float_to_bf16 (core/dtype.h).

}  // namespace gemm
}  // namespace nn
