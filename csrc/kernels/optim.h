// optim.h (kernels) — the hyperparameters of the fused optimizer updates, shared by the
// ops (ops/optim.h: argument checks, sgd_step / adam_step / rmsprop_step) and each
// device's kernels (CPU: cpu/optim_kernels.cpp, where the update rules are written out).
// Defaults are PyTorch's.
#pragma once

namespace nn {

struct SgdOptions {
  double lr = 1e-3, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false, maximize = false;
};

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool amsgrad = false;
  bool decoupled_weight_decay = false;  // AdamW: p *= 1 - lr * weight_decay before the step
  bool maximize = false;
};

struct RmspropOptions {
  double lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0;
  bool centered = false, maximize = false;
};

struct AdagradOptions {
  double lr = 1e-2, lr_decay = 0, weight_decay = 0, eps = 1e-10;
  bool maximize = false;
};

struct AdadeltaOptions {
  double lr = 1.0, rho = 0.9, eps = 1e-6, weight_decay = 0;
  bool maximize = false;
};

}  // namespace nn
