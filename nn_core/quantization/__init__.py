"""nn_core.quantization: observers, the quality report, and (with the int8 kernels)
dynamic and static post-training quantization."""
from . import observers  # noqa: F401
from .report import LayerReport, QuantizationReport, error_metrics  # noqa: F401
