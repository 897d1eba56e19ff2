// qgemm_kernel_amx_avx512vnni.cpp — the AMX-INT8 microkernel qgemm_amx_32x32 (u8 x s8 ->
// s32 in AMX tiles). Compiled with the AVX-512 VNNI unit flags; the AMX parts carry
// target("amx-tile,amx-int8") and only run when nn::cpu::has_amx_int8() holds (CPU,
// XCR0 and the Linux tile-data permission).
//
// Microkernel contract (see Note [QGEMM packed layouts] in qgemm_internal.h):
//   register tile: MR x NR = 32 x 32 int32 in four 16x16 accumulator tiles (tmm0..3);
//     per k block of 64 it loads two A tiles (tmm4, tmm5: 16 rows x 64 u8) and two B
//     tiles (tmm6, tmm7: 16 k groups x (16 columns x 4 s8)) and issues 4 tdpbusd
//     (u8 x s8, 4 products per int32 lane added without saturation).
//   a_panel: AMX format, a[(kb*32 + i)*64 + kk] = A[i, 64kb+kk], zero padded rows and k.
//   b_panel: the packed B panel (b[g*128 + j*4 + t] = B[4g+t, j]) read as two tiles of 16
//     rows with a 128-byte stride: columns 0..15 at b, 16..31 at b + 64. Panels are
//     stored zero padded to whole 64-k blocks (PackedQWeight::panel_k()).
//   output: the four tiles are stored to acc (32 rows x 32 int32); rows >= m are zero
//     products of zero rows and the driver's epilogue only reads rows < m.
//   tiles: configure_tiles (palette 1, eight tiles of 16 rows x 64 bytes) runs as the
//     kernel's prepare hook at the start of every thread's share of a qgemm call, so a
//     configuration changed or released by other code on the thread is never assumed.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 intrinsic headers (bug 105593)
#include <immintrin.h>

#include <cstring>

#include "cpu/gemm/amx_tiles.h"
#include "cpu/gemm/qgemm_internal.h"

namespace nn {
namespace gemm {
namespace detail {
namespace {

constexpr int kMr = 32;

void configure_tiles() { configure_amx_tiles_16x64(); }  // amx_tiles.h

__attribute__((target("amx-tile,amx-int8"))) void qgemm_amx_32x32(int64_t kg, const void* a_panel,
                                                                  const int8_t* b_panel, int32_t* acc,
                                                                  int /*m*/) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  const uint8_t* a = static_cast<const uint8_t*>(a_panel);
  const int64_t blocks = (kg * kQKGroup + kQAmxKBlock - 1) / kQAmxKBlock;
  for (int64_t kb = 0; kb < blocks; ++kb) {
    const uint8_t* ak = a + kb * kMr * kQAmxKBlock;
    const int8_t* bk = b_panel + kb * kQAmxKBlock * kQPanelCols;
    _tile_loadd(4, ak, kQAmxKBlock);
    _tile_loadd(5, ak + 16 * kQAmxKBlock, kQAmxKBlock);
    _tile_loadd(6, bk, kQPanelCols * kQKGroup);
    _tile_loadd(7, bk + 64, kQPanelCols * kQKGroup);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
  constexpr int64_t kRowBytes = kQPanelCols * 4;
  _tile_stored(0, acc, kRowBytes);
  _tile_stored(1, acc + 16, kRowBytes);
  _tile_stored(2, acc + 16 * kQPanelCols, kRowBytes);
  _tile_stored(3, acc + 16 * kQPanelCols + 16, kRowBytes);
}

}  // namespace

const QgemmKernelInfo& qgemm_kernel_amx() {
  static const QgemmKernelInfo info{"qgemm_amx_32x32", kMr, QPackA::AmxU8, qgemm_amx_32x32, configure_tiles};
  return info;
}

}  // namespace detail
}  // namespace gemm
}  // namespace nn
