"""int8 GEMM and dynamically quantized Linear: nn_core beside our float32 GEMM, torch and
onnxruntime.

Cases, named as in the summary table (GFLOP/s columns are GOP/s here: 2*M*K*N / time):
  int8 gemm M x K x N     u8 (M, K) x s8 (K, N) -> int32, the weight packed beforehand
                          (nn_core.quantized.qgemm, output='int32'), beside
                          - "nn_core-f32": our float32 GEMM at the same shape (target: >= 3.5x
                            faster at 1024^3 on AVX-512 VNNI; on AVX2 the 7-bit kernel
                            does twice the multiply-adds per instruction of float32),
                          - "torch": torch._int_mm (s8 x s8 -> s32),
                          - "onnxruntime": a one-node MatMulInteger model (u8 x s8 -> s32).
                          A is drawn from the range dynamic quantization uses on the active
                          ISA (nn_core.quantized.dynamic_qrange(): 0..255, or 0..127 on
                          AVX2, where our 7-bit kernel runs). Our product is checked to equal
                          the exact integer product (float64 BLAS: every partial sum is an
                          integer below 2^53); onnxruntime's only within a tolerance, since
                          its AVX2 u8s8 kernel saturates 16-bit pair sums for A > 127.
  int8 gemm 8-bit M x K x N   the same with A in 0..255 at a few shapes: on AVX2 our exact
                          8-bit fallback kernel (qgemm_avx2_6x8).
  int8 dyn linear M x K x N   float input -> per-row quantization -> int8 GEMM -> float32
                          (nn.QuantizedLinear, no bias), beside torch.ao.quantization.
                          quantize_dynamic(nn.Linear) and onnxruntime.quantization.
                          quantize_dynamic of a MatMul model (per-channel int8 weights).
Shapes are the GEMM issue's: square 128..2048 and (32,768,3072), (128,768,768),
(512,384,1536), (1,4096,4096); 1 and 2 threads on both sides (torch.set_num_threads,
onnxruntime intra_op_num_threads). Peers that are not installed skip their rows.
On a shared 2-core machine the 2-thread rows are only meaningful when the "other load"
column is near 0. On chips with AMX-INT8 (Sapphire Rapids and later) all three libraries
use the AMX tiles for M >= 9 (nc.backend_info()['qgemm_kernel']); NN_CORE_ISA=avx512 with
nc._C._set_amx_enabled(False) times the VNNI kernel instead.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import nn_core as nc
from nn_core import _C
from nn_core import quantized as Q

SHAPES = [(128, 128, 128), (256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048),
          (32, 768, 3072), (128, 768, 768), (512, 384, 1536), (1, 4096, 4096)]
THREADS = [1, 2]


def _ids(s):
    return "x".join(map(str, s))


def _int_inputs(m, k, n, seed=11, a_max=None):
    """A in 0..a_max (default: the dynamic range of the active ISA), B any int8."""
    a_max = Q.dynamic_qrange()[1] if a_max is None else a_max
    rng = np.random.default_rng(seed + m + 3 * k + 7 * n)
    return rng.integers(0, a_max + 1, (m, k), dtype=np.uint8), rng.integers(-128, 128, (k, n), dtype=np.int8)


def _exact_product(a, b):
    """a @ b exactly (int64): float64 BLAS is exact here (|partial sums| <= K*255*128 < 2^53)."""
    return (a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)


def _check_peer_product(theirs, exact):
    """onnxruntime's AVX2 u8s8 kernel saturates pair sums (A > 127): close, not equal."""
    err = np.linalg.norm((theirs.astype(np.int64) - exact).astype(np.float64)) / max(1.0, np.linalg.norm(exact))
    assert err < 5e-2, f"onnxruntime's product is far from the exact one: relative error {err:.3g}"


class TorchThreads:
    def __init__(self, threads):
        self.torch = pytest.importorskip("torch")
        self.threads = threads

    def __enter__(self):
        self.before = self.torch.get_num_threads()
        self.torch.set_num_threads(self.threads)
        return self.torch

    def __exit__(self, *exc):
        self.torch.set_num_threads(self.before)


def _ort_session(model_bytes, threads):
    ort = pytest.importorskip("onnxruntime")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    # Its idle workers would otherwise spin between runs and take a core from ours in the
    # interleaved timing (and ours, OpenMP, from it): on 2 cores neither side spins.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])


