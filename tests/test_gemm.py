"""The packed GEMM behind matmul / bmm / linear / addmm, on every ISA path this
machine supports, against a float64 reference: every size 1..64, primes up to 300,
all four transpose combinations, non-contiguous batch views, beta in {0, 1} (with a
NaN-filled input when beta == 0), each fused epilogue, and bfloat16 operands.

Tolerance (scale-aware): |ours - ref| <= tol * sqrt(K) * (|A| @ |B| + |bias| + 1e-30).
"""
import math

import numpy as np
import pytest

import nn_core as nc
import nn_core.functional as F

SEED = 20261129
ISAS = nc._C._supported_isas()
PRIMES = [p for p in range(2, 301) if all(p % d for d in range(2, int(p ** 0.5) + 1))]


def check_close(ours, ref, scale, k, tol=1e-4, what=""):
    ours = np.asarray(ours, dtype=np.float64)
    bound = tol * math.sqrt(max(k, 1)) * (scale + 1e-30)
    bad = np.abs(ours - ref) > bound
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        raise AssertionError(f"{what}: mismatch at {idx}: ours {ours[idx]!r} ref {ref[idx]!r} bound {bound[idx]!r} "
                             f"({bad.sum()} of {bad.size} elements off)")


def operand(rng, rows, cols, transposed):
    """A (rows, cols) float32 tensor; transposed=True gives a transposed view (no copy)."""
    if transposed:
        base = rng.standard_normal((cols, rows)).astype(np.float32)
        return nc.from_numpy(base).T, base.T.astype(np.float64)
    base = rng.standard_normal((rows, cols)).astype(np.float32)
    return nc.from_numpy(base), base.astype(np.float64)


def test_backend_info_reports_kernel():
    info = nc.backend_info()
    assert info["isa"] in ("generic", "avx2", "avx512")
    assert info["sgemm_kernel"].startswith("sgemm_")
    assert isinstance(info["cpu_features"], dict)


def test_isa_override_is_visible():
    for name in ISAS:
        nc._C._set_isa(name)
        try:
            assert nc.backend_info()["isa"] == name
        finally:
            nc._C._set_isa(None)


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_every_size_1_to_64(isa, ta, tb):
    rng = np.random.default_rng(SEED)
    for s in range(1, 65):
        m, k, n = s, int(rng.integers(1, 65)), int(rng.integers(1, 65))
        a, a64 = operand(rng, m, k, ta)
        b, b64 = operand(rng, k, n, tb)
        check_close((a @ b).numpy(), a64 @ b64, np.abs(a64) @ np.abs(b64), k, what=f"{isa} {m}x{k}x{n} ta={ta} tb={tb}")
        # also each of the three dims at s with the others small
        for shape in ((s, 3, 5), (4, s, 6), (7, 2, s)):
            a, a64 = operand(rng, shape[0], shape[1], ta)
            b, b64 = operand(rng, shape[1], shape[2], tb)
            check_close((a @ b).numpy(), a64 @ b64, np.abs(a64) @ np.abs(b64), shape[1], what=f"{isa} {shape}")


def test_primes_up_to_300(isa):
    rng = np.random.default_rng(SEED + 1)
    for i, p in enumerate(PRIMES):
        q = PRIMES[(i * 7 + 3) % len(PRIMES)]
        r = PRIMES[(i * 13 + 5) % len(PRIMES)]
        for (m, k, n) in ((p, q, r), (r, p, q)):
            a, a64 = operand(rng, m, k, i % 2 == 1)
            b, b64 = operand(rng, k, n, i % 3 == 1)
            check_close((a @ b).numpy(), a64 @ b64, np.abs(a64) @ np.abs(b64), k, what=f"{isa} primes {m}x{k}x{n}")


def test_matches_reference_kernel(isa):
    """The GEMM against the library's plain matmul kernel (both float32)."""
    rng = np.random.default_rng(SEED + 2)
    for (b, m, k, n) in ((1, 1, 1, 1), (3, 17, 33, 65), (2, 129, 127, 131), (1, 1, 300, 257), (4, 250, 3, 1)):
        a = nc.from_numpy(rng.standard_normal((b, m, k)).astype(np.float32))
        w = nc.from_numpy(rng.standard_normal((b, k, n)).astype(np.float32))
        ref = nc._C._matmul_reference(a, w).numpy().astype(np.float64)
        scale = np.abs(a.numpy().astype(np.float64)) @ np.abs(w.numpy().astype(np.float64))
        check_close((a @ w).numpy(), ref, scale, k, what=f"{isa} vs reference kernel {(b, m, k, n)}")


