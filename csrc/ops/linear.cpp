// linear.cpp — bmm, linear and addmm. float32 and bfloat16 run as one GEMM call with
// the bias and activation fused into the write-back (GemmKernel in kernels/dispatch.h);
// other dtypes (float64, float16) are composed from matmul/add/activation ops, which
// is also the reference the fused path is tested against.
//
// Backward reuses the same GEMM through transposed views (no copies):
//   grad_x = g @ W,  grad_W = g^T @ x,  grad_b = sum_rows(g)
// with g first multiplied by the activation's derivative (relu: out > 0). A gelu
// linear that needs gradients runs the GEMM with bias only and applies gelu as its own
// op, so the pre-activation is saved there.
#include "ops/internal.h"

namespace nn {
using autograd::SavedTensor;

namespace {

GemmActivation parse_activation(const std::string& name) {
  if (name == "none") return GemmActivation::None;
  if (name == "relu") return GemmActivation::Relu;
  if (name == "gelu") return GemmActivation::Gelu;
  throw ValueError(str("linear: activation must be 'none', 'relu' or 'gelu', got '", name, "'"));
}

bool fusable(DType t) { return t == DType::Float32 || t == DType::BFloat16; }

// Rows of x as an (M, K) view, copying only when the leading dims can't be merged.
Tensor as_matrix(const Tensor& x, int64_t K) {
  if (x.dim() == 2) return x;
  const int64_t M = K == 0 ? shape_numel(Shape(x.sizes().begin(), x.sizes().end() - 1)) : x.numel() / K;
  if (x.dim() == 1) return make_view(x, {1, K}, {0, x.strides()[0]}, x.offset());
  Tensor c = detail::contiguous_raw(x);
  return make_view(c, {M, K}, {K, 1}, c.offset());
}

}  // namespace

Tensor native_bmm(const Tensor& a, const Tensor& b) {
  NN_CHECK(a.dim() == 3 && b.dim() == 3, ShapeError, "bmm: expected 3-D tensors, got shapes ", a.sizes(), " and ",
           b.sizes());
  NN_CHECK(a.sizes()[0] == b.sizes()[0], ShapeError, "bmm: batch sizes differ: ", a.sizes(), " and ", b.sizes());
  NN_CHECK(a.sizes()[2] == b.sizes()[1], ShapeError, "bmm: shapes ", a.sizes(), " and ", b.sizes(),
           " cannot be multiplied (", a.sizes()[2], " != ", b.sizes()[1], ")");
  return matmul(a, b);
}

Tensor native_linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const std::string& activation) {
  const GemmActivation act = parse_activation(activation);
  NN_CHECK(weight.dim() == 2, ShapeError, "linear: weight must be 2-D (out_features, in_features), got shape ",
           weight.sizes());
  NN_CHECK(x.dim() >= 1, ShapeError, "linear: input must have at least 1 dimension, got a 0-dim tensor");
  const int64_t N = weight.sizes()[0], K = weight.sizes()[1];
  NN_CHECK(x.sizes().back() == K, ShapeError, "linear: input shape ", x.sizes(), " and weight shape ", weight.sizes(),
           " are incompatible (the input's last dim ", x.sizes().back(), " must equal in_features ", K, ")");
  NN_CHECK(!bias.defined() || (bias.dim() == 1 && bias.sizes()[0] == N), ShapeError, "linear: bias must have shape (",
           N, ",), got ", bias.defined() ? bias.sizes() : Shape{});
  NN_CHECK(is_floating(x.dtype()) && is_floating(weight.dtype()), DTypeError,
           "linear: expected floating-point input and weight, got ", x.dtype(), " and ", weight.dtype());
  detail::check_same_device(x, weight, "linear");
  DType dtype = promote_types(x.dtype(), weight.dtype());
  if (bias.defined()) dtype = promote_types(dtype, bias.dtype());

  if (!fusable(dtype)) {  // composite path (float64, float16)
    Tensor y = matmul(x, transpose(weight, 0, 1));
    if (bias.defined()) y = add(y, bias);
    if (act == GemmActivation::Relu) y = relu(y);
    if (act == GemmActivation::Gelu) y = gelu(y);
    return y;
  }

  const bool grad = autograd::needs_grad({&x, &weight, &bias});
  const GemmActivation fused_act = (grad && act == GemmActivation::Gelu) ? GemmActivation::None : act;
  Tensor x2 = as_matrix(detail::cast_raw(x, dtype), K);
  const int64_t M = x2.sizes()[0];
  Tensor w = detail::cast_raw(weight, dtype);
  w = detail::nonnegative_strides(w);
  x2 = detail::nonnegative_strides(x2);
  Tensor wt = make_view(w, {K, N}, {w.strides()[1], w.strides()[0]}, w.offset());
  GemmEpilogue ep;
  if (bias.defined()) ep.bias = detail::contiguous_raw(detail::cast_raw(bias, DType::Float32));
  ep.act = fused_act;
  Tensor out = empty({M, N}, DType::Float32, x.device());
  if (M * N > 0) {
    if (K == 0) {  // empty reduction: the epilogue applied to zeros
      kernels().fill.get(OpId::fill_, x.device())(out, 0.0);
      Tensor y = bias.defined() ? add(out, ep.bias) : out;
      if (fused_act == GemmActivation::Relu) y = relu(y);
      if (fused_act == GemmActivation::Gelu) y = gelu(y);
      detail::copy_raw(out, y);
    } else {
      kernels().gemm.get(OpId::linear, x.device())(x2, wt, out, ep);
    }
  }
  Shape out_shape(x.sizes().begin(), x.sizes().end() - 1);
  out_shape.push_back(N);
  out = detail::cast_raw(make_view(out, out_shape, contiguous_strides(out_shape), 0), dtype);
  if (grad) {
    SavedTensor sx(x), sw(weight), so(fused_act == GemmActivation::Relu ? out : Tensor());
    const Shape x_sizes = x.sizes();
    const DType xd = x.dtype(), wd = weight.dtype(), bd = bias.defined() ? bias.dtype() : dtype;
    const bool gx = x.requires_grad(), gw = weight.requires_grad(), gb = bias.defined() && bias.requires_grad();
    autograd::record("LinearBackward", {x, weight, bias}, {out}, [=](const std::vector<Tensor>& grads) {
      Tensor g = grads[0];
      if (fused_act == GemmActivation::Relu) {
        Tensor y = so.unpack("LinearBackward");
        g = mul(g, detail::cast_raw(gt(y, zeros({}, y.dtype())), g.dtype()));
      }
      Tensor g2 = reshape(g, {M, N});
      Tensor grad_x, grad_w, grad_b;
      if (gx) grad_x = detail::cast_raw(reshape(matmul(g2, sw.unpack("LinearBackward")), x_sizes), xd);
      if (gw) grad_w = detail::cast_raw(matmul(transpose(g2, 0, 1), reshape(sx.unpack("LinearBackward"), {M, K})), wd);
      if (gb) grad_b = detail::cast_raw(sum(g2, {0}, false), bd);
      return std::vector<Tensor>{grad_x, grad_w, grad_b};
    });
  }
  if (grad && act == GemmActivation::Gelu) out = gelu(out);
  return out;
}

