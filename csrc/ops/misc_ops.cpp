// misc_ops.cpp — COMPOSITE rows of PyTorch's everyday tensor functions that nn_core lacked:
// masked_select, nan_to_num, norm (p-norms over dims), unbind, median (global and along a
// dim), unique (flat and along a dim), diff, meshgrid, linspace / logspace, eye, cdist,
// searchsorted / bucketize and isclose. Each is written with other ops of the schema
// (STYLE.md 2): no kernel and no derivative of its own; gradients, where the row is
// differentiable, come from the ops it is made of. Arguments, defaults and error rules
// follow PyTorch's (torch.median picks the lower median; unique sorts; searchsorted counts).
//
// Conventions: dims are wrapped with wrap_dim (negative dims count from the end); a 0-dim
// input is treated as one element where PyTorch does the same. Data-dependent results
// (masked_select, unique) get their sizes from `index` with a bool mask, whose kernel counts
// the true elements; no op here reads tensor data on the host.
#include <cmath>
#include <limits>

#include "ops/internal.h"
#include "ops/misc_ops.h"

namespace nn {

namespace {

Tensor scalar_like(double value, DType dtype) { return full({}, value, dtype); }

Tensor int_scalar(int64_t value) { return wrapped_scalar(static_cast<double>(value), true); }

// sqrt(s) with a zero gradient where s == 0 (the double-where trick: the unselected branch
// never sees s == 0, so no 0 * inf appears in the backward).
Tensor safe_root(const Tensor& s, double inv_p) {
  Tensor positive = gt(s, scalar_like(0, s.dtype()));
  Tensor s_safe = where(positive, s, scalar_like(1, s.dtype()));
  Tensor root = inv_p == 0.5 ? sqrt(s_safe) : pow(s_safe, scalar_like(inv_p, s.dtype()));
  return where(positive, root, scalar_like(0, s.dtype()));
}

}  // namespace

// The p-norm over `dims` (all dims when empty): (sum |x|^p)^(1/p); p = inf / -inf is the
// max / min of |x|, p = 0 the count of nonzeros. Shared by norm, cdist, normalize and
// pairwise_distance.
Tensor lp_norm(const Tensor& x, double p, const std::vector<int64_t>& dims, bool keepdim, const char* op) {
  NN_CHECK(is_floating(x.dtype()), DTypeError, op, ": expected a floating point input, got ", x.dtype());
  NN_CHECK(!std::isnan(p), ValueError, op, ": the order p must be a number, got nan");
  if (std::isinf(p)) {
    Tensor a = abs(x);
    return p > 0 ? amax(a, dims, keepdim) : amin(a, dims, keepdim);
  }
  if (p == 0) return cast(sum(cast(ne(x, scalar_like(0, x.dtype())), x.dtype()), dims, keepdim), x.dtype());
  if (p == 1) return sum(abs(x), dims, keepdim);
  if (p == 2) return safe_root(sum(mul(x, x), dims, keepdim), 0.5);
  Tensor s = sum(pow(abs(x), scalar_like(p, x.dtype())), dims, keepdim);
  return p > 0 ? safe_root(s, 1.0 / p) : pow(s, scalar_like(1.0 / p, s.dtype()));
}

Tensor native_masked_select(const Tensor& x, const Tensor& mask) {
  NN_CHECK(mask.dtype() == DType::Bool, DTypeError, "masked_select: expected a bool mask, got ", mask.dtype());
  const Shape shape = broadcast_shapes(x.sizes(), mask.sizes(), "masked_select");
  if (shape.empty()) return index(reshape(x, {1}), {reshape(mask, {1})});
  return index(expand(x, shape), {expand(mask, shape)});
}

Tensor native_nan_to_num(const Tensor& x, double nan, std::optional<double> posinf, std::optional<double> neginf) {
  if (!is_floating(x.dtype())) return clone(x);  // integers hold no nan or inf (PyTorch returns a copy)
  double largest = std::numeric_limits<double>::max();
  switch (x.dtype()) {
    case DType::Float32: largest = std::numeric_limits<float>::max(); break;
    case DType::Float16: largest = 65504.0; break;
    case DType::BFloat16: largest = 3.3895313892515355e38; break;
    default: break;
  }
  const DType dt = x.dtype();
  const double inf = std::numeric_limits<double>::infinity();
  Tensor out = where(isnan(x), scalar_like(nan, dt), x);
  out = where(eq(x, scalar_like(inf, dt)), scalar_like(posinf.value_or(largest), dt), out);
  return where(eq(x, scalar_like(-inf, dt)), scalar_like(neginf.value_or(-largest), dt), out);
}

Tensor native_norm(const Tensor& x, double p, const std::vector<int64_t>& dims, bool keepdim) {
  return lp_norm(x, p, dims, keepdim, "norm");
}

std::vector<Tensor> native_unbind(const Tensor& x, int64_t dim) {
  NN_CHECK(x.dim() > 0, ShapeError, "unbind: dimension specified as ", dim, " but tensor has no dimensions");
  const int64_t d = wrap_dim(dim, x.dim(), "unbind");
  std::vector<Tensor> out;
  for (int64_t i = 0; i < x.sizes()[d]; ++i) out.push_back(select(x, d, i));
  return out;
}

namespace {

// The lower median of each slice along d (x at least 1-D): the element at (n - 1) / 2 of a
// stable ascending sort; a slice holding NaN gives NaN and the index of its first NaN
// (PyTorch's rule).
std::pair<Tensor, Tensor> median_along(const Tensor& x, int64_t d, bool keepdim, const char* op) {
  const int64_t n = x.sizes()[d];
  NN_CHECK(n > 0, IndexError, op, ": cannot compute the median of an empty dimension (dim ", d, " of shape ",
           x.sizes(), ")");
  auto [sorted_values, order] = sort(x, d, false, true);
  Tensor values = select(sorted_values, d, (n - 1) / 2);
  Tensor indices = select(order, d, (n - 1) / 2);
  if (is_floating(x.dtype())) {
    Tensor nan_mask = isnan(x);
    Tensor has_nan = any(nan_mask, {d}, false);
    values = where(has_nan, scalar_like(std::numeric_limits<double>::quiet_NaN(), x.dtype()), values);
    indices = where(has_nan, argmax(cast(nan_mask, DType::Int64), d, false), indices);
  }
  if (keepdim) return {unsqueeze(values, d), unsqueeze(indices, d)};
  return {values, indices};
}

}  // namespace

Tensor native_median(const Tensor& x) {
  NN_CHECK(x.numel() > 0, IndexError, "median: cannot compute the median of an empty tensor (shape ", x.sizes(), ")");
  return median_along(reshape(x, {-1}), 0, false, "median").first;
}

std::pair<Tensor, Tensor> native_median_dim(const Tensor& x, int64_t dim, bool keepdim) {
  const int64_t d = wrap_dim(dim, std::max<int64_t>(x.dim(), 1), "median");
  if (x.dim() == 0) {
    auto [v, i] = median_along(reshape(x, {1}), 0, false, "median");
    return {v, i};
  }
  return median_along(x, d, keepdim, "median");
}

std::tuple<Tensor, Tensor, Tensor> native_unique(const Tensor& x, bool /*sorted: always*/, bool return_inverse,
                                                 bool return_counts, std::optional<int64_t> dim) {
  // rows: (n, k), one row per element (dim None: k = 1) or per slice along dim. Rows are
  // sorted lexicographically (stable sorts from the last column to the first), a row
  // starts a new group where it differs from the previous one, and the groups give the
  // values, each input row's group (inverse) and the group sizes (counts).
  Tensor moved;  // x with the unique dim first
  Tensor rows;
  if (dim) {
    NN_CHECK(x.dim() > 0 || *dim == 0 || *dim == -1, IndexError, "unique: dim ", *dim,
             " is out of range for a 0-dim tensor");
    const int64_t d = wrap_dim(*dim, std::max<int64_t>(x.dim(), 1), "unique");
    // dim first, the other dims in their order (NumPy's moveaxis: the rows' columns are
    // ordered as in the input, which fixes the lexicographic order)
    std::vector<int64_t> perm{d};
    for (int64_t k = 0; k < x.dim(); ++k) if (k != d) perm.push_back(k);
    moved = x.dim() == 0 ? reshape(x, {1}) : permute(x, perm);
    rows = reshape(moved, {moved.sizes()[0], -1});
    if (moved.sizes()[0] == 0 || rows.sizes()[1] == 0) {
      NN_CHECK(moved.sizes()[0] == 0, ValueError, "unique: the slices along dim ", d, " of shape ", x.sizes(),
               " are empty (PyTorch rejects this)");
    }
  } else {
    moved = reshape(x, {-1});
    rows = reshape(moved, {-1, 1});
  }
  const int64_t n = rows.sizes()[0], k = rows.sizes()[1];
  Tensor positions = arange(0, static_cast<double>(n), 1, DType::Int64);
  if (n == 0) {
    Tensor empty_counts = zeros({0}, DType::Int64);
    Tensor inverse = dim ? zeros({0}, DType::Int64) : zeros(x.sizes(), DType::Int64);
    return {dim ? clone(x) : reshape(moved, {0}), inverse, empty_counts};
  }
  Tensor perm = positions;
  for (int64_t c = k - 1; c >= 0; --c) {
    Tensor key = index_select(select(rows, 1, c), 0, perm);
    perm = index_select(perm, 0, argsort(key, 0, false, true));
  }
  Tensor sorted_rows = index_select(rows, 0, perm);
  Tensor differs = any(ne(slice(sorted_rows, 0, 1, n, 1), slice(sorted_rows, 0, 0, n - 1, 1)), {1}, false);
  Tensor is_new = cat({full({1}, 1.0, DType::Bool), differs}, 0);
  Tensor firsts = index(perm, {is_new});  // the input row of each group's first member
  Tensor values = index_select(moved, 0, firsts);
  if (dim && x.dim() > 0) {  // dim back in place: the inverse of the permutation above
    const int64_t d = wrap_dim(*dim, x.dim(), "unique");
    std::vector<int64_t> back;
    for (int64_t k = 1; k <= d; ++k) back.push_back(k);
    back.push_back(0);
    for (int64_t k = d + 1; k < x.dim(); ++k) back.push_back(k);
    values = permute(values, back);
  } else if (dim) {
    values = reshape(values, {-1});
  }
  Tensor inverse, counts;
  if (return_inverse) {
    Tensor group = sub(cumsum(cast(is_new, DType::Int64), 0, std::nullopt), int_scalar(1));
    inverse = scatter(zeros({n}, DType::Int64), 0, perm, group);
    if (!dim) inverse = reshape(inverse, x.sizes());
  } else {
    inverse = zeros({0}, DType::Int64);
  }
  if (return_counts) {
    Tensor starts = index(positions, {is_new});
    Tensor ends = cat({slice(starts, 0, 1, std::nullopt, 1), full({1}, static_cast<double>(n), DType::Int64)}, 0);
    counts = sub(ends, starts);
  } else {
    counts = zeros({0}, DType::Int64);
  }
  return {values, inverse, counts};
}

Tensor native_diff(const Tensor& x, int64_t n, int64_t dim, const Tensor& prepend, const Tensor& append) {
  NN_CHECK(x.dim() >= 1, ShapeError, "diff: expected at least a 1-dimensional input, got shape ", x.sizes());
  NN_CHECK(n >= 0, ValueError, "diff: order must be non-negative but got ", n);
  const int64_t d = wrap_dim(dim, x.dim(), "diff");
  std::vector<Tensor> parts;
  for (const Tensor* extra : {&prepend, &x, &append}) {
    if (!extra->defined()) continue;
    NN_CHECK(extra->dim() == x.dim(), ShapeError, "diff: prepend / append must have the same number of dims as the "
             "input (", x.dim(), "), got shape ", extra->sizes());
    parts.push_back(*extra);
  }
  Tensor cur = parts.size() == 1 ? x : cat(parts, d);
  if (n == 0) return parts.size() == 1 ? clone(x) : cur;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t len = cur.sizes()[d];
    if (len == 0) break;
    Tensor later = slice(cur, d, 1, len, 1), earlier = slice(cur, d, 0, len - 1, 1);
    cur = cur.dtype() == DType::Bool ? logical_xor(later, earlier) : sub(later, earlier);
  }
  return cur;
}

