"""Transformer building blocks: ``Embedding``, ``LayerNorm``, ``RMSNorm``, ``Dropout``,
``MultiheadAttention``, ``TransformerEncoderLayer``, ``TransformerEncoder``.

Parameter names and layouts are PyTorch's (``in_proj_weight`` (3E, E), ``in_proj_bias``,
``out_proj.weight`` / ``out_proj.bias``, ``linear1``, ``linear2``, ``norm1``, ``norm2``,
``self_attn``, ``layers.N``), so the ``state_dict`` of the same torch modules loads
unchanged. Shapes: ``batch_first=True`` means (B, L, E), otherwise (L, B, E); unbatched
(L, E) inputs are accepted. The attention itself is the fused kernel
(``functional.scaled_dot_product_attention``); the projections are fused GEMMs.
"""
from __future__ import annotations

import math
from typing import Optional

import nn_core as nc
from nn_core import functional as F

from .linear import Dropout, Linear
from .module import Module, ModuleList, Parameter


class Embedding(Module):
    """A lookup table ``weight[indices]``, weight (num_embeddings, embedding_dim) ~ N(0, 1);
    the ``padding_idx`` row starts at zero and receives no gradient."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: Optional[int] = None, dtype=None):
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must be within [-{num_embeddings}, "
                                 f"{num_embeddings})")
            padding_idx = padding_idx % num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        w = nc.randn(num_embeddings, embedding_dim, dtype=dtype)
        if padding_idx is not None:
            w[padding_idx] = 0.0
        self.weight = Parameter(w)

    def forward(self, indices):
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


def _shape_tuple(shape):
    return (int(shape),) if isinstance(shape, int) else tuple(int(s) for s in shape)


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype=None):
        super().__init__()
        self.normalized_shape, self.eps = _shape_tuple(normalized_shape), eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(nc.ones(*self.normalized_shape, dtype=dtype))
            self.bias = Parameter(nc.zeros(*self.normalized_shape, dtype=dtype)) if bias else None
        else:
            self.weight = None
            self.bias = None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class RMSNorm(Module):
    def __init__(self, normalized_shape, eps: Optional[float] = None, elementwise_affine: bool = True, dtype=None):
        super().__init__()
        self.normalized_shape, self.eps = _shape_tuple(normalized_shape), eps
        self.elementwise_affine = elementwise_affine
        self.weight = Parameter(nc.ones(*self.normalized_shape, dtype=dtype)) if elementwise_affine else None

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


def _merge_masks(attn_mask, key_padding_mask, B, H, L, S, dtype):
    """PyTorch's MultiheadAttention masks (bool True = NOT allowed, or additive float;
    attn_mask (L, S) or (B*H, L, S), key_padding_mask (B, S)) as one SDPA mask (bool
    True = attend, or additive) broadcasting to (B, H, L, S)."""
    masks = []
    if attn_mask is not None:
        if attn_mask.dim() == 3:
            if attn_mask.shape[0] != B * H:
                raise ValueError(f"MultiheadAttention: a 3-D attn_mask must have shape ({B * H}, {L}, {S}), "
                                 f"got {tuple(attn_mask.shape)}")
            attn_mask = attn_mask.reshape(B, H, L, S)
        elif attn_mask.dim() != 2:
            raise ValueError(f"MultiheadAttention: attn_mask must be 2-D or 3-D, got shape {tuple(attn_mask.shape)}")
        masks.append(attn_mask)
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (B, S):
            raise ValueError(f"MultiheadAttention: key_padding_mask must have shape ({B}, {S}), "
                             f"got {tuple(key_padding_mask.shape)}")
        masks.append(key_padding_mask.reshape(B, 1, 1, S))
    if not masks:
        return None
    if len(masks) == 1 and masks[0].dtype == nc.bool:
        return masks[0].logical_not()
    ninf = nc.full([], float("-inf"), dtype=dtype)
    zero = nc.zeros([], dtype=dtype)
    total = None
    for m in masks:
        add = nc.where(m, ninf, zero) if m.dtype == nc.bool else m.to(dtype)
        total = add if total is None else total + add
    return total


class MultiheadAttention(Module):
    """PyTorch's ``nn.MultiheadAttention`` (same parameters and masks). With
    ``need_weights=False`` the attention runs as the fused kernel and nothing of size
    L x S is stored; ``need_weights=True`` (PyTorch's default) also materialises the
    probabilities to return them (averaged over heads unless ``average_attn_weights=False``).
    Not supported: ``add_bias_kv``, ``add_zero_attn``, ``kdim``/``vdim`` != ``embed_dim``."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False, dtype=None):
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by num_heads {num_heads}")
        if add_bias_kv or add_zero_attn or (kdim not in (None, embed_dim)) or (vdim not in (None, embed_dim)):
            raise NotImplementedError("MultiheadAttention: add_bias_kv, add_zero_attn and kdim/vdim != embed_dim "
                                      "are not supported")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.head_dim, self.batch_first = embed_dim // num_heads, batch_first
        bound = math.sqrt(6.0 / (embed_dim + 3 * embed_dim))  # xavier_uniform_ on (3E, E)
        self.in_proj_weight = Parameter(nc.empty(3 * embed_dim, embed_dim, dtype=dtype).uniform_(-bound, bound))
        if bias:
            self.in_proj_bias = Parameter(nc.zeros(3 * embed_dim, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if bias:
            self.out_proj.bias = Parameter(nc.zeros(embed_dim, dtype=dtype))

    def _project(self, x, i):
        E = self.embed_dim
        in_proj = self._modules.get("in_proj")
        if in_proj is not None:  # a replaced projection (int8): project fully, keep one third
            return in_proj(x)[..., i * E:(i + 1) * E]
        w = self.in_proj_weight[i * E:(i + 1) * E]
        b = self.in_proj_bias[i * E:(i + 1) * E] if self.in_proj_bias is not None else None
        return F.linear(x, w, b)

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True, attn_mask=None,
                average_attn_weights: bool = True, is_causal: bool = False):
        unbatched = query.dim() == 2
        if unbatched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        if not self.batch_first or unbatched:  # (L, B, E) -> (B, L, E) views
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        B, L, E = query.shape
        S, H, Dh = key.shape[1], self.num_heads, self.head_dim
        if E != self.embed_dim:
            raise ValueError(f"MultiheadAttention: expected embed_dim {self.embed_dim}, got input shape "
                             f"{tuple(query.shape)}")
        if query is key and key is value:  # self-attention: one GEMM, q/k/v are strided views of it
            in_proj = self._modules.get("in_proj")
            qkv = in_proj(query) if in_proj is not None else F.linear(query, self.in_proj_weight, self.in_proj_bias)
            qkv = qkv.reshape(B, L, 3, H, Dh)
            q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))
        else:
            q = self._project(query, 0).reshape(B, L, H, Dh).transpose(1, 2)
            k = self._project(key, 1).reshape(B, S, H, Dh).transpose(1, 2)
            v = self._project(value, 2).reshape(B, S, H, Dh).transpose(1, 2)
        mask = _merge_masks(attn_mask, key_padding_mask, B, H, L, S, q.dtype)
        if mask is not None:
            is_causal = False  # PyTorch: is_causal is only a hint when attn_mask is given
        dropout_p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            scores = q.matmul(k.transpose(-2, -1)) * (1.0 / math.sqrt(Dh))
            if is_causal:
                mask = nc.arange(L).reshape(L, 1) >= nc.arange(S).reshape(1, S)
            if mask is not None:
                scores = nc.where(mask, scores, nc.full([], float("-inf"), dtype=scores.dtype)) \
                    if mask.dtype == nc.bool else scores + mask
            p = F.softmax(scores, -1)
            weights = p.mean(1) if average_attn_weights else p
            out = F.dropout(p, dropout_p, True).matmul(v)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=is_causal)
        out = self.out_proj(out.transpose(1, 2).reshape(B, L, E))
        if not self.batch_first or unbatched:
            out = out.transpose(0, 1)
        if unbatched:
            out = out.squeeze(1)
            weights = weights.squeeze(0) if weights is not None else None
        return out, weights


