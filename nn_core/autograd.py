"""Autograd utilities: grad-mode context managers and ``gradcheck`` (float64 central
finite differences against the analytic gradients of the C++ engine)."""
from __future__ import annotations

import functools
from typing import Callable, Sequence

import numpy as np

from . import _C


class _GradMode:
    enabled: bool

    def __enter__(self):
        self._prev = _C.is_grad_enabled()
        _C.set_grad_enabled(self.enabled)
        return self

    def __exit__(self, *exc):
        _C.set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Context manager / decorator: ops inside record no graph (thread-local)."""

    enabled = False


class enable_grad(_GradMode):
    """Context manager / decorator: turns graph recording back on (thread-local)."""

    enabled = True


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(mode)``: sets grad mode now; as a context manager, restores it on exit."""

    def __init__(self, mode: bool):
        self._prev = _C.is_grad_enabled()
        self.enabled = bool(mode)
        _C.set_grad_enabled(self.enabled)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _C.set_grad_enabled(self._prev)
        return False


class GradcheckError(AssertionError):
    """Raised by gradcheck when analytic and numerical gradients disagree."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def gradcheck(fn: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """Compares the gradients of ``fn`` at ``inputs`` with central finite differences.

    ``inputs`` holds tensors (float64 for meaningful results) and other values; tensors
    with ``requires_grad`` are checked. ``fn`` returns a tensor or a tuple of tensors.
    For every output element, the engine's gradient (one backward per output element)
    must match ``(f(x + eps) - f(x - eps)) / (2 eps)`` within ``atol + rtol * |numerical|``.
    """
    from . import Tensor  # local import: nn_core imports this module

    inputs = _as_tuple(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    for i in checked:
        if inputs[i].dtype != _C.DType.float64:
            raise ValueError(f"gradcheck: input {i} is {inputs[i].dtype}; use float64 for finite differences")

    def evaluate() -> list:
        with no_grad():
            outs = _as_tuple(fn(*inputs))
        return [o.detach().numpy().astype(np.float64).ravel().copy() for o in outs]

    base_outs = _as_tuple(fn(*inputs))
    out_sizes = [o.numel() for o in base_outs]
    for i in checked:
        x = inputs[i]
        # Perturb through a contiguous float64 numpy view of the same memory when possible.
        with no_grad():
            flat_view = x.detach()
        n = x.numel()
        numerical = [np.zeros((n, s)) for s in out_sizes]
        for k in range(n):
            idx = np.unravel_index(k, tuple(x.shape)) if x.dim() else ()
            with no_grad():
                orig = float(flat_view[idx].item()) if x.dim() else float(flat_view.item())
                _set(flat_view, idx, orig + eps)
                plus = evaluate()
                _set(flat_view, idx, orig - eps)
                minus = evaluate()
                _set(flat_view, idx, orig)
            for j in range(len(out_sizes)):
                numerical[j][k] = (plus[j] - minus[j]) / (2 * eps)
        # Analytic: one backward per output element.
        for j, out in enumerate(base_outs):
            if not out.requires_grad:
                if np.any(numerical[j] != 0):
                    return _fail(raise_exception, f"output {j} does not require grad but depends on input {i}")
                continue
            analytic = np.zeros((n, out.numel()))
            for m in range(out.numel()):
                grad_out = np.zeros(out.numel())
                grad_out[m] = 1.0
                for t in inputs:
                    if isinstance(t, Tensor) and t.requires_grad:
                        t.grad = None
                seed = _C._tensor_from_object(grad_out.reshape(tuple(out.shape)), out.dtype)
                outs_again = _as_tuple(fn(*inputs))
                outs_again[j].backward(seed)
                g = x.grad
                analytic[:, m] = 0.0 if g is None else g.detach().numpy().astype(np.float64).ravel()
            for t in inputs:
                if isinstance(t, Tensor) and t.requires_grad:
                    t.grad = None
            diff = np.abs(analytic - numerical[j])
            bad = diff > atol + rtol * np.abs(numerical[j])
            if bad.any():
                k, m = np.argwhere(bad)[0]
                return _fail(raise_exception,
                             f"gradcheck: gradient of output {j} w.r.t. input {i} mismatch at input element {k}, "
                             f"output element {m}: analytic {analytic[k, m]!r} vs numerical {numerical[j][k, m]!r}\n"
                             f"analytic:\n{analytic}\nnumerical:\n{numerical[j]}")
    return True


def _set(t, idx, value) -> None:
    if t.dim() == 0:
        t.fill_(value)
    else:
        t[idx] = value


def _fail(raise_exception: bool, msg: str) -> bool:
    if raise_exception:
        raise GradcheckError(msg)
    return False
