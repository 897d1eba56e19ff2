// op_table.cpp — the OpInfo rows, from the generated lists of op_table.h. (The schema
// table's argument lookup, dispatch::arg_index, is in ops/intercept.cpp: it belongs to the
// op layer, above the kernels.)
#include "kernels/op_table.h"

#include "core/errors.h"

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
