"""The cases of ``python -m nn_core.bench``: each builds its inputs once and returns the
functions to time, nn_core's (``"ours"``) and each peer's that is installed and asked for.

Suites: ``quick`` (seconds; the kernels and a training step) and ``full`` (adds larger
sizes, a recurrent layer and the int8 path). Every case fixes its random inputs, so two
runs time the same work. Peers see the same data (numpy arrays, torch tensors made from
them) and the same thread count.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence

import numpy as np

import nn_core as nc
from nn_core import functional as F

Sides = Dict[str, Callable[[], object]]


@dataclass(frozen=True)
class Case:
    name: str
    suites: Sequence[str]
    build: Callable[[Sequence[str]], Sides]  # build(peers) -> {"ours": fn, peer: fn, ...}
    flops: Optional[float] = None


def _torch(peers):
    if "torch" not in peers:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


def _rng():
    return np.random.default_rng(0)


def gemm(n):
    def build(peers):
        a, b = _rng().standard_normal((2, n, n), dtype=np.float32)
        x, y = nc.from_numpy(a), nc.from_numpy(b)
        sides: Sides = {"ours": lambda: x @ y}
        if "numpy" in peers:
            sides["numpy"] = lambda: a @ b
        torch = _torch(peers)
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            sides["torch"] = lambda: ta @ tb
        return sides
    return build


def linear_gelu(build_peers, m=32, k=768, n=3072):
    rng = _rng()
    x = rng.standard_normal((m, k), dtype=np.float32)
    w = (rng.standard_normal((n, k), dtype=np.float32) * 0.02).astype(np.float32)
    b = np.zeros(n, np.float32)
    nx, nw, nb = nc.from_numpy(x), nc.from_numpy(w), nc.from_numpy(b)
    sides: Sides = {"ours": lambda: F.gelu(F.linear(nx, nw, nb))}
    torch = _torch(build_peers)
    if torch is not None:
        tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)
        sides["torch"] = lambda: torch.nn.functional.gelu(torch.nn.functional.linear(tx, tw, tb))
    return sides


def conv3x3(peers):
    rng = _rng()
    x = rng.standard_normal((8, 32, 32, 32), dtype=np.float32)
    w = (rng.standard_normal((32, 32, 3, 3), dtype=np.float32) * 0.1).astype(np.float32)
    nx, nw = nc.from_numpy(x), nc.from_numpy(w)
    sides: Sides = {"ours": lambda: F.conv2d(nx, nw, None, 1, 1)}
    torch = _torch(peers)
    if torch is not None:
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        sides["torch"] = lambda: torch.nn.functional.conv2d(tx, tw, None, 1, 1)
    return sides


def attention(peers, b=4, h=8, s=128, d=64):
    q, k, v = _rng().standard_normal((3, b, h, s, d), dtype=np.float32)
    nq, nk, nv = (nc.from_numpy(np.ascontiguousarray(t)) for t in (q, k, v))
    sides: Sides = {"ours": lambda: F.scaled_dot_product_attention(nq, nk, nv, is_causal=True)}
    torch = _torch(peers)
    if torch is not None:
        tq, tk, tv = (torch.from_numpy(np.ascontiguousarray(t)) for t in (q, k, v))
        sides["torch"] = lambda: torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
    return sides


def layer_norm(peers):
    x = _rng().standard_normal((64, 768), dtype=np.float32)
    w, b = np.ones(768, np.float32), np.zeros(768, np.float32)
    nx, nw, nb = nc.from_numpy(x), nc.from_numpy(w), nc.from_numpy(b)
    sides: Sides = {"ours": lambda: F.layer_norm(nx, (768,), nw, nb, 1e-5)}
    if "numpy" in peers:
        def np_ln():
            mu = x.mean(-1, keepdims=True)
            var = x.var(-1, keepdims=True)
            return (x - mu) / np.sqrt(var + 1e-5) * w + b
        sides["numpy"] = np_ln
    torch = _torch(peers)
    if torch is not None:
        tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)
        sides["torch"] = lambda: torch.nn.functional.layer_norm(tx, (768,), tw, tb, 1e-5)
    return sides


def elementwise(peers, n=1 << 20):
    x = _rng().standard_normal(n, dtype=np.float32)
    y = _rng().standard_normal(n, dtype=np.float32)
    nx, ny = nc.from_numpy(x), nc.from_numpy(y)
    sides: Sides = {"ours": lambda: (nx * ny + nx).relu()}
    if "numpy" in peers:
        sides["numpy"] = lambda: np.maximum(x * y + x, 0)
    torch = _torch(peers)
    if torch is not None:
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        sides["torch"] = lambda: (tx * ty + tx).relu()
    return sides


def mlp_train_step(peers, batch=64):
    rng = _rng()
    x = rng.standard_normal((batch, 256), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    nc.manual_seed(0)
    model = nc.nn.Sequential(nc.nn.Linear(256, 512), nc.nn.ReLU(), nc.nn.Linear(512, 512), nc.nn.ReLU(),
                             nc.nn.Linear(512, 10))
    opt = nc.optim.Adam(model.parameters(), lr=1e-4)
    nx, ny = nc.from_numpy(x), nc.from_numpy(y)

    def ours():
        loss = F.cross_entropy(model(nx), ny)
        opt.zero_grad()
        loss.backward()
        opt.step()

    sides: Sides = {"ours": ours}
    torch = _torch(peers)
    if torch is not None:
        tnn = torch.nn
        twin = tnn.Sequential(tnn.Linear(256, 512), tnn.ReLU(), tnn.Linear(512, 512), tnn.ReLU(), tnn.Linear(512, 10))
        with torch.no_grad():
            for p, q in zip(twin.parameters(), model.parameters()):
                p.copy_(torch.from_numpy(q.detach().numpy().copy()))
        topt = torch.optim.Adam(twin.parameters(), lr=1e-4)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)

        def peer():
            loss = torch.nn.functional.cross_entropy(twin(tx), ty)
            topt.zero_grad()
            loss.backward()
            topt.step()
        sides["torch"] = peer
    return sides


def lstm_forward(peers, T=35, B=20, H=200):
    x = _rng().standard_normal((T, B, H), dtype=np.float32)
    nc.manual_seed(0)
    lstm = nc.nn.LSTM(H, H, 2)
    nx = nc.from_numpy(x)

    def ours():
        with nc.no_grad():
            return lstm(nx)
    sides: Sides = {"ours": ours}
    torch = _torch(peers)
    if torch is not None:
        twin = torch.nn.LSTM(H, H, 2)
        twin.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in lstm.state_dict().items()})
        tx = torch.from_numpy(x)

        def peer():
            with torch.no_grad():
                return twin(tx)
        sides["torch"] = peer
    return sides


def int8_linear(peers, m=64, k=768, n=768):
    rng = _rng()
    x = rng.standard_normal((m, k), dtype=np.float32)
    layer = nc.nn.Linear(k, n)
    qlayer = nc.nn.QuantizedLinear.from_float(layer)
    nx = nc.from_numpy(x)

    def ours():
        with nc.no_grad():
            return qlayer(nx)
    sides: Sides = {"ours": ours}
    if "numpy" in peers:
        w = layer.weight.detach().numpy().T.copy()
        sides["numpy"] = lambda: x @ w  # float32 reference work
    return sides


CASES = [
    Case("gemm f32 256", ("quick", "full"), gemm(256), flops=2 * 256 ** 3),
    Case("linear+gelu 32x768x3072", ("quick", "full"), linear_gelu, flops=2 * 32 * 768 * 3072),
    Case("conv2d 3x3 b8 c32 32x32", ("quick", "full"), conv3x3, flops=2 * 8 * 32 * 32 * 32 * 32 * 9),
    Case("sdpa causal b4 h8 s128 d64", ("quick", "full"), attention),
    Case("layer_norm 64x768", ("quick", "full"), layer_norm),
    Case("elementwise mul+add+relu 1M", ("quick", "full"), elementwise),
    Case("mlp train step b64", ("quick", "full"), mlp_train_step),
    Case("gemm f32 1024", ("full",), gemm(1024), flops=2 * 1024 ** 3),
    Case("lstm 2x200 T35 B20 forward", ("full",), lstm_forward),
    Case("int8 linear 64x768x768", ("full",), int8_linear, flops=2 * 64 * 768 * 768),
]


def select(suite: str, pattern: Optional[str] = None):
    """The cases of ``suite`` whose name contains ``pattern`` (case-insensitive)."""
    if suite not in ("quick", "full"):
        raise ValueError(f"unknown suite {suite!r} (expected 'quick' or 'full')")
    out = [c for c in CASES if suite in c.suites and (not pattern or pattern.lower() in c.name.lower())]
    if not out:
        raise ValueError(f"no case of suite {suite!r} matches {pattern!r}; cases: {[c.name for c in CASES]}")
    return out


def by_name(name: str) -> Case:
    for c in CASES:
        if c.name == name:
            return c
    raise KeyError(f"no benchmark case named {name!r}")
