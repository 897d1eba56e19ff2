"""The API fuzzer (tools/api_fuzz.py): a quick seeded run over every public callable of
nn_core in child processes (a crash, hang, disallowed exception or changed input fails with
the reproducing call), unit tests of the driver itself (planted crashing, hanging,
input-changing and AttributeError-raising callables are reported; allowed exceptions and
in-place changes of self are not), and regression tests of the failures it found."""
from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import pytest

from child_process import child_env

import nn_core as nc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import api_fuzz  # noqa: E402

QUICK_SEEDS = (1, 2, 3)
QUICK_CALLS = 1500


@pytest.mark.parametrize("seed", QUICK_SEEDS)
def test_quick_fuzz_run_keeps_the_contract(seed, tmp_path):
    failures = api_fuzz.run(QUICK_CALLS, seed, timeout=30, workdir=str(tmp_path), env=child_env(), quiet=True)
    assert not failures, api_fuzz.report(failures, QUICK_CALLS, seed, str(tmp_path))
    calls = (tmp_path / f"calls_{seed}.jsonl").read_text().splitlines()
    assert len(calls) == QUICK_CALLS  # every call was made (and logged) by the child


def test_discovery_covers_functions_methods_and_dunders():
    names = {name for name, _, _ in api_fuzz.discover()}
    for expected in ("nn_core.add", "nn_core.zeros", "nn_core.functional.cross_entropy", "Tensor.sum",
                     "Tensor.add_", "Tensor.__getitem__", "Tensor.__setitem__", "Tensor.__iadd__",
                     "Tensor.__matmul__", "Tensor.T", "Tensor.shape"):
        assert expected in names
    assert not names & set(api_fuzz.SKIPPED)
    assert "nn_core.set_num_threads" in names  # called, with a small count only
    import random
    target = next(t for t in api_fuzz.discover("set_num_threads$"))
    for i in range(20):
        _, expr, _ = api_fuzz.make_call(target, random.Random(i))
        assert re.fullmatch(r"nc\.set_num_threads\([1-4]\)", expr), expr
    assert all(reason for reason in api_fuzz.SKIPPED.values())
    assert {n for n in names if n.startswith("Tensor.__r")}  # reflected operators too


def test_calls_are_reproducible_from_seed_and_index():
    targets = api_fuzz.discover()
    import random
    a = api_fuzz.make_call(targets[5], random.Random("9:17"))
    b = api_fuzz.make_call(targets[5], random.Random("9:17"))
    assert a == b


@pytest.mark.parametrize("view", ["contig", "T", "step", "expand", "permute", "offset"])
@pytest.mark.parametrize("dtype", api_fuzz.DTYPES)
def test_make_tensor_views(view, dtype):
    t = api_fuzz.make_tensor((3, 2, 5), dtype, view, seed=4)
    assert tuple(t.shape) == (3, 2, 5) and t.dtype == getattr(nc, dtype)
    if view == "expand":
        assert t.stride()[0] == 0
    if view in ("T", "step", "permute"):
        assert not t.is_contiguous()
    if view == "offset":
        assert t.storage_offset() > 0 and api_fuzz.make_tensor((), dtype, view).storage_offset() == 1
    assert tuple(api_fuzz.make_tensor((), dtype, view).shape) == ()


# ---- the driver's verdicts ---------------------------------------------------------------------
SETUP = ["a0 = T((3, 2), 'float32', 'contig', 1)", "a1 = T((2,), 'int64', 'step', 2)"]


def planted_ns():
    ns = api_fuzz.namespace()

    def raises(exc):
        def f(*args, **kwargs):
            raise exc("planted")
        return f

    ns.update(attribute_error=raises(AttributeError), zero_division=raises(ZeroDivisionError),
              value_error=raises(ValueError), not_implemented=raises(NotImplementedError),
              key_error=raises(KeyError), overflow=raises(OverflowError),
              mutate=lambda t, *a: t.add_(1), pure=lambda t, *a: t + 1)
    return ns