def check_activation(layer_name: str, activation) -> None:
    if isinstance(activation, str) and activation not in ("relu", "gelu"):
        raise ValueError(f"{layer_name}: activation must be 'relu', 'gelu' or a callable, got {activation!r}")


def feed_forward(layer, x, out_dropout):
    """``out_dropout(linear2(dropout(activation(linear1(x)))))`` of a Transformer layer."""
    if isinstance(layer.activation, str) and type(layer.linear1) is Linear:
        # bias + activation fused into the GEMM write-back
        h = F.linear(x, layer.linear1.weight, layer.linear1.bias, layer.activation)
    elif isinstance(layer.activation, str):  # linear1 was replaced (e.g. by an int8 layer)
        h = layer.linear1(x)
        h = F.relu(h) if layer.activation == "relu" else F.gelu(h)
    else:
        h = layer.activation(layer.linear1(x))
    return out_dropout(layer.linear2(layer.dropout(h)))


def clone_layers(layer: Module, num_layers: int) -> ModuleList:
    """``num_layers`` copies of a layer built from its ``_config`` (same configuration and
    initial weights, as PyTorch's deep copy)."""
    layers = []
    for _ in range(num_layers):
        copy = type(layer)(**layer._config)
        copy.load_state_dict(layer.state_dict())
        copy.activation = layer.activation
        layers.append(copy)
    return ModuleList(layers)


class TransformerEncoderLayer(Module):
    """PyTorch's ``nn.TransformerEncoderLayer``: self-attention and a feed-forward block
    (linear1 -> activation -> dropout -> linear2), each with a residual and LayerNorm
    (``norm_first``: pre-norm, else post-norm). ``activation``: "relu", "gelu" (fused
    into linear1's GEMM) or a callable."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, dtype=None):
        super().__init__()
        self._config = dict(d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward, dropout=dropout,
                            activation=activation, layer_norm_eps=layer_norm_eps, batch_first=batch_first,
                            norm_first=norm_first, bias=bias, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        check_activation("TransformerEncoderLayer", activation)
        self.activation = activation

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return feed_forward(self, x, self.dropout2)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal: bool = False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (same configuration and initial weights,
    as PyTorch's deep copy), then the optional final ``norm``."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Optional[Module] = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True):
        super().__init__()
        del enable_nested_tensor, mask_check
        self.layers = clone_layers(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal: Optional[bool] = None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        if self.norm is not None:
            x = self.norm(x)
        return x
