// runtime_metrics.cpp — binds nn::runtime::SessionMetrics (csrc/runtime/metrics.h) as
// nn_core._C.SessionMetrics. Held by std::shared_ptr so that an InferenceSession can hand
// out its metrics object. snapshot() returns a plain dict: latencies in seconds (floats),
// byte counts as ints, buckets as a list of (upper_edge_seconds, count).
#include "bindings/bindings.h"
#include "runtime/metrics.h"

namespace nn::bind {
namespace {

py::dict snapshot_dict(const runtime::MetricsSnapshot& s) {
  py::dict d;
  d["model_name"] = s.model_name;
  d["model_version"] = s.model_version;
  d["calls"] = s.calls;
  d["successes"] = s.successes;
  d["errors"] = s.errors;
  py::dict kinds;
  for (const auto& [kind, n] : s.errors_by_kind) kinds[py::str(kind)] = n;
  d["errors_by_kind"] = kinds;
  d["success_rate"] = s.success_rate;
  d["items"] = s.items;
  d["uptime_s"] = s.uptime_s;
  d["calls_per_s"] = s.calls_per_s;
  d["items_per_s"] = s.items_per_s;
  py::dict latency;
  latency["count"] = s.calls;
  latency["sum"] = s.sum_ns * 1e-9;
  latency["mean"] = s.mean_ns * 1e-9;
  latency["min"] = s.min_ns * 1e-9;
  latency["max"] = s.max_ns * 1e-9;
  latency["p50"] = s.p50_ns * 1e-9;
  latency["p90"] = s.p90_ns * 1e-9;
  latency["p95"] = s.p95_ns * 1e-9;
  latency["p99"] = s.p99_ns * 1e-9;
  latency["p999"] = s.p999_ns * 1e-9;
  py::list buckets;
  for (const auto& b : s.buckets) buckets.append(py::make_tuple(b.upper_ns * 1e-9, b.count));
  latency["buckets"] = buckets;
  d["latency_s"] = latency;
  py::dict memory;
  memory["arena_bytes"] = s.arena_bytes;
  memory["arena_peak_bytes"] = s.arena_peak_bytes;
  memory["allocator_bytes_in_use"] = s.allocator_bytes_in_use;
  memory["allocator_peak_bytes"] = s.allocator_peak_bytes;
  memory["rss_bytes"] = s.rss_bytes;
  memory["rss_growth_bytes"] = s.rss_growth_bytes;
  memory["allocator_growth_bytes"] = s.allocator_growth_bytes;
  memory["growth_window_s"] = s.growth_window_s;
  d["memory"] = memory;
  py::dict profile;
  for (const auto& [op, v] : s.op_profile) profile[py::str(op)] = py::make_tuple(v.first, v.second * 1e-9);
  d["op_profile"] = profile;
  return d;
}

}  // namespace

void bind_runtime_metrics(py::module_& m) {
  using runtime::SessionMetrics;
  py::class_<SessionMetrics, std::shared_ptr<SessionMetrics>>(m, "SessionMetrics")
      .def(py::init<std::string, std::string, double>(), py::arg("model_name") = "model",
           py::arg("model_version") = "", py::arg("growth_window_s") = 60.0)
      .def("record_success", &SessionMetrics::record_success, py::arg("latency_ns"), py::arg("items") = 1)
      .def("record_error", &SessionMetrics::record_error, py::arg("latency_ns"), py::arg("kind"))
      .def("set_arena_bytes", &SessionMetrics::set_arena_bytes, py::arg("current"), py::arg("peak"))
      .def_property("profiling", &SessionMetrics::profiling, &SessionMetrics::set_profiling)
      .def("record_op", &SessionMetrics::record_op, py::arg("op_name"), py::arg("ns"))
      .def("snapshot", [](const SessionMetrics& m) { return snapshot_dict(m.snapshot()); })
      .def("reset", &SessionMetrics::reset)
      .def_static("bucket_index", &SessionMetrics::bucket_index, py::arg("ns"))
      .def_static("bucket_lower_ns", &SessionMetrics::bucket_lower_ns, py::arg("index"))
      .def_static("bucket_upper_ns", &SessionMetrics::bucket_upper_ns, py::arg("index"))
      .def_static("process_rss_bytes", &SessionMetrics::process_rss_bytes)
      .def_static("_time_record_ns", &SessionMetrics::time_record_ns, py::arg("n"),
                  py::call_guard<py::gil_scoped_release>());
}

}  // namespace nn::bind
