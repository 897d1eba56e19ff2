// memory_plan.h — memory planning for the inference runtime. A recording run logs, in
// order, every Storage allocation the graph makes on the calling thread (its size) and
// when it is freed; plan_memory() then gives each allocation freed before the run ends
// an offset in one arena (greedy by size, interval-overlap check, 64-byte aligned);
// allocations still alive at the end (outputs, views of them) stay on the heap. A replay
// (ArenaScope) serves the i-th allocation from its planned offset. Any mismatch (size, or
// an allocation sharing its bytes still alive) falls back to the heap for the rest of the
// run and is counted, so a replay that diverges from the recording never overlaps memory.
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

// Logs allocations while installed on this thread (RAII).
class AllocationRecorder {
 public:
  AllocationRecorder();
  ~AllocationRecorder();
  AllocationRecorder(const AllocationRecorder&) = delete;
  AllocationRecorder& operator=(const AllocationRecorder&) = delete;
  // Stops recording and plans the arena from what was logged so far.
  MemoryPlan finish();

 private:
  struct State;
  struct Hook;
  std::shared_ptr<State> state_;
  std::unique_ptr<Hook> hook_;
  StorageAllocHook* prev_;
  bool installed_ = true;
};

// One arena's bytes (64-byte aligned, from the library allocator).
struct Arena {
  explicit Arena(size_t nbytes);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  char* base;
  size_t nbytes;
};

// Serves allocations from `arena` by `plan` while installed on this thread. Create with
// new; call finish() at the end of the run: it uninstalls the hook and returns true when
// every arena allocation was released (the arena may be reused); on false the scope and
// the arena must be leaked, since some storage still points into them.
class ArenaScope final : public StorageAllocHook {
 public:
  ArenaScope(const MemoryPlan& plan, Arena& arena);
  void* allocate(size_t nbytes, std::function<void()>& release) override;
  bool finish();
  int64_t fallbacks() const { return fallbacks_; }

 private:
  const MemoryPlan& plan_;
  Arena& arena_;
  StorageAllocHook* prev_;
  size_t next_ = 0;
  bool disabled_ = false;
  int64_t fallbacks_ = 0;
  std::vector<uint8_t> state_;  // 0 not served, 1 live, 2 released
  std::atomic<int64_t> live_{0};
};

}  // namespace nn::runtime
