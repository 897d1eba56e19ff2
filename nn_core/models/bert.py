"""A BERT-style encoder (``BertModel``) built from nn_core modules, and the loader of
Hugging Face BERT weights into it.

Layout: hidden states are (B, L, E), batch first; ``input_ids`` / ``attention_mask`` /
``token_type_ids`` are integer tensors (B, L); ``attention_mask`` is 1 for a real token
and 0 for padding. Each encoder layer is ``nn.TransformerEncoderLayer`` in its post-norm
form, which is exactly BERT's layer:

    a = LayerNorm1(x + out_proj(attention(q, k, v)))        BERT: attention.output.*
    y = LayerNorm2(a + linear2(gelu(linear1(a))))           BERT: intermediate / output.*

BERT's separate query / key / value projections become the rows of ``in_proj_weight``
(3E, E) in that order (one GEMM for all three); the attention is the fused
``functional.scaled_dot_product_attention`` with the key-padding mask; linear1 runs with
the bias and the exact (erf) GELU fused into the GEMM; LayerNorm eps comes from the config
(1e-12 for BERT). Dropout layers exist (so training would work) but models are loaded in
eval mode, where they are the identity.

``forward`` has no data-dependent Python control flow and no numpy round trip: position
ids come from ``nn_core.arange`` over the sequence length, the mask from a comparison, so
it can be traced into a graph of native ops and works for any batch and sequence length.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from typing import Dict, Mapping, Optional

import nn_core as nc
from nn_core.nn import Dropout, Embedding, LayerNorm, Module, ModuleList, TransformerEncoderLayer


@dataclass
class BertConfig:
    """The fields of a Hugging Face BERT ``config.json`` that the encoder uses (the
    defaults are bert-base's)."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    position_embedding_type: str = "absolute"

    @classmethod
    def from_dict(cls, d: Mapping) -> "BertConfig":
        """Keeps the known keys, ignores the others; checks what the encoder supports."""
        known = {f.name for f in fields(cls)}
        cfg = cls(**{k: v for k, v in d.items() if k in known})
        cfg.validate()
        return cfg

    @classmethod
    def from_json_file(cls, path: str) -> "BertConfig":
        try:
            with open(path, "r", encoding="utf-8") as f:
                d = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"BertConfig: {path} is not valid JSON ({e})") from None
        if not isinstance(d, dict):
            raise ValueError(f"BertConfig: {path} must hold a JSON object, got {type(d).__name__}")
        return cls.from_dict(d)

    def validate(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                     "max_position_embeddings", "type_vocab_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"BertConfig: {name} must be a positive integer, got {v!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"BertConfig: hidden_size {self.hidden_size} must be divisible by num_attention_heads "
                             f"{self.num_attention_heads}")
        if self.hidden_act != "gelu":
            raise ValueError(f"BertConfig: hidden_act {self.hidden_act!r} is not supported (only 'gelu', the exact "
                             "erf form)")
        if self.position_embedding_type != "absolute":
            raise ValueError(f"BertConfig: position_embedding_type {self.position_embedding_type!r} is not supported "
                             "(only 'absolute')")


class BertEmbeddings(Module):
    """word + position + token-type embeddings, then LayerNorm and dropout."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids=None):
        L = input_ids.shape[1]  # a shape, not data: the graph stays valid for any length
        x = self.word_embeddings(input_ids)                                        # (B, L, E)
        x = x + self.position_embeddings(nc.arange(L)).unsqueeze(0)                # (1, L, E)
        if token_type_ids is None:  # all segment 0: row 0 of the table, broadcast
            x = x + self.token_type_embeddings.weight[0]
        else:
            x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


class BertModel(Module):
    """BERT's encoder: ``forward(input_ids, attention_mask=None, token_type_ids=None)``
    returns the last hidden states (B, L, hidden_size). No pooler (sentence embeddings
    pool over the tokens instead, see ``SentenceEncoder``)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.layers = ModuleList([
            TransformerEncoderLayer(config.hidden_size, config.num_attention_heads, config.intermediate_size,
                                    dropout=config.hidden_dropout_prob, activation="gelu",
                                    layer_norm_eps=config.layer_norm_eps, batch_first=True, norm_first=False)
            for _ in range(config.num_hidden_layers)])
        for layer in self.layers:  # BERT drops attention probabilities at its own rate
            layer.self_attn.dropout = config.attention_probs_dropout_prob

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        x = self.embeddings(input_ids, token_type_ids)
        # PyTorch's key_padding_mask convention: True marks a padded key (not attended).
        padding = None if attention_mask is None else attention_mask == 0
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=padding)
        return x

    def extra_repr(self) -> str:
        c = self.config
        return (f"layers={c.num_hidden_layers}, hidden={c.hidden_size}, heads={c.num_attention_heads}, "
                f"intermediate={c.intermediate_size}, vocab={c.vocab_size}")


