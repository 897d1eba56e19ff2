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

}  // namespace nn

namespace nn::dispatch {

int arg_index(OpId op, const char* name) {
  const OpSchema& s = op_schema(op);
  for (int i = 0; i < s.num_args; ++i)
    if (std::strcmp(s.args[i].name, name) == 0) return i;
  throw ValueError(str(s.name, ": the schema has no argument '", name, "' (", s.signature, ")"));
}

}  // namespace nn::dispatch
