// qgemm.h — public int8 matrix-multiply API: u8 activations x s8 weights -> s32
// accumulation, with a fused epilogue that writes float32, int32, uint8 or int8.
//
// Layout conventions: A (M x K, uint8) is addressed by a row and a column stride in
// elements (A[m,k] = A[m*a_rs + k*a_cs], strides >= 0: strided rows need no copy).
// B (K x N, int8) is packed ONCE into a PackedQWeight (pack_qweight) from any strides;
// a Linear weight W (N x K, out x in) is B = W^T, i.e. b_rs = 1, b_cs = K.
// C (M x N) has any strides (unit column stride is the fast store).
//
// Semantics (Note [QGEMM epilogue]), for row m and column n:
//   acc   = sum_k A[m,k] * B[k,n]                            exact int32
//   accz  = acc - za(m) * colsum(B)[n]    = sum_k (A[m,k] - za(m)) * B[k,n]  (int32)
//   Int32 output:   C = accz
//   otherwise       s = sa(m) * sb(n)                        (one float32 multiply)
//                   v = fma(float(accz), s, bias[n])          (one rounding; bias 0 if none)
//                   v = act(v)                                (none | relu | exact gelu)
//   Float32 output: C = v
//   UInt8 / Int8:   C = clamp(nearbyint(v / out_scale) + out_zero_point, qmin, qmax)
//                   (round half to even; NaN maps to qmin)
// za / sa are per tensor (a_zero_point, a_scale) or per row (a_zero_points, a_scales:
// dynamic quantization of activations row by row); sb is per tensor or per output
// column (per-channel weights). Weights are symmetric (zero point 0), so no row-sum
// correction is needed. Every path (reference, generic, AVX2, AVX-512 VNNI, AMX-INT8)
// evaluates exactly these float operations, so results are bit-identical across paths
// for the same A (Note [QGEMM kernel choice] in qgemm_driver.cpp says which path a call
// takes). Only dynamic quantization's range differs by ISA (qgemm_dynamic_qmax below).
//
// Exactness bound: |accz| <= K * 255 * 128 must fit in int32, hence K <= kQgemmMaxK.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "cpu/gemm/gemm.h"

namespace nn {
namespace gemm {

constexpr int64_t kQgemmMaxK = 65536;
constexpr int kQPanelCols = 32;  // columns per packed B panel
constexpr int kQKGroup = 4;      // k steps stored together (one int32 lane of vpdpbusd)
constexpr int kQAmxKBlock = 64;  // k per AMX tile row (64 bytes); panels are stored to this depth

enum class QOutput { Float32, Int32, UInt8, Int8 };

// B (K x N, int8) packed for the microkernels (Note [QGEMM packed layouts]):
//   panel p holds columns [32p, 32p+32), k padded to Kp = multiple of 4 for the VNNI /
//   AVX2 / generic kernels, stored zero filled up to panel_k() = multiple of 64 (the AMX
//   k block); byte (g, j, t) of panel p, for k = 4g + t, is at
//   data[p*panel_k()*32 + g*128 + j*4 + t].
// col_sums[n] = sum_k B[k,n] (int32) for the zero-point correction; scales are the
// per-tensor (size 1) or per-column (size N) weight scales.
class PackedQWeight {
 public:
  PackedQWeight(int64_t K, int64_t N);
  int64_t K() const { return K_; }
  int64_t N() const { return N_; }
  int64_t Kp() const { return Kp_; }
  int64_t panels() const { return panels_; }
  int64_t panel_k() const { return panel_k_; }
  const int8_t* panel(int64_t p) const { return data_.get() + p * panel_k_ * kQPanelCols; }
  const int8_t* data() const { return data_.get(); }
  int8_t* data() { return data_.get(); }
  const std::vector<int32_t>& col_sums() const { return col_sums_; }
  std::vector<int32_t>& col_sums() { return col_sums_; }
  std::vector<float> scales;  // size 1 (per tensor) or N (per column)
  // Bytes of packed data (panels * panel_k * 32).
  int64_t packed_bytes() const { return panels_ * panel_k_ * kQPanelCols; }
  // B[k, n] read back from the packed layout (used by the reference path and tests).
  int8_t at(int64_t k, int64_t n) const;

 private:
  struct FreeDeleter {
    void operator()(int8_t* p) const;
  };
  int64_t K_, N_, Kp_, panel_k_, panels_;
  std::unique_ptr<int8_t[], FreeDeleter> data_;
  std::vector<int32_t> col_sums_;
};

// Packs B (K x N, int8, B[k,n] = B[k*b_rs + n*b_cs]) with weight scales (1 or N values).
std::shared_ptr<PackedQWeight> pack_qweight(int64_t K, int64_t N, const int8_t* B, int64_t b_rs,
                                            int64_t b_cs, const std::vector<float>& scales);

struct QEpilogue {
  int32_t a_zero_point = 0;
  const int32_t* a_zero_points = nullptr;  // per row (M values) when set
  float a_scale = 1.0f;
  const float* a_scales = nullptr;  // per row (M values) when set
  const float* bias = nullptr;      // N values (per output column) or null
  Activation act = Activation::None;
  QOutput output = QOutput::Float32;
  float out_scale = 1.0f;  // UInt8 / Int8 outputs
  int32_t out_zero_point = 0;
};

// C = epilogue(A @ B). C's element type follows ep.output (float, int32_t, uint8_t,
// int8_t). Threads: nn::get_num_threads(). Preconditions (std::invalid_argument
// otherwise): M, N, K >= 0, K == B.K(), K <= kQgemmMaxK, pointers non-null when used.
void qgemm(int64_t M, const uint8_t* A, int64_t a_rs, int64_t a_cs, const PackedQWeight& B,
           void* C, int64_t c_rs, int64_t c_cs, const QEpilogue& ep);

// Reference: plain int32 triple loop on the unpacked B, single thread, same semantics.
void qgemm_ref(int64_t M, int64_t N, int64_t K, const uint8_t* A, int64_t a_rs, int64_t a_cs,
               const int8_t* B, int64_t b_rs, int64_t b_cs, const std::vector<float>& b_scales,
               void* C, int64_t c_rs, int64_t c_cs, const QEpilogue& ep);

// Name of the microkernel the active ISA uses: "qgemm_amx_32x32" (AMX-INT8 tiles),
// "qgemm_avx512vnni_14x32", "qgemm_avx2_u7_6x16" (7-bit activations; blocks of A with a
// value above 127 run on the exact "qgemm_avx2_6x8") or "qgemm_generic_4x32".
const char* qgemm_kernel_name();

// The top of the activation range dynamic quantization (quantize_rows, the dynamic
// Linear) uses on the active ISA: 127 where the int8 kernel is the AVX2 7-bit one (its
// fast path needs A <= 127; Note [AVX2 int8 saturation] in qgemm_kernel_avx2.cpp), 255
// on AVX-512 VNNI / AMX-INT8 and generic. qgemm itself is exact for any u8 A on every
// path; this only picks the range that hits the fast kernel.
int qgemm_dynamic_qmax();

}  // namespace gemm
}  // namespace nn
