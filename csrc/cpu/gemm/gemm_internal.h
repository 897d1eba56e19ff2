// gemm_internal.h — the contract between the GEMM driver (gemm_driver.cpp) and the
// per-ISA microkernels, packers and small-M kernels. Not part of the public API.
//
// Packed layouts (Note [GEMM packed layouts]):
//   fp32 A panel (MR rows x kc):  a[k*MR + i]            = A[i, k]      (k-major)
//   fp32 B panel (kc x NR cols):  b[k*NR + j]            = B[k, j]
//   bf16 A panel (k in pairs):    a[(p*MR + i)*2 + t]    = A[i, 2p+t]
//   bf16 B panel (k in pairs):    b[(p*NR + j)*2 + t]    = B[2p+t, j]
//   AMX A panel (k in blocks of 32): a[(q*MR + i)*32 + t] = A[i, 32q+t]
// Rows i >= m and columns j >= n of an edge panel are zero, as is the padding k of an
// odd kc in the bf16 layouts, so a kernel may always compute a full MR x NR tile; it
// only ever stores (and, when beta != 0, loads) the valid m x n part of C.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <cstdint>

#include "cpu/cpu_features.h"
#include "cpu/gemm/gemm.h"

namespace nn {
namespace gemm {
namespace detail {

// The epilogue one microkernel call applies to its tile. The driver passes beta = 1 and
// no bias/activation for all but the first/last k block (Note [GEMM epilogue order]).
struct TileEpilogue {
  float alpha = 1.0f;
  float beta = 0.0f;
  const float* bias = nullptr;  // already offset to the tile's first row (PerRow) or column
  BiasKind bias_kind = BiasKind::None;
  Activation act = Activation::None;
  // Note [Interleaved B packing]: rows of the NEXT B micro-panel in the caller's B (unit
  // column stride, row stride next_b_rs bytes). A kernel may prefetch the first 128 bytes
  // of row k into L2 during its k-th step, for k < next_b_rows; others ignore it.
  const char* next_b = nullptr;
  int64_t next_b_rs = 0;
  int64_t next_b_rows = 0;
};

// C tile (m x n, 1 <= m <= MR, 1 <= n <= NR) at c with row stride c_rs and unit column
// stride. kc is the (padded) depth of the packed panels.
using SgemmMicrokernel = void (*)(int64_t kc, const float* a_panel, const float* b_panel,
                                  float* c, int64_t c_rs, int m, int n, const TileEpilogue& ep);
using Bf16Microkernel = void (*)(int64_t kc, const uint16_t* a_panel, const uint16_t* b_panel,
                                 float* c, int64_t c_rs, int m, int n, const TileEpilogue& ep);

// A microkernel with its register tile and the cache blocking chosen for it.
template <typename Kernel>
struct MicrokernelInfo {
  const char* name;
  int mr, nr;
  int64_t mc, kc, nc;  // cache blocking: A block mc x kc in L2, B panel kc x NR in L1
  Kernel kernel;
  // Called by each thread before its microkernel calls of one GEMM (null: nothing to do).
  // The AMX kernel loads its tile configuration here on every call: other code on the
  // thread (another library's AMX kernels) may have changed or released it meanwhile.
  void (*prepare)() = nullptr;
};
using SgemmKernelInfo = MicrokernelInfo<SgemmMicrokernel>;
using Bf16KernelInfo = MicrokernelInfo<Bf16Microkernel>;

// Registered kernels (x86 ones are only defined on x86 builds).
const SgemmKernelInfo& sgemm_kernel_generic();
const SgemmKernelInfo& sgemm_kernel_avx2();
const SgemmKernelInfo& sgemm_kernel_avx512();
const Bf16KernelInfo& bf16_kernel_avx512bf16();
const Bf16KernelInfo& bf16_kernel_amx();  // A panels in the AMX layout (kGroup 32)

// Small-M path (Note [Small-M GEMM]): C rows [0, M) x columns [n_begin, n_end), written
// through the full epilogue; any C strides.
//  rowmajor_b: B has unit column stride (B[k, n] = B[k*b_rs + n]); A any strides;
//    M <= kSmallMMaxRows.
//  colmajor_b: B has unit row stride (B[k, n] = B[n*b_cs + k], the Linear layout
//    B = W^T) and A unit column stride; any M (the driver uses it up to
//    direct_colmajor_max_rows(isa), Note [Direct Linear-layout GEMM]).
struct SmallMArgs {
  int64_t M, N, K;
  const float* A;
  int64_t a_rs, a_cs;
  const float* B;
  int64_t b_rs, b_cs;
  float* C;
  int64_t c_rs, c_cs;
  Epilogue ep;
};
constexpr int64_t kSmallMMaxRows = 4;
using SmallMKernel = void (*)(const SmallMArgs& args, int64_t n_begin, int64_t n_end);
void small_m_rowmajor_b_generic(const SmallMArgs& args, int64_t n_begin, int64_t n_end);
void small_m_colmajor_b_generic(const SmallMArgs& args, int64_t n_begin, int64_t n_end);
void small_m_rowmajor_b_avx512(const SmallMArgs& args, int64_t n_begin, int64_t n_end);
void small_m_colmajor_b_avx512(const SmallMArgs& args, int64_t n_begin, int64_t n_end);
void small_m_colmajor_b_avx2(const SmallMArgs& args, int64_t n_begin, int64_t n_end);
void small_m_rowmajor_b_avx2(const SmallMArgs& args, int64_t n_begin, int64_t n_end);

// Largest M the driver sends to the colmajor_b kernel of an ISA (measured against the
// packed path; gemm_driver.cpp), or the override (set_direct_linear_max_rows_override).
int64_t direct_colmajor_max_rows(cpu::Isa isa);

// Transposing packers (Note [Transposing packs], gemm_pack_avx512.cpp): the same output as
// pack_b_panels<.., kGroup>(b, /*rs=*/1, cs, ...) and pack_a_block<..>(a, rs, /*cs=*/1, ...)
// in gemm_pack.h, which are their references.
//   b_unit_rs: nr a multiple of 16 (avx512) or 8 (avx2); k_pad even for bf16.
//   a_unit_cs: mr <= 16 (avx512) or 8 (avx2).
void pack_b_panels_unit_rs_f32_avx512(const float* b, int64_t cs, int64_t k, int64_t n, int nr,
                                      int64_t k_pad, int64_t panel_begin, int64_t panel_end,
                                      float* dst);
void pack_b_panels_unit_rs_bf16_avx512(const uint16_t* b, int64_t cs, int64_t k, int64_t n,
                                       int nr, int64_t k_pad, int64_t panel_begin,
                                       int64_t panel_end, uint16_t* dst);
void pack_a_block_unit_cs_f32_avx512(const float* a, int64_t rs, int64_t m, int64_t k, int mr,
                                     int64_t k_pad, float* dst);
void pack_a_block_unit_cs_bf16_avx512(const uint16_t* a, int64_t rs, int64_t m, int64_t k, int mr,
                                      int64_t k_pad, uint16_t* dst);
void pack_b_panels_unit_rs_f32_avx2(const float* b, int64_t cs, int64_t k, int64_t n, int nr,
                                    int64_t k_pad, int64_t panel_begin, int64_t panel_end,
                                    float* dst);
// Straight-copy packers for row-major B (b_cs == 1), fp32, nr a multiple of 16 / 8; the
// same output as pack_b_panels<float, float, 1>(b, rs, /*cs=*/1, ...).
void pack_b_panels_unit_cs_f32_avx512(const float* b, int64_t rs, int64_t k, int64_t n, int nr,
                                      int64_t k_pad, int64_t panel_begin, int64_t panel_end,
                                      float* dst);
void pack_b_panels_unit_cs_f32_avx2(const float* b, int64_t rs, int64_t k, int64_t n, int nr,
                                    int64_t k_pad, int64_t panel_begin, int64_t panel_end,
                                    float* dst);
void pack_a_block_unit_cs_f32_avx2(const float* a, int64_t rs, int64_t m, int64_t k, int mr,
                                   int64_t k_pad, float* dst);

// Scalar epilogue helpers shared by kernels and the driver.
float gelu_exact(float x);
// c[i, j] = act(alpha*acc[i*acc_rs + j] + beta*c[i, j] + bias) for i < m, j < n.
void apply_epilogue_scalar(const float* acc, int64_t acc_rs, float* c, int64_t c_rs,
                           int64_t c_cs, int64_t m, int64_t n, const TileEpilogue& ep);
// In-place gelu over an m x n tile with unit column stride.
void apply_gelu_tile(float* c, int64_t c_rs, int m, int n);

// Grow-only 64-byte aligned scratch buffer (packed panels); the GEMM drivers keep one
// thread_local instance per use. Throws std::bad_alloc when the system has no memory.
class AlignedScratch {
 public:
  AlignedScratch() = default;
  AlignedScratch(const AlignedScratch&) = delete;
  AlignedScratch& operator=(const AlignedScratch&) = delete;
  ~AlignedScratch() { std::free(data_); }
  void* get(size_t bytes) {
    if (bytes > size_) {
      std::free(data_);
      size_ = (bytes + 63) / 64 * 64;
      data_ = std::aligned_alloc(64, size_);
      if (data_ == nullptr) {
        size_ = 0;
        throw std::bad_alloc();
      }
    }
    return data_;
  }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace detail
}  // namespace gemm
}  // namespace nn
