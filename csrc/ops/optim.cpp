// optim.cpp — argument checks and dispatch of the fused optimizer updates (ops/optim.h).
// Checks name the optimizer, the tensors and the rule broken; the kernels
// (cpu/optim_kernels.cpp) then see only contiguous tensors of one float dtype.
#include "ops/optim.h"

#include <cmath>

#include "ops/internal.h"

namespace nn {
namespace {

const OptimKernels& optim_kernels(const Tensor& p, const char* name) {
  const OptimKernels& k = kernels().optim[static_cast<int>(p.device().type)];
  if (k.sgd == nullptr) throw DeviceError(str(name, ": no optimizer kernel for device ", p.device().str()));
  return k;
}

void check_param(const Tensor& p, const Tensor& grad, const char* name) {
  NN_CHECK(p.defined() && grad.defined(), ValueError, name, ": parameter and gradient must be defined");
  NN_CHECK(p.dtype() == DType::Float32 || p.dtype() == DType::Float64, DTypeError, name,
           ": parameters must be float32 or float64, got ", p.dtype(), " (shape ", p.sizes(), ")");
  NN_CHECK(grad.sizes() == p.sizes(), ShapeError, name, ": gradient shape ", grad.sizes(),
           " does not match the parameter shape ", p.sizes());
  NN_CHECK(grad.dtype() == p.dtype(), DTypeError, name, ": gradient dtype ", grad.dtype(),
           " does not match the parameter dtype ", p.dtype());
  detail::check_same_device(p, grad, name);
  for (int64_t d = 0; d < p.dim(); ++d)
    NN_CHECK(p.strides()[d] != 0 || p.sizes()[d] <= 1, ValueError, name, ": parameter of shape ", p.sizes(),
             " is an expanded view (stride 0 in dim ", d, "); its elements share memory and cannot be updated");
}

void check_state(const Tensor& p, const Tensor& s, const char* name, const char* what) {
  NN_CHECK(s.defined(), ValueError, name, ": state tensor '", what, "' is missing");
  NN_CHECK(s.sizes() == p.sizes() && s.dtype() == p.dtype(), ValueError, name, ": state tensor '", what,
           "' has shape ", s.sizes(), " and dtype ", s.dtype(), ", expected the parameter's ", p.sizes(), " and ",
           p.dtype());
  NN_CHECK(s.is_contiguous(), ValueError, name, ": state tensor '", what, "' must be contiguous");
  detail::check_same_device(p, s, name);
}

void check_hyper(bool ok, const char* name, const char* what, double value) {
  NN_CHECK(ok, ValueError, name, ": invalid ", what, " ", value);
}

// Runs `update` on a contiguous parameter and gradient; a strided parameter goes through a
// copy that is written back. The parameter's version counter is bumped (autograd then
// refuses a graph that saved its old value).
template <typename Fn>
void with_contiguous(const Tensor& p, const Tensor& grad, Fn&& update) {
  Tensor g = detail::contiguous_raw(grad);
  if (p.is_contiguous()) {
    update(p, g);
  } else {
    Tensor pc = detail::contiguous_raw(p);
    update(pc, g);
    detail::copy_raw(p, pc);
  }
  p.bump_version();
}

}  // namespace

void sgd_step(const Tensor& p, const Tensor& grad, const Tensor& momentum_buffer, bool first_step,
              const SgdOptions& o) {
  const char* name = "SGD";
  check_param(p, grad, name);
  check_hyper(o.lr >= 0, name, "learning rate", o.lr);
  check_hyper(o.momentum >= 0, name, "momentum", o.momentum);
  check_hyper(o.weight_decay >= 0, name, "weight_decay", o.weight_decay);
  NN_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), ValueError, name,
           ": nesterov momentum requires a momentum and zero dampening");
  if (o.momentum != 0) check_state(p, momentum_buffer, name, "momentum_buffer");
  const SgdKernel k = optim_kernels(p, name).sgd;
  with_contiguous(p, grad, [&](const Tensor& pc, const Tensor& g) { k(pc, g, momentum_buffer, first_step, o); });
}

