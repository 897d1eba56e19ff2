// intercept.h — the interception point around dispatch, boxed op calls and the schema
// table (all generated from ops/ops.schema by tools/gen_ops.py).
//
// Note [Interception]: every op's entry point nn::OP (ops_generated.cpp) first checks
// tl_interceptor. When none is installed on this thread (the usual case: one thread-local
// load and a predicted branch) it calls nn::native_OP. When one is installed, the call
// is boxed (its arguments as IValues, in schema order) and handed to the interceptor,
// which must run it (normally through call_boxed, with itself uninstalled so that ops
// called inside are not seen) and return its outputs. The inference runtime's tracer is
// such an interceptor (runtime/tracer.cpp); nothing in csrc/ops knows of the runtime.
// Autograd is not an interceptor: natives record their own backward nodes.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "ops/op_types.h"

namespace nn::dispatch {

// One boxed argument. Optional arguments that are absent are std::monostate; Tensor?
// arguments are a Tensor that may be undefined; int, SymInt and Scalar-as-integer
// arguments are int64_t; float and Scalar arguments double.
using IValue = std::variant<std::monostate, Tensor, std::vector<Tensor>, std::vector<std::optional<Tensor>>, int64_t,
                            double, bool, std::vector<int64_t>, DType, std::string, std::vector<TensorIndex>, QWeight,
                            OpId>;
using Stack = std::vector<IValue>;

template <typename T>
IValue box(const T& v) {
  return IValue(std::in_place_type<T>, v);
}
inline IValue box(int v) { return IValue(std::in_place_type<int64_t>, v); }
template <typename T>
IValue box(const std::optional<T>& v) {
  return v ? box(*v) : IValue();
}

template <typename T>
struct Unboxer {
  static const T& get(const IValue& v) { return std::get<T>(v); }
};
template <typename T>
struct Unboxer<std::optional<T>> {
  static std::optional<T> get(const IValue& v) {
    if (std::holds_alternative<std::monostate>(v)) return std::nullopt;
    return std::get<T>(v);
  }
};
template <typename T>
decltype(auto) unbox(const IValue& v) {
  return Unboxer<T>::get(v);
}

class Interceptor {
 public:
  virtual ~Interceptor() = default;
  // Runs `op` with `args` and returns its outputs in order (none for an in-place op,
  // one per element for a Tensor[] result).
  virtual std::vector<Tensor> intercept(OpId op, Stack&& args) = 0;
};

inline thread_local Interceptor* tl_interceptor = nullptr;

// Hands a boxed call to this thread's interceptor (the generated entry points call it).
inline std::vector<Tensor> intercept(OpId op, Stack&& args) { return tl_interceptor->intercept(op, std::move(args)); }

// Runs native_OP from boxed arguments (no interception); out is cleared and gets the
// op's outputs as in Interceptor::intercept.
void call_boxed(OpId op, const Stack& args, std::vector<Tensor>& out);

// ---- the schema table
enum class ArgType : uint8_t {
  Tensor, OptionalTensor, MutableTensor, TensorList, OptionalTensorList,
  Int, OptionalInt, IntList, OptionalIntList, SymInt, OptionalSymInt, SymIntList,
  Float, OptionalFloat, Scalar, Bool, Str, ScalarType, OptionalScalarType, OpId, IndexKey, QWeight
};
enum class ReturnKind : uint8_t { None, One, Two, Three, List };

struct ArgSchema {
  const char* name;
  ArgType type;
};

struct OpSchema {
  const char* name;      // the row (OpId) name
  const char* cpp_name;  // the C++ function
  const char* label;     // node label in a runtime graph (Node::label adds details)
  bool differentiable;
  ReturnKind returns;
  int num_args;
  const ArgSchema* args;
  const char* signature;  // the schema line, for messages and docs
  // The derivative formulas, one "input: formula" per line ("" for a row without them:
  // not differentiable, or its native records the node, or a composite).
  const char* derivatives;
};

const OpSchema& op_schema(OpId op);

// The index of argument `name` of `op` (throws when the schema has none of that name).
int arg_index(OpId op, const char* name);
// The schema's spelling of an argument type ("Tensor?", "int[]", ...) and of a return
// ("()", "Tensor", "(Tensor, Tensor)", ...), as written in ops/ops.schema.
const char* arg_type_name(ArgType t);
const char* return_kind_name(ReturnKind r);

}  // namespace nn::dispatch
