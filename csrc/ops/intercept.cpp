// intercept.cpp — lookups in the schema table of ops/intercept.h (the table itself,
// op_schema, and call_boxed are generated into ops_generated.cpp).
#include "ops/intercept.h"

#include <cstring>

#include "core/errors.h"

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
