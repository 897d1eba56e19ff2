"""nn_core.quantization: int8 post-training quantization with a quality report.

- ``quantize_dynamic(model)``: Linear -> ``nn.QuantizedLinear`` (per-channel symmetric int8
  weights, activations quantized per row at run time). No calibration.
- ``prepare(model, observer=...)`` -> ``calibrate(model, batches)`` -> ``convert(model,
  min_sqnr_db=...)``: static quantization of Linear and Conv2d (+ReLU fused); returns the
  int8 model and a ``QuantizationReport`` (per-layer SQNR and cosine against float on the
  calibration data; layers below the threshold stay in float).
- ``observers``: MinMax, PerChannelMinMax, MovingAverageMinMax, Percentile, Histogram (MSE).

The int8 kernels, ``QTensor`` and the quantize/dequantize ops are in ``nn_core.quantized``.
"""
from . import observers  # noqa: F401
from .quantize import ObservedLayer, calibrate, convert, prepare, quantize_dynamic  # noqa: F401
from .report import LayerReport, QuantizationReport, error_metrics  # noqa: F401
