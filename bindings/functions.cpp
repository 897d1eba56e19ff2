// functions.cpp — the op functions of nn_core._C, each also a Tensor method. Argument
// conventions follow PyTorch: `dim` is an int, a sequence of ints or None (all dims);
// shapes may be given as varargs or one sequence.
#include "bindings/bindings.h"

namespace nn::bind {
namespace {

Dims dims_from(py::handle obj) {
  if (obj.is_none()) return {};
  if (py::isinstance<py::int_>(obj) || py::hasattr(obj, "__index__")) return {obj.cast<int64_t>()};
  Dims d;
  for (py::handle h : obj) d.push_back(h.cast<int64_t>());
  NN_CHECK(!d.empty(), ValueError, "dim: an empty list of dims is ambiguous; pass None to reduce over all dims");
  return d;
}

Shape shape_from_args(const py::args& args) {
  if (args.size() == 1 && !py::isinstance<py::int_>(args[0]) && py::isinstance<py::sequence>(args[0])) {
    Shape s;
    for (py::handle h : args[0]) s.push_back(h.cast<int64_t>());
    return s;
  }
  Shape s;
  for (py::handle h : args) s.push_back(h.cast<int64_t>());
  return s;
}

Tensor operand(py::handle obj) {
  Tensor t;
  if (!to_operand(obj, t)) t = tensor_from_object(obj, std::nullopt);
  return t;
}

// Defines `name` as a module function (first argument `input`) and as a method.
template <typename Fn, typename... Extra>
void def_both(py::module_& m, py::class_<Tensor>& cls, const char* name, Fn fn, const Extra&... extra) {
  m.def(name, fn, py::arg("input"), extra...);
  cls.def(name, fn, extra...);
}

// (values, indices) as a named tuple, the return type of max(dim), sort and topk.
py::object values_indices(const Tensor& values, const Tensor& indices) {
  static py::object tuple_type = py::module_::import("collections").attr("namedtuple")(
      "values_indices", py::make_tuple("values", "indices"));
  return tuple_type(py::cast(values), py::cast(indices));
}

py::object max_min(bool is_max, const Tensor& x, py::handle dim, bool keepdim) {
  if (dim.is_none()) return py::cast(is_max ? amax(x, {}, false) : amin(x, {}, false));
  if (py::isinstance<Tensor>(dim)) {  // torch.max(a, b): elementwise
    const Tensor& other = dim.cast<const Tensor&>();
    return py::cast(is_max ? maximum(x, other) : minimum(x, other));
  }
  auto [values, indices] = is_max ? max(x, dim.cast<int64_t>(), keepdim) : min(x, dim.cast<int64_t>(), keepdim);
  return values_indices(values, indices);
}

double correction_from(py::handle unbiased, py::handle correction) {
  if (!correction.is_none()) return correction.cast<double>();
  if (!unbiased.is_none()) return unbiased.cast<bool>() ? 1.0 : 0.0;
  return 1.0;
}

}  // namespace

void bind_functions(py::module_& m) {
  py::class_<Tensor> cls = py::reinterpret_borrow<py::class_<Tensor>>(m.attr("Tensor"));

#define NN_BIND_UNARY(name)                                            \
  def_both(m, cls, #name, [](const Tensor& x) {                        \
    MaybeReleaseGil gil(x.numel());                                    \
    return nn::name(x);                                                \
  });
  NN_BIND_UNARY(neg) NN_BIND_UNARY(exp) NN_BIND_UNARY(log) NN_BIND_UNARY(log1p) NN_BIND_UNARY(sqrt)
  NN_BIND_UNARY(rsqrt) NN_BIND_UNARY(abs) NN_BIND_UNARY(relu) NN_BIND_UNARY(sigmoid) NN_BIND_UNARY(tanh)
  NN_BIND_UNARY(silu) NN_BIND_UNARY(logical_not) NN_BIND_UNARY(sin) NN_BIND_UNARY(cos) NN_BIND_UNARY(erf)
  NN_BIND_UNARY(reciprocal) NN_BIND_UNARY(square) NN_BIND_UNARY(sign) NN_BIND_UNARY(floor) NN_BIND_UNARY(ceil)
  NN_BIND_UNARY(round) NN_BIND_UNARY(trunc) NN_BIND_UNARY(isnan) NN_BIND_UNARY(isfinite)
#undef NN_BIND_UNARY
  m.def("gelu", [](const Tensor& x, const std::string& approximate) {
    MaybeReleaseGil gil(x.numel());
    return gelu(x, approximate);
  }, py::arg("input"), py::arg("approximate") = "none");
  m.def("leaky_relu", &leaky_relu, py::arg("input"), py::arg("negative_slope") = 0.01);
  m.def("softplus", &softplus, py::arg("input"), py::arg("beta") = 1.0, py::arg("threshold") = 20.0);

#define NN_BIND_BINARY(name)                                                   \
  def_both(m, cls, #name, [](const Tensor& x, py::handle other) {              \
    Tensor o = operand(other);                                                 \
    MaybeReleaseGil gil(x.numel());                                            \
    return nn::name(x, o);                                                     \
  }, py::arg("other"));
  NN_BIND_BINARY(mul) NN_BIND_BINARY(div) NN_BIND_BINARY(pow) NN_BIND_BINARY(maximum) NN_BIND_BINARY(minimum)
  NN_BIND_BINARY(eq) NN_BIND_BINARY(ne) NN_BIND_BINARY(lt) NN_BIND_BINARY(le) NN_BIND_BINARY(gt) NN_BIND_BINARY(ge)
  NN_BIND_BINARY(logical_and) NN_BIND_BINARY(logical_or) NN_BIND_BINARY(logical_xor)
