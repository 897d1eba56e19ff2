"""python -m nn_core.bench: run writes a results file; two runs of the same build compare
clean; a planted regression (the fast kernels switched off through the ISA switch) is
flagged in timing mode and, under valgrind, in instruction-count mode, with exit status
1; the noise rule and the cross-machine ratio rule on synthetic files; report writes a
PNG. No wall-clock limit is asserted: only relative changes far outside the noise."""
import json
import shutil

import pytest

import nn_core as nc
from child_process import child_env, run_python
from nn_core.bench import compare, run
from nn_core.bench.compare import format_changes

CASE = "gemm f32 256"


def test_run_writes_results_and_same_build_compares_clean(tmp_path):
    a = run("quick", CASE, peers=("numpy",), threads=1, rounds=5, progress=False)
    b = run("quick", CASE, peers=("numpy",), threads=1, rounds=5, progress=False)
    (entry,) = a["benchmarks"]
    assert entry["name"] == CASE and entry["stats"]["rounds"] == 5 and len(entry["stats"]["data"]) == 5
    assert entry["stats"]["min"] > 0 and "numpy" in entry["extra_info"]["peers"]
    assert a["context"]["isa"] == nc.backend_info()["isa"] and a["context"]["threads"] == 1
    changes = compare(a, b, threshold=0.5)
    assert [c.verdict for c in changes] == ["same"], format_changes(changes)


def test_planted_regression_is_flagged_in_timing_mode(tmp_path):
    if nc.backend_info()["best_isa"] == "generic":
        pytest.skip("no vector ISA to switch off on this CPU")
    base = run("quick", CASE, peers=(), threads=1, rounds=5, progress=False)
    before = nc.backend_info()["isa"]
    nc._C._set_isa("generic")  # the NN_CORE_ISA=generic switch: plain loops instead of the vector GEMM
    try:
        slow = run("quick", CASE, peers=(), threads=1, rounds=5, progress=False)
    finally:
        nc._C._set_isa(before)
    (change,) = compare(base, slow, threshold=0.05)
    assert change.verdict == "regression" and change.change > 1.0, format_changes([change])
    (back,) = compare(slow, base, threshold=0.05)
    assert back.verdict == "improvement"
    base_path, slow_path = tmp_path / "base.json", tmp_path / "slow.json"
    base_path.write_text(json.dumps(base))
    slow_path.write_text(json.dumps(slow))
    r = run_python(["-m", "nn_core.bench", "compare", str(base_path), str(slow_path)], timeout=300)
    assert r.returncode == 1 and "REGRESSION" in r.stdout, r.stdout + r.stderr
    r = run_python(["-m", "nn_core.bench", "compare", str(base_path), str(base_path)], timeout=300)
    assert r.returncode == 0 and "0 regression(s)" in r.stdout, r.stdout + r.stderr


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="instruction counting needs valgrind")
def test_instruction_counts_repeat_and_flag_the_planted_regression(tmp_path):
    paths = {}
    for name, extra in (("a", {}), ("b", {}), ("generic", {"NN_CORE_ISA": "generic"})):
        paths[name] = tmp_path / f"{name}.json"
        r = run_python(["-m", "nn_core.bench", "run", "-k", CASE, "--mode", "instructions", "--out",
                        str(paths[name]), "--no-progress"], env=child_env(**extra), timeout=900)
        assert r.returncode == 0, r.stdout + r.stderr
    docs = {k: json.loads(p.read_text()) for k, p in paths.items()}
    counts = {k: d["benchmarks"][0]["stats"]["min"] for k, d in docs.items()}
    assert counts["a"] > 0 and abs(counts["a"] - counts["b"]) <= 1e-4 * counts["a"], counts  # repeatable
    assert counts["generic"] > 2 * counts["a"], counts
    r = run_python(["-m", "nn_core.bench", "compare", str(paths["a"]), str(paths["b"])], timeout=300)
    assert r.returncode == 0 and "same" in r.stdout, r.stdout
    r = run_python(["-m", "nn_core.bench", "compare", str(paths["a"]), str(paths["generic"])], timeout=300)
    assert r.returncode == 1 and "REGRESSION" in r.stdout, r.stdout


def doc(samples, peer_rounds=None, cpu="cpu A", mode="time"):
    peers = {} if peer_rounds is None else {"torch": {"ratio": min(peer_rounds), "ratio_rounds": peer_rounds,
                                                      "stats": {}}}
    return {"version": "nn_core.bench/1", "mode": mode, "datetime": "2026-01-01T00:00:00+00:00",
            "context": {"cpu_model": cpu, "cpu_count": 2, "threads": 2, "isa": "avx2", "git_commit": None,
                        "nn_core_version": "0", "date": ""},
            "benchmarks": [{"name": "c", "stats": {"data": samples, "median": sorted(samples)[len(samples) // 2]},
                            "extra_info": {"peers": peers}}]}


def test_noise_rule():
    steady = [1.00, 1.01, 0.99, 1.00, 1.02]
    assert compare(doc(steady), doc([x * 1.10 for x in steady]), 0.05)[0].verdict == "regression"
    assert compare(doc(steady), doc([x * 1.03 for x in steady]), 0.05)[0].verdict == "same"  # under the threshold
    noisy = [1.0, 1.4, 0.8, 1.3, 0.9]
    assert compare(doc(noisy), doc([x * 1.10 for x in noisy]), 0.05)[0].verdict == "same"  # inside the noise
    assert compare(doc(steady), doc([x * 0.8 for x in steady]), 0.05)[0].verdict == "improvement"


def test_other_machine_compares_ratios_to_the_peer():
    base = doc([1.0] * 5, peer_rounds=[0.50, 0.51, 0.50, 0.49, 0.50], cpu="cpu A")
    faster_machine_same_ratio = doc([0.5] * 5, peer_rounds=[0.50, 0.50, 0.51, 0.50, 0.49], cpu="cpu B")
    (c,) = compare(base, faster_machine_same_ratio, 0.05)
    assert c.basis == "ratio to torch" and c.verdict == "same"
    worse_ratio = doc([0.5] * 5, peer_rounds=[0.70, 0.71, 0.70, 0.69, 0.70], cpu="cpu B")
    assert compare(base, worse_ratio, 0.05)[0].verdict == "regression"
    with pytest.raises(ValueError, match="compare"):
        compare(base, doc([1.0], mode="instructions"), 0.05)


def test_report_writes_png_and_html(tmp_path):
    pytest.importorskip("matplotlib")
    files = []
    for i, scale in enumerate((1.0, 1.1, 0.9)):
        p = tmp_path / f"r{i}.json"
        p.write_text(json.dumps(doc([scale] * 3, peer_rounds=[scale / 2] * 3)))
        files.append(str(p))
    png, page = tmp_path / "history.png", tmp_path / "history.html"
    r = run_python(["-m", "nn_core.bench", "report", *files, "--out", str(png), "--html", str(page)],
                   env=child_env(MPLBACKEND="Agg"), timeout=300)
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "data:image/png;base64," in page.read_text()


def test_help_explains_reading_results_and_bad_files_fail_clearly(tmp_path):
    r = run_python(["-m", "nn_core.bench", "--help"], timeout=120)
    assert r.returncode == 0 and "Reading the results" in r.stdout and "compare" in r.stdout
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    r = run_python(["-m", "nn_core.bench", "compare", str(bad), str(bad)], timeout=120)
    assert r.returncode != 0 and "not a results file" in r.stderr
