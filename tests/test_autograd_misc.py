"""Autograd bookkeeping: grad mode (no_grad / enable_grad / set_grad_enabled, as
context managers and decorators, thread-local), detach, requires_grad / requires_grad_,
is_leaf, grad_fn and its names."""
import threading

import numpy as np
import pytest

import nn_core as nc


def in_thread(fn):
    """Runs fn in a new thread and returns its result (re-raising its exception)."""
    box = {}

    def run():
        try:
            box["result"] = fn()
        except BaseException as e:  # noqa: BLE001 -- handed back to the caller
            box["error"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["result"]


def records_graph():
    x = nc.ones(2, requires_grad=True)
    return (x * 2).requires_grad


def test_grad_mode_context_managers_and_nesting():
    assert nc.is_grad_enabled()
    x = nc.ones(2, requires_grad=True)
    with nc.no_grad():
        assert not nc.is_grad_enabled()
        y = x * 2
        assert not y.requires_grad and y.grad_fn is None and y.is_leaf
        with nc.enable_grad():
            assert nc.is_grad_enabled() and (x * 2).requires_grad
        assert not nc.is_grad_enabled()
    assert nc.is_grad_enabled()
    with nc.set_grad_enabled(False):
        assert not records_graph()
    assert nc.is_grad_enabled()
    nc.set_grad_enabled(False)  # as a plain function call
    try:
        assert not nc.is_grad_enabled() and not records_graph()
    finally:
        nc.set_grad_enabled(True)
    assert records_graph()


def test_grad_mode_restored_after_exception():
    with pytest.raises(KeyError):
        with nc.no_grad():
            raise KeyError("boom")
    assert nc.is_grad_enabled()


def test_no_grad_as_decorator():
    @nc.no_grad()
    def f(x):
        return x * 3, nc.is_grad_enabled()

    y, enabled = f(nc.ones(1, requires_grad=True))
    assert not enabled and not y.requires_grad and nc.is_grad_enabled()

    @nc.enable_grad()
    def g(x):
        return x * 3

    with nc.no_grad():
        assert g(nc.ones(1, requires_grad=True)).requires_grad


def test_grad_mode_is_thread_local():
    with nc.no_grad():
        # another thread starts with grad enabled and records graphs
        assert in_thread(lambda: (nc.is_grad_enabled(), records_graph())) == (True, True)
        assert not nc.is_grad_enabled()

    def disable_in_thread():
        nc.set_grad_enabled(False)
        return nc.is_grad_enabled(), records_graph()

    assert in_thread(disable_in_thread) == (False, False)
    assert nc.is_grad_enabled() and records_graph()  # the main thread is untouched
    barrier = threading.Barrier(2)
    seen = {}

    def worker(flag):
        with nc.set_grad_enabled(flag):
            barrier.wait()  # both threads are inside their context at once
            seen[flag] = (nc.is_grad_enabled(), records_graph())
            barrier.wait()

    threads = [threading.Thread(target=worker, args=(f,)) for f in (True, False)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {True: (True, True), False: (False, False)}


def test_backward_in_a_thread():
    def work():
        x = nc.tensor([1.0, 2.0], requires_grad=True)
        (x * x).sum().backward()
        return x.grad.tolist()

    assert in_thread(work) == [2.0, 4.0]


def test_detach_shares_storage_and_cuts_the_graph():
    x = nc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert d.data_ptr() == y.data_ptr()
    d[0] = 10.0  # visible through y: same storage
    assert y[0].item() == 10.0
    z = (d * x).sum()
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [10.0, 4.0, 6.0])  # no gradient through d
    e = x.exp()
    e.detach().mul_(2)  # shares the version counter: the saved result is now stale
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        e.sum().backward()


def test_requires_grad_and_is_leaf():
    a = nc.ones(2)
    assert not a.requires_grad and a.is_leaf and a.grad is None
    r = a.requires_grad_()
    assert r.data_ptr() == a.data_ptr() and a.requires_grad and a.is_leaf
    a.requires_grad = False
    assert not a.requires_grad
    a.requires_grad = True
    b = a * 2
    assert b.requires_grad and not b.is_leaf and b.grad_fn is not None
    c = nc.ones(2) * 2  # no input requires grad: a leaf without history
    assert not c.requires_grad and c.is_leaf and c.grad_fn is None
    assert nc.zeros(2, requires_grad=True).requires_grad
    assert nc.tensor([1.0], requires_grad=True).is_leaf
    with pytest.raises(RuntimeError):
        b.requires_grad_(False)  # only leaves can stop requiring grad
    (b * b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [8.0, 8.0])
    a.grad = nc.zeros(2)  # .grad is settable
    assert a.grad.tolist() == [0.0, 0.0]
    for dt in (nc.int64, nc.int32, nc.bool, nc.uint8):
        with pytest.raises((TypeError, RuntimeError)):
            nc.zeros(2, dtype=dt).requires_grad_(True)


def test_requires_grad_propagates_through_every_kind_of_op():
    x = nc.ones(2, 3, requires_grad=True)
    c = nc.ones(2, 3)
    outs = [x + c, c * x, x.T, x[0], x[:, ::2], x.reshape(6), x.sum(1), nc.cat([c, x]), nc.stack([x, c]),
            nc.where(c > 0, x, c), x.to(nc.float64), x.T.contiguous(), x.expand(4, 2, 3), x.max(), x.split(1)[0]]
    for o in outs:
        assert o.requires_grad and not o.is_leaf, o
    assert not (x > 0).requires_grad and not x.argmax().requires_grad  # no gradient for these


GRAD_FN_NAMES = [
    (lambda x: x * 2, "MulBackward"), (lambda x: x + 1, "AddBackward"), (lambda x: x - 1, "SubBackward"),
    (lambda x: x / 2, "DivBackward"), (lambda x: x.exp(), "ExpBackward"), (lambda x: x.sum(), "SumBackward"),
    (lambda x: x.relu(), "ReluBackward"), (lambda x: x.tanh(), "TanhBackward"), (lambda x: -x, "NegBackward"),
    (lambda x: x.sqrt(), "SqrtBackward"), (lambda x: x.log(), "LogBackward"),
]


@pytest.mark.parametrize("f,name", GRAD_FN_NAMES, ids=[n for _, n in GRAD_FN_NAMES])
def test_grad_fn_names(f, name):
    x = nc.ones(2, 2, requires_grad=True)
    fn = f(x).grad_fn
    assert fn is not None
    got = fn.name()
    # PyTorch style: the op's name in CamelCase + "Backward" (PyTorch appends a digit)
    assert got.rstrip("0123456789") == name, got
