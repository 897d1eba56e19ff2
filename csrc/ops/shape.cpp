// shape.cpp — the SHAPE family's views and data movement: broadcasting, view/reshape,
// permute/transpose, expand, squeeze/unsqueeze, slice/select, contiguous and cat.
// Views share the input's storage (no copy) and record a backward that maps the
// gradient back to the input's shape.
#include <algorithm>
#include <numeric>

#include "ops/internal.h"

namespace nn {
using autograd::SavedTensor;

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ShapeError(str(op, ": shapes ", a, " and ", b, " cannot be broadcast together (dimension ", i,
                           ": ", da, " vs ", db, "; sizes must match or one of them must be 1)"));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace detail {

Tensor broadcast_view(const Tensor& t, const Shape& shape) {
  if (t.sizes() == shape) return t;
  const size_t n = shape.size(), m = t.sizes().size();
  NN_CHECK(m <= n, ShapeError, "broadcast: cannot broadcast shape ", t.sizes(), " to ", shape);
  Shape strides(n, 0);
  for (size_t i = 0; i < m; ++i) {
    const size_t j = n - m + i;
    const int64_t s = t.sizes()[i];
    NN_CHECK(s == shape[j] || s == 1, ShapeError, "broadcast: cannot broadcast shape ", t.sizes(), " to ", shape);
    strides[j] = (s == shape[j]) ? t.strides()[i] : 0;
  }
  Tensor v = make_view(t, shape, strides, t.offset());
  v.impl()->is_wrapped_number = t.impl()->is_wrapped_number;
  return v;
}

void mark_view(const Tensor& out, const Tensor& base) {
  out.impl()->is_view = true;
  (void)base;
}

}  // namespace detail

namespace {

// Strides that let `new_sizes` view memory laid out as (sizes, strides), or nullopt.
// Dims of the old shape are grouped into runs that are contiguous with each other; each
// run must be split exactly by a run of new dims.
std::optional<Shape> view_strides(const Shape& sizes, const Shape& strides, const Shape& new_sizes) {
  Shape out(new_sizes.size());
  if (shape_numel(sizes) == 0 || sizes.empty()) {
    if (shape_numel(sizes) == 0 || new_sizes.empty()) return contiguous_strides(new_sizes);
  }
  if (sizes.empty()) return contiguous_strides(new_sizes);
  int64_t view_d = static_cast<int64_t>(new_sizes.size()) - 1;
  int64_t chunk_stride = strides.back();
  int64_t run_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    run_numel *= sizes[d];
    const bool run_ends = d == 0 || (sizes[d - 1] != 1 && strides[d - 1] != run_numel * chunk_stride);
    if (!run_ends) continue;
    while (view_d >= 0 && (view_numel < run_numel || new_sizes[view_d] == 1)) {
      out[view_d] = view_numel * chunk_stride;
      view_numel *= new_sizes[view_d];
      --view_d;
    }
    if (view_numel != run_numel) return std::nullopt;
    if (d > 0) {
      chunk_stride = strides[d - 1];
      run_numel = 1;
      view_numel = 1;
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

Shape infer_size(const Shape& shape, int64_t numel, const char* op, const Shape& from) {
  Shape out = shape;
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      NN_CHECK(infer < 0, ValueError, op, ": only one dimension can be inferred (-1) in shape ", shape);
      infer = static_cast<int64_t>(i);
    } else {
      NN_CHECK(out[i] >= 0, ValueError, op, ": invalid shape dimension ", out[i], " in ", shape);
      // Overflow-checked: a product past int64 is no shape of any input (UBSan's finding).
      NN_CHECK(!__builtin_mul_overflow(known, out[i], &known), ShapeError, op, ": shape ", shape,
               " is invalid for input of shape ", from, " (", numel, " elements): its size overflows int64");
    }
  }
  if (infer >= 0) {
    NN_CHECK(known != 0 && numel % known == 0, ShapeError, op, ": shape ", shape, " is invalid for input of shape ",
             from, " (", numel, " elements)");
    out[infer] = numel / known;
  }
  NN_CHECK(shape_numel(out) == numel, ShapeError, op, ": shape ", shape, " is invalid for input of shape ", from,
           " (", numel, " elements)");
  return out;
}

// Records a view's backward: the gradient reshaped back to the input's shape.
void record_reshape_like(const char* name, const Tensor& x, const Tensor& out) {
  if (!autograd::needs_grad({&x})) return;
  const Shape in_sizes = x.sizes();
  autograd::record(name, {x}, {out}, [in_sizes](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{reshape(g[0], in_sizes)};
  });
}

}  // namespace

Tensor native_view(const Tensor& x, const Shape& shape) {
  const Shape sizes = infer_size(shape, x.numel(), "view", x.sizes());
  auto strides = view_strides(x.sizes(), x.strides(), sizes);
  NN_CHECK(strides.has_value(), ValueError, "view: size ", sizes, " is not compatible with input of shape ",
           x.sizes(), " and strides ", x.strides(),
           " (at least one dimension spans across two contiguous subspaces); use .reshape(...) instead");
  Tensor out = make_view(x, sizes, *strides, x.offset());
  detail::mark_view(out, x);
  record_reshape_like("ViewBackward", x, out);
  return out;
}

Tensor native_reshape(const Tensor& x, const Shape& shape) {
  const Shape sizes = infer_size(shape, x.numel(), "reshape", x.sizes());
  if (view_strides(x.sizes(), x.strides(), sizes).has_value()) return view(x, sizes);
  Tensor c = contiguous(x);
  Tensor out = make_view(c, sizes, contiguous_strides(sizes), c.offset());
  record_reshape_like("ReshapeBackward", c, out);
  return out;
}

Tensor native_permute(const Tensor& x, const Dims& dims) {
  const int64_t n = x.dim();
  NN_CHECK(static_cast<int64_t>(dims.size()) == n, ValueError, "permute: number of dims ", dims,
           " doesn't match the tensor's ", n, " dimensions");
  Shape sizes(n), strides(n);
  std::vector<bool> seen(n, false);
  Dims inverse(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t d = wrap_dim(dims[i], n, "permute");
    NN_CHECK(!seen[d], ValueError, "permute: repeated dim ", dims[i], " in ", dims);
    seen[d] = true;
    sizes[i] = x.sizes()[d];
    strides[i] = x.strides()[d];
    inverse[d] = i;
  }
  Tensor out = make_view(x, sizes, strides, x.offset());
  detail::mark_view(out, x);
  if (autograd::needs_grad({&x}))
    autograd::record("PermuteBackward", {x}, {out}, [inverse](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{permute(g[0], inverse)};
    });
  return out;
}

Tensor native_transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  const int64_t n = x.dim();
  if (n == 0) {
    wrap_dim(dim0, 0, "transpose");
    wrap_dim(dim1, 0, "transpose");
    return permute(x, {});
  }
  Dims order(n);
  std::iota(order.begin(), order.end(), 0);
  std::swap(order[wrap_dim(dim0, n, "transpose")], order[wrap_dim(dim1, n, "transpose")]);
  return permute(x, order);
}

