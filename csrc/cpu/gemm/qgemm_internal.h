// qgemm_internal.h — the contract between the int8 GEMM driver (qgemm_driver.cpp) and
// its per-ISA microkernels and epilogues. Not part of the public API.
//
// Packed layouts (Note [QGEMM packed layouts]):
//   B: see PackedQWeight in qgemm.h — 32-column panels, k in groups of 4:
//        b[g*128 + j*4 + t] = B[4g+t, j]       (one 128-byte row of groups per k group)
//   A panel, u8 format  (VNNI, AVX2 7-bit, generic): a[g*MR*4 + i*4 + t] = A[i, 4g+t] (uint8)
//   A panel, s16 format (AVX2 8-bit):                a[g*MR*4 + i*4 + t] = A[i, 4g+t] (int16)
//   A panel, AMX format (k blocks of 64): a[(kb*MR + i)*64 + kk] = A[i, 64kb+kk] (uint8)
// k >= K and rows i >= m of an edge panel are zero, so padded products vanish. The A
// panel depth is Kp (u8, s16) or B.panel_k() (AMX).
#pragma once

#include <cstdint>

#include "cpu/gemm/qgemm.h"

namespace nn {
namespace gemm {
namespace detail {

// Computes rows [0, m) (1 <= m <= MR) x all 32 columns of one packed B panel over kg k
// groups (AMX: kg rounded up to whole 64-k blocks, the padding is zero) and stores the
// int32 sums to acc[i*32 + j] (acc is 64-byte aligned, room for 32 rows).
using QgemmMicrokernel = void (*)(int64_t kg, const void* a_panel, const int8_t* b_panel,
                                  int32_t* acc, int m);

enum class QPackA { U8, S16, AmxU8 };

struct QgemmKernelInfo {
  const char* name;
  int mr;
  QPackA a_format;
  QgemmMicrokernel kernel;
  // Called by each thread before its first microkernel call of a qgemm (null: nothing
  // to do). The AMX kernel loads its tile configuration here, every call, because other
  // code on the same thread (another library's AMX kernels) may have changed or
  // released it since.
  void (*prepare)() = nullptr;
  // The largest A value the kernel is exact for: 255, or 127 for a 7-bit kernel
  // (Note [AVX2 int8 saturation] in qgemm_kernel_avx2.cpp; a 2^k - 1 mask). The driver
  // ORs the bytes of each packed A block and runs a block with a larger value on `wide`
  // (exact for all u8, same mr), so every call gets the exact product.
  int a_max = 255;
  const QgemmKernelInfo* wide = nullptr;
};

// Everything the epilogue of one tile needs, already offset to the tile's first row
// (row0) and column (col0) where noted.
struct QTile {
  const int32_t* acc;  // m x 32, row stride 32
  int m, n;
  int64_t row0, col0;
  const int32_t* col_sums;  // at col0
  const float* b_scales;    // at col0, or null for the per-tensor b_scale
  float b_scale;
  void* c;  // element (row0, col0) of C, typed by ep.output
  int64_t c_rs, c_cs;
};

// The scalar epilogue (Note [QGEMM epilogue]); compiled without FMA contraction flags
// and using std::fma explicitly, so it matches the vector epilogues bit for bit.
void qepilogue_scalar(const QTile& t, const QEpilogue& ep);
// The AVX-512 epilogue (unit column stride, act != Gelu; otherwise it calls the scalar one).
void qepilogue_avx512(const QTile& t, const QEpilogue& ep);
// The AVX2 epilogue (unit column stride, act != Gelu, 8 columns at a time; the rest
// scalar).
void qepilogue_avx2(const QTile& t, const QEpilogue& ep);

const QgemmKernelInfo& qgemm_kernel_generic();
const QgemmKernelInfo& qgemm_kernel_avx2();
const QgemmKernelInfo& qgemm_kernel_avx512vnni();
const QgemmKernelInfo& qgemm_kernel_amx();

}  // namespace detail
}  // namespace gemm
}  // namespace nn
