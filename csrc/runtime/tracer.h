// tracer.h — records the ops a model runs on this thread into a Graph. Usage:
// begin() with the example inputs and the registered constants (the module's parameters
// and buffers), run the model, then finish() with its outputs. Input tensors of each op
// are looked up by TensorImpl identity: graph inputs, registered constants, values made
// by recorded nodes; any other tensor is captured as a constant (held by the graph).
// Every traced tensor is kept alive until finish() so identities stay unique.
// The tracer is an interceptor (ops/intercept.h, Note [Interception]): while it is active
// on a thread, every op called there is handed to intercept(), which runs it with tracing
// suspended (ops called inside are not recorded) and records one node.
#pragma once
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "runtime/graph.h"
#include "ops/intercept.h"

namespace nn::runtime {

class Tracer final : public dispatch::Interceptor {
 public:
  Tracer() = default;
  ~Tracer() override;
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  void begin(const std::vector<Tensor>& inputs, const std::vector<Tensor>& constants);
  Graph finish(const std::vector<Tensor>& outputs);
  void abort();  // stops tracing after an error
  bool active() const { return active_; }

  std::vector<Tensor> intercept(OpId op, dispatch::Stack&& args) override;

  int value_of(const Tensor& t);  // -1 for undefined
  // Records a node whose outputs are `outs`; an output that is one of the node's inputs
  // (the op returned its argument) is not recorded: the node is dropped as an identity.
  void record(Node node, const std::vector<Tensor>& outs);
  void record_inplace(Node node) { graph_.nodes.push_back(std::move(node)); }

 private:
  Graph graph_;
  std::unordered_map<const TensorImpl*, int> ids_;
  std::unordered_set<const Storage*> graph_storages_;  // storages of inputs and node outputs
  std::vector<Tensor> keep_;
  bool active_ = false;
};

}  // namespace nn::runtime
