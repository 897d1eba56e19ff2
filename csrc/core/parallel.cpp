// parallel.cpp — parallel_for over OpenMP (see parallel.h).
#include "core/parallel.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>

#include "core/errors.h"

namespace nn {
namespace {
std::atomic<int> g_num_threads{0};  // 0: not yet initialised from omp
}

int get_num_threads() {
  int n = g_num_threads.load(std::memory_order_relaxed);
  if (n == 0) {
    n = std::max(1, omp_get_max_threads());
    g_num_threads.store(n, std::memory_order_relaxed);
  }
  return n;
}

void set_num_threads(int n) {
  NN_CHECK(n >= 1, ValueError, "set_num_threads: expected a positive number of threads, got ", n);
  g_num_threads.store(n, std::memory_order_relaxed);
  omp_set_num_threads(n);
}

bool in_parallel_region() { return omp_in_parallel() != 0; }

int64_t parallel_chunks(int64_t begin, int64_t end, int64_t grain) {
  const int64_t n = end - begin;
  if (n <= 0) return 0;
  grain = std::max<int64_t>(grain, 1);
  const int64_t threads = get_num_threads();
  if (threads <= 1 || n < 2 * grain || in_parallel_region()) return 1;
  return std::min<int64_t>(threads, (n + grain - 1) / grain);
}

void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t chunks = parallel_chunks(begin, end, grain);
  if (chunks == 0) return;
  if (chunks == 1) {
    fn(begin, end);
    return;
  }
  const int64_t n = end - begin;
  std::exception_ptr error;
  std::mutex error_mutex;
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t lo = begin + n * c / chunks;
    const int64_t hi = begin + n * (c + 1) / chunks;
    try {
      fn(lo, hi);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace nn
