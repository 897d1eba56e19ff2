"""``run``: times (or counts the instructions of) the selected cases and writes a results
file.

Results file (JSON, the layout of pytest-benchmark's ``--benchmark-json`` where the two
overlap, so its tools read the ``stats``): ``{"version", "mode", "datetime",
"machine_info", "commit_info", "context", "benchmarks": [...]}``; each benchmark has
``name``, ``stats`` of nn_core's samples (seconds per call, or instructions per call in
``instructions`` mode; ``data`` holds every round's sample) and ``extra_info`` with each
peer's samples, ``ratio`` (ours / peer, minima of the rounds; below 1: nn_core faster),
``ratio_rounds`` (the per-round ratios) and the CPUs other processes kept busy.
"""
from __future__ import annotations

import datetime
import json
import statistics
import sys
from typing import Dict, List, Optional, Sequence

import nn_core as nc

from . import cases as case_defs
from .counting import LAST_COUNTED_ISA, count_instructions
from .timing import OtherLoadMeter, context, interleaved_rounds

FORMAT_VERSION = "nn_core.bench/1"


def stats(samples: Sequence[float]) -> dict:
    s = sorted(samples)
    q = statistics.quantiles(s, n=4) if len(s) >= 2 else [s[0], s[0], s[0]]
    return {"min": s[0], "max": s[-1], "mean": statistics.fmean(s), "median": statistics.median(s),
            "stddev": statistics.stdev(s) if len(s) > 1 else 0.0, "iqr": q[2] - q[0], "rounds": len(s),
            "data": list(samples)}


def _set_peer_threads(threads: int, peers: Sequence[str]):
    restore = []
    if "torch" in peers:
        try:
            import torch
            before = torch.get_num_threads()
            torch.set_num_threads(threads)
            restore.append(lambda: torch.set_num_threads(before))
        except ImportError:
            pass
    if "numpy" in peers:
        try:
            from threadpoolctl import threadpool_limits
            limiter = threadpool_limits(limits=threads, user_api="blas")
            restore.append(limiter.restore_original_limits)
        except ImportError:
            pass
    return restore


def _progress(items, enabled: bool, desc: str):
    if not enabled:
        return items
    try:
        from tqdm import tqdm
        return tqdm(items, desc=desc, unit="case", file=sys.stderr)
    except ImportError:
        def plain():
            for i, item in enumerate(items, 1):
                print(f"[{i}/{len(items)}] {desc}: {item.name}", file=sys.stderr, flush=True)
                yield item
        return plain()


def run(suite: str = "quick", pattern: Optional[str] = None, peers: Sequence[str] = ("numpy", "torch"),
        threads: Optional[int] = None, rounds: Optional[int] = None, mode: str = "time", round_s: float = 0.05,
        progress: bool = True) -> dict:
    """Runs the cases and returns the results document (see the module docstring)."""
    if mode not in ("time", "instructions"):
        raise ValueError(f"unknown mode {mode!r} (expected 'time' or 'instructions')")
    selected = case_defs.select(suite, pattern)
    if mode == "instructions":
        threads = 1  # counts are exact for one thread; several threads spin and vary
    threads = threads or nc.get_num_threads()
    rounds = rounds or (1 if mode == "instructions" else 7)
    before = nc.get_num_threads()
    nc.set_num_threads(threads)
    restore = _set_peer_threads(threads, peers) if mode == "time" else []
    benchmarks: List[dict] = []
    try:
        for case in _progress(selected, progress, f"nn_core.bench {suite}"):
            meter = OtherLoadMeter()
            if mode == "instructions":
                samples = [count_instructions(case.name) for _ in range(rounds)]
                ours, peer_info = dict(stats(samples), counted_isa=LAST_COUNTED_ISA[0]), {}
            else:
                measured = interleaved_rounds(case.build(list(peers)), rounds, round_s)
                s = measured["samples"]
                ours = dict(stats(s["ours"]), iterations=measured["iterations"])
                peer_info: Dict[str, dict] = {}
                for peer, peer_samples in s.items():
                    if peer == "ours":
                        continue
                    peer_info[peer] = {
                        "stats": stats(peer_samples),
                        "ratio": min(s["ours"]) / min(peer_samples),
                        "ratio_rounds": [a / b for a, b in zip(s["ours"], peer_samples)],
                    }
            benchmarks.append({
                "name": case.name, "fullname": f"nn_core.bench::{case.name}", "group": suite, "stats": ours,
                "extra_info": {"unit": "instructions" if mode == "instructions" else "s", "peers": peer_info,
                               "flops": case.flops, "other_cpus_busy": meter.other_cpus()},
            })
    finally:
        nc.set_num_threads(before)
        for r in restore:
            r()
    ctx = context(threads)
    return {
        "version": FORMAT_VERSION, "mode": mode, "suite": suite,
        "datetime": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine_info": {"cpu": {"brand_raw": ctx["cpu_model"], "count": ctx["cpu_count"]},
                         "python_version": ctx["python"], "platform": ctx["platform"]},
        "commit_info": {"id": ctx["git_commit"]},
        "context": ctx, "benchmarks": benchmarks,
    }


def save(results: dict, path: str) -> None:
    with open(path, "w") as f:
        json.dump(results, f, indent=1)


def load(path: str) -> dict:
    with open(path) as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION or "benchmarks" not in doc:
        raise ValueError(f"{path}: not a results file of python -m nn_core.bench (version {FORMAT_VERSION})")
    return doc


def format_table(results: dict) -> str:
    unit = "instructions/call" if results["mode"] == "instructions" else "time/call (min)"
    rows = [f"{'case':36s} {unit:>20s}  ratios to peers (ours/peer, <1: nn_core faster)"]
    for b in results["benchmarks"]:
        v = b["stats"]["min"]
        shown = f"{v:,.0f}" if results["mode"] == "instructions" else _fmt_s(v)
        ratios = ", ".join(f"{p} {info['ratio']:.2f}" for p, info in b["extra_info"]["peers"].items())
        rows.append(f"{b['name']:36s} {shown:>20s}  {ratios}")
    ctx = results["context"]
    rows.append(f"[{ctx['cpu_model']}, {ctx['threads']} thread(s), isa {ctx['isa']}, nn_core "
                f"{ctx['nn_core_version']} {(ctx['git_commit'] or '')[:10]}]")
    return "\n".join(rows)


def _fmt_s(s: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"
