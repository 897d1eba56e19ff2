// metrics.h — the inference runtime's built-in metrics: a latency histogram per session
// (log-linear buckets), success / error counters, throughput, memory gauges and growth
// over a window, an opt-in per-op time profile, and a model name/version label.
// Recording is lock-free (relaxed atomics) and costs well under 1 us per call; a
// snapshot is consistent enough for monitoring (counters may be mid-update by a few calls).
// Times are nanoseconds from std::chrono::steady_clock.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace nn::runtime {

struct HistogramBucket {
  double upper_ns;  // inclusive upper edge of the bucket, in nanoseconds
  int64_t count;    // calls that fell in this bucket (not cumulative)
};

struct MetricsSnapshot {
  std::string model_name, model_version;
  int64_t calls = 0, successes = 0, errors = 0;
  std::map<std::string, int64_t> errors_by_kind;  // "shape", "dtype", "rank", "nan", "internal", ...
  int64_t items = 0;                              // batch rows served (for items/s)
  double uptime_s = 0;                            // since construction or the last reset
  double success_rate = 1.0;                      // successes / calls (1 before the first call)
  double calls_per_s = 0, items_per_s = 0;        // over uptime_s
  double mean_ns = 0, min_ns = 0, max_ns = 0;
  double p50_ns = 0, p90_ns = 0, p95_ns = 0, p99_ns = 0, p999_ns = 0;
  double sum_ns = 0;
  std::vector<HistogramBucket> buckets;           // non-empty buckets, ascending
  // memory (bytes)
  int64_t arena_bytes = 0, arena_peak_bytes = 0;
  int64_t allocator_bytes_in_use = 0, allocator_peak_bytes = 0;
  int64_t rss_bytes = 0;
  int64_t rss_growth_bytes = 0, allocator_growth_bytes = 0;  // newest minus oldest sample in the window
  double growth_window_s = 0;                                // time the growth figures span
  // per-op profile (empty unless enabled): op name -> (calls, total ns)
  std::map<std::string, std::pair<int64_t, int64_t>> op_profile;
};

class SessionMetrics {
 public:
  SessionMetrics(std::string model_name, std::string model_version, double growth_window_s = 60.0);
  ~SessionMetrics();
  SessionMetrics(const SessionMetrics&) = delete;
  SessionMetrics& operator=(const SessionMetrics&) = delete;

  // One call of run(): its latency and the batch rows it served.
  void record_success(int64_t latency_ns, int64_t items);
  // A failed call; kind names the error class ("shape", "dtype", "rank", "nan", "internal", ...).
  void record_error(int64_t latency_ns, const std::string& kind);
  // Arena gauges, set by the session when it plans or grows arenas.
  void set_arena_bytes(int64_t current, int64_t peak);
  // Per-op profile: enabled flag is read by the executor before timing each node.
  bool profiling() const;
  void set_profiling(bool on);
  void record_op(const std::string& op_name, int64_t ns);

  MetricsSnapshot snapshot() const;
  void reset();  // zeroes counters, histogram, profile and the growth window; keeps labels and gauges

  // Bucket layout (for tests): index of the bucket holding ns, and its [lower, upper] edges.
  static int bucket_index(int64_t ns);
  static double bucket_lower_ns(int index);
  static double bucket_upper_ns(int index);

  // Resident set size of this process in bytes (Linux /proc/self/statm; 0 where unknown).
  static int64_t process_rss_bytes();

  // Mean cost in ns of one record_success, timed over n calls on a private instance (for
  // the benchmark that checks recording stays well under 1 us).
  static double time_record_ns(int64_t n);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nn::runtime
