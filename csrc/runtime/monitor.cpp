// monitor.cpp — Monitor (runtime/monitor.h): the sliding window of per-feature histograms
// (Note [Drift window]), the drift snapshot (PSI, binned KS, status), and the outcome store
// for calibration (predictions kept per request id until a label arrives).
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/errors.h"
#include "ops/ops.h"
#include "runtime/monitor.h"

namespace nn::runtime {

// One block of the ring: a flat histogram of every feature (bin_offset_) plus, per
// feature, count / NaN count / sum / sum of squares / min / max of its values.
struct Monitor::Block {
  int64_t rows = 0;
  std::vector<int64_t> bins;
  std::vector<int64_t> count, nan;
  std::vector<double> sum, sumsq, min, max;
  void resize(size_t total_bins, size_t features) {
    bins.assign(total_bins, 0);
    count.assign(features, 0);
    nan.assign(features, 0);
    sum.assign(features, 0);
    sumsq.assign(features, 0);
    min.assign(features, std::numeric_limits<double>::infinity());
    max.assign(features, -std::numeric_limits<double>::infinity());
  }
  void clear() {
    rows = 0;
    std::fill(bins.begin(), bins.end(), 0);
    std::fill(count.begin(), count.end(), 0);
    std::fill(nan.begin(), nan.end(), 0);
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(sumsq.begin(), sumsq.end(), 0.0);
    std::fill(min.begin(), min.end(), std::numeric_limits<double>::infinity());
    std::fill(max.begin(), max.end(), -std::numeric_limits<double>::infinity());
  }
};

namespace {

void check_profile(const DriftProfile& p) {
  NN_CHECK(!p.features.empty(), ValueError, "drift monitor: the profile has no features");
  NN_CHECK(p.features.size() == p.reference.size(), ValueError, "drift monitor: the profile has ",
           p.features.size(), " features but ", p.reference.size(), " references");
  for (size_t k = 0; k < p.features.size(); ++k) {
    const FeatureReference& r = p.reference[k];
    const std::string& name = p.features[k].name;
    NN_CHECK(r.counts.size() == r.edges.size() + 1, ValueError, "drift monitor: feature '", name, "' has ",
             r.edges.size(), " edges but ", r.counts.size(), " bin counts (must be edges + 1)");
    for (size_t i = 0; i < r.edges.size(); ++i) {
      NN_CHECK(std::isfinite(r.edges[i]), ValueError, "drift monitor: feature '", name, "': edge ", i,
               " is not finite");
      NN_CHECK(i == 0 || r.edges[i] > r.edges[i - 1], ValueError, "drift monitor: feature '", name,
               "': edges must be strictly increasing (edge ", i, ")");
    }
    int64_t n = 0;
    for (int64_t c : r.counts) {
      NN_CHECK(c >= 0, ValueError, "drift monitor: feature '", name, "' has a negative bin count");
      n += c;
    }
    NN_CHECK(n > 0 && n == r.n, ValueError, "drift monitor: feature '", name, "': bin counts sum to ", n,
             " but the reference has n = ", r.n, " (must be equal and positive)");
    NN_CHECK(p.features[k].source >= 0, ValueError, "drift monitor: feature '", name, "' has a negative source");
  }
}

thread_local std::vector<double> tl_values;
thread_local std::vector<int64_t> tl_bins;
thread_local std::vector<double> tl_stats;  // per feature: count, nan, sum, sumsq, min, max

}  // namespace

Monitor::Monitor(DriftProfile profile, MonitorOptions options)
    : profile_(std::move(profile)), opt_(std::move(options)) {
  check_profile(profile_);
  NN_CHECK(opt_.blocks >= 1 && opt_.blocks <= 1024, ValueError, "drift monitor: blocks must be in [1, 1024], got ",
           opt_.blocks);
  NN_CHECK(opt_.window >= opt_.blocks, ValueError, "drift monitor: window (", opt_.window,
           " rows) must be at least blocks (", opt_.blocks, ")");
  NN_CHECK(opt_.min_samples >= 1, ValueError, "drift monitor: min_samples must be at least 1, got ", opt_.min_samples);
  NN_CHECK(opt_.psi_warning >= 0 && opt_.psi_warning <= opt_.psi_alert, ValueError,
           "drift monitor: need 0 <= psi_warning <= psi_alert, got ", opt_.psi_warning, " and ", opt_.psi_alert);
  NN_CHECK(opt_.ks_warning >= 0 && opt_.ks_warning <= opt_.ks_alert, ValueError,
           "drift monitor: need 0 <= ks_warning <= ks_alert, got ", opt_.ks_warning, " and ", opt_.ks_alert);
  NN_CHECK(opt_.psi_epsilon > 0 && opt_.psi_epsilon < 1, ValueError, "drift monitor: psi_epsilon must be in (0, 1)");
  NN_CHECK(opt_.scores == "auto" || opt_.scores == "logits" || opt_.scores == "probabilities", ValueError,
           "drift monitor: scores must be 'auto', 'logits' or 'probabilities', got '", opt_.scores, "'");
  NN_CHECK(opt_.outcome_window >= 1 && opt_.max_pending >= 1 && opt_.calibration_bins >= 1, ValueError,
           "drift monitor: outcome_window, max_pending and calibration_bins must be at least 1");
  NN_CHECK(opt_.outcome_output >= 0, ValueError, "drift monitor: outcome_output must be >= 0");
  block_rows_ = (opt_.window + opt_.blocks - 1) / opt_.blocks;
  NN_CHECK(opt_.psi_bins >= 2, ValueError, "drift monitor: psi_bins must be at least 2, got ", opt_.psi_bins);
  for (size_t k = 0; k < profile_.reference.size(); ++k) {
    const FeatureReference& r = profile_.reference[k];
    bin_offset_.push_back(total_bins_);
    total_bins_ += r.counts.size();
    const int fine = static_cast<int>(r.counts.size());
    const bool categorical = profile_.features[k].kind == FeatureKind::Class;
    psi_group_.push_back(categorical ? 1 : (fine + opt_.psi_bins - 1) / opt_.psi_bins);
  }
  ring_.resize(static_cast<size_t>(opt_.blocks));
  for (Block& b : ring_) b.resize(total_bins_, profile_.features.size());
  totals_.assign(profile_.features.size(), 0);
  nans_.assign(profile_.features.size(), 0);
}

Monitor::~Monitor() = default;

void Monitor::note_error(const std::string& message) noexcept {
  try {
    std::lock_guard<std::mutex> g(mu_);
    ++errors_;
    last_error_ = message;
  } catch (...) {
  }
}

void Monitor::observe(const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
                      const std::string& request_id, int64_t rows) noexcept {
  try {
    const size_t nf = profile_.features.size();
    tl_bins.assign(total_bins_, 0);
    tl_stats.assign(nf * 6, 0.0);
    for (size_t k = 0; k < nf; ++k) {
      const std::string why = feature_values(profile_.features[k], inputs, outputs, tl_values);
      if (!why.empty()) {
        note_error(why);
        return;  // nothing of a call that does not fit is counted
      }
      const std::vector<double>& edges = profile_.reference[k].edges;
      int64_t* bins = tl_bins.data() + bin_offset_[k];
      double* st = tl_stats.data() + k * 6;
      double lo = std::numeric_limits<double>::infinity(), hi = -lo, sum = 0, sumsq = 0;
      int64_t count = 0, nan = 0;
      for (double x : tl_values) {
        if (std::isnan(x)) {
          ++nan;
          continue;
        }
        ++bins[std::upper_bound(edges.begin(), edges.end(), x) - edges.begin()];
        ++count;
        sum += x;
        sumsq += x * x;
        lo = std::min(lo, x);
        hi = std::max(hi, x);
      }
      st[0] = static_cast<double>(count);
      st[1] = static_cast<double>(nan);
      st[2] = sum;
      st[3] = sumsq;
      st[4] = lo;
      st[5] = hi;
    }
    {
      std::lock_guard<std::mutex> g(mu_);
      Block* b = &ring_[current_];
      if (b->rows >= block_rows_) {  // closed by the previous call: start the oldest slot afresh
        current_ = (current_ + 1) % ring_.size();
        b = &ring_[current_];
        b->clear();
      }
      for (size_t i = 0; i < total_bins_; ++i) b->bins[i] += tl_bins[i];
      for (size_t k = 0; k < nf; ++k) {
        const double* st = tl_stats.data() + k * 6;
        b->count[k] += static_cast<int64_t>(st[0]);
        b->nan[k] += static_cast<int64_t>(st[1]);
        b->sum[k] += st[2];
        b->sumsq[k] += st[3];
        b->min[k] = std::min(b->min[k], st[4]);
        b->max[k] = std::max(b->max[k], st[5]);
        totals_[k] += static_cast<int64_t>(st[0]);
        nans_[k] += static_cast<int64_t>(st[1]);
      }
      b->rows += rows;
      rows_ += rows;
      ++calls_;
    }
    if (!request_id.empty()) store_prediction(outputs, request_id);
  } catch (const std::exception& e) {
    note_error(e.what());
  } catch (...) {
    note_error("unknown error");
  }
}

void Monitor::store_prediction(const std::vector<Tensor>& outputs, const std::string& request_id) {
  const size_t o = static_cast<size_t>(opt_.outcome_output);
  std::string reason;
  if (o >= outputs.size()) {
    reason = str("outcome_output ", o, " is out of range (the session returns ", outputs.size(), " outputs)");
  } else if (!is_floating(outputs[o].dtype()) || outputs[o].dim() < 1 || outputs[o].dim() > 2) {
    reason = str("output ", o, " is ", dtype_name(outputs[o].dtype()), " of shape ", outputs[o].sizes(),
                 ": outcomes need floating scores of shape (batch,), (batch, 1) or (batch, classes)");
  }
  if (!reason.empty()) {
    std::lock_guard<std::mutex> g(outcome_mu_);
    outcome_reason_ = reason;
    return;
  }
  const Tensor s = contiguous(cast(outputs[o], DType::Float64));
  const double* p = s.data<double>();
  const int64_t rows = s.sizes()[0];
  const int64_t c = s.dim() == 2 ? s.sizes()[1] : 1;
  Prediction pred;
  pred.predicted.resize(static_cast<size_t>(rows));
  pred.confidence.resize(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const double* row = p + r * c;
    if (c == 1) {  // binary: a probability of class 1 or a logit
      double q = row[0];
      const bool is_prob = opt_.scores == "probabilities" || (opt_.scores == "auto" && q >= 0 && q <= 1);
      if (!is_prob) q = 1.0 / (1.0 + std::exp(-q));
      pred.predicted[static_cast<size_t>(r)] = q >= 0.5;
      pred.confidence[static_cast<size_t>(r)] = std::max(q, 1 - q);
      continue;
    }
    int64_t arg = 0;
    double sum = 0;
    bool nonneg = true;
    for (int64_t j = 0; j < c; ++j) {
      if (row[j] > row[arg]) arg = j;
      sum += row[j];
      nonneg = nonneg && row[j] >= 0;
    }
    const bool is_prob =
        opt_.scores == "probabilities" || (opt_.scores == "auto" && nonneg && std::fabs(sum - 1) < 1e-3);
    double conf;
    if (is_prob) {
      conf = sum > 0 ? row[arg] / sum : 0;
    } else {  // softmax of the logits at the argmax: 1 / sum_j exp(x_j - x_max)
      double z = 0;
      for (int64_t j = 0; j < c; ++j) z += std::exp(row[j] - row[arg]);
      conf = 1.0 / z;
    }
    pred.predicted[static_cast<size_t>(r)] = arg;
    pred.confidence[static_cast<size_t>(r)] = conf;
  }
  std::lock_guard<std::mutex> g(outcome_mu_);
  outcome_reason_.clear();
  auto [it, fresh] = pending_.insert_or_assign(request_id, std::move(pred));
  (void)it;
  if (fresh) pending_order_.push_back(request_id);
  if (pending_order_.size() > 2 * pending_.size() + 64) {  // labelled ids pile up behind an old one: compact
    std::deque<std::string> live;
    for (auto& id : pending_order_)
      if (pending_.count(id)) live.push_back(std::move(id));
    pending_order_.swap(live);
  }
  while (static_cast<int64_t>(pending_.size()) > opt_.max_pending && !pending_order_.empty()) {
    if (pending_.erase(pending_order_.front())) ++expired_;
    pending_order_.pop_front();
  }
}

void Monitor::record_outcome(const std::string& request_id, const std::vector<int64_t>& labels) {
  std::lock_guard<std::mutex> g(outcome_mu_);
  auto it = pending_.find(request_id);
  if (it == pending_.end()) {
    ++unknown_;
    throw IndexError(str("record_outcome: no prediction is waiting for request id '", request_id,
                         "' (unknown, already labelled, or dropped after max_pending = ", opt_.max_pending,
                         " newer requests", outcome_reason_.empty() ? std::string() : "; " + outcome_reason_, ")"));
  }
  const Prediction& p = it->second;
  NN_CHECK(labels.size() == p.predicted.size(), ValueError, "record_outcome: request '", request_id, "' had ",
           p.predicted.size(), " rows but got ", labels.size(), " labels (one per row)");
  for (size_t r = 0; r < labels.size(); ++r) {
    outcomes_.emplace_back(labels[r] == p.predicted[r], p.confidence[r]);
    while (static_cast<int64_t>(outcomes_.size()) > opt_.outcome_window) outcomes_.pop_front();
  }
  recorded_ += static_cast<int64_t>(labels.size());
  pending_.erase(it);  // its entry in pending_order_ is skipped when it reaches the front
}

MonitorSnapshot Monitor::snapshot() const {
  MonitorSnapshot s;
  const size_t nf = profile_.features.size();
  Block sum;
  sum.resize(total_bins_, nf);
  std::vector<int64_t> totals, nans;
  {
    std::lock_guard<std::mutex> g(mu_);
    for (const Block& b : ring_) {
      sum.rows += b.rows;
      for (size_t i = 0; i < total_bins_; ++i) sum.bins[i] += b.bins[i];
      for (size_t k = 0; k < nf; ++k) {
        sum.count[k] += b.count[k];
        sum.sum[k] += b.sum[k];
        sum.sumsq[k] += b.sumsq[k];
        sum.min[k] = std::min(sum.min[k], b.min[k]);
        sum.max[k] = std::max(sum.max[k], b.max[k]);
      }
    }
    totals = totals_;
    nans = nans_;
    s.calls_total = calls_;
    s.rows_total = rows_;
    s.errors_total = errors_;
    s.last_error = last_error_;
  }
  s.window_rows = sum.rows;
  int worst = -1;  // -1 all collecting, 0 ok, 1 warning, 2 alert
  static const char* kStatus[] = {"ok", "warning", "alert"};
  for (size_t k = 0; k < nf; ++k) {
    const FeatureDef& f = profile_.features[k];
    const FeatureReference& r = profile_.reference[k];
    FeatureDrift d;
    d.name = f.name;
    d.kind = feature_kind_name(f.kind);
    d.from_output = f.from_output;
    d.source = f.source;
    d.window_count = sum.count[k];
    d.total = totals[k];
    d.nan_total = nans[k];
    d.reference_mean = r.mean;
    d.reference_std = r.std;
    d.psi_group = psi_group_[k];
    for (size_t i = static_cast<size_t>(d.psi_group) - 1; i < r.edges.size(); i += static_cast<size_t>(d.psi_group))
      d.psi_edges.push_back(r.edges[i]);
    d.window_counts.assign(sum.bins.begin() + static_cast<std::ptrdiff_t>(bin_offset_[k]),
                           sum.bins.begin() + static_cast<std::ptrdiff_t>(bin_offset_[k] + r.counts.size()));
    if (d.window_count > 0) {
      const double n = static_cast<double>(d.window_count);
      d.window_mean = sum.sum[k] / n;
      d.window_std = std::sqrt(std::max(0.0, sum.sumsq[k] / n - d.window_mean * d.window_mean));
      d.window_min = sum.min[k];
      d.window_max = sum.max[k];
      std::vector<int64_t> ref_coarse, win_coarse;
      for (size_t i = 0; i < r.counts.size(); ++i) {
        if (i % static_cast<size_t>(d.psi_group) == 0) {
          ref_coarse.push_back(0);
          win_coarse.push_back(0);
        }
        ref_coarse.back() += r.counts[i];
        win_coarse.back() += d.window_counts[i];
      }
      d.psi = population_stability_index(ref_coarse, win_coarse, opt_.psi_epsilon);
      std::tie(d.ks, d.ks_error_bound) = binned_ks(r.counts, d.window_counts);
      // quantiles: linear inside the bin holding the rank; the open outer bins end at the
      // window's min / max
      auto quantile = [&](double q) {
        const double rank = q * n;
        double seen = 0;
        for (size_t i = 0; i < d.window_counts.size(); ++i) {
          const double c = static_cast<double>(d.window_counts[i]);
          if (c > 0 && seen + c >= rank) {
            double lo = i == 0 ? d.window_min : std::max(r.edges[i - 1], d.window_min);
            double hi = i == r.edges.size() ? d.window_max : std::min(r.edges[i], d.window_max);
            if (hi < lo) hi = lo;
            return lo + (hi - lo) * (rank - seen) / c;
          }
          seen += c;
        }
        return d.window_max;
      };
      d.window_p05 = quantile(0.05);
      d.window_p50 = quantile(0.50);
      d.window_p95 = quantile(0.95);
    } else {
      d.ks_error_bound = 1.0;
    }
    if (d.window_count < opt_.min_samples) {
      d.status = "collecting";
    } else {
      int level = 0;
      if (d.psi >= opt_.psi_alert || d.ks >= opt_.ks_alert) level = 2;
      else if (d.psi >= opt_.psi_warning || d.ks >= opt_.ks_warning) level = 1;
      d.status = kStatus[level];
      worst = std::max(worst, level);
    }
    s.features.push_back(std::move(d));
  }
  s.status = worst < 0 ? "collecting" : kStatus[worst];

  OutcomeSnapshot& o = s.outcomes;
  std::lock_guard<std::mutex> g(outcome_mu_);
  o.reason = outcome_reason_;
  o.tracking = outcome_reason_.empty();
  o.pending = static_cast<int64_t>(pending_.size());
  o.recorded_total = recorded_;
  o.unknown_total = unknown_;
  o.expired_total = expired_;
  o.window_count = static_cast<int64_t>(outcomes_.size());
  const int nb = opt_.calibration_bins;
  std::vector<int64_t> count(static_cast<size_t>(nb), 0), correct(static_cast<size_t>(nb), 0);
  std::vector<double> conf(static_cast<size_t>(nb), 0.0);
  int64_t right = 0;
  double conf_sum = 0;
  for (const auto& [ok, c] : outcomes_) {
    // equal-width bins over [0, 1]: bin b holds (b / nb, (b + 1) / nb], confidence 0 in bin 0
    const int b = std::min(nb - 1, std::max(0, static_cast<int>(std::ceil(c * nb)) - 1));
    ++count[static_cast<size_t>(b)];
    correct[static_cast<size_t>(b)] += ok;
    conf[static_cast<size_t>(b)] += c;
    right += ok;
    conf_sum += c;
  }
  if (o.window_count > 0) {
    const double n = static_cast<double>(o.window_count);
    o.accuracy = static_cast<double>(right) / n;
    o.mean_confidence = conf_sum / n;
    for (int b = 0; b < nb; ++b) {
      const size_t i = static_cast<size_t>(b);
      const double mc = count[i] ? conf[i] / static_cast<double>(count[i]) : 0.0;
      const double acc = count[i] ? static_cast<double>(correct[i]) / static_cast<double>(count[i]) : 0.0;
      o.ece += static_cast<double>(count[i]) / n * std::fabs(acc - mc);
      o.reliability.emplace_back(count[i], mc, acc);
    }
  }
  return s;
}

void Monitor::reset() {
  {
    std::lock_guard<std::mutex> g(mu_);
    for (Block& b : ring_) b.clear();
    current_ = 0;
    calls_ = rows_ = errors_ = 0;
    std::fill(totals_.begin(), totals_.end(), 0);
    std::fill(nans_.begin(), nans_.end(), 0);
    last_error_.clear();
  }
  std::lock_guard<std::mutex> g(outcome_mu_);
  pending_.clear();
  pending_order_.clear();
  outcomes_.clear();
  recorded_ = unknown_ = expired_ = 0;
}

}  // namespace nn::runtime
