"""``InferenceSession``: a model traced once into a graph of native ops, run in C++.

The model's forward runs (in eval mode, under no_grad) while a thread-local tracer in
C++ records every op it calls (csrc/runtime/tracer.cpp); at run time no Python runs
per op and the GIL is released for the whole graph. Dynamic dims (default: dim 0 of
every input, a shared "batch") are traced at distinct primes so that every size
attribute (view shapes, slice bounds, arange ends) factors back into a product of the
dynamic dims; a second trace at other primes must give the same graph, else the model's
shape logic cannot be made dynamic and the constructor says so. Per input-shape
signature the session keeps a plan (resolved sizes and an arena memory plan, from a
recording run), in an LRU cache of ``max_cached_plans``.

Layout: this file holds the Python API only; graph, fusion, memory planning, validation
and metrics recording are in csrc/runtime/ (bindings/runtime.cpp).
"""
from __future__ import annotations

import inspect
import itertools
import os
import threading
import time
from typing import Any, Callable, Dict, Optional

import numpy as np

from .. import _C

_CANDIDATE_PRIMES = (11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97)


def _as_tensor(x, what: str):
    if isinstance(x, _C.Tensor):
        return x
    if isinstance(x, np.ndarray):
        return _C.from_numpy(np.asarray(x, order="C"))
    raise TypeError(f"InferenceSession: {what} must be an nn_core Tensor or a numpy array, got {type(x).__name__}")


def _resize(t, sizes: Dict[int, int]):
    """A copy of t whose dims in ``sizes`` are tiled/cropped to the given sizes (valid
    values: token ids stay in range, masks stay masks)."""
    if not sizes:
        return t
    a = np.asarray(t.numpy())
    for ax, n in sizes.items():
        a = np.take(a, np.arange(n) % a.shape[ax], axis=ax)
    out = _C.from_numpy(np.asarray(a, order="C"))
    return out if out.dtype == t.dtype else out.to(t.dtype)


def _roll(t):
    """t's values rotated by one position (same shape, same set of values)."""
    a = np.asarray(t.numpy())
    out = _C.from_numpy(np.asarray(np.roll(a.reshape(-1), 1).reshape(a.shape), order="C"))
    return out if out.dtype == t.dtype else out.to(t.dtype)


