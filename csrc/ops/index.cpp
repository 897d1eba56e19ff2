// index.cpp — indexing: Python-style subscripts (get_item / set_item) and NumPy-style
// advanced indexing (index / index_put) with backward.
//
// Subscripts follow PyTorch: integers select (the dim disappears) and slices, None and
// Ellipsis make views without copying; tensor indices (int64/int32 or bool masks) are
// then applied together as advanced indices: they broadcast to one shape B, which
// replaces the indexed dims in place when they are adjacent and goes first otherwise.
//
// Layout used by the kernels: the indexed dims are moved first and flattened into
// (S, J) = (product of indexed sizes, product of the other sizes); a broadcast index
// becomes one int64 row number per element of B (cpu/index_kernels.cpp).
#include <numeric>

#include "cpu/kernels.h"
#include "ops/internal.h"

namespace nn {
using autograd::SavedTensor;

namespace {

using IndexList = std::vector<std::optional<Tensor>>;

// Replaces bool masks by the int64 index tensors of their true positions.
IndexList expand_masks(const Tensor& x, const IndexList& indices) {
  IndexList out;
  int64_t d = 0;
  for (const auto& idx : indices) {
    if (!idx || idx->dtype() != DType::Bool) {
      out.push_back(idx);
      ++d;
      continue;
    }
    const Tensor& mask = *idx;
    NN_CHECK(d + mask.dim() <= x.dim(), IndexError, "index: too many indices for tensor of dimension ", x.dim(),
             " (boolean mask of shape ", mask.sizes(), " at dim ", d, ")");
    for (int64_t k = 0; k < mask.dim(); ++k)
      NN_CHECK(mask.sizes()[k] == x.sizes()[d + k], IndexError, "index: the shape of the mask ", mask.sizes(),
               " at index ", k, " does not match the shape of the indexed tensor ", x.sizes(), " at index ", d + k);
    NN_CHECK(mask.device().type == DeviceType::CPU, DeviceError, "index: boolean masks must be on the cpu");
    std::vector<int64_t> flat;
    cpu::nonzero_positions(detail::contiguous_raw(mask), flat);
    const int64_t count = static_cast<int64_t>(flat.size());
    for (int64_t k = 0; k < mask.dim(); ++k) {
      Tensor t = empty({count}, DType::Int64);
      int64_t* p = t.data<int64_t>();
      int64_t inner = 1;
      for (int64_t j = mask.dim() - 1; j > k; --j) inner *= mask.sizes()[j];
      for (int64_t i = 0; i < count; ++i) p[i] = (flat[i] / inner) % mask.sizes()[k];
      out.push_back(t);
    }
    d += mask.dim();
  }
  return out;
}

struct AdvancedPlan {
  Dims indexed;        // dims of x that are indexed, in order
  Dims rest;           // the other dims, in order
  Shape index_shape;   // B, the broadcast shape of the index tensors
  Tensor rows;         // (N,) int64 row numbers into the (S, J) layout
  int64_t S = 1, J = 1;
  bool adjacent = true;
  int64_t first = 0;   // position of the first indexed dim
  Shape result_shape;  // final output shape
};

AdvancedPlan plan_advanced(const Tensor& x, const IndexList& raw, const char* op) {
  IndexList indices = expand_masks(x, raw);
  NN_CHECK(static_cast<int64_t>(indices.size()) <= x.dim(), IndexError, op, ": too many indices for tensor of "
           "dimension ", x.dim(), " (got ", indices.size(), ")");
  AdvancedPlan p;
  std::vector<Tensor> idx_tensors;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < static_cast<int64_t>(indices.size()) && indices[d]) {
      const Tensor& t = *indices[d];
      NN_CHECK(t.dtype() == DType::Int64 || t.dtype() == DType::Int32 || t.dtype() == DType::UInt8 ||
                   t.dtype() == DType::Int8,
               IndexError, op, ": tensors used as indices must be integer or bool tensors, got ", t.dtype());
      p.indexed.push_back(d);
      idx_tensors.push_back(detail::cast_raw(t, DType::Int64));
    } else {
      p.rest.push_back(d);
    }
  }
  for (size_t i = 1; i < p.indexed.size(); ++i)
    if (p.indexed[i] != p.indexed[i - 1] + 1) p.adjacent = false;
  p.first = p.indexed.empty() ? 0 : p.indexed[0];
  for (const Tensor& t : idx_tensors) p.index_shape = broadcast_shapes(p.index_shape, t.sizes(), op);
  const int64_t N = shape_numel(p.index_shape);
  p.rows = empty({N}, DType::Int64);
  int64_t* rows = p.rows.data<int64_t>();
  std::fill(rows, rows + N, 0);
  for (size_t k = 0; k < idx_tensors.size(); ++k) {
    const int64_t size = x.sizes()[p.indexed[k]];
    Tensor b = detail::contiguous_raw(detail::broadcast_view(idx_tensors[k], p.index_shape));
    const int64_t* v = b.data<int64_t>();
    for (int64_t n = 0; n < N; ++n) {
      int64_t i = v[n];
      if (i < -size || i >= size)
        throw IndexError(str(op, ": index ", i, " is out of bounds for dimension ", p.indexed[k], " with size ", size));
      if (i < 0) i += size;
      rows[n] = rows[n] * size + i;
    }
    p.S *= size;
  }
  for (int64_t d : p.rest) p.J *= x.sizes()[d];
  // Result: B replaces the indexed dims when adjacent, else leads.
  if (p.adjacent) {
    for (int64_t d = 0; d < p.first; ++d) p.result_shape.push_back(x.sizes()[d]);
    p.result_shape.insert(p.result_shape.end(), p.index_shape.begin(), p.index_shape.end());
    for (int64_t d = p.first + static_cast<int64_t>(p.indexed.size()); d < x.dim(); ++d)
      p.result_shape.push_back(x.sizes()[d]);
  } else {
    p.result_shape = p.index_shape;
    for (int64_t d : p.rest) p.result_shape.push_back(x.sizes()[d]);
  }
  return p;
}

