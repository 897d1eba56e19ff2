// test_gemm.cpp — compares every GEMM path this CPU supports (generic, avx2, avx512
// forced with nn::cpu::set_isa_override; 1 and 2 threads; fp32 and bf16) against
// gemm_ref<double>.
//
// Shapes: every M, N and K in 1..64 (each value appears, other dims sampled), primes up
// to 300, shapes that cross the mc/kc/nc blocking, all four transpose combinations
// (through strides), padded leading dimensions, column-major C, beta in {0, 1} (C
// pre-filled with NaN when beta == 0), alpha != 1, every epilogue, and batched products
// with a broadcast (stride 0) operand.
//
// Linear layout (B = W^T: unit row stride; A row-major): every M in 1..40 with odd K and
// N, padded A and C, column-major C, each epilogue, beta 0/1, through the default path,
// the packed path only and the direct path only (nn::gemm::set_direct_linear_max_rows_override).
// Transposing packers (gemm_pack_avx512.cpp / gemm_pack_avx2.cpp): their panels must be
// bit-identical to the reference templates' (gemm_pack.h) for odd k, n, m, padded k,
// partial panel ranges, and write nothing outside their panels.
//
// AMX tile state (Note [AMX tile state]): between two bf16 GEMMs on one thread, the tiles
// are released (TILERELEASE, as torch's oneDNN does) or loaded with a foreign
// configuration; the second GEMM must still be right (a SIGILL is reported as a failure).
//
// Tolerance: |c - ref| <= tol * sqrt(K) * scale with scale = |alpha| sum_k |a||b| +
// |beta c| + |bias|, tol = 1e-5 for fp32 accumulation (bf16 inputs are exact in float,
// so the same bound holds). C padding is filled with a sentinel and must stay intact.
// Exit status is nonzero on any failure; the first mismatch is printed with its
// indices and the seed (override the seed with argv[1]).
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "cpu/cpu_features.h"
#include "core/dtype.h"
#include "cpu/gemm/gemm.h"
#include "cpu/gemm/gemm_internal.h"
#include "cpu/gemm/gemm_pack.h"

namespace {

using nn::gemm::Activation;
using nn::gemm::BiasKind;
using nn::gemm::Epilogue;

constexpr float kSentinel = 12345.0f;

struct Case {
  int64_t M = 1, N = 1, K = 1;
  bool trans_a = false, trans_b = false, c_col_major = false;
  int64_t pad = 0;  // extra elements per leading dimension
  float alpha = 1.0f, beta = 0.0f;
  BiasKind bias = BiasKind::None;
  Activation act = Activation::None;
  bool bf16 = false;
  int64_t batch = 1;          // > 1: batched call
  int broadcast = 0;          // batched: 1 = A batch stride 0, 2 = B batch stride 0
};

struct Context {
  uint64_t seed = 0;
  std::mt19937_64 rng;
  int64_t cases = 0;
  int64_t failures = 0;
  std::string path;  // "isa/threads"
};

std::string describe(const Case& c) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "M=%lld N=%lld K=%lld transA=%d transB=%d colC=%d pad=%lld alpha=%g beta=%g "
                "bias=%d act=%d bf16=%d batch=%lld bcast=%d",
                (long long)c.M, (long long)c.N, (long long)c.K, c.trans_a, c.trans_b,
                c.c_col_major, (long long)c.pad, c.alpha, c.beta, (int)c.bias, (int)c.act,
                c.bf16, (long long)c.batch, c.broadcast);
  return buf;
}

// A matrix stored row-major (rows x cols, leading dim cols+pad) or transposed.
struct Layout {
  int64_t rs, cs, elems;
};
Layout make_layout(int64_t rows, int64_t cols, bool transposed, int64_t pad) {
  if (!transposed) return {cols + pad, 1, rows * (cols + pad)};
  return {1, rows + pad, cols * (rows + pad)};
}

float random_value(std::mt19937_64& rng, bool bf16) {
  float v = std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng);
  return bf16 ? nn::bf16_to_float(nn::float_to_bf16(v)) : v;
}

