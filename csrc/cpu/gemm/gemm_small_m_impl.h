// gemm_small_m_impl.h — the ISA-independent part of the small-M row-major-B kernels
// (Note [Small-M GEMM], gemm_kernel_generic.cpp): the column blocks, the thread-local
// accumulator rows and the epilogue. Included inside an anonymous namespace by
// gemm_small_m_avx512.cpp and gemm_small_m_avx2.cpp, which supply the vector loop.
//
// For a block of up to kColBlock columns (a thread's whole share for N = 4096) the M
// accumulator rows live in a thread-local buffer (16 KiB per row, L1/L2), zeroed over
// the block rounded up to kLanes columns; k advances 4 rows of B at a time, so each row
// piece is long and contiguous and B is read as one sequential stream when the block
// spans all of N (shorter, page-sized pieces measured ~10% slower on AVX-512). C is
// written through apply_epilogue_scalar, so any C strides work.

constexpr int64_t kColBlock = 4096;

inline TileEpilogue full_tile_epilogue(const Epilogue& ep, int64_t col0) {
  TileEpilogue t{ep.alpha, ep.beta, nullptr, ep.bias_kind, ep.act};
  if (ep.bias != nullptr && ep.bias_kind == BiasKind::PerColumn) t.bias = ep.bias + col0;
  if (ep.bias != nullptr && ep.bias_kind == BiasKind::PerRow) t.bias = ep.bias;
  return t;
}

// Columns [n_begin, n_end) of C. Accumulate<kSteps>::run(s, k, n0, nb, acc) adds
// sum_{t < kSteps} A[i, k+t] * B[k+t, n0+j] to acc[i*kColBlock + j] for i < M, j < nb
// (acc is 64-byte aligned and padded to whole vectors of kLanes floats).
template <int kLanes, template <int> class Accumulate>
void small_m_rowmajor_b_blocks(const SmallMArgs& s, int64_t n_begin, int64_t n_end) {
  thread_local std::vector<float> acc_buffer;
  acc_buffer.resize(kSmallMMaxRows * kColBlock + 16);
  // 64-byte aligned view of the buffer.
  float* acc = acc_buffer.data() + ((64 - reinterpret_cast<uintptr_t>(acc_buffer.data()) % 64) % 64) / 4;
  for (int64_t n0 = n_begin; n0 < n_end; n0 += kColBlock) {
    const int64_t nb = std::min(kColBlock, n_end - n0);
    const int64_t nb_padded = (nb + kLanes - 1) / kLanes * kLanes;
    for (int64_t i = 0; i < s.M; ++i) std::fill(acc + i * kColBlock, acc + i * kColBlock + nb_padded, 0.0f);
    int64_t k = 0;
    for (; k + 4 <= s.K; k += 4) Accumulate<4>::run(s, k, n0, nb, acc);
    for (; k < s.K; ++k) Accumulate<1>::run(s, k, n0, nb, acc);
    apply_epilogue_scalar(acc, kColBlock, s.C + n0 * s.c_cs, s.c_rs, s.c_cs, s.M, nb,
                          full_tile_epilogue(s.ep, n0));
  }
}
