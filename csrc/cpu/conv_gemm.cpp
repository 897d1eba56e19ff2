// conv_gemm.cpp — implicit-GEMM float32 convolution (layouts in conv_gemm.h): the
// driver that packs the weight once per call, packs B panels from the image and calls
// the active ISA's sgemm microkernel with bias and ReLU fused into its tile epilogue;
// the reference B-panel packer; the stride-1 input gradient as a forward conv (Note
// [Input gradient as a conv]); and the weight gradient as a GEMM over the batch's output
// positions (Note [Implicit weight gradient]).
//
// Loop nest (per thread, over a contiguous share of the items (n, g, q), q innermost,
// or (g, q) when panels run across images, Note [Column panels across images]):
//   item (image n, group g, column panel q of NR output positions):
//     kb over K in equal blocks of at most the kernel's kc:
//       pack B panel (kc x NR) from image n       (stays in L1)
//       ir over Og by MR:  microkernel(A panel (g, kb, ir) from L2, B panel) into
//                          y[n, g*Og + ir.., q*NR..], row stride P;
//                          beta = 0 on the first k block, 1 after; bias + relu on the last
// The k blocking and every tile's operations are fixed by the geometry and the ISA, so
// the result does not depend on the thread count.
#include <algorithm>
#include <vector>

#include "core/parallel.h"
#include "cpu/conv_gemm.h"
#include "cpu/cpu_features.h"
#include "cpu/gemm/gemm_internal.h"
#include "cpu/gemm/gemm_pack.h"

namespace nn::cpu {

void conv_pack_b_generic(const ConvGeom& g, const float* x, int64_t p0, int64_t k0, int64_t k1, int nr, float* dst) {
  constexpr int kMaxNr = 64;  // >= the nr of every registered sgemm kernel (32 at most)
  int64_t oh[kMaxNr], ow[kMaxNr];
  // columns [j0, j1) hold positions in [0, P) (p0 < 0: a panel that starts in an
  // earlier image, Note [Column panels across images])
  const int64_t j0 = std::min<int64_t>(nr, std::max<int64_t>(0, -p0));
  const int64_t j1 = std::max<int64_t>(j0, std::min<int64_t>(nr, g.P - p0));
  for (int64_t j = j0; j < j1; ++j) {
    oh[j] = (p0 + j) / g.OW;
    ow[j] = (p0 + j) % g.OW;
  }
  const int64_t khw = g.kh * g.kw;
  int64_t c = k0 / khw, r = k0 % khw;
  for (int64_t k = k0; k < k1; ++k) {
    const int64_t i = r / g.kw, jj = r % g.kw;
    const float* xc = x + c * g.H * g.W;
    float* row = dst + (k - k0) * nr;
    for (int64_t j = 0; j < j0; ++j) row[j] = 0.0f;
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t ih = oh[j] * g.sh - g.ph + i * g.dh, iw = ow[j] * g.sw - g.pw + jj * g.dw;
      row[j] = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W ? xc[ih * g.W + iw] : 0.0f;
    }
    for (int64_t j = j1; j < nr; ++j) row[j] = 0.0f;
    if (++r == khw) {
      r = 0;
      ++c;
    }
  }
}

