// attention_ops.h — C++ API of the attention and transformer building-block ops
// (op table rows NN_ATTENTION_OPS in ops/op_table.h): ops/attention.cpp, ops/layer_norm.cpp.
// Semantics and argument names follow torch.nn.functional.
#pragma once
#include <optional>

#include "ops/ops.h"

namespace nn {
// scaled_dot_product_attention, layer_norm, rms_norm, embedding and dropout are schema
// rows (ops/ops.schema), declared in ops_generated.h.
}  // namespace nn
