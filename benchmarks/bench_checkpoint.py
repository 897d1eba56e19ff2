"""Checkpoint save and load throughput: nn_core.save / nn_core.load beside numpy and torch.

The state dict: 24 float32 weight matrices of 1024 x 2048 plus 24 biases, 192 MiB + 192 KiB, like a
model's. Cases, named as in the summary table:
  save 200MB                 nn_core.save (atomic: temp file, fsync, rename, fsync dir) vs numpy.save of
                             each array into one open file (no fsync) / torch.save of the same tensors
  save 200MB (no fsync)      nn_core.save(..., fsync=False): still atomic against a killed process
  load 200MB verified mmap   nn_core.load (checksum over every byte, zero-copy map) vs numpy.load of each
                             array / torch.load(weights_only=True)
  load 200MB verified read   nn_core.load(mmap=False): read into nn_core memory, then checksum
Files live in pytest's tmp directory, so the page cache is warm after the first round on both sides: the
comparison is of the libraries' own costs (hashing, copies, syscalls), plus our fsyncs where named.
"""
from __future__ import annotations

import numpy as np
import pytest

import nn_core as nc

N_LAYERS = 24
SHAPE = (1024, 2048)


@pytest.fixture(scope="module")
def state():
    rng = np.random.default_rng(7)
    arrays = {}
    for i in range(N_LAYERS):
        arrays[f"layers.{i}.weight"] = rng.standard_normal(SHAPE, dtype=np.float32)
        arrays[f"layers.{i}.bias"] = rng.standard_normal(SHAPE[1], dtype=np.float32)
    ours = {k: nc.tensor(v) for k, v in arrays.items()}
    return arrays, ours


class Peer:
    def __init__(self, name, arrays, directory):
        self.name = name
        self.path = directory / f"peer.{name}"
        if name == "torch":
            self.torch = pytest.importorskip("torch")
            self.state = {k: self.torch.from_numpy(v) for k, v in arrays.items()}
        else:
            self.state = arrays

    def save(self):
        if self.name == "torch":
            self.torch.save(self.state, self.path)
        else:
            with open(self.path, "wb") as f:
                for v in self.state.values():
                    np.save(f, v)

    def load(self):
        if self.name == "torch":
            return self.torch.load(self.path, weights_only=True)
        with open(self.path, "rb") as f:
            return {k: np.load(f) for k in self.state}


@pytest.fixture(params=["numpy", "torch"])
def peer(request, state, tmp_path):
    return Peer(request.param, state[0], tmp_path)


@pytest.mark.parametrize("fsync", [True, False], ids=["fsync", "nofsync"])
def test_save(state, peer, tmp_path, compare, fsync):
    arrays, ours = state
    path = tmp_path / "ours.safetensors"
    case = "save 200MB" + ("" if fsync else " (no fsync)")
    compare(case, nc.get_num_threads(), lambda: nc.save(ours, path, fsync=fsync), peer.name, peer.save, "1")
    back = nc.load(path)
    assert np.array_equal(back["layers.3.weight"].numpy(), arrays["layers.3.weight"])


@pytest.mark.parametrize("mmap", [True, False], ids=["mmap", "read"])
def test_load(state, peer, tmp_path, compare, mmap):
    arrays, ours = state
    path = tmp_path / "ours.safetensors"
    nc.save(ours, path)
    peer.save()
    case = "load 200MB verified " + ("mmap" if mmap else "read")
    back = compare(case, nc.get_num_threads(), lambda: nc.load(path, mmap=mmap), peer.name, peer.load, "1")
    assert np.array_equal(back["layers.5.weight"].numpy(), arrays["layers.5.weight"])