def test_noncontiguous_batch_views(isa):
    rng = np.random.default_rng(SEED + 3)
    big = rng.standard_normal((6, 40, 50)).astype(np.float32)
    a = nc.from_numpy(big)[::2, 3:30:2, 1:40]           # (3, 14, 39) with steps in batch and rows
    a64 = big[::2, 3:30:2, 1:40].astype(np.float64)
    bbig = rng.standard_normal((3, 39, 60)).astype(np.float32)
    b = nc.from_numpy(bbig)[:, :, ::3]                   # (3, 39, 20) with a column step
    b64 = bbig[:, :, ::3].astype(np.float64)
    check_close((a @ b).numpy(), a64 @ b64, np.abs(a64) @ np.abs(b64), 39, what=f"{isa} strided batch")
    # transposed batch operands and a broadcast batch
    bt = nc.from_numpy(rng.standard_normal((3, 20, 39)).astype(np.float32)).transpose(1, 2)
    bt64 = bt.numpy().astype(np.float64)
    check_close(nc.bmm(a, bt).numpy(), a64 @ bt64, np.abs(a64) @ np.abs(bt64), 39, what=f"{isa} bmm transposed")
    single = nc.from_numpy(rng.standard_normal((39, 7)).astype(np.float32))
    s64 = single.numpy().astype(np.float64)
    check_close((a @ single).numpy(), a64 @ s64, np.abs(a64) @ np.abs(s64), 39, what=f"{isa} broadcast batch")


def check_addmm(rng, a, a64, b, b64, beta, alpha, what):
    """addmm(c, a, b, beta, alpha) against float64; with beta == 0, C holds NaN, which the
    GEMM must never read."""
    m, n = a64.shape[0], b64.shape[1]
    if beta == 0.0:
        c = nc.full((m, n), float("nan"))
        c64 = np.zeros((m, n))
    else:
        c = nc.from_numpy(rng.standard_normal((m, n)).astype(np.float32))
        c64 = c.numpy().astype(np.float64)
    out = nc.addmm(c, a, b, beta=beta, alpha=alpha).numpy()
    assert not np.isnan(out).any(), what
    ref = beta * c64 + alpha * (a64 @ b64)
    check_close(out, ref, alpha * np.abs(a64) @ np.abs(b64) + np.abs(c64), a64.shape[1], what=what)


@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_small_m_row_major_b(isa, beta):
    """GEMV-like products (M <= 4, row-major B: the small-M kernels) with N across the
    4096-column block and every vector tail, K not a multiple of 4, strided A rows and
    columns, and addmm's beta / alpha."""
    rng = np.random.default_rng(SEED + 40)
    for (m, k, n) in ((1, 1, 1), (1, 5, 7), (2, 7, 9), (3, 13, 17), (4, 33, 31), (1, 300, 4095),
                      (2, 9, 4097), (4, 6, 8200), (1, 1025, 4096)):
        big = rng.standard_normal((2 * m, 3 * k)).astype(np.float32)
        a = nc.from_numpy(big)[::2, ::3]  # strided rows and columns
        a64 = big[::2, ::3].astype(np.float64)
        b, b64 = operand(rng, k, n, False)
        check_addmm(rng, a, a64, b, b64, beta, 0.5, what=f"{isa} small-M {m}x{k}x{n} beta={beta}")
        check_close((a @ b).numpy(), a64 @ b64, np.abs(a64) @ np.abs(b64), k, what=f"{isa} small-M {m}x{k}x{n}")


@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_addmm_beta(isa, beta):
    rng = np.random.default_rng(SEED + 4)
    for (m, k, n) in ((1, 1, 1), (13, 64, 29), (100, 37, 300)):
        a, a64 = operand(rng, m, k, False)
        b, b64 = operand(rng, k, n, True)
        check_addmm(rng, a, a64, b, b64, beta, 1.5, what=f"{isa} addmm beta={beta}")


@pytest.mark.parametrize("activation", ["none", "relu", "gelu"])
@pytest.mark.parametrize("with_bias", [False, True])
def test_linear_epilogues(isa, activation, with_bias):
    rng = np.random.default_rng(SEED + 5)
    for (batch, k, n) in ((1, 1, 1), (33, 65, 17), (4, 768, 300)):
        x = nc.from_numpy(rng.standard_normal((batch, k)).astype(np.float32))
        w = nc.from_numpy(rng.standard_normal((n, k)).astype(np.float32))
        b = nc.from_numpy(rng.standard_normal(n).astype(np.float32)) if with_bias else None
        x64, w64 = x.numpy().astype(np.float64), w.numpy().astype(np.float64)
        pre = x64 @ w64.T + (b.numpy().astype(np.float64) if with_bias else 0.0)
        if activation == "relu":
            ref = np.maximum(pre, 0)
        elif activation == "gelu":
            from math import erf
            ref = 0.5 * pre * (1 + np.vectorize(erf)(pre / math.sqrt(2)))
        else:
            ref = pre
        scale = np.abs(x64) @ np.abs(w64.T) + (np.abs(b.numpy()) if with_bias else 0.0)
        check_close(F.linear(x, w, b, activation).numpy(), ref, scale, k, what=f"{isa} linear {activation}")


