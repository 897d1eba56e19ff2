// qgemm_kernels.cpp — CPU kernels of the int8 GEMM ops (kernels/quantized.h): the CPU
// packed weight (a gemm::PackedQWeight behind the PackedInt8Weight handle), packing and
// unpacking, the int8 GEMM with its fused epilogue (gemm::qgemm, or gemm::qgemm_ref for
// the reference entry), and quantized_conv2d as im2col + the int8 GEMM per image.
//
// Layouts: A (M, K) uint8 any non-negative strides; B = W^T packed once (W (N, K) a
// Linear weight); C (M, N) any strides. Conv: x NCHW contiguous, the im2col row of
// output pixel p = (oh, ow) holds column k = (c*kh + i)*kw + j; C[p, co] is written to
// y[n, co, p] (row stride 1, column stride OH*OW).
#include <vector>

#include "core/parallel.h"
#include "cpu/gemm/qgemm.h"
#include "cpu/kernels.h"

namespace nn::cpu {
namespace {

static_assert(gemm::kQgemmMaxK == nn::kQgemmMaxK, "the int8 GEMM's K bound must match the kernel interface's");

class CpuPackedWeight final : public PackedInt8Weight {
 public:
  explicit CpuPackedWeight(std::shared_ptr<gemm::PackedQWeight> packed) : packed_(std::move(packed)) {}
  Device device() const override { return Device{}; }
  int64_t K() const override { return packed_->K(); }
  int64_t N() const override { return packed_->N(); }
  int64_t packed_bytes() const override { return packed_->packed_bytes(); }
  std::vector<float> scales() const override { return packed_->scales; }
  const gemm::PackedQWeight& packed() const { return *packed_; }

