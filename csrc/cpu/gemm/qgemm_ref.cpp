// qgemm_ref.cpp — the int8 GEMM reference (qgemm_ref: plain int32 loops on unpacked
// operands), the scalar epilogue every path shares for its float math (Note [QGEMM
// epilogue] in qgemm.h), and the portable microkernel qgemm_generic_4x32.
//
// This unit is compiled without ISA flags, so the compiler cannot contract a*b+c into
// an FMA behind our back; the epilogue uses std::fma explicitly, exactly as the AVX-512
// epilogue uses _mm512_fmadd_ps, which keeps every path bit-identical.
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "cpu/gemm/gemm_internal.h"
#include "cpu/gemm/qgemm_internal.h"

namespace nn {
namespace gemm {

namespace {

// v = act(fma(float(accz), s, bias)) — see Note [QGEMM epilogue].
inline float epilogue_value(int32_t accz, float s, float bias, Activation act) {
  float v = std::fma(static_cast<float>(accz), s, bias);
  if (act == Activation::Relu) v = v < 0.0f ? 0.0f : v;  // NaN and -0 pass through, as in max_ps(0, v)
  if (act == Activation::Gelu) v = detail::gelu_exact(v);
  return v;
}

// nearbyint(v / out_scale) + zp clamped to [qmin, qmax]; NaN -> qmin.
inline int32_t requantize_value(float v, float out_scale, float zp, float qmin, float qmax) {
  float r = std::nearbyint(v / out_scale) + zp;
  if (!(r >= qmin)) r = qmin;
  if (r > qmax) r = qmax;
  return static_cast<int32_t>(r);
}

inline void store_value(const QEpilogue& ep, void* c, int64_t index, int32_t accz, float s,
                        float bias) {
  switch (ep.output) {
    case QOutput::Int32:
      static_cast<int32_t*>(c)[index] = accz;
      return;
    case QOutput::Float32:
      static_cast<float*>(c)[index] = epilogue_value(accz, s, bias, ep.act);
      return;
    case QOutput::UInt8:
      static_cast<uint8_t*>(c)[index] = static_cast<uint8_t>(
          requantize_value(epilogue_value(accz, s, bias, ep.act), ep.out_scale,
                           static_cast<float>(ep.out_zero_point), 0.0f, 255.0f));
      return;
    case QOutput::Int8:
      static_cast<int8_t*>(c)[index] = static_cast<int8_t>(
          requantize_value(epilogue_value(accz, s, bias, ep.act), ep.out_scale,
                           static_cast<float>(ep.out_zero_point), -128.0f, 127.0f));
      return;
  }
}

int64_t element_size(QOutput o) {
  return (o == QOutput::Float32 || o == QOutput::Int32) ? 4 : 1;
}

}  // namespace

namespace detail {

void qepilogue_scalar(const QTile& t, const QEpilogue& ep) {
  const int64_t esize = element_size(ep.output);
  for (int i = 0; i < t.m; ++i) {
    const int64_t row = t.row0 + i;
    const int32_t za = ep.a_zero_points ? ep.a_zero_points[row] : ep.a_zero_point;
    const float sa = ep.a_scales ? ep.a_scales[row] : ep.a_scale;
    for (int j = 0; j < t.n; ++j) {
      // Wrapping int32 arithmetic (unsigned) — the true value fits (K <= kQgemmMaxK).
      const int32_t accz = static_cast<int32_t>(static_cast<uint32_t>(t.acc[i * 32 + j]) -
                                                static_cast<uint32_t>(za) *
                                                    static_cast<uint32_t>(t.col_sums[j]));
      const float s = sa * (t.b_scales ? t.b_scales[j] : t.b_scale);
      const float bias = ep.bias ? ep.bias[t.col0 + j] : 0.0f;
      char* base = static_cast<char*>(t.c) + (i * t.c_rs + j * t.c_cs) * esize;
      store_value(ep, base, 0, accz, s, bias);
    }
  }
}

}  // namespace detail

void qgemm_ref(int64_t M, int64_t N, int64_t K, const uint8_t* A, int64_t a_rs, int64_t a_cs,
               const int8_t* B, int64_t b_rs, int64_t b_cs, const std::vector<float>& b_scales,
               void* C, int64_t c_rs, int64_t c_cs, const QEpilogue& ep) {
  if (M < 0 || N < 0 || K < 0 || K > kQgemmMaxK)
    throw std::invalid_argument("qgemm_ref: bad dimensions");
  if (b_scales.size() != 1 && static_cast<int64_t>(b_scales.size()) != N)
    throw std::invalid_argument("qgemm_ref: weight scales must have 1 or N values");
  const int64_t esize = element_size(ep.output);
  for (int64_t m = 0; m < M; ++m) {
    const int64_t za = ep.a_zero_points ? ep.a_zero_points[m] : ep.a_zero_point;
    const float sa = ep.a_scales ? ep.a_scales[m] : ep.a_scale;
    for (int64_t n = 0; n < N; ++n) {
      int64_t acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += (int64_t(A[m * a_rs + k * a_cs]) - za) * B[k * b_rs + n * b_cs];
      const float s = sa * (b_scales.size() == 1 ? b_scales[0] : b_scales[n]);
      const float bias = ep.bias ? ep.bias[n] : 0.0f;
      store_value(ep, static_cast<char*>(C) + (m * c_rs + n * c_cs) * esize, 0,
                  static_cast<int32_t>(acc), s, bias);
    }
  }
}

namespace detail {
namespace {

constexpr int kGenericMr = 4;

// Contract: A panel u8 (a[g*4*4 + i*4 + t]), B panel as in qgemm.h, full 32 columns,
// rows [0, m) stored to acc (m x 32). Plain loops the compiler may vectorise.
void qgemm_generic_4x32(int64_t kg, const void* a_panel, const int8_t* b, int32_t* acc, int m) {
  const uint8_t* a = static_cast<const uint8_t*>(a_panel);
  int32_t sums[kGenericMr][kQPanelCols] = {};
  for (int64_t g = 0; g < kg; ++g) {
    const uint8_t* ag = a + g * kGenericMr * kQKGroup;
    const int8_t* bg = b + g * kQPanelCols * kQKGroup;
    for (int i = 0; i < m; ++i) {
      for (int j = 0; j < kQPanelCols; ++j) {
        int32_t s = 0;
        for (int t = 0; t < kQKGroup; ++t) s += int32_t(ag[i * kQKGroup + t]) * bg[j * kQKGroup + t];
        sums[i][j] += s;
      }
    }
  }
  for (int i = 0; i < m; ++i) std::memcpy(acc + i * kQPanelCols, sums[i], sizeof(sums[i]));
}

}  // namespace

const QgemmKernelInfo& qgemm_kernel_generic() {
  static const QgemmKernelInfo info{"qgemm_generic_4x32", kGenericMr, QPackA::U8, qgemm_generic_4x32};
  return info;
}

}  // namespace detail
}  // namespace gemm
}  // namespace nn
