"""The inference runtime's metrics (csrc/runtime/metrics.cpp via nn_core._C.SessionMetrics,
rendered by nn_core/runtime/metrics.py): bucket layout, percentiles against numpy,
counters under concurrency and errors, memory gauges, Prometheus text and JSON."""
import json
import threading

import numpy as np
import pytest

import nn_core as nc
from nn_core.runtime import metrics as rm

SessionMetrics = nc._C.SessionMetrics


def test_bucket_layout_is_contiguous_and_fine():
    # Every integer ns maps to the bucket whose [lower, upper] holds it; buckets tile the
    # line without gaps and are at most 1/16 of their lower edge wide.
    prev_upper = -1.0
    for i in range(SessionMetrics.bucket_index(2**43)):
        lo, hi = SessionMetrics.bucket_lower_ns(i), SessionMetrics.bucket_upper_ns(i)
        assert lo == prev_upper + 1
        assert hi >= lo
        assert hi - lo + 1 <= max(1.0, lo / 16)
        prev_upper = hi
    rng = np.random.default_rng(0)
    for v in np.concatenate([np.arange(0, 300), rng.integers(0, 2**42, 2000)]):
        i = SessionMetrics.bucket_index(int(v))
        assert SessionMetrics.bucket_lower_ns(i) <= v <= SessionMetrics.bucket_upper_ns(i)
    # out of range values land in the last bucket instead of overflowing
    assert SessionMetrics.bucket_index(2**62) == SessionMetrics.bucket_index(2**50)


@pytest.mark.parametrize("dist", ["lognormal", "bimodal", "constant", "few"])
def test_percentiles_within_one_bucket_of_numpy(dist):
    rng = np.random.default_rng(1)
    if dist == "lognormal":
        xs = rng.lognormal(13, 1.2, 20000)
    elif dist == "bimodal":
        xs = np.concatenate([rng.normal(2e5, 1e4, 9000), rng.normal(5e7, 1e6, 1000)])
    elif dist == "constant":
        xs = np.full(100, 123456.0)
    else:
        xs = rng.uniform(1e3, 1e6, 3)
    xs = np.maximum(xs, 1).astype(np.int64)
    m = SessionMetrics("m", "1")
    for x in xs:
        m.record_success(int(x), 1)
    s = m.snapshot()
    lat = s["latency_s"]
    assert lat["count"] == len(xs) == s["calls"] == s["successes"]
    assert lat["min"] == pytest.approx(xs.min() * 1e-9) and lat["max"] == pytest.approx(xs.max() * 1e-9)
    assert lat["mean"] == pytest.approx(xs.mean() * 1e-9, rel=1e-9)
    for q, key in [(50, "p50"), (90, "p90"), (95, "p95"), (99, "p99"), (99.9, "p999")]:
        # numpy's nearest-rank percentile (the usual definition for latency; the default
        # linear method can land in an empty gap between two clusters of samples)
        ref = np.percentile(xs, q, method="inverted_cdf")
        got = lat[key] * 1e9
        # within one bucket: the bucket of the reference value, widened by one neighbour
        i = SessionMetrics.bucket_index(int(ref))
        lo = SessionMetrics.bucket_lower_ns(max(i - 1, 0))
        hi = SessionMetrics.bucket_upper_ns(i + 1) + 1
        assert lo <= got <= hi, (key, got, ref)
    assert sum(c for _, c in lat["buckets"]) == len(xs)


def test_errors_are_counted_by_kind_and_reset_clears():
    m = SessionMetrics("m", "1")
    m.record_success(1000, 4)
    m.record_error(500, "shape")
    m.record_error(700, "shape")
    m.record_error(900, "nan")
    m.record_error(900, "")
    s = m.snapshot()
    assert (s["calls"], s["successes"], s["errors"], s["items"]) == (5, 1, 4, 4)
    assert s["errors_by_kind"] == {"shape": 2, "nan": 1, "internal": 1}
    assert s["success_rate"] == pytest.approx(0.2)
    m.reset()
    s = m.snapshot()
    assert (s["calls"], s["errors"], s["items"]) == (0, 0, 0) and s["errors_by_kind"] == {}
    assert s["latency_s"]["buckets"] == [] and s["model_name"] == "m"


def test_concurrent_recording_loses_nothing():
    m = SessionMetrics("m", "1")

    def work(seed):
        for i in range(5000):
            if i % 10 == 0:
                m.record_error(1000 + seed, "internal")
            else:
                m.record_success(1000 + i, 2)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = m.snapshot()
    assert s["calls"] == 40000 and s["errors"] == 4000 and s["successes"] == 36000 and s["items"] == 72000


