// test_runtime_threads.cpp — the inference runtime without Python: traces a small
// transformer-like block (linear + gelu, attention, layer_norm, residual) with a dynamic
// batch and sequence, then runs the Session from 8 threads at once on different shapes
// (plans recorded and evicted from a 2-plan cache under load, then replayed from the arena
// pools with every plan cached) and
// checks every output against direct execution. Meant to be built with
// -fsanitize=thread (or address) as well as plainly; exits non-zero on any mismatch.
// Usage: test_runtime_threads [calls_per_thread]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "autograd/node.h"
#include "core/parallel.h"
#include "ops/attention_ops.h"
#include "ops/ops.h"
#include "runtime/session.h"
#include "runtime/tracer.h"

using namespace nn;

namespace {

struct Weights {
  Tensor w1, b1, w2, b2, g, beta;
};

// x (B, L, 16) -> y (B, L, 16)
Tensor block(const Weights& p, const Tensor& x) {
  const int64_t B = x.size(0), L = x.size(1);
  Tensor h = gelu(linear(x, p.w1, p.b1));                      // (B, L, 48)
  Tensor qkv = permute(reshape(h, {B, L, 3, 2, 8}), {2, 0, 3, 1, 4});  // (3, B, 2, L, 8)
  Tensor a = scaled_dot_product_attention(select(qkv, 0, 0), select(qkv, 0, 1), select(qkv, 0, 2), Tensor(), 0.0,
                                          false, std::nullopt);
  Tensor o = reshape(transpose(a, 1, 2), {B, L, 16});
  return layer_norm(add(x, linear(o, p.w2, p.b2)), {16}, p.g, p.beta, 1e-5);
}

double max_rel_diff(const Tensor& a, const Tensor& b) {
  Tensor ca = contiguous(a), cb = contiguous(b);
  if (ca.sizes() != cb.sizes()) return 1e30;
  double m = 0, s = 1e-30;
  for (int64_t i = 0; i < ca.numel(); ++i) {
    m = std::max(m, std::abs(double(ca.data<float>()[i]) - double(cb.data<float>()[i])));
    s = std::max(s, std::abs(double(cb.data<float>()[i])));
  }
  return m / s;
}

}  // namespace

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::atoi(argv[1]) : 100;
  set_num_threads(1);  // kernel threads are OpenMP's business; this test is about session threads
  autograd::GradModeGuard no_grad(false);
  manual_seed(0);
  Weights p{randn({48, 16}), randn({48}), randn({16, 16}), randn({16}), randn({16}), randn({16})};
  const std::vector<Tensor> params{p.w1, p.b1, p.w2, p.b2, p.g, p.beta};

  auto trace = [&](int64_t B, int64_t L) {
    runtime::Tracer tracer;
    std::vector<Tensor> ins{randn({B, L, 16})};
    tracer.begin(ins, params);
    Tensor y = block(p, ins[0]);
    runtime::Graph g = tracer.finish({y});
    runtime::symbolize(g, {B, L});
    return g;
  };
  runtime::Graph g1 = trace(11, 13), g2 = trace(17, 19);
  const std::string diff = runtime::compare_graphs(g1, g2);
  if (!diff.empty()) {
    std::fprintf(stderr, "traces differ: %s\n", diff.c_str());
    return 1;
  }
  runtime::InputSpec spec;
  spec.name = "x";
  spec.dim_symbol = {0, 1, -1};
  spec.sizes = {11, 13, 16};
  runtime::SessionOptions opt;
  opt.max_cached_plans = 2;
  opt.items_symbol = 0;
  runtime::Session session(g1, {spec}, {"batch", "seq"}, opt);

  std::vector<Tensor> inputs, wants;
  for (int i = 0; i < 12; ++i) {
    inputs.push_back(randn({1 + i % 4, 2 + i % 5, 16}));
    wants.push_back(block(p, inputs.back()));
  }
  std::vector<int> failures(8, 0);
  // Phase 1: 12 shapes through 2 cached plans (recording and eviction under load);
  // phase 2: every plan cached (replays from the arena pools).
  for (size_t cap : {size_t{2}, size_t{16}}) {
    session.set_max_cached_plans(cap);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&, t] {
        autograd::GradModeGuard ng(false);
        for (int k = 0; k < calls; ++k) {
          const size_t i = static_cast<size_t>(t * 5 + k) % inputs.size();
          std::vector<Tensor> out = session.run({inputs[i]});
          if (max_rel_diff(out[0], wants[i]) > 1e-5) ++failures[static_cast<size_t>(t)];
        }
      });
    for (auto& th : threads) th.join();
  }
  int total = 0;
  for (int f : failures) total += f;
  std::printf("runtime threads: %d calls, %d mismatches, %lld recordings, %lld arena runs, %lld fallbacks, "
              "%lld leaked arenas, %zu cached plans\n",
              16 * calls, total, static_cast<long long>(session.recordings()),
              static_cast<long long>(session.arena_runs()), static_cast<long long>(session.arena_fallbacks()),
              static_cast<long long>(session.leaked_arenas()), session.num_cached_plans());
  return total == 0 && session.leaked_arenas() == 0 ? 0 : 1;
}
