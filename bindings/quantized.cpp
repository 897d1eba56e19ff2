// quantized.cpp (bindings) — the int8 quantization ops of nn_core._C (ops/quantized_ops.h)
// and the PackedQWeight class (an int8 weight packed once for the int8 GEMM: the
// kernels/quantized.h handle). The public Python API is nn_core.quantized, which wraps
// these. qgemm_kernel_name reports the CPU backend's choice (cpu/gemm/qgemm.h).
#include "bindings/bindings.h"
#include "cpu/gemm/qgemm.h"
#include "ops/quantized_ops.h"

namespace nn::bind {
namespace {

Tensor opt(const std::optional<Tensor>& t) { return t ? *t : Tensor(); }

std::vector<int64_t> ints(py::handle obj) {
  if (py::isinstance<py::int_>(obj)) return {obj.cast<int64_t>()};
  std::vector<int64_t> out;
  for (py::handle h : obj) out.push_back(h.cast<int64_t>());
  return out;
}

}  // namespace

void bind_quantized(py::module_& m) {
  py::class_<PackedInt8Weight, QWeight>(m, "PackedQWeight",
      "An int8 weight (out_features, in_features) packed once into the int8 GEMM's layout, with its\n"
      "column sums (for the activation zero-point correction) and its scales. Build with\n"
      "_C.pack_linear_weight(w_int8, scales).")
      .def_property_readonly("in_features", &PackedInt8Weight::K)
      .def_property_readonly("out_features", &PackedInt8Weight::N)
      .def_property_readonly("packed_bytes", &PackedInt8Weight::packed_bytes)
      .def_property_readonly("scales", &PackedInt8Weight::scales)
      .def("__repr__", [](const PackedInt8Weight& w) {
        return str("PackedQWeight(out_features=", w.N(), ", in_features=", w.K(), ", scales=",
                   w.scales().size() == 1 ? "per_tensor" : "per_channel", ", packed_bytes=", w.packed_bytes(), ")");
      });

  m.def("quantize_per_tensor", [](const Tensor& x, double scale, int64_t zp, DType dtype) {
    MaybeReleaseGil g(x.numel());
    return quantize_per_tensor(x, scale, zp, dtype);
  }, py::arg("x"), py::arg("scale"), py::arg("zero_point"), py::arg("dtype"));
  m.def("quantize_per_channel", [](const Tensor& x, const Tensor& scales, const Tensor& zps, int64_t axis, DType dtype) {
    MaybeReleaseGil g(x.numel());
    return quantize_per_channel(x, scales, zps, axis, dtype);
  }, py::arg("x"), py::arg("scales"), py::arg("zero_points"), py::arg("axis"), py::arg("dtype"));
  m.def("dequantize_per_tensor", [](const Tensor& q, double scale, int64_t zp) {
    MaybeReleaseGil g(q.numel());
    return dequantize_per_tensor(q, scale, zp);
  }, py::arg("q"), py::arg("scale"), py::arg("zero_point"));
  m.def("dequantize_per_channel", [](const Tensor& q, const Tensor& scales, const Tensor& zps, int64_t axis) {
    MaybeReleaseGil g(q.numel());
    return dequantize_per_channel(q, scales, zps, axis);
  }, py::arg("q"), py::arg("scales"), py::arg("zero_points"), py::arg("axis"));
  m.def("quantize_rows", [](const Tensor& x) {
    MaybeReleaseGil g(x.numel());
    return quantize_rows(x);
  }, py::arg("x"));
  m.def("pack_linear_weight", [](const Tensor& w, const Tensor& scales) {
    MaybeReleaseGil g(w.numel());
    return pack_linear_weight(w, scales);
  }, py::arg("weight"), py::arg("scales"));
  m.def("unpack_linear_weight", &unpack_linear_weight, py::arg("packed"));
  m.def("quantized_linear_dynamic", [](const Tensor& x, const QWeight& w, std::optional<Tensor> bias,
                                       const std::string& act) {
    MaybeReleaseGil g(x.numel() * (w ? w->N() : 1));
    return quantized_linear_dynamic(x, w, opt(bias), act);
  }, py::arg("x"), py::arg("packed"), py::arg("bias") = py::none(), py::arg("activation") = "none");
  m.def("quantized_linear", [](const Tensor& x, double x_scale, int64_t x_zp, const QWeight& w,
                               std::optional<Tensor> bias, const std::string& act, DType out_dtype, double out_scale,
                               int64_t out_zp) {
    MaybeReleaseGil g(x.numel() * (w ? w->N() : 1));
    return quantized_linear(x, x_scale, x_zp, w, opt(bias), act, out_dtype, out_scale, out_zp);
  }, py::arg("x"), py::arg("x_scale"), py::arg("x_zero_point"), py::arg("packed"), py::arg("bias") = py::none(),
     py::arg("activation") = "none", py::arg("out_dtype") = DType::Float32, py::arg("out_scale") = 1.0,
     py::arg("out_zero_point") = 0);
  m.def("quantized_conv2d", [](const Tensor& x, double x_scale, int64_t x_zp, const QWeight& w, int64_t kh, int64_t kw,
                               std::optional<Tensor> bias, py::handle stride, py::handle padding, py::handle dilation,
                               const std::string& act, DType out_dtype, double out_scale, int64_t out_zp) {
    const auto s = ints(stride), p = ints(padding), d = ints(dilation);
    MaybeReleaseGil g(x.numel() * (w ? w->N() : 1));
    return quantized_conv2d(x, x_scale, x_zp, w, kh, kw, opt(bias), s, p, d, act, out_dtype, out_scale, out_zp);
  }, py::arg("x"), py::arg("x_scale"), py::arg("x_zero_point"), py::arg("packed"), py::arg("kh"), py::arg("kw"),
     py::arg("bias") = py::none(), py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1,
     py::arg("activation") = "none", py::arg("out_dtype") = DType::Float32, py::arg("out_scale") = 1.0,
     py::arg("out_zero_point") = 0);
  m.def("qgemm", [](const Tensor& a, const QWeight& w, double a_scale, int64_t a_zp, std::optional<Tensor> a_scales,
                    std::optional<Tensor> a_zps, std::optional<Tensor> bias, const std::string& act,
                    const std::string& output, double out_scale, int64_t out_zp, bool reference) {
    MaybeReleaseGil g(a.numel() * (w ? w->N() : 1));
    return qgemm(a, w, a_scale, a_zp, opt(a_scales), opt(a_zps), opt(bias), act, output, out_scale, out_zp,
                 reference);
  }, py::arg("a"), py::arg("packed"), py::arg("a_scale") = 1.0, py::arg("a_zero_point") = 0,
     py::arg("a_scales") = py::none(), py::arg("a_zero_points") = py::none(), py::arg("bias") = py::none(),
     py::arg("activation") = "none", py::arg("output") = "float32", py::arg("out_scale") = 1.0,
     py::arg("out_zero_point") = 0, py::arg("reference") = false);
  m.def("qgemm_kernel_name", &gemm::qgemm_kernel_name);
  m.def("qgemm_dynamic_qmax", &gemm::qgemm_dynamic_qmax);
}

}  // namespace nn::bind
