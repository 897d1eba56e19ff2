// graph.cpp — Graph helpers: symbolic sizes (symbolize / compare_graphs), the fusion
// pass, liveness (last_uses) and the readable listing (Graph::str).
#include "runtime/graph.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <type_traits>

#include "core/errors.h"
#include "ops/ops.h"

namespace nn::runtime {

int64_t SymInt::eval(const int64_t* sym_values) const {
  int64_t v = coef;
  for (int s = 0; s < kMaxSymbols; ++s)
    for (int e = 0; e < exp[s]; ++e) v *= sym_values[s];
  return v;
}

std::string SymInt::str(const std::vector<std::string>& names) const {
  std::ostringstream os;
  bool any = false;
  for (int s = 0; s < kMaxSymbols; ++s)
    for (int e = 0; e < exp[s]; ++e) {
      if (any) os << "*";
      os << (s < static_cast<int>(names.size()) ? names[s] : "s" + std::to_string(s));
      any = true;
    }
  if (!any) return std::to_string(coef);
  if (coef == 1) return os.str();
  if (coef == -1) return "-" + os.str();
  return std::to_string(coef) + "*" + os.str();
}

std::string Node::label() const {
  const dispatch::OpSchema& schema = dispatch::op_schema(op);
  std::string s = schema.label;
  for (int i = 0; i < schema.num_args; ++i)
    if (schema.args[i].type == dispatch::ArgType::OpId) s += std::string(".") + op_info(std::get<OpId>(args[i])).name;
  if (op == OpId::linear) {
    const std::string& act = std::get<std::string>(args[dispatch::arg_index(op, "activation")]);
    if (!act.empty() && act != "none") s += "+" + act;
  }
  if (op == OpId::conv2d && std::get<bool>(args[dispatch::arg_index(op, "relu")])) s += "+relu";
  return s;
}

int Graph::new_value(const Tensor& t) {
  ValueInfo v;
  v.dtype = t.dtype();
  v.sizes = t.sizes();
  values.push_back(std::move(v));
  return static_cast<int>(values.size()) - 1;
}

namespace {

SymInt factor(int64_t v, const std::vector<int64_t>& primes) {
  SymInt s;
  s.coef = v;
  if (v == 0) return s;
  for (size_t k = 0; k < primes.size(); ++k)
    while (s.coef % primes[k] == 0) {
      s.coef /= primes[k];
      ++s.exp[k];
    }
  return s;
}

// Equality of two boxed values of one simple type (tensor-holding values compare equal:
// their tensors are graph values, compared through the nodes' inputs).
bool same_value(const dispatch::IValue& a, const dispatch::IValue& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&](const auto& va) {
        using T = std::decay_t<decltype(va)>;
        if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double> || std::is_same_v<T, bool> ||
                      std::is_same_v<T, std::vector<int64_t>> || std::is_same_v<T, DType> ||
                      std::is_same_v<T, std::string> || std::is_same_v<T, QWeight> || std::is_same_v<T, OpId>) {
          return va == std::get<T>(b);
        } else {
          return true;
        }
      },
      a);
}

// The kind of the first non-size argument that differs between two recordings of one op
// ("float" for a float attribute, "other" else), or nullptr when they agree. Tensor slots
// compare by structure only (their values are the nodes' inputs); SymInt values compare
// through sym_ints.
const char* different_attribute(const Node& x, const Node& y) {
  using dispatch::ArgType;
  const dispatch::OpSchema& schema = dispatch::op_schema(x.op);
  for (int i = 0; i < schema.num_args; ++i) {
    const dispatch::IValue &a = x.args[i], &b = y.args[i];
    if (a.index() != b.index()) return "other";
    switch (schema.args[i].type) {
      case ArgType::Tensor:
      case ArgType::OptionalTensor:
      case ArgType::MutableTensor:
      case ArgType::SymInt:
      case ArgType::OptionalSymInt:
        break;
      case ArgType::TensorList:
        if (std::get<std::vector<Tensor>>(a).size() != std::get<std::vector<Tensor>>(b).size()) return "other";
        break;
      case ArgType::OptionalTensorList: {
        const auto &la = std::get<std::vector<std::optional<Tensor>>>(a), &lb = std::get<std::vector<std::optional<Tensor>>>(b);
        if (la.size() != lb.size()) return "other";
        for (size_t k = 0; k < la.size(); ++k)
          if (la[k].has_value() != lb[k].has_value()) return "other";
        break;
      }
      case ArgType::SymIntList:
        if (std::get<std::vector<int64_t>>(a).size() != std::get<std::vector<int64_t>>(b).size()) return "other";
        break;
      case ArgType::IndexKey: {
        const auto &ka = std::get<std::vector<TensorIndex>>(a), &kb = std::get<std::vector<TensorIndex>>(b);
        if (ka.size() != kb.size()) return "other";
        for (size_t k = 0; k < ka.size(); ++k)
          if (ka[k].kind != kb[k].kind || ka[k].start.has_value() != kb[k].start.has_value() ||
              ka[k].stop.has_value() != kb[k].stop.has_value())
            return "other";
        break;
      }
      case ArgType::Scalar: {  // an integer is a size (compared through sym_ints)
        const double va = std::get<double>(a), vb = std::get<double>(b);
        const bool ia = va == std::nearbyint(va) && std::abs(va) < 9e15, ib = vb == std::nearbyint(vb) && std::abs(vb) < 9e15;
        if (ia != ib) return "other";
        if (!ia && va != vb) return "float";
        break;
      }
      case ArgType::Float:
      case ArgType::OptionalFloat:
        if (!same_value(a, b)) return "float";
        break;
      default:
        if (!same_value(a, b)) return "other";
        break;
    }
  }
  return nullptr;
}

