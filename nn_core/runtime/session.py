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
from typing import Any, Dict, Optional

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
    def run(self, *inputs):
        """Runs the graph on ``inputs`` (Tensors or numpy arrays); returns a Tensor or a tuple."""
        ts = [x if isinstance(x, _C.Tensor) else _as_tensor(x, f"input {i}") for i, x in enumerate(inputs)]
        out = self._sess.run(ts)
        return out[0] if self._single else tuple(out)

    __call__ = run

    # ---- metrics ---------------------------------------------------------------------------
    def stats(self) -> dict:
        """The metrics snapshot (latency histogram and percentiles, counts, memory) as a dict."""
        return self._sess.metrics.snapshot()

    def reset_stats(self) -> None:
        self._sess.reset_stats()

    def prometheus_text(self) -> str:
        from . import metrics  # lazily: the renderer lives beside the session
        return metrics.prometheus_text(self.stats())

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
