"""Tensor.register_post_accumulate_grad_hook (csrc/autograd, bindings/autograd_hooks.cpp): the
hook DistributedDataParallel starts its all-reduces from. Checked on its own: it runs once per
backward after .grad is accumulated and sees that gradient; the handle removes it; it receives
the object it was registered on; errors raised in a hook come back as Python exceptions; it is
refused on non-leaves and on tensors that do not require grad. Also AccumulateGrad.variable."""
import gc
import weakref

import numpy as np
import pytest

import nn_core as nc
from nn_core import nn


def test_runs_once_per_backward_after_accumulation():
    w = nc.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.numpy().copy()))
    # w is used twice in the graph: the hook still runs once, with the summed gradient
    (w * 2.0 + w * w).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 2.0 + 2 * np.array([1.0, 2.0, 3.0]))
    # a second backward accumulates: the hook sees the accumulated .grad
    (w * 3.0).sum().backward()
    assert len(seen) == 2
    np.testing.assert_allclose(seen[1], seen[0] + 3.0)


def test_hooks_run_in_registration_order_and_remove():
    w = nc.randn(4, requires_grad=True)
    calls = []
    h1 = w.register_post_accumulate_grad_hook(lambda p: calls.append("first"))
    h2 = w.register_post_accumulate_grad_hook(lambda p: calls.append("second"))
    w.sum().backward()
    assert calls == ["first", "second"]
    h1.remove()
    h1.remove()  # a second remove is a no-op
    w.sum().backward()
    assert calls == ["first", "second", "second"]
    with h2:
        pass  # leaving the with block removes it
    w.sum().backward()
    assert calls == ["first", "second", "second"]


def test_hook_gets_the_registered_object_and_may_edit_grad_in_place():
    lin = nn.Linear(3, 2)
    got = []

    def hook(p):
        got.append(p)
        p.grad.mul_(0.5)  # in place: the edit is what .grad holds afterwards

    lin.weight.register_post_accumulate_grad_hook(hook)
    x = nc.randn(5, 3)
    lin(x).sum().backward()
    assert got[0] is lin.weight and isinstance(got[0], nn.Parameter)
    np.testing.assert_allclose(lin.weight.grad.numpy(), 0.5 * np.tile(x.numpy().sum(0), (2, 1)), rtol=1e-5)


def test_hook_error_propagates_and_backward_can_run_again():
    w = nc.randn(3, requires_grad=True)

    def bad(_):
        raise ValueError("boom from hook")

    handle = w.register_post_accumulate_grad_hook(bad)
    with pytest.raises(ValueError, match="boom from hook"):
        (w * w).sum().backward()
    handle.remove()
    w.grad = None
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * w.detach().numpy(), rtol=1e-6)


def test_hook_must_return_none():
    w = nc.randn(3, requires_grad=True)
    w.register_post_accumulate_grad_hook(lambda p: 1)
    with pytest.raises(ValueError, match="must return None"):
        w.sum().backward()


def test_refused_on_non_leaf_and_on_tensor_without_grad():
    w = nc.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda p: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        nc.randn(3).register_post_accumulate_grad_hook(lambda p: None)
    with pytest.raises(TypeError, match="callable"):
        w.register_post_accumulate_grad_hook(3)


def test_hook_does_not_keep_the_tensor_alive():
    w = nc.randn(3, requires_grad=True)
    w.register_post_accumulate_grad_hook(lambda p: None)
    ref = weakref.ref(w)
    del w
    gc.collect()
    assert ref() is None


def test_hook_not_run_when_no_gradient_reaches_the_leaf():
    a = nc.randn(3, requires_grad=True)
    b = nc.randn(3, requires_grad=True)
    calls = []
    b.register_post_accumulate_grad_hook(lambda p: calls.append(1))
    a.sum().backward()
    assert calls == []


def test_accumulate_grad_variable_names_the_leaf():
    lin = nn.Linear(2, 2)
    out = lin(nc.randn(1, 2)).sum()
    leaves = set()
    stack = [out.grad_fn]
    while stack:
        node = stack.pop()
        if node.name() == "AccumulateGrad":
            leaves.add(node.variable._impl_id)
            continue
        with pytest.raises(AttributeError):
            node.variable
        stack.extend(n for n, _ in node.next_functions if n is not None)
    assert leaves == {lin.weight._impl_id, lin.bias._impl_id}
    assert lin.weight._impl_id != lin.bias._impl_id


def test_leaf_gradients_are_accumulated_as_soon_as_ready():
    """Note [Leaf gradients first]: a hook on the last layer runs before the earlier layers'
    backward has run (so data-parallel all-reduces overlap the rest of backward): an in-place
    edit of the first layer's weight (saved for its backward) from that hook is seen by it."""
    nc.manual_seed(0)
    l1, l2, l3 = nn.Linear(4, 8), nn.Linear(8, 8), nn.Linear(8, 2)
    order = []
    for name, layer in (("l1", l1), ("l2", l2), ("l3", l3)):
        layer.weight.register_post_accumulate_grad_hook(lambda p, name=name: order.append(name))
    x = nc.randn(3, 4, requires_grad=True)
    l3(l2(l1(x).relu()).relu()).sum().backward()
    assert order == ["l3", "l2", "l1"]

    def edit_first_layer(_):
        with nc.no_grad():
            l1.weight.mul_(1.0)

    handle = l3.weight.register_post_accumulate_grad_hook(edit_first_layer)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        l3(l2(l1(x).relu()).relu()).sum().backward()
    handle.remove()
