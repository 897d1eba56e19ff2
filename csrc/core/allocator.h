// allocator.h — the CPU allocator: 64-byte aligned blocks and atomic counters of bytes
// in use, peak bytes, and allocation / free counts. These counters are the library's
// memory statistics (nn_core.memory_stats()); a CUDA caching allocator keeps the same.
#pragma once
#include <cstddef>
#include <cstdint>

namespace nn {

constexpr size_t kAllocAlignment = 64;

struct MemoryStats {
  int64_t bytes_in_use;
  int64_t peak_bytes;
  int64_t num_allocs;
  int64_t num_frees;
  int64_t cached_bytes;  // freed large blocks kept for reuse (allocator.cpp, Note [Large-block cache])
};

// Returns a 64-byte aligned block (never nullptr; nbytes == 0 gives a valid unique
// block). Throws OutOfMemoryError when the system cannot provide it.
void* cpu_alloc(size_t nbytes);
void cpu_free(void* ptr, size_t nbytes);

MemoryStats cpu_memory_stats();
void reset_peak_memory_stats();
// Returns the cached large blocks to the system.
void empty_cache();

}  // namespace nn
