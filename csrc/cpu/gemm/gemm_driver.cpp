// gemm_driver.cpp — the public GEMM entry points: argument checks, problem
// normalisation, path selection (small-M kernels, the direct Linear-layout kernels up to
// a per-ISA M, BLIS-style packed GEMM, reference), the blocked loop nest with its
// threading, the choice of packers (templates, or the transposing ones for B with unit
// row stride / row-major A), and the batched wrappers.
//
// Packed GEMM loop nest (BLIS order), for one microkernel with tile MR x NR and
// blocking mc/kc/nc (constants documented beside each kernel):
//   jc over N by nc:
//     pc over K by kc:        pack B[pc:pc+kc, jc:jc+nc] once, shared by all threads
//       threads: a tm x tn grid over (rows of M) x (NR panels of the nc block)
//         ic over the thread's rows by mc:   pack A[ic:ic+mc, pc:pc+kc] (thread-local)
//           jr over the thread's NR panels:  B micro-panel stays in L1
//             ir over MR panels:             microkernel on an MR x NR tile of C
// Note [GEMM epilogue order] is kept across k blocks: the first k block applies the
// caller's beta, later ones accumulate with beta = 1, and only the last one adds the
// bias and applies the activation. alpha scales each block's partial sum, which is
// the same as scaling the total.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <stdexcept>

#include "core/parallel.h"
#include "cpu/cpu_features.h"
#include "cpu/gemm/gemm.h"
#include "cpu/gemm/gemm_internal.h"
#include "cpu/gemm/gemm_pack.h"

