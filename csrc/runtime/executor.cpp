// executor.cpp — replays one graph node: its recorded arguments with the current tensors
// in the tensor slots and the resolved sizes in the SymInt slots, through the op's boxed
// call (ops/intercept.h). Also the SymInt walk shared with the tracer (runtime/graph.h).
#include "runtime/executor.h"

#include <cmath>

#include "core/errors.h"

namespace nn::runtime {

namespace {

bool integral_scalar(double v) { return v == std::nearbyint(v) && std::abs(v) < 9e15; }

// Calls fn(int64_t&) on every SymInt slot of args (sym_int_values order); a Scalar that
// holds an integer goes through a temporary written back as a double.
template <typename Fn>
void for_each_sym_int(OpId op, dispatch::Stack& args, Fn&& fn) {
  using dispatch::ArgType;
  const dispatch::OpSchema& schema = dispatch::op_schema(op);
  for (int i = 0; i < schema.num_args; ++i) {
    dispatch::IValue& v = args[static_cast<size_t>(i)];
    switch (schema.args[i].type) {
      case ArgType::SymInt:
      case ArgType::OptionalSymInt:
        if (auto* x = std::get_if<int64_t>(&v)) fn(*x);
        break;
      case ArgType::SymIntList:
        for (int64_t& x : std::get<std::vector<int64_t>>(v)) fn(x);
        break;
      case ArgType::Scalar: {
        double& d = std::get<double>(v);
        if (integral_scalar(d)) {
          int64_t x = static_cast<int64_t>(d);
          fn(x);
          d = static_cast<double>(x);
        }
        break;
      }
      case ArgType::IndexKey:
        for (TensorIndex& k : std::get<std::vector<TensorIndex>>(v)) {
          int64_t start = k.start.value_or(0), stop = k.stop.value_or(0);
          fn(k.integer);
          fn(start);
          fn(stop);
          fn(k.step);
          if (k.start) k.start = start;
          if (k.stop) k.stop = stop;
        }
        break;
      default:
        break;
    }
  }
}

}  // namespace

std::vector<int64_t> sym_int_values(OpId op, const dispatch::Stack& args) {
  std::vector<int64_t> out;
  dispatch::Stack copy = args;
  for_each_sym_int(op, copy, [&](int64_t& x) { out.push_back(x); });
  return out;
}

void set_sym_int_values(OpId op, dispatch::Stack& args, const int64_t* values) {
  size_t k = 0;
  for_each_sym_int(op, args, [&](int64_t& x) { x = values[k++]; });
}

void exec_node(const Node& n, const int64_t* ints, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  dispatch::Stack args = n.args;
  size_t k = 0;
  for_each_tensor_slot(args, [&](Tensor& t) { t = in[k++]; });
  if (!n.ints.empty()) set_sym_int_values(n.op, args, ints);
  dispatch::call_boxed(n.op, args, out);
}

}  // namespace nn::runtime
