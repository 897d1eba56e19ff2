// qgemm_driver.cpp — the int8 GEMM entry point: argument checks, weight packing
// (PackedQWeight, done once per weight), A packing per call, kernel selection by ISA,
// and the blocked, threaded loop nest.
//
// Loop nest (B is pre-packed over the whole K, so there is no k blocking: each tile
// accumulates all of K in registers and the epilogue runs once, fused after it):
//   threads: a tm x tn grid over (MR-row units of M) x (32-column panels of N)
//     ic over the thread's rows by mc:      pack A[ic:ic+mc, :] (thread-local, in L2)
//       q over the thread's B panels:       the Kp x 32 panel streams into L1/L2
//         ir over MR panels of the block:   microkernel -> int32 tile -> epilogue
// mc is chosen so the packed A block stays near 512 KiB (a quarter of a 2 MiB L2).
//
// Note [QGEMM 7-bit blocks]: a kernel that is only exact for A <= a_max (< 255; the
// AVX2 vpmaddubsw kernel, a_max = 127) has an exact `wide` kernel beside it. Each
// thread packs its A block in the 7-bit kernel's format, ORs its bytes, and when any
// byte exceeds a_max packs the block again for `wide` and runs that one. The check
// costs one pass over M x K bytes; any u8 input gets the exact product on every path.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "core/parallel.h"
#include "cpu/cpu_features.h"
#include "cpu/gemm/gemm_internal.h"
#include "cpu/gemm/qgemm_internal.h"

