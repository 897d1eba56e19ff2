// session.cpp — Session (runtime/session.h): validation, the plan cache, arena pools and
// the execution loop, with latency / error / per-op metrics.
#include "runtime/session.h"

#include <chrono>
#include <cmath>

#include "autograd/node.h"
#include "core/errors.h"
#include "ops/ops.h"
#include "runtime/executor.h"

namespace nn::runtime {

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

template <typename T>
bool has_nan(const T* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (std::isnan(p[i])) return true;
  return false;
}

bool tensor_has_nan(const Tensor& t) {
  if (!is_floating(t.dtype())) return false;
  if (t.dtype() == DType::Float64) {
    Tensor c = contiguous(t);
    return has_nan(c.data<double>(), c.numel());
  }
  Tensor c = contiguous(cast(t, DType::Float32));
  return has_nan(c.data<float>(), c.numel());
}

}  // namespace

// Attributes resolved for one input-shape signature, its memory plan and a pool of arenas.
struct Session::Plan {
  std::vector<int64_t> ints;         // all nodes' ints, concatenated
  std::vector<Tensor> sym_constants;  // graph.symbolic_constants at this plan's sizes
  std::vector<size_t> ints_offset;   // per node
  bool has_memory_plan = false;
  MemoryPlan memory;
  std::mutex pool_mu;
  std::vector<std::unique_ptr<Arena>> pool;
  std::shared_ptr<std::atomic<int64_t>> arena_bytes;  // the session's gauge
  std::atomic<int64_t> my_arena_bytes{0};  // bytes of this plan's arenas (pool and in use)
  ~Plan() {
    if (arena_bytes) arena_bytes->fetch_sub(my_arena_bytes.load());
  }
};

Session::Session(Graph graph, std::vector<InputSpec> inputs, std::vector<std::string> symbols, SessionOptions options)
    : graph_(std::move(graph)),
      inputs_(std::move(inputs)),
      symbols_(std::move(symbols)),
      opt_(std::move(options)),
      metrics_(std::make_shared<SessionMetrics>(opt_.name, opt_.version, opt_.growth_window_s)),
      arena_bytes_(std::make_shared<std::atomic<int64_t>>(0)) {
  NN_CHECK(inputs_.size() == graph_.input_ids.size(), ValueError, "InferenceSession: ", inputs_.size(),
           " input specs for a graph of ", graph_.input_ids.size(), " inputs");
  if (opt_.fuse) fuse(graph_);
  last_uses_ = last_uses(graph_);
  for (const Node& n : graph_.nodes) labels_.push_back(n.label());
  if (opt_.max_cached_plans < 1) opt_.max_cached_plans = 1;
}

Session::~Session() = default;

size_t Session::num_cached_plans() const {
  std::lock_guard<std::mutex> g(cache_mu_);
  return lru_.size();
}
size_t Session::max_cached_plans() const {
  std::lock_guard<std::mutex> g(cache_mu_);
  return opt_.max_cached_plans;
}
void Session::set_max_cached_plans(size_t n) {
  NN_CHECK(n >= 1, ValueError, "InferenceSession: max_cached_plans must be at least 1, got ", n);
  {
    std::lock_guard<std::mutex> g(cache_mu_);
    opt_.max_cached_plans = n;
    while (lru_.size() > n) lru_.pop_back();
  }
  update_arena_gauge();
}
void Session::clear_plans() {
  {
    std::lock_guard<std::mutex> g(cache_mu_);
    lru_.clear();
  }
  update_arena_gauge();
}

void Session::update_arena_gauge() {
  const int64_t cur = arena_bytes_->load();
  int64_t peak = arena_peak_bytes_.load();
  while (cur > peak && !arena_peak_bytes_.compare_exchange_weak(peak, cur)) {
  }
  metrics_->set_arena_bytes(cur, arena_peak_bytes_.load());
}

