// attention.cpp — bindings of the attention and transformer building-block ops
// (ops/attention_ops.h); the public names live in nn_core.functional.
#include "bindings/bindings.h"
#include "ops/attention_ops.h"

namespace nn::bind {

void bind_attention(py::module_& m) {
  m.def("scaled_dot_product_attention",
        [](const Tensor& q, const Tensor& k, const Tensor& v, std::optional<Tensor> mask, double dropout_p,
           bool is_causal, std::optional<double> scale) {
          MaybeReleaseGil gil(q.numel() * k.sizes().size() > 2 ? q.numel() * 16 : 0);
          return scaled_dot_product_attention(q, k, v, mask ? *mask : Tensor(), dropout_p, is_causal, scale);
        },
        py::arg("query"), py::arg("key"), py::arg("value"), py::arg("attn_mask") = py::none(),
        py::arg("dropout_p") = 0.0, py::arg("is_causal") = false, py::arg("scale") = py::none());
  m.def("embedding",
        [](const Tensor& idx, const Tensor& w, std::optional<int64_t> padding_idx) {
          return embedding(idx, w, padding_idx);
        },
        py::arg("input"), py::arg("weight"), py::arg("padding_idx") = py::none());
  m.def("dropout",
        [](const Tensor& x, double p, bool training) {
          MaybeReleaseGil gil(x.numel());
          return dropout(x, p, training);
        },
        py::arg("input"), py::arg("p") = 0.5, py::arg("training") = true);
}

}  // namespace nn::bind
