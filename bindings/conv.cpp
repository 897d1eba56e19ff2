// conv.cpp (bindings) — conv2d, conv1d, conv_transpose2d, pooling and normalization
// functions of nn_core._C (PyTorch's torch.nn.functional signatures), and the private
// direct-loop references _conv2d_reference / _conv2d_backward_reference the tests
// compare the fast kernels with (testing/reference_ops.h).
#include "bindings/bindings.h"
#include "testing/reference_ops.h"

namespace nn::bind {
namespace {

// An int or a sequence of ints.
std::vector<int64_t> ints(py::handle obj, const char* op, const char* what) {
  if (py::isinstance<py::int_>(obj) || (py::hasattr(obj, "__index__") && !py::isinstance<py::str>(obj)))
    return {obj.cast<int64_t>()};
  NN_CHECK(py::isinstance<py::sequence>(obj) && !py::isinstance<py::str>(obj), DTypeError, op, ": ", what,
           " must be an int or a sequence of ints, got ",
           std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  std::vector<int64_t> out;
  for (py::handle h : obj) out.push_back(h.cast<int64_t>());
  return out;
}

Tensor opt(const std::optional<Tensor>& t) { return t ? *t : Tensor(); }

int64_t work(const Tensor& x, const Tensor& w) { return x.numel() * std::max<int64_t>(1, w.numel() / 64); }

}  // namespace

void bind_conv(py::module_& m) {
  m.def("conv2d", [](const Tensor& x, const Tensor& w, std::optional<Tensor> b, py::handle stride, py::handle padding,
                     py::handle dilation, int64_t groups, bool relu) {
    const auto s = ints(stride, "conv2d", "stride"), d = ints(dilation, "conv2d", "dilation");
    if (py::isinstance<py::str>(padding)) {
      const std::string mode = padding.cast<std::string>();
      MaybeReleaseGil gil(work(x, w));
      return conv2d(x, w, opt(b), s, mode, d, groups, relu);
    }
    const auto p = ints(padding, "conv2d", "padding");
    MaybeReleaseGil gil(work(x, w));
    return conv2d(x, w, opt(b), s, p, d, groups, relu);
  }, py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1,
     py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1, py::arg("relu") = false);
  m.def("conv1d", [](const Tensor& x, const Tensor& w, std::optional<Tensor> b, py::handle stride, py::handle padding,
                     py::handle dilation, int64_t groups) {
    const auto s = ints(stride, "conv1d", "stride"), d = ints(dilation, "conv1d", "dilation");
    if (py::isinstance<py::str>(padding)) {
      const std::string mode = padding.cast<std::string>();
      MaybeReleaseGil gil(work(x, w));
      return conv1d(x, w, opt(b), s, mode, d, groups);
    }
    const auto p = ints(padding, "conv1d", "padding");
    MaybeReleaseGil gil(work(x, w));
    return conv1d(x, w, opt(b), s, p, d, groups);
  }, py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1,
     py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1);
  m.def("conv_transpose2d", [](const Tensor& x, const Tensor& w, std::optional<Tensor> b, py::handle stride,
                               py::handle padding, py::handle output_padding, int64_t groups, py::handle dilation) {
    const char* op = "conv_transpose2d";
    const auto s = ints(stride, op, "stride"), p = ints(padding, op, "padding"),
               op_ = ints(output_padding, op, "output_padding"), d = ints(dilation, op, "dilation");
    MaybeReleaseGil gil(work(x, w));
    return conv_transpose2d(x, w, opt(b), s, p, op_, groups, d);
  }, py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1,
     py::arg("padding") = 0, py::arg("output_padding") = 0, py::arg("groups") = 1, py::arg("dilation") = 1);
  m.def("max_pool2d", [](const Tensor& x, py::handle kernel_size, py::handle stride, py::handle padding,
                         py::handle dilation, bool ceil_mode, bool return_indices) -> py::object {
    const char* op = "max_pool2d";
    const auto k = ints(kernel_size, op, "kernel_size");
    const auto s = stride.is_none() ? std::vector<int64_t>{} : ints(stride, op, "stride");
    const auto p = ints(padding, op, "padding"), d = ints(dilation, op, "dilation");
    std::pair<Tensor, Tensor> r;
    {
      MaybeReleaseGil gil(x.numel());
      r = max_pool2d(x, k, s, p, d, ceil_mode);
    }
    if (return_indices) return py::make_tuple(r.first, r.second);
    return py::cast(r.first);
  }, py::arg("input"), py::arg("kernel_size"), py::arg("stride") = py::none(), py::arg("padding") = 0,
     py::arg("dilation") = 1, py::arg("ceil_mode") = false, py::arg("return_indices") = false);
  m.def("avg_pool2d", [](const Tensor& x, py::handle kernel_size, py::handle stride, py::handle padding,
                         bool ceil_mode, bool count_include_pad, std::optional<int64_t> divisor_override) {
    const char* op = "avg_pool2d";
    const auto k = ints(kernel_size, op, "kernel_size");
    const auto s = stride.is_none() ? std::vector<int64_t>{} : ints(stride, op, "stride");
    const auto p = ints(padding, op, "padding");
    MaybeReleaseGil gil(x.numel());
    return avg_pool2d(x, k, s, p, ceil_mode, count_include_pad, divisor_override);
  }, py::arg("input"), py::arg("kernel_size"), py::arg("stride") = py::none(), py::arg("padding") = 0,
     py::arg("ceil_mode") = false, py::arg("count_include_pad") = true, py::arg("divisor_override") = py::none());
  m.def("adaptive_avg_pool2d", [](const Tensor& x, py::handle output_size) {
    const auto o = ints(output_size, "adaptive_avg_pool2d", "output_size");
    MaybeReleaseGil gil(x.numel());
    return adaptive_avg_pool2d(x, o);
  }, py::arg("input"), py::arg("output_size"));
  m.def("batch_norm", [](const Tensor& x, std::optional<Tensor> rm, std::optional<Tensor> rv,
                         std::optional<Tensor> w, std::optional<Tensor> b, bool training, double momentum,
                         double eps) {
    MaybeReleaseGil gil(x.numel());
    return batch_norm(x, opt(rm), opt(rv), opt(w), opt(b), training, momentum, eps);
  }, py::arg("input"), py::arg("running_mean"), py::arg("running_var"), py::arg("weight") = py::none(),
     py::arg("bias") = py::none(), py::arg("training") = false, py::arg("momentum") = 0.1, py::arg("eps") = 1e-5);
  m.def("group_norm", [](const Tensor& x, int64_t num_groups, std::optional<Tensor> w, std::optional<Tensor> b,
                         double eps) {
    MaybeReleaseGil gil(x.numel());
    return group_norm(x, num_groups, opt(w), opt(b), eps);
  }, py::arg("input"), py::arg("num_groups"), py::arg("weight") = py::none(), py::arg("bias") = py::none(),
     py::arg("eps") = 1e-5);

  m.def("_conv2d_reference", [](const Tensor& x, const Tensor& w, std::optional<Tensor> b, py::handle stride,
                                py::handle padding, py::handle dilation, int64_t groups) {
    const char* op = "_conv2d_reference";
    const auto s = ints(stride, op, "stride"), p = ints(padding, op, "padding"), d = ints(dilation, op, "dilation");
    py::gil_scoped_release release;
    return reference::conv2d(x, w, opt(b), s, p, d, groups);
  }, py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1,
     py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1);
  m.def("_conv2d_backward_reference", [](const Tensor& x, const Tensor& w, const Tensor& gy, py::handle stride,
                                         py::handle padding, py::handle dilation, int64_t groups) {
    const char* op = "_conv2d_backward_reference";
    const auto s = ints(stride, op, "stride"), p = ints(padding, op, "padding"), d = ints(dilation, op, "dilation");
    py::gil_scoped_release release;
    return reference::conv2d_backward(x, w, gy, s, p, d, groups);
  }, py::arg("input"), py::arg("weight"), py::arg("grad_output"), py::arg("stride") = 1, py::arg("padding") = 0,
     py::arg("dilation") = 1, py::arg("groups") = 1);
}

}  // namespace nn::bind
