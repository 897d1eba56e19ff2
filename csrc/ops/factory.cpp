// factory.cpp — tensor factories (zeros, ones, full, arange) and random numbers
// (rand, randn, randint, uniform_, normal_) from the counter-based generator
// (core/random.h, Note [Counter-based RNG]).
#include <cmath>
#include <mutex>

#include "core/parallel.h"
#include "core/random.h"
#include "cpu/dtype_dispatch.h"
#include "ops/internal.h"

namespace nn {
namespace {
// True when v (< upper) would round up to `upper` in the storage type T.
template <typename T>
bool store_is_upper(double v, double upper) {
  return cpu::load_as_double(cpu::store_from_double<T>(v)) >= upper && v < upper;
}

std::mutex g_rng_mutex;
GeneratorState g_rng{67280421310721ull, 0};

enum class Distribution { Uniform, Normal };

// Fills a CPU tensor (any strides) element by element from the generator.
void fill_random(const Tensor& t, Distribution dist, double a, double b) {
  NN_CHECK(is_floating(t.dtype()), DTypeError, dist == Distribution::Uniform ? "uniform_" : "normal_",
           ": expected a floating-point tensor, got ", t.dtype());
  NN_CHECK(t.device().type == DeviceType::CPU, DeviceError, "random: only cpu tensors are supported");
  const int64_t n = t.numel();
  const GeneratorState s = reserve_random(static_cast<uint64_t>(n));
  Tensor dst = t.is_contiguous() ? t : empty(t.sizes(), t.dtype());
  cpu::dispatch_storage_dtype(dst.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = dst.data<T>();
    parallel_for(0, n, 16384, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const auto r = philox4x32_10(s.offset + static_cast<uint64_t>(i), s.seed);
        double v;
        if (dist == Distribution::Uniform) {
          const uint64_t bits = (static_cast<uint64_t>(r[0]) << 21) ^ (r[1] >> 11);  // 53 random bits
          const double u = static_cast<double>(bits & ((1ull << 53) - 1)) * 0x1.0p-53;
          v = a + (b - a) * u;
          // Rounding to the storage type must not produce the open upper bound.
          if (store_is_upper<T>(v, b)) v = a;
        } else {
          const double u1 = (static_cast<double>(r[0]) + 1.0) * 0x1.0p-32;  // (0, 1]
          const double u2 = static_cast<double>(r[1]) * 0x1.0p-32;
          v = a + b * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
        }
        p[i] = cpu::store_from_double<T>(v);
      }
    });
  });
  if (!dst.same(t)) detail::copy_raw(t, dst);
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
  cpu::dispatch_storage_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data<T>();
    for (int64_t i = 0; i < count; ++i) p[i] = cpu::store_from_double<T>(start + static_cast<double>(i) * step);
  });
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
  const int64_t n = t.numel();
  const GeneratorState s = reserve_random(static_cast<uint64_t>(n));
  const uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  cpu::dispatch_storage_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data<T>();
    parallel_for(0, n, 16384, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const auto r = philox4x32_10(s.offset + static_cast<uint64_t>(i), s.seed);
        const uint64_t bits = (static_cast<uint64_t>(r[0]) << 32) | r[1];
        const int64_t v = static_cast<int64_t>(static_cast<uint64_t>(low) + bits % range);
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) p[i] = static_cast<T>(v);
        else p[i] = cpu::store_from_double<T>(static_cast<double>(v));
      }
    });
  });
  return t;
}

void uniform_(const Tensor& t, double low, double high) {
  NN_CHECK(low <= high, ValueError, "uniform_: expected low <= high, got ", low, " and ", high);
  detail::check_inplace_target(t, "uniform_");
  fill_random(t, Distribution::Uniform, low, high);
  t.bump_version();
}

void normal_(const Tensor& t, double mean, double std) {
  NN_CHECK(std >= 0, ValueError, "normal_: expected std >= 0, got ", std);
  detail::check_inplace_target(t, "normal_");
  fill_random(t, Distribution::Normal, mean, std);
  t.bump_version();
}

}  // namespace nn
