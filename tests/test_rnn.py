"""Recurrent layers (nn_core/nn/rnn.py over the rnn_layer op, csrc/ops/rnn.cpp) and
nn_core.nn.utils.rnn.

References: PyTorch (skipped without it) for outputs, final states and the gradients of
the input, the initial states and every parameter, after loading the torch module's
state_dict unchanged: float64 to 1e-10, float32 within 2e-5 (absolute + relative, the
float32 rounding of T steps of GEMM + gates). Without torch: the rnn_layer op against a
plain composition of existing nn_core ops (matmul, sigmoid, tanh, where), float64
gradcheck, the vectorised float32 cell kernel against the plain reference kernel
(NN_CORE generic ISA), and the input errors. Seeds are fixed (numpy default_rng)."""
import itertools

import numpy as np
import pytest

import nn_core as nc
from nn_core import nn
from nn_core.nn.utils.rnn import (PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence,
                                  pad_sequence)

try:
    import torch
except ImportError:  # the torch comparisons skip
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

TOL = {"float64": dict(rtol=1e-10, atol=1e-10), "float32": dict(rtol=2e-5, atol=2e-5)}
KINDS = {"LSTM": dict(cls="LSTM"), "GRU": dict(cls="GRU"), "RNN_TANH": dict(cls="RNN", nonlinearity="tanh"),
         "RNN_RELU": dict(cls="RNN", nonlinearity="relu")}


def np_of(t):
    if isinstance(t, nc.Tensor):
        t = t.detach()
        return np.array(t.to(nc.float64).numpy() if t.dtype != nc.int64 else t.numpy())
    return t.detach().double().numpy()


def close(ours, ref, dt, what):
    a, b = np_of(ours), np_of(ref)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    np.testing.assert_allclose(a, b, err_msg=what, **TOL[dt])


