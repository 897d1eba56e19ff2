// storage.h — a refcounted block of bytes on one device, shared by every view of it.
// The bytes are held by a DataPtr (core/allocator.h) that carries its own deleter, so
// Storage never knows which allocator (the CPU one, the runtime's memory planner, numpy's
// buffer) made them. The version counter lives here so that all views of the same bytes
// see in-place edits (autograd's saved-tensor check reads it: see autograd/node.h).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "core/allocator.h"
#include "core/device.h"

namespace nn {

class Storage {
 public:
  // Allocates nbytes with allocator_for(device): the thread's override if one is
  // installed, else the device's allocator (DeviceError when this build has none).
  Storage(size_t nbytes, Device device) : data_(allocate(nbytes, device)) {}
  // Takes ownership of a block from any allocator.
  explicit Storage(DataPtr data) : data_(std::move(data)) {}
  // Wraps memory owned elsewhere (numpy, DLPack); `release` is called on destruction.
  Storage(void* data, size_t nbytes, Device device, std::function<void()> release)
      : data_(DataPtr::wrap(data, nbytes, device, std::move(release))) {}
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_.get(); }
  size_t nbytes() const { return data_.nbytes(); }
  Device device() const { return data_.device(); }
  const DataPtr& data_ptr() const { return data_; }

  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  DataPtr data_;
  std::atomic<uint64_t> version_{0};
};

using StoragePtr = std::shared_ptr<Storage>;

}  // namespace nn