bool run_case(Context& ctx, const Case& c) {
  ++ctx.cases;
  const Layout la = make_layout(c.M, c.K, c.trans_a, c.pad);
  const Layout lb = make_layout(c.K, c.N, c.trans_b, c.pad);
  const Layout lc = make_layout(c.M, c.N, c.c_col_major, c.pad);
  const int64_t batch = c.batch;
  const int64_t a_bs = c.broadcast == 1 ? 0 : la.elems;
  const int64_t b_bs = c.broadcast == 2 ? 0 : lb.elems;
  const int64_t c_bs = lc.elems;

  std::vector<float> a(std::max<int64_t>(1, a_bs * (batch - 1) + la.elems));
  std::vector<float> b(std::max<int64_t>(1, b_bs * (batch - 1) + lb.elems));
  std::vector<float> cbuf(c_bs * batch, kSentinel);
  for (float& v : a) v = random_value(ctx.rng, c.bf16);
  for (float& v : b) v = random_value(ctx.rng, c.bf16);
  std::vector<float> bias(std::max(c.M, c.N));
  for (float& v : bias) v = random_value(ctx.rng, false);
  for (int64_t bi = 0; bi < batch; ++bi)
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t n = 0; n < c.N; ++n)
        cbuf[bi * c_bs + m * lc.rs + n * lc.cs] =
            c.beta == 0.0f ? std::numeric_limits<float>::quiet_NaN() : random_value(ctx.rng, false);

  Epilogue ep;
  ep.alpha = c.alpha;
  ep.beta = c.beta;
  ep.bias_kind = c.bias;
  ep.bias = c.bias == BiasKind::None ? nullptr : bias.data();
  ep.act = c.act;

  const std::vector<float> c_before = cbuf;
  if (c.bf16) {
    std::vector<uint16_t> a16(a.size()), b16(b.size());
    for (size_t i = 0; i < a.size(); ++i) a16[i] = nn::float_to_bf16(a[i]);
    for (size_t i = 0; i < b.size(); ++i) b16[i] = nn::float_to_bf16(b[i]);
    if (batch > 1)
      nn::gemm::bf16gemm_batched(batch, c.M, c.N, c.K, a16.data(), a_bs, la.rs, la.cs, b16.data(),
                                 b_bs, lb.rs, lb.cs, cbuf.data(), c_bs, lc.rs, lc.cs, ep);
    else
      nn::gemm::bf16gemm(c.M, c.N, c.K, a16.data(), la.rs, la.cs, b16.data(), lb.rs, lb.cs,
                         cbuf.data(), lc.rs, lc.cs, ep);
  } else {
    if (batch > 1)
      nn::gemm::sgemm_batched(batch, c.M, c.N, c.K, a.data(), a_bs, la.rs, la.cs, b.data(), b_bs,
                              lb.rs, lb.cs, cbuf.data(), c_bs, lc.rs, lc.cs, ep);
    else
      nn::gemm::sgemm(c.M, c.N, c.K, a.data(), la.rs, la.cs, b.data(), lb.rs, lb.cs, cbuf.data(),
                      lc.rs, lc.cs, ep);
  }

  // Reference in double, one batch entry at a time.
  std::vector<bool> is_element(cbuf.size(), false);
  for (int64_t bi = 0; bi < batch; ++bi) {
    const float* ab = a.data() + bi * a_bs;
    const float* bb = b.data() + bi * b_bs;
    std::vector<double> ad(la.elems), bd(lb.elems), cd(lc.elems);
    for (int64_t i = 0; i < la.elems; ++i) ad[i] = ab[i];
    for (int64_t i = 0; i < lb.elems; ++i) bd[i] = bb[i];
    for (int64_t i = 0; i < lc.elems; ++i) cd[i] = c_before[bi * c_bs + i];
    nn::gemm::gemm_ref<double>(c.M, c.N, c.K, ad.data(), la.rs, la.cs, bd.data(), lb.rs, lb.cs,
                               cd.data(), lc.rs, lc.cs, ep);
    for (int64_t m = 0; m < c.M; ++m) {
      for (int64_t n = 0; n < c.N; ++n) {
        const int64_t idx = m * lc.rs + n * lc.cs;
        is_element[bi * c_bs + idx] = true;
        double scale = 0.0;
        for (int64_t k = 0; k < c.K; ++k)
          scale += std::fabs(ad[m * la.rs + k * la.cs] * bd[k * lb.rs + n * lb.cs]);
        scale *= std::fabs(c.alpha);
        if (c.beta != 0.0f) scale += std::fabs(c.beta * c_before[bi * c_bs + idx]);
        if (c.bias == BiasKind::PerColumn) scale += std::fabs(bias[n]);
        if (c.bias == BiasKind::PerRow) scale += std::fabs(bias[m]);
        const double tol = 1e-5 * std::sqrt(double(c.K) + 1.0) * (scale + 1e-6);
        const double got = cbuf[bi * c_bs + idx];
        const double want = cd[idx];
        if (!(std::fabs(got - want) <= tol)) {
          if (ctx.failures == 0)
            std::printf("FAIL [%s] seed=%llu %s: batch %lld C[%lld,%lld] = %.9g, ref %.9g (tol %.3g)\n",
                        ctx.path.c_str(), (unsigned long long)ctx.seed, describe(c).c_str(),
                        (long long)bi, (long long)m, (long long)n, got, want, tol);
          ++ctx.failures;
          return false;
        }
      }
    }
  }
  for (size_t i = 0; i < cbuf.size(); ++i) {
    if (!is_element[i] && cbuf[i] != kSentinel) {
      if (ctx.failures == 0)
        std::printf("FAIL [%s] seed=%llu %s: wrote outside C (padding offset %zu = %g)\n",
                    ctx.path.c_str(), (unsigned long long)ctx.seed, describe(c).c_str(), i,
                    cbuf[i]);
      ++ctx.failures;
      return false;
    }
  }
  return true;
}

