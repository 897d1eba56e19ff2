// executor.h — runs one graph node: calls the same nn:: op the tracer recorded, with the
// node's attributes (ints already resolved for the current input shapes).
#pragma once
#include <vector>

#include "runtime/graph.h"

namespace nn::runtime {

// in: the node's input tensors (undefined for -1); out: cleared and filled with its outputs.
void exec_node(const Node& n, const int64_t* ints, const std::vector<Tensor>& in, std::vector<Tensor>& out);

}  // namespace nn::runtime
