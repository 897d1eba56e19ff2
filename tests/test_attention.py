"""scaled_dot_product_attention: the fused flash-style kernel (csrc/cpu/attention_kernels.cpp)
against the readable float64 reference (nn_core.functional._sdpa_reference, the
materialised softmax built from differentiable ops), forward and every gradient, on
random shapes (odd lengths, Lq != Lk, head dims 16..256), each mask kind (bool, additive,
key padding, broadcast over batch/heads), causal, grouped-query attention, strided
inputs, bfloat16, every ISA path; gradcheck at small sizes; dropout regenerated from
the seed; the O(L*D) memory bound; error messages."""
import math

import numpy as np
import pytest

import nn_core as nc
import nn_core.functional as F

ISAS = nc._C._supported_isas()


def t64(a, requires_grad=False):
    return nc.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def make_mask(rng, kind, B, H, Lq, Lk):
    """Returns (mask as numpy array or None); every row keeps at least one key."""
    if kind == "none":
        return None
    if kind == "bool":
        m = rng.random((B, H, Lq, Lk)) > 0.3
    elif kind == "bool_2d":
        m = rng.random((Lq, Lk)) > 0.5
    elif kind == "key_padding":  # (B, 1, 1, Lk): pad the tail of each sequence
        m = np.ones((B, 1, 1, Lk), dtype=bool)
        for b in range(B):
            m[b, ..., rng.integers(1, Lk + 1):] = False
        return m
    elif kind == "additive":
        return rng.normal(0, 1, (B, H, Lq, Lk))
    elif kind == "additive_bcast":  # (1, H, 1, Lk), with -inf entries
        m = rng.normal(0, 1, (1, H, 1, Lk))
        m[..., rng.random(Lk) < 0.3] = -np.inf
        m[..., 0] = 0.0
        return m
    else:
        raise ValueError(kind)
    m[..., 0] = True
    return m


def mask_tensor(m, dtype):
    if m is None:
        return None
    if m.dtype == bool:
        return nc.tensor(m)
    return nc.tensor(m, dtype=dtype)


def run_case(rng, B, Hq, Hkv, Lq, Lk, D, Dv, mask_kind, causal, dtype=nc.float32, layout="contiguous",
             scale=None):
    q = rng.normal(0, 1, (B, Hq, Lq, D))
    k = rng.normal(0, 1, (B, Hkv, Lk, D))
    v = rng.normal(0, 1, (B, Hkv, Lk, Dv))
    g = rng.normal(0, 1, (B, Hq, Lq, Dv))
    m = make_mask(rng, mask_kind, B, Hq, Lq, Lk)
    if dtype == nc.bfloat16:  # the reference sees the values the kernel sees
        q, k, v, g = (nc.tensor(a).to(nc.bfloat16).to(nc.float64).numpy() for a in (q, k, v, g))

    def ours_input(a):
        if layout == "blhd":  # (B, L, H, D) memory viewed as (B, H, L, D), as multi-head attention does
            t = nc.tensor(np.ascontiguousarray(a.transpose(0, 2, 1, 3)), dtype=dtype).transpose(1, 2)
        else:
            t = nc.tensor(a, dtype=dtype)
        t.requires_grad_(True)
        return t

    qo, ko, vo = ours_input(q), ours_input(k), ours_input(v)
    out = F.scaled_dot_product_attention(qo, ko, vo, attn_mask=mask_tensor(m, dtype), is_causal=causal,
                                         scale=scale)
    out.backward(nc.tensor(g, dtype=dtype))
    qr, kr, vr = t64(q, True), t64(k, True), t64(v, True)
    ref = F._sdpa_reference(qr, kr, vr, attn_mask=mask_tensor(m, nc.float64), is_causal=causal, scale=scale)
    ref.backward(t64(g))
    tol = {nc.float32: 2e-5, nc.float64: 1e-11, nc.bfloat16: 3e-2}[dtype]
    pairs = [("out", out, ref), ("grad_q", qo.grad, qr.grad), ("grad_k", ko.grad, kr.grad),
             ("grad_v", vo.grad, vr.grad)]
    for name, got, want in pairs:
        got = got.detach().to(nc.float64).numpy()
        want = want.detach().numpy()
        assert got.shape == want.shape, (name, got.shape, want.shape)
        # scale-aware: errors of a sum of Lk terms scale with the largest terms
        bound = tol * (1 + np.abs(want).max())
        err = np.abs(got - want)
        assert np.isfinite(got).all(), name
        assert err.max() <= bound, (f"{name}: max error {err.max():.3g} > {bound:.3g} at "
                                    f"{np.unravel_index(err.argmax(), err.shape)}")


