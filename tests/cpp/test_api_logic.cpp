// test_api_logic.cpp — the C++ homes of logic that used to sit in bindings/, tested without
// Python: the Python API's argument forms (ops/overloads.h), the reference entry points
// (testing/reference_ops.h), the optimizers' group forms (ops/optim.h), cpu::parse_isa /
// supported_isas, set_num_threads' check, SessionMetrics' derived rates, and the schema's
// names (op_from_name, dispatch::arg_type_name / return_kind_name).
// Exits non-zero (and prints every failed check) on failure.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/parallel.h"
#include "cpu/cpu_features.h"
#include "ops/intercept.h"
#include "ops/ops.h"
#include "ops/optim.h"
#include "ops/overloads.h"
#include "testing/reference_ops.h"
#include "runtime/metrics.h"

#include "test_check.h"

using namespace nn;

namespace {

using nn_test::check_throws;
using nn_test::g_failures;

bool close(double a, double b, double tol = 1e-6) { return std::fabs(a - b) <= tol * (1 + std::fabs(b)); }

// Values of a float32 tensor, in row-major order of its (possibly strided) view.
std::vector<float> values(const Tensor& t) {
  const Tensor c = contiguous(t);
  return std::vector<float>(c.data<float>(), c.data<float>() + c.numel());
}

void test_overloads() {
  const Tensor x = arange(0, 6, 1, DType::Float32);  // 0 1 2 3 4 5
  const Tensor two = wrapped_scalar(2, true);

  CHECK(values(gelu(x, "none")) == values(gelu(x)));
  CHECK(values(gelu(x, "tanh")) == values(gelu_tanh(x)));
  CHECK_THROWS(ValueError, gelu(x, "erf"), "approximate must be 'none' or 'tanh'");

  CHECK(values(add(x, x, two)) == (std::vector<float>{0, 3, 6, 9, 12, 15}));
  CHECK(values(sub(x, x, two)) == (std::vector<float>{0, -1, -2, -3, -4, -5}));
  CHECK(values(add(x, x, Tensor())) == values(add(x, x)));

  Tensor y = clone(x);
  add_(y, x, two);
  CHECK(values(y) == (std::vector<float>{0, 3, 6, 9, 12, 15}));
  sub_(y, x, Tensor());
  CHECK(values(y) == (std::vector<float>{0, 2, 4, 6, 8, 10}));
  clamp_(y, 1.0, 7.0);
  CHECK(values(y) == (std::vector<float>{1, 2, 4, 6, 7, 7}));

  const Tensor m = reshape(x, {2, 3});
  const Tensor mean64 = mean(m, Dims{1}, false, DType::Float64);
  CHECK(mean64.dtype() == DType::Float64 && mean64.numel() == 2);
  CHECK(close(mean64.data<double>()[0], 1.0) && close(mean64.data<double>()[1], 4.0));
  CHECK(mean(m, Dims{1}, false, std::nullopt).dtype() == DType::Float32);

  CHECK(bitwise_not(gt(x, wrapped_scalar(2, true))).dtype() == DType::Bool);
  CHECK_THROWS(DTypeError, bitwise_not(x), "only supported on bool tensors");

  const Tensor cube = reshape(arange(0, 24, 1, DType::Float32), {2, 3, 4});
  const Tensor t = numpy_T(cube);
  CHECK(t.sizes() == (Shape{4, 3, 2}));
  CHECK(t.data<float>() == cube.data<float>());  // a view
  CHECK(values(numpy_T(x)) == values(x));

  CHECK(to_device(x, Device{}).impl_ptr() == x.impl_ptr());
  CHECK_THROWS(DeviceError, to_device(x, Device::parse("cuda:0")), "is not supported in this build");

  const int64_t big = (int64_t{1} << 53) + 1;  // not representable as a double
  const Tensor w = wrapped_integer(big);
  CHECK(w.dtype() == DType::Int64 && w.dim() == 0 && w.impl()->is_wrapped_number);
  CHECK(w.data<int64_t>()[0] == big);

  // A transposed 2x3 int32 buffer copied into a contiguous float64 tensor.
  const int32_t raw[6] = {0, 1, 2, 3, 4, 5};  // rows of 3
  const Tensor copied = copy_from_external(reinterpret_cast<const char*>(raw), {3, 2},
                                           {int64_t{sizeof(int32_t)}, int64_t{3 * sizeof(int32_t)}},
                                           DType::Int32, DType::Float64, "test");
  CHECK(copied.dtype() == DType::Float64 && copied.is_contiguous());
  const double want[6] = {0, 3, 1, 4, 2, 5};
  for (int i = 0; i < 6; ++i) CHECK(copied.data<double>()[i] == want[i]);
  CHECK_THROWS(ValueError, copy_from_external(reinterpret_cast<const char*>(raw), {2}, {3}, DType::Int32,
                                              DType::Float32, "test"),
               "test");
}

void test_reference_ops() {
  const Tensor a = reshape(arange(0, 12, 1, DType::Float64), {2, 2, 3});
  const Tensor b = reshape(arange(0, 12, 1, DType::Float64), {2, 3, 2});
  const Tensor c = reference::matmul(a, b);
  CHECK(c.sizes() == (Shape{2, 2, 2}));
  // batch 1, row 0: [6 7 8] @ [[6 7] [8 9] [10 11]] = [6*6+7*8+8*10, 6*7+7*9+8*11]
  CHECK(c.data<double>()[4] == 172 && c.data<double>()[5] == 193);
  CHECK_THROWS(ValueError, reference::matmul(a, a), "_matmul_reference");

  // conv2d of a 1x1x3x3 ramp with a 2x2 box of ones, stride 1, no padding: 2x2 sums.
  const Tensor x = reshape(arange(0, 9, 1, DType::Float32), {1, 1, 3, 3});
  const Tensor k = full({1, 1, 2, 2}, 1.0, DType::Float32);
  const Tensor y = reference::conv2d(x, k, Tensor(), {1}, {0}, {1}, 1);
  CHECK(y.sizes() == (Shape{1, 1, 2, 2}));
  CHECK(values(y) == (std::vector<float>{8, 12, 20, 24}));
  CHECK(values(y) == values(conv2d(x, k, Tensor(), {1}, std::vector<int64_t>{0}, {1}, 1)));
  CHECK_THROWS(ValueError, reference::conv2d(x, full({1, 1, 4, 4}, 1.0, DType::Float32), Tensor(), {1}, {0}, {1}, 1),
               "kernel larger than the padded input");
  CHECK_THROWS(ValueError, reference::conv2d(x, k, full({2}, 1.0, DType::Float32), {1}, {0}, {1}, 1), "bias");

  const auto [dx, dw] = reference::conv2d_backward(x, k, full({1, 1, 2, 2}, 1.0, DType::Float32), {1}, {0}, {1}, 1);
  CHECK(values(dx) == (std::vector<float>{1, 2, 1, 2, 4, 2, 1, 2, 1}));  // how many windows cover each pixel
  CHECK(values(dw) == (std::vector<float>{8, 12, 20, 24}));
  CHECK_THROWS(ValueError, reference::conv2d_backward(x, k, full({1, 1, 3, 3}, 1.0, DType::Float32), {1}, {0}, {1}, 1),
               "grad_output must have the output's shape");
}

void test_optim_groups() {
  using List = std::vector<Tensor>;  // spelled out: a braced {t} alone would pick the per-tensor overload
  const SgdOptions o{0.5, 0, 0, 0, false, false};
  const Tensor p1 = full({3}, 1.0, DType::Float32), p2 = full({2}, 2.0, DType::Float32);
  const Tensor g1 = full({3}, 1.0, DType::Float32), g2 = full({2}, 4.0, DType::Float32);
  sgd_step(List{p1, p2}, List{g1, g2}, List{Tensor(), Tensor()}, std::vector<bool>{}, o);
  CHECK(values(p1) == (std::vector<float>{0.5f, 0.5f, 0.5f}));
  CHECK(values(p2) == (std::vector<float>{0, 0}));
  CHECK_THROWS(ValueError, sgd_step(List{p1, p2}, List{g1}, List{Tensor(), Tensor()}, std::vector<bool>{}, o),
               "'grads'");
  CHECK_THROWS(ValueError, sgd_step(List{p1}, List{g1}, List{Tensor()}, std::vector<bool>{true, false}, o),
               "first-step flags");

  // The group form equals the per-tensor form.
  AdamOptions ao;
  ao.lr = 0.1;
  const Tensor q = full({4}, 1.0, DType::Float32), r = full({4}, 1.0, DType::Float32);
  const Tensor gq = arange(0, 4, 1, DType::Float32);
  const Tensor mq = full({4}, 0.0, DType::Float32), vq = full({4}, 0.0, DType::Float32);
  const Tensor mr = full({4}, 0.0, DType::Float32), vr = full({4}, 0.0, DType::Float32);
  adam_step(List{q}, List{gq}, List{mq}, List{vq}, List{Tensor()}, std::vector<int64_t>{1}, ao);
  adam_step(r, gq, mr, vr, Tensor(), 1, ao);
  CHECK(values(q) != (std::vector<float>{1, 1, 1, 1}));
  CHECK(values(q) == values(r) && values(mq) == values(mr) && values(vq) == values(vr));
  CHECK_THROWS(ValueError, adam_step(List{q}, List{gq}, List{mq}, List{vq}, List{Tensor()}, std::vector<int64_t>{}, ao),
               "Adam: expected 1 step counts");
  ao.decoupled_weight_decay = true;
  CHECK_THROWS(ValueError, adam_step(List{q}, List{gq}, List{}, List{vq}, List{Tensor()}, std::vector<int64_t>{1}, ao),
               "AdamW: expected 1 entries in 'exp_avgs'");
  CHECK_THROWS(ValueError, rmsprop_step(List{q}, List{gq}, List{vq}, List{Tensor()}, List{}, RmspropOptions{}),
               "'grad_avgs'");
}

void test_isa_threads_metrics() {
  CHECK(cpu::parse_isa("generic") == cpu::Isa::Generic);
  CHECK(cpu::parse_isa("avx2") == cpu::Isa::Avx2);
  CHECK(cpu::parse_isa("avx512") == cpu::Isa::Avx512);
  CHECK(!cpu::parse_isa("sse2").has_value());
  const std::vector<cpu::Isa> isas = cpu::supported_isas();
  CHECK(!isas.empty() && isas.front() == cpu::Isa::Generic);
  for (cpu::Isa isa : isas) CHECK(cpu::isa_supported(isa));

  const int before = get_num_threads();
  CHECK_THROWS(ValueError, set_num_threads(0), "expected a positive number of threads, got 0");
  CHECK(get_num_threads() == before);

  runtime::SessionMetrics m("model", "1");
  runtime::MetricsSnapshot s = m.snapshot();
  CHECK(s.success_rate == 1.0 && s.calls == 0);
  m.record_success(1000, 4);
  m.record_success(2000, 4);
  m.record_error(500, "shape");
  s = m.snapshot();
  CHECK(close(s.success_rate, 2.0 / 3.0));
  CHECK(s.uptime_s > 0 && close(s.calls_per_s, 3 / s.uptime_s) && close(s.items_per_s, 8 / s.uptime_s));
  CHECK(runtime::SessionMetrics::time_record_ns(100) > 0);
}

void test_schema_names() {
  CHECK(op_from_name("relu") == OpId::relu);
  CHECK(op_from_name("hardswish") == OpId::hardswish);
  CHECK_THROWS(ValueError, op_from_name("relux"), "no op named 'relux'");
  for (int i = 0; i < kNumOps; ++i) CHECK(op_from_name(op_info(static_cast<OpId>(i)).name) == static_cast<OpId>(i));

  const dispatch::OpSchema& lin = dispatch::op_schema(OpId::linear);
  CHECK(std::string(dispatch::arg_type_name(lin.args[dispatch::arg_index(OpId::linear, "bias")].type)) == "Tensor?");
  CHECK(std::string(dispatch::arg_type_name(lin.args[dispatch::arg_index(OpId::linear, "activation")].type)) == "str");
  CHECK(std::string(dispatch::return_kind_name(lin.returns)) == "Tensor");
  CHECK(std::string(dispatch::return_kind_name(dispatch::op_schema(OpId::max).returns)) == "(Tensor, Tensor)");
  // Every argument's type name appears in its row's schema line.
  for (int i = 0; i < kNumOps; ++i) {
    const dispatch::OpSchema& s = dispatch::op_schema(static_cast<OpId>(i));
    for (int a = 0; a < s.num_args; ++a) {
      const std::string spelled = std::string(dispatch::arg_type_name(s.args[a].type)) + " " + s.args[a].name;
      if (std::string(s.signature).find(spelled) == std::string::npos) {
        ++g_failures;
        std::printf("FAIL: '%s' not in '%s'\n", spelled.c_str(), s.signature);
      }
    }
  }
}

}  // namespace

int main() {
  test_overloads();
  test_reference_ops();
  test_optim_groups();
  test_isa_threads_metrics();
  test_schema_names();
  return nn_test::finish("test_api_logic");
}
