// session.h — the inference runtime's Session: a traced, symbolized and fused Graph run in
// C++ (no Python per op), with input validation, per-shape plans (resolved attributes and
// an arena memory plan) cached with an LRU bound, a pool of arenas per plan so concurrent
// run() calls never share one, and built-in metrics (runtime/metrics.h).
//
// Thread safety: run() may be called from many threads at once. The graph and plans are
// immutable once built; the plan cache and each plan's arena pool are mutex-guarded.
#pragma once
#include <atomic>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/graph.h"
#include "runtime/memory_plan.h"
#include "runtime/metrics.h"
#include "runtime/monitor.h"

namespace nn::runtime {

struct InputSpec {
  std::string name;
  DType dtype = DType::Float32;
  std::vector<int> dim_symbol;  // per dim: symbol index, or -1 when static
  Shape sizes;                  // static sizes (dynamic dims: the traced size, unused)
};

struct SessionOptions {
  std::string name = "model", version = "";
  bool nan_raise = false;
  size_t max_cached_plans = 16;
  bool memory_planning = true;
  bool fuse = true;
  int items_symbol = -1;  // symbol counted as items (batch); -1: dim 0 of input 0
  double growth_window_s = 60.0;
};

// Per-call options of run(): the request id (handed to the monitor, which keys stored
// predictions by it) and warm-up calls, which plan and run but record no metrics and feed
// no monitor.
struct RunOptions {
  std::string request_id;
  bool warmup = false;
};

class Session {
 public:
  Session(Graph graph, std::vector<InputSpec> inputs, std::vector<std::string> symbols, SessionOptions options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  std::vector<Tensor> run(const std::vector<Tensor>& inputs);
  std::vector<Tensor> run(const std::vector<Tensor>& inputs, const RunOptions& options);

  // The drift / outcome monitor fed by every successful non-warm-up call (null: none).
  // Swapped atomically: calls in flight finish with the monitor they started with.
  void set_monitor(std::shared_ptr<Monitor> monitor) { std::atomic_store(&monitor_, std::move(monitor)); }
  std::shared_ptr<Monitor> monitor() const { return std::atomic_load(&monitor_); }

  const Graph& graph() const { return graph_; }
  const std::vector<std::string>& symbols() const { return symbols_; }
  const std::shared_ptr<SessionMetrics>& metrics() const { return metrics_; }
  std::string graph_str() const { return graph_.str(symbols_); }
  size_t num_cached_plans() const;
  size_t max_cached_plans() const;
  void set_max_cached_plans(size_t n);
  void clear_plans();
  // Memory planning counters.
  int64_t arena_bytes() const { return arena_bytes_->load(); }
  int64_t arena_peak_bytes() const { return arena_peak_bytes_.load(); }
  int64_t arena_fallbacks() const { return fallbacks_.load(); }
  int64_t arena_runs() const { return arena_runs_.load(); }
  int64_t leaked_arenas() const { return leaked_arenas_.load(); }
  int64_t recordings() const { return recordings_.load(); }

 private:
  struct Plan;
  std::vector<int64_t> validate(const std::vector<Tensor>& inputs, std::string& kind, std::string& message,
                                bool& is_dtype) const;
  std::vector<Tensor> execute(const Plan& plan, const std::vector<Tensor>& inputs) const;
  std::shared_ptr<Plan> find_plan(const std::vector<int64_t>& key);
  std::shared_ptr<Plan> insert_plan(const std::vector<int64_t>& key, std::shared_ptr<Plan> plan);
  void update_arena_gauge();

  Graph graph_;
  std::vector<InputSpec> inputs_;
  std::vector<std::string> symbols_;
  SessionOptions opt_;
  std::vector<std::vector<int>> last_uses_;
  std::vector<std::string> labels_;
  std::shared_ptr<SessionMetrics> metrics_;
  std::shared_ptr<Monitor> monitor_;

  mutable std::mutex cache_mu_;
  std::list<std::pair<std::vector<int64_t>, std::shared_ptr<Plan>>> lru_;  // front = most recent
  std::shared_ptr<std::atomic<int64_t>> arena_bytes_;
  std::atomic<int64_t> arena_peak_bytes_{0};
  std::atomic<int64_t> fallbacks_{0}, arena_runs_{0}, leaked_arenas_{0}, recordings_{0};
};

}  // namespace nn::runtime
