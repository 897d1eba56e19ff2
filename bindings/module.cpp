// module.cpp — entry point of nn_core._C: exception mapping, dtypes, and module-level
// state (threads, memory counters, grad mode, the op table).
#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define NN_CORE_HAS_CALLGRIND 1
#endif
#endif
#ifndef NN_CORE_HAS_CALLGRIND
#define NN_CORE_HAS_CALLGRIND 0
#endif
#include "bindings/bindings.h"

#include "autograd/node.h"
#include "core/allocator.h"
#include "core/parallel.h"
#include "core/random.h"
#include "cpu/cpu_features.h"
#include "cpu/gemm/gemm.h"
#include "cpu/gemm/qgemm.h"
#include "ops/intercept.h"
#include "testing/reference_ops.h"

namespace nn::bind {
namespace {

// The `device` argument of the memory functions: None -> the CPU; a device string or an
// nn_core.device (anything with `type` and `index`) -> Device::parse(str(obj)).
Device device_arg(py::handle obj, const char* op) {
  if (obj.is_none()) return Device{};
  const bool device_like = py::hasattr(obj, "type") && py::hasattr(obj, "index");
  NN_CHECK(py::isinstance<py::str>(obj) || device_like, ValueError, op,
           ": expected device=None, 'cpu', 'cuda', 'cuda:N' or an nn_core.device, got ",
           py::repr(obj).cast<std::string>());
  try {
    return Device::parse(py::str(obj).cast<std::string>());
  } catch (const ValueError& e) {
    throw ValueError(str(op, ": ", e.what()));
  }
}

void register_exceptions() {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ValueError& e) {  // ShapeError included
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const DTypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const IndexError& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const OutOfMemoryError& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const Error& e) {  // RuntimeError, DeviceError
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError, "out of memory");
    }
  });
}

}  // namespace
}  // namespace nn::bind

