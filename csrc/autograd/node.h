// node.h — the autograd graph: Node (one backward function), Edge (a link to the node
// that produced an input), SavedTensor (a tensor kept for backward, with the version
// check), GradMode (thread-local), and record_* helpers used by the ops.
//
// Note [Saved tensors]: a node keeps *detached aliases* of the tensors it needs (same
// storage, no grad_fn), so saving an op's own output does not create a reference cycle.
// The storage version at save time is recorded; unpacking after an in-place edit raises.
// Backward formulas run under no_grad (no higher-order gradients).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/autograd_meta.h"
#include "core/tensor.h"

namespace nn::autograd {

struct Node;

struct Edge {
  std::shared_ptr<Node> node;
  uint32_t input_nr = 0;
  bool valid() const { return node != nullptr; }
};

// What a gradient flowing into a node's input slot must look like.
struct GradMeta {
  Shape sizes;
  DType dtype;
  Device device;
};

struct Node {
  // Releases the chain of predecessors iteratively, so freeing a 100k-deep graph does
  // not overflow the stack through nested shared_ptr destructors.
  virtual ~Node();
  // grads[i] is the gradient of the forward op's i-th output (undefined when no gradient
  // reached it); returns one gradient per next_edges entry (undefined = none).
  virtual std::vector<Tensor> apply(std::vector<Tensor>&& grads) = 0;
  virtual void release_saved() {}
  virtual std::string name() const = 0;

  std::vector<Edge> next_edges;     // one per differentiable forward input
  std::vector<GradMeta> output_meta;  // one per forward output (= per grads[] slot)
  uint64_t sequence_nr = 0;
};

class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t);
  // Returns the saved alias; throws RuntimeError when it was modified in place since.
  Tensor unpack(const std::string& node_name) const;
  bool defined() const { return data_.defined(); }

 private:
  Tensor data_;
  uint64_t version_ = 0;
};

// The generic node used by the ops: a named backward function (a lambda that captures
// SavedTensors and sizes). After release_saved() the function is dropped, so a second
// backward through it raises.
class FunctionNode : public Node {
 public:
  using BackwardFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& grads)>;
  FunctionNode(std::string name, BackwardFn fn) : name_(std::move(name)), fn_(std::move(fn)) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override;
  void release_saved() override { fn_ = nullptr; released_ = true; }
  std::string name() const override { return name_; }

 private:
  std::string name_;
  BackwardFn fn_;
  bool released_ = false;
};

// Accumulates into a leaf's .grad.
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(TensorImplPtr leaf) : leaf_(std::move(leaf)) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override;
  std::string name() const override { return "AccumulateGrad"; }
  const TensorImplPtr& leaf() const { return leaf_; }  // the tensor whose .grad it accumulates

 private:
  TensorImplPtr leaf_;
};

struct GradMode {
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

struct GradModeGuard {
  explicit GradModeGuard(bool enabled) : prev_(GradMode::is_enabled()) { GradMode::set_enabled(enabled); }
  ~GradModeGuard() { GradMode::set_enabled(prev_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool prev_;
};

// True when grad mode is on and any input requires grad.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Connects outputs to a new FunctionNode whose edges point at `inputs`' history.
// Inputs that are undefined or do not require grad get invalid edges (their slot in the
// backward's result is ignored).
void record(const std::string& name, const std::vector<Tensor>& inputs,
            const std::vector<Tensor>& outputs, FunctionNode::BackwardFn fn);

// The edge a gradient for `t` should flow into (grad_fn or the leaf's accumulator).
Edge gradient_edge(const Tensor& t);

// Runs backward from roots with the given seed gradients.
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph);

// The tensor ops autograd itself applies: the sum of two gradients for one input, a
// private copy of a gradient kept as a leaf's .grad, and detach (a saved tensor keeps
// its data without its history). The op layer (above autograd)
// installs them at static initialisation (ops/backward.cpp); the engine includes no op.
struct EngineOps {
  Tensor (*add)(const Tensor& a, const Tensor& b) = nullptr;
  Tensor (*clone)(const Tensor& t) = nullptr;
  Tensor (*detach)(const Tensor& t) = nullptr;
};
bool set_engine_ops(const EngineOps& ops);  // returns true (for a static initialiser)

}  // namespace nn::autograd
