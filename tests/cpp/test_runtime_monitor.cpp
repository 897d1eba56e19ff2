// test_runtime_monitor.cpp — the drift monitor (csrc/runtime/monitor.h) without Python:
// a profile built from reference values, 8 threads calling observe() at once (no count
// lost: the window's histogram equals the serial one), PSI and binned KS on hand-made
// histograms, outcomes with their accuracy, and bad profiles / options rejected. Meant to
// be built with -fsanitize=thread as well as plainly; exits non-zero on any failure.
// Tensors are (rows, 2) float32 inputs and (rows, 3) float32 outputs.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "core/errors.h"
#include "ops/ops.h"
#include "runtime/monitor.h"
#include "test_check.h"

using namespace nn;
using namespace nn::runtime;

namespace {

Tensor make(int64_t rows, int64_t cols, std::mt19937& gen, double shift) {
  Tensor t = empty({rows, cols}, DType::Float32);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  float* p = t.data<float>();
  for (int64_t i = 0; i < rows * cols; ++i) p[i] = normal(gen) + static_cast<float>(shift);
  return t;
}

int64_t bin_of(const std::vector<double>& edges, double x) {
  return std::upper_bound(edges.begin(), edges.end(), x) - edges.begin();
}

}  // namespace

int main() {
  std::mt19937 gen(7);
  const std::vector<std::string> names{"x"};

  // ---- the profile ----
  std::vector<Tensor> ref_in{make(2000, 2, gen, 0.0)};
  std::vector<Tensor> ref_out{make(2000, 3, gen, 0.0)};
  std::vector<FeatureDef> layout = feature_layout(names, ref_in, ref_out);
  CHECK(layout.size() == 5);  // x[0], x[1], output0.norm, output0.score, output0.class
  CHECK(layout[0].name == "x[0]" && layout[0].kind == FeatureKind::Column);
  CHECK(layout[4].kind == FeatureKind::Class && layout[4].column == 3);
  ProfileBuilder builder(layout, 16);
  builder.add(ref_in, ref_out);
  DriftProfile profile = builder.finish();
  CHECK(profile.reference[0].n == 2000 && profile.reference[0].edges.size() == 15);
  CHECK(profile.reference[4].edges.size() == 2);  // one bin per class

  // ---- 8 threads, no count lost ----
  MonitorOptions opt;
  opt.window = 8 * 200 * 3;  // holds every row
  opt.blocks = 8;
  auto monitor = std::make_shared<Monitor>(profile, opt);
  const int threads = 8, calls = 200;
  std::vector<std::vector<Tensor>> inputs(threads), outputs(threads);
  for (int t = 0; t < threads; ++t)
    for (int c = 0; c < calls; ++c) {
      inputs[t].push_back(make(3, 2, gen, 0.0));
      outputs[t].push_back(make(3, 3, gen, 0.0));
    }
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int c = 0; c < calls; ++c)
        monitor->observe({inputs[t][c]}, {outputs[t][c]}, "t" + std::to_string(t) + "c" + std::to_string(c), 3);
    });
  for (auto& th : pool) th.join();
  MonitorSnapshot snap = monitor->snapshot();
  CHECK(snap.calls_total == threads * calls && snap.rows_total == threads * calls * 3 && snap.errors_total == 0);
  CHECK(snap.window_rows == threads * calls * 3);
  std::vector<int64_t> want(profile.reference[0].counts.size(), 0);
  for (int t = 0; t < threads; ++t)
    for (int c = 0; c < calls; ++c)
      for (int r = 0; r < 3; ++r) ++want[static_cast<size_t>(bin_of(profile.reference[0].edges,
                                                                     inputs[t][c].data<float>()[r * 2]))];
  CHECK(snap.features[0].window_counts == want);
  CHECK(snap.features[0].total == threads * calls * 3);
  CHECK(snap.outcomes.pending == threads * calls);

  // ---- outcomes ----
  const Tensor& o = outputs[0][0];
  std::vector<int64_t> labels;
  for (int r = 0; r < 3; ++r) {
    const float* row = o.data<float>() + r * 3;
    labels.push_back(std::max_element(row, row + 3) - row);  // every prediction right
  }
  monitor->record_outcome("t0c0", labels);
  CHECK(monitor->snapshot().outcomes.accuracy == 1.0 && monitor->snapshot().outcomes.window_count == 3);
  CHECK_THROWS(IndexError, monitor->record_outcome("t0c0", labels), "no prediction is waiting");
  CHECK_THROWS(ValueError, monitor->record_outcome("t0c1", {1}), "had 3 rows but got 1 labels");

  // ---- a call that does not fit is counted, not thrown ----
  monitor->observe({reshape(make(2, 2, gen, 0.0), {4})}, {make(2, 3, gen, 0.0)}, "", 2);  // rank 1: no columns
  CHECK(monitor->snapshot().errors_total == 1);

  // ---- PSI and KS on hand-made histograms ----
  CHECK(population_stability_index({10, 10}, {10, 10}, 1e-4) == 0.0);
  const double psi = population_stability_index({50, 50}, {20, 80}, 1e-4);
  CHECK(std::fabs(psi - ((0.2 - 0.5) * std::log(0.2 / 0.5) + (0.8 - 0.5) * std::log(0.8 / 0.5))) < 1e-12);
  auto [ks, bound] = binned_ks({50, 50}, {20, 80});
  CHECK(std::fabs(ks - 0.3) < 1e-12 && std::fabs(bound - 0.8) < 1e-12);

  // ---- a shift of one standard deviation alerts ----
  MonitorOptions small;
  small.window = 400;
  Monitor shifted(profile, small);
  for (int c = 0; c < 100; ++c) shifted.observe({make(4, 2, gen, 1.0)}, {make(4, 3, gen, 0.0)}, "", 4);
  MonitorSnapshot s = shifted.snapshot();
  CHECK(s.features[0].status == "alert" && s.features[2].status != "alert");

  // ---- bad profiles and options ----
  DriftProfile bad = profile;
  std::reverse(bad.reference[0].edges.begin(), bad.reference[0].edges.end());
  CHECK_THROWS(ValueError, Monitor(bad, opt), "strictly increasing");
  bad = profile;
  bad.reference[1].counts.pop_back();
  CHECK_THROWS(ValueError, Monitor(bad, opt), "bin counts (must be edges + 1)");
  MonitorOptions wrong = opt;
  wrong.window = 3;
  CHECK_THROWS(ValueError, Monitor(profile, wrong), "must be at least blocks");
  ProfileBuilder nan_builder(layout, 16);
  Tensor with_nan = make(4, 2, gen, 0.0);
  with_nan.data<float>()[3] = NAN;
  CHECK_THROWS(ValueError, nan_builder.add({with_nan}, {make(4, 3, gen, 0.0)}), "'x[1]' contains NaN");

  return nn_test::finish("test_runtime_monitor");
}
