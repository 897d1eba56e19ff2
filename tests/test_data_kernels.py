"""Data-dependent work that the op layer hands to device kernels (csrc/kernels/data.h,
Note [Checks in kernels]): embedding index checks, pow's exponent check, advanced-index
bounds and row numbers, bool-mask coordinates, random fills and arange. The checks must
raise the same clear errors as before they moved into kernels, naming the FIRST bad
element in row-major order (also when the kernel splits the scan over threads); random
fills must equal an independent NumPy implementation of the Philox draws (so the
values did not change when the fill moved) on any layout and thread count.
"""
import numpy as np
import pytest

import nn_core as nc
from nn_core import _C
from samples import SEED

BIG = 100_003  # > the range kernels' chunk (1 << 15): the scan is split over threads


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    old = nc.get_num_threads()
    nc.set_num_threads(request.param)
    yield request.param
    nc.set_num_threads(old)


# ---- embedding -------------------------------------------------------------------

def test_embedding_index_out_of_range_names_the_first_bad_index(threads):
    w = nc.randn(5, 3)
    with pytest.raises(IndexError, match=r"embedding: index 5 is out of range for a weight with 5 rows "
                                         r"\(shape \(5, 3\)\)"):
        nc.functional.embedding(nc.tensor([[1, 5]]), w)
    with pytest.raises(IndexError, match=r"embedding: index -1 is out of range"):
        nc.functional.embedding(nc.tensor([[1, -1], [7, 0]]), w)
    idx = np.zeros(BIG, np.int64)
    idx[90_000], idx[70_000], idx[99_999] = -3, 11, 12  # the first bad one (row-major) is 11
    for dtype in (np.int64, np.int32):
        with pytest.raises(IndexError, match=r"embedding: index 11 is out of range"):
            nc.functional.embedding(nc.from_numpy(idx.astype(dtype)), w)
    # Non-contiguous indices are checked in their logical order.
    t = nc.from_numpy(np.array([[0, 9], [8, 1]], np.int64)).transpose(0, 1)  # logical [[0, 8], [9, 1]]
    with pytest.raises(IndexError, match=r"embedding: index 8 is out of range"):
        nc.functional.embedding(t, w)


def test_embedding_valid_indices_still_gather(threads):
    rng = np.random.default_rng(SEED)
    w = rng.standard_normal((7, 4)).astype(np.float32)
    idx = rng.integers(0, 7, (BIG,))
    out = nc.functional.embedding(nc.from_numpy(idx), nc.from_numpy(w)).numpy()
    assert np.array_equal(out, w[idx])
    assert nc.functional.embedding(nc.zeros(0, 3, dtype=nc.int64), nc.from_numpy(w)).shape == (0, 3, 4)


# ---- pow -------------------------------------------------------------------------

def test_pow_negative_integer_exponent_raises(threads):
    msg = "pow: integers to negative integer powers are not allowed"
    with pytest.raises(ValueError, match=msg):
        nc.tensor([2, 3]) ** nc.tensor([1, -2])
    with pytest.raises(ValueError, match=msg):
        nc.tensor([2, 3]).pow(nc.tensor([[1], [-2]]))  # broadcast exponent
    e = np.ones(BIG, np.int32)
    e[BIG - 1] = -1
    with pytest.raises(ValueError, match=msg):
        nc.ones(BIG, dtype=nc.int32) ** nc.from_numpy(e)
    with pytest.raises(ValueError, match=msg):
        nc.tensor([2]) ** nc.tensor([0, 1, -1], dtype=nc.int8)


def test_pow_integer_results_and_allowed_cases(threads):
    a = np.array([[2, -3, 0, 5]], np.int64)
    b = np.array([[0], [1], [3]], np.int64)
    assert np.array_equal((nc.from_numpy(a) ** nc.from_numpy(b)).numpy(), a ** b)
    assert (nc.zeros(0, dtype=nc.int64) ** nc.tensor([-1])).shape == (0,)  # nothing to compute
    assert np.allclose((nc.tensor([2.0]) ** nc.tensor([-1.0])).numpy(), [0.5])  # floats may be negative
    assert (nc.tensor([2]) ** nc.tensor([True, False])).tolist() == [2, 1]


