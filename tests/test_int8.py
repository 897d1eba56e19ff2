"""int8 quantization: the int8 GEMM (u8 x s8 -> s32) on every ISA path this machine
supports against the plain int32 reference (bit-exact: every size 1..64 in each of M, N,
K, primes up to 300, strided and transposed A, every epilogue; with full 8-bit A and with
7-bit A (0..127, the fast AVX2 kernel) including single values above 127 that send their
block to the exact 8-bit kernel), quantize / dequantize /
per-row quantization against NumPy (round half to even, clamping, per-channel axes),
quantized linear / conv2d against float math on the dequantized operands and within
the error bound the scales imply, argument errors, and QuantizedLinear / QuantizedConv2d
checkpoints (int8 on disk, ~4x smaller than float32).
"""
import math
import os

import numpy as np
import pytest

import nn_core as nc
from nn_core import _C
from nn_core import quantized as Q

ISAS = _C._supported_isas()
_FEATS = nc.backend_info()["cpu_features"]
# Every kernel this machine can run: on AMX-INT8 chips "avx512" is the AMX tile kernel
# (for M >= 9) and "avx512-noamx" the VNNI one (also what M < 9 uses).
PATHS = ISAS + (["avx512-noamx"] if "avx512" in ISAS and _FEATS.get("amx_int8") else [])
PRIMES = [p for p in range(2, 301) if all(p % d for d in range(2, int(p ** 0.5) + 1))]
KERNELS = {"generic": "qgemm_generic_4x32", "avx2": "qgemm_avx2_u7_6x16"}


@pytest.fixture(params=PATHS)
def isa(request):
    _C._set_isa(request.param.replace("-noamx", ""))
    _C._set_amx_enabled("noamx" not in request.param)
    yield request.param
    _C._set_isa(None)
    _C._set_amx_enabled(True)


def rand_u8(rng, *shape):
    return rng.integers(0, 256, shape, dtype=np.uint8)


def rand_u7(rng, *shape):
    """7-bit activations (0..127): what the AVX2 7-bit kernel runs on."""
    return rng.integers(0, 128, shape, dtype=np.uint8)


def rand_s8(rng, *shape):
    return rng.integers(-128, 128, shape, dtype=np.int8)


def pack(w, scales=(1.0,)):
    return _C.pack_linear_weight(nc.from_numpy(w), nc.tensor(np.asarray(scales, np.float32)))


def assert_same(ours, ref, what=""):
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    bad = ~((ours == ref) | (np.isnan(ours.astype(np.float64)) & np.isnan(ref.astype(np.float64))))
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        raise AssertionError(f"{what}: first mismatch at {idx}: ours {ours[idx]!r} ref {ref[idx]!r} "
                             f"({bad.sum()} of {bad.size} differ)")


def int_ref(a, w, za=0):
    """(a - za) @ w.T in int64 (a (M, K) uint8, w (N, K) int8)."""
    return (a.astype(np.int64) - np.asarray(za, np.int64).reshape(-1, 1)) @ w.astype(np.int64).T


def check_int32(rng, M, N, K, za=0, a=None, what="", bits=8):
    a_np = (rand_u8 if bits == 8 else rand_u7)(rng, M, K) if a is None else None
    a_t = nc.from_numpy(a_np) if a is None else a
    a_np = a_np if a is None else a.numpy().copy() if a.is_contiguous() else np.array(a.numpy())
    w = rand_s8(rng, N, K)
    p = pack(w)
    out = _C.qgemm(a_t, p, a_zero_point=za, output="int32").numpy()
    ref = _C.qgemm(a_t, p, a_zero_point=za, output="int32", reference=True).numpy()
    assert_same(ref, int_ref(a_np, w, za), f"{what} reference vs numpy ({M},{N},{K})")
    assert_same(out, ref, f"{what} kernel vs reference ({M},{N},{K})")


# ---- the GEMM ----------------------------------------------------------------------

def test_kernel_follows_isa(isa):
    name = nc.backend_info()["qgemm_kernel"]
    if isa.startswith("avx512"):
        want = "qgemm_avx512vnni_14x32" if _FEATS["avx512_vnni"] else "qgemm_avx2_u7_6x16"
        if isa == "avx512" and _FEATS.get("amx_int8"):
            want = "qgemm_amx_32x32"
    else:
        want = KERNELS[isa]
    assert name == want


@pytest.mark.parametrize("bits", [8, 7])
@pytest.mark.parametrize("dim", ["M", "N", "K", "K-wide"])
def test_every_size_1_to_64(isa, rng, dim, bits):
    for s in range(1, 65):
        M, N, K = {"M": (s, 37, 45), "N": (19, s, 45), "K": (19, 37, s), "K-wide": (40, 37, 2 * s + 61)}[dim]
        check_int32(rng, M, N, K, za=int(rng.integers(0, 256)), what=f"{isa} {dim}={s} {bits}-bit", bits=bits)


@pytest.mark.parametrize("bits", [8, 7])
def test_prime_shapes_up_to_300(isa, rng, bits):
    for _ in range(12):
        M, N, K = (int(v) for v in rng.choice(PRIMES, 3))
        check_int32(rng, M, N, K, za=int(rng.integers(0, 256)), what=f"{isa} {bits}-bit", bits=bits)
    check_int32(rng, 293, 283, 281, za=255, what=f"{isa} {bits}-bit", bits=bits)


