// optim.cpp — bindings of the fused optimizer updates (csrc/ops/optim.h) as private
// functions of nn_core._C used by nn_core.optim. Each takes parallel lists (one entry
// per parameter tensor; None where a state tensor is unused) so that one Python call
// updates a whole parameter group: the lists become vectors here, the loop over tensors
// is the group form in csrc/ops/optim_group.cpp, the loop over elements in the kernel.
#include "bindings/bindings.h"
#include "ops/optim.h"

namespace nn::bind {
namespace {

std::vector<Tensor> tensor_list(const py::sequence& seq, size_t n, const char* op, const char* what) {
  std::vector<Tensor> out;
  const size_t len = py::len(seq);
  NN_CHECK(len == n || len == 0, ValueError, op, ": expected ", n, " entries in '", what, "', got ", len);
  out.resize(n);
  for (size_t i = 0; i < len; ++i) {
    py::handle h = seq[i];
    if (!h.is_none()) out[i] = h.cast<Tensor>();
  }
  return out;
}

int64_t total_numel(const std::vector<Tensor>& ts) {
  int64_t n = 0;
  for (const Tensor& t : ts) n += t.numel();
  return n;
}

}  // namespace

void bind_optim(py::module_& m) {
  m.def("_sgd_step", [](const py::sequence& params, const py::sequence& grads, const py::sequence& bufs,
                        const std::vector<bool>& first, double lr, double momentum, double dampening,
                        double weight_decay, bool nesterov, bool maximize) {
    const size_t n = py::len(params);
    auto p = tensor_list(params, n, "SGD", "params"), g = tensor_list(grads, n, "SGD", "grads");
    auto b = tensor_list(bufs, n, "SGD", "momentum_buffers");
    SgdOptions o{lr, momentum, dampening, weight_decay, nesterov, maximize};
    MaybeReleaseGil gil(total_numel(p));
    sgd_step(p, g, b, first, o);
  }, py::arg("params"), py::arg("grads"), py::arg("momentum_buffers"), py::arg("first_step"), py::arg("lr"),
     py::arg("momentum"), py::arg("dampening"), py::arg("weight_decay"), py::arg("nesterov"), py::arg("maximize"));

  m.def("_adam_step", [](const py::sequence& params, const py::sequence& grads, const py::sequence& exp_avgs,
                         const py::sequence& exp_avg_sqs, const py::sequence& max_exp_avg_sqs,
                         const std::vector<int64_t>& steps, double lr, double beta1, double beta2, double eps,
                         double weight_decay, bool amsgrad, bool decoupled_weight_decay, bool maximize) {
    const char* name = decoupled_weight_decay ? "AdamW" : "Adam";
    const size_t n = py::len(params);
    auto p = tensor_list(params, n, name, "params"), g = tensor_list(grads, n, name, "grads");
    auto m1 = tensor_list(exp_avgs, n, name, "exp_avgs"), m2 = tensor_list(exp_avg_sqs, n, name, "exp_avg_sqs");
    auto mx = tensor_list(max_exp_avg_sqs, n, name, "max_exp_avg_sqs");
    AdamOptions o{lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled_weight_decay, maximize};
    MaybeReleaseGil gil(total_numel(p));
    adam_step(p, g, m1, m2, mx, steps, o);
  }, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"), py::arg("exp_avg_sqs"), py::arg("max_exp_avg_sqs"),
     py::arg("steps"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
     py::arg("amsgrad"), py::arg("decoupled_weight_decay"), py::arg("maximize"));

  m.def("_rmsprop_step", [](const py::sequence& params, const py::sequence& grads, const py::sequence& square_avgs,
                            const py::sequence& momentum_buffers, const py::sequence& grad_avgs, double lr,
                            double alpha, double eps, double weight_decay, double momentum, bool centered,
                            bool maximize) {
    const size_t n = py::len(params);
    auto p = tensor_list(params, n, "RMSprop", "params"), g = tensor_list(grads, n, "RMSprop", "grads");
    auto sq = tensor_list(square_avgs, n, "RMSprop", "square_avgs");
    auto b = tensor_list(momentum_buffers, n, "RMSprop", "momentum_buffers");
    auto ga = tensor_list(grad_avgs, n, "RMSprop", "grad_avgs");
    RmspropOptions o{lr, alpha, eps, weight_decay, momentum, centered, maximize};
    MaybeReleaseGil gil(total_numel(p));
    rmsprop_step(p, g, sq, b, ga, o);
  }, py::arg("params"), py::arg("grads"), py::arg("square_avgs"), py::arg("momentum_buffers"), py::arg("grad_avgs"),
     py::arg("lr"), py::arg("alpha"), py::arg("eps"), py::arg("weight_decay"), py::arg("momentum"),
     py::arg("centered"), py::arg("maximize"));

  m.def("_adagrad_step", [](const py::sequence& params, const py::sequence& grads, const py::sequence& state_sums,
                            const std::vector<int64_t>& steps, double lr, double lr_decay, double weight_decay,
                            double eps, bool maximize) {
    const size_t n = py::len(params);
    auto p = tensor_list(params, n, "Adagrad", "params"), g = tensor_list(grads, n, "Adagrad", "grads");
    auto s = tensor_list(state_sums, n, "Adagrad", "state_sums");
    AdagradOptions o{lr, lr_decay, weight_decay, eps, maximize};
    MaybeReleaseGil gil(total_numel(p));
    adagrad_step(p, g, s, steps, o);
  }, py::arg("params"), py::arg("grads"), py::arg("state_sums"), py::arg("steps"), py::arg("lr"),
     py::arg("lr_decay"), py::arg("weight_decay"), py::arg("eps"), py::arg("maximize"));

  m.def("_adadelta_step", [](const py::sequence& params, const py::sequence& grads, const py::sequence& square_avgs,
                             const py::sequence& acc_deltas, double lr, double rho, double eps, double weight_decay,
                             bool maximize) {
    const size_t n = py::len(params);
    auto p = tensor_list(params, n, "Adadelta", "params"), g = tensor_list(grads, n, "Adadelta", "grads");
    auto sq = tensor_list(square_avgs, n, "Adadelta", "square_avgs");
    auto acc = tensor_list(acc_deltas, n, "Adadelta", "acc_deltas");
    AdadeltaOptions o{lr, rho, eps, weight_decay, maximize};
    MaybeReleaseGil gil(total_numel(p));
    adadelta_step(p, g, sq, acc, o);
  }, py::arg("params"), py::arg("grads"), py::arg("square_avgs"), py::arg("acc_deltas"), py::arg("lr"),
     py::arg("rho"), py::arg("eps"), py::arg("weight_decay"), py::arg("maximize"));
}

}  // namespace nn::bind
