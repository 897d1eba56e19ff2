"""Drift monitoring of an InferenceSession (csrc/runtime/monitor*.cpp, nn_core/runtime/
monitoring.py): the feature layout and values, quantile edges, the sliding window
(Note [Drift window]) replayed in Python, PSI against numpy histograms and KS against
scipy.stats.ks_2samp on the same windows within the stated error bound (Note [Binned KS]),
the shift / no-shift thresholds, profiles saved and loaded, 8 threads losing no count, and
bad monitor inputs raising clear errors while serving goes on unaffected."""
import json
import threading

import numpy as np
import pytest

import nn_core as nc
from nn_core import nn
from nn_core.runtime import DriftProfile, InferenceSession

scipy_stats = pytest.importorskip("scipy.stats")

F = 3  # input features of the small models below


def _mlp(seed=0, d_in=F, d_out=4):
    nc.manual_seed(seed)
    return nn.Sequential(nn.Linear(d_in, 8), nn.Tanh(), nn.Linear(8, d_out))


def _session(seed=0, name="mlp"):
    x = np.random.default_rng(seed).standard_normal((5, F)).astype(np.float32)
    return InferenceSession(_mlp(seed), x, name=name)


def _column_feature(snapshot, j):
    return next(f for f in snapshot["features"] if f["name"] == f"x[{j}]")


