"""Recurrent layers, as ``torch.nn``: ``RNN`` (tanh / relu), ``LSTM``, ``GRU`` and the
single-step cells ``RNNCell``, ``LSTMCell``, ``GRUCell``.

Every layer of every direction is one call of the native op ``rnn_layer``
(csrc/ops/rnn.cpp): the input projection of all time steps as one GEMM, then per step
one GEMM with W_hh and one fused pointwise cell kernel, forward and backward, with the
time loop in C++. This module only stacks layers and directions, applies inter-layer
dropout, and handles ``batch_first``, unbatched input and PackedSequence input.

Layout and names are PyTorch's, so ``load_state_dict(torch_module.state_dict())`` works
unchanged: input (T, B, input_size) ((B, T, input_size) with batch_first, (T,
input_size) unbatched); h_0 / h_n (num_layers * num_directions, B, hidden_size);
parameters weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k} (+ ``_reverse``
for the backward direction), gate order LSTM i, f, g, o and GRU r, z, n; every
parameter initialised U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

A PackedSequence is run as a padded batch with per-sequence lengths: each sequence stops
at its own length (forward) or starts at its own last step (reverse), exactly as PyTorch
computes it (Note [Padded steps] in csrc/ops/rnn.cpp).
"""
from __future__ import annotations

import math

import nn_core as nc
from nn_core import _C
from nn_core import functional as F

from . import init
from .module import Module, Parameter
from .rnn_utils import PackedSequence, _packed_rows

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}
_OP_MODE = {"LSTM": "lstm", "GRU": "gru", "RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu"}


def _check_dtype(name, x, weight):
    if x.dtype != weight.dtype:
        raise TypeError(f"{name}: input dtype {x.dtype} does not match the parameters' dtype {weight.dtype} "
                        f"(convert the module with .to({x.dtype}) or the input with .to({weight.dtype}))")


