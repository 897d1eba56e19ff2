"""TransformerDecoderLayer, TransformerDecoder and nn.Transformer: PyTorch's parameter
names, outputs and gradients equal to torch's after loading its state_dict (skipped
without torch; float64 tight, float32 within 1e-4), masks, the square subsequent mask."""
import numpy as np
import pytest

import nn_core as nc
import nn_core.nn as nn


def to_nc_state(torch_sd):
    return {k: nc.tensor(v.detach().numpy()) for k, v in torch_sd.items()}


def test_parameter_names_and_backward_reach_every_parameter(rng):
    layer = nn.TransformerDecoderLayer(16, 4, dim_feedforward=32, batch_first=True)
    assert {"multihead_attn.in_proj_weight", "norm3.weight", "self_attn.out_proj.bias", "linear2.bias"} <= \
        set(layer.state_dict())
    model = nn.Transformer(16, 4, 2, 2, 32, dropout=0.1, batch_first=True)
    sd = model.state_dict()
    assert "encoder.layers.1.linear1.weight" in sd and "decoder.layers.1.multihead_attn.out_proj.weight" in sd
    assert "encoder.norm.weight" in sd and "decoder.norm.bias" in sd
    src = nc.tensor(rng.normal(0, 1, (2, 7, 16)), dtype=nc.float32)
    tgt = nc.tensor(rng.normal(0, 1, (2, 5, 16)), dtype=nc.float32)
    out = model(src, tgt, tgt_mask=nn.Transformer.generate_square_subsequent_mask(5))
    assert out.shape == (2, 5, 16)
    out.sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and np.isfinite(p.grad.numpy()).all(), name


def test_square_subsequent_mask():
    m = nn.Transformer.generate_square_subsequent_mask(4).numpy()
    assert m.dtype == np.float32 and np.all(m[np.tril_indices(4)] == 0) and np.all(np.isneginf(m[np.triu_indices(4, 1)]))


def test_bad_inputs():
    model = nn.Transformer(8, 2, 1, 1, 16)
    with pytest.raises(RuntimeError, match="batch number"):
        model(nc.randn(5, 2, 8), nc.randn(4, 3, 8))
    with pytest.raises(RuntimeError, match="d_model 8"):
        model(nc.randn(5, 2, 8), nc.randn(4, 2, 6))
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerDecoderLayer(8, 2, activation="tanh")


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_decoder_matches_torch(rng, norm_first, batch_first, activation):
    E, H, B, L, S = 32, 4, 2, 9, 11
    kw = dict(dim_feedforward=48, dropout=0.0, activation=activation, batch_first=batch_first,
              norm_first=norm_first)
    ref = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(E, H, **kw), 2,
                                      norm=torch.nn.LayerNorm(E)).eval()
    ours = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, **kw), 2, norm=nn.LayerNorm(E)).eval()
    ours.load_state_dict(to_nc_state(ref.state_dict()))
    shape = lambda n: (B, n, E) if batch_first else (n, B, E)
    tgt, mem = rng.normal(0, 1, shape(L)).astype(np.float32), rng.normal(0, 1, shape(S)).astype(np.float32)
    mpad = np.zeros((B, S), bool)
    mpad[1, S - 3:] = True
    tmask = torch.nn.Transformer.generate_square_subsequent_mask(L)
    want = ref(torch.tensor(tgt), torch.tensor(mem), tgt_mask=tmask, memory_key_padding_mask=torch.tensor(mpad),
               tgt_is_causal=True).detach().numpy()
    got = ours(nc.tensor(tgt), nc.tensor(mem), tgt_mask=nn.Transformer.generate_square_subsequent_mask(L),
               memory_key_padding_mask=nc.tensor(mpad), tgt_is_causal=True).detach().numpy()
    np.testing.assert_allclose(got, want, atol=5e-5, rtol=1e-4)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_transformer_outputs_and_gradients_match_torch(rng, dtype):
    E, H, B, L, S = 16, 2, 3, 6, 8
    tdt, ndt = getattr(torch, dtype), getattr(nc, dtype)
    ref = torch.nn.Transformer(E, H, 2, 2, 24, dropout=0.0, batch_first=True).to(tdt)
    ours = nn.Transformer(E, H, 2, 2, 24, dropout=0.0, batch_first=True, dtype=ndt)
    ours.load_state_dict(to_nc_state(ref.state_dict()))
    src, tgt = rng.normal(0, 1, (B, S, E)), rng.normal(0, 1, (B, L, E))
    spad = np.zeros((B, S), bool)
    spad[0, S - 2:] = True
    ts, tt = torch.tensor(src, dtype=tdt, requires_grad=True), torch.tensor(tgt, dtype=tdt, requires_grad=True)
    ns, nt = nc.tensor(src, dtype=ndt, requires_grad=True), nc.tensor(tgt, dtype=ndt, requires_grad=True)
    want = ref(ts, tt, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(L, dtype=tdt),
               src_key_padding_mask=torch.tensor(spad), memory_key_padding_mask=torch.tensor(spad))
    got = ours(ns, nt, tgt_mask=nn.Transformer.generate_square_subsequent_mask(L, dtype=ndt),
               src_key_padding_mask=nc.tensor(spad), memory_key_padding_mask=nc.tensor(spad))
    tol = dict(atol=1e-10, rtol=1e-9) if dtype == "float64" else dict(atol=1e-4, rtol=1e-3)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), **tol)
    (want ** 2).sum().backward()
    (got ** 2).sum().backward()
    np.testing.assert_allclose(ns.grad.numpy(), ts.grad.numpy(), **tol)
    np.testing.assert_allclose(nt.grad.numpy(), tt.grad.numpy(), **tol)
    theirs = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), err_msg=name, **tol)
