"""Autograd: an op's forward and backward together, nn_core beside torch.

Each case runs y = op(x) on inputs that require grad and y.backward(g) with a fixed
gradient g of y's shape, so the time covers the forward kernel, the node the op's
derivative formula records (csrc/ops/ops.schema) and the formula's ops in backward.

Cases (float32, 1e6 elements unless named):
  relu / tanh / gelu fwd+bwd    activations whose formula names a fused derivative row
  exp / sin / sqrt / erf fwd+bwd derivatives written as formulas over ops (1-3 ops each)
  mul bcast fwd+bwd             a (1000x1000) * b (1000,): b's gradient sums over rows
  sum fwd+bwd                   the full reduction; its gradient is an expand
  add 1 elem fwd+bwd (overhead) a + b on one-element tensors: the fixed cost of one
                                recorded node and one backward pass
at 1 and 2 threads (torch.set_num_threads the same). Both libraries' gradients are
checked against each other before the ratio is trusted.
"""
from __future__ import annotations

import numpy as np
import pytest

import nn_core as nc

THREADS = [1, 2]
N = 10**6
UNARY = {
    "relu": (lambda t: t.relu(), lambda t: t.relu()),
    "tanh": (lambda t: t.tanh(), lambda t: t.tanh()),
    "gelu": (lambda t: nc.functional.gelu(t), None),
    "exp": (lambda t: t.exp(), lambda t: t.exp()),
    "sin": (lambda t: t.sin(), lambda t: t.sin()),
    "sqrt": (lambda t: t.sqrt(), lambda t: t.sqrt()),
    "erf": (lambda t: nc.erf(t), None),
}


def _torch():
    return pytest.importorskip("torch")


def _pair(torch, ours_op, peer_op, x_np, g_np):
    x = nc.tensor(x_np, requires_grad=True)
    g = nc.tensor(g_np)
    tx = torch.from_numpy(x_np.copy()).requires_grad_(True)
    tg = torch.from_numpy(g_np)

    def ours():
        x.grad = None
        ours_op(x).backward(g)
        return x.grad

    def peer():
        tx.grad = None
        peer_op(tx).backward(tg)
        return tx.grad

    return ours, peer


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
@pytest.mark.parametrize("op", list(UNARY))
def test_unary_forward_backward(op, threads, compare, both_threads):
    torch = _torch()
    rng = np.random.default_rng(7)
    x_np = rng.uniform(0.1, 3.0, N).astype(np.float32)  # in every op's domain (sqrt)
    g_np = rng.standard_normal(N).astype(np.float32)
    ours_op, peer_op = UNARY[op]
    if peer_op is None:
        peer_op = {"gelu": torch.nn.functional.gelu, "erf": torch.erf}[op]
    ours, peer = _pair(torch, ours_op, peer_op, x_np, g_np)
    peer_threads = both_threads(threads)
    grad = compare(f"{op} fwd+bwd 1e6", threads, ours, "torch", peer, peer_threads)
    np.testing.assert_allclose(grad.numpy(), peer().numpy(), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
def test_mul_broadcast_forward_backward(threads, compare, both_threads):
    torch = _torch()
    rng = np.random.default_rng(8)
    a_np = rng.standard_normal((1000, 1000)).astype(np.float32)
    b_np = rng.standard_normal(1000).astype(np.float32)
    g_np = rng.standard_normal((1000, 1000)).astype(np.float32)
    a, b, g = nc.tensor(a_np, requires_grad=True), nc.tensor(b_np, requires_grad=True), nc.tensor(g_np)
    ta, tb = torch.from_numpy(a_np.copy()).requires_grad_(True), torch.from_numpy(b_np.copy()).requires_grad_(True)
    tg = torch.from_numpy(g_np)

    def ours():
        a.grad = b.grad = None
        (a * b).backward(g)
        return b.grad

    def peer():
        ta.grad = tb.grad = None
        (ta * tb).backward(tg)
        return tb.grad

    peer_threads = both_threads(threads)
    grad = compare("mul bcast fwd+bwd 1e6", threads, ours, "torch", peer, peer_threads)
    np.testing.assert_allclose(grad.numpy(), peer().numpy(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
def test_sum_forward_backward(threads, compare, both_threads):
    torch = _torch()
    x_np = np.random.default_rng(9).standard_normal(N).astype(np.float32)
    ours, peer = _pair(torch, lambda t: t.sum(), lambda t: t.sum(), x_np, np.array(0.5, dtype=np.float32))
    peer_threads = both_threads(threads)
    grad = compare("sum fwd+bwd 1e6", threads, ours, "torch", peer, peer_threads)
    np.testing.assert_array_equal(grad.numpy(), peer().numpy())


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
def test_overhead_add_forward_backward(threads, compare, both_threads):
    torch = _torch()
    x_np = np.array([1.25], dtype=np.float32)
    a, b = nc.tensor(x_np, requires_grad=True), nc.tensor(x_np * 2, requires_grad=True)
    ta, tb = torch.from_numpy(x_np.copy()).requires_grad_(True), torch.from_numpy(x_np * 2).requires_grad_(True)
    g, tg = nc.tensor(np.ones(1, np.float32)), torch.ones(1)

    def ours():
        a.grad = b.grad = None
        (a + b).backward(g)
        return a.grad

    def peer():
        ta.grad = tb.grad = None
        (ta + tb).backward(tg)
        return ta.grad

    peer_threads = both_threads(threads)
    grad = compare("add 1 elem fwd+bwd (overhead)", threads, ours, "torch", peer, peer_threads)
    np.testing.assert_array_equal(grad.numpy(), [1.0])
