"""Training throughput and framework overhead: nn_core beside torch in the same run.

Cases (float32, Adam lr 1e-3, cross-entropy), named as in the summary table:
  MLP epoch (digits, b64)      one epoch of a 64-256-256-10 ReLU MLP over the 1437
                               training digits (scikit-learn's bundled data; random data
                               of the same shape when scikit-learn is absent), batch 64,
                               shuffled: forward, loss, zero_grad, backward, Adam step
  CNN epoch (digits, b64)      the same with the demo's CNN (nn_core.demo.DigitsCNN and its
                               torch twin); skipped while this build has no nn.Conv2d
  tiny Adam step b1 (overhead) one training step of a 4-16-3 MLP at batch 1: the fixed
                               cost of forward + backward + optimizer step
  Adam.step 4 tensors          optimizer.step() alone on that MLP's 4 parameter tensors
each with nn_core and torch at 1 and 2 threads. Needs torch (skipped without it).
Batches: ours from nn_core.data.DataLoader (seeded shuffle, one gather per tensor),
torch's from a randperm and tensor indexing (torch's DataLoader collates per sample and
would be slower). conftest.py holds the harness and prints the summary table.
"""
from __future__ import annotations

import numpy as np
import pytest

import nn_core as nc
from nn_core import functional as F
from nn_core import nn
from nn_core.data import DataLoader, TensorDataset

torch = pytest.importorskip("torch")
THREADS = [1, 2]


def digits_arrays():
    try:
        from nn_core.demo import load_digits_split
        x, y, _, _ = load_digits_split()
        return x.numpy(), y.numpy()
    except ImportError:
        rng = np.random.default_rng(0)
        return rng.random((1437, 1, 8, 8), dtype=np.float32), rng.integers(0, 10, 1437)


def torch_twin(model: nn.Module):
    """A torch model of the same architecture with the same weights."""
    tnn = torch.nn
    layers = []
    for m in model.modules():
        if isinstance(m, (nn.Sequential,)) or m is model:
            continue
        name = type(m).__name__
        if name == "Linear":
            layers.append(tnn.Linear(m.in_features, m.out_features))
        elif name == "ReLU":
            layers.append(tnn.ReLU())
        elif name == "Flatten":
            layers.append(tnn.Flatten())
        elif name == "Conv2d":
            layers.append(tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, padding=m.padding))
        elif name == "MaxPool2d":
            layers.append(tnn.MaxPool2d(m.kernel_size))
        else:
            raise NotImplementedError(name)
    twin = tnn.Sequential(*layers)
    ours = [p.detach().numpy() for p in model.parameters()]
    with torch.no_grad():
        for p, value in zip(twin.parameters(), ours):
            p.copy_(torch.from_numpy(value.copy()))
    return twin


def epoch_pair(model: nn.Module, flatten_input: bool):
    x, y = digits_arrays()
    if flatten_input:
        x = x.reshape(len(x), -1)
    twin = torch_twin(model)
    loader = DataLoader(TensorDataset(nc.from_numpy(x), nc.from_numpy(y)), batch_size=64, shuffle=True, generator=0)
    opt = nc.optim.Adam(model.parameters(), lr=1e-3)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    topt = torch.optim.Adam(twin.parameters(), lr=1e-3)
    tgen = torch.Generator().manual_seed(0)

    def ours():
        last = None
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            last = loss
        return last.item()

    def peer():
        last = None
        perm = torch.randperm(len(tx), generator=tgen)
        for start in range(0, len(tx), 64):
            idx = perm[start:start + 64]
            loss = torch.nn.functional.cross_entropy(twin(tx[idx]), ty[idx])
            topt.zero_grad()
            loss.backward()
            topt.step()
            last = loss
        return last.item()

    return ours, peer


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
def test_mlp_epoch(compare, both_threads, threads):
    peer_threads = both_threads(threads)
    nc.manual_seed(0)
    from nn_core.demo import digits_mlp
    ours, peer = epoch_pair(digits_mlp(), flatten_input=True)
    loss = compare("MLP epoch (digits, b64)", threads, ours, "torch", peer, peer_threads)
    assert np.isfinite(loss)


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
def test_cnn_epoch(compare, both_threads, threads):
    if not (hasattr(nn, "Conv2d") and hasattr(nn, "MaxPool2d")):
        pytest.skip("this build has no nn.Conv2d / nn.MaxPool2d")
    peer_threads = both_threads(threads)
    nc.manual_seed(0)
    from nn_core.demo import DigitsCNN
    model = DigitsCNN()
    flat = nn.Sequential(*list(model.features), *list(model.head))  # same modules, one Sequential for the twin
    ours, peer = epoch_pair(flat, flatten_input=False)
    loss = compare("CNN epoch (digits, b64)", threads, ours, "torch", peer, peer_threads)
    assert np.isfinite(loss)


def tiny_pair():
    nc.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    twin = torch_twin(model)
    x, y = nc.randn(1, 4), nc.tensor([2])
    tx, ty = torch.from_numpy(x.numpy().copy()), torch.tensor([2])
    return model, twin, x, y, tx, ty


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
def test_tiny_training_step(compare, both_threads, threads):
    peer_threads = both_threads(threads)
    model, twin, x, y, tx, ty = tiny_pair()
    opt = nc.optim.Adam(model.parameters(), lr=1e-3)
    topt = torch.optim.Adam(twin.parameters(), lr=1e-3)

    def ours():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def peer():
        loss = torch.nn.functional.cross_entropy(twin(tx), ty)
        topt.zero_grad()
        loss.backward()
        topt.step()

    compare("tiny Adam step b1 (overhead)", threads, ours, "torch", peer, peer_threads)


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
def test_adam_step_only(compare, both_threads, threads):
    peer_threads = both_threads(threads)
    model, twin, x, y, tx, ty = tiny_pair()
    F.cross_entropy(model(x), y).backward()
    torch.nn.functional.cross_entropy(twin(tx), ty).backward()
    opt = nc.optim.Adam(model.parameters(), lr=1e-6)
    topt = torch.optim.Adam(twin.parameters(), lr=1e-6)
    compare("Adam.step 4 tensors", threads, opt.step, "torch", topt.step, peer_threads)