std::vector<int64_t> Session::validate(const std::vector<Tensor>& inputs, std::string& kind, std::string& message,
                                       bool& is_dtype) const {
  std::vector<int64_t> key(symbols_.size() + 1, -1);
  auto fail = [&](const char* k, std::string msg, bool dtype = false) {
    kind = k;
    message = "InferenceSession '" + opt_.name + "': " + msg;
    is_dtype = dtype;
    return std::vector<int64_t>{};
  };
  if (inputs.size() != inputs_.size())
    return fail("inputs", str("expected ", inputs_.size(), " inputs, got ", inputs.size()));
  int64_t contiguity = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    const InputSpec& spec = inputs_[i];
    const std::string who = str("input ", i, " ('", spec.name, "')");
    if (!t.defined()) return fail("inputs", who + " is undefined");
    if (t.dtype() != spec.dtype)
      return fail("dtype", str(who, ": expected dtype ", dtype_name(spec.dtype), ", got ", dtype_name(t.dtype())), true);
    if (t.dim() != static_cast<int64_t>(spec.sizes.size()))
    {
      std::string want = "(";
      for (size_t d = 0; d < spec.sizes.size(); ++d)
        want += (d ? ", " : "") + (spec.dim_symbol[d] >= 0 ? symbols_[static_cast<size_t>(spec.dim_symbol[d])]
                                                             : std::to_string(spec.sizes[d]));
      return fail("rank", str(who, ": expected rank ", spec.sizes.size(), " (shape ", want, ")), got rank ", t.dim(),
                              " (shape ", t.sizes(), ")"));
    }
    for (int64_t d = 0; d < t.dim(); ++d) {
      const int s = spec.dim_symbol[static_cast<size_t>(d)];
      const int64_t got = t.sizes()[static_cast<size_t>(d)];
      if (s < 0) {
        if (got != spec.sizes[static_cast<size_t>(d)])
          return fail("shape", str(who, ": dim ", d, " is static and must be ", spec.sizes[static_cast<size_t>(d)],
                                   ", got ", got, " (shape ", t.sizes(), ")"));
      } else {
        if (got < 1)
          return fail("shape", str(who, ": dynamic dim ", d, " ('", symbols_[static_cast<size_t>(s)],
                                   "') must be at least 1, got ", got));
        int64_t& bound = key[static_cast<size_t>(s)];
        if (bound < 0) bound = got;
        else if (bound != got)
          return fail("shape", str(who, ": dim ", d, " is '", symbols_[static_cast<size_t>(s)], "' = ", bound,
                                   " from an earlier input, got ", got, " (shape ", t.sizes(), ")"));
      }
    }
    if (t.is_contiguous()) contiguity |= int64_t{1} << (i % 62);
    if (opt_.nan_raise && tensor_has_nan(t)) return fail("nan", who + " contains NaN (nan_policy='raise')");
  }
  for (size_t s = 0; s < symbols_.size(); ++s)
    if (key[s] < 0) key[s] = 1;  // a symbol no input binds (cannot happen with specs from Python)
  key.back() = contiguity;      // strides change what the ops allocate
  return key;
}

std::shared_ptr<Session::Plan> Session::find_plan(const std::vector<int64_t>& key) {
  std::lock_guard<std::mutex> g(cache_mu_);
  for (auto it = lru_.begin(); it != lru_.end(); ++it)
    if (it->first == key) {
      if (it != lru_.begin()) lru_.splice(lru_.begin(), lru_, it);
      return lru_.front().second;
    }
  return nullptr;
}

std::shared_ptr<Session::Plan> Session::insert_plan(const std::vector<int64_t>& key, std::shared_ptr<Plan> plan) {
  std::shared_ptr<Plan> result;
  std::vector<std::shared_ptr<Plan>> evicted;  // destroyed outside the lock
  {
    std::lock_guard<std::mutex> g(cache_mu_);
    for (auto& e : lru_)
      if (e.first == key) return e.second;  // another thread got there first
    lru_.emplace_front(key, std::move(plan));
    while (lru_.size() > opt_.max_cached_plans) {
      evicted.push_back(std::move(lru_.back().second));
      lru_.pop_back();
    }
    result = lru_.front().second;
  }
  evicted.clear();
  update_arena_gauge();
  return result;
}

std::vector<Tensor> Session::execute(const Plan& plan, const std::vector<Tensor>& inputs) const {
  std::vector<Tensor> table(graph_.values.size());
  for (size_t i = 0; i < inputs.size(); ++i) table[static_cast<size_t>(graph_.input_ids[i])] = inputs[i];
  for (size_t k = 0; k < graph_.constants.size(); ++k)
    table[static_cast<size_t>(graph_.constant_ids[k])] = graph_.constants[k];
  for (size_t k = 0; k < plan.sym_constants.size(); ++k)
    table[static_cast<size_t>(graph_.constant_ids[static_cast<size_t>(graph_.symbolic_constants[k])])] =
        plan.sym_constants[k];
  const bool profile = metrics_->profiling();
  std::vector<Tensor> in, out;
  for (size_t k = 0; k < graph_.nodes.size(); ++k) {
    const Node& n = graph_.nodes[k];
    in.clear();
    for (int v : n.inputs) in.push_back(v >= 0 ? table[static_cast<size_t>(v)] : Tensor());
    const int64_t* ints = plan.ints.data() + plan.ints_offset[k];
    if (profile) {
      const int64_t t0 = now_ns();
      exec_node(n, ints, in, out);
      metrics_->record_op(labels_[k], now_ns() - t0);
    } else {
      exec_node(n, ints, in, out);
    }
    for (size_t j = 0; j < n.outputs.size() && j < out.size(); ++j)
      table[static_cast<size_t>(n.outputs[j])] = std::move(out[j]);
    out.clear();
    in.clear();
    for (int v : last_uses_[k]) table[static_cast<size_t>(v)] = Tensor();
  }
  std::vector<Tensor> result;
  for (int v : graph_.output_ids) result.push_back(table[static_cast<size_t>(v)]);
  return result;
}

