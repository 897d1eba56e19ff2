"""Trace and replay of every op of the harness (tests/op_db.py): each OpInfo's call is
traced by the runtime's tracer, the graph must hold a node of the op's schema row (so the
op is reachable from Python and recorded, never frozen into a constant), and an
InferenceSession built from it must replay the op on other input values exactly as the
eager call computes them. The inputs are the samples' base tensors; the layout views
(steps, reversals, permutations, expand) are traced too.

Also: every schema row has its plain binding in nn_core._C.ops, and the schema table
(nn_core._C.op_schema()) agrees with the op table."""
import numpy as np
import pytest
from hypothesis import given, seed, settings

import nn_core as nc
from nn_core.runtime import InferenceSession
import samples as S
from op_db import OP_DB, assert_close
from op_refs import Unspecified
from samples import SEED, examples

_C = nc._C

# Entries whose Python call reaches their row through another row: Python subscripts
# go through get_item / set_item, which record one node for the whole subscript.
REACHED_THROUGH = {"slice": "get_item", "select": "get_item", "index": "get_item", "index_put": "set_item"}


def _dtype(op):
    return "float32" if "float32" in op.dtypes else op.dtypes[0]


def _flat(out):
    if isinstance(out, (tuple, list)):
        return tuple(o for x in out for o in _flat(x))
    return (out,)


def _model(op, s):
    """(model, base values): model(*bases) applies each argument's layout recipe to its
    base tensor and calls the op; a sample without tensors gets one ignored input."""
    targs = s.tensors()

    def model(*bases):
        table = {id(a): b for a, b in zip(targs, bases)}
        args, kwargs = s.map(lambda a: a.view(table[id(a)]))
        return _flat(op.op(*args, **kwargs))

    values = [(a.base, a.dt) for a in targs]
    if not values:
        return (lambda _unused: model()), [(np.zeros(1, np.float32), "float32")]
    return model, values


def _fresh(values, roll=0):
    return [S.make(np.roll(v.reshape(-1), roll).reshape(v.shape) if roll else v, dt) for v, dt in values]


@pytest.mark.parametrize("op", OP_DB, ids=lambda op: op.name)
def test_trace_and_replay(op):
    dt = _dtype(op)
    row = REACHED_THROUGH.get(op.name, op.name)
    recorded = set()  # rows recorded over all examples (x.max() is amax, contiguous() of a
    # contiguous tensor records nothing: the row must show up in some example, not all)

    @seed(SEED)
    @settings(max_examples=examples(8), deadline=None)
    @given(op.samples(dt))
    def run(s):
        args, kwargs = s.np_args()
        try:
            op.ref(*args, **kwargs)
        except (Unspecified, ValueError, IndexError):
            return  # invalid samples: the forward test checks the error
        model, values = _model(op, s)
        inputs = _fresh(values)
        tracer = _C._RuntimeTracer()
        tracer.begin(inputs, [])
        try:
            out = model(*inputs)
        except BaseException:
            tracer.abort()
            raise
        graph = tracer.finish(list(out))
        recorded.update(graph.node_ops())

        sess = InferenceSession(model, _fresh(values), dynamic_axes={})
        for roll in (0, 1):  # the traced values, then others (a frozen result would differ)
            want = model(*_fresh(values, roll))
            got = _flat(sess.run(*_fresh(values, roll)))
            assert len(got) == len(want), f"{op.name} {s}: {len(got)} outputs replayed, eager gives {len(want)}"
            for g, w in zip(got, want):
                assert g.dtype == w.dtype, f"{op.name} {s}: replayed dtype {g.dtype}, eager {w.dtype}"
                assert_close(g, S.to_np(w), tol=op.tol, what=f"{op.name} {s} replay (roll {roll})")

    run()
    assert row in recorded, f"{op.name}: no example recorded a '{row}' node (recorded: {sorted(recorded)})"


def test_every_row_has_a_binding_and_a_schema():
    rows = {name for name, _, _ in _C.op_table()}
    schema = {r["name"]: r for r in _C.op_schema()}
    assert set(schema) == rows
    missing = sorted(r for r in rows if not callable(getattr(_C.ops, r, None)))
    assert not missing, f"schema rows without a binding in nn_core._C.ops: {missing}"
    for name, family, diff in _C.op_table():
        r = schema[name]
        assert (r["family"], r["differentiable"]) == (family, diff), name
        assert r["signature"].startswith(r["cpp_name"] + "("), r
        assert _C.ops.__dict__[name].__doc__.strip().splitlines()[-1].startswith(r["cpp_name"] + "("), name


