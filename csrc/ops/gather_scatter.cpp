// gather_scatter.cpp — gather, scatter, scatter_add and index_select: reading and
// writing along one dim through an int64 index tensor, with their backward nodes.
//
// Rules (PyTorch's): input, index and src have the same number of dims (a 0-d tensor
// counts as 1-d of size 1); index.size(d) <= input.size(d) for d != dim and, for the
// scatters, index.size(d) <= src.size(d) for every d; index values lie in
// [0, input.size(dim)) (no negative wrapping) and are checked before anything is
// written; src has the input's dtype (a wrong index or src dtype is a TypeError, as
// every dtype error in nn_core). An empty index skips the shape checks. The
// kernels (cpu/gather_scatter_kernels.cpp) walk the index's positions; scatter_add sums
// in a fixed order, so its result is deterministic.
#include "ops/internal.h"

namespace nn {

namespace {

// A 0-d tensor seen as 1-d of size 1 (how PyTorch treats scalars in these ops).
Tensor at_least_1d(const Tensor& t) { return t.dim() == 0 ? make_view(t, {1}, {1}, t.offset()) : t; }
int64_t nonempty_dim(const Tensor& t) { return std::max<int64_t>(t.dim(), 1); }

void check_index_dtype(const Tensor& x, const Tensor& index, const char* op) {
  detail::check_same_device(x, index, op);
  NN_CHECK(index.dtype() == DType::Int64, DTypeError, op, ": expected dtype int64 for index, got ", index.dtype());
}

// Every index value in [0, size), before any element is written.
void check_index_values(OpId op, const Tensor& index, int64_t dim, int64_t size) {
  if (index.numel() == 0) return;
  Tensor flat = detail::contiguous_raw(index);
  flat = make_view(flat, {flat.numel()}, {1}, flat.offset());
  const DataCheck check = kernels().range_check.get(op, index.device())(flat, 0, size - 1);
  if (!check.ok())
    throw IndexError(str(op_info(op).name, ": index ", check.value, " is out of bounds for dimension ", dim,
                         " with size ", size));
}

// index.size(d) <= other.size(d) for every d (except `skip`, when >= 0).
void check_index_fits(const Tensor& index, const Tensor& other, int64_t skip, const char* op, const char* what) {
  const Tensor i1 = at_least_1d(index), o1 = at_least_1d(other);
  for (int64_t d = 0; d < i1.dim(); ++d) {
    if (d == skip) continue;
    NN_CHECK(i1.sizes()[d] <= o1.sizes()[d], ShapeError, op, ": index of shape ", index.sizes(), " is larger than ",
             what, " of shape ", other.sizes(), " at dimension ", d, " (index.size(d) <= ", what, ".size(d) is ",
             "required", skip >= 0 ? " for every d != dim" : " for every d", ")");
  }
}

void check_same_ndim(const Tensor& x, const Tensor& t, const char* op, const char* what) {
  NN_CHECK(nonempty_dim(x) == nonempty_dim(t), ShapeError, op, ": index and ", what, " must have the same number of ",
           "dimensions, got index of shape ", t.sizes(), " and ", what, " of shape ", x.sizes());
}

// A fresh contiguous copy of x (the scatters' output).
Tensor copy_of(const Tensor& x) {
  Tensor out = empty(x.sizes(), x.dtype(), x.device());
  detail::copy_raw(out, x);
  return out;
}

// The gradient of a scatter's src: gather(g, dim, index), zero-padded to src's shape
// when src is larger than index.
Tensor src_grad(const Tensor& g, int64_t dim, const Tensor& index, const Shape& src_sizes, DType dtype) {
  Tensor gathered = gather(g, dim, index);
  if (gathered.sizes() == src_sizes) return detail::cast_raw(gathered, dtype);
  Tensor out = zeros(src_sizes, dtype);
  const Tensor out1 = at_least_1d(out);
  detail::copy_raw(make_view(out1, at_least_1d(index).sizes(), out1.strides(), out1.offset()), at_least_1d(gathered));
  return out;
}

Tensor scatter_impl(OpId op, const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  const char* name = op_info(op).name;
  check_index_dtype(x, index, name);
  detail::check_same_device(x, src, name);
  NN_CHECK(src.dtype() == x.dtype(), DTypeError, name, ": expected src of the input's dtype ", x.dtype(), ", got ",
           src.dtype());
  const int64_t d = wrap_dim(dim, x.dim(), name);
  Tensor out = copy_of(x);
  if (index.numel() > 0) {
    check_same_ndim(x, index, name, "input");
    check_same_ndim(src, index, name, "src");
    check_index_fits(index, x, d, name, "input");
    check_index_fits(index, src, -1, name, "src");
    check_index_values(op, index, d, at_least_1d(x).sizes()[d]);
    kernels().dim_scatter.get(op, x.device())(at_least_1d(out), at_least_1d(index), at_least_1d(src), d,
                                              op == OpId::scatter_add);
  }
  if (autograd::needs_grad({&x, &src})) {
    const Shape src_sizes = src.sizes();
    const DType dtype = x.dtype();
    const std::string node = detail::backward_name(op);
    autograd::record(node, {x, src}, {out}, [=](const std::vector<Tensor>& g) {
      // scatter overwrites the indexed positions: they get no gradient from the input.
      Tensor gx = op == OpId::scatter_add ? g[0] : scatter(g[0], dim, index, expand(zeros({}, g[0].dtype()),
                                                                                       index.sizes()));
      return std::vector<Tensor>{gx, src_grad(g[0], dim, index, src_sizes, dtype)};
    });
  }
  return out;
}

}  // namespace

Tensor native_gather(const Tensor& x, int64_t dim, const Tensor& index) {
  check_index_dtype(x, index, "gather");
  const int64_t d = wrap_dim(dim, x.dim(), "gather");
  Tensor out = empty(index.sizes(), x.dtype(), x.device());
  if (index.numel() > 0) {
    check_same_ndim(x, index, "gather", "input");
    check_index_fits(index, x, d, "gather", "input");
    check_index_values(OpId::gather, index, d, at_least_1d(x).sizes()[d]);
    kernels().dim_gather.get(OpId::gather, x.device())(at_least_1d(x), at_least_1d(index), at_least_1d(out), d);
  }
  if (autograd::needs_grad({&x})) {
    const Shape in_sizes = x.sizes();
    const DType dtype = x.dtype();
    autograd::record("GatherBackward", {x}, {out}, [=](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{scatter_add(zeros(in_sizes, dtype), dim, index, g[0])};
    });
  }
  return out;
}

Tensor native_scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  return scatter_impl(OpId::scatter, x, dim, index, src);
}

