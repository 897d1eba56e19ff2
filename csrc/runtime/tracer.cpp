// tracer.cpp — the Tracer (runtime/tracer.h): an interceptor that runs each op with
// tracing suspended and records it as one node (its boxed arguments, tensor slots as
// value ids); runtime/executor.cpp replays the node through the same boxed call.
#include "runtime/tracer.h"

#include "core/errors.h"

namespace nn::runtime {

namespace {

// Suspends tracing on this thread for the duration of one op.
struct Suspend {
  dispatch::Interceptor* saved;
  Suspend() : saved(dispatch::tl_interceptor) { dispatch::tl_interceptor = nullptr; }
  ~Suspend() { dispatch::tl_interceptor = saved; }
};

}  // namespace

Tracer::~Tracer() {
  if (active_ && dispatch::tl_interceptor == this) dispatch::tl_interceptor = nullptr;
}

void Tracer::begin(const std::vector<Tensor>& inputs, const std::vector<Tensor>& constants) {
  NN_CHECK(dispatch::tl_interceptor == nullptr, RuntimeError, "InferenceSession: a trace is already running on this thread");
  graph_ = Graph{};
  ids_.clear();
  graph_storages_.clear();
  keep_.clear();
  for (const Tensor& t : inputs) {
    NN_CHECK(t.defined(), ValueError, "InferenceSession: an example input is undefined");
    const int id = graph_.new_value(t);
    graph_.input_ids.push_back(id);
    ids_[t.impl()] = id;
    graph_storages_.insert(t.storage().get());
    keep_.push_back(t);
  }
  for (const Tensor& t : constants) {
    if (!t.defined() || ids_.count(t.impl())) continue;
    const int id = graph_.new_value(t);
    graph_.constant_ids.push_back(id);
    graph_.constants.push_back(t);
    graph_.constant_registered.push_back(true);
    ids_[t.impl()] = id;
    keep_.push_back(t);
  }
  active_ = true;
  dispatch::tl_interceptor = this;
}

void Tracer::abort() {
  if (dispatch::tl_interceptor == this) dispatch::tl_interceptor = nullptr;
  active_ = false;
  keep_.clear();
  ids_.clear();
}

Graph Tracer::finish(const std::vector<Tensor>& outputs) {
  if (dispatch::tl_interceptor == this) dispatch::tl_interceptor = nullptr;
  active_ = false;
  for (const Tensor& t : outputs) {
    NN_CHECK(t.defined(), ValueError, "InferenceSession: the model returned an undefined tensor");
    graph_.output_ids.push_back(value_of(t));
  }
  keep_.clear();
  ids_.clear();
  graph_storages_.clear();
  return std::move(graph_);
}

int Tracer::value_of(const Tensor& t) {
  if (!t.defined()) return -1;
  auto it = ids_.find(t.impl());
  if (it != ids_.end()) return it->second;
  NN_CHECK(!graph_storages_.count(t.storage().get()), RuntimeError,
           "InferenceSession: the model made a view of a traced tensor with an operation the runtime does not "
           "record (shape ", t.sizes(), "); use the nn_core ops (view, reshape, slice, transpose, ...)");
  // Not made by a recorded op: a constant, captured by value (the graph holds it).
  const int id = graph_.new_value(t);
  graph_.constant_ids.push_back(id);
  graph_.constants.push_back(t);
  graph_.constant_registered.push_back(false);
  ids_[t.impl()] = id;
  keep_.push_back(t);
  return id;
}

void Tracer::record(Node node, const std::vector<Tensor>& outs) {
  if (outs.size() == 1 && outs[0].defined()) {
    auto it = ids_.find(outs[0].impl());
    if (it != ids_.end()) {  // the op returned an existing value: an identity here
      ++graph_.num_identity_dropped;
      return;
    }
  }
  for (const Tensor& y : outs) {
    const int id = graph_.new_value(y);
    ids_[y.impl()] = id;
    graph_storages_.insert(y.storage().get());
    keep_.push_back(y);
    node.outputs.push_back(id);
  }
  graph_.nodes.push_back(std::move(node));
}

std::vector<Tensor> Tracer::intercept(OpId op, dispatch::Stack&& args) {
  std::vector<Tensor> outs;
  {
    Suspend suspend;
    dispatch::call_boxed(op, args, outs);
  }
  Node node;
  node.op = op;
  for_each_tensor_slot(args, [&](Tensor& t) {
    node.inputs.push_back(value_of(t));
    t = Tensor();
  });
  node.ints = sym_int_values(op, args);
  node.args = std::move(args);
  if (dispatch::op_schema(op).returns == dispatch::ReturnKind::None) {
    record_inplace(std::move(node));
  } else {
    record(std::move(node), outs);
  }
  return outs;
}



}  // namespace nn::runtime
