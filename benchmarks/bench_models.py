"""Five architectures end to end: one training step and one inference call each, nn_core
beside torch in the same run (2 threads each; torch via ``set_num_threads``).

The models are tests/arch_models.py's (the same code builds the nn_core model and its
torch twin; weights copied by state_dict), at a realistic small size:

  ResNet-18 b8 64x64     torchvision's layout at full width (64..512 channels), 10 classes
  GPT-2 b8 s64           4 layers, 256 wide, 4 heads, vocabulary 2048, tied embeddings
  LSTM LM b20 s35        2-layer LSTM, 200 embedding and hidden units, vocabulary 2000,
                         padded sequences of different lengths (packed)
  U-Net b4 64x64         16..64 channels, transposed conv + bilinear interpolation
  ViT b16 32x32          patch 4, 128 wide, 4 layers, 4 heads

"train step": forward, cross-entropy, zero_grad, backward, SGD(momentum) step.
"inference": forward in eval mode under no_grad. Needs torch (skipped without it).
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import nn_core as nc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from arch_models import build, copy_weights  # noqa: E402

torch = pytest.importorskip("torch")
THREADS = 2
NC, TORCH = build(nc), build(torch)


def make_case(name):
    """(model kwargs, args builder(lib, rng), loss(lib, out, rng-data)) of one case."""
    rng = np.random.default_rng(0)
    if name == "ResNet-18 b8 64x64":
        x, y = rng.standard_normal((8, 3, 64, 64)).astype(np.float32), rng.integers(0, 10, 8)
        return "ResNet18", dict(width=64), lambda lib: (lib.tensor(x),), \
            lambda lib, out: lib.nn.functional.cross_entropy(out, lib.tensor(y))
    if name == "GPT-2 b8 s64":
        idx = rng.integers(0, 2048, (8, 65))
        return "GPT2", dict(vocab_size=2048, block_size=64, n_layer=4, n_head=4, n_embd=256), \
            lambda lib: (lib.tensor(idx[:, :-1]),), \
            lambda lib, out: lib.nn.functional.cross_entropy(out[0].reshape(-1, 2048), lib.tensor(idx[:, 1:]).reshape(-1))
    if name == "LSTM LM b20 s35":
        tok = rng.integers(1, 2000, (20, 36))
        lengths = rng.integers(20, 36, 20)
        lengths[0] = 36
        for i, n in enumerate(lengths):
            tok[i, n:] = 0
        return "LSTMLM", dict(vocab_size=2000, emb=200, hidden=200), \
            lambda lib: (lib.tensor(tok[:, :-1]), lib.tensor(np.minimum(lengths, 35))), \
            lambda lib, out: lib.nn.functional.cross_entropy(out.reshape(-1, 2000), lib.tensor(tok[:, 1:]).reshape(-1),
                                                             ignore_index=0)
    if name == "U-Net b4 64x64":
        x, y = rng.standard_normal((4, 3, 64, 64)).astype(np.float32), rng.integers(0, 4, (4, 64, 64))
        return "UNet", dict(w=16), lambda lib: (lib.tensor(x),), \
            lambda lib, out: lib.nn.functional.cross_entropy(out, lib.tensor(y))
    if name == "ViT b16 32x32":
        x, y = rng.standard_normal((16, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, 16)
        return "ViT", dict(image=32, patch=4, dim=128, depth=4, heads=4), lambda lib: (lib.tensor(x),), \
            lambda lib, out: lib.nn.functional.cross_entropy(out, lib.tensor(y))
    raise KeyError(name)


CASES = ["ResNet-18 b8 64x64", "GPT-2 b8 s64", "LSTM LM b20 s35", "U-Net b4 64x64", "ViT b16 32x32"]


def twins(case):
    cls, kw, args, loss = make_case(case)
    torch.manual_seed(0)
    ref = getattr(TORCH, cls)(**kw)
    ours = getattr(NC, cls)(**kw)
    copy_weights(ref, ours, nc)
    return ours, ref, args, loss


@pytest.fixture
def two_threads(both_threads):
    return both_threads(THREADS)


@pytest.mark.parametrize("case", CASES)
def test_train_step(compare, two_threads, case):
    ours, ref, args, loss = twins(case)
    a, b = args(nc), args(torch)
    opt = nc.optim.SGD(ours.parameters(), lr=1e-3, momentum=0.9)
    topt = torch.optim.SGD(ref.parameters(), lr=1e-3, momentum=0.9)

    def step_ours():
        lo = loss(nc, ours(*a))
        opt.zero_grad()
        lo.backward()
        opt.step()
        return lo.item()

    def step_peer():
        lo = loss(torch, ref(*b))
        topt.zero_grad()
        lo.backward()
        topt.step()
        return lo.item()

    value = compare(f"{case} train step", THREADS, step_ours, "torch", step_peer, two_threads)
    assert np.isfinite(value)


@pytest.mark.parametrize("case", CASES)
def test_inference(compare, two_threads, case):
    ours, ref, args, _ = twins(case)
    ours.eval()
    ref.eval()
    a, b = args(nc), args(torch)

    def infer_ours():
        with nc.no_grad():
            return ours(*a)

    def infer_peer():
        with torch.no_grad():
            return ref(*b)

    got = compare(f"{case} inference", THREADS, infer_ours, "torch", infer_peer, two_threads)
    want = infer_peer()
    got, want = (got[0], want[0]) if isinstance(got, tuple) else (got, want)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-3, atol=1e-3)
