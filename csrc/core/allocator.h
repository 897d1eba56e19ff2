// allocator.h — the allocator interface (c10's Allocator / DataPtr shape) and the
// per-device lookup that Storage allocates through.
//
//   DataPtr          owns one block: data, size, device and its own deleter (a plain
//                    function pointer plus a context word, so no heap allocation).
//   Allocator        allocate(nbytes, device) -> DataPtr. Any memory source is one.
//   DeviceAllocator  an Allocator that is the default for a device type and keeps the
//                    library's memory counters for it (nn_core.memory_stats(device)).
//                    The CPU one is cpu_allocator.h; a CUDA caching allocator registers
//                    itself with register_device_allocator().
//   allocator_for(d) the allocator new Storage on device d uses: the current thread's
//                    override (AllocatorOverride, e.g. the runtime's memory planner,
//                    runtime/memory_plan.h) if one is installed, else the device's.
//
// See Note [Allocator lookup] below for the cost on the hot path.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "core/device.h"

namespace nn {

// Alignment of every block the library's allocators hand out (and of planned arena slots).
constexpr size_t kAllocAlignment = 64;

// Releases a block: called exactly once with the DataPtr's context, data and size.
using DeleterFn = void (*)(void* ctx, void* data, size_t nbytes) noexcept;

// Unique owner of one block of device memory. Move-only; the deleter runs when the
// DataPtr is destroyed or reset (never for an empty or moved-from DataPtr).
class DataPtr {
 public:
  DataPtr() = default;
  DataPtr(void* data, size_t nbytes, void* ctx, DeleterFn deleter, Device device) noexcept
      : data_(data), nbytes_(nbytes), ctx_(ctx), deleter_(deleter), device_(device) {}
  DataPtr(DataPtr&& o) noexcept
      : data_(o.data_), nbytes_(o.nbytes_), ctx_(o.ctx_), deleter_(o.deleter_), device_(o.device_) {
    o.forget();
  }
  DataPtr& operator=(DataPtr&& o) noexcept {
    if (this != &o) {
      reset();
      data_ = o.data_;
      nbytes_ = o.nbytes_;
      ctx_ = o.ctx_;
      deleter_ = o.deleter_;
      device_ = o.device_;
      o.forget();
    }
    return *this;
  }
  DataPtr(const DataPtr&) = delete;
  DataPtr& operator=(const DataPtr&) = delete;
  ~DataPtr() { reset(); }

  // Runs the deleter (if any) and leaves this DataPtr empty.
  void reset() noexcept {
    DeleterFn d = deleter_;
    void *ctx = ctx_, *data = data_;
    const size_t n = nbytes_;
    forget();
    if (d != nullptr) d(ctx, data, n);
  }

  void* get() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  void* context() const { return ctx_; }
  DeleterFn deleter() const { return deleter_; }
  Device device() const { return device_; }
  // True when this DataPtr owns a block (allocators never return an empty one; a
  // zero-byte request still gets a unique block).
  bool owns() const { return deleter_ != nullptr; }

  // Wraps memory owned elsewhere (numpy, DLPack, a Python buffer): `release` runs when
  // the DataPtr dies. Costs one small heap allocation for the std::function.
  static DataPtr wrap(void* data, size_t nbytes, Device device, std::function<void()> release);

 private:
  void forget() noexcept {
    data_ = nullptr;
    nbytes_ = 0;
    ctx_ = nullptr;
    deleter_ = nullptr;
  }
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  void* ctx_ = nullptr;
  DeleterFn deleter_ = nullptr;
  Device device_;
};

// Byte counters of one device. bytes_in_use counts requested bytes of live blocks.
struct MemoryStats {
  int64_t bytes_in_use;
  int64_t peak_bytes;
  int64_t num_allocs;
  int64_t num_frees;
  int64_t cached_bytes;  // freed blocks kept for reuse (cpu_allocator.cpp, Note [Large-block cache])
};

// Allocators are never owned or deleted through this interface (the protected,
// non-virtual destructor keeps the CPU allocator trivially destructible, so it is never
// torn down while static destructors elsewhere may still allocate).
class Allocator {
 public:
  // Returns a block of at least nbytes (nbytes() == nbytes), kAllocAlignment aligned,
  // on `device`; never an empty DataPtr. Throws OutOfMemoryError when it cannot.
  virtual DataPtr allocate(size_t nbytes, Device device) = 0;

 protected:
  ~Allocator() = default;
};

// The default allocator of one device type, with the device's memory counters.
class DeviceAllocator : public Allocator {
 public:
  virtual MemoryStats stats(Device device) const = 0;
  virtual void reset_peak_stats(Device device) = 0;
  // Returns cached free blocks to the system; counters of blocks in use are unchanged.
  virtual void empty_cache() = 0;

 protected:
  ~DeviceAllocator() = default;
};

// Note [Allocator lookup]: one table entry per device type, set once at startup (the CPU
// entry is constant-initialized), plus a thread-local override per device type. A
// Storage allocation costs one thread-local load, one relaxed atomic load and one
// virtual call; no lock, no heap allocation beyond the allocator's own.
namespace detail {
extern std::atomic<DeviceAllocator*> g_device_allocators[kNumDeviceTypes];
// Defined in allocator.cpp, not an inline variable: ISA-specific units are compiled with
// -fno-weak (CMakeLists.txt, Note [ISA units share no inline code]), which would give each its own copy.
extern thread_local Allocator* tl_allocator_override[kNumDeviceTypes];
// DeviceError "<what> on cuda:0: this build has no CUDA backend (...)".
[[noreturn]] void throw_no_allocator(const char* what, Device device);
}  // namespace detail

// The device type's own allocator (ignores overrides); nullptr when this build has none.
inline DeviceAllocator* device_allocator(DeviceType type) {
  return detail::g_device_allocators[static_cast<int>(type)].load(std::memory_order_acquire);
}

// The allocator new storage on `device` comes from on this thread; nullptr when none.
inline Allocator* allocator_for(Device device) {
  Allocator* a = detail::tl_allocator_override[static_cast<int>(device.type)];
  if (__builtin_expect(a != nullptr, 0)) return a;
  return device_allocator(device.type);
}

// Allocates with allocator_for(device); DeviceError when no allocator serves the device.
inline DataPtr allocate(size_t nbytes, Device device) {
  Allocator* a = allocator_for(device);
  if (__builtin_expect(a == nullptr, 0)) detail::throw_no_allocator("allocation", device);
  return a->allocate(nbytes, device);
}

// Installs `allocator` (must outlive the registration) as `type`'s default. For backends
// (the CUDA allocator) at load time; replacing the CPU allocator is refused.
void register_device_allocator(DeviceType type, DeviceAllocator* allocator);

// While alive, new storage of `type` on this thread comes from `allocator` (nesting
// restores the previous override). The allocator must outlive the blocks it hands out
// unless their deleters do not refer to it.
class AllocatorOverride {
 public:
  AllocatorOverride(DeviceType type, Allocator* allocator);
  ~AllocatorOverride();
  AllocatorOverride(const AllocatorOverride&) = delete;
  AllocatorOverride& operator=(const AllocatorOverride&) = delete;

 private:
  int type_;
  Allocator* prev_;
};

// The counters of `device`'s allocator (DeviceError when this build has no backend for it).
MemoryStats memory_stats(Device device = Device{});
void reset_peak_memory_stats(Device device = Device{});
// Returns the cached free blocks of every device's allocator to the system.
void empty_cache();

// The CPU counters (same as memory_stats(Device{})).
MemoryStats cpu_memory_stats();

}  // namespace nn
