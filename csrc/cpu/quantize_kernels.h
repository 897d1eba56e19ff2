// quantize_kernels.h — vectorised loops of the quantization kernels
// (cpu/quantize_kernels.cpp), one copy per ISA unit (quantize_kernels_avx512.cpp,
// quantize_kernels_avx2.cpp). Each computes exactly the scalar formulas of
// cpu/quantize_kernels.cpp (the same float operations in the same order), so results do
// not depend on the ISA:
//   q = clamp(nearbyint(x * inv) + zp, qmin, qmax), NaN -> qmin,
// with qmin = 0 for uint8 (qmax 255, or 127 for dynamic quantization on the AVX2 int8
// GEMM: gemm::qgemm_dynamic_qmax) and [-128, 127] for int8. x and q are contiguous, n any.
#pragma once
#include <cstdint>

namespace nn::cpu {

// min(0, min x), max(0, max x) over x[0, n) and whether any x is NaN.
void row_minmax_avx512(const float* x, int64_t n, float* lo, float* hi, bool* has_nan);
void quantize_u8_avx512(const float* x, int64_t n, float inv, float zp, float qmax, uint8_t* q);
void quantize_s8_avx512(const float* x, int64_t n, float inv, float zp, int8_t* q);

void row_minmax_avx2(const float* x, int64_t n, float* lo, float* hi, bool* has_nan);
void quantize_u8_avx2(const float* x, int64_t n, float inv, float zp, float qmax, uint8_t* q);
void quantize_s8_avx2(const float* x, int64_t n, float inv, float zp, int8_t* q);

}  // namespace nn::cpu