Tensor native_expand(const Tensor& x, const Shape& shape) {
  const size_t n = shape.size(), m = x.sizes().size();
  NN_CHECK(n >= m, ShapeError, "expand: the number of sizes provided (", n,
           ") must be greater or equal to the number of dimensions in the tensor (", m, ")");
  Shape target(shape);
  for (size_t i = 0; i < n; ++i) {
    if (target[i] == -1) {
      NN_CHECK(i >= n - m, ValueError, "expand: -1 is not allowed in a leading, new dimension (shape ", shape, ")");
      target[i] = x.sizes()[i - (n - m)];
    }
    NN_CHECK(target[i] >= 0, ValueError, "expand: invalid size ", target[i], " in ", shape);
  }
  for (size_t i = 0; i < m; ++i) {
    const int64_t s = x.sizes()[i], t = target[n - m + i];
    NN_CHECK(s == t || s == 1, ShapeError, "expand: the expanded size of the tensor (", t,
             ") must match the existing size (", s, ") at non-singleton dimension ", n - m + i, "; target ", shape,
             ", tensor ", x.sizes());
  }
  Tensor out = detail::broadcast_view(x, target);
  if (out.same(x)) out = make_view(x, x.sizes(), x.strides(), x.offset());
  detail::mark_view(out, x);
  if (autograd::needs_grad({&x})) {
    const Shape in_sizes = x.sizes();
    autograd::record("ExpandBackward", {x}, {out}, [in_sizes](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{sum_to(g[0], in_sizes)};
    });
  }
  return out;
}

