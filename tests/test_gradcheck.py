"""Gradients: every differentiable op of tests/op_db.py against float64 central
differences (nn_core.autograd.gradcheck), on samples whose leaves are viewed through
slices with steps, reversals, permutations and expand before the op; then the engine's
behaviour: accumulation, retain_graph, deep graphs, and its error cases."""
import textwrap

import numpy as np
import pytest
from hypothesis import given, seed, settings

import nn_core as nc
from child_process import run_python
import samples as S
from op_db import OP_DB
from op_refs import Unspecified
from samples import SEED, examples

gradcheck = nc.autograd.gradcheck


def as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else out


@pytest.mark.parametrize("op", [op for op in OP_DB if op.differentiable], ids=lambda op: op.name)
def test_gradcheck_op(op):
    @seed(SEED)
    @settings(max_examples=examples(10))
    @given(op.samples("float64", S.GRAD))
    def run(s):
        args, kwargs = s.np_args()
        try:
            op.ref(*args, **kwargs)
        except (Unspecified, ValueError, IndexError):
            return  # the forward test checks that the op rejects it
        leaves, build = s.for_gradcheck()
        if not leaves:
            return

        def f(*ls):
            a, k = build(*ls)
            return as_tuple(op.grad["out"](op.op(*a, **k)))

        assert gradcheck(f, leaves, eps=op.grad["eps"], atol=op.grad["atol"], rtol=op.grad["rtol"]), s

    run()


def test_gradcheck_detects_a_wrong_gradient():
    """The tool itself: x.detach() * x has true derivative 2x, the engine sees x."""
    x = nc.tensor([0.5, -1.5], dtype=nc.float64, requires_grad=True)
    assert not gradcheck(lambda x: x.detach() * x, [x], raise_exception=False)
    with pytest.raises(AssertionError):
        gradcheck(lambda x: x.detach() * x, [x])
    assert gradcheck(lambda x: x * x, [x])


def leaf(rng, *shape):
    return nc.tensor(rng.uniform(-2, 2, shape), requires_grad=True)


# ---- views, broadcasting and indexing ------------------------------------------------

def test_grad_through_views(rng):
    x = leaf(rng, 5, 6)
    assert gradcheck(lambda x: x[1:, ::2].T * x[:-1, 1::2].T, [x])
    assert gradcheck(lambda x: x[::-1, 2:].permute(1, 0).reshape(-1)[3:11], [x])
    assert gradcheck(lambda x: x.unsqueeze(0).expand(3, 5, 6).sum(0) * x.transpose(0, 1).T, [x])
    assert gradcheck(lambda x: x.view(3, 10)[:, 4:].flatten() ** 2, [x])


def test_grad_through_broadcasting(rng):
    a, b, c = leaf(rng, 3, 1), leaf(rng, 4), leaf(rng, 2, 1, 1)
    assert gradcheck(lambda a, b, c: a * b + c, [a, b, c])
    assert gradcheck(lambda a, b: nc.maximum(a, b) / (b * b + 1), [a, b])
    assert gradcheck(lambda a: nc.broadcast_to(a, (2, 3, 5)), [a])


def test_grad_through_indexing(rng):
    x = leaf(rng, 5, 4)
    idx = nc.tensor([0, 3, 3, -1, 0])  # repeated indices: their gradients add up
    mask = nc.tensor(rng.random((5, 4)) < 0.5)
    assert gradcheck(lambda x: x[idx], [x])
    assert gradcheck(lambda x: x[idx, 1:], [x])
    assert gradcheck(lambda x: x[:, [2, 2, 0]] * 3, [x])
    assert gradcheck(lambda x: x[mask], [x])
    assert gradcheck(lambda x: x[idx, nc.tensor([1, 1, 2, 3, 0])], [x])
    x.grad = None
    x[idx].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[:, 0], [2, 0, 0, 2, 1])


