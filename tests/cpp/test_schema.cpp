// test_schema.cpp — the code tools/gen_ops.py generates from csrc/ops/ops.schema: the
// schema table (names, argument types, returns, labels), the dispatching entry points
// (an interceptor sees every call with its boxed arguments in schema order, and its
// outputs are what the caller gets), call_boxed (the boxed call equals the direct one),
// the unary/binary family entry points and arg_index. Exit status nonzero on failure.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ops/intercept.h"
#include "ops/ops.h"

#include "test_check.h"

using namespace nn;
using dispatch::ArgType;
using dispatch::ReturnKind;

namespace {


bool same_values(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes() || a.dtype() != b.dtype()) return false;
  Tensor ca = contiguous(a), cb = contiguous(b);
  return std::memcmp(ca.data_bytes(), cb.data_bytes(), static_cast<size_t>(ca.numel()) * itemsize(ca.dtype())) == 0;
}

// Records every intercepted call, then runs it (as the runtime's tracer does).
struct Recorder : dispatch::Interceptor {
  std::vector<OpId> ops;
  std::vector<dispatch::Stack> args;
  std::vector<Tensor> intercept(OpId op, dispatch::Stack&& stack) override {
    ops.push_back(op);
    args.push_back(stack);
    dispatch::Interceptor* self = dispatch::tl_interceptor;
    dispatch::tl_interceptor = nullptr;  // the op's own inner calls are not recorded
    std::vector<Tensor> out;
    dispatch::call_boxed(op, stack, out);
    dispatch::tl_interceptor = self;
    return out;
  }
};

void test_table() {
  for (int i = 0; i < kNumOps; ++i) {
    const auto& s = dispatch::op_schema(static_cast<OpId>(i));
    CHECK(std::string(s.name) == op_info(static_cast<OpId>(i)).name);
    CHECK(s.differentiable == op_info(static_cast<OpId>(i)).differentiable);
    CHECK(s.num_args >= 1 && s.args != nullptr);
    CHECK(std::strncmp(s.signature, s.cpp_name, std::strlen(s.cpp_name)) == 0);
  }
  const auto& lin = dispatch::op_schema(OpId::linear);
  CHECK(lin.num_args == 4 && lin.returns == ReturnKind::One);
  CHECK(std::string(lin.args[2].name) == "bias" && lin.args[2].type == ArgType::OptionalTensor);
  CHECK(lin.args[3].type == ArgType::Str);
  CHECK(dispatch::op_schema(OpId::max).returns == ReturnKind::Two);
  CHECK(std::string(dispatch::op_schema(OpId::max).label) == "max_dim");
  CHECK(dispatch::op_schema(OpId::quantize_rows).returns == ReturnKind::Three);
  CHECK(dispatch::op_schema(OpId::split).returns == ReturnKind::List);
  CHECK(dispatch::op_schema(OpId::copy_).returns == ReturnKind::None);
  CHECK(dispatch::op_schema(OpId::copy_).args[0].type == ArgType::MutableTensor);
  CHECK(std::string(dispatch::op_schema(OpId::dequantize).cpp_name) == "dequantize_per_tensor");
  CHECK(std::string(dispatch::op_schema(OpId::relu).label) == "unary.relu");
  CHECK(dispatch::arg_index(OpId::linear, "activation") == 3);
  // The derivative formulas, one "input: formula" per line; none on a row without grad.
  CHECK(std::string(dispatch::op_schema(OpId::mul).derivatives) == "a: mul(grad, b)\nb: mul(grad, a)");
  CHECK(std::string(dispatch::op_schema(OpId::tanh).derivatives) == "x: tanh_backward(grad, result)");
  CHECK(std::string(dispatch::op_schema(OpId::eq).derivatives).empty());
  for (int i = 0; i < kNumOps; ++i) {
    const auto& s = dispatch::op_schema(static_cast<OpId>(i));
    if (!s.differentiable) CHECK(s.derivatives[0] == '\0');
  }
  CHECK(dispatch::arg_index(OpId::conv2d, "relu") == 7);
  bool threw = false;
  try {
    dispatch::arg_index(OpId::linear, "no_such_arg");
  } catch (const std::exception&) {
    threw = true;
  }
  CHECK(threw);
}

