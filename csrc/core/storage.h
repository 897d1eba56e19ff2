// storage.h — a refcounted block of bytes on one device, shared by every view of it.
// The version counter lives here so that all views of the same bytes see in-place
// edits (autograd's saved-tensor check reads it: see autograd/node.h).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "core/allocator.h"
#include "core/device.h"

namespace nn {

// A thread-local hook on new allocations, used by the inference runtime's memory planning
// (runtime/memory_plan.h): while set on this thread, Storage(nbytes, device) asks it
// first; a non-null answer becomes external storage released with `release`.
struct StorageAllocHook {
  virtual void* allocate(size_t nbytes, std::function<void()>& release) = 0;

 protected:
  ~StorageAllocHook() = default;
};
inline thread_local StorageAllocHook* tl_storage_alloc_hook = nullptr;

class Storage {
 public:
  // Allocates nbytes with the device's allocator (or the thread's StorageAllocHook).
  Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
    NN_CHECK(device.type == DeviceType::CPU, DeviceError,
             "allocation on ", device.str(), ": this build has no kernels for that device");
    if (__builtin_expect(tl_storage_alloc_hook != nullptr, 0) &&
        (data_ = tl_storage_alloc_hook->allocate(nbytes, release_)) != nullptr) {
      external_ = true;
      return;
    }
    data_ = cpu_alloc(nbytes);
  }
  // Wraps memory owned elsewhere (numpy, DLPack); `release` is called on destruction.
  Storage(void* data, size_t nbytes, Device device, std::function<void()> release)
      : data_(data), nbytes_(nbytes), device_(device), release_(std::move(release)), external_(true) {}
  ~Storage() {
    if (external_) {
      if (release_) release_();
    } else {
      cpu_free(data_, nbytes_);
    }
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  bool is_external() const { return external_; }

  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  std::function<void()> release_;
  bool external_ = false;
  std::atomic<uint64_t> version_{0};
};

using StoragePtr = std::shared_ptr<Storage>;

}  // namespace nn
