"""``nn_core.quantized``: int8 quantized tensors and the ops on them.

Affine quantization, PyTorch's conventions (csrc/ops/quantized_ops.h)::

    q = clamp(round_half_even(x * (1/scale)) + zero_point, qmin, qmax)   # float32 math
    x ~ (q - zero_point) * scale                                          # dequantize

with ``qmin, qmax`` = 0, 255 for ``uint8`` (activations) and -128, 127 for ``int8``
(weights; symmetric, zero point 0). A :class:`QTensor` is the integer data plus its
parameters, per tensor (one scale / zero point) or per channel (one per index of
``axis``)::

    >>> import nn_core as nc
    >>> from nn_core import quantized as Q
    >>> q = Q.quantize_per_tensor(nc.tensor([-1.0, 0.0, 0.5, 2.0]), scale=0.02, zero_point=64)
    >>> q.int_repr().tolist(), q.q_scale(), q.q_zero_point()
    ([14, 64, 89, 164], 0.02, 64)
    >>> q.dequantize().tolist()                         # doctest: +SKIP
    [-1.0, 0.0, 0.5, 2.0]

The matrix ops run on the int8 GEMM (u8 activations x s8 weights -> int32, AVX-512
VNNI / AVX2 / generic, bit-identical; ``nc.backend_info()['qgemm_kernel']``): weights
are packed once (:func:`pack_linear_weight`, a ``PackedQWeight``), and the epilogue
(zero-point correction, activation x weight scales, bias, relu/gelu, and float32 or
requantized uint8/int8 output) is fused into the write-back.

- :func:`linear_dynamic`: float input quantized per ROW at run time (per-row scale and
  zero point: what ``QuantizedLinear`` uses; more accurate than per-tensor).

Dynamic quantization's activation range depends on the int8 kernel (:func:`dynamic_qrange`,
``nc.backend_info()['qgemm_dynamic_qmax']``)::

    AVX-512 VNNI / AMX-INT8, generic    0..255  (8-bit activations)
    AVX2 (and AVX-512 without VNNI)     0..127  (7-bit: the vpmaddubsw kernel; ~2x faster)

On AVX2 the fast kernel's 16-bit pair sums are exact only for activations up to 127, so
rows are quantized to 7 bits there (half the resolution: the per-row rounding error
doubles, the output's cosine to float typically stays above 0.999). The GEMM itself is
exact for any uint8 input on every ISA: blocks with a value above 127 run on an exact
8-bit AVX2 kernel (slower), so static and user-quantized inputs keep 0..255. Only
dynamically quantized outputs differ between ISAs.
- :func:`linear`: input already quantized (uint8, per tensor), float32 or requantized out.
- :func:`conv2d`: NCHW uint8 input (per tensor), im2col + the same GEMM, groups = 1.

None of these ops is differentiable: results never require grad, and inputs that
require grad are read as constants (as under ``no_grad``).
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import numpy as np

import nn_core as nc
from nn_core import _C

PackedQWeight = _C.PackedQWeight
_UINT8, _INT8 = _C.DType.uint8, _C.DType.int8  # (nn_core is still importing here)

__all__ = [
    "QTensor", "PackedQWeight", "quantize_per_tensor", "quantize_per_channel", "dequantize", "quantize_rows",
    "symmetric_weight", "pack_linear_weight", "linear_dynamic", "linear", "conv2d", "qgemm", "dynamic_qrange",
]

_QDTYPES = (_UINT8, _INT8)


def _check_qdtype(dtype, op):
    if dtype not in _QDTYPES:
        raise TypeError(f"{op}: dtype must be nc.uint8 or nc.int8, got {dtype}")


def _as_tensor(v, dtype):
    return v.to(dtype) if isinstance(v, nc.Tensor) else nc.tensor(np.asarray(v), dtype=dtype)


class QTensor:
    """An int8/uint8 tensor with its quantization parameters.

    Per tensor: ``scale`` (float) and ``zero_point`` (int). Per channel: ``scales``
    (float32 tensor of ``shape[axis]`` values), ``zero_points`` (int64 tensor, same size)
    and ``axis``. Build with :func:`quantize_per_tensor` / :func:`quantize_per_channel`, or
    wrap existing integer data with :meth:`per_tensor` / :meth:`per_channel` /
    :meth:`from_numpy`.
    """

    __slots__ = ("_data", "_scale", "_zero_point", "_axis")

    def __init__(self, data: nc.Tensor, scale, zero_point, axis: Optional[int] = None):
        if not isinstance(data, nc.Tensor) or data.dtype not in _QDTYPES:
            raise TypeError(f"QTensor: data must be a uint8 or int8 Tensor, got "
                            f"{getattr(data, 'dtype', type(data).__name__)}")
        if axis is None:
            scale, zero_point = float(scale), int(zero_point)
            if not (np.isfinite(scale) and scale > 0):
                raise ValueError(f"QTensor: scale must be a finite positive float, got {scale}")
        else:
            if data.dim() == 0:
                raise ValueError("QTensor: per-channel quantization needs at least 1 dimension")
            axis = axis + data.dim() if axis < 0 else axis
            if not 0 <= axis < data.dim():
                raise IndexError(f"QTensor: axis {axis} out of range for shape {tuple(data.shape)}")
            scale, zero_point = _as_tensor(scale, nc.float32), _as_tensor(zero_point, nc.int64)
            n = data.shape[axis]
            if tuple(scale.shape) != (n,) or tuple(zero_point.shape) != (n,):
                raise ValueError(f"QTensor: per-channel scales and zero_points must have shape ({n},) "
                                 f"(size of axis {axis} of {tuple(data.shape)}), got {tuple(scale.shape)} and "
                                 f"{tuple(zero_point.shape)}")
        self._data, self._scale, self._zero_point, self._axis = data, scale, zero_point, axis

    # ---- constructors ---------------------------------------------------------------
    @classmethod
    def per_tensor(cls, data, scale: float, zero_point: int) -> "QTensor":
        return cls(data, scale, zero_point)

    @classmethod
    def per_channel(cls, data, scales, zero_points, axis: int) -> "QTensor":
        return cls(data, scales, zero_points, axis)

    @classmethod
    def from_numpy(cls, values: np.ndarray, scale, zero_point, axis: Optional[int] = None) -> "QTensor":
        """Wraps an int8/uint8 ndarray (copied) with its parameters (arrays when per channel)."""
        values = np.asarray(values)
        if values.dtype not in (np.uint8, np.int8):
            raise TypeError(f"QTensor.from_numpy: values must be uint8 or int8, got {values.dtype}")
        return cls(nc.from_numpy(np.array(values)), scale, zero_point, axis)

    # ---- accessors (PyTorch's names) ------------------------------------------------
    @property
    def dtype(self):
        return self._data.dtype

    @property
    def shape(self):
        return self._data.shape

    def size(self, dim=None):
        return self._data.size() if dim is None else self._data.size(dim)

    def dim(self) -> int:
        return self._data.dim()

    def numel(self) -> int:
        return self._data.numel()

    def qscheme(self) -> str:
        """'per_tensor_affine' or 'per_channel_affine' (symmetric is the case zero point 0)."""
        return "per_tensor_affine" if self._axis is None else "per_channel_affine"

    def is_per_channel(self) -> bool:
        return self._axis is not None

    def int_repr(self) -> nc.Tensor:
        """The integer data (uint8 / int8 Tensor, shared, not copied)."""
        return self._data

    def _per_tensor_only(self, name):
        if self._axis is not None:
            raise RuntimeError(f"QTensor.{name}: this tensor is quantized per channel; use q_per_channel_*")

    def _per_channel_only(self, name):
        if self._axis is None:
            raise RuntimeError(f"QTensor.{name}: this tensor is quantized per tensor; use q_scale / q_zero_point")

    def q_scale(self) -> float:
        self._per_tensor_only("q_scale")
        return self._scale

    def q_zero_point(self) -> int:
        self._per_tensor_only("q_zero_point")
        return self._zero_point

    def q_per_channel_scales(self) -> nc.Tensor:
        self._per_channel_only("q_per_channel_scales")
        return self._scale

    def q_per_channel_zero_points(self) -> nc.Tensor:
        self._per_channel_only("q_per_channel_zero_points")
        return self._zero_point

    def q_per_channel_axis(self) -> int:
        self._per_channel_only("q_per_channel_axis")
        return self._axis

    # ---- conversions ----------------------------------------------------------------
    def dequantize(self) -> nc.Tensor:
        """float32 values ``(q - zero_point) * scale``."""
        if self._axis is None:
            return _C.dequantize_per_tensor(self._data, self._scale, self._zero_point)
        return _C.dequantize_per_channel(self._data, self._scale, self._zero_point, self._axis)

    def numpy(self) -> np.ndarray:
        """The integer data as an ndarray (sharing memory); ``dequantize().numpy()`` for floats."""
        return self._data.numpy()

    def __repr__(self) -> str:
        shape = tuple(self.shape)
        dt = str(self.dtype).replace("nn_core.", "")
        if self._axis is None:
            params = f"scale={self._scale:.6g}, zero_point={self._zero_point}"
        else:
            s, z = self._scale.numpy(), self._zero_point.numpy()
            more = ", ..." if s.size > 6 else ""
            params = (f"axis={self._axis}, scales=[{', '.join(f'{v:.6g}' for v in s[:6])}{more}], "
                      f"zero_points=[{', '.join(str(int(v)) for v in z[:6])}{more}]")
        return f"QTensor(shape={shape}, dtype={dt}, qscheme={self.qscheme()}, {params})"


# ---- quantize / dequantize ----------------------------------------------------------
def quantize_per_tensor(x, scale: float, zero_point: int, dtype=_UINT8) -> QTensor:
    """Quantizes a float tensor with one scale and zero point (round half to even, clamped)."""
    _check_qdtype(dtype, "quantize_per_tensor")
    return QTensor(_C.quantize_per_tensor(x, float(scale), int(zero_point), dtype), scale, zero_point)


def quantize_per_channel(x, scales, zero_points, axis: int, dtype=_INT8) -> QTensor:
    """Quantizes with one (scale, zero point) per index of ``axis``."""
    _check_qdtype(dtype, "quantize_per_channel")
    scales, zero_points = _as_tensor(scales, nc.float32), _as_tensor(zero_points, nc.int64)
    data = _C.quantize_per_channel(x, scales, zero_points, int(axis), dtype)
    return QTensor(data, scales, zero_points, int(axis))


def dequantize(q: QTensor) -> nc.Tensor:
    return q.dequantize()


def dynamic_qrange() -> Tuple[int, int]:
    """``(0, qmax)``: the range dynamic quantization (:func:`quantize_rows`,
    :func:`linear_dynamic`, ``QuantizedLinear`` without an input scale) maps activations
    onto on the active ISA: ``(0, 127)`` where the int8 GEMM is the AVX2 7-bit kernel,
    ``(0, 255)`` on AVX-512 VNNI / AMX-INT8 and generic (see the module docstring)."""
    return 0, int(_C.qgemm_dynamic_qmax())


def quantize_rows(x) -> Tuple[nc.Tensor, nc.Tensor, nc.Tensor]:
    """Dynamic per-row quantization to uint8 (rows = all dims but the last): returns
    ``(q, scales, zero_points)`` with ``scales`` float32 and ``zero_points`` int32 of one
    value per row. Per row, the range [min(0, min x), max(0, max x)] maps onto [0, qmax]
    (so 0.0 is exact), qmax = ``dynamic_qrange()[1]``: 255, or 127 on the AVX2 int8
    kernel. For 2-D ``x`` this is ``QTensor.per_channel(q, scales, zps, axis=0)``."""
    return _C.quantize_rows(x)


def symmetric_weight(w, per_channel: bool = True) -> QTensor:
    """int8 symmetric quantization of a float weight (out, ...): scale = max|w| / 127 per
    output channel (axis 0) or per tensor, zero point 0; values lie in [-127, 127]. An
    all-zero channel gets scale 1."""
    wn = np.abs(w.detach().to(nc.float32).numpy()).reshape(w.shape[0], -1) if w.dim() else None
    if wn is None:
        raise ValueError("symmetric_weight: weight must have at least 1 dimension")
    amax = wn.max(axis=1) if per_channel else np.array([wn.max(initial=0.0)])
    scales = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    scales = np.maximum(scales, np.float32(np.finfo(np.float32).tiny))
    if per_channel:
        return quantize_per_channel(w, nc.from_numpy(scales), nc.zeros(w.shape[0], dtype=nc.int64), 0, nc.int8)
    return quantize_per_tensor(w, float(scales[0]), 0, nc.int8)


def pack_linear_weight(weight: QTensor) -> PackedQWeight:
    """Packs a symmetric int8 weight (out_features, in_features), per tensor or per
    channel along axis 0, for the int8 GEMM. Done once; the result is immutable."""
    if not isinstance(weight, QTensor) or weight.dtype != nc.int8 or weight.dim() != 2:
        raise TypeError("pack_linear_weight: expected a 2-D int8 QTensor (out_features, in_features)")
    if weight.is_per_channel():
        if weight.q_per_channel_axis() != 0:
            raise ValueError("pack_linear_weight: per-channel weights must use axis 0 (output channels)")
        if bool((weight.q_per_channel_zero_points() != 0).any().item()):
            raise ValueError("pack_linear_weight: weights must be symmetric (all zero points 0)")
        return _C.pack_linear_weight(weight.int_repr(), weight.q_per_channel_scales())
    if weight.q_zero_point() != 0:
        raise ValueError(f"pack_linear_weight: weights must be symmetric (zero point 0), got {weight.q_zero_point()}")
    return _C.pack_linear_weight(weight.int_repr(), nc.tensor([weight.q_scale()]))


# ---- matrix ops ---------------------------------------------------------------------
def linear_dynamic(x, packed: PackedQWeight, bias=None, activation: str = "none") -> nc.Tensor:
    """``act(x @ W^T + bias)`` with ``x`` (float, (..., in)) quantized per row at run time
    and int8 per-channel/per-tensor weights; float32 (..., out)."""
    return _C.quantized_linear_dynamic(x, packed, bias, activation)


def _out_args(out_scale, out_zero_point, out_dtype):
    if out_scale is None:
        return nc.float32, 1.0, 0
    _check_qdtype(out_dtype, "quantized output")
    return out_dtype, float(out_scale), int(out_zero_point)


def _per_tensor_u8(x, op):
    if not isinstance(x, QTensor) or x.is_per_channel() or x.dtype != nc.uint8:
        raise TypeError(f"{op}: input must be a uint8 QTensor quantized per tensor "
                        f"(see quantize_per_tensor), got {type(x).__name__}")
    return x


def linear(x: QTensor, packed: PackedQWeight, bias=None, activation: str = "none", out_scale=None,
           out_zero_point: int = 0, out_dtype=_UINT8) -> Union[nc.Tensor, QTensor]:
    """Static quantized linear: ``x`` a uint8 per-tensor QTensor. Returns float32, or a
    QTensor (out_dtype, per tensor) when ``out_scale`` is given (requantized in the GEMM)."""
    x = _per_tensor_u8(x, "quantized linear")
    dt, s, z = _out_args(out_scale, out_zero_point, out_dtype)
    y = _C.quantized_linear(x.int_repr(), x.q_scale(), x.q_zero_point(), packed, bias, activation, dt, s, z)
    return y if out_scale is None else QTensor(y, s, z)


def conv2d(x: QTensor, packed: PackedQWeight, kernel_size, bias=None, stride=1, padding=0, dilation=1,
           activation: str = "none", out_scale=None, out_zero_point: int = 0,
           out_dtype=_UINT8) -> Union[nc.Tensor, QTensor]:
    """Static quantized conv2d (groups = 1): ``x`` a uint8 per-tensor QTensor (N, C, H, W);
    ``packed`` from the (out, C*kh*kw) int8 weight. Padding reads as real 0 (the zero point)."""
    x = _per_tensor_u8(x, "quantized conv2d")
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    dt, s, z = _out_args(out_scale, out_zero_point, out_dtype)
    y = _C.quantized_conv2d(x.int_repr(), x.q_scale(), x.q_zero_point(), packed, kh, kw, bias, stride, padding,
                            dilation, activation, dt, s, z)
    return y if out_scale is None else QTensor(y, s, z)


def qgemm(a, packed: PackedQWeight, **kwargs) -> nc.Tensor:
    """The raw int8 GEMM (tests, benchmarks): ``a`` uint8 (M, K), any strides. Keyword
    arguments: a_scale, a_zero_point, a_scales, a_zero_points (per row), bias, activation,
    output ('float32' | 'int32' | 'uint8' | 'int8'), out_scale, out_zero_point, reference
    (True: the plain int32 reference loops)."""
    return _C.qgemm(a, packed, **kwargs)
