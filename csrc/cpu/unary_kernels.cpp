// unary_kernels.cpp — CPU kernels of the UNARY family: one functor per op-table row
// with its forward (apply). The activations whose derivative has a fused row
// (relu_backward, sigmoid_backward, tanh_backward, gelu_backward, silu_backward,
// hardswish_backward, mish_backward: ops/activation_backward.cpp) also carry it (deriv,
// as a function of the input x and the output y; the rows pass the one they take as
// both): the unary_backward table, keyed by the forward row. Every other derivative is
// a formula over ops in ops.schema. float32 exp/tanh/sigmoid/gelu/silu forwards and the
// gelu/gelu_tanh/silu/relu/hardswish derivatives run vectorised loops (cpu/vec_math.h, one per ISA) with
// the functors as their plain reference. The registration at the bottom is generated
// from NN_UNARY_OPS, so a row without a functor does not compile.
//
// Layout: any strides (cpu/elementwise_loop.h); contiguous runs take a plain loop the
// compiler vectorises.
#include <cmath>

#include "cpu/cpu_features.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/elementwise_loop.h"
#include "cpu/kernels.h"

namespace nn::cpu {
namespace {

template <OpId op> struct UnaryFunctor;

// Defaults: float-only ops (integer inputs are promoted to float by the op).
struct FloatOnly { static constexpr bool kIntegerOk = false, kBoolResult = false; };
struct AnyNumeric { static constexpr bool kIntegerOk = true, kBoolResult = false; };
// Whether functor F has a fused derivative (deriv).
template <class F, class = void> struct HasDeriv : std::false_type {};
template <class F>
struct HasDeriv<F, std::void_t<decltype(F::template deriv<float>(0.f, 0.f))>> : std::true_type {};

template <> struct UnaryFunctor<OpId::neg> : AnyNumeric {
  template <class T> static T apply(T x) { return static_cast<T>(-x); }
};
template <> struct UnaryFunctor<OpId::exp> : FloatOnly {
  template <class T> static T apply(T x) { return std::exp(x); }
};
template <> struct UnaryFunctor<OpId::log> : FloatOnly {
  template <class T> static T apply(T x) { return std::log(x); }
};
template <> struct UnaryFunctor<OpId::log1p> : FloatOnly {
  template <class T> static T apply(T x) { return std::log1p(x); }
};
template <> struct UnaryFunctor<OpId::sqrt> : FloatOnly {
  template <class T> static T apply(T x) { return std::sqrt(x); }
};
template <> struct UnaryFunctor<OpId::rsqrt> : FloatOnly {
  template <class T> static T apply(T x) { return T(1) / std::sqrt(x); }
};
template <> struct UnaryFunctor<OpId::abs> : AnyNumeric {
  template <class T> static T apply(T x) {
    if constexpr (std::is_unsigned_v<T> || std::is_same_v<T, bool>) return x;
    else return x < T(0) ? static_cast<T>(-x) : x;
  }
};
template <> struct UnaryFunctor<OpId::relu> : AnyNumeric {
  template <class T> static T apply(T x) { return x < T(0) ? T(0) : x; }  // NaN stays NaN
  template <class T> static T deriv(T x, T) { return x > T(0) ? T(1) : T(0); }
};
template <> struct UnaryFunctor<OpId::sigmoid> : FloatOnly {
  template <class T> static T apply(T x) {
    if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
    const T e = std::exp(x);
    return e / (T(1) + e);
  }
  template <class T> static T deriv(T, T y) { return y * (T(1) - y); }
};
template <> struct UnaryFunctor<OpId::tanh> : FloatOnly {
  template <class T> static T apply(T x) { return std::tanh(x); }
  template <class T> static T deriv(T, T y) { return T(1) - y * y; }
};
template <> struct UnaryFunctor<OpId::gelu> : FloatOnly {
  // Exact GELU: x * Phi(x), Phi the standard normal CDF.
  template <class T> static T apply(T x) { return T(0.5) * x * (T(1) + std::erf(x * T(M_SQRT1_2))); }
  template <class T> static T deriv(T x, T) {
    const T cdf = T(0.5) * (T(1) + std::erf(x * T(M_SQRT1_2)));
    const T pdf = std::exp(T(-0.5) * x * x) * T(0.3989422804014327);  // 1/sqrt(2 pi)
    return cdf + x * pdf;
  }
};
template <> struct UnaryFunctor<OpId::gelu_tanh> : FloatOnly {
  // GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
  static constexpr double kBeta = 0.7978845608028654, kKappa = 0.044715;
  // As x * sigmoid(2u): no cancellation of 1 + tanh(u) in the left tail (cpu/vec_math.h).
  template <class T> static T apply(T x) {
    const T xc = x > T(1e4) ? T(1e4) : (x < T(-1e4) ? T(-1e4) : x);
    return x / (T(1) + std::exp(T(-2 * kBeta) * (xc + T(kKappa) * xc * xc * xc)));
  }
  template <class T> static T deriv(T x, T) {
    const T t = std::tanh(T(kBeta) * (x + T(kKappa) * x * x * x));
    return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * T(kBeta) * (T(1) + T(3 * kKappa) * x * x);
  }
};
template <> struct UnaryFunctor<OpId::silu> : FloatOnly {
  template <class T> static T apply(T x) { return x * UnaryFunctor<OpId::sigmoid>::apply(x); }
  template <class T> static T deriv(T x, T) {
    const T s = UnaryFunctor<OpId::sigmoid>::apply(x);
    return s * (T(1) + x * (T(1) - s));
  }
};
template <> struct UnaryFunctor<OpId::hardswish> : FloatOnly {
  // x * relu6(x + 3) / 6; the derivative at the kinks -3 and 3 is the left one (PyTorch's).
  template <class T> static T apply(T x) {
    if (!(x > T(-3))) return x != x ? x : T(0);  // NaN stays NaN
    return x < T(3) ? x * (x + T(3)) / T(6) : x;
  }
  template <class T> static T deriv(T x, T) { return x < T(-3) ? T(0) : (x <= T(3) ? x / T(3) + T(0.5) : T(1)); }
};
struct Predicate { static constexpr bool kIntegerOk = true, kBoolResult = true; };
template <> struct UnaryFunctor<OpId::logical_not> : Predicate {
  template <class T> static bool apply(T x) { return !(x != T(0)); }
};
template <> struct UnaryFunctor<OpId::sin> : FloatOnly {
  template <class T> static T apply(T x) { return std::sin(x); }
};
template <> struct UnaryFunctor<OpId::cos> : FloatOnly {
  template <class T> static T apply(T x) { return std::cos(x); }
};
template <> struct UnaryFunctor<OpId::erf> : FloatOnly {
  template <class T> static T apply(T x) { return std::erf(x); }
};
template <> struct UnaryFunctor<OpId::reciprocal> : FloatOnly {
  template <class T> static T apply(T x) { return T(1) / x; }
};
template <> struct UnaryFunctor<OpId::square> : AnyNumeric {
  template <class T> static T apply(T x) { return static_cast<T>(x * x); }
};
// sign, floor, ceil, round, trunc: piecewise constant (their formulas give a zero
// derivative, PyTorch's); the rounding ops return integer inputs unchanged.
struct PiecewiseConstant : AnyNumeric {};
template <class T, class Round> T round_floating(T x, Round round) {
  if constexpr (std::is_integral_v<T>) return x;
  else return static_cast<T>(round(x));
}
template <> struct UnaryFunctor<OpId::sign> : PiecewiseConstant {
  template <class T> static T apply(T x) {
    if constexpr (std::is_unsigned_v<T> || std::is_same_v<T, bool>) return static_cast<T>(x != T(0));
    else return x != x ? x : static_cast<T>((T(0) < x) - (x < T(0)));  // NaN stays NaN
  }
};
template <> struct UnaryFunctor<OpId::floor> : PiecewiseConstant {
  template <class T> static T apply(T x) { return round_floating(x, [](auto v) { return std::floor(v); }); }
};
template <> struct UnaryFunctor<OpId::ceil> : PiecewiseConstant {
  template <class T> static T apply(T x) { return round_floating(x, [](auto v) { return std::ceil(v); }); }
};
template <> struct UnaryFunctor<OpId::round> : PiecewiseConstant {
  // Halves to even, as torch.round and numpy.round (nearbyint in the default rounding mode).
  template <class T> static T apply(T x) { return round_floating(x, [](auto v) { return std::nearbyint(v); }); }
};
template <> struct UnaryFunctor<OpId::trunc> : PiecewiseConstant {
  template <class T> static T apply(T x) { return round_floating(x, [](auto v) { return std::trunc(v); }); }
};
template <> struct UnaryFunctor<OpId::mish> : FloatOnly {
  // x * tanh(softplus(x)), softplus(x) = log1p(exp(-|x|)) + max(x, 0) (no overflow).
  template <class T> static T softplus(T x) { return std::log1p(std::exp(-std::abs(x))) + (x > T(0) ? x : T(0)); }
  template <class T> static T apply(T x) { return x * std::tanh(softplus(x)); }
  template <class T> static T deriv(T x, T) {
    const T t = std::tanh(softplus(x));
    return t + x * UnaryFunctor<OpId::sigmoid>::apply(x) * (T(1) - t * t);
  }
};
template <> struct UnaryFunctor<OpId::isnan> : Predicate {
  template <class T> static bool apply(T x) { return x != x; }
};
template <> struct UnaryFunctor<OpId::isfinite> : Predicate {
  template <class T> static bool apply(T x) {
    if constexpr (std::is_integral_v<T>) return true;
    else return x == x && x - x == T(0);  // false for NaN and +-inf
  }
};

// The copy of a vectorised loop (cpu/vec_math.h, one per ISA unit) for the active ISA; the
// ISA units are built on x86-64 only.
#if defined(NN_CORE_X86)
template <class Fn>
Fn on_active_isa(Fn generic, Fn avx2, Fn avx512) {
  const Isa isa = active_isa();
  return isa == Isa::Avx512 ? avx512 : (isa == Isa::Avx2 ? avx2 : generic);
}
#define NN_ISA_LOOP(NAME) on_active_isa(&NAME##_generic, &NAME##_avx2, &NAME##_avx512)
#else
#define NN_ISA_LOOP(NAME) (&NAME##_generic)
#endif

using VecLoop = void (*)(const float*, float*, int64_t);

// The vectorised float32 loop y = f(x) of `op` on the active ISA, or nullptr.
template <OpId op>
VecLoop vec_loop() {
  switch (op) {
    case OpId::exp: return NN_ISA_LOOP(exp_f32);
    case OpId::tanh: return NN_ISA_LOOP(tanh_f32);
    case OpId::sigmoid: return NN_ISA_LOOP(sigmoid_f32);
    case OpId::gelu: return NN_ISA_LOOP(gelu_f32);
    case OpId::gelu_tanh: return NN_ISA_LOOP(gelu_tanh_f32);
    case OpId::silu: return NN_ISA_LOOP(silu_f32);
    default: return nullptr;
  }
}

template <OpId op>
void unary_kernel(OpId, const Tensor& in, const Tensor& out) {
  using F = UnaryFunctor<op>;
  if (in.dtype() == DType::Float32) {
    if (VecLoop loop = vec_loop<op>()) {
      std::array<StridedOperand, 2> ops{StridedOperand{out.data_bytes(), &out.strides(), 4},
                                        StridedOperand{in.data_bytes(), &in.strides(), 4}};
      for_each_strided<2>(out.sizes(), ops, kElementwiseGrain / 4, [loop](char** p, const int64_t* s, int64_t n) {
        float* o = reinterpret_cast<float*>(p[0]);
        const float* x = reinterpret_cast<const float*>(p[1]);
        if (s[0] == 4 && s[1] == 4) {
          loop(x, o, n);
        } else {
          for (int64_t i = 0; i < n; ++i) loop(x + i * (s[1] / 4), o + i * (s[0] / 4), 1);
        }
      });
      return;
    }
  }
  dispatch_compute_dtype(in.dtype(), op_info(op).name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!F::kIntegerOk && !std::is_floating_point_v<T>) {
      throw DTypeError(str(op_info(op).name, ": kernel needs a float input, got ", in.dtype()));
    } else {
      using R = std::conditional_t<F::kBoolResult, bool, T>;
      std::array<StridedOperand, 2> ops{StridedOperand{out.data_bytes(), &out.strides(), sizeof(R)},
                                        StridedOperand{in.data_bytes(), &in.strides(), sizeof(T)}};
      for_each_strided<2>(out.sizes(), ops, kElementwiseGrain / 4, [](char** p, const int64_t* s, int64_t n) {
        R* o = reinterpret_cast<R*>(p[0]);
        const T* x = reinterpret_cast<const T*>(p[1]);
        if (s[0] == sizeof(R) && s[1] == sizeof(T)) {
          for (int64_t i = 0; i < n; ++i) o[i] = static_cast<R>(F::apply(x[i]));
        } else {
          const int64_t so = s[0] / int64_t(sizeof(R)), sx = s[1] / int64_t(sizeof(T));
          for (int64_t i = 0; i < n; ++i) o[i * so] = static_cast<R>(F::apply(x[i * sx]));
        }
      });
    }
  });
}

