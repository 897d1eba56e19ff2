"""The misc tensor ops, functional ops and layers (csrc/ops/misc_ops.cpp, einsum.cpp,
misc_nn_ops.cpp; nn_core/_misc.py, _misc_nn.py, nn/misc_layers.py) beyond the op harness
(tests/op_db_misc.py): PyTorch semantics checked against torch when it is installed (those
tests skip without it) and NumPy otherwise, the random ops' distributions under a fixed
seed, gradients of the layers, and the errors bad inputs must raise."""
import math

import numpy as np
import pytest

import nn_core as nc
import nn_core.nn as nn
from nn_core import functional as F

try:
    import torch
except ImportError:  # the torch comparisons skip
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def T(a, dtype=None):
    return nc.tensor(np.asarray(a), dtype=dtype)


def tt(a):
    return torch.tensor(np.asarray(a))


def close(got, want, atol=1e-6, rtol=1e-5):
    g = got.detach().numpy() if isinstance(got, nc.Tensor) else np.asarray(got)
    if isinstance(want, nc.Tensor) or (torch is not None and isinstance(want, torch.Tensor)):
        want = want.detach().numpy()
    w = np.asarray(want)
    assert g.shape == w.shape, (g.shape, w.shape)
    np.testing.assert_allclose(g, w, atol=atol, rtol=rtol, equal_nan=True)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# ---- fmod / remainder -----------------------------------------------------------------

def test_fmod_and_remainder_sign_rules():
    a = T([5.5, -5.5, 5.5, -5.5, 7.0, -0.0], nc.float64)
    b = T([2.0, 2.0, -2.0, -2.0, 3.5, 3.0], nc.float64)
    assert nc.fmod(a, b).tolist() == [1.5, -1.5, 1.5, -1.5, 0.0, -0.0]  # sign of the dividend (C)
    assert nc.remainder(a, b).tolist() == [1.5, 0.5, -0.5, -1.5, 0.0, 0.0]  # sign of the divisor (Python)
    ai, bi = T([7, -7, 7, -7], nc.int32), T([3, 3, -3, -3], nc.int32)
    assert nc.fmod(ai, bi).tolist() == [1, -1, 1, -1]
    assert (ai % bi).tolist() == [1, 2, -2, -1] == [7 % 3, -7 % 3, 7 % -3, -7 % -3]
    big = T([-(2**63), 5], nc.int64)
    assert nc.fmod(big, T([-1, -1], nc.int64)).tolist() == [0, 0]  # INT_MIN % -1 does not trap


def test_remainder_scalars_operators_and_promotion():
    x = T([5, -3, 4], nc.int64)
    assert (x % 3).tolist() == [2, 0, 1]
    assert (x % 2.5).dtype == nc.float32 and (x % 2.5).tolist() == [0.0, 2.0, 1.5]
    assert (10 % T([3, -4])).tolist() == [1, -2]
    assert x.remainder(3).tolist() == [2, 0, 1] and x.fmod(-3).tolist() == [2, 0, 1]
    y = T([5.0, -3.0])
    y %= 2
    assert y.tolist() == [1.0, 1.0]
    z = T([5.0, -3.0])
    z.fmod_(2)
    assert z.tolist() == [1.0, -1.0]


def test_integer_division_by_zero_raises_and_float_gives_nan():
    with pytest.raises(RuntimeError, match="remainder.*ZeroDivisionError"):
        T([1, 2]) % 0
    with pytest.raises(RuntimeError, match="fmod.*ZeroDivisionError"):
        nc.fmod(T([1, 2], nc.int8), T([1, 0], nc.int8))
    assert math.isnan(nc.fmod(T([1.0]), 0.0).item()) and math.isnan(nc.remainder(T([1.0]), 0.0).item())
    with pytest.raises(TypeError, match="bool"):
        nc.remainder(T([True]), T([True]))