namespace {

using gemm::detail::AlignedScratch;
using gemm::detail::SgemmKernelInfo;
using gemm::detail::TileEpilogue;

thread_local AlignedScratch tls_conv_a;
thread_local AlignedScratch tls_conv_b;
thread_local AlignedScratch tls_conv_col;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

const SgemmKernelInfo& kernel_for(Isa isa) {
#ifdef NN_CORE_X86
  if (isa == Isa::Avx512) return gemm::detail::sgemm_kernel_avx512();
  if (isa == Isa::Avx2) return gemm::detail::sgemm_kernel_avx2();
#endif
  (void)isa;
  return gemm::detail::sgemm_kernel_generic();
}

// Transposing packs of the active ISA (gemm_internal.h), or the gemm_pack.h templates.
void pack_a_rows(Isa isa, const float* a, int64_t rs, int64_t m, int64_t k, int mr, float* dst) {
#ifdef NN_CORE_X86
  if (isa == Isa::Avx512) return gemm::detail::pack_a_block_unit_cs_f32_avx512(a, rs, m, k, mr, k, dst);
  if (isa == Isa::Avx2) return gemm::detail::pack_a_block_unit_cs_f32_avx2(a, rs, m, k, mr, k, dst);
#endif
  (void)isa;
  gemm::detail::pack_a_block<float, float, 1>(a, rs, 1, m, k, mr, k, dst);
}

void pack_b_cols(Isa isa, const float* b, int64_t cs, int64_t k, int64_t n, int nr, float* dst) {
#ifdef NN_CORE_X86
  if (isa == Isa::Avx512) return gemm::detail::pack_b_panels_unit_rs_f32_avx512(b, cs, k, n, nr, k, 0, 1, dst);
  if (isa == Isa::Avx2) return gemm::detail::pack_b_panels_unit_rs_f32_avx2(b, cs, k, n, nr, k, 0, 1, dst);
#endif
  (void)isa;
  gemm::detail::pack_b_panels<float, float, 1>(b, 1, cs, k, n, nr, k, 0, 1, dst);
}

ConvPackBFn packer_for(Isa isa, const ConvGeom& g, int nr) {
#ifdef NN_CORE_X86
  if (isa == Isa::Avx512 && nr % 16 == 0 && g.sw <= (int64_t{1} << 26)) return conv_pack_b_avx512;  // 32-bit gather offsets
  if (isa == Isa::Avx2 && g.sw == 1 && nr % 8 == 0) return conv_pack_b_avx2;
#endif
  (void)isa;
  (void)g;
  (void)nr;
  return conv_pack_b_generic;
}

}  // namespace

void conv2d_forward_implicit(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                             bool relu) {
  const Isa isa = active_isa();
  const SgemmKernelInfo& info = kernel_for(isa);
  const int mr = info.mr, nr = info.nr;
  const ConvPackBFn pack_b = packer_for(isa, g, nr);
  const int64_t k_blocks = ceil_div(g.K, info.kc);
  const int64_t kc_max = ceil_div(g.K, k_blocks);
  const int64_t og_pad = ceil_div(g.Og, mr) * mr;
  const int64_t a_block = og_pad * kc_max;  // floats per (group, k block)

  // A: block (gr, kb) at a + (gr*k_blocks + kb)*a_block, MR-row panels of depth kc.
  float* a = static_cast<float*>(tls_conv_a.get(sizeof(float) * g.G * k_blocks * a_block));
  parallel_for(0, g.G * k_blocks, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t gr = t / k_blocks, kb = t % k_blocks;
      const int64_t k0 = kb * kc_max, kc = std::min(kc_max, g.K - k0);
      pack_a_rows(isa, w + gr * g.Og * g.K + k0, g.K, g.Og, kc, mr, a + t * a_block);
    }
  });

  // Note [Column panels across images]: panels normally stay inside one image (ceil(P/NR)
  // per image), so tiles store straight into y. When that wastes more than 1/16 of the
  // columns (small outputs, e.g. 7x7: 49 -> 64), the N*P columns of a group are cut into
  // panels instead; a panel over several images is packed per image (each pack zero
  // outside its image) and summed, computed into a scratch tile block, and copied out.
  const int64_t ppi = ceil_div(g.P, nr);
  const bool span = ppi * nr * 15 > g.P * 16;
  const int64_t panels = span ? ceil_div(g.N * g.P, nr) : ppi;  // per group (span) or per image
  const int64_t items = span ? g.G * panels : g.N * g.G * panels;
  parallel_for(0, items, 1, [&](int64_t i0, int64_t i1) {
    if (info.prepare != nullptr) info.prepare();
    float* b = static_cast<float*>(tls_conv_b.get(sizeof(float) * kc_max * nr * (span ? 2 : 1)));
    float* b2 = b + kc_max * nr;
    float* ctile = span ? static_cast<float*>(tls_conv_col.get(sizeof(float) * og_pad * nr)) : nullptr;
    for (int64_t item = i0; item < i1; ++item) {
      int64_t gr, c0, cols;  // columns [c0, c0 + cols) of the group's N*P
      if (span) {
        gr = item / panels;
        c0 = item % panels * nr;
        cols = std::min<int64_t>(nr, g.N * g.P - c0);
      } else {
        const int64_t q = item % panels, ng = item / panels;
        gr = ng % g.G;
        c0 = ng / g.G * g.P + q * nr;
        cols = std::min<int64_t>(nr, g.P - q * nr);
      }
      const int64_t n0 = c0 / g.P, n1 = (c0 + cols - 1) / g.P + 1;  // images [n0, n1)
      const float* xg = x + gr * g.Cg * g.H * g.W;
      const int64_t img = g.C * g.H * g.W;
      // one image: tiles store into y; several: into ctile (row stride nr)
      float* cbase = n1 - n0 == 1 ? y + (n0 * g.Cout + gr * g.Og) * g.P + (c0 - n0 * g.P) : ctile;
      const int64_t c_rs = n1 - n0 == 1 ? g.P : nr;
      for (int64_t kb = 0; kb < k_blocks; ++kb) {
        const int64_t k0 = kb * kc_max, kc = std::min(kc_max, g.K - k0);
        pack_b(g, xg + n0 * img, c0 - n0 * g.P, k0, k0 + kc, nr, b);
        for (int64_t n = n0 + 1; n < n1; ++n) {
          pack_b(g, xg + n * img, c0 - n * g.P, k0, k0 + kc, nr, b2);
          for (int64_t e = 0; e < kc * nr; ++e) b[e] += b2[e];  // disjoint columns, zeros elsewhere
        }
        const float* ab = a + (gr * k_blocks + kb) * a_block;
        const bool last = kb + 1 == k_blocks;
        for (int64_t ir = 0; ir < g.Og; ir += mr) {
          TileEpilogue ep;
          ep.beta = kb == 0 ? 0.0f : 1.0f;
          if (last) {
            if (bias) {
              ep.bias = bias + gr * g.Og + ir;
              ep.bias_kind = gemm::BiasKind::PerRow;
            }
            ep.act = relu ? gemm::Activation::Relu : gemm::Activation::None;
          }
          const int m = static_cast<int>(std::min<int64_t>(mr, g.Og - ir));
          info.kernel(kc, ab + ir * kc, b, cbase + ir * c_rs, c_rs, m, static_cast<int>(cols), ep);
        }
      }
      if (n1 - n0 == 1) continue;
      for (int64_t n = n0; n < n1; ++n) {  // columns [j0, j1) of the panel are image n's
        const int64_t j0 = std::max<int64_t>(0, n * g.P - c0), j1 = std::min<int64_t>(cols, (n + 1) * g.P - c0);
        float* yn = y + (n * g.Cout + gr * g.Og) * g.P + (c0 + j0 - n * g.P);
        for (int64_t o = 0; o < g.Og; ++o) std::copy(ctile + o * nr + j0, ctile + o * nr + j1, yn + o * g.P);
      }
    }
  });
}