// x with the indexed dims first, as an (S, J) view (copying only when strides forbid).
Tensor as_rows(const Tensor& x, const AdvancedPlan& p) {
  Dims order = p.indexed;
  order.insert(order.end(), p.rest.begin(), p.rest.end());
  Shape sizes, strides;
  for (int64_t d : order) { sizes.push_back(x.sizes()[d]); strides.push_back(x.strides()[d]); }
  return make_view(x, sizes, strides, x.offset());
}

// Permutation from the (B..., rest...) layout to the result layout.
Dims to_result_order(const AdvancedPlan& p) {
  const int64_t nb = static_cast<int64_t>(p.index_shape.size()), nr = static_cast<int64_t>(p.rest.size());
  Dims order;
  if (!p.adjacent) {
    order.resize(nb + nr);
    std::iota(order.begin(), order.end(), 0);
    return order;
  }
  int64_t lead = 0;
  for (int64_t d : p.rest) if (d < p.first) ++lead;
  for (int64_t i = 0; i < lead; ++i) order.push_back(nb + i);
  for (int64_t i = 0; i < nb; ++i) order.push_back(i);
  for (int64_t i = lead; i < nr; ++i) order.push_back(nb + i);
  return order;
}

Tensor collapse_2d(const Tensor& t, int64_t rows, int64_t cols) {
  Tensor c = detail::contiguous_raw(t);
  return make_view(c, {rows, cols}, {cols, 1}, c.offset());
}

}  // namespace

