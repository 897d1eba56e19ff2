"""SGD, Adam, AdamW, RMSprop, Adagrad and Adadelta (PyTorch's names, defaults and update rules).

``step()`` gathers, per parameter group, the parameters that have a gradient and their
state tensors, and makes one native call (``nn_core._C._sgd_step`` etc.) that runs one
fused kernel per parameter tensor (csrc/cpu/optim_kernels.cpp, where the update rules
are written out). State tensors are created lazily on the first step, as in PyTorch.
"""
from __future__ import annotations

from typing import Iterable, Tuple

import nn_core as nc
from nn_core import _C

from .optimizer import Optimizer, required


def _check(cond: bool, opt: str, what: str, value) -> None:
    if not cond:
        raise ValueError(f"{opt}: invalid {what}: {value}")


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov momentum
    and (L2) weight decay."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False):
        _check(lr is required or lr >= 0.0, "SGD", "learning rate", lr)
        _check(momentum >= 0.0, "SGD", "momentum value", momentum)
        _check(weight_decay >= 0.0, "SGD", "weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = self._params_with_grad(group)
            if not params:
                continue
            use_buf = group["momentum"] != 0
            bufs, first = [], []
            for p in params:
                state = self.state[p]
                buf = state.get("momentum_buffer") if use_buf else None
                if use_buf and buf is None:
                    buf = nc.empty_like(p)
                    state["momentum_buffer"] = buf
                    first.append(True)
                else:
                    first.append(False)
                bufs.append(buf)
            _C._sgd_step(params, [p.grad for p in params], bufs, first, group["lr"], group["momentum"],
                         group["dampening"], group["weight_decay"], group["nesterov"], group["maximize"])
        return loss


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, L2 weight decay added to the gradient, and
    the AMSGrad variant."""

    _decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False):
        name = type(self).__name__
        _check(lr >= 0.0, name, "learning rate", lr)
        _check(eps >= 0.0, name, "epsilon value", eps)
        _check(0.0 <= betas[0] < 1.0, name, "beta parameter at index 0", betas[0])
        _check(0.0 <= betas[1] < 1.0, name, "beta parameter at index 1", betas[1])
        _check(weight_decay >= 0.0, name, "weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = self._params_with_grad(group)
            if not params:
                continue
            amsgrad = group["amsgrad"]
            m1, m2, mx, steps = [], [], [], []
            for p in params:
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = nc.zeros_like(p)
                    state["exp_avg_sq"] = nc.zeros_like(p)
                    if amsgrad:
                        state["max_exp_avg_sq"] = nc.zeros_like(p)
                elif amsgrad and "max_exp_avg_sq" not in state:
                    state["max_exp_avg_sq"] = nc.zeros_like(p)
                state["step"] += 1
                steps.append(state["step"])
                m1.append(state["exp_avg"])
                m2.append(state["exp_avg_sq"])
                mx.append(state["max_exp_avg_sq"] if amsgrad else None)
            beta1, beta2 = group["betas"]
            _C._adam_step(params, [p.grad for p in params], m1, m2, mx, steps, group["lr"], beta1, beta2,
                          group["eps"], group["weight_decay"], amsgrad, self._decoupled, group["maximize"])
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr * weight_decay``
    before the Adam step, instead of adding ``weight_decay * p`` to the gradient."""

    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)


class RMSprop(Optimizer):
    """RMSprop (Hinton) with optional centering (divide by the estimated variance),
    momentum and L2 weight decay."""

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False, *, maximize: bool = False):
        _check(lr >= 0.0, "RMSprop", "learning rate", lr)
        _check(eps >= 0.0, "RMSprop", "epsilon value", eps)
        _check(alpha >= 0.0, "RMSprop", "alpha value", alpha)
        _check(momentum >= 0.0, "RMSprop", "momentum value", momentum)
        _check(weight_decay >= 0.0, "RMSprop", "weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = self._params_with_grad(group)
            if not params:
                continue
            use_mom, centered = group["momentum"] > 0, group["centered"]
            sq, bufs, gavg = [], [], []
            for p in params:
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["square_avg"] = nc.zeros_like(p)
                if use_mom and "momentum_buffer" not in state:
                    state["momentum_buffer"] = nc.zeros_like(p)
                if centered and "grad_avg" not in state:
                    state["grad_avg"] = nc.zeros_like(p)
                state["step"] += 1
                sq.append(state["square_avg"])
                bufs.append(state["momentum_buffer"] if use_mom else None)
                gavg.append(state["grad_avg"] if centered else None)
            _C._rmsprop_step(params, [p.grad for p in params], sq, bufs, gavg, group["lr"], group["alpha"],
                             group["eps"], group["weight_decay"], group["momentum"], centered, group["maximize"])
        return loss


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.): per-element steps ``lr / (1 + (t - 1) * lr_decay) / (sqrt(sum g^2) + eps)``.
    The ``sum`` state starts at ``initial_accumulator_value`` and, as in PyTorch, is created
    when the optimizer is built."""

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, maximize: bool = False):
        _check(lr >= 0.0, "Adagrad", "learning rate", lr)
        _check(lr_decay >= 0.0, "Adagrad", "lr_decay value", lr_decay)
        _check(weight_decay >= 0.0, "Adagrad", "weight_decay value", weight_decay)
        _check(initial_accumulator_value >= 0.0, "Adagrad", "initial_accumulator_value value",
               initial_accumulator_value)
        _check(eps >= 0.0, "Adagrad", "epsilon value", eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group):
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["sum"] = nc.full_like(p, group["initial_accumulator_value"]).contiguous()

    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = self._params_with_grad(group)
            if not params:
                continue
            sums, steps = [], []
            for p in params:
                self._init_state(p, group)  # groups added later with add_param_group
                state = self.state[p]
                state["step"] += 1
                steps.append(state["step"])
                sums.append(state["sum"])
            _C._adagrad_step(params, [p.grad for p in params], sums, steps, group["lr"], group["lr_decay"],
                             group["weight_decay"], group["eps"], group["maximize"])
        return loss


class Adadelta(Optimizer):
    """Adadelta (Zeiler): steps scaled by the ratio of running RMS of past updates and of
    gradients, ``lr`` a final multiplier (1.0 by default, as in PyTorch)."""

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0,
                 *, maximize: bool = False):
        _check(lr >= 0.0, "Adadelta", "learning rate", lr)
        _check(0.0 <= rho <= 1.0, "Adadelta", "rho value", rho)
        _check(eps >= 0.0, "Adadelta", "epsilon value", eps)
        _check(weight_decay >= 0.0, "Adadelta", "weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = self._params_with_grad(group)
            if not params:
                continue
            sq, acc = [], []
            for p in params:
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["square_avg"] = nc.zeros_like(p)
                    state["acc_delta"] = nc.zeros_like(p)
                state["step"] += 1
                sq.append(state["square_avg"])
                acc.append(state["acc_delta"])
            _C._adadelta_step(params, [p.grad for p in params], sq, acc, group["lr"], group["rho"], group["eps"],
                              group["weight_decay"], group["maximize"])
        return loss
