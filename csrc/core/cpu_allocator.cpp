// cpu_allocator.cpp — the CPU allocator: aligned blocks with atomic counters and a
// cache of large blocks (see cpu_allocator.h).
#include "core/cpu_allocator.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <type_traits>
#include <unordered_map>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

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

// Blocks of at least this size are 2 MiB aligned and marked for transparent huge pages:
// first touch then costs one fault per 2 MiB instead of one per 4 KiB (NumPy does the
// same), which matters for elementwise ops on large tensors.
constexpr size_t kHugePageThreshold = size_t(4) << 20;
constexpr size_t kHugePageSize = size_t(2) << 20;

// Note [Large-block cache]: freed blocks of at least kHugePageThreshold bytes are kept
// (up to kCacheLimit bytes in all) and handed out again for a request of the same
// rounded size. Repeated large ops (a * b + c on 10^7 elements) then reuse memory that
// is already mapped instead of faulting in and zeroing fresh pages on every call.
// Cached blocks are not "in use": memory_stats() reports them as cached_bytes, and
// empty_cache() returns them to the system.
constexpr size_t kCacheLimit = size_t(512) << 20;
std::mutex g_cache_mutex;
std::unordered_map<size_t, std::vector<void*>> g_cache;
std::atomic<int64_t> g_cached_bytes{0};

void* take_cached(size_t rounded) {
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  auto it = g_cache.find(rounded);
  if (it == g_cache.end() || it->second.empty()) return nullptr;
  void* p = it->second.back();
  it->second.pop_back();
  g_cached_bytes.fetch_sub(static_cast<int64_t>(rounded), std::memory_order_relaxed);
  return p;
}

bool put_cached(void* p, size_t rounded) noexcept {
  try {
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    if (static_cast<size_t>(g_cached_bytes.load(std::memory_order_relaxed)) + rounded > kCacheLimit) return false;
    g_cache[rounded].push_back(p);
    g_cached_bytes.fetch_add(static_cast<int64_t>(rounded), std::memory_order_relaxed);
    return true;
  } catch (...) {  // no memory for the cache's own bookkeeping: free the block instead
    return false;
  }
}

size_t rounded_size(size_t nbytes) {
  const size_t align = nbytes >= kHugePageThreshold ? kHugePageSize : kAllocAlignment;
  return nbytes == 0 ? kAllocAlignment : (nbytes + align - 1) / align * align;
}

void* cpu_alloc(size_t nbytes) {
  // Round up to the alignment (aligned_alloc requires a multiple) and never ask for 0.
  const bool huge = nbytes >= kHugePageThreshold;
  const size_t align = huge ? kHugePageSize : kAllocAlignment;
  const size_t rounded = rounded_size(nbytes);
  if (rounded < nbytes) throw OutOfMemoryError(str("CpuAllocator: cannot allocate ", nbytes, " bytes"));
  void* p = huge ? take_cached(rounded) : nullptr;
  if (p == nullptr) {
    p = std::aligned_alloc(align, rounded);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (p != nullptr && huge) madvise(p, rounded, MADV_HUGEPAGE);
#endif
  }
  if (p == nullptr)
    throw OutOfMemoryError(str("CpuAllocator: out of memory allocating ", nbytes, " bytes (",
                               g_bytes_in_use.load(), " bytes already in use by nn_core)"));
  const int64_t now = g_bytes_in_use.fetch_add(static_cast<int64_t>(nbytes), std::memory_order_relaxed) +
                      static_cast<int64_t>(nbytes);
  raise_peak(now);
  g_num_allocs.fetch_add(1, std::memory_order_relaxed);
  return p;
}

// The DataPtr deleter of every CPU block (ctx unused).
void cpu_delete(void*, void* data, size_t nbytes) noexcept {
  if (!(nbytes >= kHugePageThreshold && put_cached(data, rounded_size(nbytes)))) std::free(data);
  g_bytes_in_use.fetch_sub(static_cast<int64_t>(nbytes), std::memory_order_relaxed);
  g_num_frees.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

// Constant-initialized and never destroyed (see ~Allocator in core/allocator.h).
static_assert(std::is_trivially_destructible_v<CpuAllocator>);
CpuAllocator g_cpu_allocator;

DataPtr CpuAllocator::allocate(size_t nbytes, Device device) {
  NN_CHECK(device.type == DeviceType::CPU, DeviceError, "CpuAllocator: asked for memory on ", device.str());
  return DataPtr(cpu_alloc(nbytes), nbytes, nullptr, &cpu_delete, Device{DeviceType::CPU, 0});
}

MemoryStats CpuAllocator::stats(Device) const {
  return {g_bytes_in_use.load(), g_peak_bytes.load(), g_num_allocs.load(), g_num_frees.load(), g_cached_bytes.load()};
}

void CpuAllocator::reset_peak_stats(Device) { g_peak_bytes.store(g_bytes_in_use.load()); }

void CpuAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  for (auto& [size, blocks] : g_cache)
    for (void* p : blocks) std::free(p);
  g_cache.clear();
  g_cached_bytes.store(0);
}

}  // namespace nn
