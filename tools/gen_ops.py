#!/usr/bin/env python3
"""gen_ops.py — writes the op table, the op declarations, the dispatching entry points,
the autograd layer (each row's derivative formulas), the boxed calls and the schema table
from csrc/ops/ops.schema (see that file's header).

Usage: python tools/gen_ops.py SCHEMA OUT_DIR
CMake runs it at build time; it writes OUT_DIR/op_table_generated.h, ops_generated.h,
ops_generated.cpp, autograd_generated.cpp (the autograd layer built from the derivative
formulas) and bindings_generated.cpp (nn_core._C.ops: one pybind11 function per row),
and rewrites a file only when its text changes (no needless rebuilds).
The parser is strict: an unknown type, family or flag is an error naming the line.
"""
import os
import re
import sys

FAMILIES = ("unary", "binary", "compare", "reduce", "composite", "shape", "special")

# schema type -> (C++ parameter type, ArgType enumerator)
TYPES = {
    "Tensor": ("const Tensor&", "Tensor"),
    "Tensor?": ("const Tensor&", "OptionalTensor"),
    "Tensor(a!)": ("const Tensor&", "MutableTensor"),
    "Tensor[]": ("const std::vector<Tensor>&", "TensorList"),
    "Tensor?[]": ("const std::vector<std::optional<Tensor>>&", "OptionalTensorList"),
    "int": ("int64_t", "Int"),
    "int?": ("std::optional<int64_t>", "OptionalInt"),
    "int[]": ("const std::vector<int64_t>&", "IntList"),
    "int[]?": ("std::optional<std::vector<int64_t>>", "OptionalIntList"),
    "SymInt": ("int64_t", "SymInt"),
    "SymInt?": ("std::optional<int64_t>", "OptionalSymInt"),
    "SymInt[]": ("const std::vector<int64_t>&", "SymIntList"),
    "float": ("double", "Float"),
    "float?": ("std::optional<double>", "OptionalFloat"),
    "Scalar": ("double", "Scalar"),
    "bool": ("bool", "Bool"),
    "str": ("const std::string&", "Str"),
    "ScalarType": ("DType", "ScalarType"),
    "ScalarType?": ("std::optional<DType>", "OptionalScalarType"),
    "OpId": ("OpId", "OpId"),
    "IndexKey": ("const std::vector<TensorIndex>&", "IndexKey"),
    "QWeight": ("const QWeight&", "QWeight"),
}
# C++ value type of each parameter (what unbox<> produces)
VALUE_TYPE = {
    "const Tensor&": "Tensor",
    "const std::vector<Tensor>&": "std::vector<Tensor>",
    "const std::vector<std::optional<Tensor>>&": "std::vector<std::optional<Tensor>>",
    "const std::vector<int64_t>&": "std::vector<int64_t>",
    "const std::string&": "std::string",
    "const std::vector<TensorIndex>&": "std::vector<TensorIndex>",
    "const QWeight&": "QWeight",
}
RETURNS = {
    "Tensor": ("Tensor", "One"),
    "(Tensor, Tensor)": ("std::pair<Tensor, Tensor>", "Two"),
    "(Tensor, Tensor, Tensor)": ("std::tuple<Tensor, Tensor, Tensor>", "Three"),
    "Tensor[]": ("std::vector<Tensor>", "List"),
    "()": ("void", "None"),
}
LINE = re.compile(r"^(\w+)\s+(?:(\w+)\s*=\s*)?(\w+)\((.*?)\)\s*->\s*(\(\)|\([^)]*\)|[\w\[\]]+)\s*(.*)$")


class Arg:
    def __init__(self, text, where):
        m = re.match(r"^(\S+)\s+(\w+)(?:\s*=\s*(.+))?$", text.strip())
        if not m or m.group(1) not in TYPES:
            sys.exit(f"{where}: bad argument '{text.strip()}' (known types: {', '.join(TYPES)})")
        self.type, self.name, self.default = m.group(1), m.group(2), m.group(3)
        self.cpp, self.enum = TYPES[self.type]
        self.value = VALUE_TYPE.get(self.cpp, self.cpp)