Tensor native_squeeze(const Tensor& x, std::optional<Dims> dims) {
  const int64_t n = x.dim();
  std::vector<bool> drop(n, false);
  if (!dims) {
    for (int64_t d = 0; d < n; ++d) drop[d] = x.sizes()[d] == 1;
  } else {
    for (int64_t d : *dims) {
      const int64_t w = wrap_dim(d, n, "squeeze");
      if (n > 0) drop[w] = x.sizes()[w] == 1;
    }
  }
  Shape sizes, strides;
  for (int64_t d = 0; d < n; ++d)
    if (!drop[d]) {
      sizes.push_back(x.sizes()[d]);
      strides.push_back(x.strides()[d]);
    }
  Tensor out = make_view(x, sizes, strides, x.offset());
  detail::mark_view(out, x);
  record_reshape_like("SqueezeBackward", x, out);
  return out;
}

Tensor native_unsqueeze(const Tensor& x, int64_t dim) {
  const int64_t n = x.dim();
  const int64_t d = wrap_dim(dim, n + 1, "unsqueeze");
  Shape sizes = x.sizes(), strides = x.strides();
  const int64_t stride = d < n ? sizes[d] * strides[d] : 1;
  sizes.insert(sizes.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  Tensor out = make_view(x, sizes, strides, x.offset());
  detail::mark_view(out, x);
  record_reshape_like("UnsqueezeBackward", x, out);
  return out;
}

Tensor native_slice(const Tensor& x, int64_t dim, std::optional<int64_t> start, std::optional<int64_t> stop, int64_t step) {
  const int64_t d = wrap_dim(dim, x.dim(), "slice");
  NN_CHECK(x.dim() > 0, IndexError, "slice: cannot slice a 0-dim tensor");
  NN_CHECK(step != 0, ValueError, "slice: step cannot be zero");
  const int64_t len = x.sizes()[d];
  // Python slice semantics (clamping), for positive and negative steps.
  int64_t lo, hi, count;
  if (step > 0) {
    lo = start ? *start : 0;
    hi = stop ? *stop : len;
    if (lo < 0) lo = std::max<int64_t>(lo + len, 0);
    if (hi < 0) hi = std::max<int64_t>(hi + len, 0);
    lo = std::min(lo, len);
    hi = std::min(hi, len);
    count = hi > lo ? (hi - lo + step - 1) / step : 0;
  } else {
    lo = start ? *start : len - 1;
    hi = stop ? *stop : -len - 1;
    if (lo < 0) lo = std::max<int64_t>(lo + len, -1);
    if (hi < 0) hi = std::max<int64_t>(hi + len, -1);
    lo = std::min(lo, len - 1);
    hi = std::min(hi, len - 1);
    count = lo > hi ? (lo - hi + (-step) - 1) / (-step) : 0;
  }
  Shape sizes = x.sizes(), strides = x.strides();
  sizes[d] = count;
  strides[d] = x.strides()[d] * step;
  const int64_t offset = x.offset() + (count > 0 ? lo * x.strides()[d] : 0);
  Tensor out = make_view(x, sizes, strides, offset);
  detail::mark_view(out, x);
  if (autograd::needs_grad({&x})) {
    const Shape in_sizes = x.sizes();
    const DType dtype = x.dtype();
    autograd::record("SliceBackward", {x}, {out}, [=](const std::vector<Tensor>& g) {
      Tensor gi = zeros(in_sizes, dtype);
      Shape gi_strides = gi.strides();
      gi_strides[d] *= step;
      detail::copy_raw(make_view(gi, sizes, gi_strides, count > 0 ? lo * gi.strides()[d] : 0), g[0]);
      return std::vector<Tensor>{gi};
    });
  }
  return out;
}

Tensor native_select(const Tensor& x, int64_t dim, int64_t index) {
  NN_CHECK(x.dim() > 0, IndexError, "select: cannot index a 0-dim tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "select");
  const int64_t len = x.sizes()[d];
  NN_CHECK(index >= -len && index < len, IndexError, "index ", index, " is out of bounds for dimension ", d,
           " with size ", len);
  const int64_t i = index < 0 ? index + len : index;
  Shape sizes = x.sizes(), strides = x.strides();
  sizes.erase(sizes.begin() + d);
  strides.erase(strides.begin() + d);
  Tensor out = make_view(x, sizes, strides, x.offset() + i * x.strides()[d]);
  detail::mark_view(out, x);
  if (autograd::needs_grad({&x})) {
    const Shape in_sizes = x.sizes();
    const DType dtype = x.dtype();
    autograd::record("SelectBackward", {x}, {out}, [=](const std::vector<Tensor>& g) {
      Tensor gi = zeros(in_sizes, dtype);
      Shape s = gi.sizes(), st = gi.strides();
      const int64_t off = i * st[d];
      s.erase(s.begin() + d);
      st.erase(st.begin() + d);
      detail::copy_raw(make_view(gi, s, st, off), g[0]);
      return std::vector<Tensor>{gi};
    });
  }
  return out;
}

Tensor native_contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor out = detail::contiguous_raw(x);
  if (autograd::needs_grad({&x}))
    autograd::record("ContiguousBackward", {x}, {out}, [](const std::vector<Tensor>& g) { return g; });
  return out;
}

Tensor native_cat(const std::vector<Tensor>& tensors, int64_t dim) {
  NN_CHECK(!tensors.empty(), ValueError, "cat: expected a non-empty list of tensors");
  const Tensor& first = tensors[0];
  const int64_t n = first.dim();
  NN_CHECK(n > 0, ValueError, "cat: zero-dimensional tensor (at position 0) cannot be concatenated");
  const int64_t d = wrap_dim(dim, n, "cat");
  DType dtype = first.dtype();
  int64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    detail::check_same_device(first, t, "cat");
    NN_CHECK(t.dim() == n, ShapeError, "cat: tensors must have the same number of dimensions: got ", n,
             " and ", t.dim(), " (tensor ", i, ")");
    for (int64_t k = 0; k < n; ++k)
      NN_CHECK(k == d || t.sizes()[k] == first.sizes()[k], ShapeError, "cat: sizes of tensors must match except in "
               "dimension ", d, "; expected size ", first.sizes()[k], " but got size ", t.sizes()[k],
               " for tensor number ", i, " in the list (shapes ", first.sizes(), " and ", t.sizes(), ")");
    dtype = promote_types(dtype, t.dtype());
    total += t.sizes()[d];
  }
  Shape sizes = first.sizes();
  sizes[d] = total;
  Tensor out = empty(sizes, dtype, first.device());
  Shape sub_sizes = sizes;
  int64_t offset = 0;
  std::vector<int64_t> lengths;
  for (const Tensor& t : tensors) {
    sub_sizes[d] = t.sizes()[d];
    detail::copy_raw(make_view(out, sub_sizes, out.strides(), offset * out.strides()[d]), t);
    offset += t.sizes()[d];
    lengths.push_back(t.sizes()[d]);
  }
  if (autograd::needs_grad(tensors)) {
    std::vector<DType> dtypes;
    for (const Tensor& t : tensors) dtypes.push_back(t.dtype());
    autograd::record("CatBackward", tensors, {out}, [=](const std::vector<Tensor>& g) {
      std::vector<Tensor> grads;
      int64_t start = 0;
      for (size_t i = 0; i < lengths.size(); ++i) {
        grads.push_back(detail::cast_raw(slice(g[0], d, start, start + lengths[i], 1), dtypes[i]));
        start += lengths[i];
      }
      return grads;
    });
  }
  return out;
}

}  // namespace nn