namespace nn {
namespace gemm {
namespace {

using cpu::Isa;
using detail::TileEpilogue;

// Grow-only scratch (detail::AlignedScratch, gemm_internal.h): one per thread for A
// blocks, one per calling thread for the shared B block.
using detail::AlignedScratch;
thread_local AlignedScratch tls_packed_a;
thread_local AlignedScratch tls_packed_b;
thread_local AlignedScratch tls_panel_b;  // one B micro-panel (Note [Interleaved B packing])

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int available_threads() { return in_parallel_region() ? 1 : get_num_threads(); }

const detail::SgemmKernelInfo& sgemm_kernel_for(Isa isa) {
#if defined(NN_CORE_X86)
  if (isa == Isa::Avx512) return detail::sgemm_kernel_avx512();
  if (isa == Isa::Avx2) return detail::sgemm_kernel_avx2();
#endif
  (void)isa;
  return detail::sgemm_kernel_generic();
}

bool use_bf16_kernel() {
#if defined(NN_CORE_X86)
  return cpu::active_isa() == Isa::Avx512 && cpu::has_avx512_bf16();
#else
  return false;
#endif
}

// Thread grid tm x tn (tm * tn == threads) over MR-row units and NR-column units that
// minimises the tiles of the busiest thread. Ties go to splitting N: each thread then
// packs only its own B panels (no barrier between packing and compute) and every B
// micro-panel is reused over all row panels of M (measured faster, e.g. 128x768x768).
void choose_thread_grid(int threads, int64_t m_units, int64_t n_units, int* tm, int* tn) {
  int64_t best_cost = -1;
  for (int rows = 1; rows <= threads; ++rows) {
    if (threads % rows != 0) continue;
    const int cols = threads / rows;
    const int64_t cost = ceil_div(m_units, rows) * ceil_div(n_units, cols);
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      *tm = rows;
      *tn = cols;
    }
  }
}

TileEpilogue tile_epilogue(const Epilogue& ep, bool first_k_block, bool last_k_block,
                           int64_t row0, int64_t col0) {
  TileEpilogue t;
  t.alpha = ep.alpha;
  t.beta = first_k_block ? ep.beta : 1.0f;
  if (last_k_block) {
    t.act = ep.act;
    t.bias_kind = ep.bias_kind;
    if (ep.bias != nullptr && ep.bias_kind == BiasKind::PerColumn) t.bias = ep.bias + col0;
    if (ep.bias != nullptr && ep.bias_kind == BiasKind::PerRow) t.bias = ep.bias + row0;
  }
  return t;
}

// The transposing packers of one kernel (Note [Transposing packs]); a null member means
// the gemm_pack.h template. b_unit_rs serves B with b_rs == 1 != b_cs, a_unit_cs A with
// a_cs == 1 != a_rs; both write exactly what the template would.
template <typename Src, typename Packed>
struct FastPacks {
  void (*b_unit_rs)(const Src* b, int64_t cs, int64_t k, int64_t n, int nr, int64_t k_pad,
                    int64_t panel_begin, int64_t panel_end, Packed* dst) = nullptr;
  void (*a_unit_cs)(const Src* a, int64_t rs, int64_t m, int64_t k, int mr, int64_t k_pad,
                    Packed* dst) = nullptr;
  // Row-major B (b_cs == 1): a vectorised straight copy (same arguments, rs for cs).
  void (*b_unit_cs)(const Src* b, int64_t rs, int64_t k, int64_t n, int nr, int64_t k_pad,
                    int64_t panel_begin, int64_t panel_end, Packed* dst) = nullptr;
};

FastPacks<float, float> sgemm_fast_packs(Isa isa) {
  FastPacks<float, float> p;
#if defined(NN_CORE_X86)
  if (isa == Isa::Avx512) {
    p.b_unit_rs = detail::pack_b_panels_unit_rs_f32_avx512;
    p.a_unit_cs = detail::pack_a_block_unit_cs_f32_avx512;
    p.b_unit_cs = detail::pack_b_panels_unit_cs_f32_avx512;
  } else if (isa == Isa::Avx2) {
    p.b_unit_rs = detail::pack_b_panels_unit_rs_f32_avx2;
    p.a_unit_cs = detail::pack_a_block_unit_cs_f32_avx2;
    p.b_unit_cs = detail::pack_b_panels_unit_cs_f32_avx2;
  }
#endif
  (void)isa;
  return p;
}

// Preconditions: M, N, K >= 1. C may have any strides (a non-unit column stride goes
// through a local tile and the scalar epilogue).
//   kGroupA/kGroupB — k steps stored together in A/B panels (gemm_pack.h);
//   kKPad — packed depths are padded to a multiple of this.
template <typename Src, typename Packed, int kGroupA, int kGroupB, int kKPad, typename Kernel>
void packed_gemm(const detail::MicrokernelInfo<Kernel>& info, const FastPacks<Src, Packed>& fast,
                 int64_t M, int64_t N, int64_t K, const Src* A, int64_t a_rs, int64_t a_cs,
                 const Src* B, int64_t b_rs, int64_t b_cs, float* C, int64_t c_rs, int64_t c_cs,
                 const Epilogue& ep) {
  const int mr = info.mr;
  const int nr = info.nr;
  const bool fast_b = fast.b_unit_rs != nullptr && b_rs == 1 && b_cs != 1;
  const bool fast_a = fast.a_unit_cs != nullptr && a_cs == 1 && a_rs != 1;
  const bool copy_b = fast.b_unit_cs != nullptr && b_cs == 1;
  auto pack_b = [&](const Src* b_block, int64_t kc, int64_t nc, int64_t kc_pad, int64_t q0,
                    int64_t q1, Packed* dst) {
    if (fast_b) {
      fast.b_unit_rs(b_block, b_cs, kc, nc, nr, kc_pad, q0, q1, dst);
    } else if (copy_b) {
      fast.b_unit_cs(b_block, b_rs, kc, nc, nr, kc_pad, q0, q1, dst);
    } else {
      detail::pack_b_panels<Src, Packed, kGroupB>(b_block, b_rs, b_cs, kc, nc, nr, kc_pad, q0, q1,
                                                 dst);
    }
  };
  const int64_t nc_max = std::min<int64_t>(info.nc, ceil_div(N, nr) * nr);
  // Equal k blocks (K = 768 with kc 512 runs as 2 x 384, not 512 + 256).
  const int64_t k_blocks = ceil_div(K, info.kc);
  const int64_t kc_max = ceil_div(ceil_div(K, k_blocks), kKPad) * kKPad;
  const int threads = (M * N * K < 32 * 32 * 32) ? 1 : available_threads();

  Packed* packed_b = static_cast<Packed*>(tls_packed_b.get(sizeof(Packed) * nc_max * kc_max));

  for (int64_t jc = 0; jc < N; jc += nc_max) {
    const int64_t nc = std::min(nc_max, N - jc);
    const int64_t n_panels = ceil_div(nc, nr);
    int tm = 1, tn = 1;
    choose_thread_grid(threads, ceil_div(M, mr), n_panels, &tm, &tn);

    for (int64_t pc = 0; pc < K; pc += kc_max) {
      const int64_t kc = std::min(kc_max, K - pc);
      const int64_t kc_pad = ceil_div(kc, kKPad) * kKPad;
      const bool first_k = pc == 0;
      const bool last_k = pc + kc >= K;

      // With a pure column split (tm == 1) each thread packs its own panels inside the
      // compute task; otherwise all threads pack B together first and then share it.
      const Src* b_block = B + pc * b_rs + jc * b_cs;
      const bool own_b_panels = tm == 1;
      if (!own_b_panels) {
        const int64_t pack_grain = std::max<int64_t>(1, n_panels / threads);
        parallel_for(0, n_panels, pack_grain, [&](int64_t q0, int64_t q1) {
          pack_b(b_block, kc, nc, kc_pad, q0, q1, packed_b);
        });
      }

      const int64_t m_units = ceil_div(M, mr);
      parallel_for(0, tm * tn, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t task = t0; task < t1; ++task) {
          const int64_t ti = task / tn, tj = task % tn;
          const int64_t row_begin = std::min(M, m_units * ti / tm * mr);
          const int64_t row_end = std::min(M, m_units * (ti + 1) / tm * mr);
          const int64_t panel_begin = n_panels * tj / tn;
          const int64_t panel_end = n_panels * (tj + 1) / tn;
          if (row_begin >= row_end || panel_begin >= panel_end) continue;
          if (info.prepare != nullptr) info.prepare();
          const int64_t mc_max = std::min<int64_t>(info.mc, ceil_div(row_end - row_begin, mr) * mr);
          // Note [Interleaved B packing]: when the thread's rows form one A block, each B
          // micro-panel is packed right before the tiles that use it, into a buffer that
          // stays in L1/L2, instead of packing the thread's whole B block to L3 first and
          // reading it back. Few rows of A (M = 32 at K x N = 768 x 3072) then pay one read
          // of B from memory, not three passes. With row-major B the first tile of each panel
          // also prefetches the next panel's rows, spread over its k loop (TileEpilogue::
          // next_b; AVX-512 kernel): the copy then reads L2 instead of waiting on L3
          // (measured 3-8% at 32x768x3072 and 128x768x768; a burst of prefetches from the
          // driver, or from the packer, measured slower).
          const bool interleave_b = own_b_panels && row_end - row_begin <= mc_max;
          Packed* panel_buf = nullptr;
          if (interleave_b) {
            panel_buf = static_cast<Packed*>(tls_panel_b.get(sizeof(Packed) * nr * kc_pad));
          } else if (own_b_panels) {
            pack_b(b_block, kc, nc, kc_pad, panel_begin, panel_end, packed_b);
          }
          Packed* packed_a =
              static_cast<Packed*>(tls_packed_a.get(sizeof(Packed) * mc_max * kc_pad));
          alignas(64) float local_tile[16 * 64];

          for (int64_t ic = row_begin; ic < row_end; ic += mc_max) {
            const int64_t mc = std::min(mc_max, row_end - ic);
            const Src* a_block = A + ic * a_rs + pc * a_cs;
            if (fast_a) {
              fast.a_unit_cs(a_block, a_rs, mc, kc, mr, kc_pad, packed_a);
            } else {
              detail::pack_a_block<Src, Packed, kGroupA>(a_block, a_rs, a_cs, mc, kc, mr, kc_pad,
                                                        packed_a);
            }
            for (int64_t q = panel_begin; q < panel_end; ++q) {
              const int64_t col = jc + q * nr;
              const int n = static_cast<int>(std::min<int64_t>(nr, N - col));
              const Packed* b_panel = packed_b + q * nr * kc_pad;
              if (interleave_b) {
                pack_b(b_block + q * nr * b_cs, kc, n, kc_pad, 0, 1, panel_buf);
                b_panel = panel_buf;
              }
              for (int64_t ir = 0; ir < mc; ir += mr) {
                const int64_t row = ic + ir;
                const int m = static_cast<int>(std::min<int64_t>(mr, mc - ir));
                const Packed* a_panel = packed_a + ir * kc_pad;
                TileEpilogue tep = tile_epilogue(ep, first_k, last_k, row, col);
                // The first tile of a panel prefetches the next panel's rows of B (one
                // row per k step) while it computes, so the next pack reads L2, not L3.
                if (interleave_b && ir == 0 && b_cs == 1 && q + 1 < panel_end) {
                  tep.next_b = reinterpret_cast<const char*>(b_block + (q + 1) * nr);
                  tep.next_b_rs = b_rs * static_cast<int64_t>(sizeof(Src));
                  tep.next_b_rows = kc;
                }
                float* c = C + row * c_rs + col * c_cs;
                if (c_cs == 1) {
                  info.kernel(kc_pad, a_panel, b_panel, c, c_rs, m, n, tep);
                } else {
                  info.kernel(kc_pad, a_panel, b_panel, local_tile, nr, m, n, TileEpilogue{});
                  detail::apply_epilogue_scalar(local_tile, nr, c, c_rs, c_cs, m, n, tep);
                }
              }
            }
          }
        }
      });
    }
  }
}

