// conv_gemm.h — implicit-GEMM convolution for float32 (conv_gemm.cpp): the im2col
// matrix is never materialised; the GEMM's B panels are packed straight from the NCHW
// image and fed to the registered sgemm microkernel (gemm_internal.h).
//
// Per image n and group g (ConvGeom in conv_kernels.h; K = Cg*kh*kw, P = OH*OW):
//   y_ng (Og, P) = w_g (Og, K) @ col_ng (K, P) + bias, relu
// A = w_g packed once per call; B panel q (kc x NR) holds col rows [k0, k1) and output
// positions [q*NR, q*NR + NR) of one image (columns past P are zero), packed as
//   dst[(k - k0)*nr + j] = x[n, g*Cg + c, oh*sh - ph + i*dh, ow*sw - pw + jj*dw]
//   with k = (c*kh + i)*kw + jj, p = q*NR + j = oh*OW + ow (0 outside the image).
#pragma once
#include "cpu/conv_kernels.h"

namespace nn::cpu {

// Packs one B panel as above; x points at channel 0 of the group in image n. Columns
// whose position p0 + j lies outside [0, P) are zero (p0 may be negative).
// conv_pack_b_generic: any geometry and nr (the reference); conv_pack_b_avx512: nr a
// multiple of 16 (gathers with 32-bit lane offsets for sw > 1); conv_pack_b_avx2: sw == 1
// and nr a multiple of 8.
using ConvPackBFn = void (*)(const ConvGeom& g, const float* x, int64_t p0, int64_t k0, int64_t k1, int nr,
                             float* dst);
void conv_pack_b_generic(const ConvGeom& g, const float* x, int64_t p0, int64_t k0, int64_t k1, int nr, float* dst);
void conv_pack_b_avx512(const ConvGeom& g, const float* x, int64_t p0, int64_t k0, int64_t k1, int nr, float* dst);
void conv_pack_b_avx2(const ConvGeom& g, const float* x, int64_t p0, int64_t k0, int64_t k1, int nr, float* dst);

// y = conv2d(x, w) + bias (nullable), relu; float32, contiguous NCHW, N*G*P > 0, K > 0.
// Every output element is computed by the same operations whatever the thread count.
void conv2d_forward_implicit(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                             bool relu);

// dx = conv2d's input gradient for sh == sw == 1: the forward conv of gy with the
// weight flipped in (i, j) and transposed per group (Note [Input gradient as a conv]).
void conv2d_backward_input_implicit(const ConvGeom& g, const float* gy, const float* w, float* dx);

// dw = conv2d's weight gradient, summed over the batch in a fixed order (Note [Implicit
// weight gradient]); bitwise the same for any thread count. N*P > 0.
void conv2d_backward_weight_implicit(const ConvGeom& g, const float* x, const float* gy, float* dw);

// Whether conv2d_backward_weight_implicit is used for this geometry (a function of the
// geometry only, never of the thread count, so dw stays thread-count independent):
// enough tap panels for the threads to share.
bool conv_weight_grad_implicit_pays(const ConvGeom& g);

}  // namespace nn::cpu
