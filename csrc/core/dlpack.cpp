// dlpack.cpp — DLPack export and import of CPU tensors (see dlpack.h).
#include "core/dlpack.h"

#include <vector>

namespace nn::dlpack {
namespace {

// What a managed tensor we export owns: the tensor handle plus shape/stride arrays.
struct DLPackContext {
  Tensor tensor;
  std::vector<int64_t> shape, strides;
};

void fill_dl_tensor(DLTensor& dl, DLPackContext* ctx) {
  const Tensor& t = ctx->tensor;
  ctx->shape = t.sizes();
  ctx->strides = t.strides();
  dl.data = t.data_bytes();
  dl.device = {kDLCPU, 0};
  dl.ndim = static_cast<int32_t>(t.dim());
  dl.dtype = to_dl_dtype(t.dtype());
  dl.shape = ctx->shape.data();
  dl.strides = ctx->strides.data();
  dl.byte_offset = 0;
}

}  // namespace

DLDataType to_dl_dtype(DType t) {
  const uint8_t bits = static_cast<uint8_t>(itemsize(t) * 8);
  switch (t) {
    case DType::Bool: return {kDLBool, 8, 1};
    case DType::UInt8: return {kDLUInt, 8, 1};
    case DType::Int8: case DType::Int32: case DType::Int64: return {kDLInt, bits, 1};
    case DType::BFloat16: return {kDLBfloat, 16, 1};
    default: return {kDLFloat, bits, 1};
  }
}

DType from_dl_dtype(DLDataType d) {
  NN_CHECK(d.lanes == 1, DTypeError, "from_dlpack: vector dtypes (lanes=", d.lanes, ") are not supported");
  if (d.code == kDLBool && d.bits == 8) return DType::Bool;
  if (d.code == kDLUInt && d.bits == 8) return DType::UInt8;
  if (d.code == kDLInt && d.bits == 8) return DType::Int8;
  if (d.code == kDLInt && d.bits == 32) return DType::Int32;
  if (d.code == kDLInt && d.bits == 64) return DType::Int64;
  if (d.code == kDLFloat && d.bits == 16) return DType::Float16;
  if (d.code == kDLFloat && d.bits == 32) return DType::Float32;
  if (d.code == kDLFloat && d.bits == 64) return DType::Float64;
  if (d.code == kDLBfloat && d.bits == 16) return DType::BFloat16;
  throw DTypeError(str("from_dlpack: unsupported DLPack dtype (code ", int(d.code), ", bits ", int(d.bits), ")"));
}

DLManagedTensor* to_dlpack(const Tensor& t) {
  auto* ctx = new DLPackContext{t, {}, {}};
  auto* m = new DLManagedTensor{};
  m->manager_ctx = ctx;
  m->deleter = [](DLManagedTensor* self) {
    delete static_cast<DLPackContext*>(self->manager_ctx);
    delete self;
  };
  fill_dl_tensor(m->dl_tensor, ctx);
  return m;
}

DLManagedTensorVersioned* to_dlpack_versioned(const Tensor& t) {
  auto* ctx = new DLPackContext{t, {}, {}};
  auto* m = new DLManagedTensorVersioned{};
  m->version = {1, 0};
  m->manager_ctx = ctx;
  m->deleter = [](DLManagedTensorVersioned* self) {
    delete static_cast<DLPackContext*>(self->manager_ctx);
    delete self;
  };
  fill_dl_tensor(m->dl_tensor, ctx);
  return m;
}

Tensor from_dlpack(const DLTensor& dl, std::function<void()> release) {
  NN_CHECK(dl.device.device_type == kDLCPU, DeviceError, "from_dlpack: only CPU tensors are supported in this build "
           "(device type ", dl.device.device_type, ")");
  NN_CHECK(dl.ndim >= 0 && dl.ndim <= 64, ValueError, "from_dlpack: invalid ndim ", dl.ndim);
  const DType dtype = from_dl_dtype(dl.dtype);
  Shape shape(dl.shape, dl.shape + dl.ndim);
  std::vector<int64_t> byte_strides(dl.ndim);
  const int64_t item = static_cast<int64_t>(itemsize(dtype));
  Shape elem_strides = dl.strides ? Shape(dl.strides, dl.strides + dl.ndim) : contiguous_strides(shape);
  for (int32_t i = 0; i < dl.ndim; ++i) byte_strides[i] = elem_strides[i] * item;
  return from_external_strided(static_cast<char*>(dl.data) + dl.byte_offset, shape, byte_strides, dtype,
                               std::move(release), "from_dlpack");
}

}  // namespace nn::dlpack
