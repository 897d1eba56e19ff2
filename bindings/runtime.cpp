// runtime.cpp — nn_core._C bindings of the inference runtime (csrc/runtime): the tracer,
// graphs and the session. The Python API is nn_core/runtime/session.py; these names are
// private (underscore). SessionMetrics is bound in bindings/runtime_metrics.cpp.
#include "bindings/bindings.h"
#include "runtime/session.h"
#include "runtime/tracer.h"

namespace nn::bind {

void bind_runtime(py::module_& m) {
  using namespace nn::runtime;
  py::class_<Graph, std::shared_ptr<Graph>>(m, "_RuntimeGraph")
      .def("symbolize", [](Graph& g, const std::vector<int64_t>& primes) { symbolize(g, primes); })
      .def("compare", [](const Graph& a, const Graph& b) { return compare_graphs(a, b); })
      .def("str", [](const Graph& g, const std::vector<std::string>& names) { return g.str(names); },
           py::arg("symbols") = std::vector<std::string>{})
      .def_property_readonly("num_nodes", [](const Graph& g) { return g.nodes.size(); })
      .def_property_readonly("num_constants", [](const Graph& g) { return g.constants.size(); })
      .def("node_labels", &Graph::node_labels)
      .def("node_ops", &Graph::node_ops);  // the schema row of each node

  py::class_<Tracer>(m, "_RuntimeTracer")
      .def(py::init<>())
      .def("begin", &Tracer::begin, py::arg("inputs"), py::arg("constants"))
      .def("finish", [](Tracer& t, const std::vector<Tensor>& outputs) {
        return std::make_shared<Graph>(t.finish(outputs));
      }, py::arg("outputs"))
      .def("abort", &Tracer::abort);

  py::class_<Session, std::shared_ptr<Session>>(m, "_InferenceSession")
      .def(py::init([](const Graph& graph, const py::list& specs, std::vector<std::string> symbols, std::string name,
                       std::string version, bool nan_raise, size_t max_cached_plans, bool memory_planning, bool fuse,
                       int items_symbol, double growth_window_s) {
             std::vector<InputSpec> inputs;
             for (py::handle h : specs) {
               auto t = h.cast<py::tuple>();
               InputSpec s;
               s.name = t[0].cast<std::string>();
               s.dtype = t[1].cast<DType>();
               s.dim_symbol = t[2].cast<std::vector<int>>();
               s.sizes = t[3].cast<Shape>();
               inputs.push_back(std::move(s));
             }
             SessionOptions o;
             o.name = std::move(name);
             o.version = std::move(version);
             o.nan_raise = nan_raise;
             o.max_cached_plans = max_cached_plans;
             o.memory_planning = memory_planning;
             o.fuse = fuse;
             o.items_symbol = items_symbol;
             o.growth_window_s = growth_window_s;
             return std::make_shared<Session>(graph, std::move(inputs), std::move(symbols), std::move(o));
           }),
           py::arg("graph"), py::arg("specs"), py::arg("symbols"), py::arg("name"), py::arg("version"),
           py::arg("nan_raise"), py::arg("max_cached_plans"), py::arg("memory_planning"), py::arg("fuse"),
           py::arg("items_symbol"), py::arg("growth_window_s"))
      .def("run", [](Session& s, const std::vector<Tensor>& inputs) {
        py::gil_scoped_release release;
        return s.run(inputs);
      })
      .def("run_with", [](Session& s, const std::vector<Tensor>& inputs, std::string request_id, bool warmup) {
        RunOptions o{std::move(request_id), warmup};
        py::gil_scoped_release release;
        return s.run(inputs, o);
      }, py::arg("inputs"), py::arg("request_id"), py::arg("warmup") = false)
      .def("set_monitor", &Session::set_monitor, py::arg("monitor").none(true))
      .def_property_readonly("monitor", &Session::monitor)
      .def_property_readonly("metrics", &Session::metrics)
      .def("set_profiling", [](Session& s, bool on) { s.metrics()->set_profiling(on); })
      .def("profiling", [](const Session& s) { return s.metrics()->profiling(); })
      .def("reset_stats", [](Session& s) { s.metrics()->reset(); })
      .def("graph_str", &Session::graph_str)
      .def("node_labels", [](const Session& s) { return s.graph().node_labels(); })
      .def_property_readonly("num_fused", [](const Session& s) { return s.graph().num_fused; })
      .def_property_readonly("num_identity_dropped", [](const Session& s) { return s.graph().num_identity_dropped; })
      .def_property_readonly("num_cached_plans", &Session::num_cached_plans)
      .def_property("max_cached_plans", &Session::max_cached_plans, &Session::set_max_cached_plans)
      .def("clear_plans", &Session::clear_plans)
      .def("memory_info", [](const Session& s) {
        py::dict d;
        d["arena_bytes"] = s.arena_bytes();
        d["arena_peak_bytes"] = s.arena_peak_bytes();
        d["arena_fallbacks"] = s.arena_fallbacks();
        d["arena_runs"] = s.arena_runs();
        d["leaked_arenas"] = s.leaked_arenas();
        d["recordings"] = s.recordings();
        return d;
      });
}

}  // namespace nn::bind