// Random layout and epilogue for a given shape.
Case random_case(Context& ctx, int64_t M, int64_t N, int64_t K, bool bf16) {
  std::uniform_int_distribution<int> coin(0, 1), three(0, 2);
  Case c;
  c.M = M;
  c.N = N;
  c.K = K;
  c.trans_a = coin(ctx.rng);
  c.trans_b = coin(ctx.rng);
  c.c_col_major = three(ctx.rng) == 0;
  c.pad = coin(ctx.rng) ? 0 : 3;
  c.alpha = coin(ctx.rng) ? 1.0f : -0.75f;
  c.beta = coin(ctx.rng) ? 0.0f : 1.0f;
  c.bias = static_cast<BiasKind>(three(ctx.rng));
  c.act = static_cast<Activation>(three(ctx.rng));
  c.bf16 = bf16;
  return c;
}

void run_suite(Context& ctx, bool bf16) {
  std::uniform_int_distribution<int64_t> dim(1, 64);
  // Every value 1..64 of each dimension, the others sampled.
  for (int64_t d = 1; d <= 64; ++d) {
    run_case(ctx, random_case(ctx, d, dim(ctx.rng), dim(ctx.rng), bf16));
    run_case(ctx, random_case(ctx, dim(ctx.rng), d, dim(ctx.rng), bf16));
    run_case(ctx, random_case(ctx, dim(ctx.rng), dim(ctx.rng), d, bf16));
  }
  // Primes up to 300 in each position.
  std::vector<int64_t> primes;
  for (int64_t p = 2; p <= 300; ++p) {
    bool prime = true;
    for (int64_t q = 2; q * q <= p; ++q) prime = prime && (p % q != 0);
    if (prime) primes.push_back(p);
  }
  std::uniform_int_distribution<size_t> pick(0, primes.size() - 1);
  for (size_t i = 0; i < primes.size(); i += bf16 ? 3 : 1) {
    run_case(ctx, random_case(ctx, primes[i], primes[pick(ctx.rng)], primes[pick(ctx.rng)] % 97 + 1, bf16));
    run_case(ctx, random_case(ctx, primes[pick(ctx.rng)] % 61 + 1, primes[i], primes[pick(ctx.rng)], bf16));
  }
  // All transposes x beta x epilogues, at a shape with full and edge tiles and 2 k blocks.
  for (int t = 0; t < 4; ++t)
    for (int beta = 0; beta < 2; ++beta)
      for (int bias = 0; bias < 3; ++bias)
        for (int act = 0; act < 3; ++act) {
          Case c;
          c.M = 37;
          c.N = 71;
          c.K = bf16 ? 530 : 270;
          c.trans_a = t & 1;
          c.trans_b = t & 2;
          c.beta = float(beta);
          c.alpha = 1.5f;
          c.bias = static_cast<BiasKind>(bias);
          c.act = static_cast<Activation>(act);
          c.bf16 = bf16;
          c.pad = 5;
          run_case(ctx, c);
          c.c_col_major = true;
          run_case(ctx, c);
        }
  // Blocking boundaries: M beyond mc, N beyond nc, K beyond kc; small-M and small-N.
  const int64_t shapes[][3] = {{700, 40, 20},  {20, 4200, 9},  {15, 33, 1100}, {1, 300, 77},
                               {2, 129, 300},  {3, 1000, 17},  {4, 65, 513},   {300, 1, 77},
                               {129, 3, 200},  {1, 1, 1000},   {5, 4, 31},     {1, 4096, 64}};
  for (const auto& s : shapes) {
    for (int t = 0; t < 4; ++t) {
      Case c = random_case(ctx, s[0], s[1], s[2], bf16);
      c.trans_a = t & 1;
      c.trans_b = t & 2;
      run_case(ctx, c);
    }
  }
  // Batched, with each operand broadcast in turn.
  for (int bcast = 0; bcast < 3; ++bcast) {
    for (int64_t batch : {2, 3, 5}) {
      Case c = random_case(ctx, 1 + dim(ctx.rng), dim(ctx.rng), dim(ctx.rng), bf16);
      c.batch = batch;
      c.broadcast = bcast;
      run_case(ctx, c);
    }
  }
}

