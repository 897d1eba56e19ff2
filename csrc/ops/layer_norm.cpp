// layer_norm.cpp — layer_norm, rms_norm (fused kernels in cpu/layer_norm_kernels.cpp) and embedding
// (the row gather/scatter kernels of cpu/index_kernels.cpp): checks, compute-dtype
// copies, backward nodes. Half types compute in float32 (Note [Half types]).
#include <limits>

#include "ops/attention_ops.h"
#include "ops/internal.h"

namespace nn {
using autograd::SavedTensor;

namespace {

Tensor norm_impl(OpId op, const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                 double eps) {
  const char* name = op_info(op).name;
  const bool rms = op == OpId::rms_norm;
  const int64_t nd = static_cast<int64_t>(normalized_shape.size());
  NN_CHECK(nd >= 1 && nd <= x.dim(), ShapeError, name, ": normalized_shape ", normalized_shape,
           " must have 1 to input.dim() = ", x.dim(), " dims (input shape ", x.sizes(), ")");
  NN_CHECK(Shape(x.sizes().end() - nd, x.sizes().end()) == normalized_shape, ShapeError, name, ": input shape ",
           x.sizes(), " does not end with normalized_shape ", normalized_shape);
  for (const Tensor* t : {&weight, &bias}) {
    if (!t->defined()) continue;
    NN_CHECK(t->sizes() == normalized_shape, ShapeError, name, ": weight and bias must have shape normalized_shape ",
             normalized_shape, ", got ", t->sizes());
    NN_CHECK(is_floating(t->dtype()), DTypeError, name, ": weight and bias must be floating, got ", t->dtype());
    detail::check_same_device(x, *t, name);
  }
  NN_CHECK(is_floating(x.dtype()), DTypeError, name, ": expected a floating-point input, got ", x.dtype());
  NN_CHECK(eps >= 0, ValueError, name, ": eps must be non-negative, got ", eps);
  DType dtype = x.dtype();
  if (weight.defined()) dtype = promote_types(dtype, weight.dtype());
  if (bias.defined()) dtype = promote_types(dtype, bias.dtype());
  const DType cdt = compute_dtype(dtype);
  const int64_t N = shape_numel(normalized_shape), R = N == 0 ? 0 : x.numel() / N;
  const Tensor xfull = detail::contiguous_raw(detail::cast_raw(x, cdt));
  const Tensor xc = make_view(xfull, {R, N}, {N, 1}, xfull.offset());  // the kernels' (R, N) rows
  const Tensor wc = weight.defined() ? detail::contiguous_raw(detail::cast_raw(weight, cdt)) : Tensor();
  const Tensor bc = bias.defined() ? detail::contiguous_raw(detail::cast_raw(bias, cdt)) : Tensor();
  Tensor y = empty({R, N}, cdt, x.device());
  Tensor mean = rms ? Tensor() : empty({R}, cdt, x.device()), rstd = empty({R}, cdt, x.device());
  if (R * N > 0) kernels().layer_norm.get(op, x.device())(xc, wc, bc, eps, rms, y, mean, rstd);
  Tensor out = detail::cast_raw(make_view(y, x.sizes(), contiguous_strides(x.sizes()), 0), dtype);
  if (autograd::needs_grad({&x, &weight, &bias})) {
    SavedTensor sx(xc), sw(wc), sm(mean), sr(rstd);
    const Shape x_sizes = x.sizes();
    const DType xd = x.dtype(), wd = weight.defined() ? weight.dtype() : cdt, bd = bias.defined() ? bias.dtype() : cdt;
    const bool gw = weight.defined() && weight.requires_grad(), gb = bias.defined() && bias.requires_grad();
    const std::string node = detail::backward_name(op);
    autograd::record(node, {x, weight, bias}, {out}, [=](const std::vector<Tensor>& grads) {
      const Tensor gfull = detail::contiguous_raw(detail::cast_raw(grads[0], cdt));
      const Tensor g = make_view(gfull, {R, N}, {N, 1}, gfull.offset());
      const Tensor xs = sx.unpack(node);
      Tensor gx = empty(xs.sizes(), cdt, xs.device());
      Tensor gwt = gw ? empty(normalized_shape, cdt, xs.device()) : Tensor();
      Tensor gbt = gb ? empty(normalized_shape, cdt, xs.device()) : Tensor();
      if (R * N > 0) {
        kernels().layer_norm_backward.get(op, xs.device())(g, xs, sw.defined() ? sw.unpack(node) : Tensor(),
                                                     sm.defined() ? sm.unpack(node) : Tensor(), sr.unpack(node), rms,
                                                     gx, gwt, gbt);
      } else {
        for (const Tensor& t : {gwt, gbt})
          if (t.defined()) fill_(t, 0.0);
      }
      gx = make_view(gx, x_sizes, contiguous_strides(x_sizes), 0);
      return std::vector<Tensor>{detail::cast_raw(gx, xd), gw ? detail::cast_raw(gwt, wd) : Tensor(),
                                 gb ? detail::cast_raw(gbt, bd) : Tensor()};
    });
  }
  return out;
}

}  // namespace

Tensor native_layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  return norm_impl(OpId::layer_norm, x, normalized_shape, weight, bias, eps);
}