namespace nn {
namespace gemm {

namespace {
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
}  // namespace

void PackedQWeight::FreeDeleter::operator()(int8_t* p) const { std::free(p); }

PackedQWeight::PackedQWeight(int64_t K, int64_t N)
    : K_(K), N_(N), Kp_(ceil_div(std::max<int64_t>(K, 1), kQKGroup) * kQKGroup),
      panel_k_(ceil_div(Kp_, kQAmxKBlock) * kQAmxKBlock), panels_(ceil_div(N, kQPanelCols)), col_sums_(static_cast<size_t>(N), 0) {
  const size_t bytes = static_cast<size_t>(std::max<int64_t>(64, ceil_div(packed_bytes(), 64) * 64));
  void* p = std::aligned_alloc(64, bytes);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  data_.reset(static_cast<int8_t*>(p));
}

int8_t PackedQWeight::at(int64_t k, int64_t n) const {
  const int64_t p = n / kQPanelCols, j = n % kQPanelCols, g = k / kQKGroup, t = k % kQKGroup;
  return data_[p * panel_k_ * kQPanelCols + g * kQPanelCols * kQKGroup + j * kQKGroup + t];
}

std::shared_ptr<PackedQWeight> pack_qweight(int64_t K, int64_t N, const int8_t* B, int64_t b_rs,
                                            int64_t b_cs, const std::vector<float>& scales) {
  if (K < 0 || N < 0 || K > kQgemmMaxK)
    throw std::invalid_argument("pack_qweight: K must be in [0, 65536] and N >= 0");
  if (scales.size() != 1 && static_cast<int64_t>(scales.size()) != N)
    throw std::invalid_argument("pack_qweight: scales must have 1 or N values");
  if (K * N > 0 && B == nullptr) throw std::invalid_argument("pack_qweight: B is null");
  auto packed = std::make_shared<PackedQWeight>(K, N);
  packed->scales = scales;
  int8_t* out = packed->data();
  auto pack_panels = [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      int8_t* panel = out + p * packed->panel_k() * kQPanelCols;
      const int64_t n_end = std::min<int64_t>(N, (p + 1) * kQPanelCols);
      for (int64_t n = p * kQPanelCols; n < n_end; ++n) {
        const int64_t j = n - p * kQPanelCols;
        int32_t sum = 0;
        for (int64_t k = 0; k < K; ++k) {
          const int8_t v = B[k * b_rs + n * b_cs];
          panel[(k / kQKGroup) * kQPanelCols * kQKGroup + j * kQKGroup + k % kQKGroup] = v;
          sum += v;
        }
        packed->col_sums()[static_cast<size_t>(n)] = sum;
      }
    }
  };
  parallel_for(0, packed->panels(), 4, pack_panels);
  return packed;
}

namespace {

using cpu::Isa;

using detail::AlignedScratch;  // gemm_internal.h

thread_local AlignedScratch tls_qpacked_a;

// Note [QGEMM kernel choice]: AMX tiles when usable and M is not tiny (a 32-row tile
// for a handful of rows wastes the unit; GEMV-like calls are bound by reading B and run
// as well on VNNI), else VNNI, else AVX2 (also for AVX-512 without VNNI), else generic.
constexpr int64_t kAmxMinRows = 9;

const detail::QgemmKernelInfo& kernel_for(Isa isa, int64_t M) {
#if defined(NN_CORE_X86)
  if (isa == Isa::Avx512 && M >= kAmxMinRows && cpu::has_amx_int8()) return detail::qgemm_kernel_amx();
  if (isa == Isa::Avx512 && cpu::has_avx512_vnni()) return detail::qgemm_kernel_avx512vnni();
  if (isa == Isa::Avx512 || isa == Isa::Avx2) return detail::qgemm_kernel_avx2();
#endif
  (void)isa;
  (void)M;
  return detail::qgemm_kernel_generic();
}

// AMX format: rows [0, mc) of A into MR-row panels of 64-k blocks, depth kd (zero padded).
void pack_a_block_amx(const uint8_t* a, int64_t a_rs, int64_t a_cs, int64_t mc, int64_t K, int64_t kd,
                      int mr, uint8_t* out) {
  for (int64_t ir = 0; ir < mc; ir += mr) {
    uint8_t* panel = out + ir * kd;
    const int64_t rows = std::min<int64_t>(mr, mc - ir);
    for (int64_t kb = 0; kb < kd / kQAmxKBlock; ++kb) {
      for (int64_t i = 0; i < mr; ++i) {
        uint8_t* dst = panel + (kb * mr + i) * kQAmxKBlock;
        const int64_t k0 = kb * kQAmxKBlock;
        const int64_t valid = i < rows ? std::max<int64_t>(0, std::min<int64_t>(kQAmxKBlock, K - k0)) : 0;
        const uint8_t* src = a + (ir + i) * a_rs + k0 * a_cs;
        if (a_cs == 1) {
          if (valid > 0) std::memcpy(dst, src, static_cast<size_t>(valid));
        } else {
          for (int64_t t = 0; t < valid; ++t) dst[t] = src[t * a_cs];
        }
        if (valid < kQAmxKBlock) std::memset(dst + valid, 0, static_cast<size_t>(kQAmxKBlock - valid));
      }
    }
  }
}

// Packs rows [0, mc) of A (starting at a) into MR-row panels, k padded to Kp with zeros.
template <typename Packed>
void pack_a_block(const uint8_t* a, int64_t a_rs, int64_t a_cs, int64_t mc, int64_t K, int64_t Kp,
                  int mr, Packed* out) {
  const int64_t groups = Kp / kQKGroup;
  for (int64_t ir = 0; ir < mc; ir += mr) {
    Packed* panel = out + ir * Kp;
    const int64_t rows = std::min<int64_t>(mr, mc - ir);
    for (int64_t i = 0; i < mr; ++i) {
      if (i >= rows) {  // zero rows of an edge panel
        for (int64_t g = 0; g < groups; ++g)
          for (int t = 0; t < kQKGroup; ++t) panel[(g * mr + i) * kQKGroup + t] = 0;
        continue;
      }
      const uint8_t* arow = a + (ir + i) * a_rs;
      int64_t k = 0;
      if (a_cs == 1) {
        for (; k + kQKGroup <= K; k += kQKGroup) {
          Packed* dst = panel + ((k / kQKGroup) * mr + i) * kQKGroup;
          for (int t = 0; t < kQKGroup; ++t) dst[t] = static_cast<Packed>(arow[k + t]);
        }
      }
      for (; k < Kp; ++k) {
        panel[((k / kQKGroup) * mr + i) * kQKGroup + k % kQKGroup] =
            k < K ? static_cast<Packed>(arow[k * a_cs]) : Packed(0);
      }
    }
  }
}

// Whether any of the n bytes at p exceeds a_max (a 2^k - 1 mask): OR of all bytes.
bool any_byte_above(const uint8_t* p, size_t n, int a_max) {
  const uint64_t mask = 0x0101010101010101ull * static_cast<uint8_t>(~a_max);
  uint64_t bits = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, sizeof(word));
    bits |= word;
  }
  for (; i < n; ++i) bits |= p[i];
  return (bits & mask) != 0;
}

