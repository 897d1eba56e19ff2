// misc_ops.h — the p-norm shared by the composite rows of misc_ops.cpp (norm, cdist) and
// misc_nn_ops.cpp (normalize, pairwise_distance). Not part of the public C++ API.
#pragma once
#include <vector>

#include "ops/ops.h"

namespace nn {

// (sum |x|^p over dims)^(1/p) (all dims when `dims` is empty); p = +-inf: max / min of |x|;
// p = 0: the count of nonzeros. A zero norm has a zero gradient (PyTorch's convention).
// `op` names the calling op in errors.
Tensor lp_norm(const Tensor& x, double p, const std::vector<int64_t>& dims, bool keepdim, const char* op);

}  // namespace nn