// Note [Implicit weight gradient]: dw_g (Og, K) = sum_n gy_ng (Og, P) @ col_ng^T (P, K),
// a GEMM whose reduction runs over the batch's output positions, in position blocks of
// at most the kernel's kc: whole images when P <= kc (floor(kc/P) images per block),
// otherwise equal chunks of one image. The reduction is the contiguous dimension of
// both operands, so both are transposed while packing:
//   A = gy rows (Og x block positions), by the GEMM's transposing A packer;
//   B: the taps are taken as (chunk of NR channels, tap r = i*kw + jj) panels, so a B
//      panel row (one position p, NR channels at one tap) is NR consecutive floats of
//      the image transposed to channels-last in NR-channel chunks (xt, once per image
//      and chunk, by the transposing B packer) — a copy of whole rows, zero where the
//      tap falls in the padding.
// The product lands in dwt (Og, chunks*khw*NR) (column (q*khw + r)*NR + j is channel
// q*NR + j at tap r) and is permuted into dw at the end. Threads split (group, panel)
// items; every tile accumulates the blocks in order (beta = 0, then 1), so dw does not
// depend on the thread count.
bool conv_weight_grad_implicit_pays(const ConvGeom& g) {
  const int64_t nr = kernel_for(active_isa()).nr;
  const int64_t chunks = ceil_div(g.Cg, nr);
  const int64_t panels = chunks * g.kh * g.kw;
  return g.G * panels >= 4 && 4 * g.Cg >= 3 * chunks * nr && g.H * g.W <= 16384;
}

