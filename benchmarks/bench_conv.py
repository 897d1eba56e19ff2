"""Convolutions, batch 32, float32, NCHW: nn_core beside torch (CPU) in the same run.

Cases (named as in the summary table; GFLOP/s count 2*N*Cout*OH*OW*Cin/groups*kh*kw
per forward, three times that for forward+backward):
  conv3x3 3->64 32x32        stem-like, K = 27
  conv3x3 64->128 16x16
  conv3x3 128->256 8x8
  conv1x1 256->256 8x8       pointwise (no im2col)
  dw3x3 128 16x16            depthwise, groups = 128
each as "fwd" (conv2d with bias, no grad) and "fwd+bwd" (conv2d with bias, then
backward of y.sum() for the input, weight and bias gradients), at 1 and 2 threads,
torch with torch.set_num_threads(threads). The ratio is ours / torch (minima over
interleaved rounds, conftest.py): < 1 means nn_core is faster. Results are checked
against torch's before the ratio is trusted. Without torch the tests skip.
"""
from __future__ import annotations

import numpy as np
import pytest

import nn_core as nc
from nn_core import functional as F

BATCH = 32
THREADS = [1, 2]
# name: (Cin, Cout, k, H, groups)
CASES = {
    "conv3x3 3->64 32x32": (3, 64, 3, 32, 1),
    "conv3x3 64->128 16x16": (64, 128, 3, 16, 1),
    "conv3x3 128->256 8x8": (128, 256, 3, 8, 1),
    "conv1x1 256->256 8x8": (256, 256, 1, 8, 1),
    "dw3x3 128 16x16": (128, 128, 3, 16, 128),
}


def gflop(case: str) -> float:
    cin, cout, k, h, groups = CASES[case]
    return 2.0 * BATCH * cout * h * h * (cin // groups) * k * k / 1e9


_INPUTS: dict = {}


def inputs(case: str):
    """float32 x, w, b (fixed seed) as numpy, nn_core and torch tensors."""
    if case not in _INPUTS:
        _INPUTS.clear()
        cin, cout, k, h, groups = CASES[case]
        rng = np.random.default_rng(7)
        x = rng.standard_normal((BATCH, cin, h, h), dtype=np.float32)
        w = (rng.standard_normal((cout, cin // groups, k, k), dtype=np.float32) / np.sqrt(cin // groups * k * k))
        b = rng.standard_normal(cout, dtype=np.float32)
        _INPUTS[case] = (x, w.astype(np.float32), b)
    return _INPUTS[case]


@pytest.fixture
def torch_mod():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    yield torch
    torch.set_num_threads(before)


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
@pytest.mark.parametrize("case", list(CASES))
def test_conv_forward(case, threads, torch_mod, compare, num_threads, benchmark):
    torch = torch_mod
    x, w, b = inputs(case)
    cin, cout, k, h, groups = CASES[case]
    pad = k // 2
    ox, ow_, ob = nc.tensor(x), nc.tensor(w), nc.tensor(b)
    tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)
    num_threads(threads)
    torch.set_num_threads(threads)

    def ours():
        with nc.no_grad():
            return F.conv2d(ox, ow_, ob, 1, pad, 1, groups)

    def peer():
        with torch.no_grad():
            return torch.nn.functional.conv2d(tx, tw, tb, 1, pad, 1, groups)

    result = compare(f"{case} fwd", threads, ours, "torch", peer, str(threads), flops=gflop(case) * 1e9)
    np.testing.assert_allclose(np.asarray(result.numpy()), peer().numpy(), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
@pytest.mark.parametrize("case", list(CASES))
def test_conv_forward_backward(case, threads, torch_mod, compare, num_threads, benchmark):
    torch = torch_mod
    x, w, b = inputs(case)
    cin, cout, k, h, groups = CASES[case]
    pad = k // 2
    ox, ow_, ob = (nc.tensor(a, requires_grad=True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    num_threads(threads)
    torch.set_num_threads(threads)

    def ours():
        ox.grad = ow_.grad = ob.grad = None
        F.conv2d(ox, ow_, ob, 1, pad, 1, groups).sum().backward()
        return ow_.grad

    def peer():
        tx.grad = tw.grad = tb.grad = None
        torch.nn.functional.conv2d(tx, tw, tb, 1, pad, 1, groups).sum().backward()
        return tw.grad

    result = compare(f"{case} fwd+bwd", threads, ours, "torch", peer, str(threads), flops=3 * gflop(case) * 1e9)
    want = peer().numpy()
    np.testing.assert_allclose(np.asarray(result.numpy()), want, rtol=1e-3, atol=1e-3 * np.abs(want).max())
    np.testing.assert_allclose(np.asarray(ox.grad.numpy()), tx.grad.numpy(), rtol=1e-3, atol=1e-3)
