"""``compare``: what changed between two results files, and whether anything regressed.

Per case present in both files, the change is ``median(new) / median(base) - 1`` of the
per-round samples. Its noise is the rounds' spread: ``spread = max(IQR(base) /
median(base), IQR(new) / median(new))``. A change is significant only when its size,
``|log(median(new) / median(base))|`` (so that 2x slower and 2x faster weigh the same),
exceeds both ``log(1 + threshold)`` and twice the spread; a significant slowdown is a
regression, a significant speed-up an improvement, anything else "same".

When the two runs come from different machines or setups (CPU model, core count or
threads differ), absolute times are not comparable: the case's ratio to a peer
measured in the same run (ours / peer, per round) is compared instead, with the same
rule. Instruction counts (``--mode instructions``) are compared directly; their spread
is zero, so the threshold alone decides.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import List, Optional, Sequence

from .timing import machine_key


@dataclass
class Change:
    case: str
    basis: str           # "time", "instructions" or "ratio to <peer>"
    base: float
    new: float
    change: float        # new / base - 1 (positive: slower)
    spread: float
    verdict: str         # "regression", "improvement", "same"


def _rel_iqr(samples: Sequence[float]) -> float:
    if len(samples) < 2:
        return 0.0
    q = statistics.quantiles(sorted(samples), n=4)
    med = statistics.median(samples)
    return (q[2] - q[0]) / med if med else 0.0


def _judge(case, basis, base_samples, new_samples, threshold) -> Change:
    b, n = statistics.median(base_samples), statistics.median(new_samples)
    change = n / b - 1.0 if b else 0.0
    spread = max(_rel_iqr(base_samples), _rel_iqr(new_samples))
    # judged on the log of the ratio, so a 2x slowdown and a 2x speed-up weigh the same
    size = abs(math.log(n / b)) if b > 0 and n > 0 else 0.0
    significant = size > math.log1p(threshold) and size > 2 * spread
    verdict = "same" if not significant else ("regression" if change > 0 else "improvement")
    return Change(case, basis, b, n, change, spread, verdict)


def compare(base: dict, new: dict, threshold: float = 0.05) -> List[Change]:
    if base.get("mode") != new.get("mode"):
        raise ValueError(f"cannot compare a {base.get('mode')!r} run with a {new.get('mode')!r} run")
    same_machine = machine_key(base["context"]) == machine_key(new["context"])
    base_cases = {b["name"]: b for b in base["benchmarks"]}
    out: List[Change] = []
    for nb in new["benchmarks"]:
        bb = base_cases.get(nb["name"])
        if bb is None:
            continue
        if new["mode"] == "instructions":
            out.append(_judge(nb["name"], "instructions", bb["stats"]["data"], nb["stats"]["data"], threshold))
        elif same_machine:
            out.append(_judge(nb["name"], "time", bb["stats"]["data"], nb["stats"]["data"], threshold))
        else:
            peers = [p for p in nb["extra_info"]["peers"] if p in bb["extra_info"]["peers"]]
            if not peers:
                continue  # another machine and no common peer: nothing comparable
            p = peers[0]
            out.append(_judge(nb["name"], f"ratio to {p}", bb["extra_info"]["peers"][p]["ratio_rounds"],
                              nb["extra_info"]["peers"][p]["ratio_rounds"], threshold))
    return out


def format_changes(changes: List[Change], base_ctx: Optional[dict] = None, new_ctx: Optional[dict] = None) -> str:
    lines = [f"{'case':36s} {'basis':16s} {'base':>12s} {'new':>12s} {'change':>8s} {'noise':>7s}  verdict"]
    for c in changes:
        fmt = (lambda v: f"{v:,.0f}") if c.basis == "instructions" else \
              ((lambda v: f"{v:.3f}") if c.basis.startswith("ratio") else (lambda v: f"{v * 1e6:.1f} us"))
        lines.append(f"{c.case:36s} {c.basis:16s} {fmt(c.base):>12s} {fmt(c.new):>12s} {c.change:+8.1%} "
                     f"{c.spread:7.1%}  {c.verdict.upper() if c.verdict == 'regression' else c.verdict}")
    n_reg = sum(c.verdict == "regression" for c in changes)
    lines.append(f"{len(changes)} case(s) compared, {n_reg} regression(s), "
                 f"{sum(c.verdict == 'improvement' for c in changes)} improvement(s)")
    if (base_ctx is not None and new_ctx is not None and machine_key(base_ctx) != machine_key(new_ctx)
            and not any(c.basis == "instructions" for c in changes)):
        lines.append("(the runs come from different machines or setups: ratios to a peer were compared)")
    return "\n".join(lines)