PYBIND11_MODULE(_C, m) {
  using namespace nn;
  using namespace nn::bind;
  m.doc() = "nn_core native core: tensors, autograd and kernels";
  register_exceptions();

  py::enum_<DType>(m, "DType")
      .value("bool", DType::Bool)
      .value("uint8", DType::UInt8)
      .value("int8", DType::Int8)
      .value("int32", DType::Int32)
      .value("int64", DType::Int64)
      .value("float16", DType::Float16)
      .value("bfloat16", DType::BFloat16)
      .value("float32", DType::Float32)
      .value("float64", DType::Float64)
      .def("__repr__", [](DType t) { return std::string("nn_core.") + dtype_name(t); })
      .def("__str__", [](DType t) { return std::string("nn_core.") + dtype_name(t); })
      .def_property_readonly("itemsize", [](DType t) { return itemsize(t); })
      .def_property_readonly("is_floating_point", [](DType t) { return is_floating(t); })
      .def_property_readonly("name", [](DType t) { return dtype_name(t); });

  m.def("set_num_threads", &set_num_threads);
  m.def("get_num_threads", &get_num_threads);
  m.def("memory_stats", [](py::handle device) {
    const MemoryStats s = memory_stats(device_arg(device, "memory_stats"));
    py::dict d;
    d["bytes_in_use"] = s.bytes_in_use;
    d["peak_bytes"] = s.peak_bytes;
    d["num_allocs"] = s.num_allocs;
    d["num_frees"] = s.num_frees;
    d["cached_bytes"] = s.cached_bytes;
    return d;
  }, py::arg("device") = py::none(),
     "The memory counters of a device's allocator: bytes_in_use, peak_bytes, num_allocs, num_frees,\n"
     "cached_bytes. device: None or 'cpu' (the default), 'cuda', 'cuda:N' or an nn_core.device.");
  m.def("reset_peak_memory_stats",
        [](py::handle device) { reset_peak_memory_stats(device_arg(device, "reset_peak_memory_stats")); },
        py::arg("device") = py::none(), "Sets the device's peak_bytes to its bytes_in_use (device as memory_stats).");
  m.def("empty_cache", [] { empty_cache(); }, "Returns the allocators' cached free blocks to the system.");
  m.def("is_grad_enabled", &autograd::GradMode::is_enabled);
  m.def("set_grad_enabled", &autograd::GradMode::set_enabled);
  m.def("manual_seed", [](uint64_t seed) { manual_seed(seed); });
  m.def("initial_seed", &initial_seed);
  m.def("get_rng_state", [] {
    const GeneratorState s = get_generator_state();
    return py::make_tuple(s.seed, s.offset);
  });
  m.def("set_rng_state", [](uint64_t seed, uint64_t offset) { set_generator_state({seed, offset}); });
  m.def("op_table", [] {
    py::list rows;
    for (int i = 0; i < kNumOps; ++i) {
      const OpInfo& info = op_info(static_cast<OpId>(i));
      rows.append(py::make_tuple(info.name, op_family_name(info.family), info.differentiable));
    }
    return rows;
  });

  // The schema (csrc/ops/ops.schema) as data: one dict per row, in OpId order.
  m.def("op_schema", [] {
    py::list rows;
    for (int i = 0; i < kNumOps; ++i) {
      const dispatch::OpSchema& s = dispatch::op_schema(static_cast<OpId>(i));
      py::list args;
      for (int a = 0; a < s.num_args; ++a)
        args.append(py::make_tuple(s.args[a].name, dispatch::arg_type_name(s.args[a].type)));
      py::dict row;
      row["name"] = s.name;
      row["cpp_name"] = s.cpp_name;
      row["label"] = s.label;
      row["family"] = op_family_name(op_info(static_cast<OpId>(i)).family);
      row["differentiable"] = s.differentiable;
      row["returns"] = dispatch::return_kind_name(s.returns);
      row["args"] = args;
      row["signature"] = s.signature;
      py::dict derivatives;  // input name -> formula
      std::string text = s.derivatives;
      for (size_t start = 0; start < text.size();) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        const std::string line = text.substr(start, end - start);
        const size_t colon = line.find(": ");
        derivatives[py::str(line.substr(0, colon))] = line.substr(colon + 2);
        start = end + 1;
      }
      row["derivatives"] = derivatives;
      rows.append(row);
    }
    return rows;
  });

  // Starts / stops callgrind's instruction counting around a measured loop (python -m
  // nn_core.bench run --mode instructions); a no-op outside valgrind or without its header.
  m.def("_callgrind_toggle_collect", [] {
#if NN_CORE_HAS_CALLGRIND
    CALLGRIND_TOGGLE_COLLECT;
    return true;
#else
    return false;
#endif
  });
  m.def("backend_info", [] {
    const auto& f = cpu::features();
    py::dict d, feats;
    d["isa"] = cpu::isa_name(cpu::active_isa());
    d["best_isa"] = cpu::isa_name(cpu::best_supported_isa());
    d["sgemm_kernel"] = gemm::kernel_name();
    d["bf16gemm_kernel"] = gemm::bf16_kernel_name();
    d["qgemm_kernel"] = gemm::qgemm_kernel_name();
    d["qgemm_dynamic_qmax"] = gemm::qgemm_dynamic_qmax();  // dynamic activations: 0..this
    d["direct_linear_max_rows"] = gemm::direct_linear_max_rows();
    d["num_threads"] = get_num_threads();
    feats["avx2"] = f.avx2;
    feats["fma"] = f.fma;
    feats["avx512f"] = f.avx512f;
    feats["avx512bw"] = f.avx512bw;
    feats["avx512vl"] = f.avx512vl;
    feats["avx512dq"] = f.avx512dq;
    feats["avx512_bf16"] = f.avx512_bf16;
    feats["avx512_vnni"] = f.avx512_vnni;
    feats["amx_bf16"] = f.amx_bf16;
    feats["amx_int8"] = f.amx_int8;
    d["cpu_features"] = feats;
    return d;
  });
  m.def("_supported_isas", [] {
    py::list out;
    for (cpu::Isa isa : cpu::supported_isas()) out.append(cpu::isa_name(isa));
    return out;
  });
  m.def("_set_isa", [](std::optional<std::string> name) {
    if (!name) return cpu::set_isa_override(std::nullopt);
    const std::optional<cpu::Isa> isa = cpu::parse_isa(name->c_str());
    NN_CHECK(isa.has_value(), ValueError, "_set_isa: unknown ISA '", *name, "' (expected generic, avx2 or avx512)");
    cpu::set_isa_override(*isa);
  }, py::arg("name"));
  m.def("_set_amx_enabled", &cpu::set_amx_enabled);
  m.def("_set_gemm_direct_linear_rows", [](std::optional<int64_t> rows) {  // None: measured default
    gemm::set_direct_linear_max_rows_override(rows ? *rows : -1);
  }, py::arg("rows"));
  m.def("_matmul_reference", &reference::matmul, py::call_guard<py::gil_scoped_release>());

  bind_tensor(m);
  bind_functions(m);
  bind_misc(m);
  bind_interop(m);
  bind_conv(m);
  bind_attention(m);
  bind_optim(m);
  bind_checkpoint(m);
  bind_runtime_metrics(m);
  bind_runtime(m);
  bind_runtime_monitor(m);
  bind_quantized(m);
  bind_autograd_hooks(m);
  bind_generated_ops(m);  // after the types its defaults and arguments use
}