void conv2d_backward_weight_implicit(const ConvGeom& g, const float* x, const float* gy, float* dw) {
  const Isa isa = active_isa();
  const SgemmKernelInfo& info = kernel_for(isa);
  const int mr = info.mr, nr = info.nr;
  const int64_t khw = g.kh * g.kw, hw = g.H * g.W;
  const int64_t per_img_blocks = g.P <= info.kc ? 1 : ceil_div(g.P, info.kc);
  const int64_t chunk = ceil_div(g.P, per_img_blocks);                           // positions per piece
  const int64_t imgs = g.P <= info.kc ? std::max<int64_t>(1, info.kc / g.P) : 1;  // images per block
  const int64_t kc_max = imgs * chunk;
  const int64_t blocks = g.P <= info.kc ? ceil_div(g.N, imgs) : g.N * per_img_blocks;
  const int64_t og_pad = ceil_div(g.Og, mr) * mr;
  const int64_t chunks = ceil_div(g.Cg, nr), panels = chunks * khw, kt = panels * nr;
  std::vector<float> dwt(static_cast<size_t>(g.Cout * kt));
  // Pieces of block b: (image n, positions [pa, pb), its index l among the block's images)
  // at offset off in the block.
  auto for_pieces = [&](int64_t b, auto&& fn) {
    if (g.P <= info.kc) {
      for (int64_t n = b * imgs, off = 0; n < std::min(g.N, (b + 1) * imgs); ++n, off += g.P)
        fn(n, int64_t{0}, g.P, n - b * imgs, off);
    } else {
      const int64_t n = b / per_img_blocks, pa = b % per_img_blocks * chunk;
      fn(n, pa, std::min(g.P, pa + chunk), int64_t{0}, int64_t{0});
    }
  };
  parallel_for(0, g.G * panels, 1, [&](int64_t t0, int64_t t1) {
    if (info.prepare != nullptr) info.prepare();
    const int64_t q_span = std::min(chunks, (t1 - 1) / khw - t0 / khw + 1);  // chunks a group share touches
    float* a = static_cast<float*>(tls_conv_a.get(sizeof(float) * og_pad * kc_max));
    float* bp = static_cast<float*>(tls_conv_b.get(sizeof(float) * kc_max * nr));
    float* xt = static_cast<float*>(tls_conv_col.get(sizeof(float) * q_span * imgs * hw * nr));
    for (int64_t gr = t0 / panels; gr <= (t1 - 1) / panels; ++gr) {
      const int64_t u0 = std::max(t0, gr * panels) - gr * panels, u1 = std::min(t1, (gr + 1) * panels) - gr * panels;
      const int64_t qa = u0 / khw, qb = (u1 - 1) / khw + 1;  // chunks of this share
      const float* xg0 = x + gr * g.Cg * hw;
      int64_t xt_image = -1;  // image whose chunks xt holds (P > kc: one image, many blocks)
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t len = g.P <= info.kc ? (std::min(g.N, (b + 1) * imgs) - b * imgs) * g.P
                                            : std::min(chunk, g.P - b % per_img_blocks * chunk);
        for_pieces(b, [&](int64_t n, int64_t pa, int64_t pb, int64_t l, int64_t off) {
          // A: panel ir holds rows [ir, ir + MR) over the block's len positions; one
          // panel per call (m <= MR), this piece's k range [off, off + pb - pa).
          const float* gyg = gy + (n * g.Cout + gr * g.Og) * g.P + pa;
          for (int64_t ir = 0; ir < g.Og; ir += mr)
            pack_a_rows(isa, gyg + ir * g.P, g.P, std::min<int64_t>(mr, g.Og - ir), pb - pa, mr, a + ir * len + off * mr);
          if (g.P <= info.kc || xt_image != n) {  // xt chunk q of image l at xt + ((q - qa)*imgs + l)*hw*nr
            for (int64_t q = qa; q < qb; ++q)
              pack_b_cols(isa, xg0 + (n * g.C + q * nr) * hw, hw, hw, std::min<int64_t>(nr, g.Cg - q * nr), nr,
                          xt + ((q - qa) * imgs + l) * hw * nr);
            xt_image = n;
          }
        });
        for (int64_t u = u0; u < u1; ++u) {
          const int64_t q = u / khw, r = u % khw, i = r / g.kw, jj = r % g.kw;
          const int64_t woff = jj * g.dw - g.pw;
          // ow in [lo, hi) reads an input column inside [0, W)
          int64_t lo = woff >= 0 ? 0 : (-woff + g.sw - 1) / g.sw;
          int64_t hi = g.W - 1 - woff < 0 ? 0 : (g.W - 1 - woff) / g.sw + 1;
          lo = std::min(lo, g.OW);
          hi = std::min(std::max(hi, lo), g.OW);
          for_pieces(b, [&](int64_t, int64_t pa, int64_t pb, int64_t l, int64_t off) {
            const float* src = xt + ((q - qa) * imgs + l) * hw * nr;
            float* out = bp + (off - pa) * nr;  // row of position p at out + p*nr
            for (int64_t oh = pa / g.OW; oh * g.OW < pb; ++oh) {
              const int64_t w0 = std::max(pa, oh * g.OW) - oh * g.OW, w1 = std::min(pb, (oh + 1) * g.OW) - oh * g.OW;
              float* o = out + oh * g.OW * nr;
              const int64_t ih = oh * g.sh - g.ph + i * g.dh;
              if (ih < 0 || ih >= g.H) {
                std::fill(o + w0 * nr, o + w1 * nr, 0.0f);
                continue;
              }
              const int64_t v0 = std::clamp(lo, w0, w1), v1 = std::clamp(hi, v0, w1);
              std::fill(o + w0 * nr, o + v0 * nr, 0.0f);
              const float* in = src + (ih * g.W + woff) * nr;
              if (g.sw == 1) {
                std::copy(in + v0 * nr, in + v1 * nr, o + v0 * nr);
              } else {
                for (int64_t ow = v0; ow < v1; ++ow) std::copy(in + ow * g.sw * nr, in + (ow * g.sw + 1) * nr, o + ow * nr);
              }
              std::fill(o + v1 * nr, o + w1 * nr, 0.0f);
            }
          });
          for (int64_t ir = 0; ir < g.Og; ir += mr) {
            TileEpilogue ep;
            ep.beta = b == 0 ? 0.0f : 1.0f;
            const int m = static_cast<int>(std::min<int64_t>(mr, g.Og - ir));
            info.kernel(len, a + ir * len, bp, dwt.data() + (gr * g.Og + ir) * kt + u * nr, kt, m, nr, ep);
          }
        }
      }
    }
  });
  parallel_for(0, g.Cout, 16, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o)
      for (int64_t c = 0; c < g.Cg; ++c)
        for (int64_t r = 0; r < khw; ++r) dw[(o * g.Cg + c) * khw + r] = dwt[o * kt + ((c / nr) * khw + r) * nr + c % nr];
  });
}