Tensor native_rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, std::optional<double> eps) {
  double e = 0;
  if (eps) {
    e = *eps;
  } else {
    switch (x.dtype()) {
      case DType::Float64: e = std::numeric_limits<double>::epsilon(); break;
      case DType::Float16: e = 0.0009765625; break;
      case DType::BFloat16: e = 0.0078125; break;
      default: e = std::numeric_limits<float>::epsilon(); break;
    }
  }
  return norm_impl(OpId::rms_norm, x, normalized_shape, weight, Tensor(), e);
}

Tensor native_embedding(const Tensor& indices, const Tensor& weight, std::optional<int64_t> padding_idx) {
  NN_CHECK(weight.dim() == 2, ShapeError, "embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape ",
           weight.sizes());
  NN_CHECK(indices.dtype() == DType::Int64 || indices.dtype() == DType::Int32 || indices.dtype() == DType::Int8 ||
               indices.dtype() == DType::UInt8,
           DTypeError, "embedding: indices must be an integer tensor, got ", indices.dtype());
  detail::check_same_device(indices, weight, "embedding");
  const int64_t V = weight.sizes()[0], Dm = weight.sizes()[1];
  std::optional<int64_t> pad = padding_idx;
  if (pad) {
    NN_CHECK(*pad >= -V && *pad < V, ValueError, "embedding: padding_idx ", *pad, " must be within [-", V, ", ", V,
             ") for a weight of shape ", weight.sizes());
    if (*pad < 0) pad = *pad + V;
  }
  const Tensor idx = detail::contiguous_raw(detail::cast_raw(indices, DType::Int64));
  const int64_t N = idx.numel();
  const int64_t* p = idx.data<int64_t>();
  for (int64_t i = 0; i < N; ++i)
    NN_CHECK(p[i] >= 0 && p[i] < V, IndexError, "embedding: index ", p[i], " is out of range for a weight with ", V,
             " rows (shape ", weight.sizes(), ")");
  const Tensor flat = make_view(idx, {N}, {1}, idx.offset());
  Tensor rows = empty({N, Dm}, weight.dtype(), weight.device());
  if (N * Dm > 0) kernels().gather.get(OpId::index, weight.device())(weight, flat, rows);
  Shape out_shape = indices.sizes();
  out_shape.push_back(Dm);
  Tensor out = make_view(rows, out_shape, contiguous_strides(out_shape), 0);
  if (autograd::needs_grad({&weight})) {
    const DType wd = weight.dtype(), cdt = compute_dtype(wd);
    autograd::record("EmbeddingBackward", {weight}, {out}, [=](const std::vector<Tensor>& grads) {
      const Tensor g = detail::contiguous_raw(detail::cast_raw(grads[0], cdt));
      Tensor gw = zeros({V, Dm}, cdt);
      if (N * Dm > 0)
        kernels().scatter.get(OpId::index_put, gw.device())(gw, flat, make_view(g, {N, Dm}, {Dm, 1}, g.offset()),
                                                            true);
      if (pad && Dm > 0) kernels().fill.get(OpId::fill_, gw.device())(make_view(gw, {Dm}, {1}, *pad * Dm), 0.0);
      return std::vector<Tensor>{detail::cast_raw(gw, wd)};
    });
  }
  return out;
}

}  // namespace nn
