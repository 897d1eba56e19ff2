// factory.cpp — tensor factories (zeros, ones, full, arange) and random numbers
// (rand, randn, randint, uniform_, normal_) from the counter-based generator
// (core/random.h, Note [Counter-based RNG]). The generator's state (seed, next counter)
// lives here; the values are written by the device's kernels (kernels/data.h).
#include <cmath>
#include <mutex>

#include "core/random.h"
#include "ops/internal.h"

namespace nn {
namespace {
std::mutex g_rng_mutex;
GeneratorState g_rng{67280421310721ull, 0};

// Fills t (any strides, on any device) through the device's random kernel, reserving
// one generator counter per element.
void fill_random(const Tensor& t, RandomParams p) {
  const RandomKernel kernel = kernels().random.get("random", t.device());
  const GeneratorState s = reserve_random(static_cast<uint64_t>(t.numel()));
  p.seed = s.seed;
  p.offset = s.offset;
  Tensor dst = t.is_contiguous() ? t : empty(t.sizes(), t.dtype(), t.device());
  kernel(dst, p);
  if (!dst.same(t)) detail::copy_raw(t, dst);
}

void fill_random_floating(const Tensor& t, RandomKind kind, double a, double b) {
  NN_CHECK(is_floating(t.dtype()), DTypeError, kind == RandomKind::Uniform ? "uniform_" : "normal_",
           ": expected a floating-point tensor, got ", t.dtype());
  RandomParams p;
  p.kind = kind;
  p.a = a;
  p.b = b;
  fill_random(t, p);
}
}  // namespace

GeneratorState reserve_random(uint64_t count) {
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  GeneratorState s = g_rng;
  g_rng.offset += count;
  return s;
}
void set_generator_state(GeneratorState s) {
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  g_rng = s;
}
GeneratorState get_generator_state() {
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  return g_rng;
}

void manual_seed(uint64_t seed) { set_generator_state({seed, 0}); }
uint64_t initial_seed() { return get_generator_state().seed; }

Tensor zeros(const Shape& shape, DType dtype) { return full(shape, 0.0, dtype); }
Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }

Tensor native_full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  if (t.numel() > 0) kernels().fill.get(OpId::fill_, t.device())(t, value);
  return t;
}

Tensor native_arange(double start, double end, double step, DType dtype) {
  NN_CHECK(step != 0, ValueError, "arange: step must be nonzero");
  NN_CHECK(std::isfinite(start) && std::isfinite(end), ValueError, "arange: start and end must be finite, got ",
           start, " and ", end);
  NN_CHECK((step > 0 && end >= start) || (step < 0 && end <= start) || start == end, ValueError,
           "arange: upper bound and larger bound inconsistent with step sign (start ", start, ", end ", end,
           ", step ", step, ")");
  const double count_d = std::ceil((end - start) / step);
  NN_CHECK(count_d < 9.0e18, ValueError, "arange: too many elements (", count_d, ")");
  const int64_t count = std::max<int64_t>(static_cast<int64_t>(count_d), 0);
  Tensor t = empty({count}, dtype);
  if (count > 0) kernels().arange.get(OpId::arange, t.device())(t, start, step);
  return t;
}

Tensor rand(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  uniform_(t, 0.0, 1.0);
  return t;
}

Tensor randn(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  normal_(t, 0.0, 1.0);
  return t;
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype) {
  NN_CHECK(low < high, ValueError, "randint: expected low < high, got low=", low, " and high=", high);
  Tensor t = empty(shape, dtype);
  RandomParams p;
  p.kind = RandomKind::Integer;
  p.low = low;
  p.high = high;
  fill_random(t, p);
  return t;
}

void uniform_(const Tensor& t, double low, double high) {
  NN_CHECK(low <= high, ValueError, "uniform_: expected low <= high, got ", low, " and ", high);
  detail::check_inplace_target(t, "uniform_");
  fill_random_floating(t, RandomKind::Uniform, low, high);
  t.bump_version();
}

void normal_(const Tensor& t, double mean, double std) {
  NN_CHECK(std >= 0, ValueError, "normal_: expected std >= 0, got ", std);
  detail::check_inplace_target(t, "normal_");
  fill_random_floating(t, RandomKind::Normal, mean, std);
  t.bump_version();
}

}  // namespace nn