Tensor native_scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  return scatter_impl(OpId::scatter_add, x, dim, index, src);
}

Tensor native_index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  detail::check_same_device(x, index, "index_select");
  NN_CHECK(index.dtype() == DType::Int64 || index.dtype() == DType::Int32, DTypeError,
           "index_select: expected dtype int64 or int32 for index, got ", index.dtype());
  NN_CHECK(index.dim() <= 1, IndexError, "index_select: index must be a vector (0-d or 1-d), got shape ", index.sizes());
  const int64_t d = wrap_dim(dim, x.dim(), "index_select");
  const Tensor x1 = at_least_1d(x);
  const int64_t n = index.numel();
  NN_CHECK(x.dim() > 0 || n == 1, IndexError, "index_select: a 0-d input takes exactly one index, got ", n);
  const Tensor idx = detail::contiguous_raw(detail::cast_raw(index, DType::Int64));
  check_index_values(OpId::index_select, idx, d, x1.sizes()[d]);
  // The index as a tensor of the output's shape: stride 0 on every dim but `dim`.
  Shape out_sizes = x1.sizes();
  out_sizes[d] = n;
  Shape idx_strides(out_sizes.size(), 0);
  idx_strides[d] = 1;
  const Tensor idx_full = make_view(idx, out_sizes, idx_strides, idx.offset());
  Tensor out = empty(out_sizes, x.dtype(), x.device());
  if (out.numel() > 0) kernels().dim_gather.get(OpId::index_select, x.device())(x1, idx_full, out, d);
  if (x.dim() == 0) out = make_view(out, {}, {}, 0);  // a 0-d input gives a 0-d result (PyTorch)
  if (autograd::needs_grad({&x})) {
    const Shape in_sizes = x.sizes(), in_sizes_1d = x1.sizes();
    const DType dtype = x.dtype();
    autograd::record("IndexSelectBackward", {x}, {out}, [=](const std::vector<Tensor>& g) {
      Tensor gi = scatter_add(zeros(in_sizes_1d, dtype), d, idx_full, reshape(g[0], out_sizes));
      return std::vector<Tensor>{reshape(gi, in_sizes)};
    });
  }
  return out;
}

}  // namespace nn
