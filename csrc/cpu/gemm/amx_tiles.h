// amx_tiles.h — the AMX tile configuration shared by the AMX kernels (bf16 GEMM in
// gemm_bf16_amx_avx512bf16.cpp, int8 GEMM in qgemm_kernel_amx_avx512vnni.cpp): palette 1,
// all eight tiles 16 rows x 64 bytes.
//
// Loaded at the start of every thread's share of every call (the kernels' prepare hook):
// a thread_local "configured once" flag is wrong when other code on the thread (torch /
// oneDNN) reconfigures or releases the tiles, which makes the next tile instruction SIGILL.
#pragma once
#include <cstdint>
#include <cstring>

namespace nn::gemm::detail {

// LDTILECFG's 64-byte memory layout.
struct alignas(64) AmxTileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

__attribute__((target("amx-tile"))) inline void configure_amx_tiles_16x64() {
  AmxTileConfig cfg;
  std::memset(&cfg, 0, sizeof cfg);
  cfg.palette_id = 1;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  // Not _tile_loadconfig: GCC 12's version passes only the first 8 bytes of the config
  // as the asm's memory operand, so the stores of colsb/rows may be dropped as dead.
  // The whole 64-byte struct is the operand here.
  __asm__ volatile("ldtilecfg %0" : : "m"(cfg));
}

}  // namespace nn::gemm::detail
