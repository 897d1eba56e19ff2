// memory_plan.cpp — allocation recording, arena planning and replay (runtime/memory_plan.h).
#include "runtime/memory_plan.h"

#include <algorithm>
#include <mutex>

#include "core/allocator.h"

namespace nn::runtime {

namespace {
size_t align_up(size_t n) { return (std::max<size_t>(n, 1) + kAllocAlignment - 1) / kAllocAlignment * kAllocAlignment; }
}  // namespace

struct AllocationRecorder::State {
  std::mutex mu;  // frees of escaped storages may come from any thread
  std::vector<size_t> sizes;
  std::vector<int64_t> start, end;
  int64_t clock = 0;
  bool open = true;
};

struct AllocationRecorder::Hook final : StorageAllocHook {
  std::shared_ptr<State> st;
  void* allocate(size_t nbytes, std::function<void()>& release) override {
    void* p = cpu_alloc(nbytes);
    size_t i;
    {
      std::lock_guard<std::mutex> g(st->mu);
      i = st->sizes.size();
      st->sizes.push_back(nbytes);
      st->start.push_back(st->clock++);
      st->end.push_back(-1);
    }
    release = [s = st, i, p, nbytes] {
      {
        std::lock_guard<std::mutex> g(s->mu);
        if (s->open) s->end[i] = s->clock++;
      }
      cpu_free(p, nbytes);
    };
    return p;
  }
};

AllocationRecorder::AllocationRecorder() : state_(std::make_shared<State>()), hook_(std::make_unique<Hook>()) {
  hook_->st = state_;
  prev_ = tl_storage_alloc_hook;
  tl_storage_alloc_hook = hook_.get();
}

AllocationRecorder::~AllocationRecorder() {
  if (installed_) tl_storage_alloc_hook = prev_;
}

MemoryPlan AllocationRecorder::finish() {
  if (installed_) tl_storage_alloc_hook = prev_;
  installed_ = false;
  std::vector<size_t> sizes;
  std::vector<int64_t> start, end;
  {
    std::lock_guard<std::mutex> g(state_->mu);
    state_->open = false;  // later frees (outputs) are not part of the plan
    sizes = state_->sizes;
    start = state_->start;
    end = state_->end;
  }
  const size_t n = sizes.size();
  MemoryPlan plan;
  plan.sizes = sizes;
  plan.offsets.assign(n, -1);
  plan.conflicts.assign(n, {});
  std::vector<int> order;
  for (size_t i = 0; i < n; ++i)
    if (end[i] >= 0) order.push_back(static_cast<int>(i));
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return align_up(sizes[a]) > align_up(sizes[b]); });
  std::vector<int> placed;
  std::vector<std::pair<size_t, size_t>> busy;  // (offset, bytes) of placed items alive at the same time
  for (int i : order) {
    busy.clear();
    for (int j : placed)
      if (start[j] < end[i] && start[i] < end[j])
        busy.emplace_back(static_cast<size_t>(plan.offsets[j]), align_up(sizes[j]));
    std::sort(busy.begin(), busy.end());
    const size_t need = align_up(sizes[i]);
    size_t off = 0;
    for (const auto& [bo, bn] : busy) {
      if (off + need <= bo) break;
      off = std::max(off, bo + bn);
    }
    plan.offsets[i] = static_cast<int64_t>(off);
    plan.arena_bytes = std::max(plan.arena_bytes, off + need);
    placed.push_back(i);
    ++plan.num_arena;
  }
  // Allocations that reuse bytes of earlier ones: those must be released first at replay.
  for (int i : placed)
    for (int j : placed) {
      if (end[j] > start[i]) continue;
      const size_t oi = static_cast<size_t>(plan.offsets[i]), oj = static_cast<size_t>(plan.offsets[j]);
      if (oi < oj + align_up(sizes[j]) && oj < oi + align_up(sizes[i])) plan.conflicts[i].push_back(j);
    }
  return plan;
}

Arena::Arena(size_t n) : base(static_cast<char*>(cpu_alloc(n))), nbytes(n) {}
Arena::~Arena() { cpu_free(base, nbytes); }

ArenaScope::ArenaScope(const MemoryPlan& plan, Arena& arena)
    : plan_(plan), arena_(arena), prev_(tl_storage_alloc_hook), state_(plan.sizes.size(), 0) {
  tl_storage_alloc_hook = this;
}

void* ArenaScope::allocate(size_t nbytes, std::function<void()>& release) {
  const size_t i = next_++;
  if (disabled_) return nullptr;
  if (i >= plan_.sizes.size() || plan_.sizes[i] != nbytes) {
    disabled_ = true;
    ++fallbacks_;
    return nullptr;
  }
  if (plan_.offsets[i] < 0) return nullptr;  // planned on the heap
  for (int j : plan_.conflicts[i])
    if (state_[static_cast<size_t>(j)] != 2) {
      disabled_ = true;
      ++fallbacks_;
      return nullptr;
    }
  state_[i] = 1;
  live_.fetch_add(1, std::memory_order_relaxed);
  release = [this, i] {
    state_[i] = 2;
    live_.fetch_sub(1, std::memory_order_release);
  };
  return arena_.base + plan_.offsets[i];
}

bool ArenaScope::finish() {
  tl_storage_alloc_hook = prev_;
  return live_.load(std::memory_order_acquire) == 0;
}

}  // namespace nn::runtime