using VecGradLoop = void (*)(const float*, const float*, float*, int64_t);

// The vectorised float32 loop out = g * f'(x) of `op` on the active ISA, or nullptr (the
// functor's deriv, below, is the plain reference).
template <OpId op>
VecGradLoop vec_grad_loop() {
  switch (op) {
    case OpId::gelu: return NN_ISA_LOOP(gelu_grad_f32);
    case OpId::gelu_tanh: return NN_ISA_LOOP(gelu_tanh_grad_f32);
    case OpId::silu: return NN_ISA_LOOP(silu_grad_f32);
    case OpId::relu: return NN_ISA_LOOP(relu_grad_f32);
    case OpId::hardswish: return NN_ISA_LOOP(hardswish_grad_f32);
    default: return nullptr;
  }
}
#undef NN_ISA_LOOP

template <OpId op>
void unary_backward_kernel(OpId, const Tensor& grad, const Tensor& x, const Tensor& y, const Tensor& out) {
  using F = UnaryFunctor<op>;
  static_assert(HasDeriv<F>::value, "registered only for functors with a fused derivative");
  if (x.dtype() == DType::Float32) {
    if (VecGradLoop loop = vec_grad_loop<op>()) {
      std::array<StridedOperand, 3> ops{StridedOperand{out.data_bytes(), &out.strides(), 4},
                                        StridedOperand{grad.data_bytes(), &grad.strides(), 4},
                                        StridedOperand{x.data_bytes(), &x.strides(), 4}};
      for_each_strided<3>(out.sizes(), ops, kElementwiseGrain / 4, [loop](char** p, const int64_t* s, int64_t n) {
        float* o = reinterpret_cast<float*>(p[0]);
        const float* g = reinterpret_cast<const float*>(p[1]);
        const float* xv = reinterpret_cast<const float*>(p[2]);
        if (s[0] == 4 && s[1] == 4 && s[2] == 4) {
          loop(g, xv, o, n);
        } else {
          for (int64_t i = 0; i < n; ++i) loop(g + i * (s[1] / 4), xv + i * (s[2] / 4), o + i * (s[0] / 4), 1);
        }
      });
      return;
    }
  }
  {
    dispatch_float_dtype(x.dtype(), op_info(op).name, [&](auto tag) {
      using T = typename decltype(tag)::type;
      std::array<StridedOperand, 4> ops{StridedOperand{out.data_bytes(), &out.strides(), sizeof(T)},
                                        StridedOperand{grad.data_bytes(), &grad.strides(), sizeof(T)},
                                        StridedOperand{x.data_bytes(), &x.strides(), sizeof(T)},
                                        StridedOperand{y.data_bytes(), &y.strides(), sizeof(T)}};
      for_each_strided<4>(out.sizes(), ops, kElementwiseGrain / 4, [](char** p, const int64_t* s, int64_t n) {
        const int64_t so = s[0] / int64_t(sizeof(T)), sg = s[1] / int64_t(sizeof(T));
        const int64_t sx = s[2] / int64_t(sizeof(T)), sy = s[3] / int64_t(sizeof(T));
        T* o = reinterpret_cast<T*>(p[0]);
        const T* g = reinterpret_cast<const T*>(p[1]);
        const T* xv = reinterpret_cast<const T*>(p[2]);
        const T* yv = reinterpret_cast<const T*>(p[3]);
        if (so == 1 && sg == 1 && sx == 1 && sy == 1) {  // contiguous: a plain loop that vectorises
          for (int64_t i = 0; i < n; ++i) o[i] = g[i] * F::deriv(xv[i], yv[i]);
        } else {
          for (int64_t i = 0; i < n; ++i) o[i * so] = g[i * sg] * F::deriv(xv[i * sx], yv[i * sy]);
        }
      });
    });
  }
}

template <OpId op>
void register_unary_row(KernelRegistry& r) {
  r.unary.set(op, DeviceType::CPU, &unary_kernel<op>);
  if constexpr (HasDeriv<UnaryFunctor<op>>::value) r.unary_backward.set(op, DeviceType::CPU, &unary_backward_kernel<op>);
}

}  // namespace

void register_unary_kernels(KernelRegistry& r) {
#define NN_REGISTER_UNARY(name, grad) register_unary_row<OpId::name>(r);
  NN_UNARY_OPS(NN_REGISTER_UNARY)
#undef NN_REGISTER_UNARY
}

}  // namespace nn::cpu
