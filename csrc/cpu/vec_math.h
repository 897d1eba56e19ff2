// vec_math.h — float32 exp / tanh / sigmoid / exact and tanh GELU (and the GELU and SiLU
// derivatives) written branch-free (selects, no calls), so
// the loops that use them vectorise; included by the per-ISA units
// cpu/unary_math_{generic,avx2,avx512}.cpp, which compile the same loops with their
// own flags (Note [Half types] does not apply: these are float32-only).
//
// Accuracy (checked against float64 in tests/test_ops_forward.py): exp within ~2 ulp
// over its whole range (overflow to inf above 88.72, gradual underflow to 0 below
// -103.97, NaN in -> NaN out); tanh and sigmoid within a few ulp.
#pragma once
#include <cstdint>

namespace nn::cpu::vec {

inline float bits_to_float(int32_t b) { return __builtin_bit_cast(float, b); }

// e^x: x = n ln2 + r with |r| <= ln2/2, e^r by its degree-7 Taylor polynomial
// (truncation error < 1e-8 relative), 2^n built from exponent bits in two halves so
// that n in [-160, 130] needs no special case.
inline float expf(float x) {
  const bool nan = x != x;
  float xc = nan ? 0.0f : x;
  xc = xc < -110.0f ? -110.0f : (xc > 90.0f ? 90.0f : xc);
  // Round to nearest (even) by adding and removing 1.5 * 2^23: plain SSE2, vectorises.
  const float nf = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (xc - nf * 0.693145751953125f) - nf * 1.428606765330187e-06f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t n = static_cast<int32_t>(nf);
  const int32_t n1 = n / 2, n2 = n - n1;
  const float result = p * bits_to_float((n1 + 127) << 23) * bits_to_float((n2 + 127) << 23);
  return nan ? x : result;
}

// tanh: odd Taylor polynomial to x^13 for |x| < 0.5 (error < 1e-7 relative there),
// 1 - 2 / (e^{2|x|} + 1) above, with the sign restored.
inline float tanhf(float x) {
  const float ax = x < 0.0f ? -x : x;
  const float x2 = x * x;
  float p = 21844.0f / 6081075.0f;
  p = p * x2 - 1382.0f / 155925.0f;
  p = p * x2 + 62.0f / 2835.0f;
  p = p * x2 - 17.0f / 315.0f;
  p = p * x2 + 2.0f / 15.0f;
  p = p * x2 - 1.0f / 3.0f;
  const float small = x + x * x2 * p;
  const float big_abs = 1.0f - 2.0f / (expf(2.0f * (ax > 20.0f ? 20.0f : ax)) + 1.0f);
  const float big = x < 0.0f ? -big_abs : big_abs;
  return ax < 0.5f ? small : (x != x ? x : big);
}

// 1 / (1 + e^-x): e^-x -> inf for very negative x gives exactly 0, never NaN.
inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

// Exact (erf) GELU, x * Phi(x), with Phi from erfc so that both tails keep their
// relative accuracy: for z = |x| / sqrt(2), erfc(z) = t * e^(-z^2 + P(t)), t = 1 / (1 + z/2),
// P a degree-10 polynomial fitted (least squares, float64) to log(erfc(z) / t) + z^2 on
// [0, 12]: relative error of erfc below 5e-8 in float64 and ~1e-6 in float32 up to
// z = 9, where the float32 rounding of -z^2 dominates (z^2's rounding error is put
// back to first order with one fma). Phi(x) = erfc(z) / 2 for x < 0, else 1 - erfc(z) / 2.
// Beyond z = 9 (|x| > 12.7) Phi is taken as exactly 0 or 1: erfc(9) / 2 = 2e-37 is near the
// bottom of float32's normal range, and the subnormal values below would make every
// such element ~100x slower on x86 while changing gelu by less than 3e-36. z is clamped
// there so that huge or infinite x never reaches z*z = inf (x = -inf gives NaN, as x * 0).
inline float normal_cdf(float x) {
  const float z_abs = (x < 0.0f ? -x : x) * 0.70710678118654752f;
  const float z = z_abs > 9.0f ? 9.0f : z_abs;
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = -1.087793127e-01f;
  p = p * t + 7.829062431e-01f;
  p = p * t - 2.316507835e+00f;
  p = p * t + 3.564522058e+00f;
  p = p * t - 2.943396251e+00f;
  p = p * t + 1.304858792e+00f;
  p = p * t - 5.680471514e-01f;
  p = p * t + 1.882073791e-01f;
  p = p * t + 3.606743710e-01f;
  p = p * t + 1.001111050e+00f;
  p = p * t - 1.265549296e+00f;
  const float zz = z * z;
  const float zz_err = __builtin_fmaf(z, z, -zz);  // z*z - zz exactly
  // Computed for every x, then selected: a conditional expression around the inlined
  // expf kept GCC from vectorising the AVX2 loop (no masked lanes there).
  const float tail = 0.5f * t * expf(p - zz) * (1.0f - zz_err);
  const float half_erfc = z_abs >= 9.0f ? 0.0f : tail;
  const float phi = x < 0.0f ? half_erfc : 1.0f - half_erfc;
  return phi;
}
inline float gelu_erf(float x) { return x * normal_cdf(x); }

// GELU's tanh approximation (GPT-2's): 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3),
// computed as x / (1 + e^(-2u)) (the same function: 1 + tanh(u) = 2 sigmoid(2u)), which keeps
// its relative accuracy in the left tail where 1 + tanh(u) would cancel. The cube is clamped
// so that huge |x| never makes inf - inf; x = -inf gives NaN, as 0.5 x (1 + tanh(u)) does.
inline float gelu_tanh(float x) {
  const float xc = x > 1e4f ? 1e4f : (x < -1e4f ? -1e4f : x);
  const float u = 0.7978845608028654f * (xc + 0.044715f * xc * xc * xc);
  return x / (1.0f + expf(-2.0f * u));
}

// The derivatives of the fused derivative rows (ops/activation_backward.cpp), same
// branch-free style. GELU: Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi) (the
// exponent clamps itself in expf; x = +-inf gives NaN, as x * 0 does in the plain
// formula). Tanh GELU, with s = sigmoid(2u) (= (1 + tanh(u)) / 2, no cancellation in the
// left tail): s + x * 2 s (1 - s) * du/dx. SiLU: s (1 + x (1 - s)), s = sigmoid(x).
inline float gelu_erf_grad(float x) {
  return normal_cdf(x) + x * expf(-0.5f * x * x) * 0.3989422804014327f;
}
inline float gelu_tanh_grad(float x) {
  const float xc = x > 1e4f ? 1e4f : (x < -1e4f ? -1e4f : x);
  const float u = 0.7978845608028654f * (xc + 0.044715f * xc * xc * xc);
  const float s = 1.0f / (1.0f + expf(-2.0f * u));
  const float du = 0.7978845608028654f * (1.0f + 3.0f * 0.044715f * xc * xc);
  return s + x * 2.0f * s * (1.0f - s) * du;
}
// relu (from its output: y > 0 exactly where x > 0) and hardswish (the left derivative
// at the kinks, PyTorch's): selects, not branches, so random signs cost nothing.
inline float relu_grad(float y) { return y > 0.0f ? 1.0f : 0.0f; }
inline float hardswish_grad(float x) { return x < -3.0f ? 0.0f : (x <= 3.0f ? x / 3.0f + 0.5f : 1.0f); }
inline float silu_grad(float x) {
  const float s = sigmoidf(x);
  return s * (1.0f + x * (1.0f - s));
}

// The contiguous float32 loops each ISA unit compiles: y = f(x), and for the derivatives
// out = g * f'(x).
#define NN_VEC_MATH_LOOPS(SUFFIX)                                                        \
  void exp_f32_##SUFFIX(const float* x, float* y, int64_t n) {                           \
    for (int64_t i = 0; i < n; ++i) y[i] = vec::expf(x[i]);                              \
  }                                                                                      \
  void tanh_f32_##SUFFIX(const float* x, float* y, int64_t n) {                          \
    for (int64_t i = 0; i < n; ++i) y[i] = vec::tanhf(x[i]);                             \
  }                                                                                      \
  void sigmoid_f32_##SUFFIX(const float* x, float* y, int64_t n) {                       \
    for (int64_t i = 0; i < n; ++i) y[i] = vec::sigmoidf(x[i]);                          \
  }                                                                                      \
  void gelu_f32_##SUFFIX(const float* x, float* y, int64_t n) {                          \
    for (int64_t i = 0; i < n; ++i) y[i] = vec::gelu_erf(x[i]);                          \
  }                                                                                      \
  void gelu_tanh_f32_##SUFFIX(const float* x, float* y, int64_t n) {                     \
    for (int64_t i = 0; i < n; ++i) y[i] = vec::gelu_tanh(x[i]);                         \
  }                                                                                      \
  void silu_f32_##SUFFIX(const float* x, float* y, int64_t n) {                          \
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * vec::sigmoidf(x[i]);                   \
  }                                                                                      \
  void gelu_grad_f32_##SUFFIX(const float* g, const float* x, float* out, int64_t n) {   \
    for (int64_t i = 0; i < n; ++i) out[i] = g[i] * vec::gelu_erf_grad(x[i]);            \
  }                                                                                      \
  void gelu_tanh_grad_f32_##SUFFIX(const float* g, const float* x, float* out, int64_t n) { \
    for (int64_t i = 0; i < n; ++i) out[i] = g[i] * vec::gelu_tanh_grad(x[i]);           \
  }                                                                                      \
  void silu_grad_f32_##SUFFIX(const float* g, const float* x, float* out, int64_t n) {   \
    for (int64_t i = 0; i < n; ++i) out[i] = g[i] * vec::silu_grad(x[i]);                \
  }                                                                                      \
  void relu_grad_f32_##SUFFIX(const float* g, const float* x, float* out, int64_t n) {   \
    for (int64_t i = 0; i < n; ++i) out[i] = g[i] * vec::relu_grad(x[i]);                \
  }                                                                                      \
  void hardswish_grad_f32_##SUFFIX(const float* g, const float* x, float* out, int64_t n) { \
    for (int64_t i = 0; i < n; ++i) out[i] = g[i] * vec::hardswish_grad(x[i]);           \
  }

}  // namespace nn::cpu::vec