std::vector<Tensor> native_meshgrid(const std::vector<Tensor>& tensors, const std::string& indexing) {
  NN_CHECK(!tensors.empty(), ValueError, "meshgrid: expects a non-empty list of tensors");
  NN_CHECK(indexing == "ij" || indexing == "xy", ValueError, "meshgrid: indexing must be 'ij' or 'xy', got '",
           indexing, "'");
  Shape shape;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    NN_CHECK(t.dim() <= 1, ShapeError, "meshgrid: expects 0-D or 1-D tensors, got shape ", t.sizes(), " at position ", i);
    NN_CHECK(t.dtype() == tensors[0].dtype(), DTypeError, "meshgrid: expects all tensors to have the same dtype, got ",
             tensors[0].dtype(), " and ", t.dtype());
    shape.push_back(t.numel());
  }
  const bool swap = indexing == "xy" && tensors.size() >= 2;
  if (swap) std::swap(shape[0], shape[1]);
  std::vector<Tensor> out;
  for (size_t i = 0; i < tensors.size(); ++i) {
    size_t pos = i;
    if (swap && i < 2) pos = 1 - i;
    std::vector<int64_t> view_shape(shape.size(), 1);
    view_shape[pos] = shape[pos];
    out.push_back(expand(reshape(tensors[i], view_shape), shape));
  }
  return out;
}

