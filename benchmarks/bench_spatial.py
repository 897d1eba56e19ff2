"""interpolate x2 upsampling, float32, NCHW [8, 64, 64, 64] -> [8, 64, 128, 128]: nn_core
beside torch (CPU) in the same run.

Cases (named as in the summary table):
  nearest x2                     mode='nearest'
  bilinear x2                    mode='bilinear', align_corners=False (the U-Net decoder's)
  bilinear x2 align_corners      mode='bilinear', align_corners=True
each as "fwd" (no grad) and "fwd+bwd" (interpolate, then backward of (y * g).sum() for the
input gradient), at 1 and 2 threads, torch with torch.set_num_threads(threads). The ratio is
ours / torch (minima over interleaved rounds, conftest.py): < 1 means nn_core is faster.
Results are checked against torch's before the ratio is trusted. Without torch the tests
skip.
"""
from __future__ import annotations

import numpy as np
import pytest

import nn_core as nc
from nn_core import functional as F

SHAPE = (8, 64, 64, 64)
THREADS = [1, 2]
# name: (mode, align_corners)
CASES = {
    "nearest x2": ("nearest", None),
    "bilinear x2": ("bilinear", False),
    "bilinear x2 align_corners": ("bilinear", True),
}

_INPUTS: dict = {}


def inputs():
    """float32 x and an upstream gradient g of the output's shape (fixed seed)."""
    if not _INPUTS:
        rng = np.random.default_rng(11)
        x = rng.standard_normal(SHAPE, dtype=np.float32)
        g = rng.standard_normal(SHAPE[:2] + (SHAPE[2] * 2, SHAPE[3] * 2), dtype=np.float32)
        _INPUTS["x"], _INPUTS["g"] = x, g
    return _INPUTS["x"], _INPUTS["g"]


@pytest.fixture
def torch_mod():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    yield torch
    torch.set_num_threads(before)


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
@pytest.mark.parametrize("case", list(CASES))
def test_interpolate_forward(case, threads, torch_mod, compare, num_threads, benchmark):
    torch = torch_mod
    mode, align = CASES[case]
    x, _ = inputs()
    ox, tx = nc.tensor(x), torch.from_numpy(x)
    num_threads(threads)
    torch.set_num_threads(threads)

    def ours():
        with nc.no_grad():
            return F.interpolate(ox, scale_factor=2, mode=mode, align_corners=align)

    def peer():
        with torch.no_grad():
            return torch.nn.functional.interpolate(tx, scale_factor=2, mode=mode, align_corners=align)

    result = compare(f"{case} fwd", threads, ours, "torch", peer, str(threads))
    np.testing.assert_allclose(np.asarray(result.numpy()), peer().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
@pytest.mark.parametrize("case", list(CASES))
def test_interpolate_forward_backward(case, threads, torch_mod, compare, num_threads, benchmark):
    torch = torch_mod
    mode, align = CASES[case]
    x, g = inputs()
    ox, og = nc.tensor(x, requires_grad=True), nc.tensor(g)
    tx, tg = torch.tensor(x, requires_grad=True), torch.from_numpy(g)
    num_threads(threads)
    torch.set_num_threads(threads)

    def ours():
        ox.grad = None
        F.interpolate(ox, scale_factor=2, mode=mode, align_corners=align).backward(og)
        return ox.grad

    def peer():
        tx.grad = None
        torch.nn.functional.interpolate(tx, scale_factor=2, mode=mode, align_corners=align).backward(tg)
        return tx.grad

    result = compare(f"{case} fwd+bwd", threads, ours, "torch", peer, str(threads))
    np.testing.assert_allclose(np.asarray(result.numpy()), peer().numpy(), rtol=1e-4, atol=1e-4)
