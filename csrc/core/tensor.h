// tensor.h — TensorImpl (a view: storage + element offset + sizes + strides + dtype +
// device, and a pointer to its autograd state) and Tensor, a cheap refcounted handle to one.
//
// Layout conventions: sizes and strides are in elements (strides may be zero for
// expanded dims and negative for reversed slices); offset is in elements from the
// start of the storage. A tensor is "contiguous" when its strides are the row-major
// strides of its sizes. Every view shares the storage, and so its version counter.
//
// Note [Autograd meta]: core knows nothing of autograd (as c10's AutogradMetaInterface).
// A TensorImpl holds a pointer to an abstract AutogradMetaInterface; it is null for
// tensors that never required grad or carried history (no allocation, and
// requires_grad() is one null check). The concrete AutogradMeta (requires_grad, grad,
// grad_fn, output number, the leaf's gradient accumulator) and every accessor that
// touches it live in autograd/autograd_meta.h. The version counter stays in core (on
// the Storage), and so does is_view: every view op marks its output, grad or not, and
// the in-place checks need that without allocating meta for every plain view.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/dtype.h"
#include "core/storage.h"

namespace nn {

using Shape = std::vector<int64_t>;

struct TensorImpl;
using TensorImplPtr = std::shared_ptr<TensorImpl>;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(TensorImplPtr impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const TensorImplPtr& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

  const Shape& sizes() const;
  const Shape& strides() const;
  int64_t size(int64_t dim) const;    // negative dims wrap
  int64_t stride(int64_t dim) const;
  int64_t dim() const;
  int64_t numel() const;
  int64_t offset() const;
  DType dtype() const;
  Device device() const;
  const StoragePtr& storage() const;
  bool is_contiguous() const;
  // Address of element [0, 0, ...] (storage base + offset * itemsize).
  char* data_bytes() const;
  template <typename T> T* data() const { return reinterpret_cast<T*>(data_bytes()); }

  // False unless the autograd meta says so (grad, grad_fn and the setters are in
  // autograd/autograd_meta.h: see Note [Autograd meta]).
  bool requires_grad() const;
  uint64_t version() const;
  void bump_version() const;

 private:
  TensorImplPtr impl_;
};

// The autograd state of a tensor, as core sees it; implemented by autograd::AutogradMeta.
struct AutogradMetaInterface {
  virtual ~AutogradMetaInterface() = default;
  virtual bool requires_grad() const = 0;
};

struct TensorImpl {
  StoragePtr storage;
  int64_t offset = 0;
  Shape sizes;
  Shape strides;
  int64_t numel = 1;
  DType dtype = DType::Float32;
  bool is_contiguous = true;
  bool is_wrapped_number = false;  // a 0-dim tensor made from a Python scalar (type promotion)
  bool is_view = false;            // the output of a view op: shares its base's storage
  std::unique_ptr<AutogradMetaInterface> autograd_meta;  // null: no grad, no history

  void refresh_metadata();  // recompute numel and is_contiguous from sizes/strides
};

inline bool Tensor::requires_grad() const {
  const AutogradMetaInterface* meta = impl_->autograd_meta.get();
  return meta != nullptr && meta->requires_grad();
}

// Shape helpers.
Shape contiguous_strides(const Shape& sizes);
int64_t shape_numel(const Shape& sizes);  // throws ValueError on overflow or negative
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);  // IndexError when out of range

// Creation of new tensors (uninitialised memory) and views.
Tensor empty(const Shape& sizes, DType dtype = DType::Float32, Device device = Device{});
Tensor empty_like(const Tensor& t);   // contiguous, same sizes/dtype/device
Tensor make_view(const Tensor& base, Shape sizes, Shape strides, int64_t offset);  // no autograd
Tensor make_view_dtype(const Tensor& base, Shape sizes, Shape strides, int64_t offset, DType dtype);
Tensor from_storage(StoragePtr storage, Shape sizes, Shape strides, int64_t offset, DType dtype);

// Tensors over memory owned elsewhere (numpy arrays, DLPack, buffers); `release` runs when
// the storage dies. `op` names the caller in error messages (ValueError).
// - from_external_strided: sizes with byte strides (any sign; each a multiple of the item
//   size); the storage spans exactly the bytes the view can reach.
// - from_external_contiguous: a row-major tensor that must fill exactly `nbytes` bytes at
//   `data`, which must be aligned to the item size.
Tensor from_external_strided(char* data, const Shape& sizes, const std::vector<int64_t>& byte_strides, DType dtype,
                             std::function<void()> release, const char* op);
Tensor from_external_contiguous(void* data, size_t nbytes, const Shape& sizes, DType dtype,
                                std::function<void()> release, const char* op);

}  // namespace nn
