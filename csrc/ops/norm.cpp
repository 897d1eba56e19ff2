// norm.cpp — batch_norm (training: batch statistics and a running-statistics update
// with momentum; eval: running statistics) and group_norm, with backward, for inputs
// (N, C, *) in PyTorch's layout and semantics. Kernels: cpu/norm_kernels.cpp (Note
// [Norm backward] there). Half types compute in float32.
#include <cmath>

#include "ops/internal.h"

namespace nn {
using autograd::SavedTensor;

namespace {


void check_param(const Tensor& t, int64_t C, const char* op, const char* what) {
  if (!t.defined()) return;
  NN_CHECK(t.dim() == 1 && t.sizes()[0] == C, ShapeError, op, ": ", what, " must have shape (", C, ",), got ",
           t.sizes());
  NN_CHECK(is_floating(t.dtype()), DTypeError, op, ": ", what, " must be floating point, got ", t.dtype());
}

Tensor as_compute(const Tensor& t, DType dt) {
  return t.defined() ? detail::contiguous_raw(detail::cast_raw(t, dt)) : Tensor();
}

// (N, C, S) contiguous view of x.
Tensor as_ncs(const Tensor& input) {
  Tensor x = detail::contiguous_raw(input);
  Shape s{x.sizes()[0], x.sizes()[1], shape_numel(Shape(x.sizes().begin() + 2, x.sizes().end()))};
  return make_view(x, s, contiguous_strides(s), x.offset());
}

Tensor rstd_of(const Tensor& var, double eps) {
  return rsqrt(add(var, scalar_tensor(eps, var.dtype())));
}

// Normalises x3 with (mean, rstd), records the backward; the shared tail of both ops.
Tensor apply_and_record(OpId op, const Tensor& input, const Tensor& x3, const Tensor& mean, const Tensor& rstd,
                        const Tensor& weight, const Tensor& bias, int64_t groups, bool stats_from_batch) {
  const DType dt = x3.dtype();
  Tensor w = as_compute(weight, dt), b = as_compute(bias, dt);
  Tensor y = empty(x3.sizes(), dt, x3.device());
  if (y.numel() > 0) kernels().norm_apply.get(op, x3.device())(x3, mean, rstd, w, b, y, groups);
  y = make_view(y, input.sizes(), contiguous_strides(input.sizes()), 0);
  if (autograd::needs_grad({&input, &weight, &bias})) {
    SavedTensor sx(x3), sw(w);
    const Tensor m = mean, r = rstd;  // computed here, never visible to the user
    const bool gx = input.requires_grad(), gw = weight.defined() && weight.requires_grad(),
               gb = bias.defined() && bias.requires_grad();
    const Shape in_sizes = input.sizes();
    const DType wd = weight.defined() ? weight.dtype() : dt, bd = bias.defined() ? bias.dtype() : dt;
    const std::string name = detail::backward_name(op);
    autograd::record(name, {input, weight, bias}, {y}, [=](const std::vector<Tensor>& grads) {
      const Tensor xs = sx.unpack(name), ws = sw.defined() ? sw.unpack(name) : Tensor();
      Tensor g = detail::contiguous_raw(grads[0]);
      g = make_view(g, xs.sizes(), contiguous_strides(xs.sizes()), g.offset());
      const int64_t C = xs.sizes()[1];
      Tensor dx = gx ? empty(xs.sizes(), dt, xs.device()) : Tensor();
      Tensor dw = gw ? empty({C}, dt, xs.device()) : Tensor();
      Tensor db = gb ? empty({C}, dt, xs.device()) : Tensor();
      kernels().norm_backward.get(op, xs.device())(g, xs, m, r, ws, dx, dw, db, groups, stats_from_batch);
      if (gx) dx = make_view(dx, in_sizes, contiguous_strides(in_sizes), 0);
      return std::vector<Tensor>{dx, gw ? detail::cast_raw(dw, wd) : Tensor(), gb ? detail::cast_raw(db, bd) : Tensor()};
    });
  }
  return y;
}

}  // namespace

Tensor native_batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  NN_CHECK(input.dim() >= 2, ShapeError, op, ": expected an input of shape (N, C, *), got ", input.sizes());
  NN_CHECK(is_floating(input.dtype()), DTypeError, op, ": expected a floating-point input, got ", input.dtype());
  const int64_t C = input.sizes()[1];
  check_param(weight, C, op, "weight");
  check_param(bias, C, op, "bias");
  check_param(running_mean, C, op, "running_mean");
  check_param(running_var, C, op, "running_var");
  NN_CHECK(eps >= 0, ValueError, op, ": eps must be >= 0, got ", eps);
  NN_CHECK(training || (running_mean.defined() && running_var.defined()), ValueError, op,
           ": running_mean and running_var must be given in evaluation mode (training=False)");
  NN_CHECK(running_mean.defined() == running_var.defined(), ValueError, op,
           ": running_mean and running_var must be given together");
  if (is_half(input.dtype())) {
    return cast(batch_norm(cast(input, DType::Float32), running_mean, running_var, weight, bias, training, momentum,
                           eps),
                input.dtype());
  }
  const DType dt = input.dtype();
  Tensor x3 = as_ncs(input);
  const int64_t count = x3.sizes()[0] * x3.sizes()[2];
  Tensor mean, rstd;
  {
    autograd::GradModeGuard no_grad(false);
    if (training) {
      NN_CHECK(count > 1, ValueError, op, ": expected more than 1 value per channel when training, got input of "
               "shape ", input.sizes());
      mean = empty({C}, dt, input.device());
      Tensor var = empty({C}, dt, input.device());
      kernels().norm_stats.get(OpId::batch_norm, input.device())(x3, mean, var, 0);
      rstd = rstd_of(var, eps);
      if (running_mean.defined()) {
        const Tensor keep = wrapped_scalar(1.0 - momentum, false), m = wrapped_scalar(momentum, false);
        const Tensor unbiased = mul(var, wrapped_scalar(static_cast<double>(count) / (count - 1), false));
        detail::copy_raw(running_mean, add(mul(cast(running_mean, dt), keep), mul(mean, m)));
        detail::copy_raw(running_var, add(mul(cast(running_var, dt), keep), mul(unbiased, m)));
        running_mean.bump_version();
        running_var.bump_version();
      }
    } else {
      mean = as_compute(running_mean, dt);
      rstd = detail::contiguous_raw(rstd_of(as_compute(running_var, dt), eps));
    }
  }
  return apply_and_record(OpId::batch_norm, input, x3, mean, rstd, weight, bias, 0, training);
}

