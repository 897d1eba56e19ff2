"""The derivative formulas of the op schema (csrc/ops/ops.schema) and the autograd layer
generated from them (tools/gen_ops.py -> autograd_generated.cpp).

The gradient values themselves are checked by the float64 finite-difference harness
(tests/test_gradcheck.py) on every differentiable OpInfo; here: that every row that must
carry formulas does, that the fused derivative rows are used and not differentiable, and
that the layer saves exactly what the formulas name (PyTorch's rules for in-place edits
of saved tensors)."""
import re

import numpy as np
import pytest

import nn_core as nc

SCHEMA = {row["name"]: row for row in nc._C.op_schema()}
FUSED = ["relu_backward", "sigmoid_backward", "tanh_backward", "gelu_backward", "silu_backward",
         "hardswish_backward", "mish_backward"]


def tensor_inputs(row):
    return [name for name, kind in row["args"] if kind in ("Tensor", "Tensor?")]


def test_every_differentiable_elementwise_and_reduce_row_has_its_formulas():
    checked = 0
    for row in SCHEMA.values():
        if row["family"] in ("unary", "binary", "reduce") and row["differentiable"]:
            assert sorted(row["derivatives"]) == sorted(tensor_inputs(row)), row["name"]
            checked += 1
        if not row["differentiable"]:
            assert row["derivatives"] == {}, f"{row['name']}: formulas on a row without grad"
    assert checked >= 40


def test_unary_formulas_leave_the_kernels_except_the_fused_rows():
    # A unary derivative is a formula over ops; the only kernels it may reach are the
    # fused derivative rows, which are ops of the schema themselves.
    # Every function a unary formula calls is an op of the schema (its C++ name) or the
    # scalar() literal helper: no kernel, no helper that could hide device code.
    ops = {row["cpp_name"] for row in SCHEMA.values()}
    checked = 0
    for row in SCHEMA.values():
        if row["family"] == "unary" and row["differentiable"]:
            called = set(re.findall(r"(\w+)\s*\(", row["derivatives"]["x"]))
            assert called <= ops | {"scalar"}, f"{row['name']}: {sorted(called - ops - {'scalar'})}"
            checked += 1
    assert checked >= 25
    named = " ".join(f for row in SCHEMA.values() for f in row["derivatives"].values())
    for name in FUSED:
        assert name in SCHEMA and SCHEMA[name]["family"] == "special"
        assert not SCHEMA[name]["differentiable"], name
        assert f"{name}(" in named, f"{name} is named by no formula"


def test_fused_rows_check_their_operands():
    g = nc.ones([3])
    with pytest.raises(ValueError, match=r"tanh_backward: grad_output of shape \(3,\) and input of shape \(2,\)"):
        nc._C.ops.tanh_backward(g, nc.ones([2]))
    with pytest.raises(TypeError, match="silu_backward: expected floating-point tensors"):
        nc._C.ops.silu_backward(g, nc.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="gelu_backward: approximate must be 'none' or 'tanh'"):
        nc._C.ops.gelu_backward(g, g, approximate="fast")


def leaf(values):
    return nc.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def test_a_formula_that_names_only_sizes_saves_nothing():
    # sum's formula keeps x.sizes(), add's none of its inputs: editing them in place after
    # the op leaves backward valid (as in PyTorch).
    a = leaf([1.0, 2.0, 3.0])
    x = a * 1.0
    s = x.sum()
    x.add_(1.0)
    s.backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 1.0, 1.0])
    b = leaf([1.0, 2.0])
    y = b * 1.0
    z = y + y
    y.mul_(3.0)
    z.sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), [2.0, 2.0])


def test_a_saved_input_edited_in_place_is_an_error_naming_the_node():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    bb = b * 1.0
    p = a * bb  # saves bb for a's gradient
    bb.add_(1.0)
    with pytest.raises(RuntimeError, match="MulBackward"):
        p.sum().backward()


