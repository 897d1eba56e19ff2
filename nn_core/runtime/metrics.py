"""Rendering of an inference session's metrics: Prometheus exposition text, JSON, and a
text latency table and histogram for terminals.

The numbers come from ``nn_core._C.SessionMetrics.snapshot()`` (recorded in C++, see
``csrc/runtime/metrics.h``): a dict with ``calls``, ``successes``, ``errors``,
``errors_by_kind``, ``items``, ``uptime_s``, ``latency_s`` (count, sum, mean, min, max,
p50, p90, p95, p99, p999 and ``buckets``: (upper edge in seconds, count) for each
non-empty log-linear bucket), ``memory`` (arena, allocator, RSS and their growth over
the window) and ``op_profile`` (op -> (calls, seconds), when profiling is on).

Prometheus names (all prefixed ``nn_core_inference_``, labels ``model`` and ``version``):

- ``latency_seconds``: histogram (cumulative ``_bucket{le=...}`` at fixed edges from
  ~1 us to ~50 s, two per octave; ``_sum``, ``_count``)
- ``latency_quantile_seconds{quantile=...}``: gauge, p50 ... p99.9 from the histogram
- ``requests_total{outcome="success"|"error"}``, ``errors_total{kind=...}``,
  ``items_total``: counters (they keep counting through errors)
- ``arena_bytes``, ``arena_peak_bytes``, ``allocator_bytes_in_use``, ``rss_bytes``,
  ``rss_growth_bytes``, ``allocator_growth_bytes``, ``growth_window_seconds``,
  ``items_per_second``: gauges
- ``op_seconds_total{op=...}`` and ``op_calls_total{op=...}``: counters, only with profiling
- with ``InferenceSession.stats()``: the warm-up, drift and outcome families of
  monitoring.py (``time_to_first_result_seconds``, ``drift_psi{feature=...}``, ...; the
  table is in docs/monitoring.md)
"""
from __future__ import annotations

import json
import math
from typing import Dict, List, Optional

PREFIX = "nn_core_inference_"
# Fixed Prometheus bucket edges (seconds), so that rates over time line up: 2^e and
# 1.5 * 2^e ns for 2^10 ns (~1 us) .. 2^35 ns (~34 s). Each is a lower edge of the C++
# log-linear buckets (Note [Latency buckets]), so the cumulative counts are exact.
HISTOGRAM_EDGES_S = tuple(m * 2.0 ** e * 1e-9 for e in range(10, 36) for m in (1.0, 1.5))
QUANTILES = (("0.5", "p50"), ("0.9", "p90"), ("0.95", "p95"), ("0.99", "p99"), ("0.999", "p999"))


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(base: Dict[str, str], **extra: str) -> str:
    items = {**base, **extra}
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in items.items()) + "}"


def _num(x: float) -> str:
    if isinstance(x, float) and math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return repr(float(x)) if isinstance(x, float) else str(int(x))


