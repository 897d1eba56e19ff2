"""A short coverage-guided run of the checkpoint reader's atheris harness (tests/fuzz_checkpoint_atheris.py).

The harness runs in a child process (libFuzzer exits the process when done or on a finding) over a
fresh corpus seeded with valid files; the run must end with libFuzzer's "Done" and exit status 0, i.e.
every mutated file loaded or raised CheckpointError/ValueError. Skipped without atheris. The long run
and the sanitizer run are in docs/sanitizers.md.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris")

import nn_core as nc

HARNESS = Path(__file__).resolve().parent / "fuzz_checkpoint_atheris.py"


def test_atheris_short_run_of_the_checkpoint_reader(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    # the child imports the same nn_core as this process (in-place build or installed wheel)
    env = dict(os.environ, PYTHONPATH=str(Path(os.path.abspath(nc.__file__)).parent.parent))  # no resolve(): keeps a sanitizer build's inplace package
    proc = subprocess.run([sys.executable, str(HARNESS), str(corpus), "-runs=3000", "-max_len=8192", "-seed=1234",
                           f"-artifact_prefix={tmp_path}/"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Done 3000 runs" in log, log[-4000:]
    assert len(os.listdir(corpus)) >= 6, "the seeds were not written"
    if "libasan" not in os.environ.get("LD_PRELOAD", ""):
        # Under GCC's preloaded libasan (docs/sanitizers.md), libasan provides the coverage
        # callbacks and atheris sees no coverage: the run is then random mutation, still
        # checked by the sanitizers, but keeps no new input.
        assert len(os.listdir(corpus)) > 6, "coverage guidance kept no new input"
