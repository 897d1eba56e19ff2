"""Forward results of every op in tests/op_db.py against its float64 NumPy reference,
on every dtype the op supports, with hypothesis-drawn samples (broadcasting, sizes 0, 1,
7, 127, 129, stepped / reversed / permuted / expanded views). Where the reference
rejects a sample (an empty reduction, ...) the op must raise too."""
import threading

import numpy as np
import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

import nn_core as nc
import samples as S
from op_db import OP_DB, OPS, assert_close, check_forward
from op_refs import axes
from samples import SEED, examples

REJECT = (ValueError, IndexError, RuntimeError)


CASES = [pytest.param(op, dt, id=f"{op.name}-{dt}") for op in OP_DB for dt in op.dtypes]


@pytest.mark.parametrize("op,dt", CASES)
def test_forward(op, dt):
    n = examples(24 if dt in ("float32", "float64") else 6)

    @seed(SEED)
    @settings(max_examples=n)
    @given(op.samples(dt))
    def run(s):
        check_forward(op, s)

    run()


@pytest.mark.parametrize("op", [op for op in OP_DB if op.variants], ids=lambda op: op.name)
def test_variants_agree(op):
    """Methods, operators and module functions of one op give identical results."""
    dt = "float32" if "float32" in op.dtypes else op.dtypes[0]

    @seed(SEED)
    @settings(max_examples=10)
    @given(op.samples(dt))
    def run(s):
        args, kwargs = s.nc_args()
        try:
            want = op.op(*args, **kwargs)
        except REJECT:
            for i, v in enumerate(op.variants):  # the variants reject it as well
                with pytest.raises(REJECT):
                    v(*args, **kwargs)
            return
        want = tuple(map(S.to_np, want)) if isinstance(want, (tuple, list)) else S.to_np(want)
        for i, v in enumerate(op.variants):
            assert_close(v(*args, **kwargs), want, tol={dt: (0.0, 0.0)}, what=f"{op.name} variant {i} {s}")

    run()


PROMOTION = [
    # (a dtype, b dtype or python scalar, result dtype) -- PyTorch's rules
    ("float32", "float64", "float64"),
    ("int64", "float32", "float32"),
    ("int32", "int64", "int64"),
    ("bool", "int32", "int32"),
    ("float16", "float32", "float32"),
    ("bfloat16", "float16", "float32"),
    ("uint8", "int64", "int64"),
    ("int64", 1.5, "float32"),  # an int tensor with a python float: the default dtype
    ("float32", 1.5, "float32"),  # python scalars do not widen a tensor's float type
    ("float16", 2.0, "float16"),
    ("int32", 3, "int32"),
    ("bool", 3, "int64"),
    ("bool", True, "bool"),
]


@pytest.mark.parametrize("a,b,want", PROMOTION, ids=str)
@pytest.mark.parametrize("opname", ["add", "mul", "maximum"])
def test_type_promotion(a, b, want, opname):
    if opname == "maximum" and not isinstance(b, str):
        return  # maximum takes tensors only
    x = S.make(np.array([1, 0, 1]), a)
    y = S.make(np.array([1, 1, 0]), b) if isinstance(b, str) else b
    assert S.dtype_name(getattr(nc, opname)(x, y).dtype) == want


def test_bitwise_not_on_bool_and_sub_of_bools():
    t = nc.tensor([True, False])
    assert (~t).tolist() == [False, True]
    with pytest.raises((TypeError, RuntimeError)):
        t - t  # PyTorch: subtraction of bools is an error
    with pytest.raises((TypeError, RuntimeError)):
        -t


def test_int_true_division_and_float_result():
    a, b = nc.tensor([7, -7, 6]), nc.tensor([2, 2, 4])
    r = a / b
    assert r.dtype == nc.float32 and r.tolist() == [3.5, -3.5, 1.5]
    assert (nc.tensor([1, 2]) + 0.5).dtype == nc.float32


