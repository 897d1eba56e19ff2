"""``Canary``: a candidate model version beside the primary one, compared on live traffic.

Routing (``shadow=False``): a fraction of the calls is answered by the candidate; the
primary runs the same inputs in the background, so every routed call yields a comparison.
If the candidate fails, the primary answers that call (the error is counted).
Shadow (``shadow=True``): the primary answers every call; the candidate runs a mirror of
``fraction`` of them (``fraction=1`` mirrors all) in the background.

Background runs go through one worker thread and a bounded queue (``max_queue``); when
the queue is full the comparison is dropped (``stats()['dropped']``), never the call.
``flush()`` waits for the queue to drain.

Comparisons (csrc/runtime/monitor_features.cpp ``compare_outputs``): the largest absolute
difference over all float outputs, the mean cosine similarity of rows (over the last
dim) and top-1 agreement (rows whose argmax agrees). Latencies of each side are recorded
in a ``_C.SessionMetrics`` per side (the runtime's log-linear histogram), for every run
of that side, foreground or background.

``verdict()`` applies the rules: "hold" until ``min_samples`` comparisons; "rollback"
when top-1 agreement < ``min_top1_agreement``, mean cosine < ``min_cosine``, max abs diff
> ``max_abs_diff`` (when set), the candidate's error rate exceeds the primary's by more
than ``max_error_rate_increase``, its p99 latency exceeds ``p99_latency_budget_s`` (when
set) or ``max_p99_latency_ratio`` times the primary's (when set); otherwise "promote".
"""
from __future__ import annotations

import math
import queue
import random
import threading
import time
from typing import List, Optional

from .. import _C

PREFIX = "nn_core_canary_"
DECISIONS = ("promote", "hold", "rollback")


def _flat(out) -> list:
    return [out] if isinstance(out, _C.Tensor) else list(out)