SHAPES = [  # (B, Hq, Hkv, Lq, Lk, D, Dv)
    (1, 1, 1, 1, 1, 16, 16),
    (2, 3, 3, 7, 13, 16, 16),
    (1, 2, 2, 129, 67, 32, 32),
    (2, 4, 2, 65, 130, 64, 64),  # GQA 2:1
    (1, 6, 1, 33, 200, 24, 40),  # multi-query, Dv != D
    (1, 2, 2, 131, 131, 80, 80),
    (1, 1, 1, 70, 257, 128, 128),
    (1, 2, 1, 19, 45, 256, 256),
]
MASKS = ["none", "bool", "bool_2d", "key_padding", "additive", "additive_bcast"]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("mask_kind", MASKS)
def test_fused_matches_reference(rng, shape, mask_kind):
    run_case(rng, *shape, mask_kind=mask_kind, causal=False)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("mask_kind", ["none", "key_padding", "additive"])
def test_fused_matches_reference_causal(rng, shape, mask_kind):
    run_case(rng, *shape, mask_kind=mask_kind, causal=True)


@pytest.mark.parametrize("case", [(2, 4, 2, 97, 61, 64, 64, "bool", True), (1, 3, 3, 45, 150, 16, 16, "additive", False),
                                  (3, 2, 1, 200, 33, 32, 48, "key_padding", True)])
def test_every_isa_matches_reference(rng, isa, case):
    *shape, mask_kind, causal = case
    run_case(rng, *shape, mask_kind=mask_kind, causal=causal)


# Edge tiles of the float32 AVX-512 and AVX2 forward and backward
# (csrc/cpu/attention_block_avx512.cpp: tasks of 64 queries, key blocks of 96, S^T tiles of
# 6 keys x 16..64 queries, P V and accumulate tiles of 6 rows x 16..64 columns with a
# masked tail, Dv > 64 in 64-column chunks, the backward's key split;
# attention_block_avx2.cpp: the same tasks with S^T tiles of 4 keys x 8..24 queries, the 8
# query vectors walked 3 + 3 + 2, accumulate tiles of 4 rows x 8..24 columns), run on
# every ISA so every path sees the same shapes.
TILE_CASES = [  # (B, Hq, Hkv, Lq, Lk, D, Dv, mask, causal)
    (1, 2, 2, 1, 1, 1, 1, "none", False),  # Lq < 6: the blocked path (row operations of the ISA)
    (2, 2, 1, 5, 37, 24, 19, "additive", True),
    (1, 1, 1, 6, 40, 32, 32, "bool", True),  # the smallest Lq of the AVX-512 path
    (1, 2, 1, 65, 97, 17, 96, "additive", True),
    (2, 2, 2, 130, 193, 40, 65, "bool", False),
    (1, 1, 1, 64, 96, 96, 129, "key_padding", True),
    (1, 3, 3, 17, 250, 256, 17, "additive_bcast", False),
    (1, 2, 2, 100, 50, 80, 80, "none", True),  # Lq > Lk, causal (top-left aligned)
    (1, 4, 2, 31, 300, 128, 128, "bool_2d", True),
    (1, 1, 1, 200, 7, 64, 64, "none", False),
    # fewer than 4 (batch, kv head) pairs and >= 8 key blocks: the backward splits the keys
    (1, 2, 1, 70, 800, 32, 48, "key_padding", False),
    (1, 2, 1, 70, 800, 32, 48, "additive", True),
    (1, 1, 1, 800, 800, 16, 16, "none", True),
    # AVX2: one query vector (Lq 6..8), every key tail of 4, 24-column chunks exact (D 24,
    # Dv 48), a one-lane tail (D 25, Dv 49), 7 and 8 query vectors (Lq 57, 64)
    (1, 2, 2, 8, 23, 8, 24, "bool", True),
    (1, 1, 1, 57, 101, 25, 49, "additive", False),
    (2, 2, 1, 64, 62, 24, 48, "key_padding", True),
    (1, 2, 2, 9, 99, 7, 9, "none", False),
]


