"""The op test harness: one OpInfo per row of the C++ op table (csrc/kernels/op_table.h).

Each entry says how to call the op in nn_core, gives a float64 NumPy reference, a
sample-input generator (tests/samples.py: broadcasting, sizes 0/1/7/127/129, stepped,
reversed, permuted and expanded views, per-op value domains), the dtypes it supports and
whether it is differentiable. test_ops_forward.py, test_gradcheck.py and test_fuzz.py all
iterate over OP_DB; test_op_table.py checks it against nn_core._C.op_table().

Tolerances: one table per dtype (TOL) and a scale-aware check
    |actual - ref| <= atol + rtol * mag,   mag = |ref| unless the entry says otherwise
(ops that add up many terms use the sum of the terms' magnitudes, the scale of their
rounding error). Integer and bool results must match exactly (integers wrap as in C).
Every per-op override carries a comment saying why.
"""
import math
import operator as _op

import numpy as np
import pytest
from hypothesis import strategies as st

import nn_core as nc
import samples as S
from op_refs import (
    _addmm_mag, _linear_mag, ref_addmm, ref_bmm, ref_linear,
    Unspecified, _errstate, _gelu, _gelu_tanh, _log_softmax_mag, _logsumexp_mag,
    _matmul_mag, _prod_mag, _sigmoid, _sum_mag, axes, infer_size,
    ref_arg, ref_cast, ref_cat, ref_chunk, ref_clamp, ref_copy,
    ref_expand, ref_flatten, ref_index_put, ref_log_softmax, ref_logsumexp, ref_matmul,
    ref_mean, ref_minmax, ref_permute, ref_reduce, ref_softmax, ref_softplus,
    ref_split, ref_squeeze, ref_stack, ref_std, ref_transpose, ref_var,
    wrap,
)
from samples import (
    ALL, Dom, FLOAT, INT, NUMERIC, SIGNED, Sample,
    _red_extra, s_binary, s_cast, s_chunk, s_clamp, s_copy,
    s_dim, s_expand, s_fill, s_flatten, s_index, s_index_put, s_list,
    s_matmul, s_permute, s_reduce, s_reshape, s_select, s_slice, s_split,
    s_squeeze, s_transpose, s_unary, s_where, s_bmm, s_linear, s_addmm,
)

# (atol, rtol) per result dtype. float16/bfloat16: about 4 units of roundoff (2^-11, 2^-8).
TOL = {
    "float64": (1e-12, 1e-10),
    "float32": (1e-6, 1e-5),
    "float16": (1e-3, 2e-3),
    "bfloat16": (8e-3, 1.6e-2),
    **{dt: (0.0, 0.0) for dt in INT + ("bool",)},
}
# Composites round every intermediate op to the storage dtype (Note [Half types] applies
# per op), so a chain of k rounded steps needs about k times the single-op tolerance.
COMPOSITE_HALF_TOL = {"float16": (3e-3, 6e-3), "bfloat16": (2.4e-2, 4.8e-2)}


class OpInfo:
    def __init__(self, name, family, op, ref, sample, dtypes=FLOAT, differentiable=True,
                 out_dtype=None, tol=None, mag=None, variants=(), grad=None):
        self.name, self.family, self.op, self.ref = name, family, op, ref
        self.sample, self.dtypes, self.differentiable = sample, tuple(dtypes), differentiable
        self.out_dtype = out_dtype or (lambda s: s.dt)
        self.tol, self.mag, self.variants = tol or {}, mag, variants
        self.grad = {**dict(eps=1e-6, atol=1e-5, rtol=1e-3, out=lambda out: out), **(grad or {})}

    def samples(self, dt, mode=S.FORWARD):
        return st.composite(lambda draw: self.sample(draw, dt, mode))()

    def __repr__(self):
        return f"OpInfo({self.name})"


# ---------------------------------------------------------------- comparison -------

def _wrap_int(ref, dt):
    with np.errstate(all="ignore"):
        return np.asarray(np.rint(ref)).astype(np.int64).astype(S.NP_DTYPE[dt])


