"""OpInfo entries of the fused derivative rows (relu_backward, sigmoid_backward,
tanh_backward, gelu_backward, silu_backward, hardswish_backward, mish_backward): the
derivative formulas of the activations in csrc/ops/ops.schema name them. Each takes
grad_output and the forward's input x (or its output, for relu, sigmoid and tanh) of one
shape and returns grad_output * f'(x). Appended to OP_DB by tests/op_db.py, so the
forward (every dtype, odd sizes, views), fuzz and trace/replay harnesses cover them.
They are not differentiable themselves (no second derivatives in nn_core).

References are NumPy float64 formulas of f'. The magnitude used for the tolerance is
|g| times the size of the terms of f' (1 - y*y loses digits to cancellation near |y| = 1
in any float format, so its scale is 1 + y*y, not the small result)."""
import math

import numpy as np
from hypothesis import strategies as st

import nn_core as nc
import samples as S
from op_db import OpInfo
from op_refs import _erf, _sigmoid
from samples import FLOAT, Dom, Sample

INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
BETA, KAPPA = math.sqrt(2 / math.pi), 0.044715


def s_fused(dom, approximate=False):
    def sample(draw, dt, m):
        shp = S.shape(draw, m)
        g = S.tensor(draw, m, shp, dt)
        xshp = shp
        if m.fuzz and draw(st.integers(0, 4)) == 0:
            xshp = S.shape(draw, m)  # invalid unless equal: the shapes must match
        x = S.tensor(draw, m, xshp, dt, dom=dom)
        kw = {}
        if approximate:
            choices = ["none", "tanh"] + (["fast"] if m.fuzz else [])
            kw["approximate"] = draw(st.sampled_from(choices))
        return Sample(g, x, dt=dt, **kw)
    return sample


def _check(g, x, approximate="none"):
    if g.shape != x.shape:
        raise ValueError(f"grad_output {g.shape} and input {x.shape} must have one shape")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")


def _deriv(f):
    def ref(g, x, **kw):
        _check(g, x, **kw)
        with np.errstate(all="ignore"):
            return g * f(x, **kw)
    return ref


def _mag(scale):
    def mag(g, x, **kw):
        return np.abs(g) * scale(x, **kw)
    return mag


def d_gelu(x, approximate="none"):
    if approximate == "tanh":
        t = np.tanh(BETA * (x + KAPPA * x**3))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * BETA * (1 + 3 * KAPPA * x * x)
    cdf = 0.5 * (1 + np.asarray(_erf(x / math.sqrt(2)), dtype=np.float64))
    return cdf + x * np.exp(-0.5 * x * x) * INV_SQRT_2PI


def d_silu(x):
    s = _sigmoid(x)
    return s * (1 + x * (1 - s))


def d_hardswish(x):
    return np.where(x < -3, 0.0, np.where(x <= 3, x / 3 + 0.5, 1.0))


def d_mish(x):
    softplus = np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)
    t = np.tanh(softplus)
    return t + x * _sigmoid(x) * (1 - t * t)


def _op(name):
    return getattr(nc._C.ops, name)


OPS_DERIVATIVES = [
    OpInfo("relu_backward", "special", _op("relu_backward"), _deriv(lambda y: (y > 0).astype(np.float64)),
           s_fused(S.DEFAULT), dtypes=FLOAT, differentiable=False),
    OpInfo("sigmoid_backward", "special", _op("sigmoid_backward"), _deriv(lambda y: y * (1 - y)),
           s_fused(Dom(0, 1)), dtypes=FLOAT, differentiable=False,
           mag=_mag(lambda y: np.abs(y) * (1 + np.abs(y)))),
    OpInfo("tanh_backward", "special", _op("tanh_backward"), _deriv(lambda y: 1 - y * y),
           s_fused(Dom(-1, 1)), dtypes=FLOAT, differentiable=False, mag=_mag(lambda y: 1 + y * y)),
    OpInfo("gelu_backward", "special", _op("gelu_backward"), _deriv(d_gelu), s_fused(Dom(-6, 6), approximate=True),
           dtypes=FLOAT, differentiable=False,
           # cdf + x * pdf: the two terms cancel in the left tail
           mag=_mag(lambda x, approximate="none": 1 + np.abs(x) * INV_SQRT_2PI * (1 + np.abs(x) ** 2))),
    OpInfo("silu_backward", "special", _op("silu_backward"), _deriv(d_silu), s_fused(Dom(-10, 10)),
           dtypes=FLOAT, differentiable=False, mag=_mag(lambda x: 1 + np.abs(x))),
    OpInfo("hardswish_backward", "special", _op("hardswish_backward"), _deriv(d_hardswish), s_fused(Dom(-6, 6)),
           dtypes=FLOAT, differentiable=False, mag=_mag(lambda x: 1 + np.abs(x) / 3)),
    OpInfo("mish_backward", "special", _op("mish_backward"), _deriv(d_mish), s_fused(Dom(-10, 10)),
           dtypes=FLOAT, differentiable=False, mag=_mag(lambda x: 1 + np.abs(x))),
]