@pytest.mark.parametrize("case", TILE_CASES, ids=lambda c: "x".join(map(str, c[:7])) + f"-{c[7]}-{c[8]}")
def test_forward_tiles_every_isa(rng, isa, case):
    *shape, mask_kind, causal = case
    run_case(rng, *shape, mask_kind=mask_kind, causal=causal)


def test_fast_forward_matches_generic_float32(rng):
    """The ISA-specific float32 forward against the generic blocked forward (its plain
    reference) on the same inputs, strided (B, L, H, D) views and a mask included."""
    if len(ISAS) < 2:
        pytest.skip("only the generic path on this machine")
    B, H, Lq, Lk, D = 2, 3, 77, 131, 48
    q, k, v = (nc.tensor(np.ascontiguousarray(rng.normal(0, 1, (B, L, H, D))), dtype=nc.float32).transpose(1, 2)
               for L in (Lq, Lk, Lk))
    m = nc.tensor(rng.normal(0, 1, (Lq, Lk)), dtype=nc.float32)
    outs = {}
    for name in ISAS:
        nc._C._set_isa(name)
        try:
            outs[name] = [F.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=c).numpy() for c in (0, 1)]
        finally:
            nc._C._set_isa(None)
    for name in ISAS:
        for got, want in zip(outs[name], outs["generic"]):
            np.testing.assert_allclose(got, want, atol=2e-6, rtol=1e-5)


def test_rows_masked_in_early_key_blocks_float32(rng, isa):
    """Rows that see nothing in the first key blocks (the running max stays -inf, then
    becomes finite), rows that see nothing at all (zeros, zero gradients), float32."""
    B, H, Lq, Lk, D = 1, 2, 70, 230, 32
    q, k, v = (rng.normal(0, 1, (B, H, L, D)) for L in (Lq, Lk, Lk))
    m = np.ones((Lq, Lk), dtype=bool)
    m[::2, :200] = False  # even rows: only the last 30 keys (third key block)
    m[5] = False
    m[69] = False
    qo, ko, vo = (nc.tensor(a, dtype=nc.float32, requires_grad=True) for a in (q, k, v))
    out = F.scaled_dot_product_attention(qo, ko, vo, attn_mask=nc.tensor(m))
    out.sum().backward()
    ref = F._sdpa_reference(t64(q), t64(k), t64(v), attn_mask=mask_tensor(m, nc.float64)).numpy()
    o = out.detach().numpy()
    assert np.all(o[:, :, [5, 69]] == 0) and np.all(qo.grad.numpy()[:, :, [5, 69]] == 0)
    ref[:, :, [5, 69]] = 0  # the reference's softmax of an all -inf row is NaN
    np.testing.assert_allclose(o, ref, atol=2e-5)


@pytest.mark.parametrize("lq", [20, 5], ids=["tiled", "blocked"])
def test_nan_query_row_gives_nan_row(rng, isa, lq):
    """A NaN in one query row makes that output row NaN and leaves the others alone (the
    register-tiled tasks, and the blocked kernel's row operations below 6 queries)."""
    q, k, v = (rng.normal(0, 1, (1, 2, L, 16)).astype(np.float32) for L in (lq, 30, 30))
    q[0, 1, 3, 3] = np.nan
    out = F.scaled_dot_product_attention(nc.tensor(q), nc.tensor(k), nc.tensor(v)).numpy()
    assert np.isnan(out[0, 1, 3]).all()
    out[0, 1, 3] = 0
    assert np.isfinite(out).all()


def test_strided_inputs_and_scale(rng):
    run_case(rng, 2, 3, 3, 37, 53, 32, 32, "bool", False, layout="blhd", scale=0.3)
    run_case(rng, 1, 4, 2, 64, 64, 16, 16, "none", True, layout="blhd")


