// graph.h — the inference runtime's graph: values (graph inputs, constants, node outputs)
// and nodes that each call one op of the schema (ops/ops.schema) with its typed
// arguments, recorded as the boxed call the op's entry point made (ops/intercept.h).
//
// Layout conventions: value ids are dense ints; -1 is "undefined tensor" (an optional
// argument left out). A node keeps the op's arguments with every tensor slot cleared: the
// tensors are `inputs`, in argument order (for_each_tensor_slot). The arguments whose
// schema type is SymInt (view shapes, slice bounds, arange ends, subscript bounds) may
// depend on dynamic dims: their trace-time values are `ints` (for_each_sym_int order) and,
// after symbolize(), `sym_ints` (coef * prod sym^exp); the executor substitutes the
// values resolved for the current input shapes. Dynamic dims are traced at distinct
// primes, so a size like batch*seq*64 factors back into a monomial of the symbols.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ops/intercept.h"

namespace nn::runtime {

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
  OpId op = OpId::kCount;
  std::vector<int> inputs;       // value ids of the tensor slots of args, -1 = undefined
  std::vector<int> outputs;      // value ids
  dispatch::Stack args;          // the op's arguments, tensor slots cleared
  std::vector<int64_t> ints;     // the SymInt arguments' values at trace time
  std::vector<SymInt> sym_ints;  // filled by symbolize()
  std::string label() const;     // e.g. "linear+relu", "binary.add", "unary_inplace.relu"
};

// Calls fn(Tensor&) on every tensor slot of an op's arguments, in argument order: each
// Tensor / Tensor? / Tensor(a!), every element of a Tensor[], every present element of a
// Tensor?[], the tensor items of an IndexKey.
template <typename Fn>
void for_each_tensor_slot(dispatch::Stack& args, Fn&& fn) {
  for (dispatch::IValue& v : args) {
    if (auto* t = std::get_if<Tensor>(&v)) {
      fn(*t);
    } else if (auto* list = std::get_if<std::vector<Tensor>>(&v)) {
      for (Tensor& e : *list) fn(e);
    } else if (auto* olist = std::get_if<std::vector<std::optional<Tensor>>>(&v)) {
      for (auto& e : *olist)
        if (e) fn(*e);
    } else if (auto* key = std::get_if<std::vector<TensorIndex>>(&v)) {
      for (TensorIndex& k : *key)
        if (k.kind == TensorIndex::Kind::Tensor) fn(k.tensor);
    }
  }
}
// The values of the SymInt arguments of `op` in order: SymInt, a present SymInt?, each
// element of SymInt[], a Scalar that holds an integer, and per IndexKey item its integer,
// start, stop and step (0 for an absent bound).
std::vector<int64_t> sym_int_values(OpId op, const dispatch::Stack& args);
// Writes `values` (in sym_int_values order) into args.
void set_sym_int_values(OpId op, dispatch::Stack& args, const int64_t* values);

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
  std::vector<std::string> node_ops() const;     // each node's schema row name, in order
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
