// engine.cpp — the reverse-mode engine: iterative graph walk (no recursion), dependency
// counts, a ready queue ordered by creation (newest first), per-node input buffers that
// sum incoming gradients, and a shape/dtype check of every gradient naming the node
// that produced it. Also GradMode, SavedTensor, FunctionNode and AccumulateGrad.
#include <algorithm>
#include <atomic>
#include <limits>
#include <queue>
#include <unordered_map>

#include "autograd/node.h"

namespace nn::autograd {
namespace {
EngineOps g_engine_ops;

const EngineOps& engine_ops() {
  if (g_engine_ops.add == nullptr || g_engine_ops.clone == nullptr || g_engine_ops.detach == nullptr)
    throw RuntimeError("autograd: the op layer did not install the engine's ops (set_engine_ops)");
  return g_engine_ops;
}
Tensor add(const Tensor& a, const Tensor& b) { return engine_ops().add(a, b); }
Tensor clone(const Tensor& t) { return engine_ops().clone(t); }
Tensor detach(const Tensor& t) { return engine_ops().detach(t); }
thread_local bool t_grad_enabled = true;
std::atomic<uint64_t> g_next_sequence_nr{0};
}  // namespace

Node::~Node() {
  thread_local std::vector<std::shared_ptr<Node>>* pending = nullptr;
  std::vector<std::shared_ptr<Node>> local;
  const bool outermost = pending == nullptr;
  if (outermost) pending = &local;
  for (Edge& e : next_edges)
    if (e.node && e.node.use_count() == 1) pending->push_back(std::move(e.node));
  next_edges.clear();
  if (outermost) {
    while (!local.empty()) {
      std::shared_ptr<Node> n = std::move(local.back());
      local.pop_back();
      n.reset();  // its destructor appends its own predecessors to `local`
    }
    pending = nullptr;
  }
}

bool GradMode::is_enabled() { return t_grad_enabled; }
void GradMode::set_enabled(bool enabled) { t_grad_enabled = enabled; }

SavedTensor::SavedTensor(const Tensor& t) {
  if (!t.defined()) return;
  data_ = detach(t);
  version_ = t.version();
}

Tensor SavedTensor::unpack(const std::string& node_name) const {
  if (data_.defined() && data_.version() != version_)
    throw RuntimeError(str("one of the tensors needed for gradient computation has been modified by an "
                           "inplace operation: a tensor of shape ", data_.sizes(), " saved by ", node_name,
                           " is at version ", data_.version(), "; expected version ", version_));
  return data_;
}

std::vector<Tensor> FunctionNode::apply(std::vector<Tensor>&& grads) {
  if (released_)
    throw RuntimeError(str("Trying to backward through the graph a second time (", name_,
                           "'s saved tensors were already freed). Specify retain_graph=True on the first "
                           "backward call if you need to backward twice."));
  return fn_(grads);
}

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>&& grads) {
  Tensor g = grads.empty() ? Tensor() : grads[0];
  if (!g.defined()) return {};
  Tensor& slot = materialize_autograd_meta(leaf_.get()).grad;
  if (!slot.defined()) {
    // Keep the incoming buffer when nobody else can see it; otherwise own a copy.
    const bool exclusive = g.impl_ptr().use_count() <= 2 && g.storage().use_count() == 1 && g.is_contiguous();
    slot = exclusive ? g : clone(g);
  } else {
    slot = add(slot, g);
  }
  run_post_accumulate_grad_hooks(leaf_);
  return {};
}

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Edge gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  AutogradMeta* meta = autograd_meta(t);  // not null: t requires grad
  if (meta->grad_fn) return {meta->grad_fn, meta->output_nr};
  std::shared_ptr<Node> acc = meta->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    // Note [Leaf gradients first]: the ready queue runs the newest node first; a leaf's
    // accumulator takes the highest priority (as in PyTorch), so each .grad is stored, and its
    // post-accumulate-grad hooks run, as soon as its gradient is complete, not after the rest of
    // the graph. Data-parallel training relies on it to start all-reduces during backward.
    acc->sequence_nr = std::numeric_limits<uint64_t>::max();
    acc->output_meta.push_back({t.sizes(), t.dtype(), t.device()});
    meta->grad_accumulator = acc;
  }
  return {acc, 0};
}

void record(const std::string& name, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
            FunctionNode::BackwardFn fn) {
  auto node = std::make_shared<FunctionNode>(name, std::move(fn));
  node->sequence_nr = g_next_sequence_nr.fetch_add(1, std::memory_order_relaxed);
  node->next_edges.reserve(inputs.size());
  for (const Tensor& in : inputs) node->next_edges.push_back(gradient_edge(in));
  uint32_t nr = 0;
  for (const Tensor& out : outputs) {
    node->output_meta.push_back({out.sizes(), out.dtype(), out.device()});
    set_history(out, node, nr++);
  }
}

