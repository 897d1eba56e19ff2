// memory_plan.h — memory planning for the inference runtime, as two Allocators
// (core/allocator.h) that the session installs on its thread with an AllocatorOverride
// while the graph runs. A recording run (AllocationRecorder) logs, in order, every CPU
// Storage allocation the graph makes on that thread (its size) and when it is freed;
// finish() then gives each allocation freed before the run ends an offset in one
// arena (greedy by size, interval-overlap check, 64-byte aligned); allocations still alive
// at the end (outputs, views of them) stay on the heap. A replay (ArenaAllocator) serves
// the i-th allocation from its planned offset. Any mismatch (size, or an allocation
// sharing its bytes still alive) falls back to the heap for the rest of the run and is
// counted, so a replay that diverges from the recording never overlaps memory. Heap
// blocks come from the allocator that was current when the planner was created.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/storage.h"

namespace nn::runtime {

struct MemoryPlan {
  std::vector<size_t> sizes;            // requested bytes of allocation i
  std::vector<int64_t> offsets;         // arena offset of allocation i, -1 = heap
  std::vector<std::vector<int>> conflicts;  // earlier allocations sharing bytes with i: freed before i
  size_t arena_bytes = 0;
  int64_t num_arena = 0;
};

// Logs the allocations it serves (from the allocator current at construction, normally
// the CPU allocator) while installed with AllocatorOverride(DeviceType::CPU, &recorder).
// Blocks may outlive the recorder; their frees after finish() are not logged.
class AllocationRecorder final : public Allocator {
 public:
  AllocationRecorder();
  AllocationRecorder(const AllocationRecorder&) = delete;
  AllocationRecorder& operator=(const AllocationRecorder&) = delete;
  DataPtr allocate(size_t nbytes, Device device) override;
  // Stops recording and plans the arena from what was logged so far. Uninstall first.
  MemoryPlan finish();

 private:
  struct State;
  struct Block;
  static void release_block(void* ctx, void* data, size_t nbytes) noexcept;
  std::shared_ptr<State> state_;
  Allocator* base_;
};

// One arena's bytes (64-byte aligned, from the CPU allocator).
struct Arena {
  explicit Arena(size_t nbytes);
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  DataPtr block;
  char* base;
  size_t nbytes;
};

// Serves allocations from `arena` by `plan` while installed with
// AllocatorOverride(DeviceType::CPU, allocator). Create with new; after the run (and
// after uninstalling it) all_released() says whether every arena block was released:
// then the allocator may be deleted and the arena reused; otherwise both must be
// leaked, since some storage still points into them (its deleter refers to this object).
class ArenaAllocator final : public Allocator {
 public:
  ArenaAllocator(const MemoryPlan& plan, Arena& arena);
  ArenaAllocator(const ArenaAllocator&) = delete;
  ArenaAllocator& operator=(const ArenaAllocator&) = delete;
  DataPtr allocate(size_t nbytes, Device device) override;
  bool all_released() const { return live_.load(std::memory_order_acquire) == 0; }
  int64_t fallbacks() const { return fallbacks_; }

 private:
  struct Slot {  // the DataPtr context of arena block i
    ArenaAllocator* owner;
    uint8_t state;  // 0 not served, 1 live, 2 released
  };
  static void release_slot(void* ctx, void* data, size_t nbytes) noexcept;
  DataPtr fall_back(size_t nbytes, Device device, bool mismatch);
  const MemoryPlan& plan_;
  Arena& arena_;
  Allocator* base_;
  size_t next_ = 0;
  bool disabled_ = false;
  int64_t fallbacks_ = 0;
  std::vector<Slot> slots_;
  std::atomic<int64_t> live_{0};
};

}  // namespace nn::runtime
