"""float32 GEMM (matmul) and bfloat16 GEMM: nn_core beside numpy (OpenBLAS) and torch.

Cases, named as in the summary table (GFLOP/s columns = 2*M*K*N / time):
  gemm M x K x N            square 128, 256, 512, 1024, 2048 and the NN shapes
                            (32,768,3072), (128,768,768), (512,384,1536), (1,4096,4096)
  gemm bf16 1024^3 vs f32   our bfloat16 GEMM beside our own float32 GEMM (peer "nn_core-f32")
  linear M x K -> N         F.linear(x, W, b) with a Linear weight W (N, K) (the GEMM sees
                            B = W^T: unit row stride) beside torch.nn.functional.linear, for
                            the sentence-encoder shapes (1,384,1152), (16,384,1536),
                            (16,1536,384), (128,384,1536), (128,1536,384), (2048,384,1536)
each with 1 and 2 threads on both sides: nn_core.set_num_threads for ours, threadpoolctl
for numpy's BLAS (the row is skipped when threadpoolctl is missing, since the peer's
thread count would be unknown), torch.set_num_threads for torch, intra_op_num_threads for
onnxruntime. The onnxruntime peer is a one-node ONNX MatMul graph (built with the `onnx`
package) whose two operands are graph inputs, the same product as ours; rows are skipped
without onnx/onnxruntime. Its intra-op threads are told not to spin
(session.intra_op.allow_spinning = 0): spinning, they kept a core busy for milliseconds
after each run and slowed our next interleaved round (1024^3 at 2 threads: ours 6.0 ms
alone, 10-16 ms right after an onnxruntime run), while onnxruntime's own time stayed the
same without it (7.6-7.9 ms both ways).

(1, 4096, 4096) is memory bound: test_gemv_bandwidth prints the GB/s at which each
library reads its 64 MiB weight beside the machine's copy bandwidth (numpy copying the
same 64 MiB, split over the same number of threads; GB/s of bytes read + written).
Run it with -s to see the lines.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import nn_core as nc

SHAPES = [(128, 128, 128), (256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048),
          (32, 768, 3072), (128, 768, 768), (512, 384, 1536), (1, 4096, 4096)]
LINEAR_SHAPES = [(1, 384, 1152), (16, 384, 1536), (16, 1536, 384), (128, 384, 1536), (128, 1536, 384),
                 (2048, 384, 1536)]
THREADS = [1, 2]


class BlasThreads:
    """Sets numpy's BLAS thread count (threadpoolctl) for the duration of a test."""

    def __init__(self):
        threadpoolctl = pytest.importorskip("threadpoolctl")
        self.limiter = threadpoolctl.threadpool_limits

    def __call__(self, n):
        return self.limiter(limits=n, user_api="blas")