 private:
  std::shared_ptr<gemm::PackedQWeight> packed_;
};

// The ops check the weight's device before dispatching, so a CPU kernel only ever sees
// a CPU weight, which is always a CpuPackedWeight.
const gemm::PackedQWeight& cpu_packed(const PackedInt8Weight& w) {
  return static_cast<const CpuPackedWeight&>(w).packed();
}

gemm::QOutput out_kind(DType dtype) {
  switch (dtype) {
    case DType::Float32: return gemm::QOutput::Float32;
    case DType::Int32: return gemm::QOutput::Int32;
    case DType::UInt8: return gemm::QOutput::UInt8;
    case DType::Int8: return gemm::QOutput::Int8;
    default: throw DTypeError(str("qgemm: no int8 GEMM output of dtype ", dtype));
  }
}

// The gemm:: epilogue of ep; its pointers borrow ep's tensors.
gemm::QEpilogue to_qepilogue(const QGemmEpilogue& ep, DType out_dtype) {
  gemm::QEpilogue e;
  e.a_scale = ep.a_scale;
  e.a_zero_point = ep.a_zero_point;
  if (ep.a_scales.defined()) {
    e.a_scales = ep.a_scales.data<float>();
    e.a_zero_points = ep.a_zero_points.data<int32_t>();
  }
  if (ep.bias.defined()) e.bias = ep.bias.data<float>();
  e.act = ep.act == QActivation::Relu ? gemm::Activation::Relu
          : ep.act == QActivation::Gelu ? gemm::Activation::Gelu : gemm::Activation::None;
  e.output = out_kind(out_dtype);
  e.out_scale = ep.out_scale;
  e.out_zero_point = ep.out_zero_point;
  return e;
}

QWeight pack_kernel(const Tensor& w, const Tensor& scales) {
  const int64_t N = w.sizes()[0], K = w.sizes()[1];
  const float* sp = scales.data<float>();
  const std::vector<float> s(sp, sp + scales.numel());
  // B = W^T: B[k, n] = W[n, k].
  return std::make_shared<CpuPackedWeight>(gemm::pack_qweight(K, N, w.data<int8_t>(), w.strides()[1], w.strides()[0], s));
}

void unpack_kernel(const PackedInt8Weight& w, const Tensor& out) {
  const gemm::PackedQWeight& b = cpu_packed(w);
  int8_t* p = out.data<int8_t>();
  for (int64_t n = 0; n < b.N(); ++n)
    for (int64_t k = 0; k < b.K(); ++k) p[n * b.K() + k] = b.at(k, n);
}

void qgemm_kernel(const Tensor& a, const PackedInt8Weight& w, const Tensor& out, const QGemmEpilogue& ep) {
  gemm::qgemm(a.sizes()[0], a.data<uint8_t>(), a.strides()[0], a.strides()[1], cpu_packed(w), out.data_bytes(),
              out.strides()[0], out.strides()[1], to_qepilogue(ep, out.dtype()));
}

void qgemm_reference_kernel(const Tensor& a, const PackedInt8Weight& w, const Tensor& out, const QGemmEpilogue& ep) {
  const int64_t M = a.sizes()[0], K = w.K(), N = w.N();
  Tensor wt = empty({N, K}, DType::Int8);  // (N, K): B[k, n] = wt[n*K + k]
  unpack_kernel(w, wt);
  gemm::qgemm_ref(M, N, K, a.data<uint8_t>(), a.strides()[0], a.strides()[1], wt.data<int8_t>(), 1, K,
                  cpu_packed(w).scales, out.data_bytes(), out.strides()[0], out.strides()[1],
                  to_qepilogue(ep, out.dtype()));
}

void qconv2d_kernel(const Tensor& x, const PackedInt8Weight& w, int64_t kh, int64_t kw, const Conv2dParams& p,
                    const Tensor& out, const QGemmEpilogue& ep) {
  const int64_t N = x.sizes()[0], C = x.sizes()[1], H = x.sizes()[2], W = x.sizes()[3];
  const int64_t Cout = out.sizes()[1], OH = out.sizes()[2], OW = out.sizes()[3], P = OH * OW, K = C * kh * kw;
  const int64_t sh = p.stride[0], sw = p.stride[1], ph = p.padding[0], pw = p.padding[1];
  const int64_t dh = p.dilation[0], dw = p.dilation[1];
  const gemm::PackedQWeight& b = cpu_packed(w);
  const gemm::QEpilogue e = to_qepilogue(ep, out.dtype());
  const int64_t esize = static_cast<int64_t>(itemsize(out.dtype()));
  std::vector<uint8_t> cols(static_cast<size_t>(P * K));
  const uint8_t pad = static_cast<uint8_t>(ep.a_zero_point);  // real 0
  for (int64_t n = 0; n < N; ++n) {
    const uint8_t* xn = x.data<uint8_t>() + n * C * H * W;
    // im2col: row p = (oh, ow), column k = (c*kh + i)*kw + j.
    parallel_for(0, P, 64, [&](int64_t p0, int64_t p1) {
      for (int64_t q = p0; q < p1; ++q) {
        const int64_t oh = q / OW, ow = q % OW;
        uint8_t* row = cols.data() + q * K;
        for (int64_t c = 0; c < C; ++c)
          for (int64_t i = 0; i < kh; ++i) {
            const int64_t ih = oh * sh - ph + i * dh;
            for (int64_t j = 0; j < kw; ++j) {
              const int64_t iw = ow * sw - pw + j * dw;
              const bool inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
              row[(c * kh + i) * kw + j] = inside ? xn[(c * H + ih) * W + iw] : pad;
            }
          }
      }
    });
    // C[p, co] -> y[n, co, p]: row stride 1, column stride P.
    gemm::qgemm(P, cols.data(), K, 1, b, out.data_bytes() + n * Cout * P * esize, 1, P, e);
  }
}

}  // namespace

void register_qgemm_kernels(KernelRegistry& r) {
  r.qpack.set(DeviceType::CPU, &pack_kernel);
  r.qunpack.set(DeviceType::CPU, &unpack_kernel);
  r.qgemm.set(DeviceType::CPU, &qgemm_kernel);
  r.qgemm_reference.set(DeviceType::CPU, &qgemm_reference_kernel);
  r.qconv2d.set(OpId::quantized_conv2d, DeviceType::CPU, &qconv2d_kernel);
}

}  // namespace nn::cpu
