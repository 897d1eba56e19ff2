// scan_sort.cpp — cumsum, cumprod (with their backward), sort, argsort and topk.
//
// Every op here works on rows: the input with `dim` moved last, copied contiguous as
// (R, N), handed to the kernel (cpu/scan_sort_kernels.cpp), and the result moved back.
// A 0-d input is one row of one element. Half types compute in float32 (Note [Half
// types]); integer and bool scans give int64 unless a dtype is asked for (PyTorch).
//
// Sorting follows one total order: NaN above every number, equal values in index order
// (lower index first, in both directions), so sort is always stable and topk / argsort
// are deterministic. The values of sort and topk are differentiable: the gradient goes
// back to the positions in `indices` (a scatter_add into zeros).
#include "ops/internal.h"

namespace nn {
using autograd::SavedTensor;

namespace {

// `t` with dim `d` moved last, as a contiguous (R, N) tensor; remembers how to go back.
struct Rows {
  Dims order;      // the permutation: every dim but d, then d
  Shape permuted;  // t's sizes in that order
  int64_t R = 1, N = 1;
  Tensor rows;     // (R, N) contiguous
};

Rows to_rows(const Tensor& t, int64_t d) {
  Rows r;
  const int64_t n = t.dim();
  for (int64_t i = 0; i < n; ++i)
    if (i != d) r.order.push_back(i);
  if (n > 0) r.order.push_back(d);
  Shape strides;
  for (int64_t i : r.order) { r.permuted.push_back(t.sizes()[i]); strides.push_back(t.strides()[i]); }
  Tensor c = detail::contiguous_raw(make_view(t, r.permuted, strides, t.offset()));
  r.N = n > 0 ? t.sizes()[d] : 1;
  r.R = r.N > 0 ? c.numel() / r.N : 0;
  if (r.N == 0) {
    r.R = 1;
    for (size_t i = 0; i + 1 < r.permuted.size(); ++i) r.R *= r.permuted[i];
  }
  r.rows = make_view(c, {r.R, r.N}, {r.N, 1}, c.offset());
  return r;
}

// A contiguous (R, K) result back in t's dim order (the last dim of size K at `d`).
Tensor from_rows(const Tensor& out_rows, const Rows& r, int64_t K) {
  const int64_t n = static_cast<int64_t>(r.order.size());
  if (n == 0) return make_view(out_rows, {}, {}, out_rows.offset());
  Shape ps = r.permuted;
  ps[n - 1] = K;
  const Shape pst = contiguous_strides(ps);
  Shape sizes(n), strides(n);
  for (int64_t i = 0; i < n; ++i) { sizes[r.order[i]] = ps[i]; strides[r.order[i]] = pst[i]; }
  return make_view(out_rows, sizes, strides, out_rows.offset());
}

Tensor scan(OpId op, const Tensor& x, int64_t dim, std::optional<DType> dtype) {
  const char* name = op_info(op).name;
  const int64_t d = wrap_dim(dim, x.dim(), name);
  const DType target = dtype ? *dtype : (is_floating(x.dtype()) ? x.dtype() : DType::Int64);
  const Tensor xc = detail::cast_raw(x, compute_dtype(target));
  const Rows r = to_rows(xc, d);
  Tensor out_rows = empty({r.R, r.N}, xc.dtype(), x.device());
  if (r.R * r.N > 0) kernels().scan.get(op, x.device())(op, r.rows, out_rows);
  Tensor out = detail::cast_raw(from_rows(out_rows, r, r.N), target);
  // cumsum's node comes from its formula (ops.schema); cumprod's backward is a kernel of
  // its own (it divides by no element, so zeros are exact).
  if (op == OpId::cumprod && autograd::needs_grad({&x}) && is_floating(target)) {
    const DType in_dtype = x.dtype();
    SavedTensor sx(x);
    const std::string node = detail::backward_name(op);
    autograd::record(node, {x}, {out}, [=](const std::vector<Tensor>& g) {
      const DType cdt = compute_dtype(target);
      const Rows xr = to_rows(detail::cast_raw(sx.unpack(node), cdt), d);
      const Rows gr = to_rows(detail::cast_raw(g[0], cdt), d);
      Tensor grad_rows = empty({xr.R, xr.N}, cdt, xr.rows.device());
      if (xr.R * xr.N > 0) kernels().cumprod_backward.get(OpId::cumprod, xr.rows.device())(xr.rows, gr.rows, grad_rows);
      return std::vector<Tensor>{detail::cast_raw(from_rows(grad_rows, xr, xr.N), in_dtype)};
    });
  }
  return out;
}

// The first k of every row along `dim` in sorted order: (values, indices).
std::pair<Tensor, Tensor> sorted_rows(OpId op, const Tensor& x, int64_t d, int64_t k, bool descending) {
  const Tensor xc = detail::cast_raw(x, compute_dtype(x.dtype()));
  const Rows r = to_rows(xc, d);
  Tensor values = empty({r.R, k}, xc.dtype(), x.device());
  Tensor indices = empty({r.R, k}, DType::Int64, x.device());
  if (r.R * k > 0) kernels().sort.get(op, x.device())(r.rows, values, indices, descending);
  return {detail::cast_raw(from_rows(values, r, k), x.dtype()), from_rows(indices, r, k)};
}

}  // namespace

Tensor native_cumsum(const Tensor& x, int64_t dim, std::optional<DType> dtype) {
  return scan(OpId::cumsum, x, dim, dtype);
}

Tensor native_cumprod(const Tensor& x, int64_t dim, std::optional<DType> dtype) {
  return scan(OpId::cumprod, x, dim, dtype);
}

std::pair<Tensor, Tensor> native_sort(const Tensor& x, int64_t dim, bool descending, bool /*stable: always*/) {
  const int64_t d = wrap_dim(dim, x.dim(), "sort");
  const int64_t n = x.dim() > 0 ? x.sizes()[d] : 1;
  auto [values, indices] = sorted_rows(OpId::sort, x, d, n, descending);
  return {values, indices};
}

Tensor native_argsort(const Tensor& x, int64_t dim, bool descending, bool /*stable: always*/) {
  const int64_t d = wrap_dim(dim, x.dim(), "argsort");
  const int64_t n = x.dim() > 0 ? x.sizes()[d] : 1;
  return sorted_rows(OpId::argsort, x, d, n, descending).second;
}

std::pair<Tensor, Tensor> native_topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool /*sorted: always*/) {
  const int64_t d = wrap_dim(dim, x.dim(), "topk");
  const int64_t n = x.dim() > 0 ? x.sizes()[d] : 1;
  NN_CHECK(k >= 0 && k <= n, IndexError, "topk: k = ", k, " is out of range for dimension ", d, " of size ", n,
           " (input shape ", x.sizes(), "; 0 <= k <= size is required)");
  // A 0-d input gives its one element back for k = 0 or 1 (PyTorch).
  auto [values, indices] = sorted_rows(OpId::topk, x, d, x.dim() == 0 ? 1 : k, largest);
  return {values, indices};
}

}  // namespace nn
