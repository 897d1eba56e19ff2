"""Production monitoring of an ``InferenceSession``: drift profiles (saved beside a model),
their rendering in Prometheus text, and the metrics HTTP endpoint.

The figures themselves are computed in C++ on the serving path (csrc/runtime/monitor.h:
feature layout, quantile bins, the sliding window, PSI, binned KS and its error bound,
outcome calibration); this module holds the Python side:

- ``DriftProfile``: the reference of every feature (bin edges, counts, moments) with the
  input signature it was built for; ``save(path)`` / ``DriftProfile.load(path)`` use JSON
  (``{"format": "nn_core.drift_profile", "version": 1, "inputs": [...], "bins": ...,
  "features": [...]}``), so a training job can ship it with the model.
- ``monitor_prometheus_lines(snapshot, base_labels)``: the ``drift_*``, ``outcome_*`` and
  ``warmup`` families (documented in docs/monitoring.md).
- ``TextCollector`` and ``serve_metrics``: the session's Prometheus text re-parsed by
  ``prometheus_client`` into a registry collector, served by its HTTP server.
"""
from __future__ import annotations

import copy
import json
import os
from typing import Callable, Dict, List, Optional

from .. import _C

FORMAT = "nn_core.drift_profile"
FORMAT_VERSION = 1
STATUS_LEVEL = {"collecting": -1, "ok": 0, "warning": 1, "alert": 2}


class DriftProfile:
    """The reference distribution of every monitored feature of a session.

    Built by ``InferenceSession.monitor(reference=inputs)`` (or ``DriftProfile.build``) from
    reference inputs run through the session; ``save`` / ``load`` keep it as JSON. The
    ``inputs`` signature ((name, dtype, rank) per input) is checked when the profile is
    attached to a session."""

    def __init__(self, data: dict, inputs: List[dict]):
        if not isinstance(data, dict) or "features" not in data or "bins" not in data:
            raise ValueError("DriftProfile: data must be a dict with 'bins' and 'features'")
        self._data = data
        self.inputs = [dict(i) for i in inputs]

    @classmethod
    def build(cls, session, reference, bins: int = 40, batch_size: int = 64, max_columns: int = 256,
              max_classes: int = 1024) -> "DriftProfile":
        """Runs ``reference`` through ``session`` (a warm-up run: no metrics, no monitor) and
        profiles every feature. ``reference``: what ``run()`` takes (a Tensor / array or a
        tuple of them, split into batches of ``batch_size`` rows) or a list of such batches."""
        return session._build_profile(reference, bins=bins, batch_size=batch_size, max_columns=max_columns,
                                      max_classes=max_classes)

    @property
    def bins(self) -> int:
        return int(self._data["bins"])

    @property
    def features(self) -> List[dict]:
        """Each feature's name, kind, source, edges, counts and moments."""
        return self._data["features"]

    @property
    def feature_names(self) -> List[str]:
        return [f["name"] for f in self._data["features"]]

    def to_dict(self) -> dict:
        """A deep copy, as saved (editing it leaves the profile alone)."""
        return copy.deepcopy({"format": FORMAT, "version": FORMAT_VERSION, "inputs": self.inputs, **self._data})

    @classmethod
    def from_dict(cls, d: dict) -> "DriftProfile":
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError(f"DriftProfile: not a drift profile (expected 'format': {FORMAT!r})")
        if d.get("version") != FORMAT_VERSION:
            raise ValueError(f"DriftProfile: unsupported version {d.get('version')!r} (this build reads "
                             f"{FORMAT_VERSION})")
        for key in ("inputs", "bins", "features"):
            if key not in d:
                raise ValueError(f"DriftProfile: the profile has no {key!r}")
        data = {"bins": d["bins"], "features": d["features"]}
        _C._DriftMonitor(data, {})  # validates every feature (edges, counts, kinds) now
        return cls(data, d["inputs"])

    def save(self, path) -> None:
        tmp = f"{os.fspath(path)}.tmp"
        with open(tmp, "w") as f:
            json.dump(self.to_dict(), f)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path) -> "DriftProfile":
        with open(path) as f:
            try:
                d = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"DriftProfile.load: {os.fspath(path)!r} is not JSON: {e}") from None
        return cls.from_dict(d)

    def __repr__(self) -> str:
        names = [i["name"] for i in self.inputs]
        return f"DriftProfile(bins={self.bins}, features={len(self.features)}, inputs={names})"


# ---- Prometheus ------------------------------------------------------------------------------
def _labels(base: Dict[str, str], **extra) -> str:
    from .metrics import _labels as render

    return render(base, **extra)


