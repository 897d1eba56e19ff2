// misc_nn_ops.cpp — COMPOSITE rows behind nn_core.functional's one_hot, normalize,
// cosine_similarity, pairwise_distance, kl_div, elu (with selu and celu as its scale /
// input_scale cases), prelu and embedding_bag. Written with other ops of the schema
// (STYLE.md 2): no kernels and no derivatives of their own. Formulas and argument rules
// are PyTorch's (ATen's Loss.cpp, Distance.cpp, EmbeddingBag.cpp), cited per op.
//
// Layouts: prelu's channel dim is dim 1 of (N, C, *); embedding_bag's weight is
// (num_embeddings, embedding_dim), its input either (B, N) (fixed bags) or 1-D with
// `offsets` (bag b is input[offsets[b] : offsets[b + 1]]); the result is (B, embedding_dim).
#include <cmath>
#include <limits>

#include "ops/internal.h"
#include "ops/misc_ops.h"

namespace nn {

namespace {

Tensor scalar_like(double value, DType dtype) { return full({}, value, dtype); }

void check_float(const Tensor& t, const char* op, const char* what) {
  NN_CHECK(is_floating(t.dtype()), DTypeError, op, ": expected a floating point ", what, ", got ", t.dtype());
}

}  // namespace

Tensor native_one_hot(const Tensor& x, int64_t num_classes) {
  NN_CHECK(x.dtype() == DType::Int64, DTypeError, "one_hot: is only applicable to index tensors of dtype int64, got ",
           x.dtype());
  NN_CHECK(num_classes >= 1 || (num_classes == 0 && x.numel() == 0), ValueError,
           "one_hot: num_classes should be positive, got ", num_classes);
  Shape shape = x.sizes();
  shape.push_back(num_classes);
  if (x.numel() == 0) return zeros(shape, DType::Int64);
  Shape one = x.sizes();
  one.push_back(1);
  // scatter's kernel checks every class index against [0, num_classes).
  return scatter(zeros(shape, DType::Int64), -1, unsqueeze(x, -1), ones(one, DType::Int64));
}

Tensor native_normalize(const Tensor& x, double p, int64_t dim, double eps) {
  check_float(x, "normalize", "input");
  const int64_t d = wrap_dim(dim, std::max<int64_t>(x.dim(), 1), "normalize");
  Tensor denom = clamp(lp_norm(x, p, {d}, true, "normalize"), eps, std::nullopt);
  return div(x, denom);
}

Tensor native_cosine_similarity(const Tensor& x1, const Tensor& x2, int64_t dim, double eps) {
  check_float(x1, "cosine_similarity", "x1");
  NN_CHECK(x1.dtype() == x2.dtype(), DTypeError, "cosine_similarity: expected x1 and x2 of one dtype, got ",
           x1.dtype(), " and ", x2.dtype());
  const Shape shape = broadcast_shapes(x1.sizes(), x2.sizes(), "cosine_similarity");
  const int64_t d = wrap_dim(dim, std::max<int64_t>(static_cast<int64_t>(shape.size()), 1), "cosine_similarity");
  Tensor a = expand(x1, shape), b = expand(x2, shape);
  if (shape.empty()) {
    a = reshape(a, {1});
    b = reshape(b, {1});
  }
  // ATen: each input divided by its norm clamped to eps, then the dot product.
  Tensor na = clamp(lp_norm(a, 2, {d}, true, "cosine_similarity"), eps, std::nullopt);
  Tensor nb = clamp(lp_norm(b, 2, {d}, true, "cosine_similarity"), eps, std::nullopt);
  Tensor out = sum(mul(div(a, na), div(b, nb)), {d}, false);
  return shape.empty() ? reshape(out, {}) : out;
}

Tensor native_pairwise_distance(const Tensor& x1, const Tensor& x2, double p, double eps, bool keepdim) {
  check_float(x1, "pairwise_distance", "x1");
  NN_CHECK(x1.dtype() == x2.dtype(), DTypeError, "pairwise_distance: expected x1 and x2 of one dtype, got ",
           x1.dtype(), " and ", x2.dtype());
  NN_CHECK(p >= 0 || std::isinf(p), ValueError, "pairwise_distance: p must be non-negative, got ", p);
  // ATen: norm(x1 - x2 + eps, p, innermost dim, keepdim).
  Tensor d = add(sub(x1, x2), scalar_like(eps, x1.dtype()));
  if (d.dim() == 0) return lp_norm(d, p, {}, false, "pairwise_distance");
  return lp_norm(d, p, {-1}, keepdim, "pairwise_distance");
}

Tensor native_kl_div(const Tensor& input, const Tensor& target, const std::string& reduction, bool log_target) {
  check_float(input, "kl_div", "input");
  check_float(target, "kl_div", "target");
  NN_CHECK(reduction == "none" || reduction == "mean" || reduction == "sum" || reduction == "batchmean", ValueError,
           "kl_div: reduction must be 'none', 'mean', 'sum' or 'batchmean', got '", reduction, "'");
  broadcast_shapes(input.sizes(), target.sizes(), "kl_div");
  Tensor loss;
  if (log_target) {
    loss = mul(exp(target), sub(target, input));
  } else {
    // xlogy(target, target) - target * input; 0 * log 0 = 0 (the log never sees 0: its
    // gradient stays finite).
    Tensor zero_t = eq(target, scalar_like(0, target.dtype()));
    Tensor safe = where(zero_t, scalar_like(1, target.dtype()), target);
    Tensor xlogy = where(zero_t, scalar_like(0, target.dtype()), mul(target, log(safe)));
    loss = sub(xlogy, mul(target, input));
  }
  if (reduction == "none") return loss;
  if (reduction == "sum") return sum(loss, {}, false);
  if (reduction == "mean") return mean(loss, {}, false);
  Tensor total = sum(loss, {}, false);  // batchmean: sum / batch size (dim 0)
  if (input.dim() == 0) return total;
  return div(total, scalar_like(static_cast<double>(input.sizes()[0]), total.dtype()));
}

Tensor native_elu(const Tensor& x, double alpha, double scale, double input_scale) {
  check_float(x, "elu", "input");
  // x > 0: scale * x; else scale * alpha * (exp(x * input_scale) - 1). The exp sees
  // min(x, 0) so that the unselected branch never overflows (inf * 0 in the backward).
  Tensor negative = clamp(x, std::nullopt, 0.0);
  Tensor curve = mul(scalar_like(scale * alpha, x.dtype()),
                     sub(exp(mul(negative, scalar_like(input_scale, x.dtype()))), scalar_like(1, x.dtype())));
  Tensor linear = scale == 1.0 ? x : mul(x, scalar_like(scale, x.dtype()));
  return where(gt(x, scalar_like(0, x.dtype())), linear, curve);
}

Tensor native_prelu(const Tensor& x, const Tensor& weight) {
  check_float(x, "prelu", "input");
  NN_CHECK(weight.dtype() == x.dtype(), DTypeError, "prelu: expected weight of the input's dtype ", x.dtype(),
           ", got ", weight.dtype());
  NN_CHECK(weight.dim() <= 1, ShapeError, "prelu: expected weight to be a scalar or 1-D tensor, got shape ",
           weight.sizes());
  const int64_t channels = x.dim() >= 2 ? x.sizes()[1] : 1;
  NN_CHECK(weight.numel() == 1 || weight.numel() == channels, ShapeError,
           "prelu: mismatch of parameter numbers and input channel size: the weight has ", weight.numel(),
           " parameters, the input of shape ", x.sizes(), " has ", channels, " channels (dim 1)");
  Tensor w = weight;
  if (weight.numel() == 1 || x.dim() < 2) {
    w = reshape(weight, {});
  } else {
    std::vector<int64_t> shape(x.dim(), 1);
    shape[1] = channels;
    w = reshape(weight, shape);
  }
  return where(gt(x, scalar_like(0, x.dtype())), x, mul(w, x));
}

Tensor native_embedding_bag(const Tensor& weight, const Tensor& input, const Tensor& offsets, const std::string& mode,
                            const Tensor& per_sample_weights, std::optional<int64_t> padding_idx,
                            bool include_last_offset) {
  check_float(weight, "embedding_bag", "weight");
  NN_CHECK(weight.dim() == 2, ShapeError, "embedding_bag: weight has to be a 2D tensor, got shape ", weight.sizes());
  NN_CHECK(mode == "sum" || mode == "mean" || mode == "max", ValueError,
           "embedding_bag: mode has to be one of sum, mean or max, got '", mode, "'");
  NN_CHECK(input.dtype() == DType::Int64 || input.dtype() == DType::Int32, DTypeError,
           "embedding_bag: expected input of dtype int64 or int32, got ", input.dtype());
  const int64_t vocab = weight.sizes()[0], width = weight.sizes()[1];
  if (padding_idx) {
    NN_CHECK(*padding_idx >= -vocab && *padding_idx < vocab, ValueError, "embedding_bag: padding_idx must be within "
             "[-", vocab, ", ", vocab, "), got ", *padding_idx);
  }
  Tensor flat, bag;  // every index with the number of its bag
  int64_t bags = 0;
  if (input.dim() == 2) {
    NN_CHECK(!offsets.defined(), ValueError, "embedding_bag: if input is 2D, then offsets has to be None, as input is "
             "treated as a mini-batch of fixed length sequences");
    bags = input.sizes()[0];
    const int64_t per_bag = input.sizes()[1];
    flat = reshape(input, {-1});
    bag = reshape(expand(unsqueeze(arange(0, static_cast<double>(bags), 1, DType::Int64), 1), {bags, per_bag}), {-1});
  } else {
    NN_CHECK(input.dim() == 1, ShapeError, "embedding_bag: input has to be 1D or 2D, got shape ", input.sizes());
    NN_CHECK(offsets.defined(), ValueError, "embedding_bag: offsets has to be a 1D tensor when input is 1D");
    NN_CHECK(offsets.dim() == 1, ShapeError, "embedding_bag: offsets has to be a 1D tensor, got shape ",
             offsets.sizes());
    NN_CHECK(offsets.dtype() == DType::Int64 || offsets.dtype() == DType::Int32, DTypeError,
             "embedding_bag: expected offsets of dtype int64 or int32, got ", offsets.dtype());
    bags = offsets.sizes()[0] - (include_last_offset ? 1 : 0);
    NN_CHECK(bags >= 0, ValueError, "embedding_bag: include_last_offset needs at least one offset");
    flat = input;
    // bag of position i: (number of offsets <= i) - 1. An index before offsets[0] gets bag
    // -1, which scatter_add's kernel rejects.
    Tensor starts = slice(cast(offsets, DType::Int64), 0, 0, bags, 1);
    Tensor positions = arange(0, static_cast<double>(input.numel()), 1, DType::Int64);
    bag = sub(searchsorted(starts, positions, true), wrapped_scalar(1, true));
  }
  flat = cast(flat, DType::Int64);
  const int64_t n = flat.numel();
  if (per_sample_weights.defined()) {
    NN_CHECK(mode == "sum", ValueError, "embedding_bag: per_sample_weights was not None; per_sample_weights is only "
             "supported for mode='sum' (got mode='", mode, "')");
    NN_CHECK(per_sample_weights.sizes() == input.sizes(), ShapeError, "embedding_bag: per_sample_weights of shape ",
             per_sample_weights.sizes(), " must have the shape of input ", input.sizes());
    NN_CHECK(per_sample_weights.dtype() == weight.dtype(), DTypeError, "embedding_bag: expected per_sample_weights of "
             "the weight's dtype ", weight.dtype(), ", got ", per_sample_weights.dtype());
  }
  Tensor rows = embedding(flat, weight, std::nullopt);  // (n, width); its kernel checks the index range
  Tensor keep;  // (n,) 1 for indices that count, 0 for padding_idx
  if (padding_idx) {
    const int64_t pad = *padding_idx < 0 ? *padding_idx + vocab : *padding_idx;
    keep = ne(flat, wrapped_scalar(static_cast<double>(pad), true));
  } else {
    keep = full({n}, 1.0, DType::Bool);
  }
  Tensor keep_f = cast(keep, weight.dtype());
  Tensor zero = scalar_like(0, weight.dtype());
  if (mode == "max") {
    if (n == 0 || bags == 0) return zeros({bags, width}, weight.dtype());
    // Note [bag max by sorting]: per embedding column, the positions sorted by value and
    // then (stably) by bag; the last position of each bag holds its max. Bags are
    // contiguous runs of positions, so bag b ends at (number of positions in bags <= b) - 1.
    // Padding entries are -inf (sorted first); a bag with no counted entry gives 0.
    Tensor masked = where(unsqueeze(keep, 1), rows, scalar_like(-std::numeric_limits<double>::infinity(),
                                                                 weight.dtype()));
    Tensor bag_cols = expand(unsqueeze(bag, 1), {n, width});
    Tensor by_value = argsort(masked, 0, false, true);
    Tensor by_bag = argsort(gather(bag_cols, 0, by_value), 0, false, true);
    Tensor sorted_values = gather(masked, 0, gather(by_value, 0, by_bag));
    Tensor members = scatter_add(zeros({bags}, DType::Int64), 0, bag, ones({n}, DType::Int64));
    Tensor last = clamp(sub(cumsum(members, 0, std::nullopt), wrapped_scalar(1, true)), 0.0, std::nullopt);
    Tensor best = gather(sorted_values, 0, expand(unsqueeze(last, 1), {bags, width}));
    Tensor counted = scatter_add(zeros({bags}, DType::Int64), 0, bag, cast(keep, DType::Int64));
    return where(unsqueeze(gt(counted, wrapped_scalar(0, true)), 1), best, zero);
  }
  Tensor contrib = mul(rows, unsqueeze(keep_f, 1));
  if (per_sample_weights.defined()) contrib = mul(contrib, unsqueeze(reshape(per_sample_weights, {-1}), 1));
  Tensor index = expand(unsqueeze(bag, 1), {n, width});
  Tensor out = scatter_add(zeros({bags, width}, weight.dtype()), 0, index, contrib);
  if (mode == "sum") return out;
  Tensor counts = scatter_add(zeros({bags}, weight.dtype()), 0, bag, keep_f);
  return div(out, unsqueeze(clamp(counts, 1.0, std::nullopt), 1));  // empty bags: 0 (PyTorch)
}

}  // namespace nn
