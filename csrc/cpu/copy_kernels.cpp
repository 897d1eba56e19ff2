// copy_kernels.cpp — CPU kernels that move or produce data without arithmetic per op:
// copy with dtype conversion (cast, contiguous, copy_), fill, and where.
//
// Conversion rules: float -> int truncates toward zero with NaN -> 0 and saturation at
// the integer range (no undefined behaviour); anything -> bool is `!= 0`; float16 and
// bfloat16 round to nearest even (core/dtype.h).
#include <algorithm>
#include <cstring>

#include "cpu/dtype_dispatch.h"
#include "cpu/elementwise_loop.h"
#include "cpu/kernels.h"

namespace nn::cpu {
namespace {

template <typename D, typename S>
inline D convert(const S& v) {
  if constexpr (std::is_same_v<D, S>) {
    return v;
  } else if constexpr (std::is_arithmetic_v<D> && std::is_arithmetic_v<S> &&
                       !(std::is_floating_point_v<S> && std::is_integral_v<D>) && !std::is_same_v<D, bool>) {
    return static_cast<D>(v);
  } else if constexpr (std::is_same_v<D, float> && std::is_same_v<S, Float16Storage>) {
    return half_to_float(v.bits);
  } else if constexpr (std::is_same_v<D, float> && std::is_same_v<S, BFloat16Storage>) {
    return bf16_to_float(v.bits);
  } else if constexpr (std::is_same_v<D, Float16Storage> && std::is_same_v<S, float>) {
    return Float16Storage{float_to_half(v)};
  } else if constexpr (std::is_same_v<D, BFloat16Storage> && std::is_same_v<S, float>) {
    return BFloat16Storage{float_to_bf16(v)};
  } else {
    return store_from_double<D>(load_as_double(v));
  }
}

void copy_kernel(const Tensor& dst, const Tensor& src) {
  dispatch_storage_dtype(dst.dtype(), [&](auto dtag) {
    using D = typename decltype(dtag)::type;
    dispatch_storage_dtype(src.dtype(), [&](auto stag) {
      using S = typename decltype(stag)::type;
      constexpr int64_t kD = sizeof(D), kS = sizeof(S);
      std::array<StridedOperand, 2> ops{StridedOperand{dst.data_bytes(), &dst.strides(), kD},
                                        StridedOperand{src.data_bytes(), &src.strides(), kS}};
      for_each_strided<2>(dst.sizes(), ops, kElementwiseGrain, [](char** p, const int64_t* s, int64_t n) {
        D* o = reinterpret_cast<D*>(p[0]);
        const S* x = reinterpret_cast<const S*>(p[1]);
        if constexpr (std::is_same_v<D, S>) {
          if (s[0] == kD && s[1] == kS) {
            std::memcpy(o, x, static_cast<size_t>(n) * kD);
            return;
          }
          if (s[0] == kD && s[1] == 0) {  // a broadcast (expanded) source: a fill
            std::fill_n(o, n, *x);
            return;
          }
        }
        if (s[0] == kD && s[1] == kS) {
          for (int64_t i = 0; i < n; ++i) o[i] = convert<D, S>(x[i]);
        } else {
          const int64_t so = s[0] / kD, sx = s[1] / kS;
          for (int64_t i = 0; i < n; ++i) o[i * so] = convert<D, S>(x[i * sx]);
        }
      });
    });
  });
}

void fill_kernel(const Tensor& out, double value) {
  dispatch_storage_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = store_from_double<T>(value);
    std::array<StridedOperand, 1> ops{StridedOperand{out.data_bytes(), &out.strides(), sizeof(T)}};
    for_each_strided<1>(out.sizes(), ops, kElementwiseGrain, [v](char** p, const int64_t* s, int64_t n) {
      T* o = reinterpret_cast<T*>(p[0]);
      const int64_t so = s[0] / int64_t(sizeof(T));
      for (int64_t i = 0; i < n; ++i) o[i * so] = v;
    });
  });
}

void where_kernel(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_storage_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int64_t kT = sizeof(T);
    std::array<StridedOperand, 4> ops{StridedOperand{out.data_bytes(), &out.strides(), kT},
                                      StridedOperand{cond.data_bytes(), &cond.strides(), 1},
                                      StridedOperand{a.data_bytes(), &a.strides(), kT},
                                      StridedOperand{b.data_bytes(), &b.strides(), kT}};
    for_each_strided<4>(out.sizes(), ops, kElementwiseGrain, [](char** p, const int64_t* s, int64_t n) {
      T* o = reinterpret_cast<T*>(p[0]);
      const bool* c = reinterpret_cast<const bool*>(p[1]);
      const T* x = reinterpret_cast<const T*>(p[2]);
      const T* y = reinterpret_cast<const T*>(p[3]);
      const int64_t so = s[0] / kT, sc = s[1], sx = s[2] / kT, sy = s[3] / kT;
      for (int64_t i = 0; i < n; ++i) o[i * so] = c[i * sc] ? x[i * sx] : y[i * sy];
    });
  });
}

}  // namespace

void register_copy_kernels(KernelRegistry& r) {
  r.copy.set(OpId::copy_, DeviceType::CPU, &copy_kernel);
  r.copy.set(OpId::cast, DeviceType::CPU, &copy_kernel);
  r.copy.set(OpId::contiguous, DeviceType::CPU, &copy_kernel);
  r.fill.set(OpId::fill_, DeviceType::CPU, &fill_kernel);
  r.where.set(OpId::where, DeviceType::CPU, &where_kernel);
}

}  // namespace nn::cpu