def test_7bit_extremes_do_not_saturate(isa, rng):
    # 127 * -128 in every pair: |2 * 127 * -128| = 32512 still fits the int16 pair sums of
    # vpmaddubsw (Note [AVX2 int8 saturation]); over a long K the int32 sums stay exact.
    K = 4099
    for av in (127, 126):
        a = np.full((13, K), av, np.uint8)
        for wv in (-128, 127):
            w = np.full((35, K), wv, np.int8)
            for za in (0, 127):
                out = _C.qgemm(nc.from_numpy(a), pack(w), a_zero_point=za, output="int32").numpy()
                assert_same(out, int_ref(a, w, za), f"{isa} a={av} w={wv} za={za}")
    a = rand_u7(rng, 13, K)
    a[:, ::2] = 127
    w = np.where(rng.random((35, K)) < 0.5, -128, 127).astype(np.int8)
    assert_same(_C.qgemm(nc.from_numpy(a), pack(w), output="int32").numpy(), int_ref(a, w), isa)


@pytest.mark.parametrize("value", [128, 200, 255])
def test_values_above_127_fall_back_exactly(isa, rng, value):
    # 7-bit A with one larger value: its block must run on the exact 8-bit kernel
    # (Note [QGEMM 7-bit blocks]); every other block may stay on the 7-bit one. The
    # value sits in the first, a middle and the last row and k, alone and next to
    # saturating neighbours (a 7-bit kernel would give a wrong pair sum there).
    M, N, K = 23, 41, 37
    for (i, k) in [(0, 0), (11, 18), (M - 1, K - 1), (M - 1, 0), (5, K - 1)]:
        a = rand_u7(rng, M, K)
        w = rand_s8(rng, N, K)
        a[i, :] = 127
        w[:, :] = 127
        a[i, k] = value
        p = pack(w)
        for za in (0, value):
            out = _C.qgemm(nc.from_numpy(a), p, a_zero_point=za, output="int32").numpy()
            assert_same(out, int_ref(a, w, za), f"{isa} A[{i},{k}]={value} za={za}")


def test_blocks_choose_their_kernel_independently(isa, rng):
    # K = 4096 makes A blocks of ~60 rows (qgemm_driver.cpp: ~512 KiB packed per block),
    # so M = 400 is several blocks per thread: only the one holding 255 takes the 8-bit
    # kernel. 1 and 2 threads (each thread checks its own blocks).
    M, N, K = 400, 40, 4096
    a, w = rand_u7(rng, M, K), rand_s8(rng, N, K)
    a[250, 4000] = 255
    p = pack(w)
    want = int_ref(a, w, 3)
    old = nc.get_num_threads()
    try:
        for threads in (1, 2):
            nc.set_num_threads(threads)
            out = _C.qgemm(nc.from_numpy(a), p, a_zero_point=3, output="int32").numpy()
            assert_same(out, want, f"{isa} threads={threads}")
    finally:
        nc.set_num_threads(old)


def test_7bit_random_shapes_all_epilogues(isa, rng):
    for _ in range(6):
        M, N, K = (int(v) for v in rng.integers(1, 160, 3))
        a, w = rand_u7(rng, M, K), rand_s8(rng, N, K)
        p = pack(w, rng.uniform(1e-3, 2e-2, N).astype(np.float32))
        bias = nc.from_numpy(rng.standard_normal(N).astype(np.float32))
        for output in ("int32", "float32", "uint8", "int8"):
            for act in ("none", "relu", "gelu"):
                kw = dict(a_scales=nc.from_numpy(rng.uniform(1e-3, 2e-2, M).astype(np.float32)),
                          a_zero_points=nc.from_numpy(rng.integers(0, 128, M).astype(np.int32)),
                          bias=bias, activation=act, output=output, out_scale=0.05, out_zero_point=3)
                out = _C.qgemm(nc.from_numpy(a), p, **kw).numpy()
                ref = _C.qgemm(nc.from_numpy(a), p, reference=True, **kw).numpy()
                assert_same(out, ref, f"{isa} ({M},{N},{K}) {output} {act}")


def test_extreme_values_do_not_saturate(isa, rng):
    # 255 * -128 everywhere: the AVX2 path must not saturate in int16 (Note [AVX2 int8 saturation]).
    K = 1031
    a = np.full((9, K), 255, np.uint8)
    for wv in (-128, 127):
        w = np.full((33, K), wv, np.int8)
        for za in (0, 255):
            out = _C.qgemm(nc.from_numpy(a), pack(w), a_zero_point=za, output="int32").numpy()
            assert_same(out, int_ref(a, w, za), f"{isa} w={wv} za={za}")


@pytest.mark.parametrize("bits", [8, 7])
def test_strided_and_transposed_a(isa, rng, bits):
    rand = rand_u8 if bits == 8 else rand_u7
    big = rand(rng, 150, 200)
    check_int32(rng, 75, 41, 97, a=nc.from_numpy(big)[::2, 3:100], what=f"{isa} strided rows")
    base = rand(rng, 53, 70)
    check_int32(rng, 70, 29, 53, a=nc.from_numpy(base).T, what=f"{isa} transposed")
    # 7-bit view of a matrix whose values above 127 lie outside the view
    big[:, 100:] = 255
    check_int32(rng, 75, 41, 97, a=nc.from_numpy(big)[::2, 3:100], what=f"{isa} strided view")


@pytest.mark.parametrize("bits", [8, 7])
def test_multithreaded_matches_single(isa, rng, bits):
    a, w = (rand_u8 if bits == 8 else rand_u7)(rng, 301, 257), rand_s8(rng, 129, 257)
    p = pack(w)
    old = nc.get_num_threads()
    try:
        nc.set_num_threads(1)
        one = _C.qgemm(nc.from_numpy(a), p, output="int32").numpy()
        nc.set_num_threads(2)
        two = _C.qgemm(nc.from_numpy(a), p, output="int32").numpy()
    finally:
        nc.set_num_threads(old)
    assert_same(two, one, isa)
    assert_same(one, int_ref(a, w), isa)


