// test_allocator.cpp — the allocator interface (core/allocator.h) without Python:
// DataPtr runs its deleter exactly once (destruction, reset, moves, wrapped external
// memory); the CPU allocator's alignment and counters (bytes in use, peak, allocation /
// free counts, peak reset, out of memory, several threads); a custom allocator installed
// with AllocatorOverride serves empty() on that thread only and is restored after, while
// blocks it made outlive the override; devices with no backend raise DeviceError; and the
// runtime's planner allocators (record, plan, replay from the arena) keep the CPU
// counters flat during a replay. Prints each failed check; exits nonzero on any failure.
// Usage: test_allocator
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "core/allocator.h"
#include "core/cpu_allocator.h"
#include "core/tensor.h"
#include "runtime/memory_plan.h"

#include "test_check.h"

using namespace nn;

namespace {


// Runs fn and returns the message of the exception of type E it throws ("" if none).
template <typename E, typename Fn>
std::string thrown(Fn&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return std::string("threw: ") + e.what();
  } catch (...) {
    return "threw another type";
  }
  return "";
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }
bool aligned(const void* p, size_t a) { return reinterpret_cast<uintptr_t>(p) % a == 0; }

// A deleter that counts its calls in the int its context points to.
void count_delete(void* ctx, void*, size_t) noexcept { ++*static_cast<int*>(ctx); }

// An allocator over malloc that counts what it serves and frees.
class CountingAllocator final : public Allocator {
 public:
  DataPtr allocate(size_t nbytes, Device device) override {
    void* p = std::aligned_alloc(kAllocAlignment, (std::max<size_t>(nbytes, 1) + 63) / 64 * 64);
    if (p == nullptr) throw OutOfMemoryError("CountingAllocator: out of memory");
    ++allocs;
    last = p;
    return DataPtr(p, nbytes, this, &release, device);
  }
  static void release(void* ctx, void* data, size_t) noexcept {
    ++static_cast<CountingAllocator*>(ctx)->frees;
    std::free(data);
  }
  int allocs = 0, frees = 0;
  void* last = nullptr;
};

MemoryStats cpu() { return memory_stats(Device{}); }

void test_data_ptr_deleter_runs_once() {
  int calls = 0;
  int block = 0;
  {
    DataPtr p(&block, 4, &calls, &count_delete, Device{});
    CHECK(p.owns() && p.get() == &block && p.nbytes() == 4 && p.device() == Device{});
  }
  CHECK(calls == 1);

  calls = 0;
  {
    DataPtr p(&block, 4, &calls, &count_delete, Device{});
    p.reset();
    CHECK(calls == 1 && !p.owns() && p.get() == nullptr && p.nbytes() == 0);
    p.reset();  // empty: nothing to delete
  }
  CHECK(calls == 1);

  calls = 0;
  {
    DataPtr a(&block, 4, &calls, &count_delete, Device{});
    DataPtr b(std::move(a));  // move construction transfers ownership
    CHECK(!a.owns() && a.get() == nullptr && b.owns() && b.get() == &block);  // NOLINT(bugprone-use-after-move)
    DataPtr c;
    c = std::move(b);  // move assignment into an empty DataPtr
    CHECK(!b.owns() && c.get() == &block && calls == 0);  // NOLINT(bugprone-use-after-move)
    DataPtr& self = c;
    c = std::move(self);  // self-move keeps the block
    CHECK(c.owns() && calls == 0);
  }
  CHECK(calls == 1);

  // Move assignment onto an owning DataPtr deletes its old block first, exactly once.
  int calls_a = 0, calls_b = 0, other = 0;
  {
    DataPtr a(&block, 4, &calls_a, &count_delete, Device{});
    DataPtr b(&other, 4, &calls_b, &count_delete, Device{DeviceType::CUDA, 1});
    a = std::move(b);
    CHECK(calls_a == 1 && calls_b == 0 && a.get() == &other && a.device() == (Device{DeviceType::CUDA, 1}));
  }
  CHECK(calls_a == 1 && calls_b == 1);

  // A default DataPtr and one without a deleter never call anything.
  { DataPtr empty_ptr; CHECK(!empty_ptr.owns() && empty_ptr.get() == nullptr); }
  { DataPtr borrowed(&block, 4, nullptr, nullptr, Device{}); CHECK(!borrowed.owns() && borrowed.get() == &block); }

  // Wrapped external memory: the release function runs once, when the owner dies.
  int released = 0;
  {
    DataPtr w = DataPtr::wrap(&block, 4, Device{}, [&released] { ++released; });
    DataPtr moved = std::move(w);
    CHECK(released == 0 && moved.owns());
  }
  CHECK(released == 1);
  { DataPtr w = DataPtr::wrap(&block, 4, Device{}, nullptr); CHECK(!w.owns()); }

  // Storage takes a DataPtr and frees it with the storage.
  calls = 0;
  {
    auto s = std::make_shared<Storage>(DataPtr(&block, 4, &calls, &count_delete, Device{}));
    CHECK(s->data() == &block && s->nbytes() == 4 && s->device() == Device{} && s->data_ptr().context() == &calls);
  }
  CHECK(calls == 1);
}

