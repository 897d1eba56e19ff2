"""tools/gen_ops.py, the generator of the op table from csrc/ops/ops.schema: it writes the
X-macro lists, declarations, entry points, boxed calls and bindings for a schema, and
rejects a malformed line with an error naming the file, line and problem."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "tools" / "gen_ops.py"
pytestmark = pytest.mark.skipif(not GEN.exists(), reason="tools/gen_ops.py is not in this checkout")


def generate(tmp_path, text):
    schema = tmp_path / "ops.schema"
    schema.write_text(text)
    out = tmp_path / "gen"
    r = subprocess.run([sys.executable, str(GEN), str(schema), str(out)], capture_output=True, text=True)
    return r, out


def test_generates_every_output(tmp_path):
    r, out = generate(tmp_path, """
# comment line
unary   neg(Tensor x) -> Tensor  grad
    x: neg(grad)
special scale(Tensor x, float factor = 2.0, str mode = "fast") -> Tensor  label=scaled
special pair(Tensor x, int? dim) -> (Tensor, Tensor)
special fill2_(Tensor(a!) t, float value) -> ()
""")
    assert r.returncode == 0, r.stderr
    table = (out / "op_table_generated.h").read_text()
    assert "#define NN_UNARY_OPS(X) X(neg, true)" in table
    assert "#define NN_SPECIAL_OPS(X) X(scale, false) X(pair, false) X(fill2_, false)" in table
    assert "#define NN_NUM_SCHEMA_OPS 4" in table
    header = (out / "ops_generated.h").read_text()
    assert 'Tensor scale(const Tensor& x, double factor = 2.0, const std::string& mode = "fast");' in header
    assert "std::pair<Tensor, Tensor> pair(const Tensor& x, std::optional<int64_t> dim);" in header
    assert "void native_fill2_(const Tensor& t, double value);" in header
    src = (out / "ops_generated.cpp").read_text()
    assert "dispatch::intercept(OpId::scale, dispatch::Stack{dispatch::box(x), dispatch::box(factor), " \
           "dispatch::box(mode)})" in src
    assert '{"scale", "scale", "scaled", false, ReturnKind::One, 3, kArgs_scale, ' in src
    assert '{"neg", "neg", "unary.neg", true,' in src
    binds = (out / "bindings_generated.cpp").read_text()
    assert 'm.def("scale"' in binds and 'py::arg("factor") = 2.0' in binds and \
        'py::arg("mode") = std::string("fast")' in binds


def test_rewrites_only_changed_files(tmp_path):
    text = "unary neg(Tensor x) -> Tensor grad\n    x: neg(grad)\n"
    r, out = generate(tmp_path, text)
    assert r.returncode == 0
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    r, out = generate(tmp_path, text)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes


@pytest.mark.parametrize("line,message", [
    ("unary neg(Tensor x) -> Tensor\nunary neg(Tensor x) -> Tensor", "duplicate op rows"),
    # a differentiable row of a formula family without its derivative
    ("unary neg(Tensor x) -> Tensor grad", "'neg' is differentiable but has no derivative formula for x"),
    ("binary mul(Tensor a, Tensor b) -> Tensor grad\n    a: mul(grad, b)",
     "'mul' is differentiable but has no derivative formula for b"),
    ("unary neg(Tensor x) -> Tensor\n    x: neg(grad)", "has a derivative formula but no 'grad' flag"),
    ("unary neg(Tensor x) -> Tensor grad\n    y: neg(grad)", "'neg' has no Tensor input 'y'"),
    ("special s(Tensor x, int k) -> Tensor grad\n    k: grad", "'s' has no Tensor input 'k'"),
    ("unary neg(Tensor x) -> Tensor grad\n    x: neg(grad)\n    x: grad", "two formulas for 'x'"),
    ("    x: neg(grad)", "must be 'INPUT: FORMULA' under a row"),
    ("unary neg(Tensor x) -> Tensor grad\n    x = neg(grad)", "must be 'INPUT: FORMULA' under a row"),
    ("nonsense neg(Tensor x) -> Tensor", "unknown family 'nonsense'"),
    ("unary neg(Tensr x) -> Tensor", "bad argument 'Tensr x'"),
    ("unary neg(Tensor x) -> Tensor fast", "unknown flag 'fast'"),
    ("unary neg(Tensor x) -> Tensr", "unknown return 'Tensr'"),
    ("unary neg Tensor x", "cannot parse"),
])
def test_rejects_malformed_lines(tmp_path, line, message):
    r, _ = generate(tmp_path, line + "\n")
    assert r.returncode != 0
    assert message in r.stderr and "ops.schema:" in r.stderr, r.stderr


def test_formulas_build_the_autograd_layer(tmp_path):
    """A row's formulas become its autograd_OP: the entry point and the boxed call run it;
    the tensors a formula names are saved (only when the input they serve needs grad), the
    attributes it names are captured, x.sizes() keeps only metadata, and every gradient is
    summed to its input's shape and dtype (to_input)."""
    r, out = generate(tmp_path, """
binary  mul(Tensor a, Tensor b) -> Tensor  grad
    a: mul(grad, b)
    b: mul(grad, a)
reduce  sum(Tensor x, int[] dims, bool keepdim) -> Tensor  grad
    x: sum_backward(grad, x.sizes(), dims)
reduce  max(Tensor x, int dim, bool keepdim) -> (Tensor, Tensor)  grad
    x: index_reduction_backward(grad, result1, x.sizes(), dim)
special plain(Tensor x) -> Tensor  grad
""")
    assert r.returncode == 0, r.stderr
    layer = (out / "autograd_generated.cpp").read_text()
    assert "Tensor autograd_mul(const Tensor& a, const Tensor& b) {" in layer
    assert "const autograd::SavedTensor saved_a((need_b) ? a : Tensor());" in layer
    assert "const autograd::SavedTensor saved_b((need_a) ? b : Tensor());" in layer
    assert 'autograd::record("MulBackward", {a, b}, {result}' in layer
    assert "out_[0] = derivatives::to_input(mul(grad, b), meta_a);" in layer
    # sum: only x's metadata is kept, and dims is captured
    sum_fn = layer[layer.index("Tensor autograd_sum("):layer.index("std::pair<Tensor, Tensor> autograd_max(")]
    assert "saved_x" not in sum_fn
    assert "sum_backward(grad, meta_x.sizes, dims)" in sum_fn and "[need_x, meta_x, dims]" in sum_fn
    # max: the second output (indices) is saved; the node hangs on the first
    assert "const autograd::SavedTensor saved_result1((need_x) ? r_.second : Tensor());" in layer
    assert "case OpId::mul: return autograd_mul(a, b);" in layer
    assert "autograd_plain" not in layer  # no formulas: its native records the node
    src = (out / "ops_generated.cpp").read_text()
    assert "return autograd_mul(a, b);" in src and "return native_plain(x);" in src
    assert "auto r = autograd_sum(unbox<Tensor>(s[0])" in src
