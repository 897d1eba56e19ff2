// monitor.h — production monitoring of an inference session, computed on the serving
// path: drift of every input and output feature against a reference profile (population
// stability index and Kolmogorov-Smirnov distance over a sliding window), and windowed
// accuracy / expected calibration error from labels that arrive later.
//
// Layout conventions:
// - A *feature* is one stream of scalars taken from a call's inputs or outputs
//   (FeatureKind below). Dim 0 of every tensor is the batch ("rows"); a float input of
//   shape (B, ..., F) with a static F <= max_columns gives F Column features (one value per
//   leading index), any other float input one Values feature; an integer input gives a
//   Tokens feature (every element) and, for rank >= 2, a Length feature (per leading
//   index: the number of nonzero entries along the last dim, i.e. the unpadded length).
//   A float output of rank >= 2 gives Norm (L2 norm over the last dim), Score (max over the
//   last dim) and, when 2 <= C <= max_classes, Class (argmax over the last dim); rank <= 1
//   outputs and integer outputs give Values.
// - Each feature has fixed bins from its reference: inner edges e_0 < ... < e_{k-1} at the
//   reference's quantiles j/bins (deduplicated), bins (-inf, e_0), [e_0, e_1), ...,
//   [e_{k-1}, +inf): a value x falls in bin upper_bound(edges, x) (numpy's
//   searchsorted(edges, x, side="right")). Class features use the edges 0.5, 1.5, ...
//   (one bin per class). KS uses these (fine) bins; PSI merges them in consecutive groups
//   of g = ceil(fine bins / psi_bins) (g = 1 for Class), i.e. on the coarse edges
//   e_{g-1}, e_{2g-1}, ... (psi_edges in the snapshot): deciles by default, the usual PSI
//   binning, whose small-sample bias (about (bins - 1) (1/n_window + 1/n_reference)) stays
//   well under the warning threshold at the default window.
// - Note [Drift window]: the window of `window` rows is a ring of `blocks` blocks of
//   ceil(window / blocks) rows. A call's rows all go into the current block; a block that
//   reaches its row count is closed, and the next call starts the oldest slot afresh. The
//   window is the sum of the ring: once full it holds the last `blocks` closed blocks
//   (exactly `window` rows when calls have one row and blocks divide window), or the last
//   blocks - 1 closed blocks plus the open one. Memory: features x blocks x (bins + 6)
//   64-bit counters, fixed at construction.
// - Note [Binned KS]: D_k = |F_w(e_k^-) - F_r(e_k^-)| at every bin edge is a value of the
//   true empirical-CDF difference (a left limit), so the binned KS never exceeds the exact
//   two-sample KS statistic; inside bin i each CDF moves by at most its mass in the bin, so
//   the exact statistic exceeds the binned one by at most max_i max(w_i, r_i)
//   (ks_error_bound, reported with every figure). PSI has no sketch error: it is defined on
//   these bins, sum_i (w_i - r_i) ln(w_i / r_i) with proportions floored at psi_epsilon.
//
// Thread safety: observe() may run from many threads at once. Feature values and per-call
// histograms are computed without a lock (thread-local scratch); merging into the window
// takes one mutex for a few hundred additions, so no count is lost.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tensor.h"

namespace nn::runtime {

enum class FeatureKind : int { Column = 0, Values = 1, Tokens = 2, Length = 3, Norm = 4, Score = 5, Class = 6 };
const char* feature_kind_name(FeatureKind k);
FeatureKind feature_kind_from_name(const std::string& name);  // ValueError on an unknown name

struct FeatureDef {
  std::string name;        // e.g. "x[3]", "input_ids.tokens", "output0.norm"
  FeatureKind kind = FeatureKind::Values;
  bool from_output = false;
  int source = 0;          // input or output index
  int64_t column = -1;     // Column: the index in the last dim; Class: the number of classes
};

struct FeatureReference {
  std::vector<double> edges;    // strictly increasing inner edges
  std::vector<int64_t> counts;  // edges.size() + 1 bins
  int64_t n = 0;
  double mean = 0, std = 0, min = 0, max = 0;
};

struct DriftProfile {
  int bins = 40;
  std::vector<FeatureDef> features;
  std::vector<FeatureReference> reference;  // one per feature
};

// The features a call with these inputs and outputs yields (the layout at the top).
std::vector<FeatureDef> feature_layout(const std::vector<std::string>& input_names, const std::vector<Tensor>& inputs,
                                       const std::vector<Tensor>& outputs, int64_t max_columns = 256,
                                       int64_t max_classes = 1024);

// The values of one feature for one call, appended to `out` (cleared first). Returns an
// empty string, or why the tensors do not fit the feature (wrong rank, dtype, last dim).
std::string feature_values(const FeatureDef& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
                           std::vector<double>& out);

// Collects the reference values of every feature over several calls and builds the
// profile (quantile edges, counts, moments). NaN values, a feature with no values and
// batches that do not fit the layout raise ValueError naming the feature.
class ProfileBuilder {
 public:
  ProfileBuilder(std::vector<FeatureDef> features, int bins);
  void add(const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs);
  DriftProfile finish() const;