void test_interception() {
  Tensor a = randn({3, 4}), b = randn({4});
  Tensor w = randn({5, 4}), bias = randn({5});
  const Tensor want_add = add(a, b), want_lin = linear(a, w, bias, "relu");
  const auto [want_v, want_i] = max(a, 1, false);
  Tensor dst = zeros({3, 4});  // (zeros is full: created before recording)
  Recorder rec;
  dispatch::tl_interceptor = &rec;
  Tensor got_add = add(a, b);
  Tensor got_rel = unary_op(OpId::relu, a);  // a family entry point intercepts as its row
  Tensor got_lin = linear(a, w, bias, "relu");
  auto [got_v, got_i] = max(a, 1, false);
  std::vector<Tensor> parts = split(a, std::vector<int64_t>{1, 3}, 1);
  copy_(dst, a);
  dispatch::tl_interceptor = nullptr;

  const std::vector<OpId> want_ops = {OpId::add, OpId::relu, OpId::linear, OpId::max, OpId::split, OpId::copy_};
  CHECK(rec.ops == want_ops);
  if (rec.ops != want_ops)
    for (OpId op : rec.ops) std::fprintf(stderr, "  recorded %s\n", op_info(op).name);
  CHECK(same_values(got_add, want_add) && same_values(got_lin, want_lin));
  CHECK(same_values(got_rel, relu(a)));
  CHECK(same_values(got_v, want_v) && same_values(got_i, want_i));
  CHECK(parts.size() == 2 && parts[1].sizes() == Shape({3, 3}));
  CHECK(same_values(dst, a));
  // linear's boxed arguments: in schema order, typed
  const dispatch::Stack& s = rec.args[2];
  CHECK(s.size() == 4);
  CHECK(std::get<Tensor>(s[0]).data_bytes() == a.data_bytes());
  CHECK(std::get<Tensor>(s[2]).data_bytes() == bias.data_bytes());
  CHECK(std::get<std::string>(s[3]) == "relu");
  CHECK(std::get<int64_t>(rec.args[3][1]) == 1 && std::get<bool>(rec.args[3][2]) == false);
  CHECK((std::get<std::vector<int64_t>>(rec.args[4][1]) == std::vector<int64_t>{1, 3}));
}

void test_call_boxed() {
  Tensor a = randn({2, 7});
  std::vector<Tensor> out;
  dispatch::call_boxed(OpId::sum, dispatch::Stack{dispatch::box(a), dispatch::box(std::vector<int64_t>{1}),
                                                  dispatch::box(true), dispatch::box(std::optional<DType>())},
                       out);
  CHECK(out.size() == 1 && same_values(out[0], sum(a, {1}, true)));
  dispatch::call_boxed(OpId::quantize_rows, dispatch::Stack{dispatch::box(a)}, out);
  CHECK(out.size() == 3 && out[0].dtype() == DType::UInt8);
  Tensor dst = zeros({2, 7});
  dispatch::call_boxed(OpId::fill_, dispatch::Stack{dispatch::box(dst), dispatch::box(2.5)}, out);
  CHECK(out.empty() && same_values(dst, full({2, 7}, 2.5, DType::Float32)));
  bool threw = false;  // an argument of the wrong type is an error, not a crash
  try {
    dispatch::call_boxed(OpId::exp, dispatch::Stack{dispatch::box(int64_t{3})}, out);
  } catch (const std::exception&) {
    threw = true;
  }
  CHECK(threw);
}

}  // namespace

int main() {
  test_table();
  test_interception();
  test_call_boxed();
  return nn_test::finish("test_schema");
}
