"""Quantized layers: ``QuantizedLinear`` (dynamic: per-channel symmetric int8 weights,
activations quantized per row at run time) and ``QuantizedConv2d`` (static: per-channel
int8 weights, per-tensor uint8 activations with a given scale / zero point, optional
fused ReLU). Inference only (no gradients); the arithmetic is in nn_core.quantized.

State dicts hold ordinary tensors so the checkpoint format stores them at int8 size:
``weight`` (int8, same shape as the float layer's), ``weight_scale`` (float32, one per
output channel), ``bias`` (float32); QuantizedConv2d also ``input_scale`` (float32, 0-d)
and ``input_zero_point`` (int64, 0-d). The packed GEMM weight is derived state: it is
rebuilt on first use after the weight or scales change (e.g. by ``load_state_dict``).
"""
from __future__ import annotations

import nn_core as nc
from nn_core import quantized as Q

from .module import Module

_ACTS = ("none", "relu", "gelu")


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


class _PackedWeightCache:
    """The PackedQWeight of (weight, weight_scale), repacked when either tensor is
    replaced or modified in place (tracked by identity and version counter)."""

    def __init__(self):
        self.key, self.packed = None, None

    def get(self, weight2d, weight, scale):
        key = (id(weight), weight._version, id(scale), scale._version)
        if key != self.key:
            self.packed = nc._C.pack_linear_weight(weight2d, scale)
            self.key = key
        return self.packed


def _load_symmetric_int8(q, float_module):
    """Fills q's int8 weight, per-channel scales (symmetric, scale = max|w_row| / 127)
    and float32 bias from ``float_module`` (an nn.Linear or nn.Conv2d of the same shape)."""
    qw = Q.symmetric_weight(float_module.weight.detach(), per_channel=True)
    with nc.no_grad():
        q.weight.copy_(qw.int_repr())
        q.weight_scale.copy_(qw.q_per_channel_scales())
        if float_module.bias is not None:
            q.bias.copy_(float_module.bias.detach().to(nc.float32))


