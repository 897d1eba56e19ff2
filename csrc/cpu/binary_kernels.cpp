// binary_kernels.cpp — CPU kernels of the BINARY and COMPARE families: one functor per
// op-table row (registration generated from NN_BINARY_OPS / NN_COMPARE_OPS, so a row
// without its functor does not compile). Derivatives live in ops/elementwise.cpp as
// compositions of these ops.
//
// Layout: a and b are already broadcast to out's sizes (stride 0 on expanded dims).
// Contiguous runs and runs where one operand is a broadcast scalar take plain loops the
// compiler vectorises; anything else takes the strided loop.
#include <cmath>

#include "cpu/dtype_dispatch.h"
#include "cpu/elementwise_loop.h"
#include "cpu/kernels.h"

namespace nn::cpu {
namespace {

template <OpId op> struct BinaryFunctor;
struct Arith { static constexpr bool kBoolResult = false, kFloatOnly = false; };
struct Compare { static constexpr bool kBoolResult = true, kFloatOnly = false; };

template <> struct BinaryFunctor<OpId::add> : Arith {
  template <class T> static T apply(T a, T b) {
    if constexpr (std::is_same_v<T, bool>) return a || b;
    else return static_cast<T>(a + b);
  }
};
template <> struct BinaryFunctor<OpId::sub> : Arith {
  template <class T> static T apply(T a, T b) { return static_cast<T>(a - b); }
};
template <> struct BinaryFunctor<OpId::mul> : Arith {
  template <class T> static T apply(T a, T b) {
    if constexpr (std::is_same_v<T, bool>) return a && b;
    else return static_cast<T>(a * b);
  }
};
template <> struct BinaryFunctor<OpId::div> {
  static constexpr bool kBoolResult = false, kFloatOnly = true;  // true division: ints promote
  template <class T> static T apply(T a, T b) { return a / b; }
};
template <> struct BinaryFunctor<OpId::pow> : Arith {
  template <class T> static T apply(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      return std::pow(a, b);
    } else if constexpr (std::is_same_v<T, bool>) {
      return a || !b;
    } else {  // integer power by squaring; negative exponents are rejected by the op
      T result = 1, base = a;
      for (auto e = b; e > 0; e /= 2) {
        if (e & 1) result = static_cast<T>(result * base);
        base = static_cast<T>(base * base);
      }
      return result;
    }
  }
};
template <> struct BinaryFunctor<OpId::maximum> : Arith {  // NaN propagates
  template <class T> static T apply(T a, T b) { return (a != a) ? a : ((b != b) ? b : (a > b ? a : b)); }
};
template <> struct BinaryFunctor<OpId::minimum> : Arith {
  template <class T> static T apply(T a, T b) { return (a != a) ? a : ((b != b) ? b : (a < b ? a : b)); }
};
// fmod: the C rule (the result has the sign of a, a - trunc(a / b) * b); remainder: the
// Python rule (the sign of b), PyTorch's formula fmod + b where the signs differ. Integer
// divisors of 0 are rejected by the op (elementwise.cpp); b == -1 is special-cased because
// INT_MIN % -1 overflows (a hardware trap on x86).
template <> struct BinaryFunctor<OpId::fmod> : Arith {
  template <class T> static T apply(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      return std::fmod(a, b);
    } else if constexpr (std::is_same_v<T, bool>) {
      return false;  // bool inputs are rejected by the op; a % true == 0
    } else {
      if constexpr (std::is_signed_v<T>) {
        if (b == T(-1)) return T(0);
      }
      return b == T(0) ? T(0) : static_cast<T>(a % b);
    }
  }
};
template <> struct BinaryFunctor<OpId::remainder> : Arith {
  template <class T> static T apply(T a, T b) {
    if constexpr (std::is_same_v<T, bool>) {
      return false;
    } else {
      const T r = BinaryFunctor<OpId::fmod>::apply(a, b);
      if constexpr (std::is_signed_v<T> || std::is_floating_point_v<T>) {
        if (r != T(0) && ((r < T(0)) != (b < T(0)))) return static_cast<T>(r + b);
      }
      return r;
    }
  }
};
template <> struct BinaryFunctor<OpId::eq> : Compare { template <class T> static bool apply(T a, T b) { return a == b; } };
template <> struct BinaryFunctor<OpId::ne> : Compare { template <class T> static bool apply(T a, T b) { return a != b; } };
template <> struct BinaryFunctor<OpId::lt> : Compare { template <class T> static bool apply(T a, T b) { return a < b; } };
template <> struct BinaryFunctor<OpId::le> : Compare { template <class T> static bool apply(T a, T b) { return a <= b; } };
template <> struct BinaryFunctor<OpId::gt> : Compare { template <class T> static bool apply(T a, T b) { return a > b; } };
template <> struct BinaryFunctor<OpId::ge> : Compare { template <class T> static bool apply(T a, T b) { return a >= b; } };
template <> struct BinaryFunctor<OpId::logical_and> : Compare {
  template <class T> static bool apply(T a, T b) { return (a != T(0)) && (b != T(0)); }
};
template <> struct BinaryFunctor<OpId::logical_or> : Compare {
  template <class T> static bool apply(T a, T b) { return (a != T(0)) || (b != T(0)); }
};
template <> struct BinaryFunctor<OpId::logical_xor> : Compare {
  template <class T> static bool apply(T a, T b) { return (a != T(0)) != (b != T(0)); }
};