void adam_step(const Tensor& p, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const Tensor& max_exp_avg_sq, int64_t step, const AdamOptions& o) {
  const char* name = o.decoupled_weight_decay ? "AdamW" : "Adam";
  check_param(p, grad, name);
  check_hyper(o.lr >= 0, name, "learning rate", o.lr);
  check_hyper(o.eps >= 0, name, "epsilon value", o.eps);
  check_hyper(o.beta1 >= 0 && o.beta1 < 1, name, "beta parameter at index 0:", o.beta1);
  check_hyper(o.beta2 >= 0 && o.beta2 < 1, name, "beta parameter at index 1:", o.beta2);
  check_hyper(o.weight_decay >= 0, name, "weight_decay", o.weight_decay);
  NN_CHECK(step >= 1, ValueError, name, ": the step count must be >= 1, got ", step);
  check_state(p, exp_avg, name, "exp_avg");
  check_state(p, exp_avg_sq, name, "exp_avg_sq");
  if (o.amsgrad) check_state(p, max_exp_avg_sq, name, "max_exp_avg_sq");
  const AdamKernel k = optim_kernels(p, name).adam;
  with_contiguous(p, grad, [&](const Tensor& pc, const Tensor& g) {
    k(pc, g, exp_avg, exp_avg_sq, max_exp_avg_sq, step, o);
  });
}

void rmsprop_step(const Tensor& p, const Tensor& grad, const Tensor& square_avg, const Tensor& momentum_buffer,
                  const Tensor& grad_avg, const RmspropOptions& o) {
  const char* name = "RMSprop";
  check_param(p, grad, name);
  check_hyper(o.lr >= 0, name, "learning rate", o.lr);
  check_hyper(o.eps >= 0, name, "epsilon value", o.eps);
  check_hyper(o.alpha >= 0, name, "alpha value", o.alpha);
  check_hyper(o.momentum >= 0, name, "momentum value", o.momentum);
  check_hyper(o.weight_decay >= 0, name, "weight_decay value", o.weight_decay);
  check_state(p, square_avg, name, "square_avg");
  if (o.momentum > 0) check_state(p, momentum_buffer, name, "momentum_buffer");
  if (o.centered) check_state(p, grad_avg, name, "grad_avg");
  const RmspropKernel k = optim_kernels(p, name).rmsprop;
  with_contiguous(p, grad, [&](const Tensor& pc, const Tensor& g) { k(pc, g, square_avg, momentum_buffer, grad_avg, o); });
}

void adagrad_step(const Tensor& p, const Tensor& grad, const Tensor& state_sum, int64_t step,
                  const AdagradOptions& o) {
  const char* name = "Adagrad";
  check_param(p, grad, name);
  check_hyper(o.lr >= 0, name, "learning rate", o.lr);
  check_hyper(o.lr_decay >= 0, name, "lr_decay value", o.lr_decay);
  check_hyper(o.eps >= 0, name, "epsilon value", o.eps);
  check_hyper(o.weight_decay >= 0, name, "weight_decay value", o.weight_decay);
  NN_CHECK(step >= 1, ValueError, name, ": the step count must be >= 1, got ", step);
  check_state(p, state_sum, name, "sum");
  const AdagradKernel k = optim_kernels(p, name).adagrad;
  with_contiguous(p, grad, [&](const Tensor& pc, const Tensor& g) { k(pc, g, state_sum, step, o); });
}

void adadelta_step(const Tensor& p, const Tensor& grad, const Tensor& square_avg, const Tensor& acc_delta,
                   const AdadeltaOptions& o) {
  const char* name = "Adadelta";
  check_param(p, grad, name);
  check_hyper(o.lr >= 0, name, "learning rate", o.lr);
  check_hyper(o.rho >= 0 && o.rho <= 1, name, "rho value", o.rho);
  check_hyper(o.eps >= 0, name, "epsilon value", o.eps);
  check_hyper(o.weight_decay >= 0, name, "weight_decay value", o.weight_decay);
  check_state(p, square_avg, name, "square_avg");
  check_state(p, acc_delta, name, "acc_delta");
  const AdadeltaKernel k = optim_kernels(p, name).adadelta;
  with_contiguous(p, grad, [&](const Tensor& pc, const Tensor& g) { k(pc, g, square_avg, acc_delta, o); });
}

}  // namespace nn
