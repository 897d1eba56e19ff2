"""OpInfo of rnn_layer (csrc/ops/rnn.cpp): one recurrent layer (lstm, gru, rnn_tanh,
rnn_relu) in one direction, with optional per-sequence lengths. Appended to OP_DB by
tests/op_db.py.

The reference is the textbook recurrence in float64 NumPy, one time step at a time
(PyTorch's gate order: LSTM i, f, g, o; GRU r, z, n with n = tanh(x_n + b_in + r *
(W_hn h + b_hn))); a row past its length keeps its state and outputs zeros. It raises
ValueError for the shape rules the op enforces, so the forward and fuzz tests check the
errors too. Samples: input (T, B, I) with T, B, I including 0, every tensor through the
usual strided / permuted / expanded views, lengths sometimes given (in fuzz mode
sometimes out of range, or with a wrong shape)."""
import numpy as np
from hypothesis import strategies as st

import nn_core as nc
import samples as S
from samples import Dom, Sample, TArg

GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}
WEIGHT_DOM = Dom(-0.8, 0.8)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def ref_cell(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One step of every row: (h_next, c_next). x (B, I), h, c (B, H)."""
    gx = x @ w_ih.T + (0.0 if b_ih is None else b_ih)
    gh = h @ w_hh.T + (0.0 if b_hh is None else b_hh)
    H = h.shape[1]
    if mode == "lstm":
        g = gx + gh
        i, f, gg, o = _sigmoid(g[:, :H]), _sigmoid(g[:, H:2 * H]), np.tanh(g[:, 2 * H:3 * H]), _sigmoid(g[:, 3 * H:])
        c_next = f * c + i * gg
        return o * np.tanh(c_next), c_next
    if mode == "gru":
        r = _sigmoid(gx[:, :H] + gh[:, :H])
        z = _sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
        return (1 - z) * n + z * h, c
    pre = gx + gh
    return (np.tanh(pre) if mode == "rnn_tanh" else np.maximum(pre, 0.0)), c


def _check(cond, msg):
    if not cond:
        raise ValueError(f"rnn_layer: {msg}")


def ref_rnn_layer(x, hx, cx, w_ih, w_hh, b_ih, b_hh, mode, reverse, lengths):
    _check(mode in GATES, "mode")
    G = GATES[mode]
    _check(x.ndim == 3, "input must be 3-D")
    _check(w_hh.ndim == 2 and w_hh.shape[0] == G * w_hh.shape[1], "w_hh shape")
    T, B, I = x.shape
    H = w_hh.shape[1]
    _check(w_ih.shape == (G * H, I), "w_ih shape")
    _check(hx.shape == (B, H), "hx shape")
    _check((cx is not None) == (mode == "lstm"), "cx only for lstm")
    _check(cx is None or cx.shape == (B, H), "cx shape")
    for b in (b_ih, b_hh):
        _check(b is None or b.shape == (G * H,), "bias shape")
    if lengths is not None:
        _check(lengths.ndim == 1 and lengths.shape[0] == B, "lengths shape")
        _check(lengths.size == 0 or (lengths.min() >= 0 and lengths.max() <= T), "lengths range")
    h = hx.copy()
    c = cx.copy() if cx is not None else np.zeros((B, H))
    out = np.zeros((T, B, H))
    for t in (reversed(range(T)) if reverse else range(T)):
        h_next, c_next = ref_cell(mode, x[t], h, c, w_ih, w_hh, b_ih, b_hh)
        active = np.ones(B, bool) if lengths is None else t < lengths
        a = active[:, None]
        out[t] = np.where(a, h_next, 0.0)
        h, c = np.where(a, h_next, h), np.where(a, c_next, c)
    return out, h, (c if mode == "lstm" else np.zeros(0))


def s_rnn_layer(draw, dt, m):
    mode = draw(st.sampled_from(sorted(GATES)))
    G = GATES[mode]
    sz = lambda small, big: draw(st.sampled_from(small if m.small else big))  # noqa: E731
    T, B = sz((1, 2, 3), (0, 1, 2, 5, 7)), sz((1, 2), (0, 1, 3))
    I, H = sz((1, 2), (0, 1, 3, 8)), sz((1, 2), (1, 2, 5, 9))
    bad = m.fuzz and draw(st.integers(0, 3)) == 0
    hx_shape = (B, H + 1) if bad and draw(st.booleans()) else (B, H)
    x = S.tensor(draw, m, (T, B, I), dt)
    hx = S.tensor(draw, m, hx_shape, dt)
    cx = S.tensor(draw, m, (B, H), dt) if mode == "lstm" else None
    w_ih = S.tensor(draw, m, (G * H, I + (1 if bad and draw(st.booleans()) else 0)), dt, WEIGHT_DOM)
    w_hh = S.tensor(draw, m, (G * H, H), dt, WEIGHT_DOM)
    with_bias = draw(st.booleans())
    b_ih = S.tensor(draw, m, (G * H,), dt, WEIGHT_DOM) if with_bias else None
    b_hh = S.tensor(draw, m, (G * H,), dt, WEIGHT_DOM) if with_bias or draw(st.booleans()) else None
    lengths = None
    if draw(st.booleans()):
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        hi = T + (2 if bad else 0)
        n = B + (1 if bad and draw(st.booleans()) else 0)
        lengths = S.const(rng.integers(0, hi + 1, n), "int64", role="index")
    return Sample(x, hx, cx, w_ih, w_hh, b_ih, b_hh, mode, draw(st.booleans()), lengths, dt=dt)


def entries():
    from op_db import OpInfo
    return [
        # float32 forward: default tolerance (the states are bounded by tanh / the gates;
        # the relu RNN's weights are small, WEIGHT_DOM). Gradients through every output.
        OpInfo("rnn_layer", "special", nc._C.ops.rnn_layer, ref_rnn_layer, s_rnn_layer,
               dtypes=("float32", "float64")),
    ]