@pytest.mark.parametrize("output", ["float32", "uint8", "int8"])
def test_epilogue_variants_bit_exact(isa, rng, output):
    M, N, K = 45, 70, 83
    a, w = rand_u8(rng, M, K), rand_s8(rng, N, K)
    for per_row in (False, True):
        for per_channel in (False, True):
            scales = rng.uniform(1e-3, 2e-2, N if per_channel else 1).astype(np.float32)
            p = pack(w, scales)
            for bias in (None, nc.from_numpy(rng.standard_normal(N).astype(np.float32))):
                for act in ("none", "relu", "gelu"):
                    kw = dict(bias=bias, activation=act, output=output, out_scale=0.05, out_zero_point=
                              (100 if output == "uint8" else -7))
                    if per_row:
                        kw.update(a_scales=nc.from_numpy(rng.uniform(1e-3, 2e-2, M).astype(np.float32)),
                                  a_zero_points=nc.from_numpy(rng.integers(0, 256, M).astype(np.int32)))
                    else:
                        kw.update(a_scale=0.0123, a_zero_point=131)
                    out = _C.qgemm(nc.from_numpy(a), p, **kw).numpy()
                    ref = _C.qgemm(nc.from_numpy(a), p, reference=True, **kw).numpy()
                    what = f"{isa} {output} per_row={per_row} per_channel={per_channel} bias={bias is not None} {act}"
                    assert_same(out, ref, what)
                    if output == "float32" and act == "none":  # the reference against numpy float64
                        za = (kw["a_zero_points"].numpy() if per_row else np.array([131])).astype(np.int64)
                        sa = kw["a_scales"].numpy() if per_row else np.array([0.0123], np.float32)
                        acc = int_ref(a, w, za)
                        s = (sa.reshape(-1, 1).astype(np.float32) * scales.reshape(1, -1)).astype(np.float64)
                        want = acc * s + (0 if bias is None else bias.numpy())
                        np.testing.assert_allclose(ref, want, rtol=1e-6, atol=1e-6, err_msg=what)


def test_epilogue_strided_output_via_conv_path(isa, rng):
    # quantized conv writes C column-major (c_cs != 1): the strided store of every path.
    x = rand_u8(rng, 2, 5, 7, 6)
    w = rand_s8(rng, 11, 5 * 3 * 3)
    p = pack(w, rng.uniform(0.01, 0.02, 11).astype(np.float32))
    got = _C.quantized_conv2d(nc.from_numpy(x), 0.05, 3, p, 3, 3, None, 1, 1, 1, "relu", nc.float32, 1.0, 0).numpy()
    _C._set_isa("generic")
    want = _C.quantized_conv2d(nc.from_numpy(x), 0.05, 3, p, 3, 3, None, 1, 1, 1, "relu", nc.float32, 1.0, 0).numpy()
    assert_same(got, want, isa)


def test_unpack_round_trip(rng):
    w = rand_s8(rng, 37, 13)
    p = pack(w)
    assert_same(_C.unpack_linear_weight(p).numpy(), w)
    assert (p.out_features, p.in_features) == (37, 13) and "PackedQWeight" in repr(p)


def test_empty_shapes():
    p = pack(np.zeros((4, 0), np.int8))
    out = _C.qgemm(nc.zeros(3, 0, dtype=nc.uint8), p, bias=nc.tensor([1.0, 2.0, 3.0, 4.0]))
    assert_same(out.numpy(), np.tile(np.float32([1, 2, 3, 4]), (3, 1)))
    assert tuple(_C.qgemm(nc.zeros(0, 5, dtype=nc.uint8), pack(np.ones((4, 5), np.int8))).shape) == (0, 4)


# ---- quantize / dequantize ---------------------------------------------------------

def np_quantize(x, scale, zp, dtype):
    lo, hi = (0, 255) if dtype == "uint8" else (-128, 127)
    x = np.asarray(x, np.float32)
    inv = np.float32(1) / np.float32(scale)
    with np.errstate(invalid="ignore", over="ignore"):
        q = np.rint(x * inv) + np.float32(zp)
    q = np.where(np.isnan(q), lo, np.clip(q, lo, hi))
    return q.astype(dtype)


@pytest.mark.parametrize("dtype", ["uint8", "int8"])
def test_quantize_per_tensor_matches_numpy(isa, rng, dtype):
    zp = 128 if dtype == "uint8" else 0
    halves = (np.arange(-300, 300) + 0.5).astype(np.float32) * 0.25  # exact ties: round half to even
    x = np.concatenate([halves, rng.standard_normal(1000).astype(np.float32) * 30,
                        np.float32([np.inf, -np.inf, np.nan, 1e30, -1e30, 0.0, -0.0])])
    q = Q.quantize_per_tensor(nc.from_numpy(x), 0.25, zp, getattr(nc, dtype))
    assert_same(q.int_repr().numpy(), np_quantize(x, 0.25, zp, dtype), dtype)
    assert q.int_repr().numpy()[np.isnan(x)][0] == (0 if dtype == "uint8" else -128)
    assert np.array_equal(np.rint(np.float32([0.5, 1.5, 2.5, -0.5, -2.5])), [0, 2, 2, 0, -2])  # numpy is half-even
    d = q.dequantize().numpy()
    ok = np.isfinite(x) & (np.abs(x) < 30)
    assert np.all(np.abs(d[ok] - x[ok]) <= 0.125 + 1e-6)
    assert_same(d, ((q.int_repr().numpy().astype(np.int32) - zp).astype(np.float32) * np.float32(0.25)))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_quantize_per_channel_matches_numpy(isa, rng, axis):
    base = rng.standard_normal((6, 5, 8)).astype(np.float32) * 3
    x = nc.from_numpy(base).permute(2, 0, 1)[::2]  # non-contiguous (4, 6, 5)
    xn = np.transpose(base, (2, 0, 1))[::2]
    C = xn.shape[axis]
    scales = rng.uniform(0.01, 0.1, C).astype(np.float32)
    zps = rng.integers(-20, 20, C)
    q = Q.quantize_per_channel(x, nc.from_numpy(scales), nc.from_numpy(zps), axis, nc.int8)
    shape = [1] * 3
    shape[axis] = C
    want = np.clip(np.rint(xn * (np.float32(1) / scales).reshape(shape)) + zps.reshape(shape), -128, 127)
    assert_same(q.int_repr().numpy(), want.astype(np.int8), f"axis {axis}")
    d = q.dequantize().numpy()
    want_d = (want - zps.reshape(shape)).astype(np.float32) * scales.reshape(shape)
    assert_same(d, want_d.astype(np.float32))
    assert q.qscheme() == "per_channel_affine" and q.q_per_channel_axis() == axis % 3