def test_only_the_inputs_that_need_grad_are_saved():
    # mul saves b only for a's gradient: when a needs none, b may change afterwards.
    a = nc.tensor(np.array([1.0, 2.0]))
    b = leaf([3.0, 4.0])
    bb = b * 1.0
    p = a * bb
    bb.add_(1.0)  # not saved: a does not need grad
    p.sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 2.0])


def test_saved_result_edited_in_place_is_an_error():
    a = leaf([0.5, 1.0])
    y = a.exp()  # exp's formula saves its result
    y.mul_(2.0)
    with pytest.raises(RuntimeError, match="ExpBackward"):
        y.sum().backward()


def test_broadcast_gradients_are_summed_to_the_input_shape_and_dtype():
    a = nc.tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    b = nc.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)  # float64, broadcast
    (a * b).sum().backward()
    assert a.grad.dtype == nc.float32 and tuple(a.grad.shape) == (2, 3)
    assert b.grad.dtype == nc.float64 and tuple(b.grad.shape) == (3,)
    np.testing.assert_allclose(a.grad.numpy(), np.broadcast_to([1.0, 2.0, 3.0], (2, 3)))
    np.testing.assert_allclose(b.grad.numpy(), [2.0, 2.0, 2.0])


def test_node_names_and_multi_output_rows():
    x = leaf([[1.0, 5.0], [3.0, 2.0]])
    values, indices = nc.max(x, 1)
    assert values.grad_fn.name() == "MaxBackward"
    assert indices.grad_fn is None and not indices.requires_grad
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 1.0], [1.0, 0.0]])
    assert x.tanh().grad_fn.name() == "TanhBackward"
    assert nc.functional.gelu(x, approximate="tanh").grad_fn.name() == "GeluTanhBackward"


def test_no_node_without_grad_mode_or_for_integer_results():
    x = leaf([1.0, 2.0])
    with nc.no_grad():
        assert x.exp().grad_fn is None
    assert nc.tensor([1, 2]).sum().grad_fn is None
    assert (x.sum(dtype=nc.int64)).grad_fn is None


@pytest.mark.parametrize("row,approximate", [("gelu_backward", "none"), ("gelu_backward", "tanh"),
                                             ("silu_backward", None), ("relu_backward", None),
                                             ("hardswish_backward", None)])
def test_vectorised_derivatives_match_the_plain_functor_on_every_isa(row, approximate, isa):
    """float32 runs the vectorised loop of cpu/vec_math.h; float64 runs the functor's deriv
    (the plain reference). Dense grid over both tails, special values, strided operands."""
    kw = {} if approximate is None else {"approximate": approximate}
    op = getattr(nc._C.ops, row)
    x = np.concatenate([np.linspace(-14, 14, 40001), [0.0, -0.0, 1e-30, -1e-30]]).astype(np.float32)
    g = np.random.default_rng(3).uniform(-2, 2, x.size).astype(np.float32)
    got = op(nc.from_numpy(g), nc.from_numpy(x), **kw).numpy().astype(np.float64)
    ref = op(nc.from_numpy(g.astype(np.float64)), nc.from_numpy(x.astype(np.float64)), **kw).numpy()
    # the derivative's terms are at most ~1.13 in size: compare on that scale
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-6 * np.abs(g).max())
    special = np.array([np.inf, -np.inf, np.nan, 40.0, -40.0], np.float32)
    got_s = op(nc.ones([5]), nc.from_numpy(special), **kw).numpy()
    ref_s = op(nc.ones([5], dtype=nc.float64), nc.from_numpy(special.astype(np.float64)), **kw).numpy()
    np.testing.assert_array_equal(np.isnan(got_s), np.isnan(ref_s))
    finite = ~np.isnan(ref_s)
    np.testing.assert_allclose(got_s[finite], ref_s[finite], rtol=1e-6, atol=1e-30)
    gs = nc.from_numpy(g[:2000].reshape(40, 50)).T
    xs = nc.from_numpy(x[:2000].reshape(40, 50)).T
    np.testing.assert_allclose(op(gs, xs, **kw).numpy(), got[:2000].reshape(40, 50).T, rtol=1e-6, atol=1e-7)