def make_pair(kind, dt, **kw):
    """(ours, torch's) with torch's weights loaded into ours through its state_dict."""
    spec = dict(KINDS[kind])
    cls = spec.pop("cls")
    kw = {**spec, **kw}
    ref = getattr(torch.nn, cls)(**kw).to(getattr(torch, dt))
    ours = getattr(nn, cls)(**kw, dtype=getattr(nc, dt))
    ours.load_state_dict({k: nc.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    return ours, ref


def leaf_pair(a, dt):
    return (nc.tensor(a, dtype=getattr(nc, dt), requires_grad=True),
            torch.tensor(a, dtype=getattr(torch, dt), requires_grad=True))


# ---------------------------------------------------------------- layers vs torch -------

CASES = list(itertools.product(KINDS, (1, 2), (False, True), (False, True), (False, True)))


@needs_torch
@pytest.mark.parametrize("kind,num_layers,bidirectional,batch_first,packed", CASES,
                         ids=[f"{k}-L{n}-{'bi' if b else 'uni'}-{'bf' if f else 'tf'}-{'packed' if p else 'dense'}"
                              for k, n, b, f, p in CASES])
@pytest.mark.parametrize("dt", ["float64", "float32"])
def test_layer_matches_torch(kind, num_layers, bidirectional, batch_first, packed, dt):
    rng = np.random.default_rng(CASES.index((kind, num_layers, bidirectional, batch_first, packed)))
    T, B, I, H = 6, 4, 5, 7
    ours, ref = make_pair(kind, dt, input_size=I, hidden_size=H, num_layers=num_layers, bidirectional=bidirectional,
                          batch_first=batch_first)
    x_np = rng.uniform(-1, 1, (B, T, I) if batch_first else (T, B, I))
    LD = num_layers * (2 if bidirectional else 1)
    h0_np, c0_np = rng.uniform(-1, 1, (LD, B, H)), rng.uniform(-1, 1, (LD, B, H))
    x, xt = leaf_pair(x_np, dt)
    h0, h0t = leaf_pair(h0_np, dt)
    c0, c0t = leaf_pair(c0_np, dt)
    hx, hxt = ((h0, c0), (h0t, c0t)) if kind == "LSTM" else (h0, h0t)
    lengths = [4, 6, 1, 3]  # unsorted: the packing sorts and the states come back in batch order
    if packed:
        inp = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
        inpt = torch.nn.utils.rnn.pack_padded_sequence(xt, lengths, batch_first=batch_first, enforce_sorted=False)
    else:
        inp, inpt = x, xt
    out, state = ours(inp, hx)
    outt, statet = ref(inpt, hxt)
    if packed:
        assert isinstance(out, PackedSequence)
        close(out.batch_sizes, outt.batch_sizes, "float64", "batch_sizes")
        out, out_len = pad_packed_sequence(out, batch_first=batch_first)
        outt, _ = torch.nn.utils.rnn.pad_packed_sequence(outt, batch_first=batch_first)
        assert out_len.tolist() == lengths
    close(out, outt, dt, "output")
    states, statest = (state, statet) if kind == "LSTM" else ((state,), (statet,))
    for i, (s, st) in enumerate(zip(states, statest)):
        close(s, st, dt, f"state {i}")

    # Gradients of a loss touching every output, w.r.t. input, states and parameters.
    w_out = rng.uniform(-1, 1, tuple(out.shape))
    w_h = [rng.uniform(-1, 1, tuple(s.shape)) for s in states]
    loss = (out * nc.tensor(w_out, dtype=out.dtype)).sum()
    losst = (outt * torch.tensor(w_out, dtype=outt.dtype)).sum()
    for s, st, w in zip(states, statest, w_h):
        loss = loss + (s * nc.tensor(w, dtype=s.dtype)).sum()
        losst = losst + (st * torch.tensor(w, dtype=st.dtype)).sum()
    loss.backward()
    losst.backward()
    close(x.grad, xt.grad, dt, "grad input")
    close(h0.grad, h0t.grad, dt, "grad h0")
    if kind == "LSTM":
        close(c0.grad, c0t.grad, dt, "grad c0")
    named_ref = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, named_ref[name].grad, dt, f"grad {name}")


@needs_torch
@pytest.mark.parametrize("kind", list(KINDS))
def test_unbatched_no_bias_default_state_matches_torch(kind):
    rng = np.random.default_rng(3)
    ours, ref = make_pair(kind, "float64", input_size=3, hidden_size=4, num_layers=2, bias=False)
    assert not any("bias" in k for k in ours.state_dict())
    x_np = rng.uniform(-1, 1, (5, 3))
    out, state = ours(nc.tensor(x_np))
    outt, statet = ref(torch.tensor(x_np))
    close(out, outt, "float64", "output")
    if kind == "LSTM":
        close(state[0], statet[0], "float64", "h_n")
        close(state[1], statet[1], "float64", "c_n")
    else:
        close(state, statet, "float64", "h_n")


@needs_torch
@pytest.mark.parametrize("kind", list(KINDS))
def test_state_dict_round_trip_with_torch(kind):
    ours, ref = make_pair(kind, "float32", input_size=3, hidden_size=5, num_layers=2, bidirectional=True)
    sd_ref = ref.state_dict()
    assert list(ours.state_dict()) == list(sd_ref)  # names and order as PyTorch
    ref2 = getattr(torch.nn, KINDS[kind]["cls"])(**{k: v for k, v in KINDS[kind].items() if k != "cls"},
                                                  input_size=3, hidden_size=5, num_layers=2, bidirectional=True)
    ref2.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in ours.state_dict().items()})
    for k, v in ref2.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), sd_ref[k].numpy(), err_msg=k)


def test_init_is_uniform_within_one_over_sqrt_hidden():
    nc.manual_seed(0)
    m = nn.LSTM(10, 16, num_layers=2, bidirectional=True)
    bound = 1 / np.sqrt(16)
    values = np.concatenate([p.detach().numpy().ravel() for p in m.parameters()])
    assert np.all(np.abs(values) <= bound) and values.std() > bound / 3
    assert set(m.state_dict()) == {f"{w}_l{k}{s}" for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                                   for k in (0, 1) for s in ("", "_reverse")}
    assert tuple(m.weight_ih_l1.shape) == (64, 32)