def np_quantize_rows(x, qmax):
    lo, hi = np.minimum(x.min(1), 0), np.maximum(x.max(1), 0)
    ws = ((hi - lo) / np.float32(qmax)).astype(np.float32)
    ws[ws == 0] = 1
    inv = (np.float32(1) / ws).astype(np.float32)
    wz = np.clip(np.rint(-lo * inv), 0, qmax)
    wq = np.clip(np.rint(x * inv[:, None]) + wz[:, None], 0, qmax).astype(np.uint8)
    return wq, ws, wz.astype(np.int32)


def test_quantize_rows_matches_numpy(isa, rng):
    qmax = nc.backend_info()["qgemm_dynamic_qmax"]
    x = rng.standard_normal((7, 37)).astype(np.float32) * rng.uniform(0.1, 10, (7, 1)).astype(np.float32)
    x[3] = 0.0
    x[5, 20] = -0.0
    x[4] = np.abs(x[4])  # all positive: the range still includes 0
    q, s, z = (t.numpy() for t in Q.quantize_rows(nc.from_numpy(x)))
    wq, ws, wz = np_quantize_rows(x, qmax)
    assert_same(s, ws)
    assert_same(z, wz)
    assert_same(q, wq)
    assert q.max() == qmax  # a row's largest value (or 0) maps onto qmax
    deq = (q.astype(np.float32) - z[:, None]) * s[:, None]
    assert np.all(np.abs(deq - x) <= s[:, None] * 0.5 + 1e-6)


def test_dynamic_range_follows_isa(isa):
    # Dynamic quantization uses 0..127 where the int8 GEMM is the AVX2 7-bit kernel
    # (its fast path needs A <= 127), 0..255 on AVX-512 VNNI / AMX and generic.
    qmax = nc.backend_info()["qgemm_dynamic_qmax"]
    want = 127 if nc.backend_info()["qgemm_kernel"] == "qgemm_avx2_u7_6x16" else 255
    assert qmax == want == _C.qgemm_dynamic_qmax()
    assert Q.dynamic_qrange() == (0, want)
    if isa == "avx2" or (isa.startswith("avx512") and not _FEATS["avx512_vnni"]):
        assert qmax == 127
    else:
        assert qmax == 255
    q, _, _ = Q.quantize_rows(nc.from_numpy(np.linspace(-3, 5, 300, dtype=np.float32).reshape(3, 100)))
    assert q.numpy().max() == qmax


def test_quantize_loops_match_scalar_bit_for_bit(isa, rng):
    # The vector loops (quantize_kernels_avx2.cpp / _avx512.cpp) against the scalar ones
    # of the generic ISA: every length 1..70 (vector tails), ties, clamping, NaN, +-inf.
    if isa == "generic":
        pytest.skip("the scalar loops are the reference")
    qmax = nc.backend_info()["qgemm_dynamic_qmax"]
    halves = (np.arange(-400, 400) + 0.5).astype(np.float32) * 0.25
    specials = np.float32([np.inf, -np.inf, np.nan, 1e30, -1e30, 0.0, -0.0, 31.875, -32.125])
    cases = []
    for n in range(1, 71):
        x = rng.standard_normal(n).astype(np.float32) * np.float32(rng.uniform(0.1, 40))
        x[rng.integers(0, n)] = halves[rng.integers(0, halves.size)]
        cases.append(x)
    for n in (1, 7, 33, 64, 65, 1000):
        x = rng.choice(np.concatenate([halves, specials]), n).astype(np.float32)
        cases.append(x)
    rows = [rng.standard_normal((m, k)).astype(np.float32) * 5 for m, k in ((1, 1), (3, 7), (5, 31), (4, 33),
                                                                           (2, 64), (9, 67), (17, 384))]
    rows.append(np.concatenate([halves.reshape(4, 200), np.zeros((1, 200), np.float32)]))

    def run():
        out = []
        for x in cases:
            xt = nc.from_numpy(x)
            for dtype, zp in ((nc.uint8, 100), (nc.int8, -3)):
                out.append(_C.quantize_per_tensor(xt, 0.25, zp, dtype).numpy())
        for x in rows:
            out.extend(t.numpy() for t in _C.quantize_rows(nc.from_numpy(x)))
        return out

    ours = run()
    _C._set_isa("generic")
    try:
        ref = run()
    finally:
        _C._set_isa(isa.replace("-noamx", ""))
    # quantize_rows' range follows the ISA: compare the rows with the scalar loop's at
    # the same qmax through numpy (bit for bit: both are float32 math in the same order).
    n_cases = 2 * len(cases)
    for i in range(n_cases):
        assert_same(ours[i], ref[i], f"{isa} quantize case {i}")
    for j, x in enumerate(rows):
        q, s, z = ours[n_cases + 3 * j: n_cases + 3 * j + 3]
        wq, ws, wz = np_quantize_rows(x, qmax)
        assert_same(s, ws, f"{isa} rows {x.shape} scales")
        assert_same(z, wz, f"{isa} rows {x.shape} zero points")
        assert_same(q, wq, f"{isa} rows {x.shape} q")
        if qmax == 255:
            for got, want in zip((q, s, z), ref[n_cases + 3 * j: n_cases + 3 * j + 3]):
                assert_same(got, want, f"{isa} rows {x.shape} vs scalar")