def test_float64_fused_kernel_is_exact(rng):
    """The same blocked algorithm in double precision agrees with the reference to ~1e-12."""
    run_case(rng, 1, 4, 2, 37, 41, 16, 24, "additive_bcast", True, dtype=nc.float64)


@pytest.mark.parametrize("mask_kind,causal", [("none", True), ("bool", False), ("additive", False)])
def test_bfloat16(rng, mask_kind, causal):
    run_case(rng, 2, 2, 1, 45, 77, 64, 64, mask_kind, causal, dtype=nc.bfloat16)


@pytest.mark.parametrize("causal,mask_kind,gqa", [(False, "none", False), (True, "none", True),
                                                  (False, "additive", True), (True, "bool", False)])
def test_gradcheck_small(rng, causal, mask_kind, gqa):
    B, Hq, Lq, Lk, D = 1, 2, 5, 7, 3
    Hkv = 1 if gqa else Hq
    q = t64(rng.normal(0, 1, (B, Hq, Lq, D)), True)
    k = t64(rng.normal(0, 1, (B, Hkv, Lk, D)), True)
    v = t64(rng.normal(0, 1, (B, Hkv, Lk, 4)), True)
    m = mask_tensor(make_mask(rng, mask_kind, B, Hq, Lq, Lk), nc.float64)
    f = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=causal)
    assert nc.autograd.gradcheck(f, [q, k, v])


def test_fully_masked_rows_give_zeros(rng):
    q, k, v = (nc.tensor(rng.normal(0, 1, (1, 1, 4, 8)), requires_grad=True) for _ in range(3))
    m = nc.tensor(np.array([[True] * 4, [False] * 4, [True, False, False, True], [False] * 4]))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
    out.sum().backward()
    o = out.detach().numpy()
    assert np.all(o[0, 0, 1] == 0) and np.all(o[0, 0, 3] == 0) and np.isfinite(o).all()
    assert np.all(q.grad.numpy()[0, 0, 1] == 0)
    assert np.isfinite(k.grad.numpy()).all() and np.isfinite(v.grad.numpy()).all()


# ---- dropout --------------------------------------------------------------------------------

def test_dropout_mask_is_seeded_and_regenerated_in_backward(rng, isa):
    """With q = 0 every probability is 1/Lk and v = I reveals the kept mask in the output;
    the reference with that mask must then give the same output and gradients for
    arbitrary inputs drawn at the same generator state."""
    B, H, L, p = 2, 3, 40, 0.3
    eye = nc.tensor(np.broadcast_to(np.eye(L), (B, H, L, L)).copy(), dtype=nc.float32)
    nc.manual_seed(123)
    probe = F.scaled_dot_product_attention(nc.zeros(B, H, L, 8), nc.zeros(B, H, L, 8), eye, dropout_p=p).numpy()
    keep = probe > 0
    assert np.allclose(probe[keep], 1 / (L * (1 - p)))
    assert abs(keep.mean() - (1 - p)) < 0.03
    nc.manual_seed(123)
    again = F.scaled_dot_product_attention(nc.zeros(B, H, L, 8), nc.zeros(B, H, L, 8), eye, dropout_p=p).numpy()
    assert np.array_equal(probe, again)

    q, k, v, g = (rng.normal(0, 1, (B, H, L, 16)) for _ in range(4))
    qo, ko, vo = (nc.tensor(a, dtype=nc.float32, requires_grad=True) for a in (q, k, v))
    nc.manual_seed(123)
    out = F.scaled_dot_product_attention(qo, ko, vo, dropout_p=p, is_causal=True)
    out.backward(nc.tensor(g, dtype=nc.float32))
    qr, kr, vr = t64(q, True), t64(k, True), t64(v, True)
    ref = F._sdpa_reference(qr, kr, vr, is_causal=True, dropout_mask=nc.tensor(keep), dropout_p=p)
    ref.backward(t64(g))
    for got, want in [(out, ref), (qo.grad, qr.grad), (ko.grad, kr.grad), (vo.grad, vr.grad)]:
        got, want = got.detach().numpy(), want.detach().numpy()
        np.testing.assert_allclose(got, want, atol=3e-5 * (1 + np.abs(want).max()))


