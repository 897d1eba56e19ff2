// executor.h — runs one graph node: the op the tracer recorded, through its boxed call,
// with the node's arguments (SymInt values already resolved for the current input shapes).
#pragma once
#include <vector>

#include "runtime/graph.h"

namespace nn::runtime {

// in: the node's input tensors (undefined for -1); ints: the node's SymInt values (in
// sym_int_values order); out: cleared and filled with its outputs.
void exec_node(const Node& n, const int64_t* ints, const std::vector<Tensor>& in, std::vector<Tensor>& out);

}  // namespace nn::runtime
