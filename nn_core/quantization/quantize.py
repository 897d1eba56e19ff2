"""Post-training quantization of nn_core models: dynamic (``quantize_dynamic``) and static
(``prepare`` -> ``calibrate`` -> ``convert``), with a per-layer quality report.

Static flow::

    model = quantization.prepare(float_model, observer="histogram")  # a copy with observers
    quantization.calibrate(model, batches)                            # run representative data
    qmodel, report = quantization.convert(model, min_sqnr_db=20.0)    # int8 layers + report
    print(report)

``prepare`` wraps every ``nn.Linear`` and ``nn.Conv2d`` (groups = 1) in an observed layer
whose input observer (per tensor, uint8) watches the activations; a Linear or Conv2d
directly followed by ``nn.ReLU`` in an ``nn.Sequential`` is fused (the ReLU is applied in the int8
GEMM's write-back and the ``ReLU`` becomes ``Identity``). Weights are quantized per output
channel, symmetric int8. Each observed layer also keeps its first few calibration inputs.

``convert`` replaces the observed layers with int8 layers and measures, on those kept
inputs, how far each int8 layer's output is from the float layer's: SQNR in dB
(10 log10(sum y^2 / sum (y - y_q)^2)) and cosine similarity. A layer below ``min_sqnr_db``
(or ``min_cosine``) stays in float, and the report says so. Outputs of int8 layers are
float32 (the GEMM's dequantizing epilogue), so int8 and float layers mix freely.

Dynamic quantization (``quantize_dynamic``) needs no calibration: Linear weights are
quantized per output channel once, activations per row at run time, onto 0..255 on
AVX-512 VNNI / AMX-INT8 and generic CPUs and onto 0..127 on AVX2 (the fast AVX2 int8
kernel needs 7-bit activations; ``nn_core.quantized.dynamic_qrange()``), which costs about
6 dB of SQNR per layer there. Static quantization (``convert``, its report) uses the
observers' 0..255 on every CPU.
"""
from __future__ import annotations

import copy
import math
from typing import Callable, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

import nn_core as nc
from nn_core import nn

from . import observers as obs
from .report import LayerReport, QuantizationReport, error_metrics
from nn_core.nn.quantized import QuantizedConv2d, QuantizedLinear

_OBSERVERS = {
    "minmax": obs.MinMaxObserver,
    "moving_average": obs.MovingAverageMinMaxObserver,
    "percentile": obs.PercentileObserver,
    "histogram": obs.HistogramObserver,
}


def _make_observer(observer) -> obs.ObserverBase:
    if isinstance(observer, str):
        if observer not in _OBSERVERS:
            raise ValueError(f"prepare: observer must be one of {sorted(_OBSERVERS)} or a callable, got {observer!r}")
        return _OBSERVERS[observer](dtype="uint8")
    made = observer()
    if not isinstance(made, obs.ObserverBase):
        raise TypeError(f"prepare: the observer factory returned {type(made).__name__}, not an observer")
    return made


class ObservedLayer(nn.Module):
    """A float Linear/Conv2d (optionally with a fused ReLU) plus the observer of its input;
    forward runs the float layer. Made by ``prepare``; replaced by ``convert``."""

    def __init__(self, float_layer: nn.Module, observer: obs.ObserverBase, relu: bool, keep_samples: int):
        super().__init__()
        self.float_layer = float_layer
        self.observer = observer
        self.relu = relu
        self.keep_samples = keep_samples
        self.samples: List = []

    def forward(self, x):
        self.observer(x)
        if len(self.samples) < self.keep_samples:
            self.samples.append(x.detach().clone())
        y = self.float_layer(x)
        return nc.relu(y) if self.relu else y

    def extra_repr(self) -> str:
        return f"relu={self.relu}, samples={len(self.samples)}"


def _to_numpy(t) -> np.ndarray:
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _swap(model: nn.Module, fn: Callable[[str, nn.Module, Optional[nn.Module]], Optional[nn.Module]],
          prefix: str = "") -> None:
    """Walks the tree; fn(name, child, next_sibling) returns a replacement or None."""
    items = list(model._modules.items())
    for i, (name, child) in enumerate(items):
        if child is None:
            continue
        full = f"{prefix}{name}"
        nxt = items[i + 1][1] if isinstance(model, nn.Sequential) and i + 1 < len(items) else None
        new = fn(full, child, nxt)
        if new is not None:
            model._modules[name] = new
        else:
            _swap(child, fn, full + ".")


