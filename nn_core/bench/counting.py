"""Instruction counts for ``run --mode instructions``: repeatable to the instruction on a
shared, noisy machine, where timings are not (the idea of CodSpeed's CPU simulation).

Each case runs single-threaded in a child process under ``valgrind --tool=callgrind``
with collection off at start: the child builds the case, runs two warm-up calls, then
switches collection on (``nn_core._C._callgrind_toggle_collect``, a callgrind client
request) around ``iterations`` calls. The count is callgrind's ``Collected`` total divided
by the iterations. Under valgrind the CPU reports no AVX-512 (valgrind does not emulate
it), so the counted path is the AVX2 one where the CPU has AVX2.

Where the extension was built without valgrind's header (the client request is then a
no-op), the child counts everything and the count is the difference of two runs of
different lengths over their difference in iterations.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

ITERATIONS = 5
LAST_COUNTED_ISA = [None]  # the ISA the last counted child ran (no AVX-512 under valgrind)


def valgrind_available() -> bool:
    return shutil.which("valgrind") is not None


def _callgrind(case: str, iterations: int, toggle: bool) -> int:
    if not valgrind_available():
        raise RuntimeError("instruction counting needs valgrind (apt install valgrind); it was not found on PATH")
    import nn_core
    parent = os.path.dirname(os.path.dirname(os.path.abspath(nn_core.__file__)))  # the same nn_core in the child
    path = os.pathsep.join(filter(None, [parent, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1", PYTHONPATH=path)
    with tempfile.TemporaryDirectory(prefix="nn_core_bench_") as tmp:
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={os.path.join(tmp, 'out')}",
               f"--collect-atstart={'no' if toggle else 'yes'}", sys.executable, "-m", "nn_core.bench", "_count",
               "--case", case, "--iterations", str(iterations)]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(f"instruction count of {case!r} failed (exit {r.returncode}):\n{r.stderr[-3000:]}")
    m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
    isa = re.search(r"counted_isa=(\w+)", r.stdout)
    if m is None or isa is None:
        raise RuntimeError(f"instruction count of {case!r}: unexpected output of the child:\n{r.stdout[-2000:]}"
                           f"\n{r.stderr[-2000:]}")
    LAST_COUNTED_ISA[0] = isa.group(1)
    return int(m.group(1))


def _toggle_collect() -> bool:
    """Switches callgrind's collection on or off (a no-op outside valgrind); False when the
    extension was built without the client request."""
    from nn_core import _C
    return bool(_C._callgrind_toggle_collect())


def count_instructions(case: str, iterations: int = ITERATIONS) -> float:
    """Instructions per call of the case's nn_core side (one thread)."""
    if _toggle_collect():  # outside valgrind only reports whether the request is compiled in
        return _callgrind(case, iterations, toggle=True) / iterations
    short, long = _callgrind(case, iterations, False), _callgrind(case, 2 * iterations, False)
    return (long - short) / iterations


def child_main(case_name: str, iterations: int) -> None:
    """The child's side: build, warm up, count ``iterations`` calls (``_count`` command)."""
    import nn_core as nc
    from . import cases
    nc.set_num_threads(1)
    fn = cases.by_name(case_name).build(())["ours"]
    fn()
    fn()
    print("counted_isa=" + str(nc.backend_info()["isa"]), flush=True)
    toggled = _toggle_collect()  # collection on (a no-op without the header)
    for _ in range(iterations):
        fn()
    if toggled:
        _toggle_collect()  # and off
