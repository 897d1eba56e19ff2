// dtype_dispatch.h — the one dtype switch used by kernels (DESIGN.md: "dtype is
// dispatched inside the kernel by one switch"). Kernels receive compute dtypes only:
// float16/bfloat16 are converted to float32 by the ops (Note [Half types]).
//
//   dispatch_compute_dtype(t.dtype(), "exp", [&](auto tag) {
//     using T = typename decltype(tag)::type;  ...
//   });
#pragma once
#include <cstdint>
#include <limits>
#include <type_traits>

#include "core/dtype.h"

namespace nn::cpu {

template <typename T>
struct TypeTag { using type = T; };

template <typename Fn>
void dispatch_compute_dtype(DType dtype, const char* op, Fn&& fn) {
  switch (dtype) {
    case DType::Float32: fn(TypeTag<float>{}); return;
    case DType::Float64: fn(TypeTag<double>{}); return;
    case DType::Int64: fn(TypeTag<int64_t>{}); return;
    case DType::Int32: fn(TypeTag<int32_t>{}); return;
    case DType::Int8: fn(TypeTag<int8_t>{}); return;
    case DType::UInt8: fn(TypeTag<uint8_t>{}); return;
    case DType::Bool: fn(TypeTag<bool>{}); return;
    case DType::Float16:
    case DType::BFloat16: break;
  }
  throw DTypeError(str(op, ": no kernel for dtype ", dtype, " (half types compute in float32)"));
}

template <typename Fn>
void dispatch_float_dtype(DType dtype, const char* op, Fn&& fn) {
  switch (dtype) {
    case DType::Float32: fn(TypeTag<float>{}); return;
    case DType::Float64: fn(TypeTag<double>{}); return;
    default: break;
  }
  throw DTypeError(str(op, ": expected a float32 or float64 tensor, got ", dtype));
}

// Every storage dtype, including the half types (used by copy/cast only).
struct Float16Storage { uint16_t bits; };
struct BFloat16Storage { uint16_t bits; };

template <typename Fn>
void dispatch_storage_dtype(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::Float32: fn(TypeTag<float>{}); return;
    case DType::Float64: fn(TypeTag<double>{}); return;
    case DType::Int64: fn(TypeTag<int64_t>{}); return;
    case DType::Int32: fn(TypeTag<int32_t>{}); return;
    case DType::Int8: fn(TypeTag<int8_t>{}); return;
    case DType::UInt8: fn(TypeTag<uint8_t>{}); return;
    case DType::Bool: fn(TypeTag<bool>{}); return;
    case DType::Float16: fn(TypeTag<Float16Storage>{}); return;
    case DType::BFloat16: fn(TypeTag<BFloat16Storage>{}); return;
  }
}

// Loads/stores between storage types and the double/float compute path.
template <typename T> inline double load_as_double(const T& v) { return static_cast<double>(v); }
template <> inline double load_as_double(const Float16Storage& v) { return half_to_float(v.bits); }
template <> inline double load_as_double(const BFloat16Storage& v) { return bf16_to_float(v.bits); }

template <typename T> inline T store_from_double(double v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != 0.0;
  } else if constexpr (std::is_integral_v<T>) {
    // Float -> int conversion truncates toward zero (C, NumPy, PyTorch); NaN and values
    // out of range are clamped instead of invoking undefined behaviour.
    if (!(v == v)) return T(0);
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    return static_cast<T>(v);
  } else {
    return static_cast<T>(v);
  }
}
template <> inline Float16Storage store_from_double(double v) { return {float_to_half(static_cast<float>(v))}; }
template <> inline BFloat16Storage store_from_double(double v) { return {float_to_bf16(static_cast<float>(v))}; }

}  // namespace nn::cpu