// Note [Direct Linear-layout GEMM]: with B = W^T of a Linear weight W (N, K) (b_rs == 1)
// and a row-major A, C = A W^T is N x M dot products of contiguous k vectors. Up to a
// measured M per ISA that runs without packing (the colmajor_b kernels): each block of
// W rows is read from memory once and reused from L1 over register blocks of rows of A,
// where the packed path would read W, write it packed and read it again, a cost that
// few rows of A do not amortise (the weights of a model at batch 1 are memory bound).
// The limits (direct_colmajor_max_rows) come from `bench_linear_cpp --rows` on Sapphire
// Rapids, time direct / time packed (with the transposing packers), 1 and 2 threads, for
// (K, N) in (384,1152) (384,1536) (1536,384) (768,768) (768,3072) (3072,768):
//   avx512 (6x4 kernel vs 14x32 packed): 0.2-0.4 at M=4, 0.45-0.75 at 16, 0.65-0.95 at
//     32, 0.75-0.95 at 40, 0.8-0.96 at 48, 0.9-1.17 at 64                      -> 40;
//   avx2 (2x4 vs 6x16): 0.4-0.9 at 8, 0.75-1.17 at 12, 0.9-1.3 at 16            -> 8;
//   generic (scalar dots vs the 4x16 kernel): 0.75-0.87 at 4, 0.92-0.98 at 16,
//     ~1.0 from 24                                                              -> 16.
std::atomic<int64_t> g_direct_rows_override{-1};