class RNNBase(Module):
    """The shared stack of RNN, LSTM and GRU (``mode``: 'LSTM', 'GRU', 'RNN_TANH', 'RNN_RELU')."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if mode not in _GATES:
            raise ValueError(f"{name}: unknown mode {mode!r}")
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"{name}: hidden_size must be a positive int, got {hidden_size!r}")
        if not isinstance(input_size, int) or input_size < 0:
            raise ValueError(f"{name}: input_size must be a non-negative int, got {input_size!r}")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be a positive int, got {num_layers!r}")
        if isinstance(dropout, bool) or not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        if proj_size != 0:
            raise NotImplementedError(f"{name}: proj_size > 0 (LSTM with projections) is not supported by nn_core, "
                                      f"got proj_size={proj_size}")
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional, self.proj_size = bool(bidirectional), 0
        dtype = dtype or nc.float32
        G = _GATES[mode]
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            for suffix in self._suffixes():
                self.register_parameter(f"weight_ih_l{layer}{suffix}",
                                        Parameter(nc.empty(G * hidden_size, layer_input, dtype=dtype)))
                self.register_parameter(f"weight_hh_l{layer}{suffix}",
                                        Parameter(nc.empty(G * hidden_size, hidden_size, dtype=dtype)))
                if bias:
                    for kind in ("ih", "hh"):
                        self.register_parameter(f"bias_{kind}_l{layer}{suffix}",
                                                Parameter(nc.empty(G * hidden_size, dtype=dtype)))
        self.reset_parameters()
        if device is not None:
            self.to(device)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _suffixes(self):
        return ("", "_reverse") if self.bidirectional else ("",)

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def _layer_params(self, layer: int, suffix: str):
        """(weight_ih, weight_hh, bias_ih, bias_hh) of one layer and direction; biases None without bias."""
        def get(kind):
            return getattr(self, f"{kind}_l{layer}{suffix}") if self.bias or kind.startswith("weight") else None
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    @property
    def all_weights(self):
        return [[p for p in self._layer_params(layer, s) if p is not None]
                for layer in range(self.num_layers) for s in self._suffixes()]

    def flatten_parameters(self) -> None:
        """PyTorch's cuDNN weight compaction: nothing to do here."""

    def _check_hidden(self, h, expected, what: str):
        if tuple(h.shape) != expected:
            raise ValueError(f"{type(self).__name__}: expected {what} of shape {expected}, got {tuple(h.shape)}")

    def _run_stack(self, x, hx, cx, lengths):
        """x (T, B, I) time-major; hx, cx (L*D, B, H). Returns (output, h_n, c_n or None)."""
        lstm = self.mode == "LSTM"
        mode = _OP_MODE[self.mode]
        layer_input = x
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outputs = []
            for d, suffix in enumerate(self._suffixes()):
                k = layer * self.num_directions + d
                w_ih, w_hh, b_ih, b_hh = self._layer_params(layer, suffix)
                out, h, c = _C.ops.rnn_layer(layer_input, hx[k], cx[k] if lstm else None, w_ih, w_hh, b_ih, b_hh,
                                             mode, d == 1, lengths)
                outputs.append(out)
                h_n.append(h)
                c_n.append(c)
            layer_input = outputs[0] if len(outputs) == 1 else nc.cat(outputs, 2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        return layer_input, nc.stack(h_n, 0), nc.stack(c_n, 0) if lstm else None

    def forward(self, input, hx=None):
        name = type(self).__name__
        lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        LD, H = self.num_layers * self.num_directions, self.hidden_size
        lengths = None
        if packed:
            data, batch_sizes = input.data, input.batch_sizes.tolist()
            if data.dim() != 2:
                raise ValueError(f"{name}: PackedSequence data must be 2-D (rows, input_size), got shape "
                                 f"{tuple(data.shape)}")
            T = len(batch_sizes)
            B = int(batch_sizes[0]) if T else 0
            I = int(data.shape[1])
            rows = nc.tensor(_packed_rows(batch_sizes, B), dtype=nc.int64)
            # The padded (T, B, I) batch in packed (sorted) order, zeros past each length.
            source = [int(data.shape[0])] * (T * B)
            for i, r in enumerate(rows.tolist()):
                source[r] = i
            zero_row = nc.zeros(1, I, dtype=data.dtype)
            x = nc.cat([data, zero_row], 0).index_select(0, nc.tensor(source, dtype=nc.int64)).reshape(T, B, I)
            lengths = nc.tensor([sum(1 for bs in batch_sizes if bs > b) for b in range(B)], dtype=nc.int64)
            batched = True
        else:
            if input.dim() not in (2, 3):
                raise ValueError(f"{name}: expected input of 2 (unbatched) or 3 (batched) dims, got shape "
                                 f"{tuple(input.shape)}")
            batched = input.dim() == 3
            x = input if batched else input.unsqueeze(1)
            if batched and self.batch_first:
                x = x.transpose(0, 1)
            T, B = int(x.shape[0]), int(x.shape[1])
        if int(x.shape[-1]) != self.input_size:
            raise ValueError(f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                             f"got {int(x.shape[-1])} (input shape {tuple(x.shape)})")
        _check_dtype(name, x, self.weight_ih_l0)

        expected = (LD, B, H) if batched else (LD, H)
        if hx is None:
            h0 = nc.zeros(LD, B, H, dtype=x.dtype)
            c0 = nc.zeros(LD, B, H, dtype=x.dtype) if lstm else None
        else:
            if lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise ValueError(f"{name}: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
                h0, c0 = hx
                self._check_hidden(h0, expected, "h_0")
                self._check_hidden(c0, expected, "c_0")
            else:
                if isinstance(hx, (tuple, list)):
                    raise ValueError(f"{name}: hx must be a Tensor h_0, got a {type(hx).__name__}")
                h0, c0 = hx, None
                self._check_hidden(h0, expected, "h_0")
            for h in (h0, c0):
                if h is not None:
                    _check_dtype(name, h, self.weight_ih_l0)
            if not batched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if lstm else None
            if packed and input.sorted_indices is not None:  # the user's batch order -> packed order
                h0 = h0.index_select(1, input.sorted_indices)
                c0 = c0.index_select(1, input.sorted_indices) if lstm else None

        out, h_n, c_n = self._run_stack(x, h0, c0, lengths)

        if packed:
            out = out.reshape(T * B, out.shape[2]).index_select(0, rows)
            if input.unsorted_indices is not None:
                h_n = h_n.index_select(1, input.unsorted_indices)
                c_n = c_n.index_select(1, input.unsorted_indices) if lstm else None
            out = PackedSequence(out, input.batch_sizes, input.sorted_indices, input.unsorted_indices)
        elif not batched:
            out, h_n = out.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if lstm else None
        elif self.batch_first:
            out = out.transpose(0, 1)
        return (out, (h_n, c_n)) if lstm else (out, h_n)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = nonlinearity(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), nonlinearity
    'tanh' (default) or 'relu'. forward(input, hx=None) -> (output, h_n)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r} (expected 'tanh' or 'relu')")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(RNNBase):
    """Long short-term memory (gates i, f, g, o). forward(input, (h_0, c_0)=None) ->
    (output, (h_n, c_n))."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device=device, dtype=dtype)


class GRU(RNNBase):
    """Gated recurrent unit (gates r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn))).
    forward(input, hx=None) -> (output, h_n)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)


