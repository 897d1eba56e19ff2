"""Recurrent layers: nn_core's LSTM and GRU beside torch's in the same run.

Cases (float32, random data, weights copied from torch's module into ours):
  <KIND> fwd  <size>        forward of the whole stack, under no_grad
  <KIND> fwd+bwd  <size>    forward with autograd, sum of the outputs, backward
for KIND in LSTM, GRU and two sizes:
  T35 B20 I=H200 L2   the word-language-model size (PyTorch's examples/word_language_model)
  T16 B4 I=H32 L1     a small layer, where per-step overhead dominates
at 1 and 2 threads. Both run the time loop natively (ours: the rnn_layer op,
csrc/ops/rnn.cpp; torch: ATen's CPU LSTM/GRU). Needs torch (skipped without it).
conftest.py holds the harness and prints the summary table (ratio = ours / torch).
"""
from __future__ import annotations

import numpy as np
import pytest

import nn_core as nc
from nn_core import nn

torch = pytest.importorskip("torch")
THREADS = [1, 2]
SIZES = {"T35 B20 I=H200 L2": (35, 20, 200, 200, 2), "T16 B4 I=H32 L1": (16, 4, 32, 32, 1)}


def flops(kind: str, T: int, B: int, I: int, H: int, L: int, backward: bool) -> float:
    """GEMM flops of the stack (the pointwise work is not counted); backward ~2x forward."""
    G = 4 if kind == "LSTM" else 3
    fwd = sum(2 * T * B * G * H * ((I if layer == 0 else H) + H) for layer in range(L))
    return fwd * (3 if backward else 1)


def make_pair(kind: str, size: str):
    T, B, I, H, L = SIZES[size]
    torch.manual_seed(0)
    ref = getattr(torch.nn, kind)(I, H, num_layers=L)
    ours = getattr(nn, kind)(I, H, num_layers=L)
    ours.load_state_dict({k: nc.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    x_np = np.random.default_rng(0).standard_normal((T, B, I)).astype(np.float32)
    return ours, ref, nc.tensor(x_np), torch.from_numpy(x_np)


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_rnn_forward(compare, both_threads, kind, size, threads):
    peer_threads = both_threads(threads)
    ours, ref, x, xt = make_pair(kind, size)

    def run_ours():
        with nc.no_grad():
            return ours(x)[0]

    def run_peer():
        with torch.no_grad():
            return ref(xt)[0]

    np.testing.assert_allclose(run_ours().numpy(), run_peer().numpy(), rtol=1e-4, atol=1e-4)
    compare(f"{kind} fwd {size}", threads, run_ours, "torch", run_peer, peer_threads,
            flops=flops(kind, *SIZES[size], backward=False))


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_rnn_forward_backward(compare, both_threads, kind, size, threads):
    peer_threads = both_threads(threads)
    ours, ref, x, xt = make_pair(kind, size)

    def run_ours():
        ours.zero_grad()
        ours(x)[0].sum().backward()

    def run_peer():
        ref.zero_grad()
        ref(xt)[0].sum().backward()

    run_ours()
    run_peer()
    np.testing.assert_allclose(ours.weight_hh_l0.grad.numpy(), ref.weight_hh_l0.grad.numpy(), rtol=1e-3, atol=1e-3)
    compare(f"{kind} fwd+bwd {size}", threads, run_ours, "torch", run_peer, peer_threads,
            flops=flops(kind, *SIZES[size], backward=True))