bool direct_colmajor(Isa isa, int64_t M, int64_t a_cs, int64_t b_rs) {
  return b_rs == 1 && a_cs == 1 && M <= detail::direct_colmajor_max_rows(isa);
}

// Note [Small-M GEMM] (gemm_kernel_generic.cpp). Preconditions: M <= 4 and b_cs == 1, or
// the direct Linear-layout case above. Returns false when they do not hold.
bool try_small_m(Isa isa, const detail::SmallMArgs& args) {
  detail::SmallMKernel kernel = nullptr;
  if (args.M <= detail::kSmallMMaxRows && args.b_cs == 1) {
    kernel = detail::small_m_rowmajor_b_generic;
#if defined(NN_CORE_X86)
    if (isa == Isa::Avx512) kernel = detail::small_m_rowmajor_b_avx512;
    if (isa == Isa::Avx2) kernel = detail::small_m_rowmajor_b_avx2;
#endif
  } else if (direct_colmajor(isa, args.M, args.a_cs, args.b_rs)) {
    kernel = detail::small_m_colmajor_b_generic;
#if defined(NN_CORE_X86)
    if (isa == Isa::Avx512) kernel = detail::small_m_colmajor_b_avx512;
    if (isa == Isa::Avx2) kernel = detail::small_m_colmajor_b_avx2;
#endif
  } else {
    return false;
  }
  (void)isa;
  const int64_t work_per_column = args.M * args.K;
  const int64_t grain = std::max<int64_t>(64, (1 << 16) / std::max<int64_t>(1, work_per_column));
  const int64_t aligned_grain = (grain + 15) / 16 * 16;
  // GELU is the epilogue's last step: with unit column stride it runs once over each
  // thread's rows x columns share (vectorised over long rows) instead of per small tile.
  const bool gelu_after = args.ep.act == Activation::Gelu && args.c_cs == 1;
  detail::SmallMArgs kernel_args = args;
  if (gelu_after) kernel_args.ep.act = Activation::None;
  parallel_for(0, args.N, aligned_grain, [&](int64_t n0, int64_t n1) {
    kernel(kernel_args, n0, n1);
    if (gelu_after && n1 > n0) {
      for (int64_t m0 = 0; m0 < args.M; m0 += 1024)  // apply_gelu_tile takes int counts
        detail::apply_gelu_tile(args.C + m0 * args.c_rs + n0, args.c_rs,
                                static_cast<int>(std::min<int64_t>(1024, args.M - m0)), static_cast<int>(n1 - n0));
    }
  });
  return true;
}