def assert_close(actual, ref, *, tol=None, mag=None, what=""):
    """actual: nn_core tensor (or tuple/list of them); ref: NumPy values of the same
    structure. Checks shapes, then values with the tolerance of actual's dtype (TOL,
    or tol[dtype] where an op overrides it)."""
    if isinstance(ref, (tuple, list)):
        assert isinstance(actual, (tuple, list)), f"{what}: expected a sequence, got {type(actual)}"
        assert len(actual) == len(ref), f"{what}: {len(actual)} outputs, reference has {len(ref)}"
        mags = mag if isinstance(mag, (tuple, list)) else [mag] * len(ref)
        for i, (a, r, mg) in enumerate(zip(actual, ref, mags)):
            assert_close(a, r, tol=tol, mag=mg, what=f"{what}[{i}]")
        return
    assert isinstance(actual, nc.Tensor), f"{what}: expected a Tensor, got {type(actual)}"
    ref = np.asarray(ref)
    assert tuple(actual.shape) == ref.shape, f"{what}: shape {tuple(actual.shape)} != reference {ref.shape}"
    dt = S.dtype_name(actual.dtype)
    got = S.to_np(actual)
    if dt == "bool" or dt in INT:
        want = ref.astype(bool) if dt == "bool" else _wrap_int(ref, dt)
        bad = got != want
        if dt != "bool" and ref.dtype.kind == "f":  # an integer result needs an integral reference
            with np.errstate(all="ignore"):
                bad |= ref != np.round(ref)
        _report(bad, got, want, what, f"exact ({dt})")
        return
    atol, rtol = (tol or {}).get(dt, TOL[dt])
    ref = ref.astype(np.float64)
    got = got.astype(np.float64)
    want_in_dt = S.quantize(ref, dt)  # where the exact result overflows dt, inf is right
    finite = np.isfinite(want_in_dt)
    scale = np.abs(ref) if mag is None else np.broadcast_to(np.asarray(mag, dtype=np.float64), ref.shape)
    with np.errstate(all="ignore"):
        ok_finite = np.abs(got - ref) <= atol + rtol * scale
    ok_special = (got == want_in_dt) | (np.isnan(got) & np.isnan(want_in_dt))
    bad = np.where(finite, ~ok_finite, ~ok_special)
    _report(bad, got, ref, what, f"atol={atol:g} rtol={rtol:g} ({dt})", scale, atol, rtol)


def _report(bad, got, want, what, rule, scale=None, atol=0.0, rtol=0.0):
    if not np.any(bad):
        return
    idx = np.argwhere(bad)[:6]
    lines = []
    for i in idx:
        i = tuple(int(k) for k in i)
        extra = f" allowed={atol + rtol * scale[i]:.3g}" if scale is not None else ""
        lines.append(f"  at {i}: got {got[i]!r} expected {want[i]!r}{extra}")
    raise AssertionError(f"{what}: {int(np.sum(bad))}/{bad.size} elements differ, {rule}; first:\n" + "\n".join(lines))


def out_dtypes(out, expected):
    if isinstance(out, (tuple, list)):
        exp = expected if isinstance(expected, tuple) else (expected,) * len(out)
        return [d for o, e in zip(out, exp) for d in out_dtypes(o, e)]
    return [(S.dtype_name(out.dtype), expected)]


def check_forward(op, s):
    """Runs op on sample s and checks dtype and values against the reference; where the
    reference rejects the sample, the op must raise ValueError/IndexError/RuntimeError."""
    args, kwargs = s.np_args()
    try:
        ref = op.ref(*args, **kwargs)
    except Unspecified:
        return
    except (ValueError, IndexError) as e:
        nargs, nkw = s.nc_args()
        with pytest.raises((ValueError, IndexError, RuntimeError)):
            op.op(*nargs, **nkw)
            pytest.fail(f"{op.name} accepted {s}; the reference rejects it: {e!r}")
        return
    nargs, nkw = s.nc_args()
    out = op.op(*nargs, **nkw)
    for got, want in out_dtypes(out, op.out_dtype(s)):
        assert got == want, f"{op.name} {s}: result dtype {got}, expected {want}"
    with np.errstate(all="ignore"):
        mag = op.mag(*args, **kwargs) if op.mag else None
    assert_close(out, ref, tol=op.tol, mag=mag, what=f"{op.name} {s}")