size_t a_element_size(detail::QPackA f) { return f == detail::QPackA::S16 ? 2 : 1; }

void choose_thread_grid(int threads, int64_t m_units, int64_t n_units, int* tm, int* tn) {
  int64_t best = -1;
  for (int rows = 1; rows <= threads; ++rows) {
    if (threads % rows != 0) continue;
    const int cols = threads / rows;
    const int64_t cost = ceil_div(m_units, rows) * ceil_div(n_units, cols);
    if (best < 0 || cost < best) {
      best = cost;
      *tm = rows;
      *tn = cols;
    }
  }
}

int64_t output_element_size(QOutput o) {
  return (o == QOutput::Float32 || o == QOutput::Int32) ? 4 : 1;
}

}  // namespace

void qgemm(int64_t M, const uint8_t* A, int64_t a_rs, int64_t a_cs, const PackedQWeight& B,
           void* C, int64_t c_rs, int64_t c_cs, const QEpilogue& ep) {
  const int64_t N = B.N(), K = B.K();
  if (M < 0) throw std::invalid_argument("qgemm: negative M");
  if (M == 0 || N == 0) return;
  if (C == nullptr || (K > 0 && A == nullptr)) throw std::invalid_argument("qgemm: null operand");
  if (B.scales.size() != 1 && static_cast<int64_t>(B.scales.size()) != N)
    throw std::invalid_argument("qgemm: weight scales must have 1 or N values");

  const Isa isa = cpu::active_isa();
  const detail::QgemmKernelInfo& info = kernel_for(isa, M);
  const detail::QgemmKernelInfo* wide = info.wide;  // Note [QGEMM 7-bit blocks]
  if (wide != nullptr && (wide->mr != info.mr || wide->a_format == detail::QPackA::AmxU8))
    throw std::logic_error("qgemm: a kernel's wide fallback must share its mr and use the u8 or s16 A format");
  const bool amx = info.a_format == detail::QPackA::AmxU8;
  // The packed A buffer holds a block in either kernel's format.
  const size_t elem = std::max(a_element_size(info.a_format), wide ? a_element_size(wide->a_format) : size_t{1});
  const bool avx512_epilogue = isa == Isa::Avx512;
  const bool avx2_epilogue = isa == Isa::Avx2;
  (void)avx512_epilogue;
  (void)avx2_epilogue;
  const int mr = info.mr;
  const int64_t Kp = amx ? B.panel_k() : B.Kp();  // depth of the packed A panels
  const int64_t kg = K == 0 ? 0 : Kp / kQKGroup;
  const int64_t esize = output_element_size(ep.output);
  const int64_t m_units = ceil_div(M, mr);
  const int64_t mc_target = std::max<int64_t>(1, (512 * 1024) / (Kp * static_cast<int64_t>(elem)) / mr);
  // Below ~4M multiply-adds (a few microseconds on AMX/VNNI) a second thread costs more
  // than it saves, and on a busy machine a parallel region can wait a scheduler tick.
  const int threads = in_parallel_region() || M * N * K < (int64_t{1} << 22) ? 1 : get_num_threads();
  int tm = 1, tn = 1;
  choose_thread_grid(threads, m_units, B.panels(), &tm, &tn);
  const bool per_col_scale = B.scales.size() != 1;

  parallel_for(0, tm * tn, 1, [&](int64_t t0, int64_t t1) {
    alignas(64) int32_t acc[32 * kQPanelCols];
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t ti = task / tn, tj = task % tn;
      const int64_t row_begin = std::min(M, m_units * ti / tm * mr);
      const int64_t row_end = std::min(M, m_units * (ti + 1) / tm * mr);
      const int64_t p_begin = B.panels() * tj / tn, p_end = B.panels() * (tj + 1) / tn;
      if (row_begin >= row_end || p_begin >= p_end) continue;
      if (info.prepare != nullptr && kg > 0) info.prepare();
      bool wide_prepared = false;
      const int64_t mc_max = std::min<int64_t>(mc_target, ceil_div(row_end - row_begin, mr)) * mr;
      void* packed_a = tls_qpacked_a.get(elem * static_cast<size_t>(mc_max * Kp));
      for (int64_t ic = row_begin; ic < row_end; ic += mc_max) {
        const int64_t mc = std::min(mc_max, row_end - ic);
        const detail::QgemmKernelInfo* run = &info;
        if (amx) {
          pack_a_block_amx(A + ic * a_rs, a_rs, a_cs, mc, K, Kp, mr, static_cast<uint8_t*>(packed_a));
        } else if (info.a_format == detail::QPackA::S16) {
          pack_a_block(A + ic * a_rs, a_rs, a_cs, mc, K, Kp, mr, static_cast<int16_t*>(packed_a));
        } else {
          pack_a_block(A + ic * a_rs, a_rs, a_cs, mc, K, Kp, mr, static_cast<uint8_t*>(packed_a));
          const size_t block_bytes = static_cast<size_t>(ceil_div(mc, mr) * mr * Kp);
          if (wide != nullptr && any_byte_above(static_cast<const uint8_t*>(packed_a), block_bytes, info.a_max)) {
            run = wide;  // a value above a_max: the exact kernel (Note [QGEMM 7-bit blocks])
            if (wide->a_format == detail::QPackA::S16) {
              pack_a_block(A + ic * a_rs, a_rs, a_cs, mc, K, Kp, mr, static_cast<int16_t*>(packed_a));
            }
            if (wide->prepare != nullptr && kg > 0 && !wide_prepared) wide->prepare();
            wide_prepared = true;
          }
        }
        const size_t run_elem = a_element_size(run->a_format);
        for (int64_t q = p_begin; q < p_end; ++q) {
          const int64_t col = q * kQPanelCols;
          const int n = static_cast<int>(std::min<int64_t>(kQPanelCols, N - col));
          const int8_t* b_panel = B.panel(q);
          for (int64_t ir = 0; ir < mc; ir += mr) {
            const int m = static_cast<int>(std::min<int64_t>(mr, mc - ir));
            const void* a_panel = static_cast<const char*>(packed_a) + run_elem * static_cast<size_t>(ir * Kp);
            if (kg > 0) {
              run->kernel(kg, a_panel, b_panel, acc, m);
            } else {
              std::memset(acc, 0, sizeof(acc));
            }
            const int64_t row = ic + ir;
            detail::QTile tile{acc, m, n, row, col, B.col_sums().data() + col,
                               per_col_scale ? B.scales.data() + col : nullptr,
                               B.scales[0],
                               static_cast<char*>(C) + (row * c_rs + col * c_cs) * esize, c_rs, c_cs};
#if defined(NN_CORE_X86)
            if (avx512_epilogue) {
              detail::qepilogue_avx512(tile, ep);
              continue;
            }
            if (avx2_epilogue) {
              detail::qepilogue_avx2(tile, ep);
              continue;
            }
#endif
            detail::qepilogue_scalar(tile, ep);
          }
        }
      }
    }
  });
}

const char* qgemm_kernel_name() { return kernel_for(cpu::active_isa(), kAmxMinRows).name; }

int qgemm_dynamic_qmax() { return kernel_for(cpu::active_isa(), kAmxMinRows).a_max; }

}  // namespace gemm
}  // namespace nn