@pytest.mark.parametrize("fn", ["attribute_error", "zero_division"])
def test_disallowed_exception_is_a_failure(fn):
    verdict = api_fuzz.check_call(SETUP, f"{fn}(a0)", set(), planted_ns())
    assert verdict is not None and verdict[0].startswith("exception:")


@pytest.mark.parametrize("fn", ["value_error", "not_implemented", "key_error", "overflow", "pure"])
def test_allowed_exceptions_and_returns_are_not_failures(fn):
    assert api_fuzz.check_call(SETUP, f"{fn}(a0, a1)", set(), planted_ns()) is None


def test_changed_input_is_a_failure_unless_allowed():
    verdict = api_fuzz.check_call(SETUP, "mutate(a0)", set(), planted_ns())
    assert verdict is not None and verdict[0] == "changed-input" and "a0" in verdict[1]
    assert api_fuzz.check_call(SETUP, "mutate(a0)", {"a0"}, planted_ns()) is None
    # aliasing: a1 is a0 again; changing self may change the alias, but not the other tensor
    alias = ["a0 = T((3,), 'float64', 'contig', 1)", "a1 = a0", "a2 = T((3,), 'float64', 'contig', 2)"]
    assert api_fuzz.check_call(alias, "mutate(a0, a1)", {"a0"}, planted_ns()) is None
    verdict = api_fuzz.check_call(alias, "mutate(a2, a0)", {"a0"}, planted_ns())
    assert verdict is not None and "a2" in verdict[1]


def test_real_inplace_method_may_change_only_self():
    setup = ["a0 = T((3,), 'float32', 'contig', 1)", "a1 = T((3,), 'float32', 'contig', 2)"]
    assert api_fuzz.check_call(setup, "a0.add_(a1)", {"a0"}) is None
    assert api_fuzz.check_call(setup, "a0.add_(a1)", set())[0] == "changed-input"


PLANTED = """
import os, time

def crash(*args, **kwargs):
    os.abort()

def hang(*args, **kwargs):
    time.sleep(120)

def attribute_error(*args, **kwargs):
    return args[0].no_such_attribute

def mutate(*args, **kwargs):
    import nn_core as nc
    for x in list(args) + list(kwargs.values()):
        if isinstance(x, nc.Tensor) and x.numel():
            x.detach().contiguous().fill_(0)  # a copy: changes nothing
            if x.is_contiguous():
                x.detach().fill_(7)
    return None

def allowed(*args, **kwargs):
    raise ValueError("planted: a documented error")
"""


def test_driver_reports_planted_crash_hang_exception_and_mutation(tmp_path):
    planted = tmp_path / "planted_targets.py"
    planted.write_text(textwrap.dedent(PLANTED))
    failures = api_fuzz.run(80, 5, filter_regex=r"^planted\.(crash|attribute_error|mutate|allowed)$", timeout=20,
                            workdir=str(tmp_path), env=child_env(), quiet=True, planted_path=str(planted))
    by_target = {}
    for f in failures:
        by_target.setdefault(f["target"], set()).add(f["class"])
    assert by_target.get("planted.crash") == {"crash:signal 6"}
    assert by_target.get("planted.attribute_error") == {"exception:AttributeError"}
    assert by_target.get("planted.mutate") == {"changed-input"}
    assert "planted.allowed" not in by_target
    crash = next(f for f in failures if f["target"] == "planted.crash")
    assert crash["stmt"].endswith(")") and "planted.crash(" in crash["stmt"]
    text = api_fuzz.report(failures, 80, 5, str(tmp_path))
    assert "repro: python tools/api_fuzz.py --repro" in text and "[crash:signal 6] planted.crash" in text
    # every call after a crash still ran: the child was restarted at the next call
    calls = (tmp_path / "calls_5.jsonl").read_text().splitlines()
    assert len(calls) == 80


def test_driver_reports_a_hang(tmp_path):
    planted = tmp_path / "planted_targets.py"
    planted.write_text(textwrap.dedent(PLANTED))
    failures = api_fuzz.run(2, 0, filter_regex=r"^planted\.hang$", timeout=1.5, workdir=str(tmp_path),
                            env=child_env(), quiet=True, planted_path=str(planted))
    assert [f["class"] for f in failures] == ["hang", "hang"]