// Linear layout sweep: M in 1..40, odd K and N, each epilogue and C layout.
void run_linear_suite(Context& ctx, bool bf16) {
  const int64_t ks[] = {1, 3, 15, 16, 17, 33, 100, 129, 515};
  const int64_t ns[] = {1, 2, 3, 4, 5, 7, 9, 31, 65, 130};
  for (int64_t M = 1; M <= 40; ++M) {
    for (int rep = 0; rep < 2; ++rep) {
      Case c = random_case(ctx, M, ns[(M * 7 + rep * 3) % 10], ks[(M * 5 + rep) % 9], bf16);
      c.trans_a = false;
      c.trans_b = true;
      c.pad = (M + rep) % 3 == 0 ? 0 : 3;
      run_case(ctx, c);
    }
  }
  // Each epilogue x beta x C layout at a shape with row and column tails.
  for (int beta = 0; beta < 2; ++beta)
    for (int bias = 0; bias < 3; ++bias)
      for (int act = 0; act < 3; ++act)
        for (int col_c = 0; col_c < 2; ++col_c) {
          Case c;
          c.M = 23;
          c.N = 37;
          c.K = 161;
          c.trans_b = true;
          c.c_col_major = col_c;
          c.beta = float(beta);
          c.alpha = -0.75f;
          c.bias = static_cast<BiasKind>(bias);
          c.act = static_cast<Activation>(act);
          c.bf16 = bf16;
          c.pad = 2;
          run_case(ctx, c);
        }
}

// Fills v with distinct, exactly representable patterns (bf16 bits or small floats).
template <typename T>
void fill_pattern(std::vector<T>& v, uint32_t seed) {
  for (size_t i = 0; i < v.size(); ++i) {
    const uint32_t x = static_cast<uint32_t>(i) * 2654435761u + seed;
    if constexpr (std::is_same<T, float>::value) {
      v[i] = static_cast<float>(static_cast<int>(x % 2001) - 1000) / 16.0f;
    } else {
      v[i] = static_cast<T>(0x3f80 + (x % 200));
    }
  }
}

