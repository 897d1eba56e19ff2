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

// The DataPtr context of a recorded block: the base allocator's block and its log entry.
struct AllocationRecorder::Block {
  std::shared_ptr<State> st;
  size_t index;
  DataPtr inner;
};

AllocationRecorder::AllocationRecorder() : state_(std::make_shared<State>()), base_(allocator_for(Device{})) {
  NN_CHECK(base_ != nullptr, RuntimeError, "AllocationRecorder: no CPU allocator");
}

DataPtr AllocationRecorder::allocate(size_t nbytes, Device device) {
  DataPtr inner = base_->allocate(nbytes, device);
  auto block = std::make_unique<Block>(Block{state_, 0, std::move(inner)});
  {
    std::lock_guard<std::mutex> g(state_->mu);
    if (!state_->open) return std::move(block->inner);  // after finish(): not logged
    block->index = state_->sizes.size();
    state_->sizes.push_back(nbytes);
    state_->start.push_back(state_->clock++);
    state_->end.push_back(-1);
  }
  void* data = block->inner.get();
  return DataPtr(data, nbytes, block.release(), &release_block, device);
}

void AllocationRecorder::release_block(void* ctx, void*, size_t) noexcept {
  std::unique_ptr<Block> block(static_cast<Block*>(ctx));
  {
    std::lock_guard<std::mutex> g(block->st->mu);
    if (block->st->open) block->st->end[block->index] = block->st->clock++;
  }
  // ~Block frees the base allocator's block.
}

MemoryPlan AllocationRecorder::finish() {
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

Arena::Arena(size_t n)
    : block(device_allocator(DeviceType::CPU)->allocate(n, Device{})), base(static_cast<char*>(block.get())), nbytes(n) {}

ArenaAllocator::ArenaAllocator(const MemoryPlan& plan, Arena& arena)
    : plan_(plan), arena_(arena), base_(allocator_for(Device{})), slots_(plan.sizes.size(), Slot{this, 0}) {
  NN_CHECK(base_ != nullptr, RuntimeError, "ArenaAllocator: no CPU allocator");
}

DataPtr ArenaAllocator::fall_back(size_t nbytes, Device device, bool mismatch) {
  if (mismatch) {
    disabled_ = true;
    ++fallbacks_;
  }
  return base_->allocate(nbytes, device);
}

DataPtr ArenaAllocator::allocate(size_t nbytes, Device device) {
  const size_t i = next_++;
  if (disabled_) return fall_back(nbytes, device, false);
  if (i >= plan_.sizes.size() || plan_.sizes[i] != nbytes) return fall_back(nbytes, device, true);
  if (plan_.offsets[i] < 0) return fall_back(nbytes, device, false);  // planned on the heap
  for (int j : plan_.conflicts[i])
    if (slots_[static_cast<size_t>(j)].state != 2) return fall_back(nbytes, device, true);
  slots_[i].state = 1;
  live_.fetch_add(1, std::memory_order_relaxed);
  return DataPtr(arena_.base + plan_.offsets[i], nbytes, &slots_[i], &release_slot, Device{});
}

void ArenaAllocator::release_slot(void* ctx, void*, size_t) noexcept {
  Slot* slot = static_cast<Slot*>(ctx);
  slot->state = 2;
  slot->owner->live_.fetch_sub(1, std::memory_order_release);
}

}  // namespace nn::runtime