@needs_torch
@pytest.mark.parametrize("name", ["fmod", "remainder"])
def test_fmod_remainder_match_torch_with_grads(name, rng):
    a = rng.uniform(-9, 9, (4, 5))
    b = rng.choice([-1, 1], (5,)) * rng.uniform(0.5, 3, (5,))
    x, y = nc.tensor(a, requires_grad=True), nc.tensor(b, requires_grad=True)
    tx, ty = tt(a).requires_grad_(), tt(b).requires_grad_()
    out, tout = getattr(nc, name)(x, y), getattr(torch, name)(tx, ty)
    close(out, tout, atol=1e-12)
    g = rng.normal(size=(4, 5))
    out.backward(nc.tensor(g))
    tout.backward(tt(g))
    close(x.grad, tx.grad, atol=1e-12)
    close(y.grad, ty.grad, atol=1e-10)


# ---- selection and elementwise --------------------------------------------------------

def test_masked_select_broadcasts_both_ways():
    x = nc.arange(6).reshape(2, 3)
    mask = T([True, False, True])
    assert nc.masked_select(x, mask).tolist() == [0, 2, 3, 5]
    assert x.masked_select(T([[True], [False]])).tolist() == [0, 1, 2]
    assert nc.masked_select(T([1.5]), T([[True], [True]])).tolist() == [1.5, 1.5]
    with pytest.raises(TypeError, match="masked_select: expected a bool mask"):
        nc.masked_select(x, T([1, 0, 1]))
    with pytest.raises(ValueError, match="masked_select"):
        nc.masked_select(x, T([True, False]))


def test_masked_select_and_unique_on_strided_views(rng):
    base = rng.integers(0, 4, size=(6, 8))
    x, mask = T(base)[::2, ::-3].T, T(base > 1)[1::2, 1::3].T
    assert nc.masked_select(x, mask).tolist() == base[::2, ::-3].T[(base > 1)[1::2, 1::3].T].tolist()
    values, inverse, counts = nc.unique(x, return_inverse=True, return_counts=True)
    want = np.unique(base[::2, ::-3].T, return_inverse=True, return_counts=True)
    assert values.tolist() == want[0].tolist() and counts.tolist() == want[2].tolist()
    assert inverse.tolist() == want[1].reshape(x.shape).tolist()


def test_nan_to_num_defaults_are_the_dtype_limits():
    for dt, big in [(nc.float32, np.finfo(np.float32).max), (nc.float64, np.finfo(np.float64).max),
                    (nc.float16, 65504.0)]:
        out = nc.nan_to_num(nc.tensor([np.nan, np.inf, -np.inf, 1.0], dtype=dt)).double().tolist()
        assert out == [0.0, float(big), -float(big), 1.0]
    out = nc.nan_to_num(T([np.nan, np.inf, -np.inf]), nan=1.0, posinf=2.0, neginf=-3.0)
    assert out.tolist() == [1.0, 2.0, -3.0]
    ints = T([1, 2])
    assert nc.nan_to_num(ints).tolist() == [1, 2]
    x = T([np.nan, 2.0])
    x.nan_to_num_()
    assert x.tolist() == [0.0, 2.0]


def test_isclose_and_allclose():
    a, b = T([1.0, np.nan, np.inf, 1.0]), T([1.0 + 1e-9, np.nan, np.inf, 1.1])
    assert nc.isclose(a, b).tolist() == [True, False, True, False]
    assert nc.isclose(a, b, equal_nan=True).tolist() == [True, True, True, False]
    assert nc.allclose(T([1.0, 2.0]), T([1.0, 2.0 + 1e-7])) is True
    assert nc.allclose(T([1.0, 2.0]), T([1.0, 2.1])) is False
    assert nc.allclose(T([1.0, 2.0]), T([1.0, 2.1]), atol=0.2) is True
    with pytest.raises(TypeError, match="isclose"):
        nc.isclose(T([1.0]), T([1]))
    with pytest.raises(ValueError, match="non-negative"):
        nc.isclose(T([1.0]), T([1.0]), rtol=-1.0)


# ---- norms ----------------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("p", ["fro", 1, 2, 3, math.inf, -math.inf, 0])
@pytest.mark.parametrize("dim", [None, 1, (0, 2)])
def test_norm_matches_torch(p, dim, rng):
    a = rng.normal(size=(3, 4, 5))
    if p == "fro" and dim == 1:
        return  # torch's 'fro' takes two dims or all
    close(nc.norm(T(a), p, dim, keepdim=True), torch.norm(tt(a), p, dim, keepdim=True), atol=1e-10)
    if p != "fro":
        close(nc.linalg.vector_norm(T(a), p, dim), torch.linalg.vector_norm(tt(a), p, dim), atol=1e-10)