# ---- quantized linear / conv -------------------------------------------------------

def test_linear_dynamic_error_bound(isa, rng):
    lin = nc.nn.Linear(96, 40)
    ql = nc.nn.QuantizedLinear.from_float(lin)
    x = rng.standard_normal((3, 5, 96)).astype(np.float32)
    got = ql(nc.from_numpy(x)).numpy()
    w, b = lin.weight.detach().numpy().astype(np.float64), lin.bias.detach().numpy().astype(np.float64)
    exact = x.astype(np.float64) @ w.T + b
    # Exactly float math on the dequantized operands (per-row x, per-channel w).
    q, s, z = (t.numpy() for t in Q.quantize_rows(nc.from_numpy(x)))
    xd = (q.astype(np.float64) - z.reshape(3, 5, 1)) * s.reshape(3, 5, 1)
    wd = ql.qweight().dequantize().numpy().astype(np.float64)
    np.testing.assert_allclose(got, xd @ wd.T + b, rtol=1e-5, atol=1e-5)
    # And within the bound the scales imply: |dx| <= sa/2, |dw| <= sb/2.
    sa = s.reshape(3, 5, 1).astype(np.float64)
    sb = ql.weight_scale.numpy().astype(np.float64)
    bound = sa / 2 * np.abs(w).sum(1) + np.abs(x).sum(-1, keepdims=True) * sb / 2 + 96 * sa * sb / 4
    assert np.all(np.abs(got - exact) <= bound * 1.001 + 1e-5)


@pytest.mark.parametrize("outliers", [False, True])
def test_dynamic_linear_accuracy_vs_float(isa, rng, outliers):
    # The dynamic range of the ISA (7-bit on AVX2) against float: per-row activations,
    # per-channel weights. 7 bits double the activation rounding error (~6 dB less SQNR
    # than 8 bits); the output must stay close to float either way.
    from nn_core.quantization.report import error_metrics
    lin = nc.nn.Linear(384, 256)
    ql = nc.nn.QuantizedLinear.from_float(lin)
    x = rng.standard_normal((64, 384)).astype(np.float32)
    if outliers:
        x[:, ::37] *= 8  # a few large features stretch every row's range
    xt = nc.from_numpy(x)
    sqnr, cosine = error_metrics(lin(xt).detach().numpy(), ql(xt).numpy())
    assert cosine >= (0.998 if outliers else 0.9995), (isa, sqnr, cosine)
    assert sqnr >= (25.0 if outliers else 32.0), (isa, sqnr, cosine)
    # and the int8 result is exactly the float math on the dequantized operands
    q, s, z = (t.numpy() for t in Q.quantize_rows(xt))
    assert q.max() <= nc.backend_info()["qgemm_dynamic_qmax"]
    xd = (q.astype(np.float64) - z[:, None]) * s[:, None]
    want = xd @ ql.qweight().dequantize().numpy().astype(np.float64).T + lin.bias.detach().numpy()
    np.testing.assert_allclose(ql(xt).numpy(), want, rtol=1e-5, atol=1e-5)


def test_linear_static_requantized(isa, rng):
    w = rand_s8(rng, 24, 50)
    ws = rng.uniform(0.005, 0.01, 24).astype(np.float32)
    p = pack(w, ws)
    xq = Q.QTensor.from_numpy(rand_u8(rng, 9, 50), 0.02, 120)
    bias = nc.from_numpy(rng.standard_normal(24).astype(np.float32))
    yf = Q.linear(xq, p, bias, "relu")
    yq = Q.linear(xq, p, bias, "relu", out_scale=0.05, out_zero_point=3)
    assert isinstance(yq, Q.QTensor) and yq.dtype == nc.uint8 and yq.q_scale() == 0.05
    want = np.clip(np.rint(yf.numpy() / np.float32(0.05)) + 3, 0, 255)
    assert np.abs(yq.int_repr().numpy().astype(np.int64) - want).max() <= 1  # 1/scale vs /scale at ties
    ref = (xq.int_repr().numpy().astype(np.float64) - 120) * 0.02 @ (w.astype(np.float64) * ws[:, None]).T
    np.testing.assert_allclose(yf.numpy(), np.maximum(ref + bias.numpy(), 0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (1, 1, 1), (2, 1, 1), ((2, 1), (0, 2), (1, 2))])
def test_conv2d_matches_float_on_dequantized(isa, rng, stride, padding, dilation):
    conv = nc.nn.Conv2d(4, 6, (3, 2), stride=stride, padding=padding, dilation=dilation)
    qc = nc.nn.QuantizedConv2d.from_float(conv, input_scale=3 / 255, input_zero_point=128, relu=True)
    x = nc.from_numpy(rng.uniform(-1.5, 1.5, (2, 4, 9, 8)).astype(np.float32))
    got = qc(x)
    xd = Q.quantize_per_tensor(x, 3 / 255, 128).dequantize()
    wd = Q.QTensor.per_channel(qc.weight, qc.weight_scale, nc.zeros(6, dtype=nc.int64), 0).dequantize()
    want = nc.functional.conv2d(xd, wd, qc.bias, conv.stride, conv.padding, conv.dilation).relu()
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
    flt = conv(x).relu().detach().numpy()
    # dx <= s_x/2 per input, dw <= s_w/2 per weight: a loose bound over the receptive field.
    fan_in = 4 * 3 * 2
    bound = fan_in * (3 / 255 / 2 * np.abs(conv.weight.detach().numpy()).max() +
                      1.5 * qc.weight_scale.numpy().max() / 2)
    assert np.abs(got.numpy() - flt).max() <= bound
    qout = nc.nn.QuantizedConv2d.from_float(conv, 3 / 255, 128, relu=True, output_scale=0.02)(x)
    assert isinstance(qout, Q.QTensor)
    assert np.abs(qout.dequantize().numpy() - got.numpy()).max() <= 0.01 + 1e-6


