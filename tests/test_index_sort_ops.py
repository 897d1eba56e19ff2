"""Targeted tests of gather, scatter (tensor and value forms), scatter_add, index_select,
cumsum, cumprod, sort, argsort and topk: semantics against NumPy (take_along_axis,
put_along_axis, add.at, cumsum, argsort(kind="stable")), ties and NaN, the errors for
bad indices and shapes, gradients (cumprod with zeros), determinism of scatter_add, and
agreement with PyTorch when it is installed. The OpInfo harness (tests/op_db_index_sort.py)
covers dtypes, layouts and fuzzing."""
import numpy as np
import pytest

import nn_core as nc

try:
    import torch
except ImportError:  # the PyTorch comparisons are skipped without it
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
NAN = float("nan")


def t(a, dtype=None):
    return nc.from_numpy(np.ascontiguousarray(a)) if dtype is None else nc.tensor(a, dtype=dtype)


# ---- gather / scatter / index_select ---------------------------------------------------

def test_gather_matches_take_along_axis():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5, 6))
    for dim in range(3):
        idx = rng.integers(0, x.shape[dim], x.shape)
        np.testing.assert_array_equal(nc.gather(t(x), dim, t(idx)).numpy(), np.take_along_axis(x, idx, dim))
        np.testing.assert_array_equal(t(x).gather(dim - 3, t(idx)).numpy(), np.take_along_axis(x, idx, dim))


def test_gather_index_smaller_than_input():
    x = np.arange(12.0).reshape(3, 4)
    idx = np.array([[3, 0], [1, 1]])
    np.testing.assert_array_equal(nc.gather(t(x), 1, t(idx)).numpy(), [[3.0, 0.0], [5.0, 5.0]])


def test_scatter_matches_put_along_axis():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 7))
    idx = np.argsort(rng.random((5, 7)), axis=1)[:, :4]  # distinct per row
    src = rng.standard_normal((5, 4))
    want = x.copy()
    np.put_along_axis(want, idx, src, 1)
    np.testing.assert_array_equal(nc.scatter(t(x), 1, t(idx), t(src)).numpy(), want)
    np.testing.assert_array_equal(x, t(x).numpy())  # out of place


def test_scatter_value_form():
    x = nc.zeros(2, 3)
    idx = nc.tensor([[0, 2], [1, 1]])
    want = [[1.5, 0.0, 1.5], [0.0, 1.5, 0.0]]
    assert x.scatter(1, idx, value=1.5).tolist() == want
    assert nc.scatter(x, 1, idx, 1.5).tolist() == want
    assert nc.scatter(nc.zeros(2, 3, dtype=nc.int64), 1, idx, 4).tolist() == [[4, 0, 4], [0, 4, 0]]


def test_scatter_add_matches_add_at_and_is_deterministic():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 50)).astype(np.float32)
    idx = rng.integers(0, 50, (3, 2000))
    src = rng.standard_normal((3, 2000)).astype(np.float32)
    want = x.astype(np.float64)
    np.add.at(want, (np.arange(3)[:, None], idx), src.astype(np.float64))
    results = []
    for threads in (1, 2):
        old = nc.get_num_threads()
        nc.set_num_threads(threads)
        try:
            results.append(nc.scatter_add(t(x), 1, t(idx), t(src)).numpy())
        finally:
            nc.set_num_threads(old)
    np.testing.assert_allclose(results[0], want, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], nc.scatter_add(t(x), 1, t(idx), t(src)).numpy())


