// allocator.cpp — the per-device allocator table, the thread's override guard, external
// memory wrapped as a DataPtr, and the memory counters by device (see allocator.h).
#include "core/allocator.h"

#include <memory>

#include "core/cpu_allocator.h"
#include "core/errors.h"

namespace nn {

namespace detail {
// Constant-initialized: the CPU entry is valid before any static constructor runs.
std::atomic<DeviceAllocator*> g_device_allocators[kNumDeviceTypes] = {{&g_cpu_allocator}, {nullptr}};
thread_local Allocator* tl_allocator_override[kNumDeviceTypes] = {};

void throw_no_allocator(const char* what, Device device) {
  throw DeviceError(str(what, " on ", device.str(), ": this build has no ",
                        device.type == DeviceType::CUDA ? "CUDA" : "such", " backend (no allocator is registered for ",
                        device.str(), ")"));
}
}  // namespace detail

namespace {
void run_release(void* ctx, void*, size_t) noexcept {
  std::unique_ptr<std::function<void()>> release(static_cast<std::function<void()>*>(ctx));
  (*release)();
}

DeviceAllocator& checked_device_allocator(Device device, const char* what) {
  DeviceAllocator* a = device_allocator(device.type);
  if (a == nullptr) detail::throw_no_allocator(what, device);
  return *a;
}
}  // namespace

DataPtr DataPtr::wrap(void* data, size_t nbytes, Device device, std::function<void()> release) {
  if (!release) return DataPtr(data, nbytes, nullptr, nullptr, device);
  auto* ctx = new std::function<void()>(std::move(release));
  return DataPtr(data, nbytes, ctx, &run_release, device);
}

void register_device_allocator(DeviceType type, DeviceAllocator* allocator) {
  NN_CHECK(type != DeviceType::CPU, ValueError, "register_device_allocator: the CPU allocator cannot be replaced");
  NN_CHECK(allocator != nullptr, ValueError, "register_device_allocator: allocator is null");
  detail::g_device_allocators[static_cast<int>(type)].store(allocator, std::memory_order_release);
}

AllocatorOverride::AllocatorOverride(DeviceType type, Allocator* allocator)
    : type_(static_cast<int>(type)), prev_(detail::tl_allocator_override[type_]) {
  detail::tl_allocator_override[type_] = allocator;
}

AllocatorOverride::~AllocatorOverride() { detail::tl_allocator_override[type_] = prev_; }

MemoryStats memory_stats(Device device) { return checked_device_allocator(device, "memory_stats").stats(device); }

void reset_peak_memory_stats(Device device) {
  checked_device_allocator(device, "reset_peak_memory_stats").reset_peak_stats(device);
}

void empty_cache() {
  for (auto& entry : detail::g_device_allocators)
    if (DeviceAllocator* a = entry.load(std::memory_order_acquire)) a->empty_cache();
}

MemoryStats cpu_memory_stats() { return g_cpu_allocator.stats(Device{}); }

}  // namespace nn
