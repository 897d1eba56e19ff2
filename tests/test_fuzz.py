"""Fuzz every op of the C++ op table with random and invalid arguments (see
tests/fuzz_cases.py) in a child process: the child's exit status says whether every
call either matched its reference or raised ValueError / TypeError / IndexError /
RuntimeError / MemoryError. A crash (signal) or a wrong result fails this test, and
the example being run when the child died is printed."""
from pathlib import Path

from child_process import child_env, run_python

from op_db import OP_DB
from samples import examples

HERE = Path(__file__).resolve().parent


def test_fuzz_all_ops_in_child_process(tmp_path):
    log = tmp_path / "last_example.txt"
    env = child_env(NN_CORE_FUZZ_LOG=str(log), NN_CORE_FUZZ_EXAMPLES=str(examples(10)))
    cmd = ["-X", "faulthandler", "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "--rootdir", str(HERE.parent), str(HERE / "fuzz_cases.py")]
    r = run_python(cmd, env=env, cwd=tmp_path, timeout=900)
    last = log.read_text() if log.exists() else "(none)"
    if r.returncode < 0:
        how = f"the child was killed by signal {-r.returncode} (a crash in the native core; 9: out of memory)"
    else:
        how = f"the child exited with status {r.returncode}"
    assert r.returncode == 0, (f"{how}\nlast example: {last}\n--- stdout ---\n{r.stdout[-8000:]}\n"
                               f"--- stderr ---\n{r.stderr[:4000]}")
    # The child really ran: one test per op (10 examples each: 720 calls) plus 300 factory calls.
    summary = r.stdout.strip().splitlines()[-1]
    assert f"{len(OP_DB) + 1} passed" in summary, summary
