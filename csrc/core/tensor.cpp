// tensor.cpp — Tensor accessors, shape helpers and tensor/view creation.
#include "core/tensor.h"

#include <algorithm>
#include <limits>

namespace nn {

const Shape& Tensor::sizes() const { return impl_->sizes; }
const Shape& Tensor::strides() const { return impl_->strides; }
int64_t Tensor::dim() const { return static_cast<int64_t>(impl_->sizes.size()); }
namespace {
// A 0-dim tensor has no size or stride to return (wrap_dim accepts -1 and 0 for it, as ops
// that take a dim do): PyTorch's IndexError.
int64_t checked_dim(int64_t d, int64_t ndim, const char* op) {
  if (ndim == 0)
    throw IndexError(str(op, ": dimension specified as ", d, " but the tensor has no dimensions (0-dim)"));
  return wrap_dim(d, ndim, op);
}
}  // namespace

int64_t Tensor::size(int64_t d) const { return impl_->sizes[checked_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return impl_->strides[checked_dim(d, dim(), "stride")]; }
int64_t Tensor::numel() const { return impl_->numel; }
int64_t Tensor::offset() const { return impl_->offset; }
DType Tensor::dtype() const { return impl_->dtype; }
Device Tensor::device() const { return impl_->storage->device(); }
const StoragePtr& Tensor::storage() const { return impl_->storage; }
bool Tensor::is_contiguous() const { return impl_->is_contiguous; }
char* Tensor::data_bytes() const {
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * static_cast<int64_t>(itemsize(impl_->dtype));
}
uint64_t Tensor::version() const { return impl_->storage->version(); }
void Tensor::bump_version() const { impl_->storage->bump_version(); }

void TensorImpl::refresh_metadata() {
  numel = shape_numel(sizes);
  is_contiguous = true;
  int64_t expected = 1;
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    if (sizes[d] == 1) continue;
    if (strides[d] != expected) { is_contiguous = false; break; }
    expected *= sizes[d];
  }
  if (numel == 0) is_contiguous = true;
}

Shape contiguous_strides(const Shape& sizes) {
  Shape strides(sizes.size());
  int64_t s = 1;
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    strides[d] = s;
    if (d == 0) break;  // the product past the outermost dim is no stride: it may overflow harmlessly
    // A tensor with a 0 somewhere may have other sizes whose product overflows int64
    // (found by UBSan: zeros(0, 3, 2**63 - 1, 1000)); PyTorch refuses it the same way.
    NN_CHECK(!__builtin_mul_overflow(s, std::max<int64_t>(sizes[d], 1), &s), ValueError, "shape ", sizes,
             ": stride calculation overflowed int64");
  }
  return strides;
}

int64_t shape_numel(const Shape& sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) NN_CHECK(s >= 0, ValueError, "invalid shape ", sizes, ": sizes must be non-negative");
  for (int64_t s : sizes)
    if (s == 0) return 0;
  for (int64_t s : sizes) {
    NN_CHECK(n <= std::numeric_limits<int64_t>::max() / s, ValueError, "shape ", sizes,
             " has more elements than fit in int64");
    n *= s;
  }
  return n;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  const int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  if (dim < lo || dim > hi)
    throw IndexError(str(op, ": dimension ", dim, " is out of range for a tensor with ", ndim,
                         " dimension(s) (expected in [", lo, ", ", hi, "])"));
  return dim < 0 ? dim + std::max<int64_t>(ndim, 1) : dim;
}

Tensor from_storage(StoragePtr storage, Shape sizes, Shape strides, int64_t offset, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->sizes = std::move(sizes);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = dtype;
  impl->refresh_metadata();
  return Tensor(std::move(impl));
}

Tensor from_external_strided(char* data, const Shape& sizes, const std::vector<int64_t>& byte_strides, DType dtype,
                             std::function<void()> release, const char* op) {
  NN_CHECK(byte_strides.size() == sizes.size(), ValueError, op, ": ", byte_strides.size(), " strides for ",
           sizes.size(), " dimensions");
  const int64_t item = static_cast<int64_t>(itemsize(dtype));
  Shape strides(sizes.size());
  int64_t low = 0, high = 0;  // byte extent reachable below and above `data`
  const bool empty_tensor = shape_numel(sizes) == 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    NN_CHECK(byte_strides[i] % item == 0, ValueError, op, ": byte stride ", byte_strides[i], " of dim ", i,
             " is not a multiple of the element size ", item, "; make a copy first");
    strides[i] = byte_strides[i] / item;
    if (!empty_tensor && sizes[i] > 1) {
      const int64_t extent = (sizes[i] - 1) * byte_strides[i];
      (extent < 0 ? low : high) += extent;
    }
  }
  const size_t nbytes = empty_tensor ? 0 : static_cast<size_t>(high - low + item);
  auto storage = std::make_shared<Storage>(data + low, nbytes, Device{}, std::move(release));
  return from_storage(std::move(storage), sizes, std::move(strides), -low / item, dtype);
}

Tensor from_external_contiguous(void* data, size_t nbytes, const Shape& sizes, DType dtype,
                                std::function<void()> release, const char* op) {
  const int64_t item = static_cast<int64_t>(itemsize(dtype));
  int64_t numel = 1;
  for (int64_t s : sizes) {
    NN_CHECK(s >= 0 && (s == 0 || numel <= INT64_MAX / s), ValueError, op, ": bad shape ", sizes);
    numel *= s;
  }
  NN_CHECK(numel <= INT64_MAX / item && numel * item == static_cast<int64_t>(nbytes), ValueError, op, ": shape ",
           sizes, " of ", dtype_name(dtype), " needs ", numel * item, " bytes, the buffer has ", nbytes);
  NN_CHECK(reinterpret_cast<uintptr_t>(data) % static_cast<uintptr_t>(item) == 0, ValueError, op,
           ": the buffer is not aligned to ", item, " bytes; copy instead");
  auto storage = std::make_shared<Storage>(data, nbytes, Device{}, std::move(release));
  return from_storage(std::move(storage), sizes, contiguous_strides(sizes), 0, dtype);
}

Tensor empty(const Shape& sizes, DType dtype, Device device) {
  const int64_t n = shape_numel(sizes);
  const size_t item = itemsize(dtype);
  NN_CHECK(n <= static_cast<int64_t>(std::numeric_limits<int64_t>::max() / item), OutOfMemoryError,
           "empty: shape ", sizes, " of ", dtype, " needs more bytes than fit in int64");
  auto storage = std::make_shared<Storage>(static_cast<size_t>(n) * item, device);
  return from_storage(std::move(storage), sizes, contiguous_strides(sizes), 0, dtype);
}

Tensor empty_like(const Tensor& t) { return empty(t.sizes(), t.dtype(), t.device()); }

Tensor make_view_dtype(const Tensor& base, Shape sizes, Shape strides, int64_t offset, DType dtype) {
  return from_storage(base.storage(), std::move(sizes), std::move(strides), offset, dtype);
}

Tensor make_view(const Tensor& base, Shape sizes, Shape strides, int64_t offset) {
  return make_view_dtype(base, std::move(sizes), std::move(strides), offset, base.dtype());
}

}  // namespace nn
