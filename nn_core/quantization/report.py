"""The quality report of quantization: per-layer error of the int8 output against float
(SQNR in dB and cosine similarity), whether the layer was kept in float, and the error
of the whole model's output on the kept calibration inputs.

The report measures static layers (per-tensor inputs, 0..255 on every CPU). Dynamically
quantized layers (``quantize_dynamic``) quantize activations per row onto
``nn_core.quantized.dynamic_qrange()``: 0..255 on AVX-512 VNNI / AMX-INT8 and generic,
0..127 on AVX2 (about 6 dB lower SQNR than 8 bits); ``error_metrics`` measures them the
same way."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np


@dataclass
class LayerReport:
    """How one layer fared: its error against float on the calibration inputs."""

    name: str
    kind: str
    sqnr_db: float
    cosine: float
    kept_float: bool
    input_scale: Optional[float] = None
    input_zero_point: Optional[int] = None
    samples: int = 0


@dataclass
class QuantizationReport:
    """Per-layer quality of a quantized model (``layers``) and, when calibration inputs of
    the whole model were kept, the error of the model's output (``model_sqnr_db``,
    ``model_cosine``)."""

    layers: List[LayerReport] = field(default_factory=list)
    model_sqnr_db: Optional[float] = None
    model_cosine: Optional[float] = None
    min_sqnr_db: Optional[float] = None
    min_cosine: Optional[float] = None

    def to_dict(self) -> Dict:
        return {
            "layers": [vars(layer).copy() for layer in self.layers],
            "model_sqnr_db": self.model_sqnr_db, "model_cosine": self.model_cosine,
            "min_sqnr_db": self.min_sqnr_db, "min_cosine": self.min_cosine,
        }

    def __str__(self) -> str:
        rows = [("layer", "kind", "SQNR dB", "cosine", "int8")]
        for r in self.layers:
            rows.append((r.name, r.kind, f"{r.sqnr_db:.1f}", f"{r.cosine:.6f}", "float (kept)" if r.kept_float else "yes"))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
        if self.model_sqnr_db is not None:
            lines.append(f"model output: SQNR {self.model_sqnr_db:.1f} dB, cosine {self.model_cosine:.6f}")
        return "\n".join(lines)


def error_metrics(reference: np.ndarray, approx: np.ndarray) -> Tuple[float, float]:
    """(SQNR in dB, cosine similarity) of ``approx`` against ``reference`` (float64 math;
    an exact match gives +inf dB)."""
    ref = np.asarray(reference, dtype=np.float64).reshape(-1)
    got = np.asarray(approx, dtype=np.float64).reshape(-1)
    noise = float(np.sum((ref - got) ** 2))
    signal = float(np.sum(ref ** 2))
    if noise == 0.0:
        sqnr = math.inf
    elif signal == 0.0:
        sqnr = -math.inf
    else:
        sqnr = 10.0 * math.log10(signal / noise)
    denom = float(np.linalg.norm(ref) * np.linalg.norm(got))
    cosine = float(np.dot(ref, got) / denom) if denom > 0 else (1.0 if noise == 0.0 else 0.0)
    return sqnr, cosine