def test_index_select_matches_take():
    x = np.arange(24.0).reshape(2, 3, 4)
    for dim in range(3):
        idx = np.array([0, x.shape[dim] - 1, 0])
        for idt in (nc.int64, nc.int32):
            got = nc.index_select(t(x), dim, nc.tensor(idx.tolist(), dtype=idt))
            np.testing.assert_array_equal(got.numpy(), np.take(x, idx, axis=dim))
    assert t(x).index_select(1, nc.tensor([], dtype=nc.int64)).shape == (2, 0, 4)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: nc.gather(nc.zeros(2, 3), 1, nc.tensor([[3]])), IndexError, "index 3 is out of bounds for dimension 1"),
    (lambda: nc.gather(nc.zeros(2, 3), 1, nc.tensor([[-1]])), IndexError, "index -1 is out of bounds"),
    (lambda: nc.gather(nc.zeros(2, 3), 1, nc.tensor([[0]], dtype=nc.int32)), TypeError, "int64 for index"),
    (lambda: nc.gather(nc.zeros(2, 3), 2, nc.tensor([[0]])), IndexError, "out of range"),
    (lambda: nc.gather(nc.zeros(2, 3), 1, nc.tensor([0])), ValueError, "same number of dimensions"),
    (lambda: nc.gather(nc.zeros(2, 3), 1, nc.zeros(3, 1, dtype=nc.int64)), ValueError, "at dimension 0"),
    (lambda: nc.scatter(nc.zeros(2, 3), 1, nc.tensor([[0, 1]]), nc.zeros(1, 1)), ValueError, "src"),
    (lambda: nc.scatter(nc.zeros(2, 3), 1, nc.tensor([[0]]), nc.zeros(1, 1, dtype=nc.float64)), TypeError,
     "dtype"),
    (lambda: nc.scatter_add(nc.zeros(2, 3), 0, nc.tensor([[2]]), nc.zeros(1, 1)), IndexError, "out of bounds"),
    (lambda: nc.scatter(nc.zeros(2, 3), 0, nc.tensor([[0]]), src=nc.ones(1, 1), value=1.0), TypeError, "one of"),
    (lambda: nc.index_select(nc.zeros(2, 3), 0, nc.tensor([2])), IndexError, "out of bounds"),
    (lambda: nc.index_select(nc.zeros(2, 3), 0, nc.tensor([[0]])), IndexError, "vector"),
    (lambda: nc.index_select(nc.zeros(2, 3), 0, nc.tensor([0.0])), TypeError, "int64 or int32"),
    (lambda: nc.topk(nc.zeros(2, 3), 4), IndexError, "k = 4 is out of range"),
    (lambda: nc.topk(nc.zeros(2, 3), -1), IndexError, "out of range"),
    (lambda: nc.sort(nc.zeros(2, 3), 2), IndexError, "out of range"),
    (lambda: nc.cumsum(nc.zeros(2, 3), -3), IndexError, "out of range"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_bad_scatter_writes_nothing():
    x = nc.zeros(2, 3)
    with pytest.raises(IndexError):
        nc.scatter(x, 1, nc.tensor([[0, 7]]), nc.ones(1, 2))
    assert x.tolist() == [[0.0] * 3] * 2


# ---- gradients -----------------------------------------------------------------------

def test_gather_and_scatter_gradients():
    x = nc.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=nc.float64, requires_grad=True)
    idx = nc.tensor([[0, 0, 2], [1, 1, 1]])
    nc.gather(x, 1, idx).sum().backward()
    assert x.grad.tolist() == [[2.0, 0.0, 1.0], [0.0, 3.0, 0.0]]

    x = nc.tensor([[1.0, 2.0, 3.0]], dtype=nc.float64, requires_grad=True)
    src = nc.tensor([[10.0, 20.0, 30.0]], dtype=nc.float64, requires_grad=True)
    w = nc.tensor([[1.0, 2.0, 3.0]], dtype=nc.float64)
    (nc.scatter(x, 1, nc.tensor([[2, 0]]), src) * w).sum().backward()
    assert x.grad.tolist() == [[0.0, 2.0, 0.0]]  # overwritten positions get nothing
    assert src.grad.tolist() == [[3.0, 1.0, 0.0]]  # src is larger than index: padded


def test_index_select_gradient_accumulates_repeats():
    x = nc.tensor([1.0, 2.0, 3.0], dtype=nc.float64, requires_grad=True)
    x.index_select(0, nc.tensor([2, 0, 2])).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 2.0]


def _cumprod_grad_numpy(x):
    """d sum(cumprod(x)) / dx_i by the O(n^2) product formula (no division)."""
    n = len(x)
    return np.array([sum(np.prod(np.delete(x[: j + 1], i)) for j in range(i, n)) for i in range(n)])


@pytest.mark.parametrize("values", [[2.0, 3.0, 0.5, 4.0], [1.0, 0.0, 2.0, 3.0], [0.0, 2.0, 0.0, 3.0],
                                    [0.0, 0.0, 0.0], [5.0]])
def test_cumprod_gradient_with_zeros(values):
    x = nc.tensor(values, dtype=nc.float64, requires_grad=True)
    x.cumprod(0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), _cumprod_grad_numpy(np.array(values)), rtol=1e-12)


def test_cumsum_gradient_is_reversed_cumsum():
    x = nc.tensor([[1.0, 2.0, 3.0]], dtype=nc.float64, requires_grad=True)
    w = nc.tensor([[1.0, 10.0, 100.0]], dtype=nc.float64)
    (x.cumsum(1) * w).sum().backward()
    assert x.grad.tolist() == [[111.0, 110.0, 100.0]]


def test_sort_and_topk_gradients_go_to_indices():
    x = nc.tensor([3.0, 1.0, 2.0], dtype=nc.float64, requires_grad=True)
    w = nc.tensor([1.0, 10.0, 100.0], dtype=nc.float64)
    (x.sort().values * w).sum().backward()
    assert x.grad.tolist() == [100.0, 1.0, 10.0]
    x.grad = None
    (x.topk(2).values * w[:2]).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 10.0]


# ---- scans ---------------------------------------------------------------------------

def test_cumsum_cumprod_dtypes():
    assert nc.cumsum(nc.tensor([True, True, False]), 0).tolist() == [1, 2, 2]
    assert nc.cumsum(nc.tensor([100, 100], dtype=nc.int8), 0).dtype == nc.int64  # no int8 overflow
    assert nc.cumsum(nc.tensor([100, 100], dtype=nc.int8), 0).tolist() == [100, 200]
    assert nc.cumprod(nc.tensor([1, 2, 3], dtype=nc.int32), 0).tolist() == [1, 2, 6]
    assert nc.cumsum(nc.tensor([1, 2]), 0, dtype=nc.float64).dtype == nc.float64
    assert nc.cumsum(nc.tensor([1.0, 2.0], dtype=nc.float16), 0).dtype == nc.float16
    assert nc.cumsum(nc.tensor(3.0), 0).tolist() == 3.0


