// attention.cpp — scaled_dot_product_attention and dropout: argument checks, the
// compute-dtype views the fused kernels read (cpu/attention_kernels.cpp,
// cpu/layer_norm_kernels.cpp), and their backward nodes.
//
// Dtypes: float32 and float64 run natively; float16/bfloat16 inputs are converted to
// float32 (Note [Half types]) and the result converted back. The output is allocated
// in (B, Lq, Hq, Dv) memory order and returned as a (B, Hq, Lq, Dv) view, so the usual
// transpose(1, 2).reshape(B, Lq, Hq*Dv) of multi-head attention costs no copy.
// The backward saves q, k, v, out and the per-row log-sum-exp (O(L*D) memory) and
// recomputes the probabilities block by block (Note [Attention backward]).
#include <cmath>
#include <limits>

#include "core/random.h"
#include "ops/attention_ops.h"
#include "ops/internal.h"

namespace nn {
using autograd::SavedTensor;

namespace {
constexpr const char* kSdpa = "scaled_dot_product_attention";

// A compute-dtype view with non-negative strides and a unit last stride.
Tensor kernel_view(const Tensor& t, DType cdt) {
  Tensor c = detail::nonnegative_strides(detail::cast_raw(t, cdt));
  if (c.sizes().back() > 1 && c.strides().back() != 1) c = detail::contiguous_raw(c);
  return c;
}

// The additive float mask viewed as (B, Hq, Lq, Lk) with a unit key stride. Only the
// mask's own (non-broadcast) elements are materialised.
Tensor prepare_mask(const Tensor& mask, const Shape& target, DType cdt) {
  Tensor m = mask;
  if (m.dtype() == DType::Bool)
    m = where(m, zeros({}, cdt), full({}, -std::numeric_limits<double>::infinity(), cdt));
  else
    m = detail::cast_raw(m, cdt);
  Shape s4(4 - m.dim(), 1), st4(4 - m.dim(), 0);
  s4.insert(s4.end(), m.sizes().begin(), m.sizes().end());
  st4.insert(st4.end(), m.strides().begin(), m.strides().end());
  m = make_view(m, s4, st4, m.offset());
  if (s4[3] != target[3] || m.strides()[3] != 1) {
    m = detail::contiguous_raw(detail::broadcast_view(m, {s4[0], s4[1], s4[2], target[3]}));
  }
  return detail::broadcast_view(m, target);
}

void check_attention_args(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double dropout_p) {
  NN_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, ShapeError, kSdpa,
           ": expected q, k, v of shape (B, H, L, D), got ", q.sizes(), ", ", k.sizes(), ", ", v.sizes());
  NN_CHECK(is_floating(q.dtype()) && q.dtype() == k.dtype() && q.dtype() == v.dtype(), DTypeError, kSdpa,
           ": q, k, v must have one floating dtype, got ", q.dtype(), ", ", k.dtype(), ", ", v.dtype());
  detail::check_same_device(q, k, kSdpa);
  detail::check_same_device(q, v, kSdpa);
  const Shape& qs = q.sizes(); const Shape& ks = k.sizes(); const Shape& vs = v.sizes();
  NN_CHECK(ks[0] == qs[0] && vs[0] == qs[0], ShapeError, kSdpa, ": batch sizes differ: q ", qs, ", k ", ks,
           ", v ", vs);
  NN_CHECK(ks[1] == vs[1], ShapeError, kSdpa, ": k and v must have the same number of heads, got ", ks, " and ", vs);
  NN_CHECK((ks[1] == 0 && qs[1] == 0) || (ks[1] > 0 && qs[1] % ks[1] == 0), ShapeError, kSdpa,
           ": the number of query heads (", qs[1], ") must be a multiple of the number of key/value heads (", ks[1],
           ")");
  NN_CHECK(ks[2] == vs[2], ShapeError, kSdpa, ": k and v must have the same length, got ", ks, " and ", vs);
  NN_CHECK(ks[3] == qs[3], ShapeError, kSdpa, ": q and k must have the same head dim, got ", qs, " and ", ks);
  NN_CHECK(dropout_p >= 0 && dropout_p <= 1, ValueError, kSdpa, ": dropout_p must be in [0, 1], got ", dropout_p);
  if (mask.defined()) {
    const Shape target{qs[0], qs[1], qs[2], ks[2]};
    NN_CHECK(mask.dim() <= 4, ShapeError, kSdpa, ": attn_mask of shape ", mask.sizes(),
             " must broadcast to (B, H, Lq, Lk) = ", target);
    bool ok = true;
    for (int64_t i = 0; i < mask.dim(); ++i) {
      const int64_t s = mask.sizes()[mask.dim() - 1 - i];
      ok = ok && (s == 1 || s == target[3 - i]);
    }
    NN_CHECK(ok, ShapeError, kSdpa, ": attn_mask of shape ", mask.sizes(), " does not broadcast to (B, H, Lq, Lk) = ",
             target);
    NN_CHECK(mask.dtype() == DType::Bool || is_floating(mask.dtype()), DTypeError, kSdpa,
             ": attn_mask must be bool or floating, got ", mask.dtype());
    NN_CHECK(!(mask.requires_grad() && autograd::GradMode::is_enabled()), RuntimeError, kSdpa,
             ": gradients with respect to attn_mask are not supported (pass attn_mask.detach())");
    detail::check_same_device(q, mask, kSdpa);
  }
}

}  // namespace