void check_args(int64_t M, int64_t N, int64_t K, const void* A, const void* B, const void* C,
                const Epilogue& ep) {
  if (M < 0 || N < 0 || K < 0) throw std::invalid_argument("gemm: negative dimension");
  if (M > 0 && N > 0) {
    if (C == nullptr) throw std::invalid_argument("gemm: C is null");
    if (K > 0 && (A == nullptr || B == nullptr)) throw std::invalid_argument("gemm: A or B is null");
    if (ep.bias_kind != BiasKind::None && ep.bias == nullptr)
      throw std::invalid_argument("gemm: bias_kind set but bias is null");
  }
}

Epilogue transposed_epilogue(const Epilogue& ep) {
  Epilogue t = ep;
  if (ep.bias_kind == BiasKind::PerColumn) t.bias_kind = BiasKind::PerRow;
  if (ep.bias_kind == BiasKind::PerRow) t.bias_kind = BiasKind::PerColumn;
  return t;
}

// Note [GEMM transposition]: C^T = B^T A^T is the same product with A and B swapped,
// their strides swapped and per-row/per-column bias exchanged. It is used once per call
// (never recursively twice) when C is column-major, so tiles store with unit stride,
// and when N is tiny but M is not, so the small-M kernels apply.
bool c_is_column_major(int64_t M, int64_t c_rs, int64_t c_cs) {
  return c_cs != 1 && (c_rs == 1 || M == 1);
}

bool small_m_accepts(Isa isa, int64_t M, int64_t a_cs, int64_t b_rs, int64_t b_cs) {
  return (M <= detail::kSmallMMaxRows && b_cs == 1) || direct_colmajor(isa, M, a_cs, b_rs);
}