def _matmul_integer_model(b):
    onnx = pytest.importorskip("onnx", reason="the onnx package builds the MatMulInteger model")
    from onnx import TensorProto, helper, numpy_helper
    k, n = b.shape
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])], "mmi",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, ["M", k])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, ["M", n])],
        [numpy_helper.from_array(b, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


def _dynamic_matmul_model(w_t, tmp_path):
    """A float MatMul (x @ w_t) quantized by onnxruntime's own dynamic quantizer."""
    onnx = pytest.importorskip("onnx", reason="the onnx package builds the float MatMul model")
    quant = pytest.importorskip("onnxruntime.quantization")
    from onnx import TensorProto, helper, numpy_helper
    k, n = w_t.shape
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])], "mm",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["M", k])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["M", n])],
        [numpy_helper.from_array(w_t, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    src, dst = tmp_path / "mm.onnx", tmp_path / "mm_int8.onnx"
    onnx.save(model, str(src))
    quant.quantize_dynamic(str(src), str(dst), weight_type=quant.QuantType.QInt8, per_channel=True)
    return dst.read_bytes()


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
@pytest.mark.parametrize("peer", ["nn_core-f32", "torch", "onnxruntime"])
def test_int8_gemm(shape, threads, peer, compare, num_threads):
    _int8_gemm_case(shape, threads, peer, compare, num_threads, "int8 gemm", None)


@pytest.mark.parametrize("threads", [2], ids=lambda t: f"t{t}")
@pytest.mark.parametrize("shape", [(256, 256, 256), (1024, 1024, 1024)], ids=_ids)
@pytest.mark.parametrize("peer", ["nn_core-f32", "onnxruntime"])
def test_int8_gemm_8bit(shape, threads, peer, compare, num_threads):
    _int8_gemm_case(shape, threads, peer, compare, num_threads, "int8 gemm 8-bit", 255)


def _int8_gemm_case(shape, threads, peer, compare, num_threads, name, a_max):
    m, k, n = shape
    a, b = _int_inputs(m, k, n, a_max=a_max)
    at = nc.from_numpy(a)
    packed = _C.pack_linear_weight(nc.from_numpy(np.ascontiguousarray(b.T)), nc.tensor([1.0]))

    def ours():
        return _C.qgemm(at, packed, output="int32")

    num_threads(threads)
    case, ops = f"{name} {m}x{k}x{n}", 2.0 * m * k * n
    if peer == "nn_core-f32":
        x, y = nc.tensor(a.astype(np.float32)), nc.tensor(b.astype(np.float32))
        result = compare(case, threads, ours, peer, lambda: x @ y, str(threads), flops=ops)
    elif peer == "torch":
        with TorchThreads(threads) as torch:
            ta, tb = torch.from_numpy(a.view(np.int8)), torch.from_numpy(b)
            result = compare(case, threads, ours, peer, lambda: torch._int_mm(ta, tb), str(threads), flops=ops)
    else:
        sess = _ort_session(_matmul_integer_model(b), threads)
        feed = {"A": a}
        theirs = sess.run(None, feed)[0]
        result = compare(case, threads, ours, peer, lambda: sess.run(None, feed), str(threads), flops=ops)
        _check_peer_product(theirs, _exact_product(a, b))
    assert np.array_equal(result.numpy(), _exact_product(a, b))


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
@pytest.mark.parametrize("peer", ["torch", "onnxruntime"])
def test_int8_dynamic_linear(shape, threads, peer, compare, num_threads, tmp_path):
    m, k, n = shape
    rng = np.random.default_rng(m + 5 * k + 9 * n)
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = (rng.standard_normal((n, k)) / np.sqrt(k)).astype(np.float32)
    lin = nc.nn.Linear(k, n, bias=False)
    with nc.no_grad():
        lin.weight.copy_(nc.tensor(w))
    ql = nc.nn.QuantizedLinear.from_float(lin)
    xt = nc.tensor(x)
    num_threads(threads)
    case, ops = f"int8 dyn linear {m}x{k}x{n}", 2.0 * m * k * n
    if peer == "torch":
        with TorchThreads(threads) as torch:
            tl = torch.nn.Linear(k, n, bias=False)
            with torch.no_grad():
                tl.weight.copy_(torch.from_numpy(w))
            with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao
                warnings.simplefilter("ignore")  # (and its quantized tensor factories, UserWarning)
                tq = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(tl), {torch.nn.Linear},
                                                             dtype=torch.qint8)
            tx = torch.from_numpy(x)
            with torch.no_grad():
                result = compare(case, threads, lambda: ql(xt), peer, lambda: tq(tx), str(threads), flops=ops)
    else:
        sess = _ort_session(_dynamic_matmul_model(np.ascontiguousarray(w.T), tmp_path), threads)
        feed = {"X": x}
        result = compare(case, threads, lambda: ql(xt), peer, lambda: sess.run(None, feed), str(threads), flops=ops)
    exact = x.astype(np.float64) @ w.T.astype(np.float64)
    rel = np.linalg.norm(result.numpy() - exact) / np.linalg.norm(exact)
    assert rel < 0.02, rel