void test_cpu_alignment() {
  DeviceAllocator* a = device_allocator(DeviceType::CPU);
  CHECK(a == &g_cpu_allocator && allocator_for(Device{}) == a);
  std::vector<DataPtr> blocks;
  for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{63}, size_t{64}, size_t{65}, size_t{127}, size_t{129},
                   size_t{1000}, size_t{4096 + 1}, (size_t{4} << 20) + 3}) {
    DataPtr p = a->allocate(n, Device{});
    CHECK(p.owns() && p.get() != nullptr && p.nbytes() == n && p.device() == Device{});
    CHECK(aligned(p.get(), kAllocAlignment));
    blocks.push_back(std::move(p));
  }
  for (size_t i = 0; i < blocks.size(); ++i)  // zero-byte requests still get unique blocks
    for (size_t j = i + 1; j < blocks.size(); ++j) CHECK(blocks[i].get() != blocks[j].get());
  Tensor t = empty({3, 5}, DType::Float64, Device{});
  CHECK(aligned(t.data_bytes(), kAllocAlignment));
}

void test_cpu_counters() {
  const MemoryStats s0 = cpu();
  {
    DataPtr p = allocate(1000, Device{});
    const MemoryStats s1 = cpu();
    CHECK(s1.bytes_in_use == s0.bytes_in_use + 1000);
    CHECK(s1.num_allocs == s0.num_allocs + 1 && s1.num_frees == s0.num_frees);
    CHECK(s1.peak_bytes >= s1.bytes_in_use);
  }
  const MemoryStats s2 = cpu();
  CHECK(s2.bytes_in_use == s0.bytes_in_use && s2.num_frees == s0.num_frees + 1);
  CHECK(cpu_memory_stats().num_allocs == s2.num_allocs);

  {  // tensors count their storage; views count nothing
    Tensor t = empty({10, 10}, DType::Float32, Device{});
    Tensor v = make_view(t, {5}, {1}, 3);
    CHECK(cpu().bytes_in_use == s0.bytes_in_use + 400 && cpu().num_allocs == s2.num_allocs + 1);
  }
  CHECK(cpu().bytes_in_use == s0.bytes_in_use);

  {  // the peak stays after a free until it is reset
    DataPtr big = allocate(1 << 20, Device{});
    big.reset();
    CHECK(cpu().peak_bytes >= cpu().bytes_in_use + (1 << 20));
    reset_peak_memory_stats(Device{});
    CHECK(cpu().peak_bytes == cpu().bytes_in_use);
    DataPtr small = allocate(512, Device{});
    CHECK(cpu().peak_bytes == cpu().bytes_in_use);
  }

  {  // out of memory raises and leaves the counters as they were
    const MemoryStats before = cpu();
    CHECK(contains(thrown<OutOfMemoryError>([] { allocate(size_t{1} << 62, Device{}); }), "out of memory"));
    CHECK(!thrown<OutOfMemoryError>([] { allocate(~size_t{0} - 3, Device{}); }).empty());
    const MemoryStats after = cpu();
    CHECK(after.bytes_in_use == before.bytes_in_use && after.num_allocs == before.num_allocs);
  }

  {  // several threads: every allocation is counted and freed
    const MemoryStats before = cpu();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([t] {
        for (int i = 0; i < 5000; ++i) {
          DataPtr p = allocate(static_cast<size_t>(16 * (t + 1) + i % 7), Device{});
          static_cast<char*>(p.get())[0] = 1;
        }
      });
    for (auto& th : threads) th.join();
    const MemoryStats after = cpu();
    CHECK(after.bytes_in_use == before.bytes_in_use);
    CHECK(after.num_allocs == before.num_allocs + 20000 && after.num_frees == before.num_frees + 20000);
  }

  {  // the large-block cache: a freed 4 MiB block is kept, not in use, and emptied
    DataPtr big = allocate(size_t{4} << 20, Device{});
    const int64_t in_use = cpu().bytes_in_use;
    big.reset();
    CHECK(cpu().bytes_in_use == in_use - (int64_t{4} << 20));
    empty_cache();
    CHECK(cpu().cached_bytes == 0);
  }
}