void sgemm_impl(int64_t M, int64_t N, int64_t K, const float* A, int64_t a_rs, int64_t a_cs,
                const float* B, int64_t b_rs, int64_t b_cs, float* C, int64_t c_rs,
                int64_t c_cs, const Epilogue& ep, bool may_transpose) {
  if (N == 1) c_cs = 1;
  if (M == 1) c_rs = 0;
  const Isa isa = cpu::active_isa();
  if (may_transpose) {
    const bool small_n = !small_m_accepts(isa, M, a_cs, b_rs, b_cs) &&
                         small_m_accepts(isa, N, b_rs, a_cs, a_rs);
    if (c_is_column_major(M, c_rs, c_cs) || small_n) {
      return sgemm_impl(N, M, K, B, b_cs, b_rs, A, a_cs, a_rs, C, c_cs, c_rs,
                        transposed_epilogue(ep), false);
    }
  }
  if (try_small_m(isa, detail::SmallMArgs{M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, C, c_rs, c_cs, ep}))
    return;
  packed_gemm<float, float, 1, 1, 1>(sgemm_kernel_for(isa), sgemm_fast_packs(isa), M, N, K, A,
                                     a_rs, a_cs, B, b_rs, b_cs, C, c_rs, c_cs, ep);
}

}  // namespace

void sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t a_rs, int64_t a_cs,
           const float* B, int64_t b_rs, int64_t b_cs, float* C, int64_t c_rs, int64_t c_cs,
           const Epilogue& ep) {
  check_args(M, N, K, A, B, C, ep);
  if (M == 0 || N == 0) return;
  if (K == 0) return gemm_ref<float>(M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, C, c_rs, c_cs, ep);
  sgemm_impl(M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, C, c_rs, c_cs, ep, true);
}

void bf16gemm(int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t a_rs, int64_t a_cs,
              const uint16_t* B, int64_t b_rs, int64_t b_cs, float* C, int64_t c_rs,
              int64_t c_cs, const Epilogue& ep) {
  check_args(M, N, K, A, B, C, ep);
  if (M == 0 || N == 0) return;
  if (K == 0) return bf16gemm_ref(M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, C, c_rs, c_cs, ep);
  if (N == 1) c_cs = 1;
  if (M == 1) c_rs = 0;
  if (c_is_column_major(M, c_rs, c_cs)) {  // Note [GEMM transposition]; c_cs' becomes 1
    return bf16gemm(N, M, K, B, b_cs, b_rs, A, a_cs, a_rs, C, c_cs, c_rs, transposed_epilogue(ep));
  }
#if defined(NN_CORE_X86)
  FastPacks<uint16_t, uint16_t> packs;
  packs.b_unit_rs = detail::pack_b_panels_unit_rs_bf16_avx512;
  if (cpu::has_amx_bf16()) {  // AMX A panels are contiguous copies of rows: no fast A pack
    return packed_gemm<uint16_t, uint16_t, 32, 2, 32>(detail::bf16_kernel_amx(), packs, M, N, K, A,
                                                      a_rs, a_cs, B, b_rs, b_cs, C, c_rs, c_cs, ep);
  }
  if (use_bf16_kernel()) {
    packs.a_unit_cs = detail::pack_a_block_unit_cs_bf16_avx512;
    return packed_gemm<uint16_t, uint16_t, 2, 2, 2>(detail::bf16_kernel_avx512bf16(), packs, M, N, K,
                                                    A, a_rs, a_cs, B, b_rs, b_cs, C, c_rs, c_cs, ep);
  }
#endif
  packed_gemm<uint16_t, float, 1, 1, 1>(sgemm_kernel_for(cpu::active_isa()), FastPacks<uint16_t, float>{},
                                        M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, C, c_rs, c_cs, ep);
}

