// bench_timing.h — the timing loop shared by the C++ benchmark drivers in tests/cpp:
// one warm-up call, then `trials` timed runs of `reps` calls each, where reps aims at
// about flops_per_trial floating-point operations per run (clamped to [min_reps,
// max_reps]); returns the best seconds per call.
#pragma once

#include <algorithm>
#include <chrono>

template <typename Fn>
double best_seconds_per_call(double flops, Fn&& fn, double flops_per_trial, double min_reps, double max_reps,
                             int trials) {
  fn();
  const int reps = static_cast<int>(std::clamp(flops_per_trial / flops, min_reps, max_reps));
  double best = 1e30;
  for (int trial = 0; trial < trials; ++trial) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) fn();
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count() / reps);
  }
  return best;
}