def test_grad_through_setitem(rng):
    x, v = leaf(rng, 4, 3), leaf(rng, 3)

    def basic(x, v):
        y = x.clone()
        y[1] = v  # basic key: writes through a view
        y[2:, ::2] = v[:2] * 2
        return y

    def advanced(x, v):
        y = x * 1
        y[nc.tensor([3, 0])] = v  # advanced key: scatter, v broadcast to (2, 3)
        y[y > 1.5] = 0.0  # bool mask with a scalar
        return y

    assert gradcheck(basic, [x, v])
    assert gradcheck(advanced, [x, v])


# ---- accumulation and retain_graph ----------------------------------------------------

def test_tensor_used_twice_accumulates():
    x = nc.tensor([1.5, -2.0, 0.25], dtype=nc.float64, requires_grad=True)
    (x * x + x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * np.array([1.5, -2.0, 0.25]) + 1)


def test_grad_accumulates_across_backward_calls():
    x = nc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * 2).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 6.0, 8.0])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0, 3.0])


def test_retain_graph_allows_second_backward():
    x = nc.tensor([0.5, 1.0], dtype=nc.float64, requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-15)
    np.testing.assert_allclose(first, np.exp([0.5, 1.0]) * (1 + np.array([0.5, 1.0])), rtol=1e-15)


def test_backward_with_explicit_gradient_and_grad_metadata():
    x = nc.tensor(np.arange(6.0).reshape(2, 3), dtype=nc.float32, requires_grad=True)
    y = x * 2
    y.backward(nc.tensor([[1.0, 0.0, 2.0], [0.5, 1.0, 1.0]]))
    assert x.grad.dtype == nc.float32 and tuple(x.grad.shape) == (2, 3)
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 0, 4], [1, 2, 2]])
    with pytest.raises((ValueError, RuntimeError)):
        (x * 2).backward(nc.ones(3, 2))  # gradient of the wrong shape


def test_cast_backward_returns_input_dtype():
    x = nc.tensor([1.0, 2.0], dtype=nc.float64, requires_grad=True)
    (x.to(nc.float32) * 3).sum().backward()
    assert x.grad.dtype == nc.float64
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_mlp_step_against_numpy_backprop(rng):
    """End to end: a 2-layer MLP with softmax cross-entropy, gradients derived by hand
    in NumPy (an independent implementation) vs the engine, in float64."""
    x, y = rng.standard_normal((32, 10)), rng.integers(0, 5, 32)
    w1, b1 = rng.standard_normal((10, 16)) * 0.3, rng.standard_normal(16) * 0.1
    w2, b2 = rng.standard_normal((16, 5)) * 0.3, rng.standard_normal(5) * 0.1
    # numpy forward and backward
    h_pre = x @ w1 + b1
    h = np.maximum(h_pre, 0)
    logits = h @ w2 + b2
    z = logits - logits.max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(32), y]))
    d_logits = p.copy()
    d_logits[np.arange(32), y] -= 1
    d_logits /= 32
    g_w2, g_b2 = h.T @ d_logits, d_logits.sum(0)
    d_h = (d_logits @ w2.T) * (h_pre > 0)
    g_w1, g_b1 = x.T @ d_h, d_h.sum(0)
    # nn_core
    params = [nc.tensor(v, requires_grad=True) for v in (w1, b1, w2, b2)]
    W1, B1, W2, B2 = params
    out = (nc.tensor(x) @ W1 + B1).relu() @ W2 + B2
    nll = -nc.functional.log_softmax(out, 1)[nc.arange(32), nc.tensor(y)].mean()
    nll.backward()
    np.testing.assert_allclose(nll.item(), loss, rtol=1e-12)
    for got, want in zip(params, (g_w1, g_b1, g_w2, g_b2)):
        np.testing.assert_allclose(got.grad.numpy(), want, rtol=1e-10, atol=1e-14)


def test_inplace_ops_on_non_leaf_tensors_backward(rng):
    x = leaf(rng, 6)

    def f(x):
        y = x * 2
        y.add_(1)  # mul saved x, not y: in place on y is fine
        y.exp_()  # exp_ saves its result
        y.mul_(0.5)
        z = x.clone()
        z[1:4] = y[:3]  # setitem on a non-leaf
        z.clamp_(-1.0, 3.0)
        return z * y

    assert gradcheck(f, [x])