namespace {

// steps values from start to end in float64, as PyTorch: the first half counts up from
// start, the second half down from end (so both ends are exact).
Tensor linspace_f64(double start, double end, int64_t steps, const char* op) {
  NN_CHECK(steps >= 0, ValueError, op, ": number of steps must be non-negative, got ", steps);
  if (steps == 0) return zeros({0}, DType::Float64);
  if (steps == 1) return full({1}, start, DType::Float64);
  const double step = (end - start) / static_cast<double>(steps - 1);
  Tensor i = arange(0, static_cast<double>(steps), 1, DType::Float64);
  Tensor up = add(scalar_like(start, DType::Float64), mul(i, scalar_like(step, DType::Float64)));
  Tensor down = sub(scalar_like(end, DType::Float64),
                    mul(sub(scalar_like(static_cast<double>(steps - 1), DType::Float64), i), scalar_like(step, DType::Float64)));
  return where(lt(i, scalar_like(static_cast<double>(steps / 2), DType::Float64)), up, down);
}

}  // namespace

Tensor native_linspace(double start, double end, int64_t steps, DType dtype) {
  NN_CHECK(dtype != DType::Bool, DTypeError, "linspace: not implemented for bool");
  return cast(linspace_f64(start, end, steps, "linspace"), dtype);
}