def test_static_quantized_linear(rng, tmp_path):
    lin = nc.nn.Linear(40, 12)
    ql = nc.nn.QuantizedLinear.from_float(lin, activation="relu", input_scale=0.02, input_zero_point=128)
    assert ql.is_static and "per-tensor static" in repr(ql)
    x = nc.from_numpy(rng.uniform(-2, 2, (5, 40)).astype(np.float32))
    xq = Q.quantize_per_tensor(x, 0.02, 128)
    want = np.maximum(xq.dequantize().numpy().astype(np.float64) @ ql.qweight().dequantize().numpy().T
                      + lin.bias.detach().numpy(), 0)
    np.testing.assert_allclose(ql(x).numpy(), want, rtol=1e-5, atol=1e-5)
    assert_same(ql(xq).numpy(), ql(x).numpy())
    nc.save(ql.state_dict(), str(tmp_path / "s.safetensors"))
    fresh = nc.nn.QuantizedLinear(40, 12, activation="relu", input_scale=1.0)
    fresh.load_state_dict(nc.load(str(tmp_path / "s.safetensors")))
    assert_same(fresh(x).numpy(), ql(x).numpy())


def test_outputs_never_require_grad():
    lin = nc.nn.Linear(8, 4)
    ql = nc.nn.QuantizedLinear.from_float(lin)
    x = nc.randn(2, 8, requires_grad=True)
    assert not ql(x).requires_grad
    assert not Q.quantize_per_tensor(x, 0.1, 0, nc.int8).dequantize().requires_grad


# ---- QTensor -----------------------------------------------------------------------

def test_qtensor_repr_accessors_numpy(rng):
    q = Q.quantize_per_tensor(nc.tensor([[-1.0, 0.5], [2.0, 0.0]]), 0.02, 10, nc.int8)
    r = repr(q)
    assert "shape=(2, 2)" in r and "dtype=int8" in r and "per_tensor_affine" in r and "zero_point=10" in r
    assert q.q_scale() == 0.02 and q.q_zero_point() == 10 and q.numpy().dtype == np.int8
    with pytest.raises(RuntimeError, match="per tensor"):
        q.q_per_channel_scales()
    back = Q.QTensor.from_numpy(q.numpy(), 0.02, 10)
    assert_same(back.dequantize().numpy(), q.dequantize().numpy())
    qc = Q.symmetric_weight(nc.from_numpy(rng.standard_normal((8, 3)).astype(np.float32)))
    assert "per_channel_affine" in repr(qc) and "axis=0" in repr(qc) and "..." in repr(qc)
    assert np.abs(qc.int_repr().numpy()).max() == 127
    with pytest.raises(RuntimeError, match="per channel"):
        qc.q_scale()


# ---- every int8 op through the kernel registry, under NN_CORE_ISA --------------------

# Runs every int8 op once (in a fresh process, so NN_CORE_ISA is read from the
# environment as a user would set it) and prints the ISA, the int8 GEMM kernel, the
# dynamic range and digests of the outputs: of the ops with given quantization
# parameters (identical on every ISA) and of dynamic quantization (identical on ISAs with
# the same range). Inside, the dynamic linear must equal the reference GEMM on its own
# quantized rows, and the rows must match NumPy at the ISA's range.
_ISA_SCRIPT = r"""
import hashlib, json, sys
import numpy as np
import nn_core as nc
from nn_core import _C
rng = np.random.default_rng(int(sys.argv[1]))
x = nc.from_numpy(rng.standard_normal((9, 40)).astype(np.float32) * 3)
w = rng.integers(-128, 128, (13, 40), dtype=np.int8)
p = _C.pack_linear_weight(nc.from_numpy(w), nc.from_numpy(rng.uniform(0.01, 0.02, 13).astype(np.float32)))
bias = nc.from_numpy(rng.standard_normal(13).astype(np.float32))
cs, cz = nc.from_numpy(rng.uniform(0.01, 0.1, 40).astype(np.float32)), nc.from_numpy(rng.integers(-9, 9, 40))
o = {}
o["q_tensor"] = _C.quantize_per_tensor(x, 0.05, 3, nc.uint8)
o["q_channel"] = _C.quantize_per_channel(x, cs, cz, 1, nc.int8)
o["dq_tensor"] = _C.dequantize_per_tensor(o["q_tensor"], 0.05, 3)
o["dq_channel"] = _C.dequantize_per_channel(o["q_channel"], cs, cz, 1)
o["rows_q"], o["rows_s"], o["rows_z"] = _C.quantize_rows(x)
o["linear_dynamic"] = _C.quantized_linear_dynamic(x, p, bias, "gelu")
o["linear"] = _C.quantized_linear(o["q_tensor"], 0.05, 3, p, bias, "relu", nc.uint8, 0.1, 7)
img = nc.from_numpy(rng.integers(0, 256, (2, 10, 5, 6), dtype=np.uint8))
pc = _C.pack_linear_weight(nc.from_numpy(rng.integers(-128, 128, (4, 10 * 2 * 2), dtype=np.int8)), nc.ones(1))
o["conv"] = _C.quantized_conv2d(img, 0.02, 5, pc, 2, 2, None, 1, 1, 1, "none", nc.int8, 0.5, -3)
o["unpack"] = _C.unpack_linear_weight(p)
ref = _C.qgemm(o["rows_q"], p, a_scales=o["rows_s"], a_zero_points=o["rows_z"], bias=bias, activation="gelu",
               reference=True)
assert np.array_equal(ref.numpy(), o["linear_dynamic"].numpy()), "dynamic linear != reference GEMM"
assert np.array_equal(o["unpack"].numpy(), w)
info = nc.backend_info()
qmax = info["qgemm_dynamic_qmax"]
xn = x.numpy()
lo, hi = np.minimum(xn.min(1), 0), np.maximum(xn.max(1), 0)
s = ((hi - lo) / np.float32(qmax)).astype(np.float32)
inv = (np.float32(1) / s).astype(np.float32)
z = np.clip(np.rint(-lo * inv), 0, qmax)
assert np.array_equal(o["rows_s"].numpy(), s) and np.array_equal(o["rows_z"].numpy(), z.astype(np.int32))
assert np.array_equal(o["rows_q"].numpy(), np.clip(np.rint(xn * inv[:, None]) + z[:, None], 0, qmax).astype(np.uint8))
dynamic = {"rows_q", "rows_s", "rows_z", "linear_dynamic"}
h, hd = hashlib.sha256(), hashlib.sha256()
for k in sorted(o):
    (hd if k in dynamic else h).update(k.encode() + np.ascontiguousarray(o[k].numpy()).tobytes())
print(json.dumps({"isa": info["isa"], "qgemm_kernel": info["qgemm_kernel"], "qmax": qmax, "digest": h.hexdigest(),
                  "dynamic_digest": hd.hexdigest()}))
"""


