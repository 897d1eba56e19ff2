"""Transformer modules (nn_core/nn/transformer.py): PyTorch parameter names and layouts,
outputs equal to PyTorch's after loading a torch state_dict (skipped without torch),
masks in MultiheadAttention's conventions, gradients flowing to every parameter."""
import numpy as np
import pytest

import nn_core as nc
import nn_core.nn as nn


def to_nc_state(torch_sd):
    return {k: nc.tensor(v.detach().numpy()) for k, v in torch_sd.items()}


def test_parameter_names_match_pytorch():
    layer = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32)
    names = set(layer.state_dict())
    assert {"self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
            "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
            "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"} == names
    assert layer.self_attn.in_proj_weight.shape == (48, 16) and layer.linear1.weight.shape == (32, 16)
    enc = nn.TransformerEncoder(layer, 2)
    assert "layers.1.self_attn.in_proj_weight" in enc.state_dict()


def test_encoder_backward_reaches_every_parameter(rng):
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 4, 32, dropout=0.1, batch_first=True,
                                                           norm_first=True), 2, norm=nn.LayerNorm(16))
    x = nc.tensor(rng.normal(0, 1, (2, 9, 16)), dtype=nc.float32)
    pad = nc.tensor(np.array([[False] * 9, [False] * 6 + [True] * 3]))
    enc(x, src_key_padding_mask=pad).sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and np.isfinite(p.grad.numpy()).all(), name


def test_embedding_rmsnorm_modules(rng):
    emb = nn.Embedding(10, 4, padding_idx=0)
    assert np.all(emb.weight.detach().numpy()[0] == 0)
    idx = nc.tensor(np.array([[0, 3, 3], [9, 0, 1]]))
    out = nn.RMSNorm(4)(emb(idx))
    out.sum().backward()
    assert out.shape == (2, 3, 4) and np.all(emb.weight.grad.numpy()[0] == 0)
    d = nn.Dropout(0.5)
    d.eval()
    x = nc.randn(5)
    assert np.array_equal(d(x).numpy(), x.numpy())


torch = pytest.importorskip("torch")


def _masks(kind, B, L):
    rng = np.random.default_rng(5)
    if kind == "none":
        return None, None
    if kind == "key_padding":
        m = np.zeros((B, L), bool)
        m[1, L - 3:] = True
        return None, m
    if kind == "attn_bool":
        m = rng.random((L, L)) < 0.3
        np.fill_diagonal(m, False)
        return m, None
    if kind == "attn_float_and_padding":
        a = rng.normal(0, 1, (L, L)).astype(np.float32)
        m = np.zeros((B, L), bool)
        m[0, L - 2:] = True
        return a, np.where(m, -np.inf, 0.0).astype(np.float32)  # torch wants one mask dtype
    raise ValueError(kind)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("mask_kind", ["none", "key_padding", "attn_bool", "attn_float_and_padding"])
