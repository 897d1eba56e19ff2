// reduce.cpp — the REDUCE family (sum, prod, amax, amin, max/min with indices,
// argmax/argmin) over any set of dims with keepdim, and softmax / log_softmax.
//
// Every reduction is planned as a view (O, R, I): kept outer dims, reduced dims, kept
// inner dims (see cpu/reduce_kernels.cpp). A contiguous input whose reduced dims are
// adjacent is viewed without a copy; any other input is permuted so the reduced dims
// come last and copied once.
#include <algorithm>

#include "ops/internal.h"

namespace nn {

namespace {

struct ReducePlan {
  Tensor in3;           // (O, R, I) view
  Shape keep_sizes;     // input sizes with reduced dims set to 1
  Shape out_sizes;      // final output sizes (keepdim or not)
  std::vector<bool> reduced;
  int64_t R = 1;
};

ReducePlan plan_reduction(const Tensor& x, const Dims& dims, bool keepdim, const char* op) {
  const int64_t n = x.dim();
  ReducePlan p;
  p.reduced.assign(n, dims.empty());
  for (int64_t d : dims) {
    const int64_t w = wrap_dim(d, n, op);
    if (n == 0) continue;
    NN_CHECK(!p.reduced[w] || dims.empty(), ValueError, op, ": dim ", d, " appears multiple times in the list of dims ",
             dims);
    p.reduced[w] = true;
  }
  p.keep_sizes = x.sizes();
  for (int64_t d = 0; d < n; ++d)
    if (p.reduced[d]) {
      p.R *= x.sizes()[d];
      p.keep_sizes[d] = 1;
      if (!keepdim) continue;
    } else if (!keepdim) {
      p.out_sizes.push_back(x.sizes()[d]);
    }
  if (keepdim) p.out_sizes = p.keep_sizes;
  // Adjacent reduced block in a contiguous input: view without copying.
  int64_t first = -1, last = -1;
  for (int64_t d = 0; d < n; ++d)
    if (p.reduced[d] && x.sizes()[d] != 1) {
      if (first < 0) first = d;
      last = d;
    }
  bool adjacent = true;
  for (int64_t d = first; first >= 0 && d <= last; ++d)
    if (!p.reduced[d] && x.sizes()[d] != 1) adjacent = false;
  if (first < 0) first = last = n;  // nothing (non-trivial) reduced
  if (x.is_contiguous() && adjacent) {
    int64_t O = 1, I = 1;
    for (int64_t d = 0; d < first; ++d) O *= x.sizes()[d];
    for (int64_t d = last + 1; d < n; ++d) I *= x.sizes()[d];
    p.in3 = make_view(x, {O, p.R, I}, {p.R * I, I, 1}, x.offset());
    return p;
  }
  Dims order;
  int64_t O = 1;
  for (int64_t d = 0; d < n; ++d)
    if (!p.reduced[d]) { order.push_back(d); O *= x.sizes()[d]; }
  for (int64_t d = 0; d < n; ++d)
    if (p.reduced[d]) order.push_back(d);
  Shape ps, pst;
  for (int64_t d : order) { ps.push_back(x.sizes()[d]); pst.push_back(x.strides()[d]); }
  Tensor c = detail::contiguous_raw(make_view(x, ps, pst, x.offset()));
  p.in3 = make_view(c, {O, p.R, 1}, {p.R, 1, 1}, c.offset());
  return p;
}

// Runs the kernel; returns (values, indices) shaped as the plan's output.
std::pair<Tensor, Tensor> run_reduction(OpId op, const ReducePlan& p, const Tensor& x, bool want_values,
                                        bool want_indices) {
  const int64_t O = p.in3.sizes()[0], I = p.in3.sizes()[2];
  Tensor values = want_values ? empty({O, I}, p.in3.dtype(), x.device()) : Tensor();
  Tensor indices = want_indices ? empty({O, I}, DType::Int64, x.device()) : Tensor();
  if (O * I > 0) kernels().reduce.get(op, x.device())(op, p.in3, values, indices);
  auto shape_out = [&](const Tensor& t) {
    return t.defined() ? make_view(t, p.out_sizes, contiguous_strides(p.out_sizes), 0) : t;
  };
  return {shape_out(values), shape_out(indices)};
}

void check_nonempty(const ReducePlan& p, const Tensor& x, const char* op) {
  NN_CHECK(p.R > 0, IndexError, op, ": cannot reduce over a zero-size dimension (input shape ", x.sizes(),
           "); the operation has no identity");
}

}  // namespace

Tensor native_sum(const Tensor& x, const Dims& dims, bool keepdim, std::optional<DType> dtype) {
  DType target = dtype ? *dtype : (is_floating(x.dtype()) ? x.dtype() : DType::Int64);
  Tensor xc = detail::cast_raw(x, compute_dtype(target));
  ReducePlan p = plan_reduction(xc, dims, keepdim, "sum");
  Tensor out;
  if (p.R == 0) {
    out = zeros(p.out_sizes, compute_dtype(target));
  } else {
    out = run_reduction(OpId::sum, p, xc, true, false).first;
  }
  out = detail::cast_raw(out, target);
  return out;
}

Tensor native_prod(const Tensor& x, const Dims& dims, bool keepdim) {
  const DType target = is_floating(x.dtype()) ? x.dtype() : DType::Int64;
  Tensor xc = detail::cast_raw(x, compute_dtype(target));
  ReducePlan p = plan_reduction(xc, dims, keepdim, "prod");
  Tensor out = p.R == 0 ? ones(p.out_sizes, compute_dtype(target)) : run_reduction(OpId::prod, p, xc, true, false).first;
  out = detail::cast_raw(out, target);
  return out;
}

static Tensor extreme(OpId op, const Tensor& x, const Dims& dims, bool keepdim) {
  const char* name = op_info(op).name;
  Tensor xc = detail::cast_raw(x, compute_dtype(x.dtype()));
  ReducePlan p = plan_reduction(xc, dims, keepdim, name);
  check_nonempty(p, x, name);
  Tensor out = detail::cast_raw(run_reduction(op, p, xc, true, false).first, x.dtype());
  return out;
}

Tensor native_amax(const Tensor& x, const Dims& dims, bool keepdim) {
return extreme(OpId::amax, x, dims, keepdim); }
Tensor native_amin(const Tensor& x, const Dims& dims, bool keepdim) {
return extreme(OpId::amin, x, dims, keepdim); }

static std::pair<Tensor, Tensor> extreme_with_index(OpId op, const Tensor& x, int64_t dim, bool keepdim) {
  const char* name = op_info(op).name;
  Tensor xc = detail::cast_raw(x, compute_dtype(x.dtype()));
  wrap_dim(dim, x.dim(), name);  // an out-of-range dim is an IndexError naming the op
  ReducePlan p = plan_reduction(xc, {dim}, keepdim, name);
  check_nonempty(p, x, name);
  auto [values, indices] = run_reduction(op, p, xc, true, true);
  values = detail::cast_raw(values, x.dtype());
  return {values, indices};
}

std::pair<Tensor, Tensor> native_max(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_with_index(OpId::max, x, dim, keepdim);
}
std::pair<Tensor, Tensor> native_min(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_with_index(OpId::min, x, dim, keepdim);
}

static Tensor arg_extreme(OpId op, const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  const char* name = op_info(op).name;
  Tensor xc = detail::cast_raw(x, compute_dtype(x.dtype()));
  if (!dim) {  // over the flattened input
    xc = detail::contiguous_raw(xc);
    xc = make_view(xc, {xc.numel()}, {1}, xc.offset());
  }
  ReducePlan p = plan_reduction(xc, dim ? Dims{*dim} : Dims{}, keepdim, name);
  check_nonempty(p, x, name);
  Tensor idx = run_reduction(op, p, xc, false, true).second;
  if (!dim && keepdim) idx = make_view(idx, Shape(x.dim(), 1), Shape(x.dim(), 1), 0);
  else if (!dim) idx = make_view(idx, {}, {}, 0);
  return idx;
}

Tensor native_argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return arg_extreme(OpId::argmax, x, dim, keepdim);
}
Tensor native_argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return arg_extreme(OpId::argmin, x, dim, keepdim);
}