class Op:
    def __init__(self, line, where):
        m = LINE.match(line)
        if not m:
            sys.exit(f"{where}: cannot parse '{line}'")
        family, row, func, args, ret, flags = m.groups()
        if family not in FAMILIES:
            sys.exit(f"{where}: unknown family '{family}'")
        if ret not in RETURNS:
            sys.exit(f"{where}: unknown return '{ret}'")
        self.family, self.func, self.name = family, func, row or func
        self.args = [Arg(a, where) for a in split_args(args)]
        self.ret, self.ret_kind = RETURNS[ret]
        self.grad, self.label = False, None
        self.derivs = {}  # tensor input name -> derivative formula (a C++ expression over ops)
        self.where = where
        for f in flags.split():
            if f == "grad":
                self.grad = True
            elif f.startswith("label="):
                self.label = f[len("label="):]
            else:
                sys.exit(f"{where}: unknown flag '{f}'")
        if self.label is None:
            self.label = {"unary": "unary", "binary": "binary", "compare": "binary"}.get(family, self.name)
            if family in ("unary", "binary", "compare"):
                self.label += "." + self.name
        self.signature = f"{func}({args.strip()}) -> {ret}"

    def params(self, defaults):
        out = []
        for a in self.args:
            d = f" = {a.default}" if defaults and a.default is not None else ""
            out.append(f"{a.cpp} {a.name}{d}")
        return ", ".join(out)


def split_args(text):
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch in "([<"
        depth -= ch in ")]>"
        cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


DERIV = re.compile(r"^(\w+)\s*:\s*(.+)$")
# Families whose differentiable rows must carry formulas: their natives record no node.
FORMULA_FAMILIES = ("unary", "binary", "reduce")


def parse(path):
    ops = []
    with open(path) as f:
        for no, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].rstrip()
            where = f"{path}:{no}"
            if not line.strip():
                continue
            if line[0] in " \t":  # an indented line: a derivative formula of the row above
                m = DERIV.match(line.strip())
                if not m or not ops:
                    sys.exit(f"{where}: an indented line must be 'INPUT: FORMULA' under a row, got '{line.strip()}'")
                add_derivative(ops[-1], m.group(1), m.group(2).strip(), where)
            else:
                ops.append(Op(line.strip(), where))
    names = [o.name for o in ops]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        sys.exit(f"{path}: duplicate op rows {sorted(dup)}")
    for o in ops:
        check_derivatives(o)
    return ops


def add_derivative(op, name, formula, where):
    arg = next((a for a in op.args if a.name == name), None)
    if arg is None or arg.type not in ("Tensor", "Tensor?"):
        sys.exit(f"{where}: '{op.name}' has no Tensor input '{name}' to differentiate")
    if name in op.derivs:
        sys.exit(f"{where}: '{op.name}' has two formulas for '{name}'")
    if not op.grad:
        sys.exit(f"{where}: '{op.name}' has a derivative formula but no 'grad' flag")
    if op.ret_kind not in ("One", "Two", "Three"):
        sys.exit(f"{where}: '{op.name}': formulas need a row that returns tensors, not {op.ret}")
    op.derivs[name] = formula


def check_derivatives(op):
    """A differentiable row of a formula family needs a formula for every Tensor input."""
    if op.grad and op.family in FORMULA_FAMILIES:
        missing = [a.name for a in op.args if a.type in ("Tensor", "Tensor?") and a.name not in op.derivs]
        if missing:
            sys.exit(f"{op.where}: '{op.name}' is differentiable but has no derivative formula for "
                     f"{', '.join(missing)} (add an indented line 'INPUT: FORMULA' under the row)")


def ordered(ops):
    """Rows grouped by family in FAMILIES order (the OpId order)."""
    return [o for fam in FAMILIES for o in ops if o.family == fam]


HEADER = "// Generated by tools/gen_ops.py from csrc/ops/ops.schema. Do not edit.\n"


