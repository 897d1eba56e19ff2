// allocator.cpp — aligned CPU allocation with atomic counters (see allocator.h).
#include "core/allocator.h"

#include <atomic>
#include <cstdlib>

#include "core/errors.h"

namespace nn {
namespace {
std::atomic<int64_t> g_bytes_in_use{0};
std::atomic<int64_t> g_peak_bytes{0};
std::atomic<int64_t> g_num_allocs{0};
std::atomic<int64_t> g_num_frees{0};

void raise_peak(int64_t now) {
  int64_t peak = g_peak_bytes.load(std::memory_order_relaxed);
  while (now > peak && !g_peak_bytes.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}
}  // namespace

void* cpu_alloc(size_t nbytes) {
  // Round up to the alignment (aligned_alloc requires a multiple) and never ask for 0.
  const size_t rounded = nbytes == 0 ? kAllocAlignment
                                     : (nbytes + kAllocAlignment - 1) / kAllocAlignment * kAllocAlignment;
  if (rounded < nbytes) throw OutOfMemoryError(str("cpu_alloc: cannot allocate ", nbytes, " bytes"));
  void* p = std::aligned_alloc(kAllocAlignment, rounded);
  if (p == nullptr)
    throw OutOfMemoryError(str("cpu_alloc: out of memory allocating ", nbytes, " bytes (",
                               g_bytes_in_use.load(), " bytes already in use by nn_core)"));
  const int64_t now = g_bytes_in_use.fetch_add(static_cast<int64_t>(nbytes), std::memory_order_relaxed) +
                      static_cast<int64_t>(nbytes);
  raise_peak(now);
  g_num_allocs.fetch_add(1, std::memory_order_relaxed);
  return p;
}

void cpu_free(void* ptr, size_t nbytes) {
  if (ptr == nullptr) return;
  std::free(ptr);
  g_bytes_in_use.fetch_sub(static_cast<int64_t>(nbytes), std::memory_order_relaxed);
  g_num_frees.fetch_add(1, std::memory_order_relaxed);
}

MemoryStats cpu_memory_stats() {
  return {g_bytes_in_use.load(), g_peak_bytes.load(), g_num_allocs.load(), g_num_frees.load()};
}

void reset_peak_memory_stats() { g_peak_bytes.store(g_bytes_in_use.load()); }

}  // namespace nn