static Tensor softmax_impl(OpId op, const Tensor& x, int64_t dim) {
  const char* name = op_info(op).name;
  const int64_t n = x.dim();
  const int64_t d = wrap_dim(dim, n, name);
  const DType out_dtype = is_floating(x.dtype()) ? x.dtype() : DType::Float32;
  Tensor xc = detail::cast_raw(x, compute_dtype(out_dtype));
  // Move `dim` last, make rows contiguous, run, move back.
  Dims order;
  for (int64_t i = 0; i < n; ++i)
    if (i != d) order.push_back(i);
  if (n > 0) order.push_back(d);
  Shape ps, pst;
  for (int64_t i : order) { ps.push_back(xc.sizes()[i]); pst.push_back(xc.strides()[i]); }
  Tensor rows = detail::contiguous_raw(make_view(xc, ps, pst, xc.offset()));
  const int64_t cols = n > 0 ? xc.sizes()[d] : 1;
  const int64_t nrows = cols > 0 ? rows.numel() / cols : 0;
  Tensor out_rows = empty(ps, rows.dtype(), x.device());
  if (rows.numel() > 0)
    kernels().softmax.get(op, x.device())(op, make_view(rows, {nrows, cols}, {cols, 1}, rows.offset()),
                                          make_view(out_rows, {nrows, cols}, {cols, 1}, 0));
  Dims inverse(n);
  for (int64_t i = 0; i < n; ++i) inverse[order[i]] = i;
  Shape os(n), ost(n);
  for (int64_t i = 0; i < n; ++i) { os[i] = out_rows.sizes()[inverse[i]]; ost[i] = out_rows.strides()[inverse[i]]; }
  Tensor out = detail::cast_raw(make_view(out_rows, os, ost, 0), out_dtype);
  return out;
}

Tensor native_softmax(const Tensor& x, int64_t dim) {
return softmax_impl(OpId::softmax, x, dim); }
Tensor native_log_softmax(const Tensor& x, int64_t dim) {
return softmax_impl(OpId::log_softmax, x, dim); }

}  // namespace nn