def test_linear_3d_input_and_float64_path():
    rng = np.random.default_rng(SEED + 6)
    x = nc.from_numpy(rng.standard_normal((2, 3, 5)))
    w = nc.from_numpy(rng.standard_normal((4, 5)))
    b = nc.from_numpy(rng.standard_normal(4))
    out = F.linear(x, w, b)
    assert out.dtype == nc.float64 and tuple(out.shape) == (2, 3, 4)
    np.testing.assert_allclose(out.numpy(), x.numpy() @ w.numpy().T + b.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("amx", [True, False])
def test_bfloat16_operands(isa, amx):
    """bfloat16 on each ISA, with the AMX tile kernel and with the AVX512-BF16 / converted paths."""
    nc._C._set_amx_enabled(amx)
    try:
        _check_bfloat16(isa)
    finally:
        nc._C._set_amx_enabled(True)


def _check_bfloat16(isa):
    rng = np.random.default_rng(SEED + 7)
    for (m, k, n) in ((1, 1, 1), (7, 64, 33), (64, 257, 129), (1, 512, 1000)):
        a = nc.from_numpy(rng.standard_normal((m, k)).astype(np.float32)).bfloat16()
        b = nc.from_numpy(rng.standard_normal((k, n)).astype(np.float32)).bfloat16()
        a64, b64 = a.float().numpy().astype(np.float64), b.float().numpy().astype(np.float64)
        out = a @ b
        assert out.dtype == nc.bfloat16
        # the product is exact in float32 accumulation; the bfloat16 result rounds (2^-8 relative)
        check_close(out.float().numpy(), a64 @ b64, np.abs(a64) @ np.abs(b64), k, tol=5e-3, what=f"{isa} bf16")
        fused = F.linear(a, b.T.contiguous(), None, "relu")
        check_close(fused.float().numpy(), np.maximum(a64 @ b64, 0), np.abs(a64) @ np.abs(b64), k, tol=5e-3,
                    what=f"{isa} bf16 linear")


def test_matmul_shape_errors():
    with pytest.raises(ValueError, match="cannot be multiplied"):
        nc.randn(3, 4) @ nc.randn(5, 6)
    with pytest.raises(ValueError, match="bmm"):
        nc.bmm(nc.randn(2, 3, 4), nc.randn(3, 4, 5))
    with pytest.raises(ValueError, match="in_features"):
        F.linear(nc.randn(3, 4), nc.randn(5, 6))
    with pytest.raises(ValueError, match="activation"):
        F.linear(nc.randn(3, 4), nc.randn(5, 4), None, "tanh")
    with pytest.raises(TypeError):
        nc.ones(2, 2, dtype=nc.int64) @ nc.ones(2, 2, dtype=nc.int64)


def test_gradcheck_matmul_and_linear():
    rng = np.random.default_rng(SEED + 8)
    a = nc.from_numpy(rng.standard_normal((2, 3, 4))).requires_grad_()
    b = nc.from_numpy(rng.standard_normal((4, 5))).requires_grad_()
    assert nc.autograd.gradcheck(lambda a, b: a @ b, [a, b])
    v = nc.from_numpy(rng.standard_normal(4)).requires_grad_()
    assert nc.autograd.gradcheck(lambda a, v: a @ v, [a, v])
    x = nc.from_numpy(rng.standard_normal((3, 4))).requires_grad_()
    w = nc.from_numpy(rng.standard_normal((5, 4))).requires_grad_()
    bias = nc.from_numpy(rng.standard_normal(5)).requires_grad_()
    for act in ("none", "relu", "gelu"):
        assert nc.autograd.gradcheck(lambda x, w, bias: F.linear(x, w, bias, act), [x, w, bias])
    c = nc.from_numpy(rng.standard_normal((3, 5))).requires_grad_()
    assert nc.autograd.gradcheck(lambda c, x, w: nc.addmm(c, x, w.T, beta=0.5, alpha=2.0), [c, x, w])


@pytest.mark.parametrize("activation", ["none", "relu", "gelu"])
def test_fused_float32_gradients_match_float64(activation):
    """The fused float32 path's backward (GEMM through transposed views) vs float64."""
    rng = np.random.default_rng(SEED + 9)
    x64 = rng.standard_normal((6, 2, 33))
    w64 = rng.standard_normal((17, 33))
    b64 = rng.standard_normal(17)
    grads = {}
    for dtype in (np.float32, np.float64):
        x = nc.from_numpy(x64.astype(dtype)).requires_grad_()
        w = nc.from_numpy(w64.astype(dtype)).requires_grad_()
        b = nc.from_numpy(b64.astype(dtype)).requires_grad_()
        (F.linear(x, w, b, activation) * nc.from_numpy(np.linspace(-1, 1, 17).astype(dtype))).sum().backward()
        grads[dtype] = [t.grad.numpy().astype(np.float64) for t in (x, w, b)]
    for g32, g64 in zip(grads[np.float32], grads[np.float64]):
        np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-4)