template <OpId op>
void binary_kernel(OpId, const Tensor& a, const Tensor& b, const Tensor& out) {
  using F = BinaryFunctor<op>;
  dispatch_compute_dtype(a.dtype(), op_info(op).name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (F::kFloatOnly && !std::is_floating_point_v<T>) {
      throw DTypeError(str(op_info(op).name, ": kernel needs float inputs, got ", a.dtype()));
    } else {
      using R = std::conditional_t<F::kBoolResult, bool, T>;
      constexpr int64_t kT = sizeof(T), kR = sizeof(R);
      std::array<StridedOperand, 3> ops{StridedOperand{out.data_bytes(), &out.strides(), kR},
                                        StridedOperand{a.data_bytes(), &a.strides(), kT},
                                        StridedOperand{b.data_bytes(), &b.strides(), kT}};
      for_each_strided<3>(out.sizes(), ops, kElementwiseGrain, [](char** p, const int64_t* s, int64_t n) {
        R* o = reinterpret_cast<R*>(p[0]);
        const T* x = reinterpret_cast<const T*>(p[1]);
        const T* y = reinterpret_cast<const T*>(p[2]);
        if (s[0] == kR && s[1] == kT && s[2] == kT) {
          for (int64_t i = 0; i < n; ++i) o[i] = F::apply(x[i], y[i]);
        } else if (s[0] == kR && s[1] == kT && s[2] == 0) {
          const T yv = *y;
          for (int64_t i = 0; i < n; ++i) o[i] = F::apply(x[i], yv);
        } else if (s[0] == kR && s[1] == 0 && s[2] == kT) {
          const T xv = *x;
          for (int64_t i = 0; i < n; ++i) o[i] = F::apply(xv, y[i]);
        } else {
          const int64_t so = s[0] / kR, sx = s[1] / kT, sy = s[2] / kT;
          for (int64_t i = 0; i < n; ++i) o[i * so] = F::apply(x[i * sx], y[i * sy]);
        }
      });
    }
  });
}

}  // namespace

void register_binary_kernels(KernelRegistry& r) {
#define NN_REGISTER_BINARY(name, grad) r.binary.set(OpId::name, DeviceType::CPU, &binary_kernel<OpId::name>);
  NN_BINARY_OPS(NN_REGISTER_BINARY)
  NN_COMPARE_OPS(NN_REGISTER_BINARY)
#undef NN_REGISTER_BINARY
}

}  // namespace nn::cpu
