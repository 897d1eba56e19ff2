#!/usr/bin/env python3
"""gen_ops.py — writes the op table, the op declarations, the dispatching entry points,
the boxed calls and the schema table from csrc/ops/ops.schema (see that file's header).

Usage: python tools/gen_ops.py SCHEMA OUT_DIR
CMake runs it at build time; it writes OUT_DIR/op_table_generated.h, ops_generated.h,
ops_generated.cpp and bindings_generated.cpp (nn_core._C.ops: one pybind11 function per
row), and rewrites a file only when its text changes (no needless rebuilds).
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


def parse(path):
    ops = []
    with open(path) as f:
        for no, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if line:
                ops.append(Op(line, f"{path}:{no}"))
    names = [o.name for o in ops]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        sys.exit(f"{path}: duplicate op rows {sorted(dup)}")
    return ops


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
    out.append("\n}  // namespace nn\n")
    return "".join(out)


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
        call = f"native_{o.func}({names})"
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
  return native_unary_op(op, x);
}
Tensor binary_op(OpId op, const Tensor& a, const Tensor& b) {
  if (__builtin_expect(dispatch::tl_interceptor != nullptr, 0))
    return std::move(dispatch::intercept(op, dispatch::Stack{dispatch::box(a), dispatch::box(b)})[0]);
  return native_binary_op(op, a, b);
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
        call = f"native_{o.func}({args})"
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
        out.append(f'    {{"{o.name}", "{o.func}", "{o.label}", {str(o.grad).lower()}, ReturnKind::{o.ret_kind}, '
                   f'{len(o.args)}, {args}, "{sig}"}},\n')
    out.append("};\n")
    out.append("static_assert(sizeof(kSchemas) / sizeof(kSchemas[0]) == kNumOps, \"schema rows out of sync\");\n")
    out.append("}  // namespace\n\n")
    out.append("const OpSchema& op_schema(OpId op) { return kSchemas[static_cast<int>(op)]; }\n\n")
    out.append("}  // namespace dispatch\n}  // namespace nn\n")
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


if __name__ == "__main__":
    main()