# ---------------------------------------------------------------- entries ----------

def binary_out(s):
    """PyTorch promotion of a tensor with a python scalar of another kind."""
    scalars = [a for a in s.args if not isinstance(a, S.TArg)]
    if s.dt in INT + ("bool",) and any(isinstance(v, float) for v in scalars):
        return "float32"
    if s.dt == "bool" and any(isinstance(v, int) and not isinstance(v, bool) for v in scalars):
        return "int64"
    return s.dt


def red_out(s):
    return "int64" if s.dt in INT + ("bool",) else s.dt


def _inplace(method):
    def call(dst, *args):
        out = getattr(dst, method)(*args)
        assert out.data_ptr() == dst.data_ptr() and tuple(out.shape) == tuple(dst.shape)
        return dst
    return call


def _contiguous(x):
    y = x.contiguous()
    assert y.is_contiguous(), "contiguous() returned a non-contiguous tensor"
    return y


def _index_put(x, key, v):
    y = x.clone()
    y[key] = v
    return y


def fn(name):
    """nn_core.<name>, looked up at call time (a missing binding fails only its op)."""
    return lambda *a, **k: getattr(nc, name)(*a, **k)


def ffn(name):
    return lambda *a, **k: getattr(nc.functional, name)(*a, **k)


def method(name):
    return lambda x, *a, **k: getattr(x, name)(*a, **k)


def _binop(name, operator):
    def call(a, b, **kw):
        if not isinstance(a, nc.Tensor):
            return operator(a, b)  # reflected: 2 - t goes through Tensor.__rsub__
        return getattr(nc, name)(a, b, **kw)
    return call


def _bin_variants(name, operator):
    def meth(a, b, **kw):
        return getattr(a, name)(b, **kw) if isinstance(a, nc.Tensor) else operator(a, b)

    def oper(a, b, **kw):
        return operator(a, b) if not kw else meth(a, b, **kw)
    return (meth, oper)


def _minmax(name):
    def call(x, dim=None, **kw):
        if dim is None:
            return getattr(x, name)()
        r = getattr(x, name)(dim, **kw)
        return (r.values, r.indices)
    return call


def _star(name):
    """x.view(*shape); the tuple form x.view(()) for the empty shape."""
    return lambda x, s: getattr(x, name)(*s) if len(s) else getattr(x, name)(())


def _star_tuple(name):
    return lambda x, s: getattr(x, name)(tuple(s))


PROD_DOM = Dom(0.9, 1.1, "nonzero")  # products of up to 16k factors stay in range
VALUES_ONLY = dict(out=lambda out: out[0] if isinstance(out, tuple) else out)  # indices have no grad
BOOL_OUT = dict(out_dtype=lambda s: "bool", differentiable=False)


def unary(name, ref, dom=S.DEFAULT, dtypes=FLOAT, call=None, variants=(), **kw):
    """call: how to reach it (default nn_core.<name>, with the method x.<name>() as a variant)."""
    if call is None:
        call, variants = fn(name), variants + (method(name),)
    return OpInfo(name, "unary", call, _errstate(ref), s_unary(dom), dtypes=dtypes, variants=variants, **kw)


def binary(name, operator, ref, sample, dtypes=NUMERIC, **kw):
    return OpInfo(name, "binary", _binop(name, operator), _errstate(ref), sample, dtypes=dtypes,
                  variants=_bin_variants(name, operator), **kw)


def compare(name, operator, ref):
    return OpInfo(name, "compare", _binop(name, operator), ref, s_binary(S.TIES, S.TIES),
                  dtypes=ALL if name in ("eq", "ne") else NUMERIC, variants=_bin_variants(name, operator), **BOOL_OUT)