def gen_op_table(ops):
    out = [HEADER, "#pragma once\n"]
    for fam in FAMILIES:
        rows = " ".join(f"X({o.name}, {'true' if o.grad else 'false'})" for o in ops if o.family == fam)
        out.append(f"#define NN_{fam.upper()}_OPS(X) {rows}\n")
    out.append("#define NN_ALL_OPS(X) " + " ".join(f"NN_{f.upper()}_OPS(X)" for f in FAMILIES) + "\n")
    out.append(f"#define NN_NUM_SCHEMA_OPS {len(ops)}\n")
    return "".join(out)


def gen_header(ops):
    out = [HEADER, """// The C++ API of every op: nn::OP dispatches (interception, then nn::native_OP, which
// csrc/ops/*.cpp define). Parameter types follow ops.schema (see its header).
#pragma once
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "ops/op_types.h"

namespace nn {
"""]
    for o in ops:
        out.append(f"{o.ret} {o.func}({o.params(True)});\n")
    out.append("\n// The implementations (csrc/ops/*.cpp). A distinct name, not a namespace: argument-\n"
               "// dependent lookup would make nn::sum and native::sum ambiguous inside the natives.\n")
    for o in ops:
        out.append(f"{o.ret} native_{o.func}({o.params(True)});\n")
    out.append("\n// The autograd layer (autograd_generated.cpp) of the rows with derivative formulas:\n"
               "// native_OP, then the backward node built from the formulas when an input needs grad.\n")
    for o in ops:
        if o.derivs:
            out.append(f"{o.ret} autograd_{o.func}({o.params(False)});\n")
    out.append("Tensor autograd_unary_op(OpId op, const Tensor& x);\n")
    out.append("Tensor autograd_binary_op(OpId op, const Tensor& a, const Tensor& b);\n")
    out.append("\n}  // namespace nn\n")
    return "".join(out)


def layer(o):
    """The function an entry point and the boxed call run: the autograd layer when the row
    has formulas, else the native."""
    return f"autograd_{o.func}" if o.derivs else f"native_{o.func}"


def box_outputs(o):
    k = o.ret_kind
    if k == "None":
        return ""
    if k == "One":
        return "out.push_back(std::move(r));"
    if k == "Two":
        return "out.push_back(std::move(r.first)); out.push_back(std::move(r.second));"
    if k == "Three":
        return ("out.push_back(std::move(std::get<0>(r))); out.push_back(std::move(std::get<1>(r))); "
                "out.push_back(std::move(std::get<2>(r)));")
    return "for (Tensor& t : r) out.push_back(std::move(t));"


def unbox_result(o):
    k = o.ret_kind
    if k == "None":
        return "return;"
    if k == "One":
        return "return std::move(out[0]);"
    if k == "Two":
        return "return {std::move(out[0]), std::move(out[1])};"
    if k == "Three":
        return "return {std::move(out[0]), std::move(out[1]), std::move(out[2])};"
    return "return out;"