@needs_torch
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
@pytest.mark.parametrize("dt", ["float64", "float32"])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_torch(kind, dt, batched):
    rng = np.random.default_rng(11)
    spec = dict(KINDS[kind])
    cls = spec.pop("cls") + "Cell"
    ref = getattr(torch.nn, cls)(4, 6, **spec).to(getattr(torch, dt))
    ours = getattr(nn, cls)(4, 6, **spec, dtype=getattr(nc, dt))
    ours.load_state_dict({k: nc.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    shape = (3, 4) if batched else (4,)
    hshape = (3, 6) if batched else (6,)
    x, xt = leaf_pair(rng.uniform(-1, 1, shape), dt)
    h, ht = leaf_pair(rng.uniform(-1, 1, hshape), dt)
    c, ct = leaf_pair(rng.uniform(-1, 1, hshape), dt)
    if kind == "LSTM":
        (h1, c1), (h1t, c1t) = ours(x, (h, c)), ref(xt, (ht, ct))
        outs, outst = [h1, c1], [h1t, c1t]
    else:
        outs, outst = [ours(x, h)], [ref(xt, ht)]
    for o, ot in zip(outs, outst):
        close(o, ot, dt, "cell output")
    sum(((o * (i + 1)).sum() for i, o in enumerate(outs)), nc.tensor(0.0, dtype=outs[0].dtype)).backward()
    sum((o * (i + 1)).sum() for i, o in enumerate(outst)).backward()
    close(x.grad, xt.grad, dt, "grad x")
    close(h.grad, ht.grad, dt, "grad h")
    for name, p in dict(ref.named_parameters()).items():
        close(getattr(ours, name).grad, p.grad, dt, f"grad {name}")
    # No state given: zeros.
    out0 = ours(x)
    out0t = ref(xt)
    close(out0[0] if kind == "LSTM" else out0, out0t[0] if kind == "LSTM" else out0t, dt, "zero state")


def test_dropout_between_layers_only_in_training():
    rng = np.random.default_rng(6)
    m = nn.GRU(3, 8, num_layers=3, dropout=0.5, dtype=nc.float64)
    plain = nn.GRU(3, 8, num_layers=3, dtype=nc.float64)
    plain.load_state_dict(m.state_dict())
    x = nc.tensor(rng.uniform(-1, 1, (5, 2, 3)))
    m.eval()
    np.testing.assert_array_equal(m(x)[0].detach().numpy(), plain(x)[0].detach().numpy())
    m.train()
    nc.manual_seed(123)
    a = m(x)[0].detach().numpy()
    nc.manual_seed(123)
    b = m(x)[0].detach().numpy()
    np.testing.assert_array_equal(a, b)  # the masks come from the seeded generator
    assert np.abs(a - plain(x)[0].detach().numpy()).max() > 1e-3
    single = nn.GRU(3, 8, num_layers=1, dropout=0.5, dtype=nc.float64)  # no layer after the last: no dropout
    single.train()
    np.testing.assert_array_equal(single(x)[0].detach().numpy(), single.eval()(x)[0].detach().numpy())


# ---------------------------------------------------------- the op vs plain nn_core ops -----

def composite_layer(x, hx, cx, w_ih, w_hh, b_ih, b_hh, mode, reverse):
    """rnn_layer written with existing differentiable ops, one step at a time."""
    T, H = x.shape[0], hx.shape[1]
    h, c, outs = hx, cx, [None] * T
    for t in (reversed(range(T)) if reverse else range(T)):
        gx = nc.matmul(x[t], w_ih.transpose(0, 1)) + b_ih
        gh = nc.matmul(h, w_hh.transpose(0, 1)) + b_hh
        if mode == "lstm":
            g = gx + gh
            i, f, gg, o = g[:, :H].sigmoid(), g[:, H:2 * H].sigmoid(), g[:, 2 * H:3 * H].tanh(), g[:, 3 * H:].sigmoid()
            c = f * c + i * gg
            h = o * c.tanh()
        elif mode == "gru":
            r = (gx[:, :H] + gh[:, :H]).sigmoid()
            z = (gx[:, H:2 * H] + gh[:, H:2 * H]).sigmoid()
            n = (gx[:, 2 * H:] + r * gh[:, 2 * H:]).tanh()
            h = (1 - z) * n + z * h
        else:
            h = (gx + gh).tanh() if mode == "rnn_tanh" else (gx + gh).relu()
        outs[t] = h
    return nc.stack(outs, 0), h, c


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dt", ["float64", "float32"])
def test_fused_layer_matches_composite_of_existing_ops(mode, reverse, dt):
    rng = np.random.default_rng(5)
    G = {"lstm": 4, "gru": 3}.get(mode, 1)
    T, B, I, H = 7, 3, 5, 129 if dt == "float32" else 6  # 129: vector body plus a tail
    dtype = getattr(nc, dt)
    arrays = [rng.uniform(-1, 1, s) for s in [(T, B, I), (B, H), (B, H), (G * H, I), (G * H, H), (G * H,), (G * H,)]]
    arrays[3] *= 0.3
    arrays[4] *= 0.3
    a = [nc.tensor(v, dtype=dtype, requires_grad=True) for v in arrays]
    b = [nc.tensor(v, dtype=dtype, requires_grad=True) for v in arrays]
    cx_a = a[2] if mode == "lstm" else None
    out, h_n, c_n = nc._C.ops.rnn_layer(a[0], a[1], cx_a, a[3], a[4], a[5], a[6], mode, reverse, None)
    ref_out, ref_h, ref_c = composite_layer(b[0], b[1], b[2], b[3], b[4], b[5], b[6], mode, reverse)
    tol = TOL[dt] if dt == "float64" else dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np_of(out), np_of(ref_out), **tol)
    np.testing.assert_allclose(np_of(h_n), np_of(ref_h), **tol)
    if mode == "lstm":
        np.testing.assert_allclose(np_of(c_n), np_of(ref_c), **tol)
    else:
        assert tuple(c_n.shape) == (0,)
    w = nc.tensor(rng.uniform(-1, 1, (T, B, H)), dtype=dtype)
    loss = (out * w).sum() + h_n.sum() + (c_n.sum() if mode == "lstm" else 0)
    ref_loss = (ref_out * w).sum() + ref_h.sum() + (ref_c.sum() if mode == "lstm" else 0)
    loss.backward()
    ref_loss.backward()
    for i, (x, y) in enumerate(zip(a, b)):
        if i == 2 and mode != "lstm":
            continue
        want = np_of(y.grad)  # float32: sums of T*B products, so the absolute error scales with max |grad|
        scaled = dict(tol, atol=tol["atol"] * max(1.0, float(np.abs(want).max())))
        np.testing.assert_allclose(np_of(x.grad), want, err_msg=f"grad of input {i}", **scaled)


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_vectorised_cell_kernel_matches_reference_kernel(mode):
    """float32: the AVX2/AVX-512 path (vec_math sigmoid/tanh) against the plain loops
    (forced by the generic ISA), forward and backward, with lengths (padded rows)."""
    isas = [i for i in nc._C._supported_isas() if i != "generic"]
    if not isas:
        pytest.skip("no vector ISA on this CPU: only the reference kernel runs")
    rng = np.random.default_rng(8)
    G = {"lstm": 4, "gru": 3}.get(mode, 1)
    T, B, I, H = 5, 4, 6, 37
    arrays = [rng.uniform(-1, 1, s) for s in [(T, B, I), (B, H), (B, H), (G * H, I), (G * H, H), (G * H,), (G * H,)]]
    lengths = nc.tensor([5, 2, 0, 4], dtype=nc.int64)

    def run(isa):
        nc._C._set_isa(isa)
        try:
            a = [nc.tensor(v, dtype=nc.float32, requires_grad=True) for v in arrays]
            out, h, c = nc._C.ops.rnn_layer(a[0], a[1], a[2] if mode == "lstm" else None, a[3], a[4], a[5], a[6],
                                            mode, True, lengths)
            ((out * 1.5).sum() + (h * h).sum() + (c * c).sum()).backward()
            return [np_of(t) for t in (out, h, c)] + [np_of(t.grad) for i, t in enumerate(a)
                                                      if i != 2 or mode == "lstm"]
        finally:
            nc._C._set_isa(None)

    for isa in isas:
        for got, want in zip(run(isa), run("generic")):
            # float32 rounding of the two sigmoid/tanh versions, summed over rows: scale-aware.
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(want).max(initial=0.0))),
                                       err_msg=isa)