def test_dropout_gradcheck_with_fixed_seed(rng):
    q, k, v = (t64(rng.normal(0, 1, (1, 2, 6, 4)), True) for _ in range(3))

    def f(q, k, v):
        nc.manual_seed(7)
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    assert nc.autograd.gradcheck(f, [q, k, v])


# ---- memory ----------------------------------------------------------------------------------

def test_memory_is_linear_in_sequence_length():
    """(B, H, L, D) = (1, 12, 4096, 64), forward + backward. The L x L scores would take
    B*H*L*L*4 = 805 MB. Everything we allocate is O(B*H*L*D): q, k, v, out, lse, grad_out,
    dq, dk, dv, each 12.6 MB. Stated bound above what exists before the call: 8 such
    tensors (101 MB), an eighth of the score matrix (measured: about 4 of them)."""
    B, H, L, D = 1, 12, 4096, 64
    nc.manual_seed(0)
    q, k, v = (nc.randn(B, H, L, D, requires_grad=True) for _ in range(3))
    g = nc.randn(B, H, L, D)
    nc.empty_cache()
    nc.reset_peak_memory_stats()
    base = nc.memory_stats()["bytes_in_use"]
    out = F.scaled_dot_product_attention(q, k, v)
    out.backward(g)
    peak = nc.memory_stats()["peak_bytes"]
    tensor_bytes = B * H * L * D * 4
    bound = 8 * tensor_bytes
    assert peak - base < bound, f"peak {peak - base} bytes above the O(L*D) bound {bound}"
    assert bound <= B * H * L * L * 4 / 8
    assert q.grad.shape == (B, H, L, D) and np.isfinite(q.grad.numpy()).all()


# ---- errors ----------------------------------------------------------------------------------

def test_errors_name_the_op_and_the_rule():
    q, k, v = nc.randn(1, 4, 5, 8), nc.randn(1, 3, 6, 8), nc.randn(1, 3, 6, 8)
    with pytest.raises(ValueError, match="scaled_dot_product_attention.*multiple"):
        F.scaled_dot_product_attention(q, k, v)
    with pytest.raises(ValueError, match="scaled_dot_product_attention.*head dim"):
        F.scaled_dot_product_attention(nc.randn(1, 3, 5, 4), k, v)
    with pytest.raises(ValueError, match="scaled_dot_product_attention.*same length"):
        F.scaled_dot_product_attention(nc.randn(1, 3, 5, 8), k, nc.randn(1, 3, 7, 8))
    with pytest.raises(TypeError, match="scaled_dot_product_attention.*dtype"):
        F.scaled_dot_product_attention(nc.randn(1, 3, 5, 8), k.double(), v)
    with pytest.raises(ValueError, match="attn_mask.*broadcast"):
        F.scaled_dot_product_attention(nc.randn(1, 3, 5, 8), k, v, attn_mask=nc.ones(5, 5, dtype=nc.bool))
    with pytest.raises(ValueError, match="dropout_p"):
        F.scaled_dot_product_attention(nc.randn(1, 3, 5, 8), k, v, dropout_p=1.5)
    with pytest.raises(ValueError, match=r"\(B, H, L, D\)"):
        F.scaled_dot_product_attention(nc.randn(5, 8), nc.randn(6, 8), nc.randn(6, 8))
    with pytest.raises(RuntimeError, match="attn_mask"):
        F.scaled_dot_product_attention(nc.randn(1, 3, 5, 8), k, v, attn_mask=nc.zeros(5, 6, requires_grad=True))


def test_three_dim_inputs_and_empty_sizes():
    q, k, v = nc.randn(2, 5, 8), nc.randn(2, 6, 8), nc.randn(2, 6, 3)
    out = F.scaled_dot_product_attention(q, k, v)
    ref = F._sdpa_reference(q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0)).squeeze(0)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=1e-5)
    assert F.scaled_dot_product_attention(nc.randn(1, 2, 0, 8), nc.randn(1, 2, 4, 8),
                                          nc.randn(1, 2, 4, 8)).shape == (1, 2, 0, 8)
    z = F.scaled_dot_product_attention(nc.randn(1, 2, 3, 8), nc.randn(1, 2, 0, 8), nc.randn(1, 2, 0, 8))
    assert z.shape == (1, 2, 3, 8) and np.all(z.numpy() == 0)