std::string vstr(int id) { return id < 0 ? "_" : "%" + std::to_string(id); }

bool same_bytes(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.sizes() != b.sizes()) return false;
  if (a.impl()->is_wrapped_number != b.impl()->is_wrapped_number) return false;
  Tensor ca = contiguous(a), cb = contiguous(b);
  return std::memcmp(ca.data_bytes(), cb.data_bytes(), static_cast<size_t>(ca.numel()) * itemsize(ca.dtype())) == 0;
}

}  // namespace

void symbolize(Graph& g, const std::vector<int64_t>& primes) {
  NN_CHECK(primes.size() <= static_cast<size_t>(kMaxSymbols), ValueError, "InferenceSession: at most ", kMaxSymbols,
           " dynamic dimension names are supported, got ", primes.size());
  for (Node& n : g.nodes) {
    n.sym_ints.clear();
    for (int64_t v : n.ints) n.sym_ints.push_back(factor(v, primes));
  }
  g.symbolic_constants.clear();
  g.symbolic_constant_values.clear();
  for (size_t i = 0; i < g.constants.size(); ++i) {
    const Tensor& c = g.constants[i];
    if (g.constant_registered[i] || c.dim() != 0 || !c.impl()->is_wrapped_number) continue;
    const double v = c.dtype() == DType::Int64 ? static_cast<double>(*c.data<int64_t>())
                   : c.dtype() == DType::Float64 ? *c.data<double>() : 0.5;
    if (v != static_cast<double>(static_cast<int64_t>(v)) || std::abs(v) > 9e15) continue;
    const SymInt s = factor(static_cast<int64_t>(v), primes);
    bool symbolic = false;
    for (int8_t e : s.exp) symbolic |= e != 0;
    if (!symbolic) continue;
    g.symbolic_constants.push_back(static_cast<int>(i));
    g.symbolic_constant_values.push_back(s);
  }
  for (ValueInfo& v : g.values) {
    v.sym_sizes.clear();
    for (int64_t s : v.sizes) v.sym_sizes.push_back(factor(s, primes));
  }
}

std::string compare_graphs(const Graph& a, const Graph& b) {
  if (a.nodes.size() != b.nodes.size())
    return str("the model ran ", a.nodes.size(), " ops in one trace and ", b.nodes.size(), " in the other");
  if (a.constants.size() != b.constants.size())
    return str("the model captured ", a.constants.size(), " constants in one trace and ", b.constants.size(),
               " in the other");
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const Node &x = a.nodes[i], &y = b.nodes[i];
    const std::string where = str("op #", i, " (", x.label(), ")");
    if (x.op != y.op) return where + " differs between the traces";
    const char* attr = different_attribute(x, y);
    if (attr != nullptr) {
      return std::strcmp(attr, "float") == 0 ? where + " has float attributes that depend on the input shapes"
                                             : where + " differs between the traces";
    }
    if (x.inputs != y.inputs || x.outputs != y.outputs) return where + " has different inputs between the traces";
    if (x.sym_ints != y.sym_ints) {
      return str(where, " has size attributes that are not a product of the dynamic dims (", x.ints, " vs ", y.ints,
                 ")");
    }
  }
  for (size_t i = 0; i < a.constants.size(); ++i) {
    if (a.constant_ids[i] != b.constant_ids[i] || a.constant_registered[i] != b.constant_registered[i])
      return str("constant #", i, " differs between the traces");
    const auto sa = std::find(a.symbolic_constants.begin(), a.symbolic_constants.end(), static_cast<int>(i));
    const auto sb = std::find(b.symbolic_constants.begin(), b.symbolic_constants.end(), static_cast<int>(i));
    if (sa != a.symbolic_constants.end() && sb != b.symbolic_constants.end() &&
        a.symbolic_constant_values[static_cast<size_t>(sa - a.symbolic_constants.begin())] ==
            b.symbolic_constant_values[static_cast<size_t>(sb - b.symbolic_constants.begin())] &&
        a.constants[i].dtype() == b.constants[i].dtype())
      continue;  // the same product of the dynamic dims in both traces
    if (!a.constant_registered[i] && !same_bytes(a.constants[i], b.constants[i]))
      return str("a tensor computed outside the recorded ops (shape ", a.constants[i].sizes(), " vs ",
                 b.constants[i].sizes(), ") depends on the inputs");
  }
  if (a.output_ids != b.output_ids) return "the outputs differ between the traces";
  for (size_t v = 0; v < a.values.size(); ++v)
    if (a.values[v].sym_sizes != b.values[v].sym_sizes || a.values[v].dtype != b.values[v].dtype)
      return str("value %", v, " has shape ", a.values[v].sizes, " in one trace and ", b.values[v].sizes,
                 " in the other, not a product of the dynamic dims");
  return "";
}

