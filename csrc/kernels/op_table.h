// op_table.h — the op ids. Every op is one row of ops/ops.schema; tools/gen_ops.py
// writes the rows per family as X-macro lists (op_table_generated.h: NN_UNARY_OPS(X),
// NN_BINARY_OPS(X), ..., NN_ALL_OPS(X), with X(name, differentiable)), from which come
// the OpId enum, the op names (op_info), the per-op kernel tables (kernels/dispatch.h) and
// the kernels' registration lists (a unary row without its functor fails to compile).
//
// Families:
//   unary      elementwise, one input, a kernel functor in cpu/unary_kernels.cpp with its
//              derivative functor.
//   binary     elementwise with broadcasting, a functor in cpu/binary_kernels.cpp and a
//              derivative in ops/elementwise.cpp.
//   compare    elementwise with broadcasting, bool result, no gradient.
//   reduce     reductions over any dims with keepdim, kernels in cpu/reduce_kernels.cpp.
//   composite  written with other differentiable ops (STYLE.md 2): no kernel of their own.
//   shape      views and data movement (slicing, indexing, cat, ...), ops/shape.cpp,
//              ops/index.cpp.
//   special    ops with a dedicated kernel (matmul, linear/addmm through the fused GEMM
//              epilogue, softmax, conv, attention, int8, ...), in-place forms, factories.
#pragma once
#include <cstdint>
#include <string>

#include "op_table_generated.h"

namespace nn {

enum class OpId : uint16_t {
#define NN_OP_ENUM(name, grad) name,
  NN_ALL_OPS(NN_OP_ENUM)
#undef NN_OP_ENUM
  kCount
};
constexpr int kNumOps = static_cast<int>(OpId::kCount);

static_assert(kNumOps == NN_NUM_SCHEMA_OPS, "op table and schema disagree");

enum class OpFamily : uint8_t { Unary, Binary, Compare, Reduce, Composite, Shape, Special };

struct OpInfo {
  const char* name;
  OpFamily family;
  bool differentiable;
};

const OpInfo& op_info(OpId op);
const char* op_family_name(OpFamily f);
// The row named `name` (op_info(op).name); ValueError naming it when there is none.
OpId op_from_name(const std::string& name);

}  // namespace nn