def _onnx_matmul(m, k, n, threads):
    """run(a, b) -> a @ b through an onnxruntime session of one MatMul node."""
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["A", "B"], ["Y"])], "gemm",
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, [m, k]),
         helper.make_tensor_value_info("B", TensorProto.FLOAT, [k, n])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [m, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = min(model.ir_version, 10)
    onnx.checker.check_model(model)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # see the module docstring
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return lambda a, b: session.run(["Y"], {"A": a, "B": b})[0]


def _inputs(m, k, n, seed=7):
    rng = np.random.default_rng(seed + m + 3 * k + 7 * n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    return a, b


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("peer", ["numpy", "torch", "onnxruntime"])
def test_gemm(shape, threads, peer, compare, num_threads):
    m, k, n = shape
    a, b = _inputs(m, k, n)
    x, y = nc.tensor(a), nc.tensor(b)
    num_threads(threads)
    flops = 2.0 * m * k * n
    case = f"gemm {m}x{k}x{n}"
    if peer == "numpy":
        with BlasThreads()(threads):
            result = compare(case, threads, lambda: x @ y, "numpy", lambda: a @ b, str(threads), flops=flops)
    elif peer == "onnxruntime":
        run = _onnx_matmul(m, k, n, threads)
        result = compare(case, threads, lambda: x @ y, "onnxruntime", lambda: run(a, b), str(threads), flops=flops)
    else:
        torch = pytest.importorskip("torch")
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        try:
            result = compare(case, threads, lambda: x @ y, "torch", lambda: ta @ tb, str(threads), flops=flops)
        finally:
            torch.set_num_threads(before)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    assert np.all(np.abs(result.numpy() - ref) <= 1e-4 * np.sqrt(k) * scale + 1e-30)


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
def test_gemm_bf16_vs_f32(threads, compare, num_threads):
    """bfloat16 operands, float32 accumulation: ours beside our own float32 GEMM (target >= 1.5x)."""
    a, b = _inputs(1024, 1024, 1024)
    x32, y32 = nc.tensor(a), nc.tensor(b)
    x16, y16 = x32.bfloat16(), y32.bfloat16()
    num_threads(threads)
    result = compare("gemm bf16 1024^3 (peer: our f32)", threads, lambda: x16 @ y16, "nn_core-f32",
                     lambda: x32 @ y32, str(threads), flops=2.0 * 1024 ** 3)
    ref = result.float().numpy()
    exact = x16.float().numpy().astype(np.float64) @ y16.float().numpy().astype(np.float64)
    assert np.max(np.abs(ref - exact)) <= 1e-2 * np.max(np.abs(exact))


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
@pytest.mark.parametrize("shape", LINEAR_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_linear(shape, threads, compare, num_threads):
    """F.linear with a (N, K) weight and a bias beside torch.nn.functional.linear."""
    torch = pytest.importorskip("torch")
    import nn_core.functional as F

    m, k, n = shape
    rng = np.random.default_rng(11 + m + 3 * k + 7 * n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    x, wt, bt = nc.tensor(a), nc.tensor(w), nc.tensor(bias)
    ta, tw, tb = torch.from_numpy(a), torch.from_numpy(w), torch.from_numpy(bias)
    num_threads(threads)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            result = compare(f"linear {m}x{k}->{n}", threads, lambda: F.linear(x, wt, bt), "torch",
                             lambda: torch.nn.functional.linear(ta, tw, tb), str(threads), flops=2.0 * m * k * n)
    finally:
        torch.set_num_threads(before)
    ref = a.astype(np.float64) @ w.T.astype(np.float64) + bias
    scale = np.abs(a).astype(np.float64) @ np.abs(w.T).astype(np.float64) + np.abs(bias)
    assert np.all(np.abs(result.numpy() - ref) <= 1e-4 * np.sqrt(k) * scale + 1e-30)


def _best_seconds(fn, repeats=15):
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
def test_gemv_bandwidth(threads, compare, num_threads):
    """(1, 4096, 4096): GB/s of the 64 MiB weight read, ours and numpy's, beside the
    machine's copy bandwidth measured in the same test."""
    m, k, n = 1, 4096, 4096
    a, b = _inputs(m, k, n)
    x, y = nc.tensor(a), nc.tensor(b)
    num_threads(threads)
    weight_bytes = b.nbytes
    with BlasThreads()(threads):
        result = compare("gemv 1x4096x4096 (GB/s: see -s)", threads, lambda: x @ y, "numpy", lambda: a @ b,
                         str(threads), flops=2.0 * m * k * n)
        ours_s = _best_seconds(lambda: x @ y)
        numpy_s = _best_seconds(lambda: a @ b)
    dst = np.empty_like(b)
    halves = np.array_split(np.arange(k), threads)
    with ThreadPoolExecutor(threads) as pool:
        def copy():
            list(pool.map(lambda rows: np.copyto(dst[rows[0]:rows[-1] + 1], b[rows[0]:rows[-1] + 1]), halves))
        copy_s = _best_seconds(copy)
    np.testing.assert_array_equal(dst, b)  # the copy being timed really copied
    ref = a.astype(np.float64) @ b.astype(np.float64)
    scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    assert np.all(np.abs(result.numpy() - ref) <= 1e-4 * np.sqrt(k) * scale + 1e-30)
    copy_gbs = 2 * weight_bytes / copy_s / 1e9
    print(f"\ngemv 1x4096x4096, {threads} thread(s): weight read at {weight_bytes / ours_s / 1e9:.1f} GB/s (nn_core), "
          f"{weight_bytes / numpy_s / 1e9:.1f} GB/s (numpy); copy bandwidth {copy_gbs:.1f} GB/s "
          f"(read + write, numpy copy of the 64 MiB weight on {threads} thread(s)); "
          f"nn_core reaches {weight_bytes / ours_s / 1e9 / copy_gbs:.2f} of it")