def logical(name, ref):
    return OpInfo(name, "compare", fn(name), lambda a, b: ref(a != 0, b != 0),
                  s_binary(Dom(-1, 1, "ints"), Dom(-1, 1, "ints"), scalars=False), dtypes=ALL,
                  variants=(method(name),), **BOOL_OUT)


def reduce(name, ref, dtypes=NUMERIC, family="reduce", sample=None, **kw):
    return OpInfo(name, family, method(name), ref, sample or s_reduce(), dtypes=dtypes, **kw)


def minmax_out(s):
    return s.dt if s.kwargs["dim"] is None else (s.dt, "int64")


OP_DB = [
    # ---- unary
    unary("neg", np.negative, dtypes=FLOAT + SIGNED, variants=(_op.neg,)),
    unary("exp", np.exp),
    unary("log", np.log, dom=S.POSITIVE),
    unary("log1p", np.log1p, dom=Dom(-0.9, 8.0)),  # domain x > -1
    unary("sqrt", np.sqrt, dom=S.POSITIVE),
    unary("rsqrt", lambda x: 1 / np.sqrt(x), dom=S.POSITIVE),
    unary("abs", np.abs, dtypes=NUMERIC, variants=(abs,)),
    unary("relu", lambda x: np.maximum(x, 0), dtypes=FLOAT + SIGNED, variants=(ffn("relu"),)),
    # Wide domains reach the saturated tails, where naive formulas lose accuracy.
    unary("sigmoid", _sigmoid, dom=Dom(-12, 12), variants=(ffn("sigmoid"),)),
    unary("tanh", np.tanh, dom=Dom(-10, 10), variants=(ffn("tanh"),)),
    unary("gelu", _gelu, dom=Dom(-6, 6), call=ffn("gelu")),  # functional only (as in PyTorch)
    unary("gelu_tanh", _gelu_tanh, dom=Dom(-6, 6), call=lambda x: nc.functional.gelu(x, approximate="tanh")),
    unary("silu", lambda x: x * _sigmoid(x), dom=Dom(-10, 10), call=ffn("silu")),
    # Domain past both kinks (-3, 3); hypothesis rarely lands on them exactly (gradcheck
    # would see the one-sided slopes there).
    unary("hardswish", lambda x: x * np.clip(x + 3, 0, 6) / 6, dom=Dom(-6, 6), call=ffn("hardswish")),
    unary("logical_not", lambda x: x == 0, dom=Dom(-1, 1, "ints"), dtypes=ALL, **BOOL_OUT),  # exact zeros
    unary("sin", np.sin, dom=Dom(-8, 8)),
    unary("cos", np.cos, dom=Dom(-8, 8)),
    unary("erf", np.vectorize(math.erf, otypes=[np.float64]), dom=Dom(-4, 4)),
    unary("reciprocal", np.reciprocal, dom=S.POSITIVE),
    unary("square", np.square, dtypes=FLOAT + SIGNED),
    unary("sign", np.sign, dtypes=FLOAT + SIGNED),
    # Piecewise constant: zero gradients (hypothesis rarely lands within the finite
    # difference step of a jump).
    unary("floor", np.floor, dtypes=FLOAT + SIGNED),
    unary("ceil", np.ceil, dtypes=FLOAT + SIGNED),
    unary("round", np.round, dtypes=FLOAT + SIGNED),  # halves to even, as numpy
    unary("trunc", np.trunc, dtypes=FLOAT + SIGNED),
    unary("mish", lambda x: x * np.tanh(np.logaddexp(0, x)), dom=Dom(-20, 20), call=ffn("mish")),
    unary("isnan", np.isnan, dtypes=ALL, **BOOL_OUT),
    unary("isfinite", np.isfinite, dtypes=ALL, **BOOL_OUT),
    # ---- binary
    binary("add", _op.add, lambda a, b, alpha=1: a + alpha * b, s_binary(alpha=True), out_dtype=binary_out),
    binary("sub", _op.sub, lambda a, b, alpha=1: a - alpha * b, s_binary(alpha=True), out_dtype=binary_out),
    binary("mul", _op.mul, np.multiply, s_binary(), out_dtype=binary_out),
    # int / int is true division (float32), as in PyTorch; divisors stay away from 0.
    binary("div", _op.truediv, np.divide, s_binary(S.DEFAULT, S.NONZERO),
           out_dtype=lambda s: "float32" if s.dt in INT else s.dt),
    # Positive bases keep results real (and the exponent differentiable).
    binary("pow", _op.pow, np.power, s_binary(Dom(0.25, 3.0), Dom(-2.0, 2.0)), dtypes=FLOAT),
    OpInfo("maximum", "binary", fn("maximum"), np.maximum, s_binary(scalars=False), dtypes=NUMERIC,
           variants=(method("maximum"),)),
    OpInfo("minimum", "binary", fn("minimum"), np.minimum, s_binary(scalars=False), dtypes=NUMERIC,
           variants=(method("minimum"),)),
    # ---- compare (small-integer values, so that ties and equal elements occur)
    compare("eq", _op.eq, np.equal), compare("ne", _op.ne, np.not_equal), compare("lt", _op.lt, np.less),
    compare("le", _op.le, np.less_equal), compare("gt", _op.gt, np.greater),
    compare("ge", _op.ge, np.greater_equal),
    logical("logical_and", np.logical_and), logical("logical_or", np.logical_or),
    logical("logical_xor", np.logical_xor),
    # ---- reductions
    # mag: a sum's rounding error scales with the sum of |terms| (cancellation), not |sum|.
    reduce("sum", ref_reduce(np.sum), dtypes=ALL, out_dtype=red_out, mag=_sum_mag,
           variants=(fn("sum"),)),
    # Factors near +-1 keep 16k-element products finite; mag: sqrt(n) roundings (_prod_mag).
    reduce("prod", ref_reduce(np.prod), out_dtype=red_out, sample=s_reduce(dom=PROD_DOM), mag=_prod_mag),
    reduce("amax", ref_reduce(np.max, True)),
    reduce("amin", ref_reduce(np.min, True)),
    # Only the values of (values, indices) are differentiable: gradcheck sees the values.
    OpInfo("max", "reduce", _minmax("max"), ref_minmax(np.max, np.argmax), s_reduce(int_dim=True),
           dtypes=NUMERIC, out_dtype=minmax_out, grad=VALUES_ONLY),
    OpInfo("min", "reduce", _minmax("min"), ref_minmax(np.min, np.argmin), s_reduce(int_dim=True),
           dtypes=NUMERIC, out_dtype=minmax_out, grad=VALUES_ONLY),
    # Ties (frequent in ints and half types) resolve to the first index, as NumPy/PyTorch.
    reduce("argmax", ref_arg(np.argmax), sample=s_reduce(int_dim=True), differentiable=False,
           out_dtype=lambda s: "int64"),
    reduce("argmin", ref_arg(np.argmin), sample=s_reduce(int_dim=True), differentiable=False,
           out_dtype=lambda s: "int64"),
    # ---- composites (half types: COMPOSITE_HALF_TOL, every intermediate op rounds)
    reduce("mean", ref_mean, dtypes=FLOAT, family="composite", mag=lambda x, **kw: ref_mean(np.abs(x), **kw),
           tol=COMPOSITE_HALF_TOL),
    reduce("var", ref_var, dtypes=FLOAT, family="composite", sample=s_reduce(extra=_red_extra),
           tol=COMPOSITE_HALF_TOL),
    reduce("std", ref_std, dtypes=FLOAT, family="composite", sample=s_reduce(extra=_red_extra),
           tol=COMPOSITE_HALF_TOL),
    # mag: max + log(sum exp) cancels when the two have opposite signs (_logsumexp_mag).
    OpInfo("logsumexp", "composite", fn("logsumexp"), ref_logsumexp, s_reduce(dim_required=True),
           mag=_logsumexp_mag, tol=COMPOSITE_HALF_TOL, variants=(method("logsumexp"),)),
    # clamp selects values (no rounding): exact, no half-type override.
    OpInfo("clamp", "composite", fn("clamp"), ref_clamp, s_clamp, dtypes=NUMERIC,
           variants=(method("clamp"), method("clip"), fn("clip"))),
    OpInfo("leaky_relu", "composite", ffn("leaky_relu"),
           lambda x, negative_slope=0.01: np.where(x > 0, x, negative_slope * x),
           lambda draw, dt, m: Sample(S.tensor(draw, m, S.shape(draw, m), dt), dt=dt,
                                      negative_slope=draw(st.sampled_from([0.01, 0.2, 1.5]))),
           tol=COMPOSITE_HALF_TOL),
    # Thresholds inside the domain test both branches (log1p(exp) and the linear one).
    OpInfo("softplus", "composite", ffn("softplus"), ref_softplus,
           lambda draw, dt, m: Sample(S.tensor(draw, m, S.shape(draw, m), dt, Dom(-15, 15)), dt=dt, **dict(zip(
               ("beta", "threshold"), draw(st.sampled_from([(1.0, 20.0), (2.0, 5.0), (0.5, 3.0)]))))),
           tol=COMPOSITE_HALF_TOL),
    OpInfo("split", "composite", lambda x, s, dim: x.split(s, dim=dim), ref_split, s_split, dtypes=ALL),
    OpInfo("chunk", "composite", lambda x, c, dim: x.chunk(c, dim=dim), ref_chunk, s_chunk, dtypes=ALL),
    OpInfo("stack", "composite", lambda ts, dim: nc.stack(ts, dim=dim), ref_stack, s_list(True), dtypes=ALL),
    OpInfo("flatten", "composite", method("flatten"), ref_flatten, s_flatten, dtypes=ALL),
    # ---- shape
    OpInfo("view", "shape", _star("view"), lambda x, s: x.reshape(infer_size(s, x.size)),
           s_reshape(contiguous=True), dtypes=ALL, variants=(_star_tuple("view"),)),
    OpInfo("reshape", "shape", _star("reshape"), lambda x, s: x.reshape(infer_size(s, x.size)),
           s_reshape(contiguous=False), dtypes=ALL, variants=(_star_tuple("reshape"),)),
    OpInfo("permute", "shape", _star("permute"), ref_permute, s_permute, dtypes=ALL),
    OpInfo("transpose", "shape", method("transpose"), ref_transpose, s_transpose, dtypes=ALL),
    OpInfo("expand", "shape", _star("expand"), ref_expand, s_expand, dtypes=ALL, variants=(_star_tuple("expand"),)),
    OpInfo("squeeze", "shape", method("squeeze"), ref_squeeze, s_squeeze, dtypes=ALL),
    OpInfo("unsqueeze", "shape", method("unsqueeze"), lambda x, d: np.expand_dims(x, wrap(d, x.ndim + 1)),
           s_dim(extra=1), dtypes=ALL),
    OpInfo("slice", "shape", _op.getitem, _op.getitem, s_slice, dtypes=ALL),
    OpInfo("select", "shape", _op.getitem, _op.getitem, s_select, dtypes=ALL),
    OpInfo("index", "shape", _op.getitem, _op.getitem, s_index, dtypes=ALL),
    OpInfo("index_put", "shape", _index_put, ref_index_put, s_index_put, dtypes=ALL),
    OpInfo("cat", "shape", lambda ts, dim: nc.cat(ts, dim=dim), ref_cat, s_list(False), dtypes=ALL),
    OpInfo("contiguous", "shape", _contiguous, lambda x: x, s_unary(), dtypes=ALL),
    # ---- special
    # mag (matmul family): each output is a dot product, its error scales with sum |a_k b_k|.
    OpInfo("matmul", "special", fn("matmul"), ref_matmul, s_matmul, mag=_matmul_mag, variants=(_op.matmul,)),
    OpInfo("bmm", "special", fn("bmm"), ref_bmm, s_bmm, mag=_matmul_mag, variants=(method("bmm"),)),
    OpInfo("linear", "special", ffn("linear"), ref_linear, s_linear, mag=_linear_mag),
    OpInfo("addmm", "special", fn("addmm"), ref_addmm, s_addmm, mag=_addmm_mag, variants=(method("addmm"),)),
    # Wide domains: exp would overflow float16 without the max subtraction.
    OpInfo("softmax", "special", ffn("softmax"), ref_softmax, s_dim(Dom(-20, 20)), variants=(method("softmax"),)),
    OpInfo("log_softmax", "special", ffn("log_softmax"), ref_log_softmax, s_dim(Dom(-20, 20)),
           mag=_log_softmax_mag, variants=(method("log_softmax"),)),  # mag: x - max - log(sum) cancels
    OpInfo("where", "special", fn("where"), lambda c, a, b: np.where(c, a, b), s_where, dtypes=ALL),
    # Gradcheck reads the float32 round trip back in float64: the rounding (2^-24
    # relative) divided by the step must stay under atol, so a large step for this
    # linear map (eps 1e-2: error ~3e-5 < atol 1e-4).
    OpInfo("cast", "special", lambda x, dtype: x.to(getattr(nc, dtype)), ref_cast, s_cast, dtypes=ALL,
           out_dtype=lambda s: s.kwargs["dtype"], grad=dict(eps=1e-2, atol=1e-4, out=lambda o: o.double())),
    # In place into a (maybe strided / reversed) view; the op returns the destination.
    OpInfo("copy_", "special", _inplace("copy_"), ref_copy, s_copy, dtypes=ALL, differentiable=False),
    OpInfo("fill_", "special", _inplace("fill_"), lambda d, v: np.full(d.shape, v, np.float64), s_fill,
           dtypes=ALL, differentiable=False),
]