# ---- regression tests of what the fuzzer found -------------------------------------------------
# Python-level functions read .shape / .dim() / .dtype of an argument that was not a tensor and
# let AttributeError escape; they now check types up front (nn_core/_checks.py) and raise
# TypeError naming the op and the argument.
F = nc.functional
X = nc.ones(2, 3)
Y = nc.zeros(2, 3)
NON_TENSOR_CALLS = [
    ("zeros_like", lambda: nc.zeros_like(3)), ("ones_like", lambda: nc.ones_like("mean")),
    ("empty_like", lambda: nc.empty_like(-2, dtype=nc.int32)), ("full_like", lambda: nc.full_like(0.5, X)),
    ("rand_like", lambda: nc.rand_like(2**31)), ("randn_like", lambda: nc.randn_like(1 + 2j)),
    ("numel", lambda: nc.numel([1, 2])), ("view_as", lambda: X.view_as(6)), ("reshape_as", lambda: X.reshape_as(-2)),
    ("lerp", lambda: nc.lerp(True, X, 0.5)), ("tile", lambda: nc.tile(-0.0, (2,))),
    ("mse_loss", lambda: F.mse_loss(X, 2**31)), ("l1_loss", lambda: F.l1_loss(3, 0)),
    ("smooth_l1_loss", lambda: F.smooth_l1_loss([[1.5], [2.5]], X)), ("huber_loss", lambda: F.huber_loss("", Y)),
    ("binary_cross_entropy", lambda: F.binary_cross_entropy(b"x", X)),
    ("binary_cross_entropy_with_logits", lambda: F.binary_cross_entropy_with_logits(4, X)),
    ("cross_entropy", lambda: F.cross_entropy(1e-310, [])), ("cross_entropy", lambda: F.cross_entropy(X, [0, 1])),
    ("cross_entropy", lambda: F.cross_entropy(X, nc.tensor([0, 1]), weight="w")),
    ("cross_entropy", lambda: F.cross_entropy(X, nc.tensor([0, 1]), ignore_index=X)),
    ("nll_loss", lambda: F.nll_loss(X, [])), ("nll_loss", lambda: F.nll_loss([], X)),
    ("scaled_dot_product_attention", lambda: F.scaled_dot_product_attention([X], X, X)),
    ("scaled_dot_product_attention", lambda: F.scaled_dot_product_attention(X, X, X, attn_mask="causal")),
    ("adaptive_avg_pool2d", lambda: F.adaptive_avg_pool2d("x", (None, 2))),
    # found once the spatial and misc ops were merged
    ("interpolate", lambda: F.interpolate(3, scale_factor=2)), ("upsample_nearest", lambda: F.upsample_nearest(0, 2)),
    ("pad", lambda: F.pad([1, 2], (1, 1))), ("max_pool1d", lambda: F.max_pool1d("x", 2)),
    ("avg_pool1d", lambda: F.avg_pool1d(2, 2)), ("adaptive_max_pool1d", lambda: F.adaptive_max_pool1d([X], 1)),
    ("conv_transpose1d", lambda: F.conv_transpose1d(-1, X)), ("instance_norm", lambda: F.instance_norm([X, X])),
    ("grid_sample", lambda: F.grid_sample(X, 0.5)), ("one_hot", lambda: F.one_hot(1.5)),
    ("diff", lambda: nc.diff(3)), ("bernoulli", lambda: nc.bernoulli(0.5)),
    ("searchsorted", lambda: nc.searchsorted([1, 2], X)), ("bucketize", lambda: nc.bucketize(X, [1, 2])),
    ("linalg.norm", lambda: nc.linalg.norm(3)), ("linalg.vector_norm", lambda: nc.linalg.vector_norm(2)),
]


@pytest.mark.parametrize("op,call", NON_TENSOR_CALLS, ids=[f"{op}-{i}" for i, (op, _) in enumerate(NON_TENSOR_CALLS)])
def test_non_tensor_argument_raises_type_error_naming_the_op(op, call):
    with pytest.raises(TypeError, match=op):
        call()