@seed(SEED)
@settings(max_examples=30)
@given(st.data())
def test_softmax_rows_sum_to_one(data):
    s = data.draw(OPS["softmax"].samples("float64"))
    x, d = s.nc_args()[0]
    y = nc.functional.softmax(x, d)
    if x.dim() and x.numel():
        np.testing.assert_allclose(S.to_np(y.sum(d)), 1.0, rtol=1e-12)
        assert float(y.amin()) >= 0.0
        np.testing.assert_allclose(S.to_np(nc.functional.log_softmax(x, d).exp()), S.to_np(y), rtol=1e-12, atol=1e-300)


@seed(SEED)
@settings(max_examples=30)
@given(st.data())
def test_matmul_transpose_identity(data):
    """(A B)^T == B^T A^T (different loop orders / kernels for the same numbers)."""
    s = data.draw(OPS["matmul"].samples("float64"))
    a, b = s.nc_args()[0]
    if a.dim() < 2 or b.dim() < 2:
        return
    try:
        ab = a @ b
    except REJECT:
        return
    mag = np.matmul(np.abs(S.to_np(a)), np.abs(S.to_np(b)))
    assert_close(b.mT @ a.mT, np.swapaxes(S.to_np(ab), -1, -2), mag=np.swapaxes(mag, -1, -2), what="matmul^T")


@pytest.mark.isolated  # large sizes take the parallel paths, where a crash would end the run
def test_large_kernels_vs_reference(rng):
    """Sizes large enough for the parallel and vectorised paths, on 1 and 2 threads."""
    for dt in ("float32", "float64", "bfloat16", "float16"):
        check_large_kernels(dt, rng)


def check_large_kernels(dt, rng):
    a = S.quantize(rng.uniform(-2, 2, (257, 300)), dt)
    b = S.quantize(rng.uniform(-2, 2, (300, 131)), dt)
    x, y = S.make(a, dt), S.make(b, dt)
    old = nc.get_num_threads()
    for threads in (1, 2):
        nc.set_num_threads(threads)
        try:
            what = f"{dt} threads={threads}"
            assert_close(x @ y, a @ b, mag=np.abs(a) @ np.abs(b), what=f"matmul {what}")
            assert_close(x.exp(), np.exp(a), what=f"exp {what}")
            assert_close(x.T.contiguous(), a.T, what=f"transpose copy {what}")
            assert_close(x * x + x, a * a + a, mag=a * a + np.abs(a), tol=COMPOUND_TOL, what=f"x*x+x {what}")
            assert_close(x.sum(), a.sum(), mag=np.abs(a).sum(), what=f"sum {what}")
            assert_close(x.sum(1), a.sum(1), mag=np.abs(a).sum(1), what=f"sum(1) {what}")
            assert_close(x.sum(0), a.sum(0), mag=np.abs(a).sum(0), what=f"sum(0) {what}")
            assert_close(x.amax(0), a.max(0), what=f"amax {what}")
            assert_close(nc.functional.softmax(x, 1), OPS["softmax"].ref(a, 1), what=f"softmax {what}")
        finally:
            nc.set_num_threads(old)


# x * x + x rounds twice (after the product and after the sum) in the storage dtype.
COMPOUND_TOL = {"float16": (2e-3, 4e-3), "bfloat16": (1.6e-2, 3.2e-2)}


@pytest.mark.parametrize("op", OP_DB, ids=lambda op: op.name)
def test_forward_on_every_isa(op, isa):
    """Every ISA path against the same references (float32 and bfloat16, where the
    vectorised kernels differ most)."""
    assert nc._C.backend_info()["isa"] == isa
    for dt in ("float32", "bfloat16"):
        if dt not in op.dtypes:
            continue

        @seed(SEED)
        @settings(max_examples=examples(4))
        @given(op.samples(dt))
        def run(s):
            check_forward(op, s)

        run()


@pytest.mark.parametrize("amx", [True, False])
@pytest.mark.parametrize("name", ["matmul", "bmm", "linear", "addmm"])
def test_bfloat16_gemm_with_and_without_amx(name, amx):
    initial = "amx" in nc._C.backend_info()["bf16gemm_kernel"]
    nc._C._set_amx_enabled(amx)
    try:
        @seed(SEED)
        @settings(max_examples=15)
        @given(OPS[name].samples("bfloat16"))
        def run(s):
            check_forward(OPS[name], s)

        run()
    finally:
        nc._C._set_amx_enabled(initial)