def test_int8_ops_follow_nn_core_isa_with_identical_results():
    import json
    from child_process import child_env, run_python
    results = {}
    for isa in ISAS:
        r = run_python(["-c", _ISA_SCRIPT, "7"], env=child_env(NN_CORE_ISA=isa), timeout=120)
        assert r.returncode == 0, f"NN_CORE_ISA={isa}: {r.stderr}"
        results[isa] = json.loads(r.stdout.strip().splitlines()[-1])
        assert results[isa]["isa"] == isa
        want = KERNELS.get(isa)
        if isa == "avx512":
            want = ("qgemm_amx_32x32" if _FEATS.get("amx_int8") else
                    "qgemm_avx512vnni_14x32" if _FEATS["avx512_vnni"] else "qgemm_avx2_u7_6x16")
        assert results[isa]["qgemm_kernel"] == want, (isa, results[isa])
        assert results[isa]["qmax"] == (127 if want == "qgemm_avx2_u7_6x16" else 255), (isa, results[isa])
    digests = {isa: r["digest"] for isa, r in results.items()}
    assert len(set(digests.values())) == 1, f"int8 outputs differ between ISA paths: {digests}"
    for qmax in {r["qmax"] for r in results.values()}:
        same_range = {isa: r["dynamic_digest"] for isa, r in results.items() if r["qmax"] == qmax}
        assert len(set(same_range.values())) == 1, f"dynamic int8 outputs differ between ISA paths: {same_range}"


def test_per_channel_parameter_errors_are_raised_after_the_kernel():
    # The scales / zero points are checked by the device's kernel (ops/quantized.cpp
    # raises after it): the first bad channel wins, its scale before its zero point.
    x = nc.randn(2, 3)
    zp = nc.zeros(3, dtype=nc.int64)
    with pytest.raises(ValueError, match=r"quantize_per_channel: scale must be a finite positive float32 value, got 0"):
        _C.quantize_per_channel(x, nc.tensor([0.1, 0.0, 0.1]), zp, 1, nc.int8)
    with pytest.raises(ValueError, match=r"quantize_per_channel: scale must be .* got inf"):
        _C.quantize_per_channel(x, nc.tensor([0.1, float("inf"), -1.0]), zp, 1, nc.int8)
    with pytest.raises(ValueError, match=r"quantize_per_channel: zero_point 200 is outside the range of int8"):
        _C.quantize_per_channel(x, nc.tensor([0.1, 0.1, 0.0]), nc.tensor([0, 200, 0]), 1, nc.int8)
    with pytest.raises(ValueError, match=r"quantize_per_channel: scale must be .* got -1"):
        _C.quantize_per_channel(x, nc.tensor([-1.0, 0.1, 0.1]), nc.tensor([0, 200, 0]), 1, nc.uint8)
    q = _C.quantize_per_channel(x, nc.tensor([0.1, 0.1, 0.1]), zp, 1, nc.int8)
    with pytest.raises(ValueError, match=r"dequantize_per_channel: scale must be .* got 1e-50"):
        _C.dequantize_per_channel(q, nc.tensor([0.1, 1e-50, 0.1], dtype=nc.float64), zp, 1)
    # dequantize does not range-check per-channel zero points (any int32 is exact).
    assert _C.dequantize_per_channel(q, nc.tensor([0.1, 0.1, 0.1]), nc.tensor([0, 300, 0]), 1).shape == (2, 3)
    with pytest.raises(ValueError, match=r"pack_linear_weight: scale must be .* got nan"):
        _C.pack_linear_weight(nc.zeros(2, 4, dtype=nc.int8), nc.tensor([0.1, float("nan")]))


# ---- errors ------------------------------------------------------------------------