def test_padded_rows_keep_their_state_and_output_zeros():
    rng = np.random.default_rng(2)
    x = nc.tensor(rng.uniform(-1, 1, (4, 2, 3)))
    hx = nc.tensor(rng.uniform(-1, 1, (2, 5)))
    w_ih, w_hh = nc.tensor(rng.uniform(-1, 1, (5, 3))), nc.tensor(rng.uniform(-1, 1, (5, 5)))
    lengths = nc.tensor([4, 0], dtype=nc.int64)
    for reverse in (False, True):
        out, h, _ = nc._C.ops.rnn_layer(x, hx, None, w_ih, w_hh, None, None, "rnn_tanh", reverse, lengths)
        assert np.all(out.numpy()[:, 1] == 0)
        np.testing.assert_array_equal(h.numpy()[1], hx.numpy()[1])


def test_gradcheck_layers_float64():
    rng = np.random.default_rng(4)
    for cls in (nn.LSTM, nn.GRU, nn.RNN):
        m = cls(2, 3, num_layers=2, bidirectional=True, dtype=nc.float64)
        x = nc.tensor(rng.uniform(-1, 1, (3, 2, 2)), requires_grad=True)
        h0 = nc.tensor(rng.uniform(-1, 1, (4, 2, 3)), requires_grad=True)
        params = list(m.parameters())

        def f(x, h0, *ps):
            out, state = m(x, (h0, h0 * 0.5) if cls is nn.LSTM else h0)
            return out, state[0] if cls is nn.LSTM else state

        assert nc.autograd.gradcheck(f, [x, h0] + params, eps=1e-6, atol=1e-5, rtol=1e-3)