class InferenceSession:
    """Runs ``model`` as a traced native graph.

    Args:
        model: a Module (or any callable of tensors returning a Tensor or a tuple of Tensors).
        example_inputs: a Tensor / numpy array or a tuple of them: the inputs to trace with.
        dynamic_axes: like ``torch.onnx.export``: ``{input_index: {dim: "name"}}`` (or a list
            of dims, named ``input{i}_dim{d}``); the same name means the same size. Default:
            dim 0 of every input is a shared ``"batch"``; ``{}`` makes every dim static.
        name, version: labels of the metrics (default: the model's class name).
        nan_policy: ``"ignore"`` or ``"raise"`` (inputs are checked for NaN: ValueError).
        max_cached_plans: bound of the per-shape plan cache (LRU).
        memory_planning: serve intermediates from a planned arena (default True).
        fuse: run the fusion passes (linear/conv2d + activation) (default True).
        growth_window_s: window of the memory-growth metrics.
    """

    def __init__(self, model, example_inputs, dynamic_axes: Optional[Dict[int, Any]] = None,
                 name: Optional[str] = None, version: Optional[str] = None, nan_policy: str = "ignore",
                 max_cached_plans: int = 16, memory_planning: bool = True, fuse: bool = True,
                 growth_window_s: float = 60.0):
        self._created = time.perf_counter()
        if nan_policy not in ("ignore", "raise"):
            raise ValueError(f"InferenceSession: nan_policy must be 'ignore' or 'raise', got {nan_policy!r}")
        if int(max_cached_plans) < 1:
            raise ValueError(f"InferenceSession: max_cached_plans must be at least 1, got {max_cached_plans}")
        if not isinstance(example_inputs, (tuple, list)):
            example_inputs = (example_inputs,)
        inputs = [_as_tensor(x, f"example input {i}") for i, x in enumerate(example_inputs)]
        if not inputs:
            raise ValueError("InferenceSession: example_inputs is empty")
        self.name = name or type(model).__name__
        self.version = version or ""
        self.nan_policy = nan_policy
        self._input_names = self._names(model, len(inputs))
        axes = self._parse_axes(dynamic_axes, inputs)
        self.symbols = list(dict.fromkeys(n for a in axes for n in a.values()))
        self.dynamic_axes = axes

        constants = []
        if hasattr(model, "parameters"):
            constants += [p for p in model.parameters()]
        if hasattr(model, "buffers"):
            constants += [b for b in model.buffers()]
        primes = self._choose_primes(inputs, axes, constants)
        k = len(self.symbols)
        graph, self._single = self._trace(model, inputs, axes, primes[:k], constants)
        graph.symbolize(list(primes[:k]))
        # The second trace: other primes (dynamic) or the inputs' values rotated (static):
        # a tensor computed by an op the tracer does not record then shows up as a
        # constant that differs between the traces.
        other, _ = self._trace(model, inputs, axes, primes[k:2 * k], constants, roll=not k)
        other.symbolize(list(primes[k:2 * k]))
        diff = graph.compare(other)
        if diff and k:
            dims = ", ".join(f"'{s}'" for s in self.symbols)
            raise ValueError(
                f"InferenceSession: the model's shape logic cannot be made dynamic in {dims}: {diff}. "
                f"Use static shapes (dynamic_axes={{}}) or fewer dynamic axes.")
        if diff:
            raise ValueError(f"InferenceSession: the model cannot be traced: {diff} (it uses an op the runtime "
                             f"does not record, or Python logic on the input values)")
        specs = []
        for i, t in enumerate(inputs):
            dims = [self.symbols.index(axes[i][d]) if d in axes[i] else -1 for d in range(t.dim())]
            specs.append((self._input_names[i], t.dtype, dims, list(t.shape)))
        items_symbol = self.symbols.index("batch") if "batch" in self.symbols else -1
        self._sess = _C._InferenceSession(
            graph, specs, self.symbols, self.name, self.version, nan_policy == "raise", int(max_cached_plans),
            bool(memory_planning), bool(fuse), items_symbol, float(growth_window_s))
        self._specs = specs
        self._example = inputs
        # request ids: "<8 hex digits of this session>-<call number>", unless the caller names one
        self._rid_prefix = f"{os.urandom(4).hex()}-"
        self._rid_counter = itertools.count(1)
        self._local = threading.local()
        self._log_hook: Optional[Callable[[dict], None]] = None
        self._log_hook_errors = 0
        self._monitor = None
        self._profile = None
        self._construct_s = time.perf_counter() - self._created
        self._first_result_s: Optional[float] = None
        self._first_call: Optional[dict] = None
        self._warmup_s = 0.0
        self._warmed_shapes: list = []

    # ---- construction helpers ----------------------------------------------------------
    @staticmethod
    def _names(model, n: int):
        try:
            fn = model.forward if hasattr(model, "forward") else model
            params = [p.name for p in inspect.signature(fn).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            params = []
        return [params[i] if i < len(params) else f"input{i}" for i in range(n)]

    @staticmethod
    def _parse_axes(dynamic_axes, inputs):
        axes = [dict() for _ in inputs]
        if dynamic_axes is None:
            for i, t in enumerate(inputs):
                if t.dim() > 0:
                    axes[i][0] = "batch"
            return axes
        if not isinstance(dynamic_axes, dict):
            raise TypeError(f"InferenceSession: dynamic_axes must be a dict {{input: {{dim: name}}}}, "
                            f"got {type(dynamic_axes).__name__}")
        for i, spec in dynamic_axes.items():
            if not isinstance(i, int) or not 0 <= i < len(inputs):
                raise ValueError(f"InferenceSession: dynamic_axes key {i!r} is not an input index "
                                 f"(0..{len(inputs) - 1})")
            if isinstance(spec, (list, tuple)):
                spec = {d: f"input{i}_dim{d}" for d in spec}
            for d, sym in spec.items():
                nd = inputs[i].dim()
                if not isinstance(d, int) or not -nd <= d < nd:
                    raise ValueError(f"InferenceSession: dynamic_axes[{i}] names dim {d!r}, but input {i} has "
                                     f"rank {nd}")
                axes[i][d % nd] = str(sym)
        return axes

    @staticmethod
    def _choose_primes(inputs, axes, constants):
        static = set()
        for i, t in enumerate(inputs):
            static.update(s for d, s in enumerate(t.shape) if d not in axes[i])
        for c in constants:
            static.update(c.shape)
        static = [s for s in static if s > 1]
        need = 2 * len(set(n for a in axes for n in a.values()))
        chosen = [p for p in _CANDIDATE_PRIMES if all(s % p for s in static)][:need]
        if len(chosen) < need:
            raise ValueError("InferenceSession: cannot find primes for tracing the dynamic dims that divide no "
                             "static size; use static shapes (dynamic_axes={})")
        return chosen

    def _trace(self, model, inputs, axes, primes, constants, roll=False):
        sym_index = {s: j for j, s in enumerate(self.symbols)}
        traced_inputs = [_resize(t, {d: primes[sym_index[s]] for d, s in axes[i].items()})
                         for i, t in enumerate(inputs)]
        if roll:
            traced_inputs = [_roll(t) for t in traced_inputs]
        modes = [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []
        if hasattr(model, "eval"):
            model.eval()
        grad_was = _C.is_grad_enabled()
        _C.set_grad_enabled(False)
        tracer = _C._RuntimeTracer()
        tracer.begin(traced_inputs, constants)
        try:
            out = model(*traced_inputs)
        except BaseException:
            tracer.abort()
            raise
        finally:
            _C.set_grad_enabled(grad_was)
            for m, mode in modes:
                object.__setattr__(m, "training", mode)
        single = isinstance(out, _C.Tensor)
        flat = [out] if single else list(out) if isinstance(out, (tuple, list)) else None
        if flat is None or not all(isinstance(o, _C.Tensor) for o in flat):
            tracer.abort()
            raise TypeError(f"InferenceSession: the model must return a Tensor or a tuple of Tensors, "
                            f"got {type(out).__name__}")
        return tracer.finish(flat), single

    # ---- running -------------------------------------------------------------------------
    def run(self, *inputs, request_id: Optional[str] = None):
        """Runs the graph on ``inputs`` (Tensors or numpy arrays); returns a Tensor or a tuple.

        Every call has a request id: ``request_id`` or a generated one (``last_request_id``
        in the calling thread). Errors carry it (``err.request_id`` and ``[request_id=...]``
        in the message), the log hook gets it, and ``record_outcome`` labels the call by it."""
        ts = [x if isinstance(x, _C.Tensor) else _as_tensor(x, f"input {i}") for i, x in enumerate(inputs)]
        rid = f"{self._rid_prefix}{next(self._rid_counter)}" if request_id is None else str(request_id)
        self._local.request_id = rid
        hook = self._log_hook
        first = self._first_call is None
        recordings = self._sess.memory_info()["recordings"] if first else 0
        t0 = time.perf_counter() if hook is not None or first else 0.0
        try:
            out = self._sess.run_with(ts, rid)
        except Exception as e:
            e.request_id = rid
            if e.args and isinstance(e.args[0], str):
                e.args = (f"{e.args[0]} [request_id={rid}]",) + tuple(e.args[1:])
            if hook is not None:
                self._call_hook(hook, rid, t0, e, ts)
            raise
        if first:
            self._note_first_call(t0, self._sess.memory_info()["recordings"] > recordings)
        if hook is not None:
            self._call_hook(hook, rid, t0, None, ts)
        return out[0] if self._single else tuple(out)

    __call__ = run

    @property
    def last_request_id(self) -> Optional[str]:
        """The request id of the calling thread's latest run() (None before its first)."""
        return getattr(self._local, "request_id", None)

    def set_log_hook(self, hook: Optional[Callable[[dict], None]]) -> None:
        """Calls ``hook(record)`` after every run(), in the calling thread, with ``request_id``,
        ``ok``, ``latency_s``, ``rows``, ``error`` (message or None) and ``error_type``. An
        exception in the hook is counted (``stats()['log_hook_errors']``), never raised."""
        if hook is not None and not callable(hook):
            raise TypeError(f"InferenceSession.set_log_hook: hook must be callable or None, got {type(hook).__name__}")
        self._log_hook = hook

    def _call_hook(self, hook, rid, t0, error, ts) -> None:
        record = {"request_id": rid, "ok": error is None, "latency_s": time.perf_counter() - t0,
                  "rows": int(ts[0].shape[0]) if ts and ts[0].dim() > 0 else 1,
                  "error": None if error is None else str(error),
                  "error_type": None if error is None else type(error).__name__, "model": self.name}
        try:
            hook(record)
        except Exception:
            self._log_hook_errors += 1

    def _note_first_call(self, t0: float, cold: bool) -> None:
        """The first real call: its latency, whether warmup() ran before it, and whether it
        was cold (had to record a plan: its shape was not planned ahead)."""
        now = time.perf_counter()
        if self._first_result_s is None:
            self._first_result_s = now - self._created
        self._first_call = {"latency_s": now - t0, "planned_ahead": bool(self._warmed_shapes), "cold": cold}

    # ---- warm-up -------------------------------------------------------------------------
    def warmup(self, shapes) -> dict:
        """Plans ahead for the given input shapes: each is run once on synthetic inputs
        (zeros for floating inputs, ones for integer ones: valid token ids and masks), which
        builds and caches its plan and arenas, so the first real call of that shape is warm.
        Warm-up calls record no latency and feed no monitor.

        ``shapes``: a list whose items are a dict of the dynamic sizes (``{"batch": 8,
        "seq": 128}``; static dims come from the traced inputs), a tuple of shapes (one per
        input), or one shape (single-input sessions). Returns {shape key: seconds}; the
        figures also go to ``stats()['warmup']``."""
        if isinstance(shapes, (dict, tuple)):
            shapes = [shapes]
        timings = {}
        for n, item in enumerate(shapes):
            per_input = self._warmup_shapes(item, n)
            ts = []
            for (name, dtype, _, _), shape in zip(self._specs, per_input):
                floating = dtype.is_floating_point
                arr = np.zeros(shape, dtype=np.float32) if floating else np.ones(shape, dtype=np.int64)
                t = _C.from_numpy(arr)
                ts.append(t if t.dtype == dtype else t.to(dtype))
            t0 = time.perf_counter()
            try:
                self._sess.run_with(ts, "", True)
            except (ValueError, TypeError) as e:
                raise ValueError(f"InferenceSession.warmup: shape {n} ({per_input}): {e}") from None
            dt = time.perf_counter() - t0
            if self._first_result_s is None:
                self._first_result_s = time.perf_counter() - self._created
            key = " ".join("x".join(map(str, sh)) for sh in per_input)
            timings[key] = dt
            self._warmup_s += dt
            self._warmed_shapes.append(key)
        return timings

    def _warmup_shapes(self, item, n):
        if isinstance(item, dict):
            unknown = set(item) - set(self.symbols)
            if unknown:
                raise ValueError(f"InferenceSession.warmup: shape {n} names {sorted(unknown)}, but the dynamic dims "
                                 f"are {self.symbols}")
            out = []
            for _, _, dims, traced in self._specs:
                out.append(tuple(int(item.get(self.symbols[s], traced[d])) if s >= 0 else int(traced[d])
                                 for d, s in enumerate(dims)))
            return out
        item = tuple(item)
        if all(isinstance(x, (int, np.integer)) for x in item):
            if len(self._specs) != 1:
                raise ValueError(f"InferenceSession.warmup: shape {n} is one shape {item}, but the session takes "
                                 f"{len(self._specs)} inputs (give a tuple of shapes or a dict of dynamic sizes)")
            item = (item,)
        if len(item) != len(self._specs) or not all(isinstance(sh, (tuple, list)) for sh in item):
            raise ValueError(f"InferenceSession.warmup: shape {n} must hold {len(self._specs)} shapes, got {item!r}")
        for sh in item:
            if any(not isinstance(d, (int, np.integer)) or d < 1 for d in sh):
                raise ValueError(f"InferenceSession.warmup: shape {n}: sizes must be positive ints, got {tuple(sh)}")
        return [tuple(int(d) for d in sh) for sh in item]

    # ---- monitoring ----------------------------------------------------------------------
    def monitor(self, reference=None, window: int = 1000, *, bins: int = 40, psi_bins: int = 10, blocks: int = 8,
                min_samples: int = 100, psi_warning: float = 0.1, psi_alert: float = 0.15,
                ks_warning: float = 0.1, ks_alert: float = 0.2, psi_epsilon: float = 1e-4,
                outcome_output: int = 0, scores: str = "auto", outcome_window: int = 1000,
                max_pending: int = 10000, calibration_bins: int = 10, batch_size: int = 64,
                max_columns: int = 256, max_classes: int = 1024):
        """Turns on drift and outcome monitoring on the serving path (docs/monitoring.md).

        ``reference``: a ``DriftProfile`` or a path to a saved one, or reference inputs (as
        ``run()`` takes them, split into batches of ``batch_size`` rows, or a list of such
        batches) that are run through the session to build the profile (``bins`` quantile
        bins per feature, for KS; PSI merges them into ``psi_bins``). ``window``: rows in
        the sliding window (``blocks`` blocks). A feature with at least ``min_samples``
        window values gets status "warning" / "alert"
        when its PSI or KS reaches the thresholds. ``outcome_output`` / ``scores``
        ("auto", "logits", "probabilities") say where ``record_outcome`` finds predictions.

        Returns the DriftProfile. Bad arguments raise before anything changes: serving
        and any monitor already attached go on untouched. A new monitor starts with an empty
        window and no pending predictions; ``reset_stats()`` empties them too."""
        from .monitoring import DriftProfile

        if reference is None:
            raise ValueError("InferenceSession.monitor: reference is required (reference inputs, a DriftProfile or "
                             "a path to one); stop_monitoring() turns monitoring off")
        if isinstance(reference, (str, os.PathLike)):
            profile = DriftProfile.load(reference)
        elif isinstance(reference, DriftProfile):
            profile = reference
        else:
            profile = self._build_profile(reference, bins=bins, batch_size=batch_size, max_columns=max_columns,
                                          max_classes=max_classes)
        self._check_profile(profile)
        options = dict(window=int(window), blocks=int(blocks), min_samples=int(min_samples),
                       psi_warning=float(psi_warning), psi_alert=float(psi_alert), ks_warning=float(ks_warning),
                       ks_alert=float(ks_alert), psi_epsilon=float(psi_epsilon), psi_bins=int(psi_bins),
                       outcome_output=int(outcome_output),
                       scores=str(scores), outcome_window=int(outcome_window), max_pending=int(max_pending),
                       calibration_bins=int(calibration_bins))
        mon = _C._DriftMonitor(profile._data, options)
        self._monitor, self._profile = mon, profile
        self._sess.set_monitor(mon)
        return profile

    def stop_monitoring(self) -> None:
        self._sess.set_monitor(None)
        self._monitor = self._profile = None

    @property
    def drift_profile(self):
        """The DriftProfile being monitored against (None when monitoring is off)."""
        return self._profile

    def drift(self) -> Optional[dict]:
        """The monitor's snapshot (status, per-feature PSI / KS / window figures, outcomes)."""
        return None if self._monitor is None else self._monitor.snapshot()

    def record_outcome(self, request_id: str, label) -> None:
        """The true label(s) of an earlier call (one int per row of its batch), for windowed
        accuracy and expected calibration error. KeyError for an unknown or expired id."""
        if self._monitor is None:
            raise RuntimeError("InferenceSession.record_outcome: monitoring is off (call monitor() first)")
        labels = np.asarray(label).reshape(-1)
        if labels.size == 0 or not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == np.bool_):
            raise ValueError(f"InferenceSession.record_outcome: labels must be integers (class indices), got "
                             f"{label!r}")
        try:
            self._monitor.record_outcome(str(request_id), [int(v) for v in labels])
        except IndexError as e:
            raise KeyError(str(e)) from None

    def _signature(self):
        return [{"name": name, "dtype": str(dtype).replace("nn_core.", ""), "rank": len(dims)}
                for name, dtype, dims, _ in self._specs]

    def _batches(self, reference, batch_size):
        if isinstance(reference, list):
            return [r if isinstance(r, tuple) else (r,) for r in reference]
        ref = reference if isinstance(reference, tuple) else (reference,)
        if len(ref) != len(self._specs):
            raise ValueError(f"InferenceSession.monitor: the reference has {len(ref)} inputs, the session takes "
                             f"{len(self._specs)}")
        arrays = []
        for i, x in enumerate(ref):
            a = x.numpy() if isinstance(x, _C.Tensor) else np.asarray(x)
            if a.ndim == 0 or a.shape[0] < 1:
                raise ValueError(f"InferenceSession.monitor: reference input {i} has shape {a.shape}: it needs a "
                                 f"batch dim with at least one row")
            arrays.append(a)
        rows = arrays[0].shape[0]
        if any(a.shape[0] != rows for a in arrays):
            raise ValueError(f"InferenceSession.monitor: reference inputs have different row counts "
                             f"{[a.shape[0] for a in arrays]}")
        if int(batch_size) < 1:
            raise ValueError(f"InferenceSession.monitor: batch_size must be at least 1, got {batch_size}")
        step = int(batch_size) if "batch" in self.symbols else rows
        return [tuple(a[s:s + step] for a in arrays) for s in range(0, rows, step)]

    def _build_profile(self, reference, bins=40, batch_size=64, max_columns=256, max_classes=1024):
        from .monitoring import DriftProfile

        batches = self._batches(reference, batch_size)
        if not batches:
            raise ValueError("InferenceSession.monitor: the reference is empty")
        builder = None
        for b, batch in enumerate(batches):
            ts = [x if isinstance(x, _C.Tensor) else _as_tensor(x, f"reference batch {b} input {i}")
                  for i, x in enumerate(batch)]
            try:
                outs = self._sess.run_with(ts, "", True)
            except (ValueError, TypeError) as e:
                raise ValueError(f"InferenceSession.monitor: reference batch {b} does not fit the session: {e}") \
                    from None
            if builder is None:
                layout = _C._drift_feature_layout(self._input_names, ts, outs, int(max_columns), int(max_classes))
                builder = _C._DriftProfileBuilder(layout, int(bins))
            try:
                builder.add(ts, outs)
            except ValueError as e:
                raise ValueError(f"InferenceSession.monitor: {e}") from None
        return DriftProfile(builder.finish(), self._signature())

    def _check_profile(self, profile) -> None:
        want = self._signature()
        if profile.inputs != want:
            raise ValueError(f"InferenceSession.monitor: the profile was built for inputs {profile.inputs}, but "
                             f"this session takes {want}")
        outs = self._sess.run_with(self._example, "", True)
        valid = set()
        for max_columns, max_classes in ((1 << 62, 1 << 62), (0, 0)):
            for f in _C._drift_feature_layout(self._input_names, self._example, outs, max_columns, max_classes):
                valid.add((f["from_output"], f["source"], f["kind"], f["column"]))
        for f in profile.features:
            if (f["from_output"], f["source"], f["kind"], f["column"]) not in valid:
                raise ValueError(f"InferenceSession.monitor: profile feature {f['name']!r} ({f['kind']} of "
                                 f"{'output' if f['from_output'] else 'input'} {f['source']}) does not fit this "
                                 f"session's inputs and outputs")

    # ---- metrics ---------------------------------------------------------------------------
    def stats(self) -> dict:
        """The metrics snapshot (latency histogram and percentiles, counts, memory) as a dict,
        with ``warmup`` (time to first result, construction and warm-up time), ``monitor``
        (drift and outcomes; None when off) and ``log_hook_errors``."""
        s = self._sess.metrics.snapshot()
        s["warmup"] = {"time_to_first_result_s": self._first_result_s, "construct_s": self._construct_s,
                       "warmup_s": self._warmup_s, "shapes": len(self._warmed_shapes),
                       "warmed": list(self._warmed_shapes), "first_call": self._first_call}
        s["monitor"] = self.drift()
        s["log_hook_errors"] = self._log_hook_errors
        return s

    def reset_stats(self) -> None:
        self._sess.reset_stats()
        if self._monitor is not None:
            self._monitor.reset()

    def prometheus_text(self) -> str:
        from . import metrics  # lazily: the renderer lives beside the session
        return metrics.prometheus_text(self.stats())

    def collector(self):
        """A ``prometheus_client`` collector of this session's metrics, for a registry of yours."""
        from .monitoring import TextCollector
        return TextCollector(self.prometheus_text)

    def serve_metrics(self, port: int = 0, addr: str = "127.0.0.1"):
        """Serves the Prometheus text at ``http://addr:port/metrics`` (prometheus_client's HTTP
        server, in a daemon thread; port 0 picks a free one). Returns the server: ``.port``,
        ``.url``, ``.close()``."""
        from .monitoring import serve_metrics
        return serve_metrics(self.prometheus_text, port=port, addr=addr)

    def to_json(self) -> str:
        from . import metrics
        return metrics.to_json(self.stats())

    def enable_profiling(self, on: bool = True) -> None:
        """Per-op time profile (``stats()['op_profile']``); costs two clock reads per op."""
        self._sess.set_profiling(bool(on))

    @property
    def metrics(self):
        """The native ``_C.SessionMetrics`` of this session."""
        return self._sess.metrics

    # ---- introspection -------------------------------------------------------------------
    @property
    def graph(self) -> "_GraphView":
        return _GraphView(self._sess)

    def graph_summary(self) -> str:
        return self._sess.graph_str()

    def node_labels(self) -> list:
        return self._sess.node_labels()

    @property
    def num_cached_plans(self) -> int:
        return self._sess.num_cached_plans

    @property
    def max_cached_plans(self) -> int:
        return self._sess.max_cached_plans

    @max_cached_plans.setter
    def max_cached_plans(self, n: int) -> None:
        self._sess.max_cached_plans = int(n)

    def memory_info(self) -> dict:
        """Arena bytes (current, peak), heap fallbacks, replays and recordings."""
        return self._sess.memory_info()

    def __repr__(self) -> str:
        return (f"InferenceSession(name={self.name!r}, inputs={self._input_names}, symbols={self.symbols}, "
                f"nodes={len(self.node_labels())})")


class _GraphView:
    """``print(session.graph)``: the node listing."""

    def __init__(self, sess):
        self._sess = sess

    @property
    def nodes(self) -> list:
        return self._sess.node_labels()

    @property
    def num_fused(self) -> int:
        return self._sess.num_fused

    def __str__(self) -> str:
        return self._sess.graph_str()

    __repr__ = __str__
