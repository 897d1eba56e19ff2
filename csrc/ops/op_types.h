// op_types.h — the argument types of the op schema (ops/ops.schema) that are not core
// types: Dims, TensorIndex (one item of a Python subscript) and QWeight (a packed int8
// weight). ops_generated.h (the op declarations) includes this file.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/tensor.h"
#include "cpu/gemm/qgemm.h"
#include "ops/op_table.h"

namespace nn {

using Dims = std::vector<int64_t>;  // for reductions: empty means "all dims"

// One item of a Python-style subscript: x[0, 1:5:2, None, ..., mask].
struct TensorIndex {
  enum class Kind { Integer, Slice, None, Ellipsis, Tensor };
  Kind kind = Kind::None;
  int64_t integer = 0;
  std::optional<int64_t> start, stop;
  int64_t step = 1;
  nn::Tensor tensor;
};

using QWeight = std::shared_ptr<gemm::PackedQWeight>;

}  // namespace nn