template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

constexpr float kPackSentinelF = -7777.0f;
constexpr uint16_t kPackSentinelH = 0x7fc1;

template <typename T>
T pack_sentinel() {
  if constexpr (std::is_same<T, float>::value) return kPackSentinelF; else return kPackSentinelH;
}

// B packer vs pack_b_panels<T, T, kGroup>: a transposing packer reads B with rs == 1
// (its stride argument is cs); a copying one (row_major_src) reads B with cs == 1 (its
// stride argument is rs).
template <typename T, int kGroup>
void check_pack_b(Context& ctx, const char* name,
                  void (*fast)(const T*, int64_t, int64_t, int64_t, int, int64_t, int64_t, int64_t, T*),
                  int nr, int64_t k_pad_multiple, bool row_major_src = false) {
  const int64_t ks[] = {1, 2, 3, 7, 15, 16, 17, 31, 32, 33, 64, 100};
  const int64_t ns[] = {1, 5, 8, 15, 16, 17, 31, 32, 33, 47, 70};
  for (int64_t k : ks)
    for (int64_t n : ns)
      for (int pad = 0; pad < 2; ++pad) {
        ++ctx.cases;
        const int64_t cs = (row_major_src ? n : k) + pad * 5;  // the stride between vectors
        const int64_t k_pad = (k + k_pad_multiple - 1) / k_pad_multiple * k_pad_multiple + pad * k_pad_multiple;
        const int64_t panels = (n + nr - 1) / nr;
        const int64_t q0 = (pad && panels > 1) ? 1 : 0, q1 = panels;
        std::vector<T> src((row_major_src ? k : n) * cs + 1);
        fill_pattern(src, static_cast<uint32_t>(k * 131 + n));
        std::vector<T> want(panels * nr * k_pad, pack_sentinel<T>()), got = want;
        if (row_major_src) {
          nn::gemm::detail::pack_b_panels<T, T, kGroup>(src.data(), cs, 1, k, n, nr, k_pad, q0, q1, want.data());
        } else {
          nn::gemm::detail::pack_b_panels<T, T, kGroup>(src.data(), 1, cs, k, n, nr, k_pad, q0, q1, want.data());
        }
        fast(src.data(), cs, k, n, nr, k_pad, q0, q1, got.data());
        if (!same_bits(want, got)) {
          if (ctx.failures == 0)
            std::printf("FAIL [%s] %s: k=%lld n=%lld nr=%d cs=%lld k_pad=%lld panels [%lld, %lld)\n",
                        ctx.path.c_str(), name, (long long)k, (long long)n, nr, (long long)cs,
                        (long long)k_pad, (long long)q0, (long long)q1);
          ++ctx.failures;
        }
      }
}

// A packer (cs == 1) vs pack_a_block<T, T, kGroup>.
template <typename T, int kGroup>
void check_pack_a(Context& ctx, const char* name,
                  void (*fast)(const T*, int64_t, int64_t, int64_t, int, int64_t, T*), int mr,
                  int64_t k_pad_multiple) {
  const int64_t ks[] = {1, 2, 3, 8, 15, 16, 17, 33, 100};
  const int64_t ms[] = {1, 2, 5, 6, 7, 13, 14, 15, 16, 17, 29, 45};
  for (int64_t k : ks)
    for (int64_t m : ms)
      for (int pad = 0; pad < 2; ++pad) {
        ++ctx.cases;
        const int64_t rs = k + pad * 3;
        const int64_t k_pad = (k + k_pad_multiple - 1) / k_pad_multiple * k_pad_multiple + pad * k_pad_multiple;
        const int64_t panels = (m + mr - 1) / mr;
        std::vector<T> src(m * rs + 1);
        fill_pattern(src, static_cast<uint32_t>(k * 17 + m));
        std::vector<T> want(panels * mr * k_pad + 64, pack_sentinel<T>()), got = want;
        nn::gemm::detail::pack_a_block<T, T, kGroup>(src.data(), rs, 1, m, k, mr, k_pad, want.data());
        fast(src.data(), rs, m, k, mr, k_pad, got.data());
        if (!same_bits(want, got)) {
          if (ctx.failures == 0)
            std::printf("FAIL [%s] %s: m=%lld k=%lld mr=%d rs=%lld k_pad=%lld\n", ctx.path.c_str(), name,
                        (long long)m, (long long)k, mr, (long long)rs, (long long)k_pad);
          ++ctx.failures;
        }
      }
}