void fuse(Graph& g) {
  std::vector<int> uses(g.values.size(), 0);
  for (const Node& n : g.nodes)
    for (int v : n.inputs)
      if (v >= 0) ++uses[v];
  for (int v : g.output_ids) uses[v] += 2;  // never fuse away a graph output
  std::vector<int> producer(g.values.size(), -1);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (int v : g.nodes[i].outputs) producer[v] = static_cast<int>(i);

  std::vector<bool> dead(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& act = g.nodes[i];
    if (act.op != OpId::relu && act.op != OpId::gelu) continue;
    const int src = act.inputs[0];
    if (src < 0 || producer[src] < 0 || uses[src] != 1) continue;
    Node& p = g.nodes[producer[src]];
    if (g.values[src].dtype != g.values[act.outputs[0]].dtype) continue;
    if (p.op == OpId::linear) {
      std::string& activation = std::get<std::string>(p.args[dispatch::arg_index(OpId::linear, "activation")]);
      if (!activation.empty() && activation != "none") continue;
      activation = act.op == OpId::relu ? "relu" : "gelu";
    } else if (p.op == OpId::conv2d && act.op == OpId::relu) {
      bool& relu = std::get<bool>(p.args[dispatch::arg_index(OpId::conv2d, "relu")]);
      if (relu) continue;
      relu = true;
    } else {
      continue;
    }
    // The producer now writes the activation's output value.
    p.outputs[0] = act.outputs[0];
    dead[i] = true;
    ++g.num_fused;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!dead[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
}

std::vector<std::vector<int>> last_uses(const Graph& g) {
  std::vector<int> last(g.values.size(), -1);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (int v : g.nodes[i].inputs)
      if (v >= 0) last[v] = static_cast<int>(i);
    for (int v : g.nodes[i].outputs)
      if (last[v] < static_cast<int>(i)) last[v] = static_cast<int>(i);  // unused outputs die at once
  }
  std::vector<bool> keep(g.values.size(), false);
  for (int v : g.output_ids) keep[v] = true;
  for (int v : g.constant_ids) keep[v] = true;
  std::vector<std::vector<int>> out(g.nodes.size());
  for (size_t v = 0; v < g.values.size(); ++v)
    if (!keep[v] && last[v] >= 0) out[last[v]].push_back(static_cast<int>(v));
  return out;
}

std::vector<std::string> Graph::node_ops() const {
  std::vector<std::string> out;
  for (const Node& n : nodes) out.push_back(op_info(n.op).name);
  return out;
}

std::vector<std::string> Graph::node_labels() const {
  std::vector<std::string> out;
  for (const Node& n : nodes) out.push_back(n.label());
  return out;
}

std::string Graph::str(const std::vector<std::string>& names) const {
  auto shape = [&](int v) {
    std::ostringstream os;
    const ValueInfo& info = values[v];
    os << dtype_name(info.dtype) << "[";
    for (size_t d = 0; d < info.sizes.size(); ++d) {
      if (d) os << ", ";
      os << (d < info.sym_sizes.size() ? info.sym_sizes[d].str(names) : std::to_string(info.sizes[d]));
    }
    os << "]";
    return os.str();
  };
  std::ostringstream os;
  os << "graph(";
  for (size_t i = 0; i < input_ids.size(); ++i) os << (i ? ", " : "") << vstr(input_ids[i]) << ": " << shape(input_ids[i]);
  os << ")  # " << nodes.size() << " nodes, " << constants.size() << " constants, " << num_fused << " fused, "
     << num_identity_dropped << " identity ops dropped\n";
  for (const Node& n : nodes) {
    os << "  ";
    for (size_t k = 0; k < n.outputs.size(); ++k) os << (k ? ", " : "") << vstr(n.outputs[k]);
    if (n.outputs.empty()) os << "(in place)";
    os << " = " << n.label() << "(";
    for (size_t k = 0; k < n.inputs.size(); ++k) os << (k ? ", " : "") << vstr(n.inputs[k]);
    os << ")";
    if (!n.sym_ints.empty()) {
      os << " sizes=[";
      for (size_t k = 0; k < n.sym_ints.size(); ++k) os << (k ? ", " : "") << n.sym_ints[k].str(names);
      os << "]";
    }
    if (!n.outputs.empty()) os << " -> " << shape(n.outputs[0]);
    os << "\n";
  }
  os << "  return ";
  for (size_t i = 0; i < output_ids.size(); ++i) os << (i ? ", " : "") << vstr(output_ids[i]);
  os << "\n";
  return os.str();
}

}  // namespace nn::runtime