 private:
  std::vector<FeatureDef> features_;
  int bins_;
  int64_t batches_ = 0;
  std::vector<std::vector<double>> values_;
};

// Pure drift figures on two histograms over the same bins (for tests and the canary).
double population_stability_index(const std::vector<int64_t>& reference, const std::vector<int64_t>& window,
                                  double epsilon);
// (KS distance from the bins, its error bound: Note [Binned KS]).
std::pair<double, double> binned_ks(const std::vector<int64_t>& reference, const std::vector<int64_t>& window);

struct MonitorOptions {
  int64_t window = 1000;       // rows in the sliding window
  int blocks = 8;              // blocks of the ring (Note [Drift window])
  int64_t min_samples = 100;   // window values a feature needs before it gets a status
  double psi_warning = 0.1, psi_alert = 0.15;  // docs/monitoring.md: why 0.15
  double ks_warning = 0.1, ks_alert = 0.2;
  double psi_epsilon = 1e-4;
  int psi_bins = 10;           // PSI bins (fine bins merged in groups; Class: one per class)
  // Outcomes (calibration): which output holds the predictions and how to read them.
  int outcome_output = 0;
  std::string scores = "auto";  // "auto", "logits" or "probabilities"
  int64_t outcome_window = 1000;
  int64_t max_pending = 10000;  // predictions kept waiting for a label (oldest dropped)
  int calibration_bins = 10;
};

struct FeatureDrift {
  std::string name, kind, status;  // status: "collecting", "ok", "warning", "alert"
  bool from_output = false;
  int source = 0;
  int64_t window_count = 0, total = 0, nan_total = 0;
  double psi = 0, ks = 0, ks_error_bound = 0;
  double reference_mean = 0, reference_std = 0, window_mean = 0, window_std = 0;
  double window_min = 0, window_max = 0;
  double window_p05 = 0, window_p50 = 0, window_p95 = 0;  // interpolated inside the bins
  std::vector<int64_t> window_counts;                   // the window's histogram (fine bins)
  std::vector<double> psi_edges;                        // the inner edges of the PSI bins
  int psi_group = 1;                                    // fine bins per PSI bin
};

struct OutcomeSnapshot {
  bool tracking = false;
  std::string reason;  // why predictions are not tracked (empty when they are)
  int64_t pending = 0, recorded_total = 0, unknown_total = 0, expired_total = 0;
  int64_t window_count = 0;
  double accuracy = 0, ece = 0, mean_confidence = 0;
  // per calibration bin: (count, mean confidence, accuracy)
  std::vector<std::tuple<int64_t, double, double>> reliability;
};

struct MonitorSnapshot {
  std::string status;  // worst feature status ("ok" when every feature is collecting)
  int64_t calls_total = 0, rows_total = 0, errors_total = 0, window_rows = 0;
  std::string last_error;
  std::vector<FeatureDrift> features;
  OutcomeSnapshot outcomes;
};

class Monitor {
 public:
  Monitor(DriftProfile profile, MonitorOptions options);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // One served call. Never throws: a call that does not fit the profile is counted in
  // errors_total (with last_error) and serving goes on.
  void observe(const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, const std::string& request_id,
               int64_t rows) noexcept;
  // A label (one per row of the request) for an earlier call. KeyError-like IndexError
  // when the id is unknown or expired, ValueError when the labels do not fit.
  void record_outcome(const std::string& request_id, const std::vector<int64_t>& labels);
  MonitorSnapshot snapshot() const;
  void reset();  // empties the window, counters and outcomes; keeps profile and options

  const DriftProfile& profile() const { return profile_; }
  const MonitorOptions& options() const { return opt_; }

 private:
  struct Block;
  struct Prediction {
    std::vector<int64_t> predicted;
    std::vector<double> confidence;
  };
  void store_prediction(const std::vector<Tensor>& outputs, const std::string& request_id);
  void note_error(const std::string& message) noexcept;

  DriftProfile profile_;
  MonitorOptions opt_;
  int64_t block_rows_;
  std::vector<size_t> bin_offset_;  // per feature: first bin in a flat histogram
  std::vector<int> psi_group_;      // per feature: fine bins per PSI bin
  size_t total_bins_ = 0;

  mutable std::mutex mu_;
  std::vector<Block> ring_;
  size_t current_ = 0;
  int64_t calls_ = 0, rows_ = 0, errors_ = 0;
  std::vector<int64_t> totals_, nans_;
  std::string last_error_;

  mutable std::mutex outcome_mu_;
  std::unordered_map<std::string, Prediction> pending_;
  std::deque<std::string> pending_order_;
  std::deque<std::pair<bool, double>> outcomes_;  // (correct, confidence), newest last
  int64_t recorded_ = 0, unknown_ = 0, expired_ = 0;
  std::string outcome_reason_;
};

// Comparison of two sessions' outputs on the same inputs (the canary): per call, the
// largest absolute difference, the mean cosine similarity of rows (last dim) and the
// number of rows whose argmax agrees, over every float output of matching shape.
struct OutputComparison {
  double max_abs_diff = 0;
  double cosine_sum = 0;  // sum over rows of the cosine
  int64_t rows = 0, top1_agree = 0;
  std::string mismatch;  // non-empty when the outputs' count, shapes or dtypes differ
};
OutputComparison compare_outputs(const std::vector<Tensor>& a, const std::vector<Tensor>& b);

}  // namespace nn::runtime