def monitor_prometheus_lines(snapshot: Dict, base: Dict[str, str], prefix: str) -> List[str]:
    """The monitoring families of a session snapshot (``stats()``): warm-up figures always,
    drift and outcome figures when a monitor is attached."""
    from .metrics import _num

    out: List[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        out.append(f"# HELP {prefix}{name} {help_text}")
        out.append(f"# TYPE {prefix}{name} {kind}")

    def scalar(name: str, kind: str, help_text: str, value) -> None:  # a family of one unlabelled sample
        family(name, kind, help_text)
        out.append(f"{prefix}{name}{_labels(base)} {value}")

    warm = snapshot.get("warmup")
    if warm is not None:
        ttfr = warm["time_to_first_result_s"]
        scalar("time_to_first_result_seconds", "gauge",
               "Seconds from the start of session construction to its first result (NaN before it).",
               "NaN" if ttfr is None else _num(float(ttfr)))
        scalar("construct_seconds", "gauge", "Seconds the session took to trace and build.",
               _num(float(warm["construct_s"])))
        scalar("warmup_seconds", "gauge", "Seconds spent in warmup() calls.", _num(float(warm["warmup_s"])))
        scalar("warmup_shapes", "gauge", "Input shapes planned ahead by warmup().", warm["shapes"])
    mon = snapshot.get("monitor")
    if not mon:
        return out
    scalar("drift_status", "gauge", "Worst drift status: -1 collecting, 0 ok, 1 warning, 2 alert.",
           STATUS_LEVEL[mon["status"]])
    scalar("monitor_calls_total", "counter", "Calls observed by the drift monitor.", mon["calls"])
    scalar("monitor_rows_total", "counter", "Batch rows observed by the drift monitor.", mon["rows"])
    scalar("monitor_errors_total", "counter", "Calls the monitor could not profile (they were still served).",
           mon["errors"])
    scalar("drift_window_rows", "gauge", "Rows in the drift window.", mon["window_rows"])
    per_feature = (
        ("drift_psi", "gauge", "Population stability index of the window against the reference.", "psi"),
        ("drift_ks", "gauge", "Kolmogorov-Smirnov distance (from the bins) of the window against the reference.",
         "ks"),
        ("drift_ks_error_bound", "gauge", "Largest amount the exact KS statistic may exceed drift_ks.",
         "ks_error_bound"),
        ("drift_feature_status", "gauge", "Per-feature status: -1 collecting, 0 ok, 1 warning, 2 alert.", "status"),
        ("drift_window_values", "gauge", "Values of the feature in the window.", "window_count"),
        ("drift_window_mean", "gauge", "Mean of the feature in the window.", "window_mean"),
        ("drift_reference_mean", "gauge", "Mean of the feature in the reference.", "reference_mean"),
        ("drift_values_total", "counter", "Values of the feature observed.", "total"),
        ("drift_nan_total", "counter", "NaN values of the feature observed (left out of the histograms).",
         "nan_total"),
    )
    for name, kind, help_text, key in per_feature:
        family(name, kind, help_text)
        for f in mon["features"]:
            v = STATUS_LEVEL[f[key]] if key == "status" else f[key]
            out.append(f"{prefix}{name}{_labels(base, feature=f['name'])} {_num(v)}")
    family("drift_window_quantile", "gauge", "Window quantiles of the feature (interpolated inside the bins).")
    for f in mon["features"]:
        for q, key in (("0.05", "window_p05"), ("0.5", "window_p50"), ("0.95", "window_p95")):
            out.append(f"{prefix}drift_window_quantile{_labels(base, feature=f['name'], quantile=q)} {_num(f[key])}")
    oc = mon["outcomes"]
    scalar("outcomes_total", "counter", "Labels recorded with record_outcome() (one per row).", oc["recorded"])
    scalar("outcomes_unknown_total", "counter", "record_outcome() calls for unknown or expired request ids.",
           oc["unknown"])
    scalar("outcomes_pending", "gauge", "Predictions waiting for a label.", oc["pending"])
    scalar("outcome_window_count", "gauge", "Labelled rows in the outcome window.", oc["window_count"])
    scalar("outcome_accuracy", "gauge", "Top-1 accuracy over the outcome window.", _num(float(oc["accuracy"])))
    scalar("outcome_ece", "gauge", "Expected calibration error over the outcome window.", _num(float(oc["ece"])))
    return out


class TextCollector:
    """A ``prometheus_client`` collector of any Prometheus text source (a callable returning
    exposition text): ``registry.register(TextCollector(session.prometheus_text))``."""

    def __init__(self, render: Callable[[], str]):
        self._render = render

    def collect(self):
        from prometheus_client.parser import text_string_to_metric_families

        yield from text_string_to_metric_families(self._render())


class MetricsServer:
    """A running ``prometheus_client`` HTTP server of one collector (``serve_metrics``)."""

    def __init__(self, collector, port: int, addr: str):
        from prometheus_client import CollectorRegistry, start_http_server

        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self._server, self._thread = start_http_server(int(port), addr=addr, registry=self.registry)
        self.addr = addr
        self.port = int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.addr}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "MetricsServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def serve_metrics(render: Callable[[], str], port: int = 0, addr: str = "127.0.0.1") -> MetricsServer:
    """Serves ``render()`` (Prometheus text) at ``http://addr:port/metrics`` with
    ``prometheus_client``'s HTTP server (port 0: a free port; see ``.port``)."""
    return MetricsServer(TextCollector(render), port, addr)


def drift_table(drift: Optional[Dict], limit: int = 40) -> str:
    """A text table of a monitor snapshot (``session.drift()``): status, then one line per
    feature with its window count, PSI, KS (+ error bound), means and status."""
    if not drift:
        return "(monitoring off)"
    lines = [f"drift status {drift['status']}: {drift['calls']} calls, {drift['rows']} rows observed, window "
             f"{drift['window_rows']} / {drift['window']} rows, {drift['errors']} monitor errors"]
    head = f"{'feature':<24} {'values':>8} {'PSI':>8} {'KS':>8} {'+-KS':>7} {'ref mean':>10} {'win mean':>10}  status"
    lines.append(head)
    for f in drift["features"][:limit]:
        lines.append(f"{f['name'][:24]:<24} {f['window_count']:>8} {f['psi']:>8.4f} {f['ks']:>8.4f} "
                     f"{f['ks_error_bound']:>7.4f} {f['reference_mean']:>10.4g} {f['window_mean']:>10.4g}  "
                     f"{f['status']}")
    if len(drift["features"]) > limit:
        lines.append(f"... {len(drift['features']) - limit} more features")
    oc = drift["outcomes"]
    if oc["window_count"]:
        lines.append(f"outcomes: accuracy {oc['accuracy']:.4f}, ECE {oc['ece']:.4f} over {oc['window_count']} rows")
    return "\n".join(lines)