std::vector<Tensor> Session::run(const std::vector<Tensor>& inputs) { return run(inputs, RunOptions{}); }

std::vector<Tensor> Session::run(const std::vector<Tensor>& inputs, const RunOptions& options) {
  const int64_t t0 = now_ns();
  std::string kind, message;
  bool is_dtype = false;
  const std::vector<int64_t> key = validate(inputs, kind, message, is_dtype);
  if (!kind.empty()) {
    if (!options.warmup) metrics_->record_error(now_ns() - t0, kind);
    if (is_dtype) throw DTypeError(message);
    throw ValueError(message);
  }
  try {
    autograd::GradModeGuard no_grad(false);
    std::vector<Tensor> outputs;
    std::shared_ptr<Plan> plan = find_plan(key);
    if (!plan) {
      auto fresh = std::make_shared<Plan>();
      std::vector<int64_t> symv(key.begin(), key.end() - 1);
      symv.resize(kMaxSymbols, 1);
      for (const Node& n : graph_.nodes) {
        fresh->ints_offset.push_back(fresh->ints.size());
        for (const SymInt& s : n.sym_ints) fresh->ints.push_back(s.eval(symv.data()));
      }
      for (size_t k = 0; k < graph_.symbolic_constants.size(); ++k) {
        const Tensor& c = graph_.constants[static_cast<size_t>(graph_.symbolic_constants[k])];
        Tensor t = scalar_tensor(static_cast<double>(graph_.symbolic_constant_values[k].eval(symv.data())), c.dtype());
        t.impl()->is_wrapped_number = true;
        fresh->sym_constants.push_back(std::move(t));
      }
      if (opt_.memory_planning) {
        AllocationRecorder rec;
        {
          AllocatorOverride record(DeviceType::CPU, &rec);
          outputs = execute(*fresh, inputs);
        }
        fresh->memory = rec.finish();
        fresh->has_memory_plan = true;
        fresh->arena_bytes = arena_bytes_;
      } else {
        outputs = execute(*fresh, inputs);
      }
      ++recordings_;
      insert_plan(key, std::move(fresh));
    } else if (!plan->has_memory_plan || plan->memory.num_arena == 0) {
      outputs = execute(*plan, inputs);
    } else {
      std::unique_ptr<Arena> arena;
      {
        std::lock_guard<std::mutex> g(plan->pool_mu);
        if (!plan->pool.empty()) {
          arena = std::move(plan->pool.back());
          plan->pool.pop_back();
        }
      }
      if (!arena) {
        arena = std::make_unique<Arena>(plan->memory.arena_bytes);
        plan->my_arena_bytes += static_cast<int64_t>(plan->memory.arena_bytes);
        arena_bytes_->fetch_add(static_cast<int64_t>(plan->memory.arena_bytes));
        update_arena_gauge();
      }
      auto* planner = new ArenaAllocator(plan->memory, *arena);
      try {
        AllocatorOverride use_arena(DeviceType::CPU, planner);
        outputs = execute(*plan, inputs);
      } catch (...) {
        if (planner->all_released()) {
          delete planner;
          std::lock_guard<std::mutex> g(plan->pool_mu);
          plan->pool.push_back(std::move(arena));
        } else {
          (void)arena.release();  // still referenced by a live storage: leaked on purpose
          plan->my_arena_bytes -= static_cast<int64_t>(plan->memory.arena_bytes);
          arena_bytes_->fetch_sub(static_cast<int64_t>(plan->memory.arena_bytes));
          ++leaked_arenas_;
        }
        throw;
      }
      fallbacks_ += planner->fallbacks();
      ++arena_runs_;
      if (planner->all_released()) {
        delete planner;
        std::lock_guard<std::mutex> g(plan->pool_mu);
        plan->pool.push_back(std::move(arena));
      } else {
        (void)arena.release();  // as above
        plan->my_arena_bytes -= static_cast<int64_t>(plan->memory.arena_bytes);
        arena_bytes_->fetch_sub(static_cast<int64_t>(plan->memory.arena_bytes));
        ++leaked_arenas_;
      }
    }
    int64_t items = 1;
    if (opt_.items_symbol >= 0) items = key[static_cast<size_t>(opt_.items_symbol)];
    else if (!inputs.empty() && inputs[0].dim() > 0) items = inputs[0].sizes()[0];
    if (!options.warmup) {
      // the monitor's time is part of the call's latency: monitoring costs what it costs
      if (std::shared_ptr<Monitor> mon = monitor()) mon->observe(inputs, outputs, options.request_id, items);
      metrics_->record_success(now_ns() - t0, items);
    }
    return outputs;
  } catch (...) {
    if (!options.warmup) metrics_->record_error(now_ns() - t0, "internal");
    throw;
  }
}

}  // namespace nn::runtime