#if defined(NN_CORE_X86)
extern "C" void on_sigill(int) {
  const char msg[] = "FAIL [amx] SIGILL: a bf16 GEMM ran tile instructions without its tile configuration\n";
  if (write(1, msg, sizeof msg - 1) < 0) _exit(2);
  _exit(1);
}

struct alignas(64) ForeignTileConfig {
  uint8_t palette_id = 1, start_row = 0, reserved[14] = {};
  uint16_t colsb[16] = {4, 8, 4, 8, 4, 8, 4, 8};
  uint8_t rows[16] = {1, 2, 3, 4, 5, 6, 7, 8};
};
#endif

// Another library's tile use between two of our bf16 GEMMs on this thread.
void run_amx_state_tests(Context& ctx) {
#if defined(NN_CORE_X86)
  if (!nn::cpu::has_amx_bf16()) {
    std::printf("skip amx tile-state test (no AMX)\n");
    return;
  }
  ctx.path = "amx-state/1t";
  nn::set_num_threads(1);
  std::signal(SIGILL, on_sigill);
  Case c;
  c.M = 40;
  c.N = 70;
  c.K = 96;
  c.bf16 = true;
  for (int round = 0; round < 2; ++round) {
    run_case(ctx, c);  // configures the tiles (and, fixed, releases them again)
    if (round == 0) {
      __asm__ volatile("tilerelease" ::: "memory");
    } else {
      const ForeignTileConfig foreign;
      __asm__ volatile("ldtilecfg %0" : : "m"(foreign));
    }
    run_case(ctx, c);
  }
  std::signal(SIGILL, SIG_DFL);
#else
  (void)ctx;
#endif
}

