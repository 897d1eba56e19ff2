// metrics.cpp — SessionMetrics (runtime/metrics.h): the latency histogram, counters,
// memory gauges and growth window, and the per-op profile.
//
// Note [Latency buckets]: log-linear, like HdrHistogram at 4 bits of precision.
// Values below 16 ns get one bucket each; above, a value v with top bit e (2^e <= v <
// 2^(e+1), e >= 4) falls in one of 16 equal sub-buckets of [2^e, 2^(e+1)), so every bucket
// is at most 1/16 (6.25%) of its lower edge wide. Index = 16 + (e - 4) * 16 + sub, where
// sub is the 4 bits below the top bit. kMaxExponent caps the range at 2^44 ns (~4.9 h);
// slower calls land in the last bucket. The layout is fixed, so histograms of different
// sessions can be added bucket by bucket.
//
// Recording touches only relaxed atomics (count of its bucket, calls, sum, min/max by CAS)
// plus a steady_clock read; once a second one caller (try_lock) appends a memory sample
// (allocator bytes in use, RSS) to the growth window. Errors-by-kind and the op profile
// take a mutex: errors are rare and profiling is opt-in.
#include "runtime/metrics.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <limits>
#include <mutex>
#include <unistd.h>

#include "core/allocator.h"

namespace nn::runtime {
namespace {

constexpr int kSubBits = 4;
constexpr int kSub = 1 << kSubBits;  // 16 sub-buckets per power of two
constexpr int kMaxExponent = 43;     // top bit of the largest value with its own bucket
constexpr int kNumBuckets = kSub + (kMaxExponent - kSubBits + 1) * kSub;

using Clock = std::chrono::steady_clock;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

int top_bit(uint64_t v) { return 63 - __builtin_clzll(v); }

void atomic_min(std::atomic<int64_t>& a, int64_t v) {
  int64_t cur = a.load(std::memory_order_relaxed);
  while (v < cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

void atomic_max(std::atomic<int64_t>& a, int64_t v) {
  int64_t cur = a.load(std::memory_order_relaxed);
  while (v > cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

struct MemorySample {
  int64_t t_ns;
  int64_t rss;
  int64_t allocator;
};

}  // namespace

struct SessionMetrics::Impl {
  std::string name, version;
  double window_s;

  std::array<std::atomic<int64_t>, kNumBuckets> buckets{};
  std::atomic<int64_t> successes{0}, errors{0}, items{0};
  std::atomic<int64_t> sum_ns{0};
  std::atomic<int64_t> min_ns{std::numeric_limits<int64_t>::max()}, max_ns{0};
  std::atomic<int64_t> start_ns{now_ns()};
  std::atomic<int64_t> arena{0}, arena_peak{0};
  std::atomic<bool> profiling{false};

  std::mutex errors_mutex;
  std::map<std::string, int64_t> errors_by_kind;

  std::mutex profile_mutex;
  std::map<std::string, std::pair<int64_t, int64_t>> profile;

  std::mutex window_mutex;
  std::deque<MemorySample> window;
  std::atomic<int64_t> last_sample_ns{0};

  void add_latency(int64_t ns) {
    if (ns < 0) ns = 0;
    buckets[SessionMetrics::bucket_index(ns)].fetch_add(1, std::memory_order_relaxed);
    sum_ns.fetch_add(ns, std::memory_order_relaxed);
    atomic_min(min_ns, ns);
    atomic_max(max_ns, ns);
  }

  // Appends a memory sample when the last one is a second old (or `force`), and drops
  // samples that fell out of the window (keeping at least the newest two).
  void maybe_sample(bool force) {
    const int64_t t = now_ns();
    if (!force && t - last_sample_ns.load(std::memory_order_relaxed) < 1000000000) return;
    std::unique_lock<std::mutex> lock(window_mutex, std::defer_lock);
    if (force) {
      lock.lock();
    } else if (!lock.try_lock()) {
      return;
    }
    last_sample_ns.store(t, std::memory_order_relaxed);
    window.push_back({t, SessionMetrics::process_rss_bytes(), cpu_memory_stats().bytes_in_use});
    const int64_t horizon = t - static_cast<int64_t>(window_s * 1e9);
    while (window.size() > 2 && window.front().t_ns < horizon) window.pop_front();
  }
};

SessionMetrics::SessionMetrics(std::string model_name, std::string model_version, double growth_window_s)
    : impl_(std::make_unique<Impl>()) {
  impl_->name = std::move(model_name);
  impl_->version = std::move(model_version);
  impl_->window_s = growth_window_s > 0 ? growth_window_s : 60.0;
  impl_->maybe_sample(true);
}

SessionMetrics::~SessionMetrics() = default;

void SessionMetrics::record_success(int64_t latency_ns, int64_t items) {
  impl_->add_latency(latency_ns);
  impl_->successes.fetch_add(1, std::memory_order_relaxed);
  impl_->items.fetch_add(items, std::memory_order_relaxed);
  impl_->maybe_sample(false);
}

void SessionMetrics::record_error(int64_t latency_ns, const std::string& kind) {
  impl_->add_latency(latency_ns);
  impl_->errors.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(impl_->errors_mutex);
    ++impl_->errors_by_kind[kind.empty() ? std::string("internal") : kind];
  }
  impl_->maybe_sample(false);
}

void SessionMetrics::set_arena_bytes(int64_t current, int64_t peak) {
  impl_->arena.store(current, std::memory_order_relaxed);
  atomic_max(impl_->arena_peak, std::max(current, peak));
}

bool SessionMetrics::profiling() const { return impl_->profiling.load(std::memory_order_relaxed); }

void SessionMetrics::set_profiling(bool on) { impl_->profiling.store(on, std::memory_order_relaxed); }

void SessionMetrics::record_op(const std::string& op_name, int64_t ns) {
  std::lock_guard<std::mutex> lock(impl_->profile_mutex);
  auto& entry = impl_->profile[op_name];
  entry.first += 1;
  entry.second += ns;
}

int SessionMetrics::bucket_index(int64_t ns) {
  if (ns < kSub) return ns < 0 ? 0 : static_cast<int>(ns);
  const int e = top_bit(static_cast<uint64_t>(ns));
  if (e > kMaxExponent) return kNumBuckets - 1;
  const int sub = static_cast<int>((static_cast<uint64_t>(ns) >> (e - kSubBits)) & (kSub - 1));
  return kSub + (e - kSubBits) * kSub + sub;
}

double SessionMetrics::bucket_lower_ns(int index) {
  if (index < kSub) return index;
  const int e = (index - kSub) / kSub + kSubBits;
  const int sub = (index - kSub) % kSub;
  return std::ldexp(static_cast<double>(kSub + sub), e - kSubBits);
}

double SessionMetrics::bucket_upper_ns(int index) {
  if (index < kSub) return index;
  // Integer latencies: the bucket holds [lower, next lower - 1].
  return bucket_lower_ns(index + 1) - 1;
}

int64_t SessionMetrics::process_rss_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  long long pages_total = 0, pages_resident = 0;
  const int got = std::fscanf(f, "%lld %lld", &pages_total, &pages_resident);
  std::fclose(f);
  if (got != 2) return 0;
  return static_cast<int64_t>(pages_resident) * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

MetricsSnapshot SessionMetrics::snapshot() const {
  Impl& m = *impl_;
  MetricsSnapshot s;
  s.model_name = m.name;
  s.model_version = m.version;

  std::vector<int64_t> counts(kNumBuckets);
  int64_t total = 0;
  for (int i = 0; i < kNumBuckets; ++i) {
    counts[i] = m.buckets[i].load(std::memory_order_relaxed);
    total += counts[i];
  }
  s.calls = total;  // the histogram's own count, so percentiles and count agree
  s.successes = m.successes.load(std::memory_order_relaxed);
  s.errors = m.errors.load(std::memory_order_relaxed);
  s.items = m.items.load(std::memory_order_relaxed);
  s.sum_ns = static_cast<double>(m.sum_ns.load(std::memory_order_relaxed));
  s.uptime_s = (now_ns() - m.start_ns.load(std::memory_order_relaxed)) * 1e-9;
  if (s.calls > 0) s.success_rate = static_cast<double>(s.successes) / static_cast<double>(s.calls);
  if (s.uptime_s > 0) {
    s.calls_per_s = static_cast<double>(s.calls) / s.uptime_s;
    s.items_per_s = static_cast<double>(s.items) / s.uptime_s;
  }
  {
    std::lock_guard<std::mutex> lock(m.errors_mutex);
    s.errors_by_kind = m.errors_by_kind;
  }
  if (total > 0) {
    s.min_ns = static_cast<double>(m.min_ns.load(std::memory_order_relaxed));
    s.max_ns = static_cast<double>(m.max_ns.load(std::memory_order_relaxed));
    s.mean_ns = s.sum_ns / static_cast<double>(total);
    // Percentile q: the value of nearest rank ceil(q * total), interpolated linearly
    // inside its bucket and clamped to the observed [min, max].
    auto percentile = [&](double q) {
      const int64_t rank = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(q * static_cast<double>(total))));
      int64_t seen = 0;
      for (int i = 0; i < kNumBuckets; ++i) {
        if (counts[i] == 0) continue;
        if (seen + counts[i] >= rank) {
          const double lo = bucket_lower_ns(i), hi = bucket_upper_ns(i);
          const double frac = static_cast<double>(rank - seen) / static_cast<double>(counts[i]);
          const double v = lo + (hi - lo) * frac;
          return std::min(std::max(v, s.min_ns), s.max_ns);
        }
        seen += counts[i];
      }
      return s.max_ns;
    };
    s.p50_ns = percentile(0.50);
    s.p90_ns = percentile(0.90);
    s.p95_ns = percentile(0.95);
    s.p99_ns = percentile(0.99);
    s.p999_ns = percentile(0.999);
    for (int i = 0; i < kNumBuckets; ++i) {
      if (counts[i] > 0) s.buckets.push_back({bucket_upper_ns(i), counts[i]});
    }
  }

  const MemoryStats mem = cpu_memory_stats();
  s.arena_bytes = m.arena.load(std::memory_order_relaxed);
  s.arena_peak_bytes = m.arena_peak.load(std::memory_order_relaxed);
  s.allocator_bytes_in_use = mem.bytes_in_use;
  s.allocator_peak_bytes = mem.peak_bytes;
  m.maybe_sample(true);
  s.rss_bytes = process_rss_bytes();
  {
    std::lock_guard<std::mutex> lock(m.window_mutex);
    if (m.window.size() >= 2) {
      const MemorySample& first = m.window.front();
      const MemorySample& last = m.window.back();
      s.rss_growth_bytes = last.rss - first.rss;
      s.allocator_growth_bytes = last.allocator - first.allocator;
      s.growth_window_s = (last.t_ns - first.t_ns) * 1e-9;
    }
  }
  {
    std::lock_guard<std::mutex> lock(m.profile_mutex);
    s.op_profile = m.profile;
  }
  return s;
}

double SessionMetrics::time_record_ns(int64_t n) {
  SessionMetrics scratch("scratch", "");
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < n; ++i) scratch.record_success(1000 + (i * 7919) % 5000000, 1);
  const auto t1 = Clock::now();
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(n > 0 ? n : 1);
}

void SessionMetrics::reset() {
  Impl& m = *impl_;
  for (auto& b : m.buckets) b.store(0, std::memory_order_relaxed);
  m.successes.store(0);
  m.errors.store(0);
  m.items.store(0);
  m.sum_ns.store(0);
  m.min_ns.store(std::numeric_limits<int64_t>::max());
  m.max_ns.store(0);
  m.start_ns.store(now_ns());
  {
    std::lock_guard<std::mutex> lock(m.errors_mutex);
    m.errors_by_kind.clear();
  }
  {
    std::lock_guard<std::mutex> lock(m.profile_mutex);
    m.profile.clear();
  }
  {
    std::lock_guard<std::mutex> lock(m.window_mutex);
    m.window.clear();
  }
  m.arena_peak.store(m.arena.load());
  m.maybe_sample(true);
}

}  // namespace nn::runtime