OPS = {op.name: op for op in OP_DB}
assert len(OPS) == len(OP_DB), "duplicate op names in OP_DB"

# Areas with their own entry files (one list each), appended to the table above.
from op_db_conv import OPS_CONV  # noqa: E402  (tests/op_db_conv.py)
from op_db_attention import OPS_ATTENTION  # noqa: E402  (tests/op_db_attention.py)

OP_DB += OPS_CONV + OPS_ATTENTION
OPS = {op.name: op for op in OP_DB}
assert len(OPS) == len(OP_DB), "duplicate op names in OP_DB"
from op_db_quantized import OPS_QUANTIZED; OP_DB += OPS_QUANTIZED; OPS = {op.name: op for op in OP_DB}  # noqa: E402,E702
from op_db_special import OPS_SPECIAL; OP_DB += OPS_SPECIAL; OPS = {op.name: op for op in OP_DB}  # noqa: E402,E702
from op_db_composite import OPS_COMPOSITE; OP_DB += OPS_COMPOSITE; OPS = {op.name: op for op in OP_DB}  # noqa: E402,E702,E501
from op_db_index_sort import entries as _index_sort_entries  # noqa: E402  (tests/op_db_index_sort.py)
OP_DB += _index_sort_entries(); OPS = {op.name: op for op in OP_DB}  # noqa: E702
assert len(OPS) == len(OP_DB), "duplicate op names in OP_DB"
from op_db_misc import OPS_MISC; OP_DB += OPS_MISC; OPS = {op.name: op for op in OP_DB}  # noqa: E402,E702
from op_db_rnn import entries as _rnn_entries  # noqa: E402  (tests/op_db_rnn.py)
OP_DB += _rnn_entries(); OPS = {op.name: op for op in OP_DB}  # noqa: E702
from op_db_spatial import OPS_SPATIAL; OP_DB += OPS_SPATIAL; OPS = {op.name: op for op in OP_DB}  # noqa: E402,E702
from op_db_derivatives import OPS_DERIVATIVES; OP_DB += OPS_DERIVATIVES; OPS = {op.name: op for op in OP_DB}  # noqa: E402,E702,E501
assert len(OPS) == len(OP_DB), "duplicate op names in OP_DB"
