// gemm_bf16_amx_avx512bf16.cpp — the AMX GEMM microkernel bf16gemm_amx_32x32 (bf16
// inputs, fp32 accumulation in AMX tiles, fp32 C). Compiled with the AVX512-BF16 unit
// flags; the AMX parts carry target("amx-tile,amx-bf16") and only run when
// nn::cpu::has_amx_bf16() (CPU, XCR0 and the Linux tile-data permission) holds.
//
// Microkernel contract (see Note [GEMM packed layouts] in gemm_internal.h):
//   register tile: MR x NR = 32 x 32 fp32 in four 16x16 AMX accumulator tiles
//     (tmm0..3); per k block of 32 it loads two A tiles (tmm4, tmm5: 16 rows x 32 k)
//     and two B tiles (tmm6, tmm7: 16 k pairs x 16 columns) and issues 4 tdpbf16ps.
//   a_panel: AMX row layout in k blocks of 32: a[(kb*32 + i)*32 + kk] = A[i, 32kb+kk]
//     (each tile row is 64 contiguous bytes of one row of A).
//   b_panel: the bf16 pair layout, b[(p*32 + j)*2 + t] = B[2p+t, j], so one k block is
//     16 rows of 128 bytes; tile 6 reads columns 0..15, tile 7 columns 16..31.
//   kc is a multiple of 32; the driver zero-pads k, rows and columns.
//   C: m x n (1 <= m <= 32, 1 <= n <= 32), row stride c_rs, unit column stride. The
//     tiles are stored to a local 32 x 32 buffer and store_buffered_tile_avx512 applies
//     the epilogue to the valid m x n part only; beta == 0 never reads C.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 intrinsic headers (bug 105593)
#include <immintrin.h>

#include <cstring>

#include "cpu/gemm/amx_tiles.h"
#include "cpu/gemm/gemm_avx512_epilogue.h"
#include "cpu/gemm/gemm_internal.h"

namespace nn {
namespace gemm {
namespace detail {
namespace {

constexpr int kMr = 32;
constexpr int kNr = 32;
constexpr int kKBlock = 32;

void configure_tiles() { configure_amx_tiles_16x64(); }  // amx_tiles.h

__attribute__((target("amx-tile,amx-bf16"))) void bf16gemm_amx_32x32(
    int64_t kc, const uint16_t* a_panel, const uint16_t* b_panel, float* c, int64_t c_rs, int m,
    int n, const TileEpilogue& ep) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  constexpr int64_t kABytesPerRow = kKBlock * 2;  // 64
  constexpr int64_t kBBytesPerRow = kNr * 2 * 2;  // 128: 32 columns x one k pair
  for (int64_t kb = 0; kb < kc / kKBlock; ++kb) {
    const uint16_t* a = a_panel + kb * kMr * kKBlock;
    const uint16_t* b = b_panel + kb * kKBlock * kNr;
    _tile_loadd(4, a, kABytesPerRow);
    _tile_loadd(5, a + 16 * kKBlock, kABytesPerRow);
    _tile_loadd(6, b, kBBytesPerRow);
    _tile_loadd(7, b + 32, kBBytesPerRow);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  alignas(64) float acc[kMr * kNr];
  constexpr int64_t kAccBytesPerRow = kNr * 4;
  _tile_stored(0, acc, kAccBytesPerRow);
  _tile_stored(1, acc + 16, kAccBytesPerRow);
  _tile_stored(2, acc + 16 * kNr, kAccBytesPerRow);
  _tile_stored(3, acc + 16 * kNr + 16, kAccBytesPerRow);
  store_buffered_tile_avx512(acc, kNr, m, c, c_rs, n, ep);
}

}  // namespace

// Blocking: kc = 512 (16 k blocks) makes the A and B micro-panels 32 KiB each; mc = 256
// keeps the packed A block at 256 KiB in L2; nc = 4096 as for the other kernels.
const Bf16KernelInfo& bf16_kernel_amx() {
  static const Bf16KernelInfo info{"bf16gemm_amx_32x32", kMr, kNr,
                                   /*mc=*/256, /*kc=*/512, /*nc=*/4096, bf16gemm_amx_32x32,
                                   configure_tiles};
  return info;
}

}  // namespace detail
}  // namespace gemm
}  // namespace nn