# --------------------------------------------------------------------------- errors -----

def test_bad_inputs_raise_clear_errors():
    m = nn.LSTM(4, 3, num_layers=2)
    with pytest.raises(ValueError, match="input_size. Expected 4, got 5"):
        m(nc.zeros(2, 1, 5))
    with pytest.raises(ValueError, match=r"h_0 of shape \(2, 1, 3\), got \(1, 1, 3\)"):
        m(nc.zeros(2, 1, 4), (nc.zeros(1, 1, 3), nc.zeros(2, 1, 3)))
    with pytest.raises(ValueError, match="c_0"):
        m(nc.zeros(2, 1, 4), (nc.zeros(2, 1, 3), nc.zeros(2, 2, 3)))
    with pytest.raises(ValueError, match=r"tuple \(h_0, c_0\)"):
        m(nc.zeros(2, 1, 4), nc.zeros(2, 1, 3))
    with pytest.raises(TypeError, match="dtype"):
        m(nc.zeros(2, 1, 4, dtype=nc.float64))
    with pytest.raises(ValueError, match="2 .unbatched. or 3"):
        m(nc.zeros(2, 1, 1, 4))
    g = nn.GRU(4, 3)
    with pytest.raises(ValueError, match="h_0 of shape"):
        g(nc.zeros(2, 1, 4), nc.zeros(1, 2, 3))
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(4, 3, proj_size=2)
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(4, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="inconsistent input_size"):
        nn.GRUCell(4, 3)(nc.zeros(2, 5))
    with pytest.raises(ValueError, match="hx of shape"):
        nn.RNNCell(4, 3)(nc.zeros(2, 4), nc.zeros(3, 3))
    with pytest.raises(TypeError, match="dtype"):
        nn.LSTMCell(4, 3)(nc.zeros(2, 4, dtype=nc.float64))


