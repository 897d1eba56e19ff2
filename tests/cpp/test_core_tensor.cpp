// test_core_tensor.cpp — core without Python: tensors over foreign memory
// (from_external_strided / from_external_contiguous in core/tensor.h), the DLPack round
// trip (core/dlpack.h), and the autograd meta contract (plain tensors carry none; one is
// made only when a tensor requires grad or gets history; core/tensor.h Note [Autograd meta]).
// Exits non-zero (and prints every failed check) on failure.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "autograd/autograd_meta.h"
#include "core/dlpack.h"
#include "core/tensor.h"
#include "ops/ops.h"

#include "test_check.h"

using namespace nn;

namespace {

using nn_test::check_throws;
using nn_test::g_failures;

void test_external_contiguous() {
  alignas(8) float data[6] = {0, 1, 2, 3, 4, 5};
  int released = 0;
  {
    Tensor t = from_external_contiguous(data, sizeof(data), {2, 3}, DType::Float32, [&] { ++released; }, "test");
    CHECK(t.sizes() == (Shape{2, 3}));
    CHECK(t.strides() == (Shape{3, 1}));
    CHECK(t.data<float>() == data);
    CHECK(t.data<float>()[4] == 4.0f);
    CHECK(t.impl()->autograd_meta == nullptr);
    CHECK(released == 0);
  }
  CHECK(released == 1);  // the last view gone: the owner is told
  check_throws<ValueError>([&] { from_external_contiguous(data, sizeof(data), {2, 2}, DType::Float32, {}, "op"); },
                           "op: shape (2, 2) of float32 needs 16 bytes, the buffer has 24", __LINE__);
  check_throws<ValueError>([&] { from_external_contiguous(data, sizeof(data), {-1, 6}, DType::Float32, {}, "op"); },
                           "bad shape", __LINE__);
  char* misaligned = reinterpret_cast<char*>(data) + 1;
  check_throws<ValueError>([&] { from_external_contiguous(misaligned, 4, {1}, DType::Float32, {}, "op"); },
                           "not aligned to 4 bytes", __LINE__);
  Tensor empty_t = from_external_contiguous(data, 0, {0, 3}, DType::Float32, {}, "op");
  CHECK(empty_t.numel() == 0);
}

void test_external_strided() {
  int32_t data[12];
  for (int i = 0; i < 12; ++i) data[i] = i;
  // A (3, 2) view taking every other column of a (3, 4) row-major block, reversed rows.
  char* last_row = reinterpret_cast<char*>(data + 8);
  Tensor t = from_external_strided(last_row, {3, 2}, {-16, 8}, DType::Int32, {}, "test");
  CHECK(t.strides() == (Shape{-4, 2}));
  CHECK(t.offset() == 8);                       // the storage starts at the first reachable byte
  CHECK(t.storage()->data() == data);
  CHECK(t.storage()->nbytes() == 44);           // elements 0 .. 10
  CHECK(t.data<int32_t>()[0] == 8);
  check_throws<ValueError>([&] { from_external_strided(last_row, {3, 2}, {-16, 6}, DType::Int32, {}, "np"); },
                           "np: byte stride 6 of dim 1 is not a multiple of the element size 4", __LINE__);
  check_throws<ValueError>([&] { from_external_strided(last_row, {3, 2}, {8}, DType::Int32, {}, "np"); },
                           "1 strides for 2 dimensions", __LINE__);
}

void test_dlpack_round_trip() {
  Tensor src = arange(0, 12, 1, DType::Float32);
  Tensor v = transpose(reshape(src, {3, 4}), 0, 1);  // (4, 3), strides (1, 4)
  dlpack::DLManagedTensorVersioned* m = dlpack::to_dlpack_versioned(v);
  CHECK(m->version.major == 1 && m->version.minor == 0);
  CHECK(m->dl_tensor.ndim == 2 && m->dl_tensor.shape[0] == 4 && m->dl_tensor.strides[0] == 1);
  CHECK(m->dl_tensor.dtype.code == dlpack::kDLFloat && m->dl_tensor.dtype.bits == 32);
  bool deleted = false;
  {
    Tensor back = dlpack::from_dlpack(m->dl_tensor, [&] { m->deleter(m); deleted = true; });
    CHECK(back.sizes() == v.sizes() && back.strides() == v.strides());
    CHECK(back.data_bytes() == v.data_bytes());
    CHECK(back.dtype() == DType::Float32);
  }
  CHECK(deleted);

  dlpack::DLManagedTensor* plain = dlpack::to_dlpack(cast(src, DType::BFloat16));
  CHECK(plain->dl_tensor.dtype.code == dlpack::kDLBfloat);
  dlpack::DLTensor bad = plain->dl_tensor;
  bad.dtype.lanes = 4;
  check_throws<DTypeError>([&] { dlpack::from_dlpack(bad, {}); }, "vector dtypes (lanes=4)", __LINE__);
  bad = plain->dl_tensor;
  bad.device.device_type = 2;  // kDLCUDA
  check_throws<DeviceError>([&] { dlpack::from_dlpack(bad, {}); }, "only CPU tensors", __LINE__);
  bad = plain->dl_tensor;
  bad.strides = nullptr;  // row-major
  Tensor rm = dlpack::from_dlpack(bad, {});
  CHECK(rm.strides() == (Shape{1}) && rm.sizes() == (Shape{12}));
  plain->deleter(plain);
}

void test_autograd_meta_contract() {
  Tensor a = ones({3}), b = ones({3});
  Tensor c = add(a, b);
  CHECK(a.impl()->autograd_meta == nullptr && c.impl()->autograd_meta == nullptr);
  CHECK(!c.requires_grad() && autograd::is_leaf(c) && !autograd::grad(c).defined());
  autograd::set_requires_grad(a, false);  // nothing to record: still no meta
  CHECK(a.impl()->autograd_meta == nullptr);
  autograd::set_requires_grad(a, true);
  CHECK(a.impl()->autograd_meta != nullptr && a.requires_grad() && autograd::is_leaf(a));
  Tensor d = mul(a, b);
  CHECK(d.requires_grad() && !autograd::is_leaf(d) && autograd::grad_fn(d) != nullptr);
  CHECK(detach(d).impl()->autograd_meta == nullptr);  // detach: a plain view
  backward(sum(d, {}, false, std::nullopt), Tensor(), false);
  Tensor g = autograd::grad(a);
  CHECK(g.defined() && g.numel() == 3 && g.data<float>()[2] == 1.0f);
  check_throws<DTypeError>([&] { autograd::set_requires_grad(ones({2}, DType::Int64), true); },
                           "only floating-point tensors", __LINE__);
  check_throws<RuntimeError>([&] { autograd::set_requires_grad(d, false); }, "is not a leaf", __LINE__);
  check_throws<ShapeError>([&] { autograd::set_grad(a, ones({2})); }, "does not match the tensor's shape",
                           __LINE__);
}

}  // namespace

int main() {
  test_external_contiguous();
  test_external_strided();
  test_dlpack_round_trip();
  test_autograd_meta_contract();
  return nn_test::finish("test_core_tensor");
}