# ---- Hugging Face weights ------------------------------------------------------------------

# Per layer: our parameter name <- Hugging Face's (under encoder.layer.N.).
_LAYER_NAMES = {
    "self_attn.out_proj.weight": "attention.output.dense.weight",
    "self_attn.out_proj.bias": "attention.output.dense.bias",
    "norm1.weight": "attention.output.LayerNorm.weight",
    "norm1.bias": "attention.output.LayerNorm.bias",
    "linear1.weight": "intermediate.dense.weight",
    "linear1.bias": "intermediate.dense.bias",
    "linear2.weight": "output.dense.weight",
    "linear2.bias": "output.dense.bias",
    "norm2.weight": "output.LayerNorm.weight",
    "norm2.bias": "output.LayerNorm.bias",
}
_IGNORED = ("embeddings.position_ids", "pooler.")  # a buffer of 0..511; the unused pooler


def hf_bert_to_state_dict(arrays: Mapping[str, object], num_layers: int) -> Dict[str, object]:
    """Renames a Hugging Face BERT state dict (numpy arrays or tensors; keys with or
    without a ``bert.`` prefix) to ``BertModel``'s names, concatenating query / key /
    value into ``in_proj_weight`` / ``in_proj_bias``. Raises KeyError naming every
    missing tensor."""
    import numpy as np

    src = {(k[5:] if k.startswith("bert.") else k): v for k, v in arrays.items()}
    out: Dict[str, object] = {}
    missing, used = [], set()

    def take(name):
        if name not in src:
            missing.append(name)
            return None
        used.add(name)
        return np.asarray(src[name])

    for part in ("word_embeddings.weight", "position_embeddings.weight", "token_type_embeddings.weight",
                 "LayerNorm.weight", "LayerNorm.bias"):
        out[f"embeddings.{part}"] = take(f"embeddings.{part}")
    for i in range(num_layers):
        hf = f"encoder.layer.{i}."
        for ours, theirs in _LAYER_NAMES.items():
            out[f"layers.{i}.{ours}"] = take(hf + theirs)
        for kind in ("weight", "bias"):
            qkv = [take(f"{hf}attention.self.{p}.{kind}") for p in ("query", "key", "value")]
            out[f"layers.{i}.self_attn.in_proj_{kind}"] = None if any(a is None for a in qkv) else np.concatenate(qkv)
    if missing:
        raise KeyError(f"hf_bert_to_state_dict: the weights lack {len(missing)} tensor(s) of a {num_layers}-layer "
                       f"BERT: {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
    extra = [k for k in src if k not in used and not k.startswith(_IGNORED)]
    if extra:
        raise KeyError(f"hf_bert_to_state_dict: unexpected tensor(s) for a {num_layers}-layer BERT: "
                       f"{', '.join(extra[:8])}{' ...' if len(extra) > 8 else ''}")
    return {k: nc.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in out.items()}


def load_bert(model_dir: str, config: Optional[BertConfig] = None) -> BertModel:
    """A ``BertModel`` in eval mode from ``config.json`` and ``model.safetensors`` in
    ``model_dir`` (read with the ``safetensors`` package's numpy API)."""
    from safetensors.numpy import load_file

    if config is None:
        config = BertConfig.from_json_file(os.path.join(model_dir, "config.json"))
    weights = os.path.join(model_dir, "model.safetensors")
    if not os.path.isfile(weights):
        raise FileNotFoundError(f"load_bert: {weights} does not exist")
    try:
        arrays = load_file(weights)
    except Exception as e:  # the safetensors package raises its own error types
        raise ValueError(f"load_bert: cannot read {weights}: {e}") from None
    model = BertModel(config)
    model.load_state_dict(hf_bert_to_state_dict(arrays, config.num_hidden_layers))
    return model.eval()