def test_multihead_attention_matches_torch(rng, batch_first, mask_kind):
    E, H, B, L = 32, 4, 3, 11
    ref = torch.nn.MultiheadAttention(E, H, batch_first=batch_first).eval()
    ours = nn.MultiheadAttention(E, H, batch_first=batch_first).eval()
    ours.load_state_dict(to_nc_state(ref.state_dict()))
    x = rng.normal(0, 1, (B, L, E) if batch_first else (L, B, E)).astype(np.float32)
    am, kpm = _masks(mask_kind, B, L)
    tm = lambda a: None if a is None else torch.tensor(a)
    nm = lambda a: None if a is None else nc.tensor(a)
    for need_weights in (False, True):
        want, w_want = ref(torch.tensor(x), torch.tensor(x), torch.tensor(x), key_padding_mask=tm(kpm),
                           attn_mask=tm(am), need_weights=need_weights)
        xn = nc.tensor(x)
        got, w_got = ours(xn, xn, xn, key_padding_mask=nm(kpm), attn_mask=nm(am), need_weights=need_weights)
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), atol=2e-5, rtol=1e-4)
        if need_weights:
            np.testing.assert_allclose(w_got.detach().numpy(), w_want.detach().numpy(), atol=2e-6)
    # cross-attention (different key/value tensors)
    y = rng.normal(0, 1, x.shape).astype(np.float32)
    want, _ = ref(torch.tensor(x), torch.tensor(y), torch.tensor(y), need_weights=False)
    got, _ = ours(nc.tensor(x), nc.tensor(y), nc.tensor(y), need_weights=False)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_encoder_layer_matches_torch(rng, norm_first, activation, batch_first):
    E, H, B, L = 32, 4, 2, 13
    kw = dict(dim_feedforward=64, dropout=0.0, activation=activation, batch_first=batch_first,
              norm_first=norm_first)
    ref = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, H, **kw), 2,
                                      enable_nested_tensor=False).eval()
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, **kw), 2).eval()
    ours.load_state_dict(to_nc_state(ref.state_dict()))
    x = rng.normal(0, 1, (B, L, E) if batch_first else (L, B, E)).astype(np.float32)
    kpm = np.zeros((B, L), bool)
    kpm[1, L - 4:] = True
    want = ref(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm)).detach().numpy()
    got = ours(nc.tensor(x), src_key_padding_mask=nc.tensor(kpm)).detach().numpy()
    # torch zeroes padded positions only on its fast path; compare the real tokens
    keep = ~kpm if batch_first else ~kpm.T
    np.testing.assert_allclose(got[keep], want[keep], atol=5e-5, rtol=1e-4)
    # causal
    want = ref(torch.tensor(x), mask=torch.nn.Transformer.generate_square_subsequent_mask(L), is_causal=True)
    got = ours(nc.tensor(x), is_causal=True)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), atol=5e-5, rtol=1e-4)


def test_encoder_layer_gradients_match_torch(rng):
    E, H, B, L = 16, 2, 2, 7
    ref = torch.nn.TransformerEncoderLayer(E, H, 32, dropout=0.0, batch_first=True)
    ours = nn.TransformerEncoderLayer(E, H, 32, dropout=0.0, batch_first=True)
    ours.load_state_dict(to_nc_state(ref.state_dict()))
    x = rng.normal(0, 1, (B, L, E)).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    xn = nc.tensor(x, requires_grad=True)
    (ref(xt) ** 2).sum().backward()
    (ours(xn) ** 2).sum().backward()
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), atol=1e-4, rtol=1e-3)
    for (n1, p1), (n2, p2) in zip(sorted(ours.named_parameters()), sorted(ref.named_parameters())):
        assert n1 == n2
        np.testing.assert_allclose(p1.grad.numpy(), p2.grad.numpy(), atol=1e-4, rtol=1e-3, err_msg=n1)


def test_functional_matches_torch(rng):
    import torch.nn.functional as TF
    q, k, v = (rng.normal(0, 1, (2, 4, 33, 16)).astype(np.float32) for _ in range(3))
    m = rng.random((2, 1, 33, 33)) > 0.3
    m[..., 0] = True
    want = TF.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v),
                                           attn_mask=torch.tensor(m))
    got = nc.functional.scaled_dot_product_attention(nc.tensor(q), nc.tensor(k), nc.tensor(v), attn_mask=nc.tensor(m))
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)
    x = rng.normal(0, 1, (4, 6, 10)).astype(np.float32)
    w, b = rng.normal(0, 1, 10).astype(np.float32), rng.normal(0, 1, 10).astype(np.float32)
    np.testing.assert_allclose(
        nc.functional.layer_norm(nc.tensor(x), 10, nc.tensor(w), nc.tensor(b)).numpy(),
        TF.layer_norm(torch.tensor(x), (10,), torch.tensor(w), torch.tensor(b)).numpy(), atol=1e-5)
    np.testing.assert_allclose(
        nc.functional.rms_norm(nc.tensor(x), [6, 10]).numpy(), TF.rms_norm(torch.tensor(x), [6, 10]).numpy(),
        atol=1e-5)