void run_pack_tests(Context& ctx) {
#if defined(NN_CORE_X86)
  using namespace nn::gemm::detail;
  if (nn::cpu::isa_supported(nn::cpu::Isa::Avx512)) {
    ctx.path = "pack/avx512";
    for (int nr : {16, 32, 48}) {
      check_pack_b<float, 1>(ctx, "pack_b_panels_unit_rs_f32_avx512", pack_b_panels_unit_rs_f32_avx512, nr, 1);
      check_pack_b<uint16_t, 2>(ctx, "pack_b_panels_unit_rs_bf16_avx512", pack_b_panels_unit_rs_bf16_avx512, nr, 2);
      check_pack_b<uint16_t, 2>(ctx, "pack_b_panels_unit_rs_bf16_avx512 (k_pad 32)",
                                pack_b_panels_unit_rs_bf16_avx512, nr, 32);
      check_pack_b<float, 1>(ctx, "pack_b_panels_unit_cs_f32_avx512", pack_b_panels_unit_cs_f32_avx512, nr, 1,
                             /*row_major_src=*/true);
    }
    for (int mr : {1, 6, 14, 16}) {
      check_pack_a<float, 1>(ctx, "pack_a_block_unit_cs_f32_avx512", pack_a_block_unit_cs_f32_avx512, mr, 1);
      check_pack_a<uint16_t, 2>(ctx, "pack_a_block_unit_cs_bf16_avx512", pack_a_block_unit_cs_bf16_avx512, mr, 2);
    }
  }
  if (nn::cpu::isa_supported(nn::cpu::Isa::Avx2)) {
    ctx.path = "pack/avx2";
    for (int nr : {8, 16, 24}) {
      check_pack_b<float, 1>(ctx, "pack_b_panels_unit_rs_f32_avx2", pack_b_panels_unit_rs_f32_avx2, nr, 1);
      check_pack_b<float, 1>(ctx, "pack_b_panels_unit_cs_f32_avx2", pack_b_panels_unit_cs_f32_avx2, nr, 1,
                             /*row_major_src=*/true);
    }
    for (int mr : {1, 4, 6, 8})
      check_pack_a<float, 1>(ctx, "pack_a_block_unit_cs_f32_avx2", pack_a_block_unit_cs_f32_avx2, mr, 1);
  }
#else
  (void)ctx;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  Context ctx;
  ctx.seed = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20240611ull;
  ctx.rng.seed(ctx.seed);
  std::printf("test_gemm seed=%llu best isa=%s bf16 dot=%d\n", (unsigned long long)ctx.seed,
              nn::cpu::isa_name(nn::cpu::best_supported_isa()), nn::cpu::has_avx512_bf16());

  // An override to an unsupported ISA must fall back to the best one.
  for (nn::cpu::Isa isa : {nn::cpu::Isa::Generic, nn::cpu::Isa::Avx2, nn::cpu::Isa::Avx512}) {
    nn::cpu::set_isa_override(isa);
    const nn::cpu::Isa got = nn::cpu::active_isa();
    const nn::cpu::Isa want = nn::cpu::isa_supported(isa) ? isa : nn::cpu::best_supported_isa();
    if (got != want) {
      std::printf("FAIL isa override %s gave %s\n", nn::cpu::isa_name(isa), nn::cpu::isa_name(got));
      ++ctx.failures;
    }
  }

  {
    const int64_t before = ctx.failures, cases_before = ctx.cases;
    run_amx_state_tests(ctx);
    std::printf("%-12s tile state: %lld cases, %lld failures\n", "amx",
                (long long)(ctx.cases - cases_before), (long long)(ctx.failures - before));
  }
  {
    const int64_t before = ctx.failures, cases_before = ctx.cases;
    run_pack_tests(ctx);
    std::printf("%-12s transposing packers: %lld cases, %lld failures\n", "pack",
                (long long)(ctx.cases - cases_before), (long long)(ctx.failures - before));
  }

  for (nn::cpu::Isa isa : {nn::cpu::Isa::Generic, nn::cpu::Isa::Avx2, nn::cpu::Isa::Avx512}) {
    if (!nn::cpu::isa_supported(isa)) {
      std::printf("skip %s (not supported here)\n", nn::cpu::isa_name(isa));
      continue;
    }
    nn::cpu::set_isa_override(isa);
    for (int threads : {1, 2}) {
      nn::set_num_threads(threads);
      ctx.path = std::string(nn::cpu::isa_name(isa)) + "/" + std::to_string(threads) + "t";
      const int64_t before = ctx.failures, cases_before = ctx.cases;
      run_suite(ctx, /*bf16=*/false);
      run_suite(ctx, /*bf16=*/true);
      // Linear layout through the default, packed-only and direct-only paths.
      for (int64_t direct_rows : {int64_t{-1}, int64_t{0}, int64_t{64}}) {
        nn::gemm::set_direct_linear_max_rows_override(direct_rows);
        run_linear_suite(ctx, /*bf16=*/false);
      }
      nn::gemm::set_direct_linear_max_rows_override(-1);
      run_linear_suite(ctx, /*bf16=*/true);
      if (nn::cpu::has_amx_bf16()) {  // also the AVX512-BF16 kernel that AMX replaces
        nn::cpu::set_amx_enabled(false);
        run_suite(ctx, /*bf16=*/true);
        std::printf("%-12s (amx off) %s\n", ctx.path.c_str(), nn::gemm::bf16_kernel_name());
        nn::cpu::set_amx_enabled(true);
      }
      std::printf("%-12s %s / %s: %lld cases, %lld failures\n", ctx.path.c_str(),
                  nn::gemm::kernel_name(), nn::gemm::bf16_kernel_name(),
                  (long long)(ctx.cases - cases_before), (long long)(ctx.failures - before));
    }
  }
  nn::cpu::set_isa_override(std::nullopt);
  std::printf("%s: %lld cases, %lld failures\n", ctx.failures ? "FAILED" : "OK",
              (long long)ctx.cases, (long long)ctx.failures);
  return ctx.failures ? 1 : 0;
}