def test_op_errors_name_the_op_and_the_rule():
    x, h = nc.zeros(2, 1, 3), nc.zeros(1, 4)
    w_ih, w_hh = nc.zeros(16, 3), nc.zeros(16, 4)
    op = nc._C.ops.rnn_layer
    with pytest.raises(ValueError, match="rnn_layer: mode must be"):
        op(x, h, None, w_ih[:4], w_hh[:4], None, None, "lstn", False, None)
    with pytest.raises(ValueError, match="rnn_layer: mode 'lstm' needs the cell state"):
        op(x, h, None, w_ih, w_hh, None, None, "lstm", False, None)
    with pytest.raises(ValueError, match=r"rnn_layer: w_ih must have shape \(16, 3\)"):
        op(x, h, h, nc.zeros(16, 2), w_hh, None, None, "lstm", False, None)
    with pytest.raises(ValueError, match="rnn_layer: lengths\\[0\\] = 3 is outside"):
        op(x, h, h, w_ih, w_hh, None, None, "lstm", False, nc.tensor([3], dtype=nc.int64))
    with pytest.raises(TypeError, match="rnn_layer: lengths must be int64"):
        op(x, h, h, w_ih, w_hh, None, None, "lstm", False, nc.tensor([1], dtype=nc.int32))
    with pytest.raises(TypeError, match="float32 or float64"):
        op(x.to(nc.float16), h, h, w_ih, w_hh, None, None, "lstm", False, None)
    with pytest.raises(ValueError, match=r"rnn_layer: lengths\[0\] = 1 is outside \[0, 0\]"):
        op(nc.zeros(0, 1, 3), h, h, w_ih, w_hh, None, None, "lstm", False, nc.tensor([1], dtype=nc.int64))


# ------------------------------------------------------------------ utils.rnn -----------

def test_pack_pad_round_trip_and_gradients():
    rng = np.random.default_rng(9)
    x = nc.tensor(rng.uniform(-1, 1, (3, 5, 2)), requires_grad=True)  # (B, T, *), batch_first
    packed = pack_padded_sequence(x, [2, 5, 3], batch_first=True, enforce_sorted=False)
    assert packed.batch_sizes.tolist() == [3, 3, 2, 1, 1]
    assert packed.sorted_indices.tolist() == [1, 2, 0] and packed.unsorted_indices.tolist() == [2, 0, 1]
    padded, lengths = pad_packed_sequence(packed, batch_first=True, padding_value=-7.0, total_length=6)
    assert lengths.tolist() == [2, 5, 3] and tuple(padded.shape) == (3, 6, 2)
    p, xv = padded.detach().numpy(), x.detach().numpy()
    for b, n in enumerate([2, 5, 3]):
        np.testing.assert_array_equal(p[b, :n], xv[b, :n])
        assert np.all(p[b, n:] == -7.0)
    padded.sum().backward()
    mask = np.zeros((3, 5, 1))
    for b, n in enumerate([2, 5, 3]):
        mask[b, :n] = 1
    np.testing.assert_array_equal(x.grad.numpy(), np.broadcast_to(mask, (3, 5, 2)))
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        pack_padded_sequence(x, [2, 5, 3], batch_first=True)
    with pytest.raises(ValueError, match="exceeds"):
        pack_padded_sequence(x, [6, 5, 3], batch_first=True)