@needs_torch
def test_linalg_norm_and_zero_gradient(rng):
    a = rng.normal(size=(3, 4))
    close(nc.linalg.norm(T(a)), torch.linalg.norm(tt(a)), atol=1e-12)
    close(nc.linalg.norm(T(a), "fro"), torch.linalg.norm(tt(a), "fro"), atol=1e-12)
    close(nc.linalg.norm(T(a), 3, dim=1), torch.linalg.norm(tt(a), 3, dim=1), atol=1e-12)
    with pytest.raises(ValueError, match="matrix norm"):
        nc.linalg.norm(T(a), 2)
    z = nc.zeros(3, dtype=nc.float64, requires_grad=True)
    nc.norm(z).backward()
    assert z.grad.tolist() == [0.0, 0.0, 0.0]  # PyTorch's subgradient at 0, not nan


def test_norm_errors():
    with pytest.raises(ValueError, match="nuc"):
        nc.norm(nc.ones(2, 2), "nuc")
    with pytest.raises(TypeError, match="norm: expected a floating point input"):
        nc.norm(T([1, 2]))
    with pytest.raises(IndexError):
        nc.norm(nc.ones(2, 2), 2, dim=3)


# ---- unbind, einsum ---------------------------------------------------------------------

def test_unbind():
    x = nc.arange(6).reshape(2, 3)
    parts = nc.unbind(x, 1)
    assert isinstance(parts, tuple) and [p.tolist() for p in parts] == [[0, 3], [1, 4], [2, 5]]
    assert [p.tolist() for p in x.unbind()] == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="unbind"):
        nc.unbind(nc.tensor(1.0))


EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("ij,jk", [(3, 4), (4, 5)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("i,i->", [(7,), (7,)]), ("i,j->ij", [(3,), (4,)]), ("ii->i", [(4, 4)]), ("ii", [(4, 4)]), ("ij->ji", [(2, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]), ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("i,i,i->i", [(5,), (5,), (5,)]), ("iij->j", [(3, 3, 2)]), ("...i->...", [(2, 3, 4)]), ("ba,ab->", [(3, 2), (2, 3)]),
    ("abc,cd,de->abe", [(2, 3, 4), (4, 5), (5, 6)]), ("i...->...", [(3, 2, 5)]), ("Ab,bA", [(3, 2), (2, 3)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum_matches_numpy_with_gradients(eq, shapes, rng):
    arrays = [rng.normal(size=s) for s in shapes]
    ops = [nc.tensor(a, requires_grad=True) for a in arrays]
    out = nc.einsum(eq, *ops)
    close(out, np.einsum(eq, *arrays), atol=1e-10)
    assert nc.autograd.gradcheck(lambda *xs: nc.einsum(eq, *xs), ops)
    close(nc.einsum(eq, ops), out, atol=0)  # the list form


@needs_torch
def test_einsum_matches_torch_implicit_order():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    for eq in ["ij,jk", "ji,jk", "Bi,iA", "ij"]:
        x = a if eq[0:2] in ("ij", "Bi") else a.T.copy()
        ops = [x, b] if "," in eq else [x]
        close(nc.einsum(eq, *[T(o) for o in ops]), torch.einsum(eq, *[tt(o) for o in ops]), atol=1e-12)


@pytest.mark.parametrize("eq,shapes,match", [
    ("ij,jk->il", [(2, 3), (3, 4)], "does not appear"),
    ("ij,jk", [(2, 3), (4, 4)], "broadcast"),
    ("ij", [(2, 3, 4)], "number of subscripts"),
    ("ij,jk", [(2, 3)], "operands"),
    ("i$->i", [(2, 2)], "invalid subscript"),
    ("ij->ii", [(2, 2)], "more than once"),
    ("i.j->i", [(2, 2)], "ellipsis"),
    ("ii->i", [(2, 3)], "repeated"),
])
def test_einsum_bad_equations_raise(eq, shapes, match):
    with pytest.raises(ValueError, match="einsum.*" + match):
        nc.einsum(eq, *[nc.ones(*s) for s in shapes])


# ---- median, unique, diff -----------------------------------------------------------------

@needs_torch
def test_median_matches_torch(rng):
    a = rng.integers(0, 5, size=(4, 6)).astype(np.float64)  # ties
    close(nc.median(T(a)), torch.median(tt(a)))
    for dim in (0, 1, -1):
        v, i = nc.median(T(a), dim, keepdim=True)
        tv, _ = torch.median(tt(a), dim, keepdim=True)
        close(v, tv)
        assert np.all(np.take_along_axis(a, i.numpy(), dim) == v.numpy())  # the index holds the median
    assert T([1.0, 2.0, 3.0, 4.0]).median().item() == 2.0  # the lower median


def test_median_nan_and_errors():
    x = T([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]])
    assert math.isnan(nc.median(x).item())
    values, indices = x.median(dim=1)
    assert math.isnan(values[0].item()) and values[1].item() == 2.0 and indices.tolist() == [1, 1]
    with pytest.raises(IndexError, match="median"):
        nc.median(nc.zeros(0))
    with pytest.raises(IndexError, match="median"):
        nc.median(nc.zeros(2, 0), dim=1)


@needs_torch
@pytest.mark.parametrize("dim", [None, 0, 1])
def test_unique_matches_torch(dim, rng):
    a = rng.integers(0, 3, size=(5, 4))
    a[3] = a[1]
    got = nc.unique(T(a), return_inverse=True, return_counts=True, dim=dim)
    want = torch.unique(tt(a), return_inverse=True, return_counts=True, dim=dim)
    for g, w in zip(got, want):
        assert g.tolist() == w.tolist()
    assert nc.unique(T([3, 1, 3, 2])).tolist() == [1, 2, 3]
    assert T([2.0, 2.0]).unique(return_counts=True)[1].tolist() == [2]


@needs_torch
def test_diff_matches_torch(rng):
    a = rng.normal(size=(3, 5))
    for n in (0, 1, 2, 6):
        close(nc.diff(T(a), n=n, dim=1), torch.diff(tt(a), n=n, dim=1))
    pre, app = rng.normal(size=(3, 2)), rng.normal(size=(3, 1))
    close(nc.diff(T(a), prepend=T(pre), append=T(app)), torch.diff(tt(a), prepend=tt(pre), append=tt(app)))
    b = np.array([True, False, False, True])
    assert nc.diff(T(b)).tolist() == torch.diff(tt(b)).tolist()
    assert nc.diff(T([1.0, 4.0]), prepend=0.0).tolist() == [1.0, 3.0]
    with pytest.raises(ValueError, match="diff: order must be non-negative"):
        nc.diff(T([1.0]), n=-1)


# ---- grids and factories ------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_matches_torch(indexing):
    xs = [np.arange(2.0), np.arange(3.0) + 10, np.arange(4.0) * 2]
    got = nc.meshgrid(*[T(x) for x in xs], indexing=indexing)
    want = torch.meshgrid(*[tt(x) for x in xs], indexing=indexing)
    for g, w in zip(got, want):
        close(g, w, atol=0)
    assert len(nc.meshgrid([T(xs[0]), T(xs[1])])) == 2
    with pytest.raises(ValueError, match="indexing"):
        nc.meshgrid(T(xs[0]), indexing="ab")


@needs_torch
def test_factories_match_torch():
    for args in [(0.0, 1.0, 5), (-3.0, 7.5, 129), (2.0, 2.0, 1), (5.0, -5.0, 0)]:
        close(nc.linspace(*args), torch.linspace(*args), atol=1e-6)
        close(nc.linspace(*args, dtype=nc.float64), torch.linspace(*args, dtype=torch.float64), atol=1e-15)
        close(nc.logspace(*args, base=2.0), torch.logspace(*args, base=2.0), rtol=1e-6)
    assert nc.linspace(0, 10, 4, dtype=nc.int64).tolist() == torch.linspace(0, 10, 4, dtype=torch.int64).tolist()
    close(nc.eye(3), torch.eye(3), atol=0)
    close(nc.eye(2, 4, dtype=nc.int64), torch.eye(2, 4, dtype=torch.int64), atol=0)
    assert nc.linspace(0, 1, 3, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="linspace: number of steps must be non-negative"):
        nc.linspace(0, 1, -1)
    with pytest.raises(ValueError, match="eye: n must be"):
        nc.eye(-2)


# ---- distances and search ---------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("p", [0.0, 1.0, 2.0, 3.0, math.inf])
def test_cdist_matches_torch_batched_with_grads(p, rng):
    a, b = rng.normal(size=(2, 4, 3)), rng.normal(size=(1, 5, 3))
    x, y = nc.tensor(a, requires_grad=True), nc.tensor(b, requires_grad=True)
    tx, ty = tt(a).requires_grad_(), tt(b).requires_grad_()
    out, tout = nc.cdist(x, y, p), torch.cdist(tx, ty, p)
    close(out, tout, atol=1e-10)
    if p != 0.0:
        g = rng.normal(size=tuple(out.shape))
        out.backward(nc.tensor(g))
        tout.backward(tt(g))
        close(x.grad, tx.grad, atol=1e-10)
        close(y.grad, ty.grad, atol=1e-10)


def test_cdist_errors():
    with pytest.raises(ValueError, match="cdist: X1 and X2 must have the same number of columns"):
        nc.cdist(nc.ones(2, 3), nc.ones(2, 4))
    with pytest.raises(ValueError, match="cdist: only supports non-negative p"):
        nc.cdist(nc.ones(2, 3), nc.ones(2, 3), p=-1)
    with pytest.raises(ValueError, match="cdist: only supports at least 2D"):
        nc.cdist(nc.ones(3), nc.ones(3))


@needs_torch
def test_searchsorted_and_bucketize_match_torch(rng):
    seq = np.sort(rng.integers(0, 10, size=(3, 8)), axis=-1)
    vals = rng.integers(-1, 11, size=(3, 5))
    for right in (False, True):
        assert nc.searchsorted(T(seq), T(vals), right=right).tolist() == \
            torch.searchsorted(tt(seq), tt(vals), right=right).tolist()
        assert nc.searchsorted(T(seq[0]), T(vals), side="right" if right else "left").tolist() == \
            torch.searchsorted(tt(seq[0]), tt(vals), right=right).tolist()
        assert nc.bucketize(T(vals), T(seq[1]), right=right).tolist() == \
            torch.bucketize(tt(vals), tt(seq[1]), right=right).tolist()
    assert nc.searchsorted(T(seq[0]), T(vals), out_int32=True).dtype == nc.int32
    assert nc.searchsorted(T([1, 3, 5]), 4).item() == 2


def test_searchsorted_errors():
    with pytest.raises(ValueError, match="searchsorted: boundaries tensor should be 1 dimension or the first N-1"):
        nc.searchsorted(nc.zeros(2, 3), nc.zeros(3, 3))
    with pytest.raises(ValueError, match="side and right can't be set to opposites"):
        nc.searchsorted(nc.zeros(3), nc.zeros(2), right=True, side="left")
    with pytest.raises(ValueError, match="bucketize: boundaries tensor must be 1 dimension"):
        nc.bucketize(nc.zeros(3), nc.zeros(2, 2))


# ---- random ops -----------------------------------------------------------------------------

def test_randperm_is_a_seeded_permutation():
    nc.manual_seed(7)
    p = nc.randperm(1000)
    assert p.dtype == nc.int64 and sorted(p.tolist()) == list(range(1000))
    nc.manual_seed(7)
    assert nc.randperm(1000).tolist() == p.tolist()
    assert nc.randperm(1000).tolist() != p.tolist()
    assert nc.randperm(0).tolist() == [] and nc.randperm(5, dtype=nc.int32).dtype == nc.int32
    # Every position sees every value about equally often: 3000 permutations of 4.
    nc.manual_seed(11)
    counts = np.zeros((4, 4))
    for _ in range(3000):
        counts[np.arange(4), nc.randperm(4).numpy()] += 1
    assert np.all(np.abs(counts - 750) < 5 * math.sqrt(3000 * 0.25 * 0.75))  # 5 sigma of a binomial count
    with pytest.raises(TypeError, match="generator"):
        nc.randperm(3, generator=object())


def test_multinomial_with_replacement_frequencies():
    nc.manual_seed(3)
    probs = T([0.1, 0.0, 0.6, 0.3])
    draws = nc.multinomial(probs, 20000, replacement=True)
    assert draws.shape == (20000,) and draws.dtype == nc.int64
    freq = np.bincount(draws.numpy(), minlength=4) / 20000
    assert freq[1] == 0.0
    sigma = np.sqrt(np.array([0.1, 0.0, 0.6, 0.3]) * (1 - np.array([0.1, 0.0, 0.6, 0.3])) / 20000)
    assert np.all(np.abs(freq - [0.1, 0.0, 0.6, 0.3]) <= 5 * sigma + 1e-12), freq
    nc.manual_seed(3)
    assert nc.multinomial(probs, 20000, replacement=True).tolist() == draws.tolist()
    rows = nc.multinomial(T([[1.0, 1.0], [0.0, 5.0]]), 7, True)  # unnormalised weights, one row each
    assert rows.shape == (2, 7) and set(rows[1].tolist()) == {1}


def test_multinomial_without_replacement():
    nc.manual_seed(5)
    weights = T([[1.0, 2.0, 3.0, 4.0, 0.0, 5.0]] * 200)
    out = nc.multinomial(weights, 5)
    for row in out.tolist():
        assert len(set(row)) == 5 and 4 not in row  # never repeats, never a zero weight
    # The first draw follows the weights: P(first = k) = w_k / 15.
    first = np.bincount(out[:, 0].numpy(), minlength=6) / 200
    want = np.array([1, 2, 3, 4, 0, 5]) / 15
    assert np.all(np.abs(first - want) <= 5 * np.sqrt(want * (1 - want) / 200) + 1e-12), first


@pytest.mark.parametrize("args,match", [
    ((T([0.5, 0.5]), 3), "cannot sample num_samples=3 > prob_dist.size"),
    ((T([0.5, -0.1]), 1), "element < 0"),
    ((T([0.0, 0.0]), 1), "sum of probabilities"),
    ((T([1.0, 0.0, 0.0]), 2), "not enough non-negative category"),
    ((T([[[1.0]]]), 1), "1 or 2 dim"),
    ((T([1.0, 2.0]), 0), "num_samples"),
])
def test_multinomial_errors(args, match):
    with pytest.raises(ValueError, match="multinomial.*" + match):
        nc.multinomial(*args)


def test_bernoulli():
    nc.manual_seed(9)
    p = nc.full((20000,), 0.3, dtype=nc.float64)
    s = nc.bernoulli(p)
    assert s.dtype == nc.float64 and set(np.unique(s.numpy())) <= {0.0, 1.0}
    assert abs(s.mean().item() - 0.3) < 5 * math.sqrt(0.3 * 0.7 / 20000)
    assert nc.bernoulli(T([0.0, 1.0])).tolist() == [0.0, 1.0]
    x = nc.zeros(20000)
    x.bernoulli_(0.8)
    assert abs(x.mean().item() - 0.8) < 0.02
    nc.manual_seed(9)
    assert nc.bernoulli(p).tolist() == s.tolist()
    with pytest.raises(ValueError, match="bernoulli: all probabilities must be in"):
        nc.bernoulli(T([1.5]))


# ---- functional ---------------------------------------------------------------------------

def test_one_hot():
    out = F.one_hot(T([0, 2, 1]))
    assert out.dtype == nc.int64 and out.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    assert F.one_hot(T([[1]]), num_classes=4).tolist() == [[[0, 1, 0, 0]]]
    with pytest.raises(IndexError):
        F.one_hot(T([0, 3]), num_classes=3)
    with pytest.raises(IndexError):
        F.one_hot(T([-1, 0]), num_classes=3)
    with pytest.raises(TypeError, match="one_hot: is only applicable to index tensors of dtype int64"):
        F.one_hot(T([0.0]), 2)


@needs_torch
def test_functional_layers_match_torch_with_grads(rng):
    tF = torch.nn.functional
    a, b = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    w = rng.uniform(0.1, 1, size=(5,))
    cases = [
        (lambda x, y: F.normalize(x, p=3.0, dim=0), lambda x, y: tF.normalize(x, p=3.0, dim=0)),
        (lambda x, y: F.cosine_similarity(x, y), lambda x, y: tF.cosine_similarity(x, y)),
        (lambda x, y: F.cosine_similarity(x, y[:1], dim=0), lambda x, y: tF.cosine_similarity(x, y[:1], dim=0)),
        (lambda x, y: F.pairwise_distance(x, y, p=1.5, keepdim=True),
         lambda x, y: tF.pairwise_distance(x, y, p=1.5, keepdim=True)),
        (lambda x, y: F.kl_div(F.log_softmax(x, 1), F.softmax(y, 1), reduction="batchmean"),
         lambda x, y: tF.kl_div(tF.log_softmax(x, 1), tF.softmax(y, 1), reduction="batchmean")),
        (lambda x, y: F.kl_div(x, y, reduction="sum", log_target=True),
         lambda x, y: tF.kl_div(x, y, reduction="sum", log_target=True)),
        (lambda x, y: F.kl_div(x, y.abs(), reduction="none"), lambda x, y: tF.kl_div(x, y.abs(), reduction="none")),
        (lambda x, y: F.elu(x, 0.7) * y, lambda x, y: tF.elu(x, 0.7) * y),
        (lambda x, y: F.selu(x) * y, lambda x, y: tF.selu(x) * y),
        (lambda x, y: F.celu(x, 1.3) * y, lambda x, y: tF.celu(x, 1.3) * y),
        (lambda x, y: F.prelu(x, y[0]), lambda x, y: tF.prelu(x, y[0])),
    ]
    for ours, theirs in cases:
        x, y = nc.tensor(a, requires_grad=True), nc.tensor(b, requires_grad=True)
        tx, ty = tt(a).requires_grad_(), tt(b).requires_grad_()
        out, tout = ours(x, y), theirs(tx, ty)
        close(out, tout, atol=1e-10)
        out.sum().backward()
        tout.sum().backward()
        for ours_grad, torch_grad in ((x.grad, tx.grad), (y.grad, ty.grad)):
            assert (ours_grad is None) == (torch_grad is None)
            if torch_grad is not None:
                close(ours_grad, torch_grad, atol=1e-9)
    close(F.prelu(T(a), T(w)), tF.prelu(tt(a), tt(w)), atol=1e-12)
    x4 = rng.normal(size=(2, 3, 4, 5))
    close(F.prelu(T(x4), T(w[:3])), tF.prelu(tt(x4), tt(w[:3])), atol=1e-12)


def test_functional_errors():
    with pytest.raises(ValueError, match="kl_div: reduction must be"):
        F.kl_div(nc.zeros(2), nc.zeros(2), reduction="avg")
    with pytest.raises(ValueError, match="prelu: mismatch of parameter numbers and input channel size"):
        F.prelu(nc.zeros(2, 3), nc.ones(2))
    with pytest.raises(ValueError, match="cosine_similarity"):
        F.cosine_similarity(nc.zeros(2, 3), nc.zeros(2, 4))
    with pytest.raises(TypeError, match="elu: expected a floating point input"):
        F.elu(T([1, 2]))


@needs_torch
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_matches_torch(mode, rng):
    weight = rng.normal(size=(10, 4))
    idx = np.array([1, 2, 4, 5, 4, 3, 2, 9, 0, 0])
    offsets = np.array([0, 4, 4, 7])  # bag 1 is empty
    for padding_idx in (None, 2):
        w, tw = nc.tensor(weight, requires_grad=True), tt(weight).requires_grad_()
        out = F.embedding_bag(T(idx), w, T(offsets), mode=mode, padding_idx=padding_idx)
        tout = torch.nn.functional.embedding_bag(tt(idx), tw, tt(offsets), mode=mode, padding_idx=padding_idx)
        close(out, tout, atol=1e-12)
        g = rng.normal(size=tuple(out.shape))
        out.backward(nc.tensor(g))
        tout.backward(tt(g))
        close(w.grad, tw.grad, atol=1e-12)
    idx2 = idx.reshape(2, 5)
    close(F.embedding_bag(T(idx2), T(weight), mode=mode),
          torch.nn.functional.embedding_bag(tt(idx2), tt(weight), mode=mode), atol=1e-12)
    close(F.embedding_bag(T(idx), T(weight), T(np.array([0, 3, 10])), mode=mode, include_last_offset=True),
          torch.nn.functional.embedding_bag(tt(idx), tt(weight), tt(np.array([0, 3, 10])), mode=mode,
                                            include_last_offset=True), atol=1e-12)
    if mode == "sum":
        psw = rng.normal(size=idx.shape)
        close(F.embedding_bag(T(idx), T(weight), T(offsets), mode="sum", per_sample_weights=T(psw)),
              torch.nn.functional.embedding_bag(tt(idx), tt(weight), tt(offsets), mode="sum",
                                                per_sample_weights=tt(psw)), atol=1e-12)


def test_embedding_bag_errors():
    w = nc.randn(5, 3)
    with pytest.raises(ValueError, match="offsets has to be None"):
        F.embedding_bag(T([[1, 2]]), w, T([0]))
    with pytest.raises(ValueError, match="offsets has to be a 1D tensor when input is 1D"):
        F.embedding_bag(T([1, 2]), w)
    with pytest.raises(ValueError, match="per_sample_weights is only supported for mode='sum'"):
        F.embedding_bag(T([[1, 2]]), w, mode="mean", per_sample_weights=nc.ones(1, 2))
    with pytest.raises(ValueError, match="mode has to be one of sum, mean or max"):
        F.embedding_bag(T([[1, 2]]), w, mode="median")
    with pytest.raises(IndexError):
        F.embedding_bag(T([[1, 7]]), w)


# ---- modules ------------------------------------------------------------------------------

def test_module_parameters_and_shapes():
    prelu = nn.PReLU(3, init=0.1)
    assert [n for n, _ in prelu.named_parameters()] == ["weight"] and prelu.weight.tolist() == pytest.approx([0.1] * 3)
    out = prelu(T([[[-1.0], [2.0], [-3.0]]], nc.float32))
    assert out.reshape(-1).tolist() == pytest.approx([-0.1, 2.0, -0.3])
    bag = nn.EmbeddingBag(10, 3, mode="sum", padding_idx=0)
    assert [n for n, _ in bag.named_parameters()] == ["weight"] and bag.weight[0].tolist() == [0.0, 0.0, 0.0]
    assert tuple(bag(T([[1, 2], [0, 3]])).shape) == (2, 3)
    assert tuple(nn.CosineSimilarity(dim=0)(nc.ones(3, 2), nc.ones(3, 2)).shape) == (2,)
    assert tuple(nn.PairwiseDistance(keepdim=True)(nc.ones(4, 2), nc.zeros(4, 2)).shape) == (4, 1)
    assert nn.ELU(alpha=2.0)(T([-100.0])).item() == pytest.approx(-2.0)
    assert nn.KLDivLoss(reduction="sum")(nc.zeros(2), nc.ones(2)).item() == pytest.approx(0.0)
    with pytest.raises(ValueError, match="KLDivLoss: reduction must be"):
        nn.KLDivLoss(reduction="bad")


@needs_torch
def test_torch_state_dicts_load_unchanged(rng):
    tprelu, tbag = torch.nn.PReLU(4), torch.nn.EmbeddingBag(7, 3, mode="max")
    prelu, bag = nn.PReLU(4), nn.EmbeddingBag(7, 3, mode="max")
    for ours, theirs in [(prelu, tprelu), (bag, tbag)]:
        ours.load_state_dict({k: nc.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = rng.normal(size=(2, 4, 3))
    close(prelu(T(x.astype(np.float32))), tprelu(torch.tensor(x, dtype=torch.float32)), atol=1e-6)
    idx, offsets = np.array([1, 5, 6, 0]), np.array([0, 2])
    close(bag(T(idx), T(offsets)), tbag(tt(idx), tt(offsets)), atol=1e-6)
    kl, tkl = nn.KLDivLoss(reduction="batchmean", log_target=True), torch.nn.KLDivLoss(reduction="batchmean",
                                                                                         log_target=True)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    close(kl(T(a), T(b)), tkl(tt(a), tt(b)), atol=1e-12)
