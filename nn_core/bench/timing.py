"""Timing primitives of ``python -m nn_core.bench``: interleaved rounds of nn_core and its
peers, the load other processes put on the machine meanwhile, and the run's context.

A case is timed in rounds. Each round runs every side (ours, then each peer, the order
rotating from round to round so no side always runs on another's cache or clock state)
for the same number of iterations, chosen so that a round of the slowest side lasts
about ``round_s``. A round's time divided by its iterations is one sample; the samples
of all rounds are kept (the spread between rounds is what ``compare`` calls noise).
"""
from __future__ import annotations

import datetime
import math
import os
import platform
import subprocess
import time
from typing import Callable, Dict, List, Optional

import nn_core as nc


def interleaved_rounds(sides: Dict[str, Callable[[], object]], rounds: int, round_s: float = 0.05,
                       timer=time.perf_counter) -> Dict[str, object]:
    """``{"iterations": k, "samples": {side: [seconds per call, one per round]}}``."""
    names = list(sides)

    def one_round(fn, k):
        start = timer()
        for _ in range(k):
            fn()
        return timer() - start

    for fn in sides.values():  # warm-up: first-call costs (allocation, lazy init) stay out
        one_round(fn, 1)
    per_call = max(one_round(fn, 2) / 2 for fn in sides.values())
    k = max(1, min(10 ** 6, math.ceil(round_s / max(per_call, 1e-9))))
    samples: Dict[str, List[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            samples[n].append(one_round(sides[n], k) / k)
    return {"iterations": k, "samples": samples}


class OtherLoadMeter:
    """How many CPUs other processes kept busy since construction (Linux /proc/stat):
    machine-wide busy time minus this process's CPU time, over the wall time. None where
    /proc/stat is unreadable or the interval is too short to tell."""

    def __init__(self):
        self._start = self._sample()

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        busy_s = (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # guest time is inside user
        return time.perf_counter(), busy_s, time.process_time()

    def other_cpus(self) -> Optional[float]:
        end = self._sample()
        if self._start is None or end is None:
            return None
        wall = end[0] - self._start[0]
        if wall < 0.05:  # /proc/stat counts in 10 ms ticks
            return None
        other = (end[1] - self._start[1]) - (end[2] - self._start[2])
        return max(0.0, other / wall)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> Optional[str]:
    """The commit of the source tree nn_core was imported from, when it is a git checkout."""
    here = os.path.dirname(os.path.abspath(nc.__file__))
    try:
        out = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def context(threads: int) -> dict:
    """What a result depends on besides the code: version, commit, ISA and kernels, CPU,
    threads, date."""
    info = nc.backend_info()
    return {
        "nn_core_version": nc.__version__,
        "git_commit": git_commit(),
        "isa": info["isa"],
        "kernels": {k: v for k, v in info.items() if k.endswith("_kernel")},
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def machine_key(ctx: dict) -> tuple:
    """Two runs with the same key ran on the same kind of machine and setup. The ISA is not
    part of it: a run forced onto slower kernels is what ``compare`` must catch."""
    return ctx.get("cpu_model"), ctx.get("cpu_count"), ctx.get("threads")
