// bench_gemm_cpp.cpp — GFLOP/s of nn::gemm::sgemm / bf16gemm (row-major, beta = 0) on
// squares 128..2048 and the NN shapes, with 1 and 2 threads. Each figure is the best
// of several timed repetitions after a warm-up.
// Usage: bench_gemm_cpp [threads...]   or   bench_gemm_cpp --shape M K N [threads...]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/parallel.h"
#include "cpu/cpu_features.h"
#include "core/dtype.h"
#include "cpu/gemm/gemm.h"
#include "bench_timing.h"

namespace {

struct Shape {
  int64_t M, K, N;
};

template <typename Fn>
double best_seconds(double flops, Fn&& fn) {
  return best_seconds_per_call(flops, fn, 1.5e9, 2.0, 200.0, 5);
}

double bench(const Shape& s, bool bf16) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> a(s.M * s.K), b(s.K * s.N), c(s.M * s.N);
  for (float& v : a) v = dist(rng);
  for (float& v : b) v = dist(rng);
  const double flops = 2.0 * s.M * s.N * s.K;
  nn::gemm::Epilogue ep;
  double sec;
  if (bf16) {
    std::vector<uint16_t> a16(a.size()), b16(b.size());
    for (size_t i = 0; i < a.size(); ++i) a16[i] = nn::float_to_bf16(a[i]);
    for (size_t i = 0; i < b.size(); ++i) b16[i] = nn::float_to_bf16(b[i]);
    sec = best_seconds(flops, [&] {
      nn::gemm::bf16gemm(s.M, s.N, s.K, a16.data(), s.K, 1, b16.data(), s.N, 1, c.data(), s.N, 1, ep);
    });
  } else {
    sec = best_seconds(flops, [&] {
      nn::gemm::sgemm(s.M, s.N, s.K, a.data(), s.K, 1, b.data(), s.N, 1, c.data(), s.N, 1, ep);
    });
  }
  return flops / sec * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> thread_counts;
  std::vector<Shape> shapes = {{128, 128, 128},   {256, 256, 256},    {512, 512, 512},
                               {1024, 1024, 1024}, {2048, 2048, 2048}, {32, 768, 3072},
                               {128, 768, 768},    {512, 384, 1536},   {1, 4096, 4096}};
  int first_thread_arg = 1;
  if (argc >= 5 && std::string(argv[1]) == "--shape") {
    shapes = {{std::atoll(argv[2]), std::atoll(argv[3]), std::atoll(argv[4])}};
    first_thread_arg = 5;
  }
  for (int i = first_thread_arg; i < argc; ++i) thread_counts.push_back(std::atoi(argv[i]));
  if (thread_counts.empty()) thread_counts = {1, 2};
  std::printf("isa=%s kernel=%s bf16 kernel=%s\n", nn::cpu::isa_name(nn::cpu::active_isa()),
              nn::gemm::kernel_name(), nn::gemm::bf16_kernel_name());
  for (int threads : thread_counts) {
    nn::set_num_threads(threads);
    for (const Shape& s : shapes) {
      std::printf("threads=%d fp32 %5lldx%5lldx%5lld  %7.1f GFLOP/s\n", threads, (long long)s.M,
                  (long long)s.K, (long long)s.N, bench(s, false));
      std::fflush(stdout);
    }
    const Shape big{1024, 1024, 1024};
    std::printf("threads=%d bf16 %5lldx%5lldx%5lld  %7.1f GFLOP/s\n", threads, (long long)big.M,
                (long long)big.K, (long long)big.N, bench(big, true));
  }
  return 0;
}