# ---- cells: one time step; rnn_layer on a sequence of length 1 ----------------------------

class RNNCellBase(Module):
    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"{name}: hidden_size must be a positive int, got {hidden_size!r}")
        if not isinstance(input_size, int) or input_size < 0:
            raise ValueError(f"{name}: input_size must be a non-negative int, got {input_size!r}")
        self.mode, self.input_size, self.hidden_size, self.bias = mode, input_size, hidden_size, bool(bias)
        G = _GATES[mode]
        dtype = dtype or nc.float32
        self.weight_ih = Parameter(nc.empty(G * hidden_size, input_size, dtype=dtype))
        self.weight_hh = Parameter(nc.empty(G * hidden_size, hidden_size, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(nc.empty(G * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(nc.empty(G * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def _state(self, h, expected, what):
        name = type(self).__name__
        if tuple(h.shape) != expected:
            raise ValueError(f"{name}: expected {what} of shape {expected}, got {tuple(h.shape)}")
        _check_dtype(name, h, self.weight_ih)
        return h

    def _step(self, input, hx):
        name = type(self).__name__
        lstm = self.mode == "LSTM"
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: expected input of 1 (unbatched) or 2 (batched) dims, got shape "
                             f"{tuple(input.shape)}")
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        if int(x.shape[1]) != self.input_size:
            raise ValueError(f"{name}: input has inconsistent input_size: got {int(x.shape[1])}, expected "
                             f"{self.input_size}")
        _check_dtype(name, x, self.weight_ih)
        B, H = int(x.shape[0]), self.hidden_size
        expected = (B, H) if batched else (H,)
        if hx is None:
            h0 = nc.zeros(B, H, dtype=x.dtype)
            c0 = nc.zeros(B, H, dtype=x.dtype) if lstm else None
        elif lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise ValueError(f"{name}: hx must be a tuple (h, c), got {type(hx).__name__}")
            h0, c0 = self._state(hx[0], expected, "h"), self._state(hx[1], expected, "c")
        else:
            h0, c0 = self._state(hx, expected, "hx"), None
        if not batched and hx is not None:
            h0 = h0.unsqueeze(0)
            c0 = c0.unsqueeze(0) if lstm else None
        _, h, c = _C.ops.rnn_layer(x.unsqueeze(0), h0, c0, self.weight_ih, self.weight_hh, self.bias_ih,
                                   self.bias_hh, _OP_MODE[self.mode], False, None)
        if not batched:
            h = h.squeeze(0)
            c = c.squeeze(0) if lstm else None
        return (h, c) if lstm else h

    def forward(self, input, hx=None):
        return self._step(input, hx)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        return s + (", bias=False" if not self.bias else "")


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = nonlinearity(x W_ih^T + b_ih + h W_hh^T + b_hh)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r} (expected 'tanh' or 'relu')")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, bias,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTMCell(RNNCellBase):
    """One LSTM step: forward(input, (h, c)=None) -> (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, bias, device=device, dtype=dtype)


class GRUCell(RNNCellBase):
    """One GRU step: forward(input, h=None) -> h'."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, bias, device=device, dtype=dtype)


__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]
