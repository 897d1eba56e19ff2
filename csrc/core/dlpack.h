// dlpack.h — zero-copy exchange of CPU tensors through DLPack (the C ABI of dlpack.h v1.0,
// declared here so the build needs no copy of the header). The conversions are plain C++;
// the Python capsule protocol ("dltensor" / "dltensor_versioned" names, renaming on use)
// is in bindings/interop.cpp.
//
// Export: the returned managed tensor owns a handle to the tensor (and its shape / stride
// arrays, in elements, byte_offset 0) until its deleter is called.
// Import: the tensor views dl.data + dl.byte_offset with dl's strides (row-major when
// null); `release` runs when the last view of it dies (it should call the producer's
// deleter).
#pragma once
#include <cstdint>
#include <functional>

#include "core/tensor.h"

namespace nn::dlpack {

struct DLDevice { int32_t device_type; int32_t device_id; };
struct DLDataType { uint8_t code; uint8_t bits; uint16_t lanes; };
struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;
  uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor*);
};
struct DLPackVersion { uint32_t major; uint32_t minor; };
struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned*);
  uint64_t flags;
  DLTensor dl_tensor;
};
constexpr int32_t kDLCPU = 1;
enum : uint8_t { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBfloat = 4, kDLBool = 6 };

DLDataType to_dl_dtype(DType t);
DType from_dl_dtype(DLDataType d);  // DTypeError for vector or unsupported dtypes

DLManagedTensor* to_dlpack(const Tensor& t);
DLManagedTensorVersioned* to_dlpack_versioned(const Tensor& t);  // version 1.0, flags 0
// DeviceError for non-CPU memory, ValueError for a bad ndim or strides.
Tensor from_dlpack(const DLTensor& dl, std::function<void()> release);

}  // namespace nn::dlpack