def test_from_dlpack_of_a_non_tensor_raises_type_error():
    with pytest.raises(TypeError, match="from_dlpack.*__dlpack__.*list"):
        nc.from_dlpack([X, Y])


def test_checked_functions_still_work_on_tensors():
    assert tuple(nc.zeros_like(X).shape) == (2, 3) and nc.numel(X) == 6
    assert tuple(X.view_as(nc.zeros(3, 2)).shape) == (3, 2)
    assert F.mse_loss(X, Y).item() == 1.0
    assert F.cross_entropy(X, nc.tensor([0, 1]), ignore_index=1).item() == pytest.approx(1.0986123, rel=1e-6)
    assert tuple(nc.tile(nc.ones(2), (2,)).shape) == (4,)


def test_repr_of_a_huge_expanded_tensor_does_not_materialise_it():
    # broadcast_to((2**31, 2**31)) is a valid stride-0 view; printing it used to convert all
    # 2**62 elements to numpy (ValueError "array is too big", or a MemoryError below that).
    t = nc.zeros(1).expand(2**31, 2**31)
    text = repr(t)
    assert text.startswith("tensor([[0., 0., 0., ..., 0., 0., 0.],") and text.count("\n") == 6
    assert "[3, 4, 5]]])" in repr(nc.arange(6).reshape(2, 3).expand(2**40, 2, 3))


@pytest.mark.parametrize("make", [lambda: nc.arange(2000).reshape(40, 50).float() / 7,
                                  lambda: nc.arange(5000).reshape(2, 50, 50), lambda: nc.arange(3000) > 5,
                                  lambda: (nc.arange(1001).float() * 0.37).to(nc.bfloat16)])
def test_summarised_repr_matches_numpy_printing_the_whole_array(make):
    np = pytest.importorskip("numpy")
    t = make()
    full = (t.float() if t.dtype == nc.bfloat16 else t).numpy()
    expected = np.array2string(full, separator=", ", prefix="tensor(", threshold=1000, edgeitems=3, precision=4,
                               floatmode="maxprec_equal" if full.dtype.kind == "f" else "maxprec")
    assert repr(t).startswith("tensor(" + expected)


def test_repr_of_an_empty_tensor_with_huge_dims():
    # nc.zeros(2**40, 2**40, 0) is a valid empty tensor; numpy refuses to describe its shape
    t = nc.zeros(2**40, 2**40, 0, dtype=nc.int8)
    assert repr(t) == f"tensor([], size=({2**40}, {2**40}, 0), dtype=nn_core.int8)"
    assert repr(nc.ones(0, 3)) == "tensor([], size=(0, 3))"


def test_cross_entropy_with_label_smoothing_and_no_classes():
    # label_smoothing / C divided by zero (ZeroDivisionError) for an input with 0 classes
    empty = nc.zeros(2, 0)
    plain = F.cross_entropy(empty, nc.zeros(2, 0)).item()
    assert F.cross_entropy(empty, nc.zeros(2, 0), label_smoothing=0.5).item() == plain
    ignored = nc.full((2,), -100, dtype=nc.int64)  # every target ignored: nothing to index
    for reduction in ("sum", "none"):
        out = F.cross_entropy(empty, ignored, label_smoothing=0.5, reduction=reduction)
        assert out.sum().item() == 0.0


def test_int_arg_accepts_integers_only():
    np = pytest.importorskip("numpy")
    ref = F.cross_entropy(X, nc.tensor([0, 1]), ignore_index=1).item()
    for ok in (np.int64(1), nc.tensor(1), True):
        assert F.cross_entropy(X, nc.tensor([0, 1]), ignore_index=ok).item() == pytest.approx(ref)
    for bad in (1.5, "1", None, nc.tensor(1.0)):
        with pytest.raises(TypeError, match="cross_entropy: argument 'ignore_index' must be an int"):
            F.cross_entropy(X, nc.tensor([0, 1]), ignore_index=bad)