namespace {
struct ReadyEntry {
  Node* node;
  bool operator<(const ReadyEntry& o) const { return node->sequence_nr < o.node->sequence_nr; }
};

void check_gradient(const Tensor& g, const GradMeta& meta, const Node& producer, const Node& consumer) {
  if (g.sizes() != meta.sizes || g.dtype() != meta.dtype || g.device() != meta.device)
    throw RuntimeError(str("backward: ", producer.name(), " returned a gradient of shape ", g.sizes(), " and dtype ",
                           g.dtype(), " for an input of shape ", meta.sizes, " and dtype ", meta.dtype,
                           " (consumed by ", consumer.name(), ")"));
}
}  // namespace

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  GradModeGuard no_grad(false);
  // 1. Dependency counts over the reachable graph (iterative DFS).
  std::unordered_map<Node*, int> dependencies;
  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  std::vector<Node*> stack;
  std::unordered_map<Node*, bool> seen;
  std::vector<Edge> root_edges;
  for (const Tensor& r : roots) {
    Edge e = gradient_edge(r);
    NN_CHECK(e.valid(), RuntimeError,
             "element 0 of tensors does not require grad and does not have a grad_fn");
    root_edges.push_back(e);
    if (!seen[e.node.get()]) {
      seen[e.node.get()] = true;
      stack.push_back(e.node.get());
    }
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges) {
      if (!e.valid()) continue;
      ++dependencies[e.node.get()];
      if (!seen[e.node.get()]) {
        seen[e.node.get()] = true;
        stack.push_back(e.node.get());
      }
    }
  }
  // 2. Seed the roots' buffers.
  auto add_to_buffer = [&](Node* n, uint32_t slot, const Tensor& g) {
    auto& buf = buffers[n];
    if (buf.size() < n->output_meta.size()) buf.resize(n->output_meta.size());
    buf[slot] = buf[slot].defined() ? add(buf[slot], g) : g;
  };
  for (size_t i = 0; i < roots.size(); ++i) {
    check_gradient(grads[i], root_edges[i].node->output_meta[root_edges[i].input_nr], *root_edges[i].node,
                   *root_edges[i].node);
    add_to_buffer(root_edges[i].node.get(), root_edges[i].input_nr, grads[i]);
  }
  // 3. Run nodes whose dependencies are satisfied, newest first.
  std::priority_queue<ReadyEntry> ready;
  for (auto& e : root_edges)
    if (dependencies[e.node.get()] == 0 && buffers.count(e.node.get())) {
      ready.push({e.node.get()});
    }
  // Keep every node alive while the walk runs (a node may drop its last reference when
  // saved tensors are released).
  std::vector<std::shared_ptr<Node>> keep_alive;
  for (auto& e : root_edges) keep_alive.push_back(e.node);
  std::unordered_map<Node*, bool> queued;
  for (auto& e : root_edges) queued[e.node.get()] = true;
  while (!ready.empty()) {
    Node* node = ready.top().node;
    ready.pop();
    std::vector<Tensor> inputs = std::move(buffers[node]);
    buffers.erase(node);
    inputs.resize(node->output_meta.size());
    std::vector<Tensor> outs = node->apply(std::move(inputs));
    if (!retain_graph) node->release_saved();
    NN_CHECK(outs.size() == node->next_edges.size() || node->next_edges.empty(), RuntimeError,
             "backward: ", node->name(), " returned ", outs.size(), " gradients for ", node->next_edges.size(),
             " inputs");
    for (size_t i = 0; i < node->next_edges.size(); ++i) {
      const Edge& e = node->next_edges[i];
      if (!e.valid()) continue;
      Node* next = e.node.get();
      if (i < outs.size() && outs[i].defined()) {
        check_gradient(outs[i], next->output_meta[e.input_nr], *node, *next);
        add_to_buffer(next, e.input_nr, outs[i]);
      }
      if (--dependencies[next] == 0 && !queued[next]) {
        queued[next] = true;
        keep_alive.push_back(e.node);
        if (buffers.count(next)) {
          ready.push({next});
        } else {
          // No gradient reached it: its own inputs lose a dependency without a gradient.
          std::vector<Node*> skip{next};
          while (!skip.empty()) {
            Node* s = skip.back();
            skip.pop_back();
            for (const Edge& se : s->next_edges) {
              if (!se.valid()) continue;
              if (--dependencies[se.node.get()] == 0 && !queued[se.node.get()]) {
                queued[se.node.get()] = true;
                keep_alive.push_back(se.node);
                if (buffers.count(se.node.get())) ready.push({se.node.get()});
                else skip.push_back(se.node.get());
              }
            }
          }
        }
      }
    }
  }
}

bool set_engine_ops(const EngineOps& ops) {
  g_engine_ops = ops;
  return true;
}

}  // namespace nn::autograd