Tensor native_index(const Tensor& x, const IndexList& indices) {
  AdvancedPlan p = plan_advanced(x, indices, "index");
  const int64_t N = p.rows.numel();
  Tensor src = collapse_2d(as_rows(x, p), p.S, p.J);
  Tensor out = empty({N, p.J}, x.dtype(), x.device());
  if (N * p.J > 0) kernels().gather.get(OpId::index, x.device())(src, p.rows, out);
  Shape bshape = p.index_shape;
  for (int64_t d : p.rest) bshape.push_back(x.sizes()[d]);
  out = make_view(out, bshape, contiguous_strides(bshape), 0);
  const Dims order = to_result_order(p);
  Shape rs, rst;
  for (int64_t i : order) { rs.push_back(out.sizes()[i]); rst.push_back(out.strides()[i]); }
  out = make_view(out, rs, rst, 0);
  if (autograd::needs_grad({&x})) {
    const Shape in_sizes = x.sizes();
    const DType dtype = x.dtype();
    autograd::record("IndexBackward", {x}, {out}, [=](const std::vector<Tensor>& g) {
      Tensor gi = zeros(in_sizes, dtype);
      index_put_(gi, indices, g[0], true);
      return std::vector<Tensor>{gi};
    });
  }
  return out;
}

void native_index_put_(const Tensor& x, const IndexList& indices, const Tensor& values, bool accumulate) {
  detail::check_inplace_target(x, "index_put_");
  AdvancedPlan p = plan_advanced(x, indices, "index_put_");
  const Shape vshape = broadcast_shapes(p.result_shape, values.sizes(), "index_put_");
  NN_CHECK(vshape == p.result_shape, ShapeError, "index_put_: shape mismatch: value tensor of shape ", values.sizes(),
           " cannot be broadcast to indexing result of shape ", p.result_shape);
  // values in the (B..., rest...) layout, as (N, J).
  const Dims order = to_result_order(p);
  Dims inverse(order.size());
  for (size_t i = 0; i < order.size(); ++i) inverse[order[i]] = static_cast<int64_t>(i);
  Tensor v = detail::broadcast_view(detail::cast_raw(values, x.dtype()), p.result_shape);
  Shape vs, vst;
  for (int64_t i : inverse) { vs.push_back(v.sizes()[i]); vst.push_back(v.strides()[i]); }
  Tensor v2 = collapse_2d(make_view(v, vs, vst, v.offset()), p.rows.numel(), p.J);
  if (detail::shares_storage(v2, x)) v2 = clone(v2);
  Tensor dst = as_rows(x, p);
  const bool direct = dst.is_contiguous();
  Tensor work = direct ? make_view(dst, {p.S, p.J}, {p.J, 1}, dst.offset()) : collapse_2d(dst, p.S, p.J);
  if (p.rows.numel() * p.J > 0) kernels().scatter.get(OpId::index_put, x.device())(work, p.rows, v2, accumulate);
  if (!direct) detail::copy_raw(dst, make_view(work, dst.sizes(), contiguous_strides(dst.sizes()), work.offset()));
  x.bump_version();
}

Tensor native_index_put(const Tensor& x, const IndexList& indices, const Tensor& values, bool accumulate) {
  Tensor out = empty_like(x);
  detail::copy_raw(out, x);
  {
    autograd::GradModeGuard no_grad(false);
    index_put_(out, indices, values, accumulate);
  }
  if (autograd::needs_grad({&x, &values})) {
    const Shape vshape = values.sizes();
    const DType vdtype = values.dtype();
    autograd::record("IndexPutBackward", {x, values}, {out}, [=](const std::vector<Tensor>& g) {
      Tensor gx = g[0];
      if (!accumulate) {
        gx = clone(g[0]);
        index_put_(gx, indices, zeros({}, gx.dtype()), false);
      }
      Tensor gv = detail::reduce_grad(index(g[0], indices), vshape, vdtype);
      return std::vector<Tensor>{gx, gv};
    });
  }
  return out;
}