def _replace_followers(model: nn.Module, lead: Callable[[nn.Module], bool], old_type: type,
                       make: Callable[[], nn.Module]) -> None:
    """In every Sequential of ``model``, a child of exactly ``old_type`` that directly follows
    a child for which ``lead`` holds is replaced by ``make()``."""
    for module in model.modules():
        if isinstance(module, nn.Sequential):
            items = list(module._modules.items())
            for (_, child), (next_name, nxt) in zip(items, items[1:]):
                if lead(child) and type(nxt) is old_type:
                    module._modules[next_name] = make()


def quantize_dynamic(model: nn.Module, layers: Sequence[type] = (nn.Linear,), inplace: bool = False,
                     skip: Iterable[str] = ()) -> nn.Module:
    """Linear -> ``nn.QuantizedLinear`` (per-channel symmetric int8 weights, activations
    quantized per row at run time), including the q/k/v projection of each
    ``nn.MultiheadAttention`` (its ``in_proj``). ``skip`` names layers (dotted paths, e.g.
    ``"encoder.layers.0.self_attn.in_proj"``) to keep in float.
    Returns the quantized model (a copy unless ``inplace``), in eval mode."""
    for layer in layers:
        if layer is not nn.Linear:
            raise ValueError(f"quantize_dynamic: only nn.Linear is supported, got {layer.__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"quantize_dynamic: expected an nn.Module, got {type(model).__name__}")
    skip = set(skip)
    target = model if inplace else copy.deepcopy(model)

    def fn(name, child, _next):
        if type(child) is nn.Linear and name not in skip:
            return QuantizedLinear.from_float(child)
        return None

    if type(target) is nn.Linear:
        return QuantizedLinear.from_float(target)
    # MultiheadAttention keeps its q/k/v projection as the in_proj_weight (3E, E) parameter:
    # it becomes an int8 ``in_proj`` submodule (the float parameters are dropped).
    for name, module in list(target.named_modules()):
        if isinstance(module, nn.MultiheadAttention) and module.in_proj_weight is not None \
                and f"{name}.in_proj" not in skip:
            proj = nn.Linear(module.embed_dim, 3 * module.embed_dim, bias=module.in_proj_bias is not None)
            proj.weight, proj.bias = module.in_proj_weight, module.in_proj_bias
            module.in_proj = QuantizedLinear.from_float(proj)
            module.in_proj_weight = None
            if module.in_proj_bias is not None:
                module.in_proj_bias = None
    _swap(target, fn)
    return target.eval()


def prepare(model: nn.Module, observer: Union[str, Callable[[], obs.ObserverBase]] = "histogram",
            fuse_relu: bool = True, keep_samples: int = 4, skip: Iterable[str] = (),
            inplace: bool = False) -> nn.Module:
    """A copy of ``model`` (unless ``inplace``) in eval mode with every Linear and Conv2d
    (groups = 1) wrapped in an ``ObservedLayer``; Conv2d + ReLU pairs in a Sequential are
    fused when ``fuse_relu``. ``observer``: 'minmax', 'moving_average', 'percentile',
    'histogram' (default) or a factory returning an observer. ``keep_samples`` calibration
    inputs per layer are kept for the quality report."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"prepare: expected an nn.Module, got {type(model).__name__}")
    if keep_samples < 0:
        raise ValueError(f"prepare: keep_samples must be >= 0, got {keep_samples}")
    _make_observer(observer)  # validate early
    skip = set(skip)
    target = model if inplace else copy.deepcopy(model)
    target.eval()

    def fn(name, child, nxt):
        if name in skip:
            return None
        if type(child) is nn.Linear or (type(child) is nn.Conv2d and child.groups == 1):
            relu = fuse_relu and type(nxt) is nn.ReLU
            return ObservedLayer(child, _make_observer(observer), relu, keep_samples)
        return None

    _swap(target, fn)
    # A fused ReLU becomes Identity (its work moved into the observed layer).
    _replace_followers(target, lambda c: isinstance(c, ObservedLayer) and c.relu, nn.ReLU, nn.Identity)
    object.__setattr__(target, "_calibration_inputs", [])
    object.__setattr__(target, "_keep_model_samples", keep_samples)
    return target


def calibrate(model: nn.Module, data: Iterable, max_batches: Optional[int] = None) -> nn.Module:
    """Runs the prepared model on each batch of ``data`` (a tensor, a numpy array or a tuple
    of them per batch) under no_grad, so that the observers see representative inputs."""
    if not any(isinstance(m, ObservedLayer) for m in model.modules()):
        raise ValueError("calibrate: the model has no observed layers; call quantization.prepare(model) first")
    kept = model.__dict__.get("_calibration_inputs")
    keep = model.__dict__.get("_keep_model_samples", 0)
    with nc.no_grad():
        for i, batch in enumerate(data):
            if max_batches is not None and i >= max_batches:
                break
            args = batch if isinstance(batch, (tuple, list)) else (batch,)
            args = tuple(nc.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a for a in args)
            if kept is not None and len(kept) < keep:
                kept.append(args)
            model(*args)
    return model


def _quantized_from_observed(layer: ObservedLayer) -> nn.Module:
    scale, zero_point = layer.observer.calculate_qparams()
    scale, zero_point = float(scale), int(zero_point)
    f = layer.float_layer
    if type(f) is nn.Linear:
        return QuantizedLinear.from_float(f, activation="relu" if layer.relu else "none", input_scale=scale,
                                          input_zero_point=zero_point)
    return QuantizedConv2d.from_float(f, scale, zero_point, relu=layer.relu)


def convert(model: nn.Module, min_sqnr_db: Optional[float] = None, min_cosine: Optional[float] = None,
            inplace: bool = True) -> Tuple[nn.Module, QuantizationReport]:
    """Replaces the observed layers of a calibrated model with int8 layers and returns
    ``(model, report)``. Layers whose int8 output on the kept calibration inputs falls
    below ``min_sqnr_db`` or ``min_cosine`` stay in float (``report`` marks them)."""
    observed = [(n, m) for n, m in model.named_modules() if isinstance(m, ObservedLayer)]
    if not observed:
        raise ValueError("convert: the model has no observed layers; call prepare() and calibrate() first")
    for name, layer in observed:
        if layer.observer.num_batches == 0:
            raise ValueError(f"convert: layer '{name}' saw no calibration data; run quantization.calibrate first")
    target = model if inplace else copy.deepcopy(model)
    report = QuantizationReport(min_sqnr_db=min_sqnr_db, min_cosine=min_cosine)
    float_model = None
    kept_inputs = target.__dict__.get("_calibration_inputs") or []
    if kept_inputs:
        # the float model's outputs, for the end-to-end figure
        float_model = copy.deepcopy(target)
        _swap(float_model, lambda n, c, _nx: _float_of(c) if isinstance(c, ObservedLayer) else None)


    def fn(name, child, _next):
        if not isinstance(child, ObservedLayer):
            return None
        q = _quantized_from_observed(child)
        refs, gots = [], []
        with nc.no_grad():
            for x in child.samples:
                y = child.float_layer(x)
                if child.relu:
                    y = nc.relu(y)
                refs.append(_to_numpy(y).reshape(-1))
                gots.append(_to_numpy(q(x)).reshape(-1))
        if refs:
            sqnr, cos = error_metrics(np.concatenate(refs), np.concatenate(gots))
        else:
            sqnr, cos = math.nan, math.nan
        keep_float = (min_sqnr_db is not None and not sqnr >= min_sqnr_db) or (
            min_cosine is not None and not cos >= min_cosine)
        report.layers.append(LayerReport(name, type(child.float_layer).__name__ + ("+ReLU" if child.relu else ""),
                                         sqnr, cos, keep_float, float(q.input_scale.item()), int(q.input_zero_point.item()),
                                         len(child.samples)))
        if keep_float and child.relu:
            restore_relu.add(id(child.float_layer))
        return child.float_layer if keep_float else q

    restore_relu = set()
    _swap(target, fn)
    # A fused layer kept in float gets its ReLU back in place of the Identity prepare left.
    _replace_followers(target, lambda c: id(c) in restore_relu, nn.Identity, nn.ReLU)
    for attr in ("_calibration_inputs", "_keep_model_samples"):
        target.__dict__.pop(attr, None)
    if float_model is not None:
        refs, gots = [], []
        with nc.no_grad():
            for args in kept_inputs:
                refs.append(_to_numpy(float_model(*args)).reshape(-1))
                gots.append(_to_numpy(target(*args)).reshape(-1))
        report.model_sqnr_db, report.model_cosine = error_metrics(np.concatenate(refs), np.concatenate(gots))
    return target.eval(), report


def _float_of(layer: ObservedLayer) -> nn.Module:
    """The float layer an ObservedLayer wraps (with its fused ReLU put back)."""
    if layer.relu:
        return nn.Sequential(layer.float_layer, nn.ReLU())
    return layer.float_layer