# ---- advanced indexing -------------------------------------------------------------

def test_advanced_index_out_of_bounds_names_the_first_bad_index(threads):
    x = nc.arange(12).reshape(3, 4)
    with pytest.raises(IndexError, match=r"index: index 3 is out of bounds for dimension 0 with size 3"):
        x[nc.tensor([0, 3])]
    with pytest.raises(IndexError, match=r"index -5 is out of bounds for dimension 1 with size 4"):
        x[:, nc.tensor([0, -5, 9])]
    idx = np.zeros(BIG, np.int64)
    idx[80_000], idx[40_000] = 7, -9
    with pytest.raises(IndexError, match=r"index -9 is out of bounds for dimension 1 with size 4"):
        x[:, nc.from_numpy(idx)]
    with pytest.raises(IndexError, match=r"index 4 is out of bounds for dimension 1 with size 4"):
        x[nc.tensor([0, 1]), nc.tensor([4, 0])]
    with pytest.raises(IndexError, match=r"out of bounds for dimension 0 with size 3"):
        x[nc.tensor([5])] = 1.0


def test_advanced_index_rows_match_numpy(threads):
    rng = np.random.default_rng(SEED)
    xn = rng.standard_normal((5, 6, 7)).astype(np.float32)
    x = nc.from_numpy(xn)
    i0 = rng.integers(-5, 5, (BIG,))
    i2 = rng.integers(-7, 7, (BIG,))
    assert np.array_equal(x[nc.from_numpy(i0), :, nc.from_numpy(i2)].numpy(), xn[i0, :, i2])
    a, b = rng.integers(-5, 5, (3, 1)), rng.integers(-6, 6, (1, 4))  # broadcast to (3, 4)
    assert np.array_equal(x[nc.from_numpy(a), nc.from_numpy(b)].numpy(), xn[a, b])
    assert x[nc.zeros(0, dtype=nc.int64)].shape == (0, 6, 7)


def test_bool_masks_match_numpy(threads):
    rng = np.random.default_rng(SEED)
    xn = rng.standard_normal((4, 5, 6)).astype(np.float32)
    x = nc.from_numpy(xn)
    for mask in (xn > 0.3, xn[:, :, 0] > 0, xn[:, 0, 0] > 0, np.zeros((4, 5), bool), np.ones((4,), bool)):
        assert np.array_equal(x[nc.from_numpy(mask)].numpy(), xn[mask]), mask.shape
    m = xn[:, :, 0] > 0
    assert np.array_equal(x[:, nc.from_numpy(m[0])].numpy(), xn[:, m[0]])
    big = rng.standard_normal(BIG).astype(np.float32)
    assert np.array_equal(nc.from_numpy(big)[nc.from_numpy(big > 1)].numpy(), big[big > 1])
    y = nc.from_numpy(xn.copy())
    y[nc.from_numpy(xn > 0)] = 0.0
    assert np.array_equal(y.numpy(), np.where(xn > 0, 0, xn))


# ---- random fills: an independent Philox4x32-10 (core/random.h) ---------------------

def philox(counters, key):
    """The 4 x uint32 blocks of Philox4x32-10 at `counters` (uint64 array) with a uint64 key."""
    m = np.uint64(0xFFFFFFFF)
    c0 = counters & m
    c1 = counters >> np.uint64(32)
    c2 = np.zeros_like(c0)
    c3 = np.zeros_like(c0)
    k0, k1 = np.uint64(key & 0xFFFFFFFF), np.uint64(key >> 32)
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c0
        p1 = np.uint64(0xCD9E8D57) * c2
        c0, c1, c2, c3 = (p1 >> np.uint64(32)) ^ c1 ^ k0, p1 & m, (p0 >> np.uint64(32)) ^ c3 ^ k1, p0 & m
        k0, k1 = (k0 + np.uint64(0x9E3779B9)) & m, (k1 + np.uint64(0xBB67AE85)) & m
    return c0, c1, c2, c3


