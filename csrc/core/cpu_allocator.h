// cpu_allocator.h — the CPU's DeviceAllocator (core/allocator.h): 64-byte aligned
// blocks (2 MiB aligned, transparent huge pages, and a reuse cache for blocks of 4 MiB
// and more), with atomic counters of bytes in use, peak bytes, and allocation / free
// counts. These counters are nn_core.memory_stats("cpu"). It knows nothing of overrides:
// the runtime's memory planner is a separate Allocator (runtime/memory_plan.h).
#pragma once
#include "core/allocator.h"

namespace nn {

class CpuAllocator final : public DeviceAllocator {
 public:
  constexpr CpuAllocator() = default;
  // Never nullptr (nbytes == 0 gives a valid unique block); OutOfMemoryError when the
  // system cannot provide the block. `device` must be the CPU.
  DataPtr allocate(size_t nbytes, Device device) override;
  MemoryStats stats(Device device) const override;
  void reset_peak_stats(Device device) override;
  void empty_cache() override;
};

// The one instance: device_allocator(DeviceType::CPU) points to it from the start.
extern CpuAllocator g_cpu_allocator;

}  // namespace nn