#undef NN_BIND_BINARY
  def_both(m, cls, "add", [](const Tensor& x, py::handle other, py::handle alpha) {
    Tensor o = operand(other), a = alpha.is_none() ? Tensor() : operand(alpha);
    MaybeReleaseGil gil(x.numel());
    return add(x, o, a);
  }, py::arg("other"), py::arg("alpha") = py::none());
  def_both(m, cls, "sub", [](const Tensor& x, py::handle other, py::handle alpha) {
    Tensor o = operand(other), a = alpha.is_none() ? Tensor() : operand(alpha);
    MaybeReleaseGil gil(x.numel());
    return sub(x, o, a);
  }, py::arg("other"), py::arg("alpha") = py::none());
  m.def("where", [](py::handle cond, py::handle a, py::handle b) { return where(operand(cond), operand(a), operand(b)); },
        py::arg("condition"), py::arg("input"), py::arg("other"));
  cls.def("where", [](const Tensor& x, py::handle cond, py::handle other) {
    return where(operand(cond), x, operand(other));
  }, py::arg("condition"), py::arg("other"));
  auto clamp_fn = [](const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
    MaybeReleaseGil gil(x.numel());
    return clamp(x, lo, hi);
  };
  def_both(m, cls, "clamp", clamp_fn, py::arg("min") = py::none(), py::arg("max") = py::none());
  def_both(m, cls, "clip", clamp_fn, py::arg("min") = py::none(), py::arg("max") = py::none());

  // reductions
  def_both(m, cls, "sum", [](const Tensor& x, py::handle dim, bool keepdim, std::optional<DType> dtype) {
    const Dims dims = dims_from(dim);  // Python objects are read before the GIL is released
    MaybeReleaseGil gil(x.numel());
    return sum(x, dims, keepdim, dtype);
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::arg("dtype") = py::none());
  def_both(m, cls, "mean", [](const Tensor& x, py::handle dim, bool keepdim, std::optional<DType> dtype) {
    const Dims dims = dims_from(dim);
    MaybeReleaseGil gil(x.numel());
    return mean(x, dims, keepdim, dtype);
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::arg("dtype") = py::none());
  def_both(m, cls, "prod", [](const Tensor& x, py::handle dim, bool keepdim) {
    return prod(x, dims_from(dim), keepdim);
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false);
  def_both(m, cls, "amax", [](const Tensor& x, py::handle dim, bool keepdim) {
    return amax(x, dims_from(dim), keepdim);
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false);
  def_both(m, cls, "amin", [](const Tensor& x, py::handle dim, bool keepdim) {
    return amin(x, dims_from(dim), keepdim);
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false);
  def_both(m, cls, "max", [](const Tensor& x, py::handle dim, bool keepdim) { return max_min(true, x, dim, keepdim); },
           py::arg("dim") = py::none(), py::arg("keepdim") = false);
  def_both(m, cls, "min", [](const Tensor& x, py::handle dim, bool keepdim) { return max_min(false, x, dim, keepdim); },
           py::arg("dim") = py::none(), py::arg("keepdim") = false);
  def_both(m, cls, "argmax", [](const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
    return argmax(x, dim, keepdim);
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false);
  def_both(m, cls, "argmin", [](const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
    return argmin(x, dim, keepdim);
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false);
  def_both(m, cls, "var", [](const Tensor& x, py::handle dim, py::handle unbiased, bool keepdim, py::handle correction) {
    return var(x, dims_from(dim), correction_from(unbiased, correction), keepdim);
  }, py::arg("dim") = py::none(), py::arg("unbiased") = py::none(), py::arg("keepdim") = false,
     py::arg("correction") = py::none());
  def_both(m, cls, "std", [](const Tensor& x, py::handle dim, py::handle unbiased, bool keepdim, py::handle correction) {
    return nn::std(x, dims_from(dim), correction_from(unbiased, correction), keepdim);
  }, py::arg("dim") = py::none(), py::arg("unbiased") = py::none(), py::arg("keepdim") = false,
     py::arg("correction") = py::none());
  def_both(m, cls, "logsumexp", [](const Tensor& x, py::handle dim, bool keepdim) {
    return logsumexp(x, dims_from(dim), keepdim);
  }, py::arg("dim"), py::arg("keepdim") = false);
  def_both(m, cls, "softmax", [](const Tensor& x, int64_t dim) {
    MaybeReleaseGil gil(x.numel());
    return softmax(x, dim);
  }, py::arg("dim"));
  def_both(m, cls, "log_softmax", [](const Tensor& x, int64_t dim) {
    MaybeReleaseGil gil(x.numel());
    return log_softmax(x, dim);
  }, py::arg("dim"));
  def_both(m, cls, "matmul", [](const Tensor& a, py::handle b) {
    Tensor bt = operand(b);
    MaybeReleaseGil gil(a.numel() * 8);
    return matmul(a, bt);
  }, py::arg("other"));

  def_both(m, cls, "bmm", [](const Tensor& a, const Tensor& b) {
    MaybeReleaseGil gil(a.numel() * 8);
    return bmm(a, b);
  }, py::arg("mat2"));
  m.def("linear", [](const Tensor& x, const Tensor& w, std::optional<Tensor> b, const std::string& act) {
    MaybeReleaseGil gil(x.numel() * 8);
    return linear(x, w, b ? *b : Tensor(), act);
  }, py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("activation") = "none");
  def_both(m, cls, "addmm", [](const Tensor& input, const Tensor& m1, const Tensor& m2, double beta, double alpha) {
    MaybeReleaseGil gil(m1.numel() * 8);
    return addmm(input, m1, m2, beta, alpha);
  }, py::arg("mat1"), py::arg("mat2"), py::kw_only(), py::arg("beta") = 1.0, py::arg("alpha") = 1.0);

  // indexing along a dim, scans, sorting
  def_both(m, cls, "gather", [](const Tensor& x, int64_t dim, const Tensor& index, bool /*sparse_grad*/) {
    return gather(x, dim, index);
  }, py::arg("dim"), py::arg("index"), py::kw_only(), py::arg("sparse_grad") = false);
  // scatter(input, dim, index, src) or scatter(input, dim, index, value) with a number.
  def_both(m, cls, "scatter", [](const Tensor& x, int64_t dim, const Tensor& index, py::handle src,
                                 py::handle value) {
    NN_CHECK(src.is_none() != value.is_none(), DTypeError, "scatter: expected exactly one of src and value");
    py::handle given = src.is_none() ? value : src;
    if (py::isinstance<Tensor>(given)) return scatter(x, dim, index, given.cast<const Tensor&>());
    const Tensor filled = full(index.sizes(), given.cast<double>(), x.dtype());
    return scatter(x, dim, index, filled);
  }, py::arg("dim"), py::arg("index"), py::arg("src") = py::none(), py::kw_only(), py::arg("value") = py::none());
  def_both(m, cls, "scatter_add", [](const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
    return scatter_add(x, dim, index, src);
  }, py::arg("dim"), py::arg("index"), py::arg("src"));
  def_both(m, cls, "index_select", [](const Tensor& x, int64_t dim, const Tensor& index) {
    return index_select(x, dim, index);
  }, py::arg("dim"), py::arg("index"));
  def_both(m, cls, "cumsum", [](const Tensor& x, int64_t dim, std::optional<DType> dtype) {
    return cumsum(x, dim, dtype);
  }, py::arg("dim"), py::kw_only(), py::arg("dtype") = py::none());
  def_both(m, cls, "cumprod", [](const Tensor& x, int64_t dim, std::optional<DType> dtype) {
    return cumprod(x, dim, dtype);
  }, py::arg("dim"), py::kw_only(), py::arg("dtype") = py::none());
  def_both(m, cls, "sort", [](const Tensor& x, int64_t dim, bool descending, bool stable) {
    auto [values, indices] = sort(x, dim, descending, stable);
    return values_indices(values, indices);
  }, py::arg("dim") = -1, py::arg("descending") = false, py::kw_only(), py::arg("stable") = false);
  def_both(m, cls, "argsort", [](const Tensor& x, int64_t dim, bool descending, bool stable) {
    return argsort(x, dim, descending, stable);
  }, py::arg("dim") = -1, py::arg("descending") = false, py::kw_only(), py::arg("stable") = false);
  def_both(m, cls, "topk", [](const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted) {
    auto [values, indices] = topk(x, k, dim, largest, sorted);
    return values_indices(values, indices);
  }, py::arg("k"), py::arg("dim") = -1, py::arg("largest") = true, py::arg("sorted") = true);

  // shapes and views
  cls.def("view", [](const Tensor& x, const py::args& shape) { return view(x, shape_from_args(shape)); });
  cls.def("reshape", [](const Tensor& x, const py::args& shape) { return reshape(x, shape_from_args(shape)); });
  m.def("reshape", [](const Tensor& x, const Shape& shape) { return reshape(x, shape); }, py::arg("input"),
        py::arg("shape"));
  cls.def("permute", [](const Tensor& x, const py::args& dims) { return permute(x, shape_from_args(dims)); });
  m.def("permute", [](const Tensor& x, const Dims& dims) { return permute(x, dims); }, py::arg("input"),
        py::arg("dims"));
  def_both(m, cls, "transpose", [](const Tensor& x, int64_t d0, int64_t d1) { return transpose(x, d0, d1); },
           py::arg("dim0"), py::arg("dim1"));
  cls.def("expand", [](const Tensor& x, const py::args& sizes) { return expand(x, shape_from_args(sizes)); });
  cls.def("expand_as", [](const Tensor& x, const Tensor& other) { return expand(x, other.sizes()); });
  def_both(m, cls, "broadcast_to", [](const Tensor& x, const Shape& shape) { return expand(x, shape); },
           py::arg("size"));
  def_both(m, cls, "squeeze", [](const Tensor& x, py::handle dim) {
    return squeeze(x, dim.is_none() ? std::optional<Dims>() : std::optional<Dims>(dims_from(dim)));
  }, py::arg("dim") = py::none());
  def_both(m, cls, "unsqueeze", [](const Tensor& x, int64_t dim) { return unsqueeze(x, dim); }, py::arg("dim"));
  def_both(m, cls, "flatten", [](const Tensor& x, int64_t s, int64_t e) { return flatten(x, s, e); },
           py::arg("start_dim") = 0, py::arg("end_dim") = -1);
  def_both(m, cls, "split", [](const Tensor& x, py::handle size, int64_t dim) {
    if (py::isinstance<py::int_>(size)) return split(x, size.cast<int64_t>(), dim);
    return split(x, size.cast<std::vector<int64_t>>(), dim);
  }, py::arg("split_size_or_sections"), py::arg("dim") = 0);
  def_both(m, cls, "chunk", [](const Tensor& x, int64_t chunks, int64_t dim) { return chunk(x, chunks, dim); },
           py::arg("chunks"), py::arg("dim") = 0);
  m.def("cat", [](const std::vector<Tensor>& ts, int64_t dim) { return cat(ts, dim); }, py::arg("tensors"),
        py::arg("dim") = 0);
  m.def("stack", [](const std::vector<Tensor>& ts, int64_t dim) { return stack(ts, dim); }, py::arg("tensors"),
        py::arg("dim") = 0);
  cls.def_property_readonly("T", &numpy_T);
  cls.def_property_readonly("mT", [](const Tensor& x) { return transpose(x, -2, -1); });

  // dtype conversions
  cls.def("to", [](const Tensor& x, py::handle target) -> Tensor {
    if (py::isinstance<py::str>(target)) return to_device(x, Device::parse(target.cast<std::string>()));
    const DType dtype = target.cast<DType>();
    MaybeReleaseGil gil(x.numel());
    return cast(x, dtype);
  }, py::arg("dtype"));
  cls.def("type_as", [](const Tensor& x, const Tensor& o) { return cast(x, o.dtype()); });
  auto def_cast = [&](const char* name, DType t) {
    cls.def(name, [t](const Tensor& x) { return cast(x, t); });
  };
  def_cast("float", DType::Float32);
  def_cast("double", DType::Float64);
  def_cast("half", DType::Float16);
  def_cast("bfloat16", DType::BFloat16);
  def_cast("int", DType::Int32);
  def_cast("long", DType::Int64);
  def_cast("bool", DType::Bool);
  def_cast("byte", DType::UInt8);
  def_cast("char", DType::Int8);

  // factories (the Python layer adds the friendly signatures)
  m.def("_full", [](const Shape& shape, double value, DType dtype) { return full(shape, value, dtype); });
  m.def("_empty", [](const Shape& shape, DType dtype) { return empty(shape, dtype); });
  m.def("_arange", [](double start, double end, double step, DType dtype) { return arange(start, end, step, dtype); });
  m.def("_rand", [](const Shape& shape, DType dtype) { return rand(shape, dtype); });
  m.def("_randn", [](const Shape& shape, DType dtype) { return randn(shape, dtype); });
  m.def("_randint", [](int64_t low, int64_t high, const Shape& shape, DType dtype) {
    return randint(low, high, shape, dtype);
  });
  m.def("_backward", [](const Tensor& t, const Tensor& g, bool retain_graph) {
    py::gil_scoped_release release;
    backward(t, g, retain_graph);
  });
}

}  // namespace nn::bind