namespace {

// Applies the basic part of a subscript (ints, slices, None, Ellipsis) and collects the
// advanced part (tensors) positioned in the resulting view's dims.
Tensor apply_basic(const Tensor& x, const std::vector<TensorIndex>& key, IndexList& advanced) {
  int64_t consumed = 0;
  bool has_ellipsis = false;
  for (const TensorIndex& k : key) {
    switch (k.kind) {
      case TensorIndex::Kind::Integer: case TensorIndex::Kind::Slice: ++consumed; break;
      case TensorIndex::Kind::Tensor:
        consumed += k.tensor.dtype() == DType::Bool ? k.tensor.dim() : 1;
        break;
      case TensorIndex::Kind::Ellipsis:
        NN_CHECK(!has_ellipsis, IndexError, "an index can only have a single ellipsis ('...')");
        has_ellipsis = true;
        break;
      case TensorIndex::Kind::None: break;
    }
  }
  NN_CHECK(consumed <= x.dim(), IndexError, "too many indices for tensor of dimension ", x.dim(), " (", consumed,
           " given)");
  Tensor r = x;
  int64_t d = 0;        // current dim of r
  int64_t covered = 0;  // dims of r described by `advanced` so far (a mask covers several)
  auto place = [&](const Tensor& t) {
    while (covered < d) { advanced.push_back(std::nullopt); ++covered; }
    advanced.push_back(t);
    const int64_t span = t.dtype() == DType::Bool ? t.dim() : 1;
    covered += span;
    d += span;
  };
  for (const TensorIndex& k : key) {
    switch (k.kind) {
      case TensorIndex::Kind::Integer: r = select(r, d, k.integer); break;
      case TensorIndex::Kind::Slice: r = slice(r, d, k.start, k.stop, k.step); ++d; break;
      case TensorIndex::Kind::None: r = unsqueeze(r, d); ++d; break;
      case TensorIndex::Kind::Ellipsis: d += x.dim() - consumed; break;
      case TensorIndex::Kind::Tensor:
        if (k.tensor.dtype() == DType::Bool && k.tensor.dim() == 0) {  // x[True] / x[False]
          r = unsqueeze(r, d);
          place(reshape(k.tensor, {1}));
        } else {
          place(k.tensor);
        }
        break;
    }
  }
  return r;
}

}  // namespace

Tensor native_get_item(const Tensor& x, const std::vector<TensorIndex>& key) {
  IndexList advanced;
  Tensor r = apply_basic(x, key, advanced);
  if (!advanced.empty()) return index(r, advanced);
  if (r.same(x)) {  // x[...] or x[()]: still a new view
    r = make_view(x, x.sizes(), x.strides(), x.offset());
    detail::mark_view(r, x);
    if (autograd::needs_grad({&x}))
      autograd::record("AliasBackward", {x}, {r}, [](const std::vector<Tensor>& g) { return g; });
  }
  return r;
}

void native_set_item(const Tensor& x, const std::vector<TensorIndex>& key, const Tensor& value) {
  detail::check_inplace_target(x, "__setitem__");
  detail::check_same_device(x, value, "__setitem__");
  if (autograd::needs_grad({&x, &value})) {
    NN_CHECK(!x.impl()->is_view, RuntimeError, "__setitem__: assigning with gradients into a view is not supported; "
             "index the base tensor instead");
    // Out of place with history, then written back into x (rebase_history).
    Tensor before = clone(x);
    {
      autograd::GradModeGuard no_grad(false);
      set_item(x, key, value);
    }
    const Shape vshape = value.sizes();
    const DType vdtype = value.dtype();
    const bool value_grad = value.requires_grad();
    autograd::record("SetItemBackward", {before, value}, {x}, [=](const std::vector<Tensor>& g) {
      Tensor gx = clone(g[0]);
      set_item(gx, key, zeros({}, gx.dtype()));
      Tensor gv = value_grad ? detail::reduce_grad(get_item(g[0], key), vshape, vdtype) : Tensor();
      return std::vector<Tensor>{gx, gv};
    });
    return;
  }
  autograd::GradModeGuard no_grad(false);
  IndexList advanced;
  Tensor view_of_x = apply_basic(x, key, advanced);
  if (!advanced.empty()) {
    index_put_(view_of_x, advanced, value, false);
  } else {
    const Shape shape = broadcast_shapes(view_of_x.sizes(), value.sizes(), "__setitem__");
    NN_CHECK(shape == view_of_x.sizes(), ShapeError, "__setitem__: value of shape ", value.sizes(),
             " cannot be broadcast to the indexed shape ", view_of_x.sizes());
    detail::copy_raw(view_of_x, value);
  }
  x.bump_version();
}

}  // namespace nn