def _replay_window(batch_sizes, window, blocks):
    """Which calls (indices) Note [Drift window] keeps after `batch_sizes` were served."""
    block_rows = -(-window // blocks)
    ring = [[] for _ in range(blocks)]  # call indices per slot
    rows = [0] * blocks
    cur = 0
    for i, b in enumerate(batch_sizes):
        if rows[cur] >= block_rows:
            cur = (cur + 1) % blocks
            ring[cur], rows[cur] = [], 0
        ring[cur].append(i)
        rows[cur] += b
    return sorted(i for slot in ring for i in slot)


def test_layout_kinds_and_values():
    sess = _session()
    names = [f["name"] for f in sess.monitor(np.zeros((10, F), np.float32) + np.arange(10.0)[:, None]
                                             .astype(np.float32)).features]
    assert names == ["x[0]", "x[1]", "x[2]", "output0.norm", "output0.score", "output0.class"]
    # integer inputs: tokens and the unpadded length; float outputs of rank 3: norm/score/class per position
    nc.manual_seed(1)
    emb = nn.Embedding(50, 6)
    ids = np.array([[5, 7, 0, 0], [1, 2, 3, 0]], dtype=np.int64)
    s2 = InferenceSession(emb, ids, name="emb")
    prof = s2.monitor(ids)
    name = s2._input_names[0]
    assert [f["name"] for f in prof.features] == [f"{name}.tokens", f"{name}.length", "output0.norm",
                                                  "output0.score", "output0.class"]
    tokens, length = prof.features[0], prof.features[1]
    assert tokens["n"] == 8 and length["n"] == 2
    assert length["mean"] == pytest.approx(2.5) and tokens["max"] == 7
    out = s2.run(ids).numpy()
    vals = nc._C._drift_feature_values(prof.features[2], [nc.from_numpy(ids)], [nc.from_numpy(out)])
    np.testing.assert_allclose(vals, np.linalg.norm(out.reshape(-1, 6), axis=1), rtol=1e-6)
    vals = nc._C._drift_feature_values(prof.features[4], [nc.from_numpy(ids)], [nc.from_numpy(out)])
    np.testing.assert_array_equal(vals, out.reshape(-1, 6).argmax(1))


def test_edges_are_numpy_quantiles():
    rng = np.random.default_rng(2)
    ref = rng.standard_normal((3000, F)).astype(np.float32)
    ref[:, 2] = rng.integers(0, 5, 3000)  # discrete: deduplicated edges
    sess = _session()
    prof = sess.monitor(ref, bins=16)
    for j in range(F):
        f = prof.features[j]
        q = np.quantile(ref[:, j].astype(np.float64), np.arange(1, 16) / 16)
        want = [q[0]] + [v for a, v in zip(q, q[1:]) if v > a]
        np.testing.assert_allclose(f["edges"], want, rtol=0, atol=0)
        np.testing.assert_array_equal(f["counts"], np.bincount(np.searchsorted(want, ref[:, j], side="right"),
                                                               minlength=len(want) + 1))
    assert len(prof.features[2]["edges"]) <= 5
    # a class feature has one bin per class
    cls = next(f for f in prof.features if f["kind"] == "class")
    assert cls["edges"] == [0.5, 1.5, 2.5]


@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_psi_and_ks_match_numpy_and_scipy_on_the_same_windows(shift):
    rng = np.random.default_rng(3)
    ref = rng.standard_normal((4000, F)).astype(np.float32)
    sess = _session()
    window, blocks = 600, 6
    sess.monitor(ref, window=window, blocks=blocks, bins=40, psi_bins=10, min_samples=1)
    sizes = rng.integers(1, 6, 400)
    stream = [(rng.standard_normal((b, F)) + shift).astype(np.float32) for b in sizes]
    for k, x in enumerate(stream):
        sess.run(x)
        if k in (50, 399):  # part-filled and wrapped-around windows
            snap = sess.drift()
            kept = _replay_window(sizes[:k + 1], window, blocks)
            win = np.concatenate([stream[i] for i in kept]).astype(np.float64)
            assert snap["window_rows"] == len(win)
            for j in range(F):
                f = _column_feature(snap, j)
                edges = np.asarray(sess.drift_profile.features[j]["edges"])
                refj = ref[:, j].astype(np.float64)
                lo, hi = min(refj.min(), win[:, j].min()) - 1, max(refj.max(), win[:, j].max()) + 1
                fine = np.concatenate([[lo], edges, [hi]])
                wc, _ = np.histogram(win[:, j], bins=fine)
                np.testing.assert_array_equal(f["window_counts"], wc)  # the sketch's counts are exact
                # PSI from numpy histograms on the same (decile) bins
                coarse = np.concatenate([[lo], f["psi_edges"], [hi]])
                r, _ = np.histogram(refj, bins=coarse)
                w, _ = np.histogram(win[:, j], bins=coarse)
                r, w = np.maximum(r / r.sum(), 1e-4), np.maximum(w / w.sum(), 1e-4)
                assert f["psi"] == pytest.approx(float(np.sum((w - r) * np.log(w / r))), rel=1e-9, abs=1e-12)
                # KS: never above scipy's exact statistic, at most the stated bound below it
                exact = scipy_stats.ks_2samp(win[:, j], refj).statistic
                assert f["ks"] <= exact + 1e-12
                assert exact - f["ks"] <= f["ks_error_bound"] + 1e-12, (exact, f["ks"], f["ks_error_bound"])
                assert f["ks_error_bound"] < 0.12
                assert f["window_mean"] == pytest.approx(win[:, j].mean(), abs=1e-9)
                assert f["window_min"] == pytest.approx(win[:, j].min()) and \
                    f["window_max"] == pytest.approx(win[:, j].max())
                assert np.quantile(win[:, j], 0.02) <= f["window_p05"] <= np.quantile(win[:, j], 0.1)


def test_pure_psi_and_binned_ks():
    assert nc._C._population_stability_index([10, 10], [10, 10]) == 0.0
    r, w = np.array([30, 50, 20]), np.array([10, 40, 50])
    rp, wp = r / r.sum(), w / w.sum()
    assert nc._C._population_stability_index(list(r), list(w)) == pytest.approx(np.sum((wp - rp) * np.log(wp / rp)))
    ks, bound = nc._C._binned_ks(list(r), list(w))
    assert ks == pytest.approx(np.max(np.abs(np.cumsum(wp) - np.cumsum(rp))))
    assert bound == pytest.approx(0.5)
    with pytest.raises(ValueError, match="3 reference bins but 2 window bins"):
        nc._C._population_stability_index([1, 2, 3], [1, 2])


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_half_sigma_shift_alerts_within_one_window_and_no_shift_stays_ok(seed):
    rng = np.random.default_rng(seed)
    ref = rng.standard_normal((5000, F)).astype(np.float32)
    window = 1000
    steady, shifted = _session(), _session()
    steady.monitor(ref, window=window)
    shifted.monitor(ref, window=window)
    for _ in range(window // 10):  # exactly one window of rows, in batches of 10
        x = rng.standard_normal((10, F)).astype(np.float32)
        steady.run(x)
        y = x.copy()
        y[:, 1] += 0.5  # feature 1 moves by 0.5 standard deviations
        shifted.run(y)
    s, d = steady.drift(), shifted.drift()
    assert d["window_rows"] == s["window_rows"] == window
    f = _column_feature(d, 1)
    assert f["psi"] > d["thresholds"]["psi_alert"] and f["status"] == "alert" and d["status"] == "alert"
    assert abs(f["window_mean"] - f["reference_mean"] - 0.5) < 0.1
    for g in s["features"]:
        assert g["psi"] < s["thresholds"]["psi_alert"] and g["status"] != "alert", g
    assert s["status"] in ("ok", "warning")
    assert all(_column_feature(s, j)["status"] == "ok" for j in range(F))
    assert _column_feature(d, 0)["status"] == "ok"


def test_status_collecting_until_min_samples_and_thresholds_are_settable():
    rng = np.random.default_rng(7)
    sess = _session()
    sess.monitor(rng.standard_normal((500, F)).astype(np.float32), window=100, min_samples=50, psi_warning=0.0,
                 psi_alert=0.0)
    sess.run(rng.standard_normal((49, F)).astype(np.float32))
    assert sess.drift()["status"] == "collecting"
    sess.run(rng.standard_normal((1, F)).astype(np.float32))
    assert sess.drift()["status"] == "alert"  # every PSI >= 0


def test_profile_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(8)
    ref = rng.standard_normal((800, F)).astype(np.float32)
    a, b = _session(), _session()
    prof = a.monitor(ref, window=200)
    path = tmp_path / "profile.json"
    prof.save(path)
    loaded = DriftProfile.load(path)
    assert loaded.features == prof.features and loaded.inputs == prof.inputs
    b.monitor(str(path), window=200)
    for _ in range(30):
        x = rng.standard_normal((4, F)).astype(np.float32)
        a.run(x)
        b.run(x)
    sa, sb = a.drift(), b.drift()
    for fa, fb in zip(sa["features"], sb["features"]):
        assert fa["window_counts"] == fb["window_counts"] and fa["psi"] == fb["psi"] and fa["ks"] == fb["ks"]


def test_reference_as_batches_equals_reference_split():
    rng = np.random.default_rng(14)
    ref = rng.standard_normal((300, F)).astype(np.float32)
    a = _session().monitor(ref, batch_size=70)
    b = _session().monitor([ref[:100], (ref[100:250],), (nc.from_numpy(ref[250:]),)])
    assert a.features == b.features
    assert a.features[0]["n"] == 300 and a.features[-1]["n"] == 300


def test_concurrent_runs_lose_no_count():
    rng = np.random.default_rng(9)
    sess = _session()
    ref = rng.standard_normal((1000, F)).astype(np.float32)
    n_threads, calls, rows = 8, 150, 3
    total = n_threads * calls * rows
    sess.monitor(ref, window=total, blocks=8, max_pending=total)
    data = [rng.standard_normal((calls, rows, F)).astype(np.float32) for _ in range(n_threads)]
    errors = []

    def client(t):
        try:
            for c in range(calls):
                sess.run(data[t][c])
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    d = sess.drift()
    assert d["calls"] == n_threads * calls and d["rows"] == total and d["errors"] == 0
    assert d["window_rows"] == total
    allx = np.concatenate([x.reshape(-1, F) for x in data]).astype(np.float64)
    for j in range(F):
        f = _column_feature(d, j)
        edges = sess.drift_profile.features[j]["edges"]
        want = np.bincount(np.searchsorted(edges, allx[:, j], side="right"), minlength=len(edges) + 1)
        assert f["total"] == f["window_count"] == total
        np.testing.assert_array_equal(f["window_counts"], want)
    assert d["outcomes"]["pending"] == n_threads * calls
    assert sess.stats()["successes"] == n_threads * calls


def _outputs(sess, x):
    return sess.run(x).numpy()


def test_bad_reference_and_options_raise_and_serving_goes_on(tmp_path):
    rng = np.random.default_rng(10)
    sess = _session()
    x = rng.standard_normal((4, F)).astype(np.float32)
    before = _outputs(sess, x)
    good = rng.standard_normal((300, F)).astype(np.float32)
    sess.monitor(good, window=100)
    calls_before = sess.drift()["calls"]
    with pytest.raises(ValueError, match=r"reference batch 0 does not fit the session.*dim 1 is static and must "
                                         r"be 3, got 5"):
        sess.monitor(np.zeros((10, 5), np.float32))
    with pytest.raises(ValueError, match="rank"):
        sess.monitor(np.zeros((10,), np.float32))
    with pytest.raises(ValueError, match=r"the reference has 2 inputs, the session takes 1"):
        sess.monitor((good, good))
    bad = good.copy()
    bad[7, 1] = np.nan
    with pytest.raises(ValueError, match=r"feature 'x\[1\]' contains NaN"):
        sess.monitor(bad)
    with pytest.raises(ValueError, match=r"window \(4 rows\) must be at least blocks \(8\)"):
        sess.monitor(good, window=4)
    with pytest.raises(ValueError, match="psi_warning <= psi_alert"):
        sess.monitor(good, psi_warning=0.5, psi_alert=0.1)
    with pytest.raises(ValueError, match="bins must be in"):
        sess.monitor(good, bins=1)
    with pytest.raises(ValueError, match="scores must be"):
        sess.monitor(good, scores="odds")
    # a profile of another session (other input width) is refused
    other = InferenceSession(_mlp(0, d_in=5), np.zeros((2, 5), np.float32), name="other")
    with pytest.raises(ValueError, match=r"profile feature .x\[3\]. \(column of input 0\) does not fit"):
        sess.monitor(other.monitor(np.zeros((20, 5), np.float32)))
    # corrupt profile files
    p = tmp_path / "p.json"
    d = sess.drift_profile.to_dict()
    d["features"][0]["edges"] = d["features"][0]["edges"][::-1]
    p.write_text(json.dumps(d))
    with pytest.raises(ValueError, match="strictly increasing"):
        sess.monitor(str(p))
    d = sess.drift_profile.to_dict()
    d["features"][0]["counts"][0] += 5
    p.write_text(json.dumps(d))
    with pytest.raises(ValueError, match="bin counts sum to"):
        DriftProfile.load(p)
    p.write_text("{not json")
    with pytest.raises(ValueError, match="is not JSON"):
        DriftProfile.load(p)
    p.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="not a drift profile"):
        DriftProfile.load(p)
    # the monitor attached before all that is still the one serving, untouched
    np.testing.assert_array_equal(_outputs(sess, x), before)
    assert sess.drift()["calls"] == calls_before + 1 and sess.drift()["window"] == 100
    assert sess.stats()["errors"] == 0


def test_nan_features_are_counted_not_binned_and_serving_goes_on():
    rng = np.random.default_rng(11)
    sess = _session()
    sess.monitor(rng.standard_normal((300, F)).astype(np.float32), window=100)
    x = rng.standard_normal((6, F)).astype(np.float32)
    x[2, 0] = np.nan
    out = sess.run(x).numpy()
    assert np.isnan(out[2]).all() and np.isfinite(np.delete(out, 2, axis=0)).all()
    d = sess.drift()
    f0, f1 = _column_feature(d, 0), _column_feature(d, 1)
    assert (f0["nan_total"], f0["window_count"], f0["total"]) == (1, 5, 5)
    assert (f1["nan_total"], f1["window_count"]) == (0, 6)
    assert d["errors"] == 0 and sess.stats()["successes"] == 1


def test_calls_that_do_not_fit_the_profile_are_counted_not_raised():
    # a profile whose class feature expects 4 classes, attached to a monitor fed other outputs
    rng = np.random.default_rng(12)
    sess = _session()
    prof = sess.monitor(rng.standard_normal((200, F)).astype(np.float32))
    mon = nc._C._DriftMonitor({"bins": prof.bins, "features": prof.features}, {"window": 64})
    x = nc.from_numpy(rng.standard_normal((2, F)).astype(np.float32))
    mon.observe([x], [nc.from_numpy(np.zeros((2, 7), np.float32))], "", 2)
    s = mon.snapshot()
    assert s["errors"] == 1 and "has 4 classes" in s["last_error"] and s["calls"] == 0
    mon.observe([x], [sess.run(x)], "", 2)
    assert mon.snapshot()["calls"] == 1


def test_stop_monitoring_and_reset():
    rng = np.random.default_rng(13)
    sess = _session()
    sess.monitor(rng.standard_normal((200, F)).astype(np.float32))
    sess.run(rng.standard_normal((3, F)).astype(np.float32))
    sess.reset_stats()
    assert sess.drift()["rows"] == 0 and sess.drift()["window_rows"] == 0
    sess.stop_monitoring()
    assert sess.drift() is None and sess.stats()["monitor"] is None
    sess.run(rng.standard_normal((3, F)).astype(np.float32))