def gen_source(ops):
    out = [HEADER, """// The dispatching entry point of every op (Note [Interception]), the boxed call and the
// schema table.
#include <utility>

#include "ops/intercept.h"
#include "ops/ops.h"

namespace nn {

// ---- entry points
"""]
    for o in ops:
        names = ", ".join(a.name for a in o.args)
        boxed = ", ".join(f"dispatch::box({a.name})" for a in o.args)
        call = f"{layer(o)}({names})"
        out.append(f"{o.ret} {o.func}({o.params(False)}) {{\n")
        out.append("  if (__builtin_expect(dispatch::tl_interceptor != nullptr, 0)) {\n")
        out.append(f"    std::vector<Tensor> out = dispatch::intercept(OpId::{o.name}, dispatch::Stack{{{boxed}}});\n")
        out.append(f"    {unbox_result(o)}\n  }}\n")
        out.append(f"  return {call};\n}}\n")
    out.append("""
// The family entry points: unary_op / binary_op take the row as an argument (the Tensor
// operators of the bindings use them); they intercept as that row.
Tensor unary_op(OpId op, const Tensor& x) {
  if (__builtin_expect(dispatch::tl_interceptor != nullptr, 0))
    return std::move(dispatch::intercept(op, dispatch::Stack{dispatch::box(x)})[0]);
  return autograd_unary_op(op, x);
}
Tensor binary_op(OpId op, const Tensor& a, const Tensor& b) {
  if (__builtin_expect(dispatch::tl_interceptor != nullptr, 0))
    return std::move(dispatch::intercept(op, dispatch::Stack{dispatch::box(a), dispatch::box(b)})[0]);
  return autograd_binary_op(op, a, b);
}

""")
    for o in ops:
        if o.family == "unary":
            out.append(f"Tensor native_{o.func}(const Tensor& x) {{ return native_unary_op(OpId::{o.name}, x); }}\n")
        elif o.family in ("binary", "compare"):
            out.append(f"Tensor native_{o.func}(const Tensor& a, const Tensor& b) {{ return native_binary_op(OpId::{o.name}, a, b); }}\n")
    out.append("\nnamespace dispatch {\n\nvoid call_boxed(OpId op, const Stack& s, std::vector<Tensor>& out) {\n")
    out.append("  out.clear();\n  switch (op) {\n")
    for o in ops:
        args = ", ".join(f"unbox<{a.value}>(s[{i}])" for i, a in enumerate(o.args))
        call = f"{layer(o)}({args})"
        if o.ret_kind == "None":
            out.append(f"    case OpId::{o.name}: {call}; return;\n")
        else:
            out.append(f"    case OpId::{o.name}: {{\n      auto r = {call};\n      {box_outputs(o)}\n      return;\n    }}\n")
    out.append("    case OpId::kCount: break;\n  }\n")
    out.append('  throw ValueError(str("call_boxed: no op with id ", static_cast<int>(op)));\n}\n\n')
    out.append("namespace {\n")
    for o in ops:
        if o.args:
            rows = ", ".join(f'{{"{a.name}", ArgType::{a.enum}}}' for a in o.args)
            out.append(f"const ArgSchema kArgs_{o.name}[] = {{{rows}}};\n")
    out.append("const OpSchema kSchemas[] = {\n")
    for o in ops:
        args = f"kArgs_{o.name}" if o.args else "nullptr"
        sig = o.signature.replace('"', '\\"')
        derivs = "\\n".join(f"{k}: {v}" for k, v in o.derivs.items()).replace('"', '\\"')
        out.append(f'    {{"{o.name}", "{o.func}", "{o.label}", {str(o.grad).lower()}, ReturnKind::{o.ret_kind}, '
                   f'{len(o.args)}, {args}, "{sig}", "{derivs}"}},\n')
    out.append("};\n")
    out.append("static_assert(sizeof(kSchemas) / sizeof(kSchemas[0]) == kNumOps, \"schema rows out of sync\");\n")
    out.append("}  // namespace\n\n")
    out.append("const OpSchema& op_schema(OpId op) { return kSchemas[static_cast<int>(op)]; }\n\n")
    out.append("}  // namespace dispatch\n}  // namespace nn\n")
    return "".join(out)


def backward_node_name(row):
    """log_softmax -> LogSoftmaxBackward (the node names of ops/internal.h's backward_name)."""
    return "".join(part[:1].upper() + part[1:] for part in row.split("_") if part) + "Backward"


TENSOR_TYPES = ("Tensor", "Tensor?")
RESULTS = {"One": ["result"], "Two": ["result", "result1"], "Three": ["result", "result1", "result2"]}
META_USE = r"(?<![\w.:]){name}\.(sizes|dtype|dim)\(\)"


def uses(formula, name):
    """Whether `name` occurs in the formula as a variable (not a member, a qualified name or a call)."""
    return re.search(rf"(?<![\w.:]){name}\b(?!\s*\()", formula) is not None


def rewrite_meta(formula, name):
    """x.sizes() / x.dtype() / x.dim() -> the captured metadata, so x itself need not be saved."""
    repl = {"sizes": f"meta_{name}.sizes", "dtype": f"meta_{name}.dtype",
            "dim": f"static_cast<int64_t>(meta_{name}.sizes.size())"}
    return re.sub(META_USE.format(name=name), lambda m: repl[m.group(1)], formula)