@pytest.fixture(params=["default", "packed", "direct"])
def linear_path(request):
    """The Linear-layout GEMM through the default choice, the packed path only, the direct path only."""
    nc._C._set_gemm_direct_linear_rows({"default": None, "packed": 0, "direct": 1 << 20}[request.param])
    yield request.param
    nc._C._set_gemm_direct_linear_rows(None)


def _linear_ref(x64, w64, b64, activation):
    pre = x64 @ w64.T + (b64 if b64 is not None else 0.0)
    if activation == "relu":
        return np.maximum(pre, 0)
    if activation == "gelu":
        return 0.5 * pre * (1 + np.vectorize(math.erf)(pre / math.sqrt(2)))
    return pre


def test_linear_layout_rows_1_to_40(isa, linear_path):
    """F.linear with a (N, K) weight (B = W^T, unit row stride: the direct kernels up to a per-ISA M,
    the transposing B pack above it) for every M in 1..40, odd K and N, a strided x, each epilogue."""
    rng = np.random.default_rng(SEED + 10)
    ks, ns = (1, 3, 15, 16, 17, 33, 100, 161), (1, 2, 3, 5, 7, 9, 31, 65)
    activations = ("none", "relu", "gelu")
    for m in range(1, 41):
        k, n = ks[(m * 5) % len(ks)], ns[(m * 7) % len(ns)]
        wide = rng.standard_normal((m, k + 3)).astype(np.float32)
        x = nc.from_numpy(wide)[:, 2:2 + k]  # row stride k + 3, unit column stride
        w = nc.from_numpy(rng.standard_normal((n, k)).astype(np.float32))
        with_bias = m % 2 == 0
        b = nc.from_numpy(rng.standard_normal(n).astype(np.float32)) if with_bias else None
        act = activations[m % 3]
        x64, w64 = wide[:, 2:2 + k].astype(np.float64), w.numpy().astype(np.float64)
        b64 = b.numpy().astype(np.float64) if with_bias else None
        scale = np.abs(x64) @ np.abs(w64.T) + (np.abs(b64) if with_bias else 0.0)
        check_close(F.linear(x, w, b, act).numpy(), _linear_ref(x64, w64, b64, act), scale, k,
                    what=f"{isa}/{linear_path} linear {m}x{k}->{n} {act} bias={with_bias}")


@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_linear_layout_addmm(isa, linear_path, beta):
    """addmm(c, x, W.T): alpha, beta (NaN-filled C when beta == 0) on the Linear layout."""
    rng = np.random.default_rng(SEED + 11)
    for (m, k, n) in ((1, 7, 5), (6, 33, 13), (23, 161, 37), (40, 64, 9), (45, 17, 70)):
        x, x64 = operand(rng, m, k, False)
        w = rng.standard_normal((n, k)).astype(np.float32)
        wt = nc.from_numpy(w).T
        c = nc.full((m, n), float("nan")) if beta == 0.0 else nc.from_numpy(rng.standard_normal((m, n)).astype(np.float32))
        c64 = np.zeros((m, n)) if beta == 0.0 else c.numpy().astype(np.float64)
        out = nc.addmm(c, x, wt, beta=beta, alpha=-1.25).numpy()
        ref = beta * c64 - 1.25 * (x64 @ w.T.astype(np.float64))
        check_close(out, ref, 1.25 * np.abs(x64) @ np.abs(w.T.astype(np.float64)) + np.abs(c64), k,
                    what=f"{isa}/{linear_path} addmm {m}x{k}->{n} beta={beta}")