def test_pad_sequence_and_pack_sequence():
    seqs = [nc.tensor(np.full((n, 2), float(n))) for n in (3, 1, 2)]
    out = pad_sequence(seqs)
    assert tuple(out.shape) == (3, 3, 2)
    assert out.numpy()[:, 1, 0].tolist() == [1.0, 0.0, 0.0]
    left = pad_sequence(seqs, batch_first=True, padding_value=9.0, padding_side="left")
    assert left.numpy()[1, :, 0].tolist() == [9.0, 9.0, 1.0]
    packed = pack_sequence(seqs, enforce_sorted=False)
    assert packed.batch_sizes.tolist() == [3, 2, 1]
    if torch is not None:
        ref = torch.nn.utils.rnn.pad_sequence([torch.full((n, 2), float(n)) for n in (3, 1, 2)], batch_first=True)
        np.testing.assert_array_equal(pad_sequence(seqs, batch_first=True).numpy(), ref.double().numpy())


# --------------------------------------------------------- a small language model --------

@needs_torch
def test_lstm_language_model_trains_like_torch():
    """Embedding -> 2-layer LSTM -> Linear, 5 SGD steps on next-token cross entropy:
    the same losses as torch after copying torch's initial weights."""
    V, E, H, T, B = 17, 8, 12, 6, 4
    torch.manual_seed(0)

    class TorchLM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(V, E)
            self.rnn = torch.nn.LSTM(E, H, num_layers=2)
            self.head = torch.nn.Linear(H, V)

        def forward(self, tokens):
            out, _ = self.rnn(self.embed(tokens))
            return self.head(out)

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(V, E)
            self.rnn = nn.LSTM(E, H, num_layers=2)
            self.head = nn.Linear(H, V)

        def forward(self, tokens):
            out, _ = self.rnn(self.embed(tokens))
            return self.head(out)

    ref, ours = TorchLM().double(), LM().to(nc.float64)
    ours.load_state_dict({k: nc.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    rng = np.random.default_rng(1)
    data = rng.integers(0, V, (T + 1, B))
    inp, tgt = data[:-1], data[1:]
    opt_ref = torch.optim.SGD(ref.parameters(), lr=0.5)
    opt = nc.optim.SGD(ours.parameters(), lr=0.5)
    losses, losses_ref = [], []
    for _ in range(5):
        opt.zero_grad()
        logits = ours(nc.tensor(inp, dtype=nc.int64))
        loss = nn.functional.cross_entropy(logits.reshape(T * B, V), nc.tensor(tgt.reshape(-1), dtype=nc.int64))
        loss.backward()
        opt.step()
        losses.append(loss.item())
        opt_ref.zero_grad()
        logits_ref = ref(torch.tensor(inp))
        loss_ref = torch.nn.functional.cross_entropy(logits_ref.reshape(T * B, V), torch.tensor(tgt.reshape(-1)))
        loss_ref.backward()
        opt_ref.step()
        losses_ref.append(loss_ref.item())
    np.testing.assert_allclose(losses, losses_ref, rtol=1e-10, atol=1e-10)
    assert losses[-1] < losses[0]


# ------------------------------------------------------------ inference runtime -----------

def test_lstm_model_traces_and_replays_with_dynamic_batch_and_seq():
    """The runtime records every rnn_layer call (one per layer and direction) and replays
    the graph at other batch sizes and sequence lengths, matching eager exactly."""
    from nn_core.runtime import InferenceSession

    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(30, 8)
            self.rnn = nn.LSTM(8, 16, num_layers=2, batch_first=True, bidirectional=True)
            self.head = nn.Linear(32, 30)

        def forward(self, ids):
            return self.head(self.rnn(self.emb(ids))[0])

    nc.manual_seed(0)
    model = Tagger().eval()

    def ids(b, s):
        return nc.from_numpy(np.random.default_rng(b * 7 + s).integers(0, 30, (b, s)).astype(np.int64))

    sess = InferenceSession(model, ids(2, 5), dynamic_axes={0: {0: "batch", 1: "seq"}})
    assert str(sess.graph).count("rnn_layer(") == 4
    for b, s in [(2, 5), (1, 1), (3, 9), (4, 2)]:
        with nc.no_grad():
            want = model(ids(b, s)).numpy()
        np.testing.assert_allclose(sess.run(ids(b, s)).numpy(), want, rtol=1e-6, atol=1e-6)
