// op_table.cpp — the OpInfo rows, from the generated lists of op_table.h.
#include "ops/op_table.h"

#include <cstring>

#include "core/errors.h"
#include "ops/intercept.h"

namespace nn {
namespace {
const OpInfo kOpInfos[] = {
#define NN_ROW(family) [](const char* n, bool g) { return OpInfo{n, OpFamily::family, g}; }
#define NN_UNARY_ROW(name, grad) NN_ROW(Unary)(#name, grad),
#define NN_BINARY_ROW(name, grad) NN_ROW(Binary)(#name, grad),
#define NN_COMPARE_ROW(name, grad) NN_ROW(Compare)(#name, grad),
#define NN_REDUCE_ROW(name, grad) NN_ROW(Reduce)(#name, grad),
#define NN_COMPOSITE_ROW(name, grad) NN_ROW(Composite)(#name, grad),
#define NN_SHAPE_ROW(name, grad) NN_ROW(Shape)(#name, grad),
#define NN_SPECIAL_ROW(name, grad) NN_ROW(Special)(#name, grad),
    NN_UNARY_OPS(NN_UNARY_ROW) NN_BINARY_OPS(NN_BINARY_ROW) NN_COMPARE_OPS(NN_COMPARE_ROW)
    NN_REDUCE_OPS(NN_REDUCE_ROW) NN_COMPOSITE_OPS(NN_COMPOSITE_ROW) NN_SHAPE_OPS(NN_SHAPE_ROW)
    NN_SPECIAL_OPS(NN_SPECIAL_ROW)
#undef NN_ROW
};
static_assert(sizeof(kOpInfos) / sizeof(kOpInfos[0]) == kNumOps, "op info rows out of sync");
}  // namespace

const OpInfo& op_info(OpId op) { return kOpInfos[static_cast<int>(op)]; }

const char* op_family_name(OpFamily f) {
  switch (f) {
    case OpFamily::Unary: return "unary";
    case OpFamily::Binary: return "binary";
    case OpFamily::Compare: return "compare";
    case OpFamily::Reduce: return "reduce";
    case OpFamily::Composite: return "composite";
    case OpFamily::Shape: return "shape";
    case OpFamily::Special: return "special";
  }
  return "?";
}

OpId op_from_name(const std::string& name) {
  for (int i = 0; i < kNumOps; ++i)
    if (name == op_info(static_cast<OpId>(i)).name) return static_cast<OpId>(i);
  throw ValueError(str("no op named '", name, "' in the schema"));
}

}  // namespace nn

namespace nn::dispatch {

int arg_index(OpId op, const char* name) {
  const OpSchema& s = op_schema(op);
  for (int i = 0; i < s.num_args; ++i)
    if (std::strcmp(s.args[i].name, name) == 0) return i;
  throw ValueError(str(s.name, ": the schema has no argument '", name, "' (", s.signature, ")"));
}

const char* arg_type_name(ArgType t) {
  switch (t) {
    case ArgType::Tensor: return "Tensor";
    case ArgType::OptionalTensor: return "Tensor?";
    case ArgType::MutableTensor: return "Tensor(a!)";
    case ArgType::TensorList: return "Tensor[]";
    case ArgType::OptionalTensorList: return "Tensor?[]";
    case ArgType::Int: return "int";
    case ArgType::OptionalInt: return "int?";
    case ArgType::IntList: return "int[]";
    case ArgType::OptionalIntList: return "int[]?";
    case ArgType::SymInt: return "SymInt";
    case ArgType::OptionalSymInt: return "SymInt?";
    case ArgType::SymIntList: return "SymInt[]";
    case ArgType::Float: return "float";
    case ArgType::OptionalFloat: return "float?";
    case ArgType::Scalar: return "Scalar";
    case ArgType::Bool: return "bool";
    case ArgType::Str: return "str";
    case ArgType::ScalarType: return "ScalarType";
    case ArgType::OptionalScalarType: return "ScalarType?";
    case ArgType::OpId: return "OpId";
    case ArgType::IndexKey: return "IndexKey";
    case ArgType::QWeight: return "QWeight";
  }
  return "?";
}

const char* return_kind_name(ReturnKind r) {
  switch (r) {
    case ReturnKind::None: return "()";
    case ReturnKind::One: return "Tensor";
    case ReturnKind::Two: return "(Tensor, Tensor)";
    case ReturnKind::Three: return "(Tensor, Tensor, Tensor)";
    case ReturnKind::List: return "Tensor[]";
  }
  return "?";
}

}  // namespace nn::dispatch