# Rows traced by test_rows_traced_through_their_plain_binding (their OpInfo reaches them
# through another row, or, for dropout, samples only its deterministic cases).
PLAIN_TRACED = {"slice", "select", "index", "index_put", "dropout"}


def test_every_row_is_covered_by_the_trace_harness():
    """A row no test traces is neither known to be bound nor known to be traced."""
    reached = {REACHED_THROUGH.get(op.name, op.name) for op in OP_DB} | PLAIN_TRACED
    missing = {name for name, _, _ in _C.op_table()} - reached
    assert not missing, f"schema rows no trace test reaches: {sorted(missing)}"


def test_plain_bindings_call_the_op():
    x = nc.tensor([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]])
    assert _C.ops.slice(x, 1, 0, None, 2).tolist() == [[1.0, 3.0], [4.0, -6.0]]
    assert _C.ops.select(x, 0, -1).tolist() == [4.0, 5.0, -6.0]
    assert _C.ops.sum(x, [1], True).tolist() == [[2.0], [3.0]]
    assert _C.ops.linear(x, nc.ones(1, 3), None).tolist() == [[2.0], [3.0]]  # default activation "none"
    assert _C.ops.full([2], 1.5).tolist() == [1.5, 1.5]  # default dtype float32
    assert _C.ops.full([2], 1.5).dtype == nc.float32
    y = x.clone()
    _C.ops.unary_("relu", y)
    assert y.tolist() == [[1.0, 0.0, 3.0], [4.0, 5.0, 0.0]]
    with pytest.raises(ValueError, match="no op named 'relux'"):
        _C.ops.unary_("relux", y)
    with pytest.raises(TypeError):
        _C.ops.slice(x, "1", 0, None, 1)
    # A row of another family is a clear error, not a missing kernel.
    with pytest.raises(ValueError, match="unary_: 'add' is not a unary op"):
        _C.ops.unary_("add", y)
    with pytest.raises(ValueError, match="binary_: 'relu' is not a binary op"):
        _C.ops.binary_("relu", y, y)


def _trace(inputs, fn):
    tracer = _C._RuntimeTracer()
    tracer.begin(inputs, [])
    try:
        out = fn(*inputs)
    except BaseException:
        tracer.abort()
        raise
    return tracer.finish(list(_flat(out)))


def test_rows_traced_through_their_plain_binding():
    x = nc.tensor([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]])
    i = nc.tensor([1, 0])
    g = _trace([x], lambda x: _C.ops.select(_C.ops.slice(x, 1, 1, None, 1), 1, 0))
    assert g.node_ops() == ["slice", "select"]
    g = _trace([x, i], lambda x, i: _C.ops.index(x, [None, i]))
    assert g.node_ops() == ["index"]
    g = _trace([x, i], lambda x, i: x.index_put([i], nc.tensor(7.0), accumulate=True))
    assert g.node_ops() == ["index_put"]
    assert x.index_put([i], nc.tensor(7.0), accumulate=True).tolist() == [[8.0, 5.0, 10.0], [11.0, 12.0, 1.0]]
    g = _trace([x], lambda x: nc.functional.dropout(x, 0.5, training=True))
    assert g.node_ops() == ["dropout"]
    sess = InferenceSession(lambda x: nc.functional.dropout(x, 0.5, training=True), nc.ones(64, 64), dynamic_axes={})
    a, b = sess.run(nc.ones(64, 64)).numpy(), sess.run(nc.ones(64, 64)).numpy()
    # A replayed dropout draws a new mask each run (not a constant), scaling kept values by 2.
    assert set(np.unique(a)) <= {0.0, 2.0} and (a != b).any() and 0.3 < (a == 0).mean() < 0.7


def test_schema_arguments_are_typed():
    known = {"Tensor", "Tensor?", "Tensor(a!)", "Tensor[]", "Tensor?[]", "int", "int?", "int[]", "int[]?", "SymInt",
             "SymInt?", "SymInt[]", "float", "float?", "Scalar", "bool", "str", "ScalarType", "ScalarType?", "OpId",
             "IndexKey", "QWeight"}
    rows = {r["name"]: r for r in _C.op_schema()}
    for r in rows.values():
        assert r["args"] and all(t in known for _, t in r["args"]), r
    assert rows["linear"]["args"] == [("x", "Tensor"), ("weight", "Tensor"), ("bias", "Tensor?"),
                                      ("activation", "str")]
    assert rows["copy_"]["returns"] == "()" and rows["copy_"]["args"][0][1] == "Tensor(a!)"
    assert rows["max"]["label"] == "max_dim" and rows["max"]["returns"] == "(Tensor, Tensor)"
