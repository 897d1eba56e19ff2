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
    text = "unary neg(Tensor x) -> Tensor grad\n"
    r, out = generate(tmp_path, text)
    assert r.returncode == 0
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    r, out = generate(tmp_path, text)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes


@pytest.mark.parametrize("line,message", [
    ("unary neg(Tensor x) -> Tensor grad\nunary neg(Tensor x) -> Tensor", "duplicate op rows"),
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
