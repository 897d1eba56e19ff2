// matmul.cpp — matmul with NumPy semantics: 1-D operands are promoted (a vector on the
// left gains a leading 1, on the right a trailing 1, removed again from the result) and
// batch dims broadcast. The kernel sees (B, M, K) @ (B, K, N) views (stride 0 where a
// batch is broadcast) and writes a contiguous (B, M, N).
#include "ops/internal.h"

namespace nn {

Tensor native_matmul(const Tensor& a, const Tensor& b) {
  detail::check_same_device(a, b, "matmul");
  NN_CHECK(a.dim() >= 1 && b.dim() >= 1, ValueError, "matmul: both arguments need at least 1 dimension, got shapes ",
           a.sizes(), " and ", b.sizes());
  NN_CHECK(is_floating(a.dtype()) && is_floating(b.dtype()), DTypeError,
           "matmul: expected floating-point tensors, got ", a.dtype(), " and ", b.dtype());
  const DType dtype = promote_types(a.dtype(), b.dtype());
  // bfloat16 operands go to the GEMM as they are (float32 accumulation, float32 out);
  // float16 computes in float32.
  const DType compute = dtype == DType::BFloat16 ? DType::BFloat16 : compute_dtype(dtype);
  const DType out_compute = compute == DType::BFloat16 ? DType::Float32 : compute;
  Shape as = a.sizes(), bs = b.sizes();
  if (a.dim() == 1) as.insert(as.begin(), 1);
  if (b.dim() == 1) bs.push_back(1);
  const int64_t M = as[as.size() - 2], K = as.back(), K2 = bs[bs.size() - 2], N = bs.back();
  NN_CHECK(K == K2, ShapeError, "matmul: shapes ", a.sizes(), " and ", b.sizes(), " cannot be multiplied (", K,
           " != ", K2, ": the last dim of the first must equal the second-to-last dim of the second)");
  const Shape batch_a(as.begin(), as.end() - 2), batch_b(bs.begin(), bs.end() - 2);
  const Shape batch = broadcast_shapes(batch_a, batch_b, "matmul");
  const int64_t B = shape_numel(batch);
  Tensor ac = detail::cast_raw(a, compute), bc = detail::cast_raw(b, compute);
  Shape ast = ac.strides(), bst = bc.strides();
  if (a.dim() == 1) ast.insert(ast.begin(), 0);
  if (b.dim() == 1) bst.push_back(0);
  Tensor a2 = make_view(ac, as, ast, ac.offset()), b2 = make_view(bc, bs, bst, bc.offset());
  Shape full_a = batch, full_b = batch;
  full_a.push_back(M); full_a.push_back(K);
  full_b.push_back(K); full_b.push_back(N);
  Tensor ab = detail::broadcast_view(a2, full_a), bb = detail::broadcast_view(b2, full_b);
  // Collapse the batch dims into one (copying when they cannot be viewed as one).
  auto collapse = [&](const Tensor& t, int64_t r, int64_t c) -> Tensor {
    const size_t nb = batch.size();
    bool ok = true;
    int64_t stride = nb > 0 ? t.strides()[nb - 1] : 0;
    for (size_t i = 0; i + 1 < nb; ++i)
      if (batch[i] != 1 && t.strides()[i] != t.strides()[i + 1] * batch[i + 1]) ok = false;
    if (ok) return make_view(t, {B, r, c}, {B > 1 ? stride : 0, t.strides()[nb], t.strides()[nb + 1]}, t.offset());
    Tensor cc = detail::contiguous_raw(t);
    return make_view(cc, {B, r, c}, {r * c, c, 1}, cc.offset());
  };
  Tensor a3 = collapse(ab, M, K), b3 = collapse(bb, K, N);
  // The GEMM packs any non-negative strides; reversed views are copied once.
  a3 = detail::nonnegative_strides(a3);
  b3 = detail::nonnegative_strides(b3);
  Tensor out = empty({B, M, N}, out_compute, a.device());
  if (B * M * N > 0) {
    if (K == 0) kernels().fill.get(OpId::fill_, a.device())(out, 0.0);
    else kernels().matmul.get(OpId::matmul, a.device())(a3, b3, out);
  }
  Shape out_shape = batch;
  if (a.dim() > 1) out_shape.push_back(M);
  if (b.dim() > 1) out_shape.push_back(N);
  out = detail::cast_raw(make_view(out, out_shape, contiguous_strides(out_shape), 0), dtype);
  return out;
}

}  // namespace nn