// Note [Input gradient as a conv]: with stride 1,
//   dx[n, g*Cg + c, h, w] = sum_{o, i, j} gy[n, g*Og + o, h + ph - i*dh, w + pw - j*dw] * w[g*Og + o, c, i, j]
// which is the forward conv of gy (Og input channels per group) with
//   w'[g*Cg + c, o, kh-1-i, kw-1-j] = w[g*Og + o, c, i, j]
// and padding dh*(kh-1) - ph (possibly negative: the packers take any offset), whose
// output size is exactly (H, W).
void conv2d_backward_input_implicit(const ConvGeom& g, const float* gy, const float* w, float* dx) {
  ConvGeom t = g;
  t.C = g.Cout;
  t.H = g.OH;
  t.W = g.OW;
  t.Cout = g.C;
  t.OH = g.H;
  t.OW = g.W;
  t.Cg = g.Og;
  t.Og = g.Cg;
  t.K = g.Og * g.kh * g.kw;
  t.P = g.H * g.W;
  t.ph = g.dh * (g.kh - 1) - g.ph;
  t.pw = g.dw * (g.kw - 1) - g.pw;
  t.pointwise = false;
  const int64_t khw = g.kh * g.kw;
  std::vector<float> wt(static_cast<size_t>(g.C * t.K));
  parallel_for(0, g.C, 16, [&](int64_t r0, int64_t r1) {  // row gr*Cg + c of wt
    for (int64_t row = r0; row < r1; ++row) {
      const int64_t gr = row / g.Cg, c = row % g.Cg;
      for (int64_t o = 0; o < g.Og; ++o) {
        const float* src = w + ((gr * g.Og + o) * g.Cg + c) * khw;
        float* dst = wt.data() + row * t.K + o * khw;
        for (int64_t r = 0; r < khw; ++r) dst[khw - 1 - r] = src[r];
      }
    }
  });
  conv2d_forward_implicit(t, gy, wt.data(), nullptr, dx, false);
}

}  // namespace nn::cpu