class QuantizedLinear(Module):
    """``y = act(x @ W^T + bias)`` with int8 weights (per output channel, symmetric) and
    float input quantized per row at run time (uint8, per-row scale and zero point) —
    or, when built with ``input_scale`` (static quantization), per tensor with the stored
    ``input_scale`` / ``input_zero_point`` buffers. A uint8 QTensor input is used as is.
    Output float32. Build from a float layer with :meth:`from_float`."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: str = "none",
                 input_scale=None, input_zero_point: int = 0):
        super().__init__()
        if activation not in _ACTS:
            raise ValueError(f"QuantizedLinear: activation must be one of {_ACTS}, got {activation!r}")
        self.in_features, self.out_features, self.activation = int(in_features), int(out_features), activation
        self.register_buffer("weight", nc.zeros(out_features, in_features, dtype=nc.int8))
        self.register_buffer("weight_scale", nc.ones(out_features))
        self.register_buffer("bias", nc.zeros(out_features) if bias else None)
        if input_scale is not None:  # static: per-tensor uint8 input parameters (calibrated)
            self.register_buffer("input_scale", nc.tensor(float(input_scale)))
            self.register_buffer("input_zero_point", nc.tensor(int(input_zero_point), dtype=nc.int64))
        object.__setattr__(self, "_cache", _PackedWeightCache())

    @property
    def is_static(self) -> bool:
        """True when float inputs are quantized per tensor with the stored input_scale /
        input_zero_point (static quantization) instead of per row at run time."""
        return "input_scale" in self._buffers

    @classmethod
    def from_float(cls, linear, activation: str = "none", input_scale=None,
                   input_zero_point: int = 0) -> "QuantizedLinear":
        """Per-channel symmetric int8 copy of ``linear`` (an nn.Linear): scale = max|w_row| / 127.
        With ``input_scale`` the layer is static (inputs quantized per tensor with it)."""
        w = linear.weight
        q = cls(w.shape[1], w.shape[0], bias=linear.bias is not None, activation=activation,
                input_scale=input_scale, input_zero_point=input_zero_point)
        _load_symmetric_int8(q, linear)
        return q

    def packed_weight(self) -> Q.PackedQWeight:
        return self._cache.get(self.weight, self.weight, self.weight_scale)

    def qweight(self) -> Q.QTensor:
        """The weight as a per-channel QTensor (axis 0)."""
        return Q.QTensor.per_channel(self.weight, self.weight_scale, nc.zeros(self.out_features, dtype=nc.int64), 0)

    def forward(self, x):
        if not isinstance(x, Q.QTensor) and self.is_static:
            x = Q.quantize_per_tensor(x, float(self.input_scale.item()), int(self.input_zero_point.item()), nc.uint8)
        if isinstance(x, Q.QTensor):
            return Q.linear(x, self.packed_weight(), self.bias, self.activation)
        return Q.linear_dynamic(x, self.packed_weight(), self.bias, self.activation)

    def extra_repr(self) -> str:
        act = "" if self.activation == "none" else f", activation={self.activation}"
        inp = (f"input=uint8 per-tensor static (scale={float(self.input_scale.item()):.6g}, "
               f"zero_point={int(self.input_zero_point.item())})" if self.is_static else "input=uint8 per-row dynamic")
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"weight=int8 per-channel symmetric, {inp}{act}")


class QuantizedConv2d(Module):
    """Static int8 conv2d (groups = 1): the float input is quantized per tensor with the
    stored ``input_scale`` / ``input_zero_point`` (a uint8 QTensor input is used as is);
    weights int8 per output channel, symmetric; bias and ReLU fused into the GEMM
    write-back. Output float32, or a uint8 QTensor when ``output_scale`` is set."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True,
                 relu: bool = False, input_scale: float = 1.0, input_zero_point: int = 0,
                 output_scale=None, output_zero_point: int = 0):
        super().__init__()
        if isinstance(padding, str):
            raise ValueError("QuantizedConv2d: string padding is not supported; give ints")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.padding, self.dilation, self.relu = _pair(padding), _pair(dilation), bool(relu)
        self.output_scale, self.output_zero_point = output_scale, int(output_zero_point)
        kh, kw = self.kernel_size
        self.register_buffer("weight", nc.zeros(out_channels, in_channels, kh, kw, dtype=nc.int8))
        self.register_buffer("weight_scale", nc.ones(out_channels))
        self.register_buffer("bias", nc.zeros(out_channels) if bias else None)
        self.register_buffer("input_scale", nc.tensor(float(input_scale)))
        self.register_buffer("input_zero_point", nc.tensor(int(input_zero_point), dtype=nc.int64))
        object.__setattr__(self, "_cache", _PackedWeightCache())

    @classmethod
    def from_float(cls, conv, input_scale: float, input_zero_point: int, relu: bool = False,
                   output_scale=None, output_zero_point: int = 0) -> "QuantizedConv2d":
        """From an nn.Conv2d (groups 1, int padding) and the input's quantization parameters."""
        if conv.groups != 1 or isinstance(conv.padding, str):
            raise ValueError("QuantizedConv2d.from_float: only groups=1 and integer padding are supported")
        w = conv.weight
        q = cls(w.shape[1], w.shape[0], tuple(w.shape[2:]), conv.stride, conv.padding, conv.dilation,
                bias=conv.bias is not None, relu=relu, input_scale=input_scale, input_zero_point=input_zero_point,
                output_scale=output_scale, output_zero_point=output_zero_point)
        _load_symmetric_int8(q, conv)
        return q

    def packed_weight(self) -> Q.PackedQWeight:
        w2 = self.weight.reshape(self.out_channels, -1)
        return self._cache.get(w2, self.weight, self.weight_scale)

    def forward(self, x):
        if not isinstance(x, Q.QTensor):
            x = Q.quantize_per_tensor(x, float(self.input_scale.item()), int(self.input_zero_point.item()), nc.uint8)
        return Q.conv2d(x, self.packed_weight(), self.kernel_size, self.bias, self.stride, self.padding,
                        self.dilation, "relu" if self.relu else "none", out_scale=self.output_scale,
                        out_zero_point=self.output_zero_point)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
             f"padding={self.padding}, input_scale={float(self.input_scale.item()):.6g}, "
             f"input_zero_point={int(self.input_zero_point.item())}")
        return s + (", relu=True" if self.relu else "")