@pytest.mark.parametrize("dt", ["float32", "float16", "bfloat16"])
def test_gradients_keep_the_leaf_dtype(dt):
    v = S.quantize(np.array([0.5, -1.25, 2.0]), dt)
    x = S.make(v, dt, requires_grad=True)
    (x * x + x).sum().backward()
    assert x.grad.dtype == getattr(nc, dt) and tuple(x.grad.shape) == (3,)
    np.testing.assert_allclose(S.to_np(x.grad).astype(np.float64), 2 * v + 1, rtol=1e-2)


# ---- deep graphs -----------------------------------------------------------------------

DEEP = textwrap.dedent("""
    import nn_core as nc
    x = nc.tensor([1.0], dtype=nc.float64, requires_grad=True)
    y = x
    for _ in range({n}):
        y = y * 1.0001 + 0.0
    y.sum().backward()
    want = 1.0001 ** {n}
    assert abs(x.grad.item() - want) < 1e-9 * want, (x.grad.item(), want)
    z = x
    for _ in range({n}):
        z = z.exp().log()  # freed without backward: the graph must be torn down iteratively
    del z
    print("ok")
""")


def run_child(code):
    return run_python(["-X", "faulthandler", "-c", code], timeout=300)


def test_deep_chains_in_subprocess():
    """10,000 and 100,000 ops deep, in a child: a stack overflow fails only this test."""
    r = run_child(DEEP.format(n=10_000) + DEEP.format(n=100_000))
    assert r.returncode == 0 and r.stdout.count("ok") == 2, \
        f"child exited with {r.returncode} (negative: killed by signal)\n{r.stderr[-3000:]}"


def test_deep_chain_in_process():
    x = nc.tensor([2.0], dtype=nc.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y + x * 1e-4
    y.backward(nc.ones(1, dtype=nc.float64))
    assert abs(x.grad.item() - 2.0) < 1e-12


# ---- errors --------------------------------------------------------------------------

def test_backward_of_non_scalar_needs_gradient():
    x = nc.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError):
        (x * 2).backward()


def test_second_backward_without_retain_graph_fails():
    x = nc.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()  # mul saves its inputs
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_saved_tensor_modified_in_place_fails():
    x = nc.tensor([1.0, 2.0], requires_grad=True)
    a = x * 1
    y = (a * a).sum()  # saves a
    a.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    b = x.exp()  # exp saves its result
    b.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        b.sum().backward()


def test_in_place_on_leaf_requiring_grad_fails():
    x = nc.tensor([1.0, 2.0], requires_grad=True)
    for f in (lambda: x.add_(1), lambda: x.mul_(2), lambda: x.fill_(0), lambda: x.zero_(),
              lambda: x.__setitem__(0, 5.0), lambda: x[0:1].copy_(nc.ones(1))):
        with pytest.raises(RuntimeError):
            f()
    with nc.no_grad():
        x.add_(1)  # allowed without grad recording
    assert x.tolist() == [2.0, 3.0] and x._version > 0


def test_backward_without_grad_requirement_fails():
    with pytest.raises(RuntimeError):
        nc.ones(2).sum().backward()
    with pytest.raises((TypeError, RuntimeError)):
        nc.tensor([1, 2]).requires_grad_(True)  # integer tensors cannot require grad


def test_softplus_gradient_is_sigmoid_at_the_kink():
    """softplus is built from max/abs, both kinked at 0; its derivative there is sigmoid(0) = 1/2
    (gradcheck at random points would not land on 0)."""
    x = nc.tensor([0.0, -3.0, 2.5], dtype=nc.float64, requires_grad=True)
    nc.functional.softplus(x).sum().backward()
    expected = 1 / (1 + np.exp(-np.array([0.0, -3.0, 2.5])))
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12, atol=0)
    assert abs(nc.functional.softplus(nc.tensor([-50.0], dtype=nc.float64)).item() - np.exp(-50.0)) < 1e-30