void test_override_guard() {
  CountingAllocator custom, inner;
  const MemoryStats s0 = cpu();
  Tensor made_inside;
  {
    AllocatorOverride guard(DeviceType::CPU, &custom);
    CHECK(allocator_for(Device{}) == &custom);
    CHECK(device_allocator(DeviceType::CPU) == &g_cpu_allocator);  // the device's own is unchanged
    made_inside = empty({8}, DType::Float32, Device{});
    CHECK(custom.allocs == 1 && made_inside.data_bytes() == custom.last);
    CHECK(made_inside.storage()->data_ptr().deleter() == &CountingAllocator::release);
    CHECK(cpu().num_allocs == s0.num_allocs);  // the CPU allocator was not asked
    {
      AllocatorOverride nested(DeviceType::CPU, &inner);
      Tensor t = empty({2}, DType::Int64, Device{});
      CHECK(inner.allocs == 1 && custom.allocs == 1);
    }
    CHECK(inner.frees == 1 && allocator_for(Device{}) == &custom);
    Tensor t = empty({3}, DType::Float32, Device{});
    CHECK(custom.allocs == 2);
    // The override is per thread: another thread still gets the CPU allocator.
    Allocator* seen = nullptr;
    std::thread([&seen] { seen = allocator_for(Device{}); }).join();
    CHECK(seen == &g_cpu_allocator);
    // An override for one device type leaves the others alone.
    CHECK(allocator_for(Device{DeviceType::CUDA, 0}) == nullptr);
  }
  CHECK(custom.frees == 1);  // `t` died; `made_inside` is still alive
  CHECK(allocator_for(Device{}) == &g_cpu_allocator);
  Tensor after = empty({4}, DType::Float32, Device{});
  CHECK(custom.allocs == 2 && cpu().num_allocs == s0.num_allocs + 1);
  made_inside = Tensor();  // freed by its own deleter, after the override is gone
  CHECK(custom.frees == 2);
  after = Tensor();
  CHECK(cpu().bytes_in_use == s0.bytes_in_use);

  // The guard restores the previous allocator when an exception leaves its scope.
  try {
    AllocatorOverride guard(DeviceType::CPU, &custom);
    throw RuntimeError("boom");
  } catch (const RuntimeError&) {
  }
  CHECK(allocator_for(Device{}) == &g_cpu_allocator);
}

void test_devices_without_backend() {
  const Device cuda{DeviceType::CUDA, 0};
  CHECK(device_allocator(DeviceType::CUDA) == nullptr && allocator_for(cuda) == nullptr);
  const std::string e1 = thrown<DeviceError>([&] { empty({4}, DType::Float32, cuda); });
  CHECK(contains(e1, "cuda:0") && contains(e1, "no CUDA backend"));
  const std::string e2 = thrown<DeviceError>([] { memory_stats(Device{DeviceType::CUDA, 1}); });
  CHECK(contains(e2, "memory_stats") && contains(e2, "cuda:1") && contains(e2, "no CUDA backend"));
  CHECK(contains(thrown<DeviceError>([&] { reset_peak_memory_stats(cuda); }), "no CUDA backend"));
  CHECK(contains(thrown<DeviceError>([&] { g_cpu_allocator.allocate(8, cuda); }), "CpuAllocator"));
  CHECK(contains(thrown<ValueError>([] { register_device_allocator(DeviceType::CPU, &g_cpu_allocator); }),
                 "cannot be replaced"));
  CHECK(device_allocator(DeviceType::CPU) == &g_cpu_allocator);
  CHECK(contains(thrown<ValueError>([] { register_device_allocator(DeviceType::CUDA, nullptr); }), "null"));
}

// The runtime's planner as two Allocators: a recording, its plan, and a replay from the arena.
void test_planner_allocators() {
  auto run_graph = [] {  // a chain of temporaries; the last one escapes as the output
    Tensor a = empty({256}, DType::Float32, Device{});
    Tensor b = empty({256}, DType::Float32, Device{});
    a = Tensor();
    Tensor c = empty({64}, DType::Float32, Device{});
    b = Tensor();
    Tensor out = empty({16}, DType::Float32, Device{});
    return out;
  };
  runtime::AllocationRecorder rec;
  Tensor recorded_out;
  {
    AllocatorOverride record(DeviceType::CPU, &rec);
    recorded_out = run_graph();
  }
  const runtime::MemoryPlan plan = rec.finish();
  CHECK(plan.sizes.size() == 4 && plan.num_arena == 3 && plan.offsets[3] == -1 && plan.arena_bytes > 0);
  recorded_out = Tensor();

  runtime::Arena arena(plan.arena_bytes);
  CHECK(aligned(arena.base, kAllocAlignment));
  auto* replay = new runtime::ArenaAllocator(plan, arena);
  const MemoryStats before = cpu();
  Tensor out;
  {
    AllocatorOverride use_arena(DeviceType::CPU, replay);
    out = run_graph();
  }
  const MemoryStats after = cpu();
  CHECK(replay->fallbacks() == 0 && replay->all_released());
  CHECK(after.num_allocs == before.num_allocs + 1);  // only the output came from the CPU allocator
  const char* p = out.data_bytes();
  CHECK(!(p >= arena.base && p < arena.base + arena.nbytes));  // the output is not in the arena
  delete replay;
  out = Tensor();
  CHECK(cpu().bytes_in_use == before.bytes_in_use);

  // A replay that diverges (another size) falls back to the heap and is counted.
  auto* diverging = new runtime::ArenaAllocator(plan, arena);
  {
    AllocatorOverride use_arena(DeviceType::CPU, diverging);
    Tensor x = empty({100}, DType::Float32, Device{});
    Tensor y = empty({256}, DType::Float32, Device{});
  }
  CHECK(diverging->fallbacks() == 1 && diverging->all_released());
  delete diverging;
}

}  // namespace

int main() {
  test_data_ptr_deleter_runs_once();
  test_cpu_alignment();
  test_cpu_counters();
  test_override_guard();
  test_devices_without_backend();
  test_planner_allocators();
  return nn_test::finish("test_allocator");
}
