// graph.h — the inference runtime's graph: values (graph inputs, constants, node outputs)
// and nodes that each call one nn:: op with recorded attributes.
//
// Layout conventions: value ids are dense ints; -1 is "undefined tensor" (an optional
// argument left out). Node attributes are split by how they vary with the input shapes:
//   ints   — sizes and indices that may depend on dynamic dims (view shapes, slice bounds,
//            arange ends); after symbolize() each has a SymInt (coef * prod sym^exp)
//   flags  — dims, enums, booleans, counts of variable-length lists: never symbolic
//   floats — eps, scales, fill values;  str — the linear activation
// Dynamic dims are traced at distinct primes, so a size like batch*seq*64 factors back
// into a monomial of the symbols (see symbolize()).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "cpu/gemm/qgemm.h"

namespace nn::runtime {

#define NN_RUNTIME_OPS(X)                                                                       \
  X(unary) X(binary) X(unary_inplace) X(binary_inplace) X(where) X(cast) X(clamp) X(leaky_relu) \
  X(softplus) X(sum) X(mean) X(amax) X(amin) X(softmax) X(log_softmax) X(view) X(reshape)       \
  X(permute) X(transpose) X(expand) X(squeeze) X(unsqueeze) X(slice) X(select) X(contiguous)    \
  X(cat) X(get_item) X(matmul) X(bmm) X(linear) X(addmm) X(conv2d) X(max_pool2d) X(avg_pool2d) \
  X(adaptive_avg_pool2d) X(batch_norm) X(group_norm) X(layer_norm) X(rms_norm) X(embedding)     \
  X(attention) X(dropout) X(full) X(arange) X(detach) X(clone) X(copy_inplace) X(fill_inplace) \
  X(max_dim) X(min_dim) X(argmax) X(argmin) X(prod) X(var) X(std) X(index) X(index_put_inplace)  \
  X(set_item_inplace) X(conv_transpose2d) X(quantize_per_tensor) X(dequantize_per_tensor)          \
  X(qlinear_dynamic) X(qlinear) X(qconv2d)

enum class Op : uint8_t {
#define NN_RT_ENUM(name) name,
  NN_RUNTIME_OPS(NN_RT_ENUM)
#undef NN_RT_ENUM
};
const char* op_name(Op op);

constexpr int kMaxSymbols = 8;

// coef * prod_s symbol[s]^exp[s]
struct SymInt {
  int64_t coef = 0;
  std::array<int8_t, kMaxSymbols> exp{};
  bool operator==(const SymInt& o) const { return coef == o.coef && exp == o.exp; }
  bool operator!=(const SymInt& o) const { return !(*this == o); }
  int64_t eval(const int64_t* sym_values) const;
  std::string str(const std::vector<std::string>& names) const;
};

struct Node {
  Op op;
  std::vector<int> inputs;   // value ids, -1 = undefined
  std::vector<int> outputs;  // value ids
  std::vector<int64_t> ints;     // concrete values at trace time
  std::vector<SymInt> sym_ints;  // filled by symbolize()
  std::vector<int64_t> flags;
  std::vector<double> floats;
  std::string str;
  std::shared_ptr<gemm::PackedQWeight> qweight;  // int8 ops: the packed weight (a constant)
  std::string label() const;  // e.g. "linear+relu", "binary.add"
};

struct ValueInfo {
  DType dtype = DType::Float32;
  Shape sizes;                  // at trace time
  std::vector<SymInt> sym_sizes;  // filled by symbolize()
};

struct Graph {
  std::vector<ValueInfo> values;
  std::vector<int> input_ids;
  std::vector<int> constant_ids;        // parallel to constants
  std::vector<Tensor> constants;
  std::vector<bool> constant_registered;  // a module parameter/buffer (compared by identity)
  // A Python int captured as a 0-dim wrapped number whose value is a product of the
  // dynamic dims (x.sum(1) / x.shape[1]): filled by symbolize(), remade per plan.
  std::vector<int> symbolic_constants;     // indices into constants
  std::vector<SymInt> symbolic_constant_values;
  std::vector<Node> nodes;
  std::vector<int> output_ids;
  int num_identity_dropped = 0;  // ops that returned their input at trace time (dropout in eval, ...)
  int num_fused = 0;

  int new_value(const Tensor& t);
  std::string str(const std::vector<std::string>& symbol_names) const;
  std::vector<std::string> node_labels() const;  // one per node, in order (Node::label)
};

// Rewrites every int attribute and value size as a monomial of the symbols traced at
// `primes` (symbol s was traced with size primes[s]).
void symbolize(Graph& g, const std::vector<int64_t>& primes);
// Empty when the two symbolized graphs agree (same ops, attributes, captured constants);
// else a description of the first difference.
std::string compare_graphs(const Graph& a, const Graph& b);
// Fusion: linear + relu/gelu, conv2d + relu (single use, not a graph output).
void fuse(Graph& g);
// For each node, the value ids whose last use it is (freed after it runs).
std::vector<std::vector<int>> last_uses(const Graph& g);

}  // namespace nn::runtime