def test_memory_gauges_and_profile():
    m = SessionMetrics("m", "1", growth_window_s=30)
    m.set_arena_bytes(1 << 20, 3 << 20)
    m.set_arena_bytes(1 << 19, 0)
    held = nc.zeros([1 << 18])  # 1 MiB from the allocator
    s = m.snapshot()
    mem = s["memory"]
    assert mem["arena_bytes"] == 1 << 19 and mem["arena_peak_bytes"] == 3 << 20
    assert mem["rss_bytes"] > 0 and mem["rss_bytes"] == pytest.approx(SessionMetrics.process_rss_bytes(), rel=0.5)
    assert mem["allocator_bytes_in_use"] >= held.numel() * 4
    assert mem["allocator_growth_bytes"] >= held.numel() * 4  # allocated after the first sample
    assert s["op_profile"] == {}
    assert not m.profiling
    m.profiling = True
    m.record_op("linear", 2000)
    m.record_op("linear", 3000)
    m.record_op("gelu", 10)
    prof = m.snapshot()["op_profile"]
    assert prof["linear"][0] == 2 and prof["linear"][1] == pytest.approx(5e-6)
    assert prof["gelu"] == (1, pytest.approx(1e-8))


def _filled():
    m = SessionMetrics('model "a"\\b', "v1.2")
    rng = np.random.default_rng(2)
    xs = rng.lognormal(14, 1.0, 3000).astype(np.int64)
    for x in xs:
        m.record_success(int(x), 3)
    m.record_error(1234, "dtype")
    m.profiling = True
    m.record_op("linear", 5000)
    return m, xs


def test_prometheus_text_parses_and_agrees():
    parser = pytest.importorskip("prometheus_client.parser")
    m, xs = _filled()
    snap = m.snapshot()
    text = rm.prometheus_text(snap, extra_labels={"host": "h1"})
    families = {f.name: f for f in parser.text_string_to_metric_families(text)}
    hist = families["nn_core_inference_latency_seconds"]
    assert hist.type == "histogram"
    samples = {(s.name, s.labels.get("le")): s.value for s in hist.samples}
    assert samples[("nn_core_inference_latency_seconds_count", None)] == len(xs) + 1
    assert samples[("nn_core_inference_latency_seconds_bucket", "+Inf")] == len(xs) + 1
    buckets = sorted((float(le), v) for (name, le), v in samples.items()
                     if name.endswith("_bucket") and le != "+Inf")
    assert all(b1[1] <= b2[1] for b1, b2 in zip(buckets, buckets[1:]))  # cumulative
    all_ns = np.concatenate([xs, [1234]])
    for le, v in buckets:
        assert v == np.sum(all_ns * 1e-9 < le) or v == np.sum(all_ns * 1e-9 <= le)
    req = families["nn_core_inference_requests"]
    assert req.type == "counter"
    by_outcome = {s.labels["outcome"]: s.value for s in req.samples if s.name.endswith("_total")}
    assert by_outcome == {"success": len(xs), "error": 1}
    errs = {s.labels["kind"]: s.value for s in families["nn_core_inference_errors"].samples
            if s.name.endswith("_total")}
    assert errs == {"dtype": 1}
    lab = req.samples[0].labels
    assert lab["model"] == 'model "a"\\b' and lab["version"] == "v1.2" and lab["host"] == "h1"
    q = {s.labels["quantile"]: s.value for s in families["nn_core_inference_latency_quantile_seconds"].samples}
    assert q["0.99"] == pytest.approx(snap["latency_s"]["p99"])
    assert families["nn_core_inference_rss_bytes"].samples[0].value > 0
    assert "nn_core_inference_op_seconds" in families


def test_json_and_text_rendering():
    m, xs = _filled()
    snap = m.snapshot()
    back = json.loads(rm.to_json(snap))
    assert back["calls"] == len(xs) + 1 and back["latency_s"]["p50"] == pytest.approx(snap["latency_s"]["p50"])
    table = rm.latency_table(snap)
    assert "p99" in table and "success rate" in table
    hist = rm.text_histogram(snap, rows=8)
    assert len(hist.splitlines()) == 8
    assert sum(int(line.rsplit(" ", 1)[1]) for line in hist.splitlines()) == len(xs) + 1
    assert rm.text_histogram(SessionMetrics("e", "").snapshot()) == "(no calls)"
