// tensor.h — TensorImpl (a view: storage + element offset + sizes + strides + dtype +
// device, and the autograd fields) and Tensor, a cheap refcounted handle to one.
//
// Layout conventions: sizes and strides are in elements (strides may be zero for
// expanded dims and negative for reversed slices); offset is in elements from the
// start of the storage. A tensor is "contiguous" when its strides are the row-major
// strides of its sizes. Every view shares the storage, and so its version counter.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/dtype.h"
#include "core/storage.h"

namespace nn {

using Shape = std::vector<int64_t>;

namespace autograd { struct Node; }

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

  // Autograd fields.
  bool requires_grad() const;
  void set_requires_grad(bool r);  // leaves only; checks dtype is floating
  const std::shared_ptr<autograd::Node>& grad_fn() const;
  bool is_leaf() const;
  Tensor grad() const;
  void set_grad(const Tensor& g);
  uint64_t version() const;
  void bump_version() const;

 private:
  TensorImplPtr impl_;
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

  // autograd
  bool requires_grad = false;
  std::shared_ptr<autograd::Node> grad_fn;  // null for leaves
  uint32_t output_nr = 0;                    // which output of grad_fn this is
  Tensor grad;                               // accumulated gradient (leaves)
  std::weak_ptr<autograd::Node> grad_accumulator;
  bool is_view = false;                      // shares storage with a base that has grad history
  TensorImplPtr view_base;                   // set when created as a view of a tensor requiring grad

  void refresh_metadata();  // recompute numel and is_contiguous from sizes/strides
};

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

}  // namespace nn
