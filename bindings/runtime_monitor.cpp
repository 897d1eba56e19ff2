// runtime_monitor.cpp — binds the inference runtime's monitor (csrc/runtime/monitor.h):
// nn_core._C._DriftMonitor, _DriftProfileBuilder, the feature layout and the pure drift
// figures. Profiles cross the boundary as plain dicts ({"bins", "features": [{"name",
// "kind", "from_output", "source", "column", "edges", "counts", "n", "mean", "std", "min",
// "max"}]}), which nn_core/runtime/monitoring.py saves as JSON. Private names: the public
// API is InferenceSession.monitor() and nn_core.runtime.DriftProfile.
#include "bindings/bindings.h"
#include "runtime/monitor.h"

namespace nn::bind {
namespace {

using namespace nn::runtime;

py::dict feature_dict(const FeatureDef& f) {
  py::dict d;
  d["name"] = f.name;
  d["kind"] = std::string(feature_kind_name(f.kind));
  d["from_output"] = f.from_output;
  d["source"] = f.source;
  d["column"] = f.column;
  return d;
}

template <typename T>
T get(const py::dict& d, const char* key, const char* what) {
  if (!d.contains(key)) throw ValueError(str("drift profile: ", what, " has no '", key, "'"));
  try {
    return d[key].cast<T>();
  } catch (const py::cast_error&) {
    throw ValueError(str("drift profile: ", what, ": '", key, "' has the wrong type"));
  }
}

FeatureDef feature_from(const py::dict& d) {
  FeatureDef f;
  f.name = get<std::string>(d, "name", "a feature");
  f.kind = feature_kind_from_name(get<std::string>(d, "kind", "a feature"));
  f.from_output = get<bool>(d, "from_output", "a feature");
  f.source = get<int>(d, "source", "a feature");
  f.column = get<int64_t>(d, "column", "a feature");
  return f;
}

std::vector<FeatureDef> features_from(const py::list& l) {
  std::vector<FeatureDef> v;
  for (py::handle h : l) v.push_back(feature_from(h.cast<py::dict>()));
  return v;
}

py::dict profile_dict(const DriftProfile& p) {
  py::dict d;
  d["bins"] = p.bins;
  py::list fl;
  for (size_t k = 0; k < p.features.size(); ++k) {
    py::dict f = feature_dict(p.features[k]);
    const FeatureReference& r = p.reference[k];
    f["edges"] = r.edges;
    f["counts"] = r.counts;
    f["n"] = r.n;
    f["mean"] = r.mean;
    f["std"] = r.std;
    f["min"] = r.min;
    f["max"] = r.max;
    fl.append(f);
  }
  d["features"] = fl;
  return d;
}

DriftProfile profile_from(const py::dict& d) {
  DriftProfile p;
  p.bins = get<int>(d, "bins", "the profile");
  for (py::handle h : get<py::list>(d, "features", "the profile")) {
    const py::dict f = h.cast<py::dict>();
    p.features.push_back(feature_from(f));
    const std::string what = "feature '" + p.features.back().name + "'";
    FeatureReference r;
    r.edges = get<std::vector<double>>(f, "edges", what.c_str());
    r.counts = get<std::vector<int64_t>>(f, "counts", what.c_str());
    r.n = get<int64_t>(f, "n", what.c_str());
    r.mean = get<double>(f, "mean", what.c_str());
    r.std = get<double>(f, "std", what.c_str());
    r.min = get<double>(f, "min", what.c_str());
    r.max = get<double>(f, "max", what.c_str());
    p.reference.push_back(std::move(r));
  }
  return p;
}

MonitorOptions options_from(const py::dict& d) {
  MonitorOptions o;
  for (auto item : d) {
    const std::string k = item.first.cast<std::string>();
    py::handle v = item.second;
    if (k == "window") o.window = v.cast<int64_t>();
    else if (k == "blocks") o.blocks = v.cast<int>();
    else if (k == "min_samples") o.min_samples = v.cast<int64_t>();
    else if (k == "psi_warning") o.psi_warning = v.cast<double>();
    else if (k == "psi_alert") o.psi_alert = v.cast<double>();
    else if (k == "ks_warning") o.ks_warning = v.cast<double>();
    else if (k == "ks_alert") o.ks_alert = v.cast<double>();
    else if (k == "psi_epsilon") o.psi_epsilon = v.cast<double>();
    else if (k == "psi_bins") o.psi_bins = v.cast<int>();
    else if (k == "outcome_output") o.outcome_output = v.cast<int>();
    else if (k == "scores") o.scores = v.cast<std::string>();
    else if (k == "outcome_window") o.outcome_window = v.cast<int64_t>();
    else if (k == "max_pending") o.max_pending = v.cast<int64_t>();
    else if (k == "calibration_bins") o.calibration_bins = v.cast<int>();
    else throw ValueError(str("drift monitor: unknown option '", k, "'"));
  }
  return o;
}

py::dict snapshot_dict(const MonitorSnapshot& s, const MonitorOptions& o) {
  py::dict d;
  d["status"] = s.status;
  d["calls"] = s.calls_total;
  d["rows"] = s.rows_total;
  d["errors"] = s.errors_total;
  d["last_error"] = s.last_error;
  d["window"] = o.window;
  d["window_rows"] = s.window_rows;
  py::dict th;
  th["psi_warning"] = o.psi_warning;
  th["psi_alert"] = o.psi_alert;
  th["ks_warning"] = o.ks_warning;
  th["ks_alert"] = o.ks_alert;
  th["min_samples"] = o.min_samples;
  th["psi_bins"] = o.psi_bins;
  d["thresholds"] = th;
  py::list fl;
  for (const FeatureDrift& f : s.features) {
    py::dict x;
    x["name"] = f.name;
    x["kind"] = f.kind;
    x["status"] = f.status;
    x["from_output"] = f.from_output;
    x["source"] = f.source;
    x["window_count"] = f.window_count;
    x["total"] = f.total;
    x["nan_total"] = f.nan_total;
    x["psi"] = f.psi;
    x["ks"] = f.ks;
    x["ks_error_bound"] = f.ks_error_bound;
    x["reference_mean"] = f.reference_mean;
    x["reference_std"] = f.reference_std;
    x["window_mean"] = f.window_mean;
    x["window_std"] = f.window_std;
    x["window_min"] = f.window_min;
    x["window_max"] = f.window_max;
    x["window_p05"] = f.window_p05;
    x["window_p50"] = f.window_p50;
    x["window_p95"] = f.window_p95;
    x["window_counts"] = f.window_counts;
    x["psi_edges"] = f.psi_edges;
    x["psi_group"] = f.psi_group;
    fl.append(x);
  }
  d["features"] = fl;
  const OutcomeSnapshot& oc = s.outcomes;
  py::dict out;
  out["tracking"] = oc.tracking;
  out["reason"] = oc.reason;
  out["pending"] = oc.pending;
  out["recorded"] = oc.recorded_total;
  out["unknown"] = oc.unknown_total;
  out["expired"] = oc.expired_total;
  out["window_count"] = oc.window_count;
  out["window"] = o.outcome_window;
  out["accuracy"] = oc.accuracy;
  out["ece"] = oc.ece;
  out["mean_confidence"] = oc.mean_confidence;
  py::list rel;
  for (const auto& [n, conf, acc] : oc.reliability) rel.append(py::make_tuple(n, conf, acc));
  out["reliability"] = rel;
  d["outcomes"] = out;
  return d;
}

}  // namespace

void bind_runtime_monitor(py::module_& m) {
  m.def("_drift_feature_layout",
        [](const std::vector<std::string>& names, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
           int64_t max_columns, int64_t max_classes) {
          py::list l;
          for (const FeatureDef& f : feature_layout(names, inputs, outputs, max_columns, max_classes))
            l.append(feature_dict(f));
          return l;
        },
        py::arg("input_names"), py::arg("inputs"), py::arg("outputs"), py::arg("max_columns") = 256,
        py::arg("max_classes") = 1024);
  m.def("_drift_feature_values",
        [](const py::dict& feature, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs) {
          std::vector<double> v;
          const std::string why = feature_values(feature_from(feature), inputs, outputs, v);
          if (!why.empty()) throw ValueError(why);
          return v;
        },
        py::arg("feature"), py::arg("inputs"), py::arg("outputs"));
  m.def("_population_stability_index", &population_stability_index, py::arg("reference"), py::arg("window"),
        py::arg("epsilon") = 1e-4);
  m.def("_binned_ks", &binned_ks, py::arg("reference"), py::arg("window"));
  m.def("_compare_outputs",
        [](const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
          OutputComparison c;
          {
            py::gil_scoped_release release;
            c = compare_outputs(a, b);
          }
          py::dict d;
          d["max_abs_diff"] = c.max_abs_diff;
          d["cosine_sum"] = c.cosine_sum;
          d["rows"] = c.rows;
          d["top1_agree"] = c.top1_agree;
          d["mismatch"] = c.mismatch;
          return d;
        },
        py::arg("a"), py::arg("b"));

  py::class_<ProfileBuilder>(m, "_DriftProfileBuilder")
      .def(py::init([](const py::list& features, int bins) {
             return new ProfileBuilder(features_from(features), bins);
           }),
           py::arg("features"), py::arg("bins"))
      .def("add", &ProfileBuilder::add, py::arg("inputs"), py::arg("outputs"), py::call_guard<py::gil_scoped_release>())
      .def("finish", [](const ProfileBuilder& b) { return profile_dict(b.finish()); });

  py::class_<Monitor, std::shared_ptr<Monitor>>(m, "_DriftMonitor")
      .def(py::init([](const py::dict& profile, const py::dict& options) {
             return std::make_shared<Monitor>(profile_from(profile), options_from(options));
           }),
           py::arg("profile"), py::arg("options"))
      .def("observe", &Monitor::observe, py::arg("inputs"), py::arg("outputs"), py::arg("request_id") = "",
           py::arg("rows") = 1, py::call_guard<py::gil_scoped_release>())
      .def("record_outcome", &Monitor::record_outcome, py::arg("request_id"), py::arg("labels"))
      .def("snapshot", [](const Monitor& mon) { return snapshot_dict(mon.snapshot(), mon.options()); })
      .def("reset", &Monitor::reset)
      .def("profile", [](const Monitor& mon) { return profile_dict(mon.profile()); });
}

}  // namespace nn::bind
