"""Fused attention: nn_core.functional.scaled_dot_product_attention beside torch's
(CPU, same threads) in the same run. Needs torch (skipped without it).

Cases (float32, (B, H, L, D)): (1,12,128,64), (1,12,512,64), (1,12,2048,64), (8,6,128,64),
causal and not, forward (no_grad) and forward+backward; named "sdpa <shape> [causal] fwd|fwdbwd"
in the summary table (ratio = ours / torch, minima over interleaved rounds; < 1: faster).
Peak memory: test_peak_memory runs each forward+backward case in a fresh child process per
library and reports the growth of the process's peak RSS (the same measure for both) and,
for nn_core, its allocator's peak_bytes counter (run it with -s, without --benchmark-only).
Caveat: RSS growth is coarse. nn_core's shows 0 when the call stays below the high-water
mark the inputs already set; torch's includes its one-time lazy initialisation (about
38 MiB at the smallest case). The allocator counter is the exact figure for nn_core.
Targets (issue 5): forward >= 1.0x torch's speed, forward+backward >= 0.8x.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import nn_core as nc

torch = pytest.importorskip("torch")

SHAPES = [(1, 12, 128, 64), (1, 12, 512, 64), (1, 12, 2048, 64), (8, 6, 128, 64)]
THREADS = 2


def _inputs(shape):
    rng = np.random.default_rng(20240611)
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(4)]


def _name(shape, causal, what):
    return f"sdpa {'x'.join(map(str, shape))}{' causal' if causal else ''} {what}"


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_forward(shape, causal, compare, num_threads):
    a = _inputs(shape)
    q, k, v = (nc.tensor(x) for x in a[:3])
    tq, tk, tv = (torch.from_numpy(x) for x in a[:3])
    num_threads(THREADS)
    torch.set_num_threads(THREADS)
    sdpa, tsdpa = nc.functional.scaled_dot_product_attention, torch.nn.functional.scaled_dot_product_attention

    def ours():
        with nc.no_grad():
            return sdpa(q, k, v, is_causal=causal)

    def peer():
        with torch.no_grad():
            return tsdpa(tq, tk, tv, is_causal=causal)

    out = compare(_name(shape, causal, "fwd"), THREADS, ours, "torch", peer, str(THREADS))
    np.testing.assert_allclose(out.numpy(), peer().numpy(), atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_forward_backward(shape, causal, compare, num_threads):
    a = _inputs(shape)
    q, k, v = (nc.tensor(x, requires_grad=True) for x in a[:3])
    g = nc.tensor(a[3])
    tq, tk, tv = (torch.tensor(x, requires_grad=True) for x in a[:3])
    tg = torch.from_numpy(a[3])
    num_threads(THREADS)
    torch.set_num_threads(THREADS)

    def ours():
        q.grad = k.grad = v.grad = None
        nc.functional.scaled_dot_product_attention(q, k, v, is_causal=causal).backward(g)
        return q.grad

    def peer():
        tq.grad = tk.grad = tv.grad = None
        torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=causal).backward(tg)
        return tq.grad

    got = compare(_name(shape, causal, "fwdbwd"), THREADS, ours, "torch", peer, str(THREADS))
    np.testing.assert_allclose(got.numpy(), peer().numpy(), atol=1e-4, rtol=1e-3)


_CHILD = r"""
import json, resource, sys
import numpy as np
lib, B, H, L, D, causal = sys.argv[1], *map(int, sys.argv[2:6]), sys.argv[6] == "1"
rng = np.random.default_rng(0)
a = [rng.standard_normal((B, H, L, D)).astype(np.float32) for _ in range(4)]
if lib == "torch":
    import torch
    torch.set_num_threads(2)
    t = [torch.tensor(x, requires_grad=i < 3) for i, x in enumerate(a)]
    run = lambda: torch.nn.functional.scaled_dot_product_attention(*t[:3], is_causal=causal).backward(t[3])
else:
    import nn_core as nc
    nc.set_num_threads(2)
    t = [nc.tensor(x, requires_grad=i < 3) for i, x in enumerate(a)]
    run = lambda: nc.functional.scaled_dot_product_attention(*t[:3], is_causal=causal).backward(t[3])
    nc.reset_peak_memory_stats()
    base = nc.memory_stats()["bytes_in_use"]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
run()
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
res = {"rss_growth_kb": after - before}
if lib != "torch":
    res["allocator_peak_bytes"] = nc.memory_stats()["peak_bytes"] - base
print(json.dumps(res))
"""


def test_peak_memory(request, nn_isa):
    """Peak memory of forward+backward, both libraries measured alike (fresh child process
    each, growth of the peak RSS), plus nn_core's allocator counter. The children inherit
    NN_CORE_ISA from the nn_isa fixture under --isa."""
    rows = []
    for shape in SHAPES:
        for causal in (False, True):
            res = {}
            for lib in ("nn_core", "torch"):
                cmd = [sys.executable, "-c", _CHILD, lib, *map(str, shape), "1" if causal else "0"]
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=request.config.rootpath)
                assert r.returncode == 0, r.stderr[-3000:]
                res[lib] = json.loads(r.stdout.strip().splitlines()[-1])
            rows.append((_name(shape, causal, "fwdbwd"), res["nn_core"]["rss_growth_kb"] / 1024,
                         res["nn_core"]["allocator_peak_bytes"] / 2**20, res["torch"]["rss_growth_kb"] / 1024))
    lines = ["", f"peak memory of forward+backward (MiB, nn_core on {nn_isa}): case | nn_core RSS growth | "
             "nn_core allocator peak | torch RSS growth"]
    lines += [f"  {c:<34} {a:8.1f} {b:8.1f} {t:8.1f}" for c, a, b, t in rows]
    with open(request.config.rootpath / "benchmarks" / ".attention_memory.txt", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))  # shown with -s; also kept in benchmarks/.attention_memory.txt