def test_cumsum_matches_numpy_along_each_dim():
    x = np.random.default_rng(3).standard_normal((3, 4, 5))
    for dim in range(3):
        np.testing.assert_allclose(t(x).cumsum(dim).numpy(), np.cumsum(x, axis=dim), rtol=1e-12)
        np.testing.assert_allclose(t(x).cumprod(dim).numpy(), np.cumprod(x, axis=dim), rtol=1e-12)


# ---- sorting -------------------------------------------------------------------------

def test_sort_is_stable_with_ties_in_both_directions():
    x = np.array([2, 1, 2, 1, 3, 2])
    assert nc.sort(t(x)).indices.tolist() == np.argsort(x, kind="stable").tolist()
    assert nc.argsort(t(x), descending=True).tolist() == [4, 0, 2, 5, 1, 3]  # equal values: lower index first
    r = t(x).sort(descending=True)
    assert r.values.tolist() == [3, 2, 2, 2, 1, 1]


def test_nan_sorts_as_the_largest_value():
    x = nc.tensor([1.0, NAN, -1.0, NAN, 0.0])
    r = x.sort()
    assert r.indices.tolist() == [2, 4, 0, 1, 3]
    assert np.isnan(r.values.numpy()[3:]).all()
    assert x.sort(descending=True).indices.tolist() == [1, 3, 0, 4, 2]
    assert x.topk(2).indices.tolist() == [1, 3]
    assert x.topk(2, largest=False).indices.tolist() == [2, 4]


def test_topk_matches_stable_sort_on_random_rows():
    rng = np.random.default_rng(4)
    x = rng.integers(-3, 3, (6, 40)).astype(np.float32)
    order = np.argsort(-x, axis=1, kind="stable")[:, :7]
    r = nc.topk(t(x), 7, dim=1)
    assert r.indices.tolist() == order.tolist()
    np.testing.assert_array_equal(r.values.numpy(), np.take_along_axis(x, order, 1))
    order = np.argsort(x, axis=0, kind="stable")[:3]
    assert nc.topk(t(x), 3, dim=0, largest=False).indices.tolist() == order.tolist()


# ---- PyTorch agreement -----------------------------------------------------------------

@needs_torch
def test_agrees_with_torch():
    rng = np.random.default_rng(5)
    x = rng.integers(-3, 4, (4, 6)).astype(np.float64)
    x[1, 2] = x[3, 0] = NAN
    idx = rng.integers(0, 6, (4, 5))
    src = rng.standard_normal((4, 6))
    tx, ti, ts = torch.from_numpy(x), torch.from_numpy(idx), torch.from_numpy(src)
    nx, ni, ns = t(x), t(idx), t(src)
    eq = np.testing.assert_array_equal
    eq(nc.gather(nx, 1, ni).numpy(), torch.gather(tx, 1, ti).numpy())
    eq(nc.scatter_add(nx, 1, ni, ns).numpy(), torch.scatter_add(tx, 1, ti, ts).numpy())
    eq(nc.index_select(nx, 1, t(idx[0])).numpy(), torch.index_select(tx, 1, ti[0]).numpy())
    np.testing.assert_allclose(nc.cumsum(nx, 1).numpy(), torch.cumsum(tx, 1).numpy(), rtol=1e-12)
    np.testing.assert_allclose(nc.cumprod(nx, 0).numpy(), torch.cumprod(tx, 0).numpy(), rtol=1e-12)
    for descending in (False, True):
        n, p = nc.sort(nx, 1, descending), torch.sort(tx, dim=1, descending=descending, stable=True)
        eq(n.values.numpy(), p.values.numpy())
        eq(n.indices.numpy(), p.indices.numpy())
    n, p = nc.topk(nx, 3, 1), torch.topk(tx, 3, 1)
    eq(n.values.numpy(), p.values.numpy())
    # Gradients of gather and cumprod (with a zero) against autograd in PyTorch.
    y = np.array([[1.5, 0.0, 2.0, -1.0], [0.5, 3.0, 0.0, 0.0]])
    ny, py_ = t(y), torch.from_numpy(y)
    ny.requires_grad_(True)
    py_.requires_grad_(True)
    gi = np.array([[3, 3, 0], [1, 2, 2]])
    (nc.gather(ny, 1, t(gi)).sum() + ny.cumprod(1).sum()).backward()
    (torch.gather(py_, 1, torch.from_numpy(gi)).sum() + py_.cumprod(1).sum()).backward()
    np.testing.assert_allclose(ny.grad.numpy(), py_.grad.numpy(), rtol=1e-12)
    for call in (lambda m, a: m.gather(a, 1, a.new_zeros((1, 1)).long() + 9),
                 lambda m, a: m.topk(a, 9)):
        with pytest.raises((IndexError, RuntimeError)):
            call(torch, tx)
        with pytest.raises((IndexError, RuntimeError)):
            call(nc, nx)