def ref_uniform(n, offset, a, b, dtype):
    r0, r1, _, _ = philox(np.arange(offset, offset + n, dtype=np.uint64), SEED)
    bits = ((r0 << np.uint64(21)) ^ (r1 >> np.uint64(11))) & np.uint64((1 << 53) - 1)
    v = a + (b - a) * (bits.astype(np.float64) * 2.0 ** -53)
    v = np.where((v.astype(dtype).astype(np.float64) >= b) & (v < b), a, v)  # never the open bound
    return v.astype(dtype)


def ref_normal(n, offset, mean, std):
    r0, r1, _, _ = philox(np.arange(offset, offset + n, dtype=np.uint64), SEED)
    u1 = (r0.astype(np.float64) + 1.0) * 2.0 ** -32
    u2 = r1.astype(np.float64) * 2.0 ** -32
    return mean + std * np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def ref_randint(n, offset, low, high):
    r0, r1, _, _ = philox(np.arange(offset, offset + n, dtype=np.uint64), SEED)
    bits = (r0 << np.uint64(32)) | r1
    return (low + (bits % np.uint64(high - low)).astype(np.int64)).astype(np.int64)


def test_random_fills_equal_the_philox_reference(threads):
    nc.manual_seed(SEED)
    n = 4099
    got = nc.rand(n).numpy()
    assert np.array_equal(got, ref_uniform(n, 0, 0.0, 1.0, np.float32))
    got64 = nc.empty(33, 31, dtype=nc.float64).uniform_(-2.0, 3.0).numpy()
    assert np.array_equal(got64.ravel(), ref_uniform(33 * 31, n, -2.0, 3.0, np.float64))
    off = n + 33 * 31
    r = nc.randn(1001, dtype=nc.float64).numpy()
    np.testing.assert_allclose(r, ref_normal(1001, off, 0.0, 1.0), rtol=1e-12, atol=1e-12)
    off += 1001
    assert np.array_equal(nc.randint(-5, 9, (3, 700)).numpy().ravel(), ref_randint(2100, off, -5, 9))
    off += 2100
    big = nc.randint(0, 1 << 40, (BIG,)).numpy()  # crosses thread chunks; a range beyond 32 bits
    assert np.array_equal(big, ref_randint(BIG, off, 0, 1 << 40))


def test_random_fill_of_a_non_contiguous_tensor_is_in_logical_order(threads):
    nc.manual_seed(SEED)
    base = nc.zeros(8, 6)
    view = base.transpose(0, 1)[::2]  # (3, 8), non-contiguous
    view.normal_(1.5, 0.5)
    want = ref_normal(24, 0, 1.5, 0.5).astype(np.float32).reshape(3, 8)
    np.testing.assert_allclose(view.numpy(), want, rtol=1e-6, atol=0)
    assert np.all(base.numpy()[:, 1::2] == 0)  # rows of the view only


def test_random_errors():
    with pytest.raises(TypeError, match="uniform_: expected a floating-point tensor"):
        nc.zeros(3, dtype=nc.int64).uniform_(0, 1)
    with pytest.raises(TypeError, match="normal_: expected a floating-point tensor"):
        nc.zeros(3, dtype=nc.int32).normal_()
    with pytest.raises(ValueError, match="randint: expected low < high"):
        nc.randint(3, 3, (2,))


# ---- arange --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "int64", "int32", "uint8"])
def test_arange_values(dtype, threads):
    d = getattr(nc, dtype)
    n = BIG if dtype in ("float64", "int64") else 200
    got = nc.arange(0, n, 1, dtype=d)
    assert got.shape == (n,) and got.dtype == d
    assert np.array_equal(got.float().numpy() if dtype == "bfloat16" else got.numpy(),
                          np.arange(n).astype(np.float32 if dtype == "bfloat16" else dtype))
    assert np.array_equal(nc.arange(1.0, 0.0, -0.125, dtype=nc.float64).numpy(), 1.0 - 0.125 * np.arange(8))
    assert nc.arange(3, 3, 1).shape == (0,)