class Canary:
    """Routes or mirrors calls between ``primary`` and ``candidate`` (InferenceSessions or
    any callables of the same inputs) and compares them; see the module docstring."""

    def __init__(self, primary, candidate, fraction: float = 0.1, shadow: bool = False, *,
                 min_samples: int = 20, min_top1_agreement: float = 0.99, min_cosine: float = 0.99,
                 max_abs_diff: Optional[float] = None, p99_latency_budget_s: Optional[float] = None,
                 max_p99_latency_ratio: Optional[float] = None, max_error_rate_increase: float = 0.0,
                 max_queue: int = 64, seed: Optional[int] = None, name: str = "canary"):
        if not callable(getattr(primary, "run", primary)) or not callable(getattr(candidate, "run", candidate)):
            raise TypeError("Canary: primary and candidate must be InferenceSessions or callables")
        if not 0.0 <= float(fraction) <= 1.0:
            raise ValueError(f"Canary: fraction must be in [0, 1], got {fraction}")
        if int(min_samples) < 1 or int(max_queue) < 1:
            raise ValueError("Canary: min_samples and max_queue must be at least 1")
        for label, v in (("min_top1_agreement", min_top1_agreement), ("min_cosine", min_cosine)):
            if not -1.0 <= float(v) <= 1.0:
                raise ValueError(f"Canary: {label} must be in [-1, 1], got {v}")
        for label, v in (("max_abs_diff", max_abs_diff), ("p99_latency_budget_s", p99_latency_budget_s),
                         ("max_p99_latency_ratio", max_p99_latency_ratio)):
            if v is not None and not float(v) > 0:
                raise ValueError(f"Canary: {label} must be positive or None, got {v}")
        self.primary, self.candidate = primary, candidate
        self.fraction, self.shadow, self.name = float(fraction), bool(shadow), str(name)
        self.rules = dict(min_samples=int(min_samples), min_top1_agreement=float(min_top1_agreement),
                          min_cosine=float(min_cosine), max_abs_diff=max_abs_diff,
                          p99_latency_budget_s=p99_latency_budget_s, max_p99_latency_ratio=max_p99_latency_ratio,
                          max_error_rate_increase=float(max_error_rate_increase))
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._latency = {"primary": _C.SessionMetrics(f"{name}-primary"),
                         "candidate": _C.SessionMetrics(f"{name}-candidate")}
        self._counts = {"calls": 0, "routed": 0, "mirrored": 0, "compared": 0, "dropped": 0, "mismatched": 0,
                        "fallbacks": 0}
        self._cmp = {"rows": 0, "top1_agree": 0, "cosine_sum": 0.0, "max_abs_diff": 0.0}
        self._last_mismatch = ""
        self._queue: "queue.Queue" = queue.Queue(maxsize=int(max_queue))
        self._worker = threading.Thread(target=self._work, name=f"{name}-worker", daemon=True)
        self._closed = False
        self._worker.start()

    # ---- calls ---------------------------------------------------------------------------
    def _timed(self, side: str, inputs):
        fn = getattr(self.primary if side == "primary" else self.candidate, "run", None) or \
            (self.primary if side == "primary" else self.candidate)
        t0 = time.perf_counter_ns()
        try:
            out = fn(*inputs)
        except Exception as e:
            self._latency[side].record_error(time.perf_counter_ns() - t0, type(e).__name__)
            raise
        self._latency[side].record_success(time.perf_counter_ns() - t0, 1)
        return out

    def run(self, *inputs):
        """Serves one call (see the module docstring for who answers)."""
        if self._closed:
            raise RuntimeError("Canary: closed")
        with self._lock:
            self._counts["calls"] += 1
            pick = self._rng.random() < self.fraction
        if self.shadow:
            out = self._timed("primary", inputs)
            if pick:
                self._enqueue(("candidate", inputs, out), "mirrored")
            return out
        if not pick:
            return self._timed("primary", inputs)
        try:
            out = self._timed("candidate", inputs)
        except Exception:
            with self._lock:
                self._counts["fallbacks"] += 1
            return self._timed("primary", inputs)
        with self._lock:
            self._counts["routed"] += 1
        self._enqueue(("primary", inputs, out), None)
        return out

    __call__ = run

    def _enqueue(self, job, counter: Optional[str]) -> None:
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            with self._lock:
                self._counts["dropped"] += 1
            return
        if counter is not None:
            with self._lock:
                self._counts[counter] += 1

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                side, inputs, served = job
                try:
                    other = self._timed(side, inputs)
                except Exception:
                    continue  # counted as an error of that side
                a, b = (_flat(served), _flat(other)) if side == "candidate" else (_flat(other), _flat(served))
                c = _C._compare_outputs(a, b)
                with self._lock:
                    if c["mismatch"]:
                        self._counts["mismatched"] += 1
                        self._last_mismatch = c["mismatch"]
                        continue
                    self._counts["compared"] += 1
                    self._cmp["rows"] += c["rows"]
                    self._cmp["top1_agree"] += c["top1_agree"]
                    self._cmp["cosine_sum"] += c["cosine_sum"]
                    self._cmp["max_abs_diff"] = max(self._cmp["max_abs_diff"], c["max_abs_diff"])
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Waits until every queued background run has finished and been compared."""
        self._queue.join()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._worker.join(timeout=10)

    def __enter__(self) -> "Canary":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- figures -------------------------------------------------------------------------
    def stats(self) -> dict:
        with self._lock:
            counts, cmp_, mismatch = dict(self._counts), dict(self._cmp), self._last_mismatch
        rows = cmp_["rows"]
        lat = {}
        for side, m in self._latency.items():
            s = m.snapshot()
            lat[side] = {"calls": s["calls"], "errors": s["errors"],
                         "error_rate": (s["errors"] / s["calls"]) if s["calls"] else 0.0,
                         "p50_s": s["latency_s"]["p50"], "p99_s": s["latency_s"]["p99"],
                         "mean_s": s["latency_s"]["mean"]}
        return {**counts, "rows_compared": rows, "fraction": self.fraction, "shadow": self.shadow,
                "top1_agreement": cmp_["top1_agree"] / rows if rows else None,
                "cosine_mean": cmp_["cosine_sum"] / rows if rows else None,
                "max_abs_diff": cmp_["max_abs_diff"] if rows else None,
                "last_mismatch": mismatch, "latency": lat, "rules": dict(self.rules)}

    def verdict(self) -> dict:
        """{"decision": "promote" | "hold" | "rollback", "reasons": [...], plus the figures}."""
        s = self.stats()
        r = self.rules
        reasons: List[str] = []
        if s["mismatched"]:
            reasons.append(f"outputs do not match in shape or count ({s['last_mismatch']})")
            return {"decision": "rollback", "reasons": reasons, "stats": s}
        if s["compared"] < r["min_samples"]:
            return {"decision": "hold", "stats": s,
                    "reasons": [f"{s['compared']} of {r['min_samples']} comparisons needed"]}
        if s["top1_agreement"] < r["min_top1_agreement"]:
            reasons.append(f"top-1 agreement {s['top1_agreement']:.4f} < {r['min_top1_agreement']}")
        if s["cosine_mean"] < r["min_cosine"]:
            reasons.append(f"mean cosine {s['cosine_mean']:.4f} < {r['min_cosine']}")
        if r["max_abs_diff"] is not None and not s["max_abs_diff"] <= r["max_abs_diff"]:
            reasons.append(f"max abs diff {s['max_abs_diff']:.3g} > {r['max_abs_diff']}")
        lp, lc = s["latency"]["primary"], s["latency"]["candidate"]
        if lc["error_rate"] > lp["error_rate"] + r["max_error_rate_increase"]:
            reasons.append(f"candidate error rate {lc['error_rate']:.4f} > primary {lp['error_rate']:.4f} + "
                           f"{r['max_error_rate_increase']}")
        if r["p99_latency_budget_s"] is not None and lc["p99_s"] > r["p99_latency_budget_s"]:
            reasons.append(f"candidate p99 {lc['p99_s'] * 1e3:.3f} ms > budget "
                           f"{r['p99_latency_budget_s'] * 1e3:.3f} ms")
        if r["max_p99_latency_ratio"] is not None and lp["p99_s"] > 0 and \
                lc["p99_s"] > r["max_p99_latency_ratio"] * lp["p99_s"]:
            reasons.append(f"candidate p99 {lc['p99_s'] * 1e3:.3f} ms > {r['max_p99_latency_ratio']} x primary p99 "
                           f"{lp['p99_s'] * 1e3:.3f} ms")
        if reasons:
            return {"decision": "rollback", "reasons": reasons, "stats": s}
        return {"decision": "promote", "reasons": ["every rule holds"], "stats": s}

    def to_json(self, indent: Optional[int] = None) -> str:
        import json
        return json.dumps({"stats": self.stats(), "verdict": self.verdict()["decision"]}, indent=indent,
                          sort_keys=True)

    def prometheus_text(self) -> str:
        """``nn_core_canary_*`` families (label ``canary``; ``side`` where per side)."""
        from .metrics import _labels, _num

        s = self.stats()
        base = {"canary": self.name}
        out: List[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            out.append(f"# HELP {PREFIX}{name} {help_text}")
            out.append(f"# TYPE {PREFIX}{name} {kind}")

        family("calls_total", "counter", "Calls served through the canary.")
        out.append(f"{PREFIX}calls_total{_labels(base)} {s['calls']}")
        for key, help_text in (("routed", "Calls answered by the candidate."),
                               ("mirrored", "Calls mirrored to the candidate (shadow)."),
                               ("compared", "Background runs compared with the served result."),
                               ("dropped", "Comparisons dropped because the queue was full."),
                               ("fallbacks", "Routed calls the primary answered after the candidate failed.")):
            family(f"{key}_total", "counter", help_text)
            out.append(f"{PREFIX}{key}_total{_labels(base)} {s[key]}")
        for key, help_text in (("top1_agreement", "Fraction of compared rows whose argmax agrees."),
                               ("cosine_mean", "Mean cosine similarity of compared rows."),
                               ("max_abs_diff", "Largest absolute difference of compared outputs.")):
            family(key, "gauge", help_text)
            v = s[key]
            out.append(f"{PREFIX}{key}{_labels(base)} {'NaN' if v is None else _num(float(v))}")
        family("latency_p99_seconds", "gauge", "p99 latency of each side's runs.")
        for side in ("primary", "candidate"):
            out.append(f"{PREFIX}latency_p99_seconds{_labels(base, side=side)} "
                       f"{_num(float(s['latency'][side]['p99_s']))}")
        family("errors_total", "counter", "Failed runs of each side.")
        for side in ("primary", "candidate"):
            out.append(f"{PREFIX}errors_total{_labels(base, side=side)} {s['latency'][side]['errors']}")
        decision = self.verdict()["decision"]
        family("verdict", "gauge", "1 for the current decision (promote, hold, rollback), 0 for the others.")
        for d in DECISIONS:
            out.append(f"{PREFIX}verdict{_labels(base, decision=d)} {int(d == decision)}")
        return "\n".join(out) + "\n"

    def summary(self) -> str:
        v = self.verdict()
        s = v["stats"]

        def fmt(x, spec):
            return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)

        return (f"canary ({'shadow' if self.shadow else 'routed'} {self.fraction:g}): {s['calls']} calls, "
                f"{s['compared']} compared ({s['rows_compared']} rows), top-1 agreement "
                f"{fmt(s['top1_agreement'], '.4f')}, cosine {fmt(s['cosine_mean'], '.6f')}, max abs diff "
                f"{fmt(s['max_abs_diff'], '.3g')}, p99 primary {s['latency']['primary']['p99_s'] * 1e3:.3f} ms / "
                f"candidate {s['latency']['candidate']['p99_s'] * 1e3:.3f} ms -> {v['decision']} "
                f"({'; '.join(v['reasons'])})")