def test_errors_name_the_op_and_rule(rng):
    x = nc.randn(3, 4)
    with pytest.raises(TypeError, match="quantize_per_tensor"):
        _C.quantize_per_tensor(x, 0.1, 0, nc.int32)
    with pytest.raises(ValueError, match="scale must be a finite positive"):
        _C.quantize_per_tensor(x, 0.0, 0, nc.uint8)
    with pytest.raises(ValueError, match="zero_point 300 is outside"):
        _C.quantize_per_tensor(x, 0.1, 300, nc.uint8)
    with pytest.raises(ValueError, match=r"scales must have shape \(4,\)"):
        _C.quantize_per_channel(x, nc.ones(3), nc.zeros(3, dtype=nc.int64), 1, nc.int8)
    with pytest.raises(IndexError):
        _C.quantize_per_channel(x, nc.ones(3), nc.zeros(3, dtype=nc.int64), 5, nc.int8)
    with pytest.raises(TypeError, match="quantize_per_tensor"):
        _C.quantize_per_tensor(nc.zeros(3, dtype=nc.int64), 0.1, 0, nc.uint8)
    with pytest.raises(ValueError, match="non-finite"):
        Q.quantize_rows(nc.tensor([[1.0, float("nan")]]))
    p = pack(rand_s8(rng, 5, 4))
    with pytest.raises(ValueError, match=r"quantized_linear_dynamic: input shape \[3, 7\]|quantized_linear_dynamic"):
        Q.linear_dynamic(nc.randn(3, 7), p)
    with pytest.raises(ValueError, match="activation must be"):
        Q.linear_dynamic(x, p, activation="tanh")
    with pytest.raises(ValueError, match=r"bias must have shape \(5,\)"):
        Q.linear_dynamic(x, p, bias=nc.ones(4))
    with pytest.raises(TypeError, match="weight must be int8"):
        _C.pack_linear_weight(nc.zeros(5, 4, dtype=nc.uint8), nc.ones(1))
    with pytest.raises(ValueError, match="scales must hold 1 value"):
        _C.pack_linear_weight(nc.zeros(5, 4, dtype=nc.int8), nc.ones(3))
    with pytest.raises(TypeError, match="uint8 QTensor"):
        Q.linear(x, p)
    with pytest.raises(ValueError, match="must be symmetric"):
        Q.pack_linear_weight(Q.quantize_per_tensor(nc.randn(5, 4), 0.1, 3, nc.int8))
    xq = Q.quantize_per_tensor(nc.randn(1, 2, 3, 3), 0.1, 0)
    with pytest.raises(ValueError, match="larger than the padded input"):
        Q.conv2d(xq, pack(rand_s8(rng, 4, 2 * 5 * 5)), 5)
    with pytest.raises(ValueError, match="needs a weight with in_channels"):
        Q.conv2d(xq, pack(rand_s8(rng, 4, 7)), 3)
    with pytest.raises(ValueError, match="output must be"):
        _C.qgemm(nc.zeros(2, 4, dtype=nc.uint8), p, output="float16")
    with pytest.raises(ValueError, match="K must match"):
        _C.qgemm(nc.zeros(2, 3, dtype=nc.uint8), p)


# ---- modules and checkpoints ---------------------------------------------------------

def test_quantized_linear_save_load_and_size(tmp_path, rng):
    lin = nc.nn.Linear(256, 192)
    ql = nc.nn.QuantizedLinear.from_float(lin, activation="gelu")
    sd = ql.state_dict()
    assert sd["weight"].dtype == nc.int8 and sd["weight_scale"].dtype == nc.float32
    fq, ff = tmp_path / "q.safetensors", tmp_path / "f.safetensors"
    nc.save(sd, str(fq))
    nc.save(lin.state_dict(), str(ff))
    ratio = os.path.getsize(ff) / os.path.getsize(fq)
    assert 3.5 < ratio <= 4.0, ratio
    fresh = nc.nn.QuantizedLinear(256, 192, activation="gelu")
    x = nc.from_numpy(rng.standard_normal((4, 256)).astype(np.float32))
    before = fresh(x).numpy()  # packs the zero weight first: load must invalidate it
    fresh.load_state_dict(nc.load(str(fq)))
    assert_same(fresh(x).numpy(), ql(x).numpy())
    assert not np.array_equal(before, ql(x).numpy())
    seq = nc.nn.Sequential(nc.nn.QuantizedLinear(256, 192, activation="gelu"))
    seq.load_state_dict({"0." + k: v for k, v in nc.load(str(fq)).items()})
    assert_same(seq(x).numpy(), ql(x).numpy())


def test_quantized_conv_save_load(tmp_path, rng):
    conv = nc.nn.Conv2d(3, 5, 3, padding=1)
    qc = nc.nn.QuantizedConv2d.from_float(conv, 0.02, 100, relu=True)
    nc.save(qc.state_dict(), str(tmp_path / "c.safetensors"))
    fresh = nc.nn.QuantizedConv2d(3, 5, 3, padding=1, relu=True)
    fresh.load_state_dict(nc.load(str(tmp_path / "c.safetensors")))
    x = nc.from_numpy(rng.standard_normal((1, 3, 6, 6)).astype(np.float32))
    assert_same(fresh(x).numpy(), qc(x).numpy())
    assert "input_zero_point=100" in repr(fresh)


@pytest.mark.isolated
def test_amx_kernel_after_another_librarys_amx_use(rng):
    # oneDNN (torch._int_mm) configures and releases AMX tiles on this same thread; our
    # kernel must load its own configuration on every call (qgemm_kernel_amx prepare hook).
    torch = pytest.importorskip("torch")
    a, w = rand_u8(rng, 64, 256), rand_s8(rng, 96, 256)
    p = pack(w)
    want = int_ref(a, w)
    for _ in range(3):
        assert_same(_C.qgemm(nc.from_numpy(a), p, output="int32").numpy(), want)
        torch._int_mm(torch.from_numpy(a.view(np.int8)), torch.from_numpy(np.ascontiguousarray(w.T)))
        assert_same(_C.qgemm(nc.from_numpy(a), p, output="int32").numpy(), want)


@pytest.mark.isolated
def test_bf16_amx_gemm_after_another_librarys_amx_use(rng):
    # The same hazard in the bf16 AMX GEMM (gemm_bf16_amx_avx512bf16.cpp): torch's bf16
    # matmul and _int_mm on this thread, then ours; it used to die with SIGILL.
    torch = pytest.importorskip("torch")
    a = nc.from_numpy(rng.standard_normal((96, 128)).astype(np.float32)).bfloat16()
    b = nc.from_numpy(rng.standard_normal((128, 64)).astype(np.float32)).bfloat16()
    want = (a @ b).float().numpy()
    ta = torch.randn(256, 256).bfloat16()
    for _ in range(3):
        ta @ ta
        torch._int_mm(torch.ones(64, 256, dtype=torch.int8), torch.ones(256, 64, dtype=torch.int8))
        assert_same((a @ b).float().numpy(), want)