Tensor native_scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                                    double dropout_p, bool is_causal, std::optional<double> scale) {
  check_attention_args(q, k, v, attn_mask, dropout_p);
  const int64_t B = q.sizes()[0], Hq = q.sizes()[1], Lq = q.sizes()[2], D = q.sizes()[3];
  const int64_t Lk = k.sizes()[2], Dv = v.sizes()[3];
  const DType cdt = compute_dtype(q.dtype());
  AttentionArgs a;
  a.q = kernel_view(q, cdt);
  a.k = kernel_view(k, cdt);
  a.v = kernel_view(v, cdt);
  if (attn_mask.defined()) a.mask = prepare_mask(attn_mask, {B, Hq, Lq, Lk}, cdt);
  a.causal = is_causal;
  a.scale = scale ? *scale : (D > 0 ? 1.0 / std::sqrt(static_cast<double>(D)) : 1.0);
  a.dropout_p = dropout_p;
  if (dropout_p > 0) {
    const GeneratorState g = reserve_random(static_cast<uint64_t>((B * Hq * Lq * Lk + 3) / 4));
    a.seed = g.seed;
    a.offset = g.offset;
  }
  Tensor storage = empty({B, Lq, Hq, Dv}, cdt, q.device());
  Tensor out = make_view(storage, {B, Hq, Lq, Dv}, {Lq * Hq * Dv, Dv, Hq * Dv, 1}, 0);
  Tensor lse = empty({B, Hq, Lq}, cdt, q.device());
  kernels().attention.get(OpId::scaled_dot_product_attention, q.device())(a, out, lse);
  Tensor result = detail::cast_raw(out, q.dtype());
  if (autograd::needs_grad({&q, &k, &v})) {
    SavedTensor sq(a.q), sk(a.k), sv(a.v), so(out), sl(lse);
    const DType qd = q.dtype(), kd = k.dtype(), vd = v.dtype();
    AttentionArgs meta = a;
    meta.q = meta.k = meta.v = Tensor();
    autograd::record("ScaledDotProductAttentionBackward", {q, k, v}, {result},
                     [=](const std::vector<Tensor>& grads) {
      const char* name = "ScaledDotProductAttentionBackward";
      if (!grads[0].defined()) return std::vector<Tensor>{Tensor(), Tensor(), Tensor()};
      AttentionArgs b = meta;
      b.q = sq.unpack(name);
      b.k = sk.unpack(name);
      b.v = sv.unpack(name);
      const Tensor g = kernel_view(grads[0], cdt);
      Tensor dq = empty(b.q.sizes(), cdt), dk = empty(b.k.sizes(), cdt), dv = empty(b.v.sizes(), cdt);
      kernels().attention_backward.get(OpId::scaled_dot_product_attention, g.device())(
          b, g, so.unpack(name), sl.unpack(name), dq, dk, dv);
      return std::vector<Tensor>{detail::cast_raw(dq, qd), detail::cast_raw(dk, kd), detail::cast_raw(dv, vd)};
    });
  }
  return result;
}

Tensor native_dropout(const Tensor& x, double p, bool training) {
  NN_CHECK(p >= 0 && p <= 1, ValueError, "dropout: p must be in [0, 1], got ", p);
  NN_CHECK(is_floating(x.dtype()), DTypeError, "dropout: expected a floating-point tensor, got ", x.dtype());
  if (!training || p == 0) return x;
  const DType cdt = compute_dtype(x.dtype());
  const Tensor xc = detail::contiguous_raw(detail::cast_raw(x, cdt));
  const GeneratorState g = reserve_random(static_cast<uint64_t>((x.numel() + 3) / 4));
  Tensor out = empty(x.sizes(), cdt, x.device());
  kernels().dropout.get(OpId::dropout, x.device())(xc, out, p, g.seed, g.offset);
  Tensor result = detail::cast_raw(out, x.dtype());
  if (autograd::needs_grad({&x})) {
    const DType xd = x.dtype();
    autograd::record("DropoutBackward", {x}, {result}, [=](const std::vector<Tensor>& grads) {
      const Tensor gc = detail::contiguous_raw(detail::cast_raw(grads[0], cdt));
      Tensor gx = empty(gc.sizes(), cdt, gc.device());
      kernels().dropout.get(OpId::dropout, gc.device())(gc, gx, p, g.seed, g.offset);
      return std::vector<Tensor>{detail::cast_raw(gx, xd)};
    });
  }
  return result;
}

}  // namespace nn