# ---- identities (hypothesis properties) -----------------------------------------------------

@seed(SEED)
@settings(max_examples=60)
@given(st.data())
def test_split_cat_and_permute_round_trips(data):
    s = data.draw(OPS["split"].samples(data.draw(st.sampled_from(S.ALL))))
    (x, arg), kw = s.nc_args()
    pieces = x.split(arg, dim=kw["dim"])
    assert np.array_equal(S.to_np(nc.cat(list(pieces), dim=kw["dim"])), S.to_np(x))
    p = data.draw(st.permutations(range(x.dim())))
    y = x.permute(*p) if p else x
    inv = [int(i) for i in np.argsort(p)]
    back = y.permute(*inv) if inv else y
    assert back.data_ptr() == x.data_ptr() and back.stride() == x.stride()
    assert np.array_equal(S.to_np(back), S.to_np(x))


@seed(SEED)
@settings(max_examples=60)
@given(st.data())
def test_reduction_identities(data):
    s = data.draw(OPS["logsumexp"].samples("float64"))
    (x,), kw = s.nc_args()
    lse = S.to_np(nc.logsumexp(x, **kw))
    with np.errstate(divide="ignore"):
        direct = np.log(S.to_np(x.exp().sum(dim=kw["dim"], keepdim=kw["keepdim"])))
    np.testing.assert_allclose(lse, direct, rtol=1e-12, atol=1e-12)
    var, std = S.to_np(x.var(dim=kw["dim"])), S.to_np(x.std(dim=kw["dim"]))
    np.testing.assert_allclose(std ** 2, var, rtol=1e-12, atol=1e-300)
    n = int(np.prod([x.shape[a] for a in axes(x.dim(), kw["dim"])]))
    if n:
        np.testing.assert_allclose(S.to_np(x.mean(dim=kw["dim"])) * n, S.to_np(x.sum(dim=kw["dim"])),
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.isolated  # a data race in the native core could crash
def test_ops_from_concurrent_python_threads():
    """Kernels release the GIL: four threads running ops at once get the single-thread results."""
    rng = np.random.default_rng(SEED)
    a = [rng.standard_normal((96, 80)) for _ in range(4)]
    want = [S.to_np(nc.functional.softmax(nc.tensor(x) @ nc.tensor(x).T, 1).sum(0)) for x in a]
    got, errors = [None] * 4, []

    def work(i):
        try:
            for _ in range(30):
                t = nc.tensor(a[i])
                got[i] = S.to_np(nc.functional.softmax(t @ t.T, 1).sum(0))
        except BaseException as e:  # noqa: BLE001 -- reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for g, w in zip(got, want):
        assert np.array_equal(g, w)


# ---- special values: NaN, infinities, signed zeros, subnormals, overflow -------------------------

SPECIAL_UNARY = ["neg", "exp", "log", "log1p", "sqrt", "rsqrt", "abs", "relu", "sigmoid", "tanh"]
SPECIAL_BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge"]
SPECIAL_REDUCE = ["sum", "prod", "amax", "amin", "max", "min", "argmax", "argmin", "mean"]
SPECIAL_NAN_ONLY = ["gelu", "gelu_tanh", "silu", "softmax", "log_softmax", "clamp"]  # inf cases are 0*inf


def special_values(rng, shape, dt, with_inf=True):
    """Normal values with NaN, +-inf, +-0, subnormals and overflow-prone values at random
    positions (3 rows of 129: SIMD blocks and a tail, special values in every part)."""
    v = rng.standard_normal(shape) * 3
    tiny = {"float32": 1e-40, "float64": 1e-310, "float16": 3e-6, "bfloat16": 1e-40}[dt]
    specials = [np.nan, 0.0, -0.0, tiny, -tiny, 100.0, -100.0, 1e30, -1e30] + ([np.inf, -np.inf] if with_inf else [])
    flat = v.reshape(-1)
    pos = rng.choice(flat.size, size=min(flat.size, 3 * len(specials)), replace=False)
    flat[pos] = np.resize(specials, pos.size)
    return S.quantize(v, dt)


@pytest.mark.parametrize("dt", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("name", SPECIAL_UNARY + SPECIAL_BINARY + SPECIAL_REDUCE + SPECIAL_NAN_ONLY)
def test_special_values(name, dt, rng):
    op = OPS[name]
    with_inf = name not in SPECIAL_NAN_ONLY
    a = S.TArg(special_values(rng, (3, 129), dt, with_inf), dt)
    if name in SPECIAL_BINARY:
        b = S.TArg(special_values(rng, (3, 129), dt, with_inf), dt)
        samples = [S.Sample(a, b, dt=dt), S.Sample(a, S.TArg(b.base[:1], dt), dt=dt)]  # and broadcast
    elif name in SPECIAL_REDUCE:
        kws = [dict(dim=-1), dict(dim=0), dict(dim=None)]
        samples = [S.Sample(a, dt=dt, **kw, **({} if name in ("max", "min", "argmax", "argmin") else
                                               dict(keepdim=False))) for kw in kws]
    elif name in ("softmax", "log_softmax"):
        samples = [S.Sample(a, -1, dt=dt), S.Sample(a, 0, dt=dt)]
    elif name == "clamp":
        samples = [S.Sample(a, dt=dt, min=-1.5, max=2.0)]
    else:
        samples = [S.Sample(a, dt=dt), S.Sample(S.TArg(a.base, dt, slices=(slice(None), slice(None, None, -2))),
                                                dt=dt)]
    for s in samples:
        check_forward(op, s)


@pytest.mark.parametrize("dt", ["float32", "float64", "bfloat16", "float16"])
@pytest.mark.parametrize("how", ["matmul", "addmm", "linear-none", "linear-relu", "linear-gelu"])
def test_nan_propagates_through_gemm_and_epilogues(how, dt, rng):
    """A NaN in row i of x or row j of w makes exactly row i / column j of the result NaN
    (also through the fused bias + activation write-back)."""
    x, w = rng.standard_normal((5, 40)), rng.standard_normal((33, 40))
    x[2, 7], w[4, 0] = np.nan, np.nan
    b = rng.standard_normal(33)
    X, W, B = (S.make(S.quantize(v, dt), dt) for v in (x, w, b))
    if how == "matmul":
        out = X @ W.T
    elif how == "addmm":
        out = nc.addmm(B, X, W.T)
    else:
        out = nc.functional.linear(X, W, B, how.split("-")[1])
    nan = np.isnan(S.to_np(out))
    want = np.zeros((5, 33), bool)
    want[2, :], want[:, 4] = True, True
    bad = np.argwhere(nan != want)
    assert len(bad) == 0, f"{how}: NaN pattern wrong at {bad[:5].tolist()} (NaN there: {nan[tuple(bad[0])]})"


def test_vectorised_gelu_accuracy_on_every_isa(isa):
    """The vectorised exact GELU (cpu/vec_math.h gelu_erf, also the GEMM's fused gelu) against
    float64 x * Phi(x) on a dense grid: a few float32 ulp where the result is not tiny,
    both tails included, and the special values."""
    from math import erfc, sqrt

    x = np.concatenate([np.linspace(-14, 14, 40001), [0.0, -0.0, 1e-30, -1e-30]]).astype(np.float32)
    ref = np.array([float(v) * 0.5 * erfc(-float(v) / sqrt(2.0)) for v in x])
    got = nc.functional.gelu(nc.from_numpy(x)).numpy().astype(np.float64)
    big = np.abs(ref) > 1e-30
    rel = np.abs(got - ref)[big] / np.abs(ref[big])
    assert rel[np.abs(x[big]) < 5].max() < 3e-6
    assert rel.max() < 2e-5
    assert np.all(np.abs(got - ref)[~big] < 1e-30)
    special = nc.functional.gelu(nc.tensor([np.inf, 1e30, -1e30, np.nan, -20.0])).numpy()
    assert special[0] == np.inf and special[1] == np.float32(1e30) and special[2] == 0.0
    assert np.isnan(special[3]) and special[4] == 0.0
    # the fused GEMM epilogue uses the same function
    a, w = nc.randn(7, 33), nc.randn(19, 33)
    fused = nc.functional.linear(a, w, None, "gelu").numpy().astype(np.float64)
    plain = a.numpy().astype(np.float64) @ w.numpy().astype(np.float64).T
    expect = plain * 0.5 * np.vectorize(erfc)(-plain / sqrt(2.0))
    np.testing.assert_allclose(fused, expect, rtol=1e-4, atol=1e-5)


def test_vectorised_gelu_tanh_accuracy_on_every_isa(isa):
    """The vectorised tanh-approximation GELU (cpu/vec_math.h gelu_tanh) against float64 on a
    dense grid, the special values, and strided input (the plain per-element path)."""
    x = np.concatenate([np.linspace(-14, 14, 40001), [0.0, -0.0, 1e-30, -1e-30]]).astype(np.float32)
    xd = x.astype(np.float64)
    # float64 reference as x * sigmoid(2u) (= 0.5 x (1 + tanh(u))): 1 + tanh(u) cancels in float64 too
    ref = xd / (1.0 + np.exp(-2.0 * 0.7978845608028654 * (xd + 0.044715 * xd ** 3)))
    got = nc.functional.gelu(nc.from_numpy(x), approximate="tanh").numpy().astype(np.float64)
    big = np.abs(ref) > 1e-30
    rel = np.abs(got - ref)[big] / np.abs(ref[big])
    # the left tail too (computed as x * sigmoid(2u), no cancellation); far out, the float32
    # rounding of u = c (x + 0.044715 x^3) sets the error of e^(-2u)
    assert rel[np.abs(x[big]) < 5].max() < 3e-6
    assert rel.max() < 3e-5
    assert np.all(np.abs(got - ref)[~big] < 1e-30)
    special = nc.functional.gelu(nc.tensor([np.inf, 1e30, -1e30, np.nan, -20.0, 3e38]), approximate="tanh").numpy()
    assert special[0] == np.inf and special[1] == np.float32(1e30) and special[2] == 0.0
    assert np.isnan(special[3]) and special[4] == 0.0 and special[5] == np.float32(3e38)
    strided = nc.from_numpy(x[:2000].reshape(40, 50)).T
    np.testing.assert_allclose(nc.functional.gelu(strided, approximate="tanh").numpy(),
                               got[:2000].reshape(40, 50).T, rtol=3e-6, atol=1e-7)


def test_vectorised_silu_accuracy_on_every_isa(isa):
    """The vectorised SiLU (cpu/vec_math.h: x * sigmoid(x), selects and no branches) against
    float64 on a dense grid with both tails, the special values and strided input (the
    plain per-element path through the same loop)."""
    x = np.concatenate([np.linspace(-30, 30, 60001), [0.0, -0.0, 1e-30, -1e-30]]).astype(np.float32)
    xd = x.astype(np.float64)
    ref = xd / (1.0 + np.exp(-xd))
    got = nc.functional.silu(nc.from_numpy(x)).numpy().astype(np.float64)
    big = np.abs(ref) > 1e-30
    rel = np.abs(got - ref)[big] / np.abs(ref[big])
    assert rel.max() < 3e-6
    assert np.all(np.abs(got - ref)[~big] < 1e-30)
    special = nc.functional.silu(nc.tensor([np.inf, -np.inf, np.nan, 200.0, -200.0])).numpy()
    assert special[0] == np.inf and np.isnan(special[1]) and np.isnan(special[2])
    assert special[3] == 200.0 and special[4] == 0.0
    strided = nc.from_numpy(x[:2000].reshape(40, 50)).T
    np.testing.assert_allclose(nc.functional.silu(strided).numpy(), got[:2000].reshape(40, 50).T, rtol=1e-6, atol=1e-30)