Tensor native_addmm(const Tensor& input, const Tensor& mat1, const Tensor& mat2, double beta, double alpha) {
  NN_CHECK(mat1.dim() == 2 && mat2.dim() == 2, ShapeError, "addmm: mat1 and mat2 must be 2-D, got shapes ",
           mat1.sizes(), " and ", mat2.sizes());
  const int64_t M = mat1.sizes()[0], K = mat1.sizes()[1], N = mat2.sizes()[1];
  NN_CHECK(mat2.sizes()[0] == K, ShapeError, "addmm: shapes ", mat1.sizes(), " and ", mat2.sizes(),
           " cannot be multiplied (", K, " != ", mat2.sizes()[0], ")");
  const Shape out_shape{M, N};
  NN_CHECK(broadcast_shapes(input.sizes(), out_shape, "addmm") == out_shape, ShapeError, "addmm: input of shape ",
           input.sizes(), " cannot be broadcast to the product's shape ", out_shape);
  NN_CHECK(is_floating(mat1.dtype()) && is_floating(mat2.dtype()), DTypeError,
           "addmm: expected floating-point matrices, got ", mat1.dtype(), " and ", mat2.dtype());
  const DType dtype = promote_types(promote_types(mat1.dtype(), mat2.dtype()), input.dtype());
  if (!fusable(dtype) || K == 0)
    return add(mul(input, wrapped_scalar(beta, false)), mul(matmul(mat1, mat2), wrapped_scalar(alpha, false)));
  Tensor a = detail::cast_raw(mat1, dtype), b = detail::cast_raw(mat2, dtype);
  a = detail::nonnegative_strides(a);
  b = detail::nonnegative_strides(b);
  Tensor out = empty(out_shape, DType::Float32, mat1.device());
  GemmEpilogue ep;
  ep.alpha = alpha;
  ep.beta = beta;
  if (beta != 0) detail::copy_raw(out, input);
  if (M * N > 0) kernels().gemm.get(OpId::addmm, mat1.device())(a, b, out, ep);
  out = detail::cast_raw(out, dtype);
  return out;
}

}  // namespace nn