def prometheus_text(snapshot: Dict, extra_labels: Optional[Dict[str, str]] = None) -> str:
    """The snapshot in the Prometheus text exposition format (version 0.0.4)."""
    base = {"model": snapshot.get("model_name", ""), "version": snapshot.get("model_version", "")}
    base.update(extra_labels or {})
    lat = snapshot["latency_s"]
    mem = snapshot["memory"]
    out: List[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        out.append(f"# HELP {PREFIX}{name} {help_text}")
        out.append(f"# TYPE {PREFIX}{name} {kind}")

    family("latency_seconds", "histogram", "Latency of run() calls (successes and errors), log-linear buckets.")
    for le in HISTOGRAM_EDGES_S:
        cumulative = sum(count for upper, count in lat["buckets"] if upper < le)
        out.append(f"{PREFIX}latency_seconds_bucket{_labels(base, le=_num(le))} {cumulative}")
    out.append(f"{PREFIX}latency_seconds_bucket{_labels(base, le='+Inf')} {lat['count']}")
    out.append(f"{PREFIX}latency_seconds_sum{_labels(base)} {_num(float(lat['sum']))}")
    out.append(f"{PREFIX}latency_seconds_count{_labels(base)} {lat['count']}")

    family("latency_quantile_seconds", "gauge", "Latency percentiles estimated from the histogram.")
    for q, key in QUANTILES:
        out.append(f"{PREFIX}latency_quantile_seconds{_labels(base, quantile=q)} {_num(float(lat[key]))}")

    family("requests_total", "counter", "run() calls by outcome.")
    out.append(f"{PREFIX}requests_total{_labels(base, outcome='success')} {snapshot['successes']}")
    out.append(f"{PREFIX}requests_total{_labels(base, outcome='error')} {snapshot['errors']}")
    family("errors_total", "counter", "Failed run() calls by error kind.")
    for kind, n in sorted(snapshot["errors_by_kind"].items()):
        out.append(f"{PREFIX}errors_total{_labels(base, kind=kind)} {n}")
    family("items_total", "counter", "Batch rows served by successful calls.")
    out.append(f"{PREFIX}items_total{_labels(base)} {snapshot['items']}")

    gauges = (
        ("items_per_second", snapshot["items_per_s"], "Items served per second since the last reset."),
        ("arena_bytes", mem["arena_bytes"], "Bytes held by the session's planned memory arenas."),
        ("arena_peak_bytes", mem["arena_peak_bytes"], "Peak bytes of the session's arenas."),
        ("allocator_bytes_in_use", mem["allocator_bytes_in_use"], "nn_core allocator bytes in use (process)."),
        ("rss_bytes", mem["rss_bytes"], "Resident set size of the process."),
        ("rss_growth_bytes", mem["rss_growth_bytes"], "RSS growth over the growth window."),
        ("allocator_growth_bytes", mem["allocator_growth_bytes"], "Allocator bytes growth over the window."),
        ("growth_window_seconds", mem["growth_window_s"], "Time spanned by the growth figures."),
    )
    for name, value, help_text in gauges:
        family(name, "gauge", help_text)
        out.append(f"{PREFIX}{name}{_labels(base)} {_num(value)}")

    profile = snapshot.get("op_profile") or {}
    if profile:
        family("op_seconds_total", "counter", "Time spent per op kind (profiling on).")
        for op, (_, secs) in sorted(profile.items()):
            out.append(f"{PREFIX}op_seconds_total{_labels(base, op=op)} {_num(float(secs))}")
        family("op_calls_total", "counter", "Calls per op kind (profiling on).")
        for op, (calls, _) in sorted(profile.items()):
            out.append(f"{PREFIX}op_calls_total{_labels(base, op=op)} {calls}")
    if "warmup" in snapshot or snapshot.get("monitor"):  # InferenceSession.stats(): monitoring.py
        from .monitoring import monitor_prometheus_lines
        out += monitor_prometheus_lines(snapshot, base, PREFIX)
    return "\n".join(out) + "\n"


def to_json(snapshot: Dict, indent: Optional[int] = None) -> str:
    """The snapshot as JSON (buckets as [upper_edge_seconds, count] pairs)."""
    return json.dumps(snapshot, indent=indent, sort_keys=True)


def _fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.1f} us"


def latency_table(snapshot: Dict) -> str:
    """A small text table: count, success rate, throughput and the latency percentiles."""
    lat = snapshot["latency_s"]
    mem = snapshot["memory"]
    rows = [
        ("calls", f"{snapshot['calls']}  (errors {snapshot['errors']})"),
        ("success rate", f"{snapshot['success_rate'] * 100:.2f} %"),
        ("throughput", f"{snapshot['calls_per_s']:.1f} calls/s, {snapshot['items_per_s']:.1f} items/s"),
        ("mean", _fmt_time(lat["mean"])), ("min", _fmt_time(lat["min"])),
        ("p50", _fmt_time(lat["p50"])), ("p90", _fmt_time(lat["p90"])), ("p95", _fmt_time(lat["p95"])),
        ("p99", _fmt_time(lat["p99"])), ("p99.9", _fmt_time(lat["p999"])), ("max", _fmt_time(lat["max"])),
        ("arena", f"{mem['arena_bytes'] / 2**20:.1f} MiB (peak {mem['arena_peak_bytes'] / 2**20:.1f} MiB)"),
        ("RSS", f"{mem['rss_bytes'] / 2**20:.1f} MiB (growth {mem['rss_growth_bytes'] / 2**20:+.2f} MiB over "
                f"{mem['growth_window_s']:.0f} s)"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def text_histogram(snapshot: Dict, rows: int = 16, width: int = 50) -> str:
    """The latency distribution as horizontal bars: the non-empty buckets merged into at
    most ``rows`` ranges of equal log width."""
    buckets = snapshot["latency_s"]["buckets"]
    if not buckets:
        return "(no calls)"
    lo = max(snapshot["latency_s"]["min"], 1e-9)
    hi = max(snapshot["latency_s"]["max"], lo * 1.0001)
    edges = [lo * (hi / lo) ** (i / rows) for i in range(rows + 1)]
    counts = [0] * rows
    for upper, count in buckets:
        i = 0
        while i < rows - 1 and upper > edges[i + 1]:
            i += 1
        counts[i] += count
    top = max(counts) or 1
    lines = []
    for i in range(rows):
        bar = "#" * max(1 if counts[i] else 0, round(width * counts[i] / top))
        lines.append(f"{_fmt_time(edges[i]):>10} - {_fmt_time(edges[i + 1]):>10} | {bar} {counts[i]}")
    return "\n".join(lines)