Tensor native_logspace(double start, double end, int64_t steps, double base, DType dtype) {
  NN_CHECK(dtype != DType::Bool, DTypeError, "logspace: not implemented for bool");
  return cast(pow(scalar_like(base, DType::Float64), linspace_f64(start, end, steps, "logspace")), dtype);
}

Tensor native_eye(int64_t n, int64_t m, DType dtype) {
  NN_CHECK(n >= 0, ValueError, "eye: n must be greater or equal to 0, got ", n);
  NN_CHECK(m >= 0, ValueError, "eye: m must be greater or equal to 0, got ", m);
  Tensor rows = unsqueeze(arange(0, static_cast<double>(n), 1, DType::Int64), 1);
  Tensor cols = unsqueeze(arange(0, static_cast<double>(m), 1, DType::Int64), 0);
  return cast(eq(rows, cols), dtype);
}

Tensor native_cdist(const Tensor& x1, const Tensor& x2, double p) {
  NN_CHECK(x1.dim() >= 2 && x2.dim() >= 2, ShapeError, "cdist: only supports at least 2D tensors, got shapes ",
           x1.sizes(), " and ", x2.sizes());
  NN_CHECK(x1.sizes().back() == x2.sizes().back(), ShapeError, "cdist: X1 and X2 must have the same number of "
           "columns, got shapes ", x1.sizes(), " and ", x2.sizes());
  NN_CHECK(p >= 0, ValueError, "cdist: only supports non-negative p values, got ", p);
  NN_CHECK(is_floating(x1.dtype()) && x1.dtype() == x2.dtype(), DTypeError, "cdist: expected two floating tensors "
           "of one dtype, got ", x1.dtype(), " and ", x2.dtype());
  const Shape b1(x1.sizes().begin(), x1.sizes().end() - 2), b2(x2.sizes().begin(), x2.sizes().end() - 2);
  broadcast_shapes(b1, b2, "cdist");  // the batch dims must broadcast
  // (B.., P, 1, M) - (B.., 1, R, M) -> (B.., P, R, M), then the p-norm over M.
  Tensor d = sub(unsqueeze(x1, -2), unsqueeze(x2, -3));
  return lp_norm(d, p, {-1}, false, "cdist");
}

