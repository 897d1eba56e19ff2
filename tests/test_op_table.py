"""The C++ op table and the test harness list the same ops: a row added to
csrc/kernels/op_table.h without an OpInfo entry in tests/op_db.py (or the reverse) fails."""
import numpy as np
import pytest

import nn_core as nc
import samples as S
from op_db import OP_DB, OPS, OpInfo, assert_close, check_forward
from samples import Sample


def table():
    return nc._C.op_table()


def test_op_table_rows_are_well_formed():
    rows = table()
    assert len(rows) == len({name for name, _, _ in rows}), "duplicate names in the C++ op table"
    families = {"unary", "binary", "compare", "reduce", "composite", "shape", "special"}
    for name, family, diff in rows:
        assert isinstance(name, str) and family in families and isinstance(diff, bool), (name, family, diff)


def test_every_table_op_has_an_opinfo_and_back():
    in_table = {name for name, _, _ in table()}
    in_db = set(OPS)
    assert in_table - in_db == set(), f"ops in the C++ table without an OpInfo: {sorted(in_table - in_db)}"
    assert in_db - in_table == set(), f"OpInfo entries for ops not in the C++ table: {sorted(in_db - in_table)}"


def test_differentiable_flags_agree():
    wrong = {name: (diff, OPS[name].differentiable) for name, _, diff in table()
             if name in OPS and OPS[name].differentiable != diff}
    assert not wrong, f"differentiable flag (C++ table, op_db) disagree: {wrong}"


def test_families_agree():
    wrong = {name: (fam, OPS[name].family) for name, fam, _ in table() if name in OPS and OPS[name].family != fam}
    assert not wrong, f"family (C++ table, op_db) disagree: {wrong}"


def test_every_entry_has_dtypes_and_a_reference():
    for op in OP_DB:
        assert op.dtypes and callable(op.op) and callable(op.ref) and callable(op.sample), op.name


# ---- the harness itself: it must notice wrong results ------------------------------------------

def wrong(name, call, **kw):
    op = OPS[name]
    return OpInfo(name, op.family, call, op.ref, op.sample, dtypes=op.dtypes, out_dtype=op.out_dtype, **kw)


def exp_sample(dt="float32"):
    x = S.quantize(np.linspace(-3, 3, 129), dt)
    return Sample(S.TArg(x, dt), dt=dt)


def test_harness_accepts_a_correct_op_within_tolerance():
    check_forward(OPS["exp"], exp_sample())
    check_forward(wrong("exp", lambda x: x.exp() * (1 + 2e-6)), exp_sample())  # inside rtol 1e-5


@pytest.mark.parametrize("call,match", [
    (lambda x: x.exp() * (1 + 1e-4), r"elements differ.*first:\n  at \(0,\)"),  # value error, 10x rtol
    (lambda x: x.exp()[:-1], "shape"),
    (lambda x: x.exp().double(), "dtype"),
    (lambda x: x.exp().reshape(1, 129), "shape"),
])
def test_harness_rejects_wrong_results(call, match):
    with pytest.raises(AssertionError, match=match):
        check_forward(wrong("exp", call), exp_sample())


def test_harness_rejects_ops_that_accept_invalid_input():
    empty = Sample(S.TArg(np.zeros((0, 3)), "float32"), dt="float32", dim=0, keepdim=False)
    with pytest.raises(pytest.fail.Exception, match="accepted"):
        check_forward(wrong("amax", lambda x, **kw: nc.zeros(3)), empty)
    check_forward(OPS["amax"], empty)  # the real op raises


def test_harness_exact_for_integers_and_nan_aware():
    assert_close(nc.tensor([1, 2, 3]), np.array([1.0, 2.0, 3.0]))
    with pytest.raises(AssertionError, match=r"at \(1,\)"):
        assert_close(nc.tensor([1, 2, 3]), np.array([1.0, 2.5, 3.0]))
    assert_close(nc.tensor([float("nan"), float("inf")]), np.array([np.nan, np.inf]))
    with pytest.raises(AssertionError):
        assert_close(nc.tensor([0.0, float("inf")]), np.array([np.nan, np.inf]))
    assert_close(nc.tensor([70000.0]).half(), np.array([70000.0]))  # overflows float16: inf expected
