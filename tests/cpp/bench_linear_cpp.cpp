// bench_linear_cpp.cpp — time of nn::gemm::sgemm / bf16gemm for the Linear layout (x (M,K)
// row-major times W^T with W (N,K) row-major: B rs = 1, cs = K) beside the same product
// with the weight stored (K,N), on the Linear shapes of the benchmarks. Each figure is the
// best of several timed repetitions after a warm-up; ours only (the Python benchmark
// benchmarks/bench_gemm.py compares with torch).
// Usage: bench_linear_cpp [threads...]
//        bench_linear_cpp --rows [threads]   direct vs packed path of the Linear layout per
//          ISA and M (interleaved timings, ratio direct/packed), to choose the per-ISA
//          limit of the direct path (nn::gemm::direct_linear_max_rows).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/parallel.h"
#include "cpu/cpu_features.h"
#include "cpu/gemm/gemm.h"
#include "bench_timing.h"
#include "cpu/gemm/gemm_internal.h"

namespace {

struct Shape {
  int64_t M, K, N;
};

template <typename Fn>
double best_seconds(double flops, Fn&& fn) {
  return best_seconds_per_call(flops, fn, 2e8, 3.0, 2000.0, 7);
}

// {W (N,K) layout, (K,N) layout} times in ms.
void bench(const Shape& s, bool bf16, double out[2]) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> a(s.M * s.K), w(s.N * s.K), wt(s.K * s.N), bias(s.N), c(s.M * s.N);
  for (float& v : a) v = dist(rng);
  for (float& v : w) v = dist(rng);
  for (float& v : bias) v = dist(rng);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t k = 0; k < s.K; ++k) wt[k * s.N + n] = w[n * s.K + k];
  const double flops = 2.0 * s.M * s.N * s.K;
  nn::gemm::Epilogue ep;
  ep.bias = bias.data();
  ep.bias_kind = nn::gemm::BiasKind::PerColumn;
  if (bf16) {
    std::vector<uint16_t> a16(a.size()), w16(w.size()), wt16(wt.size());
    for (size_t i = 0; i < a.size(); ++i) a16[i] = nn::float_to_bf16(a[i]);
    for (size_t i = 0; i < w.size(); ++i) w16[i] = nn::float_to_bf16(w[i]);
    for (size_t i = 0; i < wt.size(); ++i) wt16[i] = nn::float_to_bf16(wt[i]);
    out[0] = best_seconds(flops, [&] {
      nn::gemm::bf16gemm(s.M, s.N, s.K, a16.data(), s.K, 1, w16.data(), 1, s.K, c.data(), s.N, 1, ep);
    });
    out[1] = best_seconds(flops, [&] {
      nn::gemm::bf16gemm(s.M, s.N, s.K, a16.data(), s.K, 1, wt16.data(), s.N, 1, c.data(), s.N, 1, ep);
    });
  } else {
    out[0] = best_seconds(flops, [&] {
      nn::gemm::sgemm(s.M, s.N, s.K, a.data(), s.K, 1, w.data(), 1, s.K, c.data(), s.N, 1, ep);
    });
    out[1] = best_seconds(flops, [&] {
      nn::gemm::sgemm(s.M, s.N, s.K, a.data(), s.K, 1, wt.data(), s.N, 1, c.data(), s.N, 1, ep);
    });
  }
  out[0] *= 1e3;
  out[1] *= 1e3;
}

// Direct vs packed for the Linear layout: best of interleaved trials, in ms.
void bench_rows(int threads) {
  nn::set_num_threads(threads);
  const int64_t kn[][2] = {{384, 1152}, {384, 1536}, {1536, 384}, {768, 768}, {768, 3072}, {3072, 768}};
  const int64_t ms[] = {4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 64};
  for (nn::cpu::Isa isa : {nn::cpu::Isa::Generic, nn::cpu::Isa::Avx2, nn::cpu::Isa::Avx512}) {
    if (!nn::cpu::isa_supported(isa)) continue;
    nn::cpu::set_isa_override(isa);
    for (const auto& s : kn) {
      const int64_t K = s[0], N = s[1];
      std::printf("isa=%-7s threads=%d K=%5lld N=%5lld  direct/packed:", nn::cpu::isa_name(isa), threads,
                  (long long)K, (long long)N);
      for (int64_t M : ms) {
        std::mt19937 rng(7);
        std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
        std::vector<float> a(M * K), w(N * K), c(M * N);
        for (float& v : a) v = dist(rng);
        for (float& v : w) v = dist(rng);
        nn::gemm::Epilogue ep;
        auto run = [&](int64_t rows) {
          nn::gemm::set_direct_linear_max_rows_override(rows);
          nn::gemm::sgemm(M, N, K, a.data(), K, 1, w.data(), 1, K, c.data(), N, 1, ep);
        };
        const double flops = 2.0 * M * N * K;
        const int reps = static_cast<int>(std::clamp(2e7 / flops, 1.0, 200.0));
        double best[2] = {1e30, 1e30};
        for (int trial = 0; trial < 8; ++trial) {
          for (int which = 0; which < 2; ++which) {
            const int side = (trial + which) % 2;  // alternate the order
            run(side == 0 ? 1 << 20 : 0);
            const auto t0 = std::chrono::steady_clock::now();
            for (int r = 0; r < reps; ++r) run(side == 0 ? 1 << 20 : 0);
            const auto t1 = std::chrono::steady_clock::now();
            best[side] = std::min(best[side], std::chrono::duration<double>(t1 - t0).count() / reps);
          }
        }
        std::printf(" %lld:%.2f", (long long)M, best[0] / best[1]);
        std::fflush(stdout);
      }
      std::printf("\n");
    }
  }
  nn::gemm::set_direct_linear_max_rows_override(-1);
  nn::cpu::set_isa_override(std::nullopt);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--rows") {
    bench_rows(argc > 2 ? std::atoi(argv[2]) : 1);
    return 0;
  }
  std::vector<int> thread_counts;
  for (int i = 1; i < argc; ++i) thread_counts.push_back(std::atoi(argv[i]));
  if (thread_counts.empty()) thread_counts = {1, 2};
  std::printf("isa=%s kernel=%s bf16 kernel=%s\n", nn::cpu::isa_name(nn::cpu::active_isa()),
              nn::gemm::kernel_name(), nn::gemm::bf16_kernel_name());
  const bool with_bf16 = std::getenv("NN_BENCH_BF16") != nullptr;
  const std::vector<Shape> shapes = {{1, 384, 1152},   {16, 384, 1536},  {16, 1536, 384},
                                     {32, 384, 1536},  {32, 1536, 384},  {128, 384, 1536},
                                     {128, 1536, 384}, {2048, 384, 1536}};
  for (int threads : thread_counts) {
    nn::set_num_threads(threads);
    for (const Shape& s : shapes) {
      double t[2];
      bench(s, false, t);
      std::printf("threads=%d fp32 %5lldx%5lld->%5lld  W(N,K) %8.3f ms  W(K,N) %8.3f ms\n", threads,
                  (long long)s.M, (long long)s.K, (long long)s.N, t[0], t[1]);
      std::fflush(stdout);
      if (with_bf16) {
        bench(s, true, t);
        std::printf("threads=%d bf16 %5lldx%5lld->%5lld  W(N,K) %8.3f ms  W(K,N) %8.3f ms\n", threads,
                    (long long)s.M, (long long)s.K, (long long)s.N, t[0], t[1]);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