namespace {
// Threads go to the batch when it divides evenly or is large, or when each product is
// too small to split; otherwise each product is threaded over its tiles.
bool split_batch_over_threads(int64_t batch, int64_t M, int64_t N, int64_t K) {
  const int threads = available_threads();
  if (threads <= 1 || batch < 2) return false;
  if (batch % threads == 0 || batch >= 4 * threads) return true;
  return M * N * K <= 128 * 128 * 128;
}

template <typename Src, typename Fn>
void run_batched(int64_t batch, int64_t M, int64_t N, int64_t K, const Src* A, int64_t a_bs,
                 const Src* B, int64_t b_bs, float* C, int64_t c_bs, Fn&& one) {
  if (batch < 0) throw std::invalid_argument("gemm_batched: negative batch");
  if (batch > 1 && c_bs == 0 && M > 0 && N > 0)
    throw std::invalid_argument("gemm_batched: C batch stride 0 with batch > 1");
  auto run_range = [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) one(A + b * a_bs, B + b * b_bs, C + b * c_bs);
  };
  if (split_batch_over_threads(batch, M, N, K)) {
    parallel_for(0, batch, 1, run_range);
  } else {
    run_range(0, batch);
  }
}
}  // namespace

void sgemm_batched(int64_t batch, int64_t M, int64_t N, int64_t K, const float* A, int64_t a_bs,
                   int64_t a_rs, int64_t a_cs, const float* B, int64_t b_bs, int64_t b_rs,
                   int64_t b_cs, float* C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
                   const Epilogue& ep) {
  run_batched(batch, M, N, K, A, a_bs, B, b_bs, C, c_bs,
              [&](const float* a, const float* b, float* c) {
                sgemm(M, N, K, a, a_rs, a_cs, b, b_rs, b_cs, c, c_rs, c_cs, ep);
              });
}

void bf16gemm_batched(int64_t batch, int64_t M, int64_t N, int64_t K, const uint16_t* A,
                      int64_t a_bs, int64_t a_rs, int64_t a_cs, const uint16_t* B, int64_t b_bs,
                      int64_t b_rs, int64_t b_cs, float* C, int64_t c_bs, int64_t c_rs,
                      int64_t c_cs, const Epilogue& ep) {
  run_batched(batch, M, N, K, A, a_bs, B, b_bs, C, c_bs,
              [&](const uint16_t* a, const uint16_t* b, float* c) {
                bf16gemm(M, N, K, a, a_rs, a_cs, b, b_rs, b_cs, c, c_rs, c_cs, ep);
              });
}

namespace detail {

int64_t direct_colmajor_max_rows(cpu::Isa isa) {
  const int64_t forced = g_direct_rows_override.load(std::memory_order_relaxed);
  if (forced >= 0) return forced;
  switch (isa) {
    case Isa::Avx512:
      return 40;
    case Isa::Avx2:
      return 8;
    case Isa::Generic:
      break;
  }
  return 16;
}

}  // namespace detail

int64_t direct_linear_max_rows() { return detail::direct_colmajor_max_rows(cpu::active_isa()); }

void set_direct_linear_max_rows_override(int64_t rows) {
  g_direct_rows_override.store(rows < 0 ? -1 : rows, std::memory_order_relaxed);
}

const char* kernel_name() { return sgemm_kernel_for(cpu::active_isa()).name; }

const char* bf16_kernel_name() {
#if defined(NN_CORE_X86)
  if (cpu::has_amx_bf16()) return detail::bf16_kernel_amx().name;
  if (use_bf16_kernel()) return detail::bf16_kernel_avx512bf16().name;
  switch (cpu::active_isa()) {
    case Isa::Avx512:
      return "bf16_converted_sgemm_avx512_14x32";
    case Isa::Avx2:
      return "bf16_converted_sgemm_avx2_6x16";
    case Isa::Generic:
      break;
  }
#endif
  return "bf16_converted_sgemm_generic_4x16";
}

}  // namespace gemm
}  // namespace nn
