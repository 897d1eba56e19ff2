// test_autograd_hooks.cpp — post-accumulate-grad hooks in the C++ engine, without Python (see
// Note [Post-accumulate-grad hooks] in csrc/autograd/autograd_meta.h): a hook runs once per
// backward after .grad holds the sum of the leaf's incoming gradients, hooks run in registration
// order, removal by id, a throwing hook stops backward with its exception, and registration is
// refused on non-leaves and tensors that do not require grad.
// Exits non-zero (and prints every failed check) on failure.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/autograd_meta.h"
#include "core/tensor.h"
#include "ops/ops.h"

#include "test_check.h"

using namespace nn;

namespace {

using nn_test::check_throws;
using nn_test::g_failures;

void test_runs_once_after_accumulation() {
  Tensor w = full({3}, 2.0);
  autograd::set_requires_grad(w, true);
  std::vector<float> seen;
  int calls = 0;
  autograd::add_post_accumulate_grad_hook(w, [&](const Tensor& leaf) {
    ++calls;
    CHECK(leaf.impl() == w.impl());
    const Tensor g = autograd::grad(leaf);
    seen.assign(g.data<float>(), g.data<float>() + g.numel());
  });
  // w is used twice: d/dw sum(w*w + w) = 2w + 1 = 5, delivered in one accumulated call
  backward(sum(add(mul(w, w), w), {}, false, std::nullopt), Tensor(), false);
  CHECK(calls == 1);
  CHECK(seen.size() == 3 && seen[0] == 5.0f && seen[2] == 5.0f);
  backward(sum(w, {}, false, std::nullopt), Tensor(), false);  // accumulates onto .grad
  CHECK(calls == 2 && seen[1] == 6.0f);
}

void test_order_and_removal() {
  Tensor w = ones({2});
  autograd::set_requires_grad(w, true);
  std::string order;
  const uint64_t first = autograd::add_post_accumulate_grad_hook(w, [&](const Tensor&) { order += "a"; });
  autograd::add_post_accumulate_grad_hook(w, [&](const Tensor&) { order += "b"; });
  backward(sum(w, {}, false, std::nullopt), Tensor(), false);
  CHECK(order == "ab");
  CHECK(autograd::remove_post_accumulate_grad_hook(w, first));
  CHECK(!autograd::remove_post_accumulate_grad_hook(w, first));  // already gone
  backward(sum(w, {}, false, std::nullopt), Tensor(), false);
  CHECK(order == "abb");
}

void test_throwing_hook_and_refusals() {
  Tensor w = ones({2});
  autograd::set_requires_grad(w, true);
  const uint64_t id = autograd::add_post_accumulate_grad_hook(w, [](const Tensor&) {
    throw std::runtime_error("hook failed on purpose");
  });
  check_throws<std::runtime_error>([&] { backward(sum(w, {}, false, std::nullopt), Tensor(), false); },
                                   "hook failed on purpose", __LINE__);
  autograd::remove_post_accumulate_grad_hook(w, id);
  backward(sum(w, {}, false, std::nullopt), Tensor(), false);  // the engine is usable afterwards
  CHECK(autograd::grad(w).defined());
  check_throws<RuntimeError>([&] { autograd::add_post_accumulate_grad_hook(mul(w, w), [](const Tensor&) {}); },
                             "non-leaf", __LINE__);
  check_throws<RuntimeError>([&] { autograd::add_post_accumulate_grad_hook(ones({2}), [](const Tensor&) {}); },
                             "doesn't require gradient", __LINE__);
}

}  // namespace

int main() {
  test_runs_once_after_accumulation();
  test_order_and_removal();
  test_throwing_hook_and_refusals();
  return nn_test::finish("test_autograd_hooks");
}