namespace {

// For each value, how many entries of its sorted row are < it (right: <= it): Note
// [searchsorted by merging]. Each row of the sequence (R rows of N) and its values (M) are
// concatenated and stably sorted; a value's answer is the number of sequence entries sorted
// before it. Ties: the values come first (left: equal entries are not counted) or last
// (right: they are). O((N + M) log(N + M)) time and O(N + M) memory per row, where the
// broadcast comparison (the tests' reference) would take N * M.
Tensor count_below(const Tensor& sorted_sequence, const Tensor& values, bool right, const char* op) {
  NN_CHECK(sorted_sequence.dim() >= 1, ShapeError, op, ": boundaries tensor should have at least 1 dim, got shape ",
           sorted_sequence.sizes());
  NN_CHECK(sorted_sequence.dtype() != DType::Bool && values.dtype() != DType::Bool, DTypeError, op,
           ": not implemented for bool tensors");
  const Shape& s = sorted_sequence.sizes();
  const Shape& vs = values.sizes();
  if (sorted_sequence.dim() > 1) {
    const bool leading_match = vs.size() == s.size() && std::equal(s.begin(), s.end() - 1, vs.begin());
    NN_CHECK(leading_match, ShapeError, op, ": boundaries tensor should be 1 dimension or the first N-1 dimensions of "
             "boundaries tensor and input value tensor must match, but we got boundaries tensor ", s,
             " and input value tensor ", vs);
  }
  const DType common = result_type(sorted_sequence, values);
  const int64_t n = s.back();
  int64_t rows = 1;
  for (size_t k = 0; k + 1 < s.size(); ++k) rows *= s[k];
  int64_t m = 1;
  for (int64_t v : vs) m *= v;
  if (sorted_sequence.dim() > 1) m = vs.back();
  if (n == 0 || m == 0 || rows == 0) return zeros(vs, DType::Int64);
  Tensor seq = reshape(cast(sorted_sequence, common), {rows, n});
  Tensor vals = reshape(cast(values, common), {rows, m});
  Tensor keys = right ? cat({seq, vals}, 1) : cat({vals, seq}, 1);
  Tensor order = argsort(keys, 1, false, true);
  Tensor is_value = right ? ge(order, int_scalar(n)) : lt(order, int_scalar(m));
  Tensor seq_before = cumsum(cast(logical_not(is_value), DType::Int64), 1, std::nullopt);
  Tensor value_index = right ? sub(order, int_scalar(n)) : order;
  Tensor which = reshape(index(value_index, {is_value}), {rows, m});  // each row holds its m values
  Tensor count = reshape(index(seq_before, {is_value}), {rows, m});
  return reshape(scatter(zeros({rows, m}, DType::Int64), 1, which, count), vs);
}

}  // namespace

Tensor native_searchsorted(const Tensor& sorted_sequence, const Tensor& values, bool right) {
  return count_below(sorted_sequence, values, right, "searchsorted");
}

Tensor native_bucketize(const Tensor& values, const Tensor& boundaries, bool right) {
  NN_CHECK(boundaries.dim() == 1, ShapeError, "bucketize: boundaries tensor must be 1 dimension, got shape ",
           boundaries.sizes());
  return count_below(boundaries, values, right, "bucketize");
}

Tensor native_isclose(const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan) {
  NN_CHECK(a.dtype() == b.dtype(), DTypeError, "isclose: expected a and b to have the same dtype, got ", a.dtype(),
           " and ", b.dtype());
  NN_CHECK(rtol >= 0 && atol >= 0, ValueError, "isclose: rtol and atol must be non-negative, got rtol=", rtol,
           " atol=", atol);
  Tensor close = eq(a, b);
  if (!is_floating(a.dtype()) && a.dtype() != DType::Bool && rtol == 0 && atol == 0) return close;
  const DType ft = is_floating(a.dtype()) ? a.dtype() : DType::Float64;
  Tensor af = cast(a, ft), bf = cast(b, ft);
  if (equal_nan) close = logical_or(close, logical_and(isnan(af), isnan(bf)));
  Tensor error = abs(sub(af, bf));
  Tensor allowed = add(scalar_like(atol, ft), abs(mul(scalar_like(rtol, ft), bf)));
  return logical_or(close, logical_and(isfinite(error), le(error, allowed)));
}

}  // namespace nn