Tensor native_group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "group_norm";
  NN_CHECK(input.dim() >= 2, ShapeError, op, ": expected an input of shape (N, C, *), got ", input.sizes());
  NN_CHECK(is_floating(input.dtype()), DTypeError, op, ": expected a floating-point input, got ", input.dtype());
  const int64_t C = input.sizes()[1];
  NN_CHECK(num_groups >= 1 && C % num_groups == 0, ValueError, op, ": the number of channels (", C,
           ") must be divisible by num_groups (", num_groups, ")");
  check_param(weight, C, op, "weight");
  check_param(bias, C, op, "bias");
  NN_CHECK(eps >= 0, ValueError, op, ": eps must be >= 0, got ", eps);
  if (is_half(input.dtype()))
    return cast(group_norm(cast(input, DType::Float32), num_groups, weight, bias, eps), input.dtype());
  const DType dt = input.dtype();
  Tensor x3 = as_ncs(input);
  const int64_t N = x3.sizes()[0];
  Tensor mean = empty({N, num_groups}, dt, input.device()), rstd;
  {
    autograd::GradModeGuard no_grad(false);
    Tensor var = empty({N, num_groups}, dt, input.device());
    if (mean.numel() > 0) kernels().norm_stats.get(OpId::group_norm, input.device())(x3, mean, var, num_groups);
    rstd = detail::contiguous_raw(rstd_of(var, eps));
  }
  return apply_and_record(OpId::group_norm, input, x3, mean, rstd, weight, bias, num_groups, true);
}

}  // namespace nn