def gen_autograd_fn(o):
    """autograd_OP: native_OP, then (when an input needs grad and the result is floating)
    a backward node whose gradient for each input is its formula, summed to the input's
    shape and cast to its dtype (as the engine requires)."""
    results = RESULTS[o.ret_kind]
    diff = [a for a in o.args if a.name in o.derivs]  # the node's inputs, in signature order
    tensors = [a.name for a in o.args if a.type in TENSOR_TYPES] + results
    attrs = [a for a in o.args if a.type not in TENSOR_TYPES]
    formulas, saved_by, meta = {}, {}, {a.name for a in diff}
    for a in diff:
        f = o.derivs[a.name]
        for t in tensors:
            g = rewrite_meta(f, t)
            if g != f:
                meta.add(t)
                f = g
        formulas[a.name] = f
        for t in tensors:
            if uses(f, t):
                saved_by.setdefault(t, []).append(a.name)
    if any(m in results for m in meta):
        sys.exit(f"{o.where}: '{o.name}': take sizes/dtype of an input, not of the result")
    used_attrs = [a for a in attrs if any(uses(f, a.name) for f in formulas.values())]
    node = backward_node_name(o.name)
    names = ", ".join(a.name for a in o.args)
    lines = [f"{o.ret} autograd_{o.func}({o.params(False)}) {{", f"  {o.ret} r_ = native_{o.func}({names});"]
    if o.ret_kind == "One":
        lines.append("  const Tensor& result = r_;")
    elif o.ret_kind == "Two":
        lines.append("  const Tensor& result = r_.first;")
    else:
        lines.append("  const Tensor& result = std::get<0>(r_);")
    needs = ", ".join(f"&{a.name}" for a in diff)
    lines.append(f"  if (__builtin_expect(autograd::needs_grad({{{needs}}}), 0) && is_floating(result.dtype())) {{")
    for a in diff:
        lines.append(f"    const bool need_{a.name} = {a.name}.defined() && {a.name}.requires_grad();")
    for t in sorted(meta, key=tensors.index):
        lines.append(f"    const derivatives::TensorMeta meta_{t}({t});")
    for t in sorted(saved_by, key=tensors.index):
        src = t
        if t == "result1":
            src = "r_.second" if o.ret_kind == "Two" else "std::get<1>(r_)"
        elif t == "result2":
            src = "std::get<2>(r_)"
        cond = " || ".join(f"need_{n}" for n in saved_by[t])
        lines.append(f"    const autograd::SavedTensor saved_{t}(({cond}) ? {src} : Tensor());")
    captures = [f"need_{a.name}" for a in diff] + [f"meta_{t}" for t in sorted(meta, key=tensors.index)] + \
        [f"saved_{t}" for t in sorted(saved_by, key=tensors.index)] + [a.name for a in used_attrs]
    inputs = ", ".join(a.name for a in diff)
    lines.append(f'    autograd::record("{node}", {{{inputs}}}, {{result}}, [{", ".join(captures)}](const std::vector<Tensor>& grads_) {{')
    lines.append(f"      std::vector<Tensor> out_({len(diff)});")
    lines.append("      const Tensor& grad = grads_[0];")
    lines.append("      if (!grad.defined()) return out_;")
    for i, a in enumerate(diff):
        lines.append(f"      if (need_{a.name}) {{")
        for t in sorted(saved_by, key=tensors.index):
            if a.name in saved_by[t]:
                lines.append(f'        const Tensor {t} = saved_{t}.unpack("{node}");')
        lines.append(f"        out_[{i}] = derivatives::to_input({formulas[a.name]}, meta_{a.name});")
        lines.append("      }")
    lines.append("      return out_;")
    lines.append("    });")
    lines.append("  }")
    lines.append("  return r_;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def gen_autograd(ops):
    out = [HEADER, """// The autograd layer: for each row with derivative formulas (ops.schema), autograd_OP
// runs native_OP and records the backward node the formulas define. The formulas are
// C++ expressions over ops (ops.h) and the helpers of ops/derivatives.h, so they hold
// for any device that has the ops' kernels.
#include <tuple>
#include <utility>

#include "autograd/node.h"
#include "ops/derivatives.h"
#include "ops/ops.h"

namespace nn {
using namespace nn::derivatives;  // the formulas' helpers (scalar, ...)

"""]
    for o in ops:
        if o.derivs:
            out.append(f"// {o.name}: " + "; ".join(f"{k}: {v}" for k, v in o.derivs.items()) + "\n")
            out.append(gen_autograd_fn(o) + "\n")
    for fam, fn, params, args in (("unary", "autograd_unary_op", "OpId op, const Tensor& x", "x"),
                                  ("binary", "autograd_binary_op", "OpId op, const Tensor& a, const Tensor& b", "a, b")):
        out.append(f"Tensor {fn}({params}) {{\n  switch (op) {{\n")
        for o in ops:
            if o.derivs and (o.family == fam or (fam == "binary" and o.family == "compare")):
                out.append(f"    case OpId::{o.name}: return autograd_{o.func}({args});\n")
        out.append(f"    default: return native_{fam}_op(op, {args});\n  }}\n}}\n\n")
    out.append("}  // namespace nn\n")
    return "".join(out)


# schema type -> (pybind11 parameter type, expression turning it into the C++ argument)
PY_PARAM = {
    "Tensor?": ("std::optional<Tensor>", "{n}.has_value() ? *{n} : Tensor()"),
    "Tensor(a!)": ("const Tensor&", "{n}"),
    "OpId": ("const std::string&", "op_from_name({n})"),
    "IndexKey": ("py::handle", "parse_index({n})"),
}


def py_default(arg):
    d = arg.default
    if d is None:
        return ""
    if d == "std::nullopt":
        return " = py::none()"
    if d.startswith('"'):
        return f" = std::string({d})"
    return f" = {d}"


def gen_bindings(ops):
    out = [HEADER, """// nn_core._C.ops: every schema row as a plain function with the schema's argument names
// and defaults (as torch.ops.aten): the dispatching entry point, so interception (the
// runtime's tracer) sees these calls like any other. Tensor? takes None; an OpId argument
// takes the row name ("relu"); an IndexKey takes a Python subscript.
#include "bindings/bindings.h"
#include "ops/intercept.h"

namespace nn::bind {

void bind_generated_ops(py::module_& parent) {
  py::module_ m = parent.def_submodule("ops", "Every op of the schema (csrc/ops/ops.schema), unboxed.");
"""]
    for o in ops:
        params, conv, pyargs = [], [], []
        for a in o.args:
            ptype, expr = PY_PARAM.get(a.type, (a.cpp, "{n}"))
            params.append(f"{ptype} {a.name}")
            conv.append(expr.format(n=a.name))
            pyargs.append(f'py::arg("{a.name}"){py_default(a)}')
        call = f"{o.func}({', '.join(conv)})"
        body = f"{call};" if o.ret_kind == "None" else f"return {call};"
        if o.args[0].type in ("Tensor", "Tensor(a!)") and not any(a.type == "IndexKey" for a in o.args):
            body = f"MaybeReleaseGil gil({o.args[0].name}.numel()); {body}"  # large kernels run without the GIL
        doc = o.signature.replace('"', '\\"')
        extra = "".join(", " + p for p in pyargs)
        out.append(f'  m.def("{o.name}", []({", ".join(params)}) {{ {body} }}, "{doc}"{extra});\n')
    out.append("}\n\n}  // namespace nn::bind\n")
    return "".join(out)


def write_if_changed(path, text):
    if os.path.exists(path):
        with open(path) as f:
            if f.read() == text:
                return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    ops = ordered(parse(sys.argv[1]))
    os.makedirs(sys.argv[2], exist_ok=True)
    write_if_changed(os.path.join(sys.argv[2], "op_table_generated.h"), gen_op_table(ops))
    write_if_changed(os.path.join(sys.argv[2], "ops_generated.h"), gen_header(ops))
    write_if_changed(os.path.join(sys.argv[2], "ops_generated.cpp"), gen_source(ops))
    write_if_changed(os.path.join(sys.argv[2], "bindings_generated.cpp"), gen_bindings(ops))
    write_if_changed(os.path.join(sys.argv[2], "autograd_generated.cpp"), gen_autograd(ops))


if __name__ == "__main__":
    main()
