// monitor_features.cpp — the feature side of the monitor (runtime/monitor.h): which
// features a call yields, their values, the reference profile (quantile bins), the drift
// figures on two histograms (PSI, binned KS with its error bound) and the canary's output
// comparison. The sliding window and outcomes are in monitor.cpp.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/errors.h"
#include "ops/ops.h"
#include "runtime/monitor.h"

namespace nn::runtime {
namespace {

// A contiguous copy (or the tensor itself) in a dtype the readers handle: float32/float64
// for floating tensors, int64/int32 for integer and bool ones.
Tensor readable(const Tensor& t) {
  DType d = t.dtype();
  if (d == DType::Float16 || d == DType::BFloat16) return contiguous(cast(t, DType::Float32));
  if (d == DType::Bool || d == DType::UInt8 || d == DType::Int8) return contiguous(cast(t, DType::Int64));
  return contiguous(t);
}

template <typename Fn>
void with_data(const Tensor& c, Fn&& fn) {
  switch (c.dtype()) {
    case DType::Float32: fn(c.data<float>()); break;
    case DType::Float64: fn(c.data<double>()); break;
    case DType::Int32: fn(c.data<int32_t>()); break;
    default: fn(c.data<int64_t>()); break;
  }
}

const Tensor* source_of(const FeatureDef& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs) {
  const auto& v = f.from_output ? outputs : inputs;
  if (f.source < 0 || static_cast<size_t>(f.source) >= v.size()) return nullptr;
  return &v[static_cast<size_t>(f.source)];
}

void quantile_edges(std::vector<double> sorted, int bins, std::vector<double>& edges) {
  edges.clear();
  const size_t n = sorted.size();
  for (int j = 1; j < bins; ++j) {
    // numpy's default (linear) quantile at j / bins
    const double pos = static_cast<double>(j) / bins * static_cast<double>(n - 1);
    const size_t lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(lo + 1, n - 1);
    const double e = sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
    if (edges.empty() || e > edges.back()) edges.push_back(e);
  }
}

}  // namespace

const char* feature_kind_name(FeatureKind k) {
  switch (k) {
    case FeatureKind::Column: return "column";
    case FeatureKind::Values: return "values";
    case FeatureKind::Tokens: return "tokens";
    case FeatureKind::Length: return "length";
    case FeatureKind::Norm: return "norm";
    case FeatureKind::Score: return "score";
    case FeatureKind::Class: return "class";
  }
  return "?";
}

FeatureKind feature_kind_from_name(const std::string& name) {
  for (int k = 0; k <= static_cast<int>(FeatureKind::Class); ++k)
    if (name == feature_kind_name(static_cast<FeatureKind>(k))) return static_cast<FeatureKind>(k);
  throw ValueError(str("drift profile: unknown feature kind '", name,
                       "' (column, values, tokens, length, norm, score, class)"));
}

std::vector<FeatureDef> feature_layout(const std::vector<std::string>& input_names, const std::vector<Tensor>& inputs,
                                       const std::vector<Tensor>& outputs, int64_t max_columns, int64_t max_classes) {
  std::vector<FeatureDef> defs;
  auto add = [&](std::string name, FeatureKind kind, bool out, int src, int64_t column) {
    defs.push_back(FeatureDef{std::move(name), kind, out, src, column});
  };
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    const std::string name = i < input_names.size() ? input_names[i] : str("input", i);
    const int src = static_cast<int>(i);
    if (is_floating(t.dtype())) {
      const int64_t f = t.dim() >= 2 ? t.sizes().back() : 0;
      if (f >= 1 && f <= max_columns) {
        for (int64_t j = 0; j < f; ++j) add(str(name, "[", j, "]"), FeatureKind::Column, false, src, j);
      } else {
        add(name + ".values", FeatureKind::Values, false, src, -1);
      }
    } else {
      add(name + ".tokens", FeatureKind::Tokens, false, src, -1);
      if (t.dim() >= 2) add(name + ".length", FeatureKind::Length, false, src, -1);
    }
  }
  for (size_t o = 0; o < outputs.size(); ++o) {
    const Tensor& t = outputs[o];
    const std::string name = str("output", o);
    const int src = static_cast<int>(o);
    if (is_floating(t.dtype()) && t.dim() >= 2) {
      const int64_t c = t.sizes().back();
      add(name + ".norm", FeatureKind::Norm, true, src, -1);
      add(name + ".score", FeatureKind::Score, true, src, -1);
      if (c >= 2 && c <= max_classes) add(name + ".class", FeatureKind::Class, true, src, c);
    } else {
      add(name + ".values", FeatureKind::Values, true, src, -1);
    }
  }
  return defs;
}

std::string feature_values(const FeatureDef& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
                           std::vector<double>& out) {
  out.clear();
  const Tensor* src = source_of(f, inputs, outputs);
  const char* where = f.from_output ? "output" : "input";
  if (!src || !src->defined()) return str("feature '", f.name, "': the call has no ", where, " ", f.source);
  const Tensor& t = *src;
  const bool floating = is_floating(t.dtype());
  switch (f.kind) {
    case FeatureKind::Column:
    case FeatureKind::Norm:
    case FeatureKind::Score:
    case FeatureKind::Class:
      if (!floating || t.dim() < (f.kind == FeatureKind::Column ? 2 : 1))
        return str("feature '", f.name, "' needs a floating ", where, " of rank >= 2, got ", dtype_name(t.dtype()),
                   " of shape ", t.sizes());
      break;
    case FeatureKind::Length:
      if (floating || t.dim() < 1)
        return str("feature '", f.name, "' needs an integer ", where, " of rank >= 1, got ", dtype_name(t.dtype()),
                   " of shape ", t.sizes());
      break;
    case FeatureKind::Tokens:
      if (floating) return str("feature '", f.name, "' needs an integer ", where, ", got ", dtype_name(t.dtype()));
      break;
    case FeatureKind::Values: break;
  }
  const int64_t last = t.dim() >= 1 ? t.sizes().back() : 1;
  if (f.kind == FeatureKind::Column && f.column >= last)
    return str("feature '", f.name, "' reads column ", f.column, " of the last dim, but the ", where, " has shape ",
               t.sizes());
  if (f.kind == FeatureKind::Class && last != f.column)
    return str("feature '", f.name, "' has ", f.column, " classes, but the ", where, " has shape ", t.sizes());
  const Tensor c = readable(t);
  const int64_t n = c.numel();
  const int64_t rows = last > 0 ? n / last : 0;
  with_data(c, [&](const auto* p) {
    switch (f.kind) {
      case FeatureKind::Values:
      case FeatureKind::Tokens:
        out.resize(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = static_cast<double>(p[i]);
        break;
      case FeatureKind::Column:
        out.resize(static_cast<size_t>(rows));
        for (int64_t r = 0; r < rows; ++r) out[static_cast<size_t>(r)] = static_cast<double>(p[r * last + f.column]);
        break;
      case FeatureKind::Length:
        out.resize(static_cast<size_t>(rows));
        for (int64_t r = 0; r < rows; ++r) {
          int64_t len = 0;
          for (int64_t j = 0; j < last; ++j) len += p[r * last + j] != 0;
          out[static_cast<size_t>(r)] = static_cast<double>(len);
        }
        break;
      case FeatureKind::Norm:
      case FeatureKind::Score:
      case FeatureKind::Class:
        out.resize(static_cast<size_t>(rows));
        for (int64_t r = 0; r < rows; ++r) {
          const auto* row = p + r * last;
          double v = 0;
          if (f.kind == FeatureKind::Norm) {
            for (int64_t j = 0; j < last; ++j) v += static_cast<double>(row[j]) * static_cast<double>(row[j]);
            v = std::sqrt(v);
          } else {
            int64_t arg = 0;
            double best = static_cast<double>(row[0]);
            for (int64_t j = 1; j < last; ++j)
              if (static_cast<double>(row[j]) > best || std::isnan(best)) {
                best = static_cast<double>(row[j]);
                arg = j;
              }
            v = f.kind == FeatureKind::Score ? best : static_cast<double>(arg);
          }
          out[static_cast<size_t>(r)] = v;
        }
        break;
    }
  });
  return {};
}

ProfileBuilder::ProfileBuilder(std::vector<FeatureDef> features, int bins)
    : features_(std::move(features)), bins_(bins) {
  NN_CHECK(bins_ >= 2 && bins_ <= 4096, ValueError, "drift profile: bins must be in [2, 4096], got ", bins_);
  NN_CHECK(!features_.empty(), ValueError, "drift profile: the layout has no features");
  values_.resize(features_.size());
}

void ProfileBuilder::add(const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs) {
  std::vector<double> v;
  for (size_t k = 0; k < features_.size(); ++k) {
    const std::string why = feature_values(features_[k], inputs, outputs, v);
    NN_CHECK(why.empty(), ValueError, "drift profile: reference batch ", batches_, ": ", why);
    for (double x : v)
      NN_CHECK(!std::isnan(x), ValueError, "drift profile: reference batch ", batches_, ": feature '",
               features_[k].name, "' contains NaN (a reference must be finite)");
    values_[k].insert(values_[k].end(), v.begin(), v.end());
  }
  ++batches_;
}

DriftProfile ProfileBuilder::finish() const {
  DriftProfile p;
  p.bins = bins_;
  p.features = features_;
  for (size_t k = 0; k < features_.size(); ++k) {
    std::vector<double> sorted = values_[k];
    NN_CHECK(!sorted.empty(), ValueError, "drift profile: feature '", features_[k].name,
             "' has no reference values (empty reference batches?)");
    std::sort(sorted.begin(), sorted.end());
    FeatureReference r;
    if (features_[k].kind == FeatureKind::Class) {
      for (int64_t c = 1; c < features_[k].column; ++c) r.edges.push_back(static_cast<double>(c) - 0.5);
    } else {
      quantile_edges(sorted, bins_, r.edges);
    }
    r.counts.assign(r.edges.size() + 1, 0);
    double sum = 0, sumsq = 0;
    for (double x : sorted) {
      ++r.counts[static_cast<size_t>(std::upper_bound(r.edges.begin(), r.edges.end(), x) - r.edges.begin())];
      sum += x;
      sumsq += x * x;
    }
    r.n = static_cast<int64_t>(sorted.size());
    r.mean = sum / static_cast<double>(r.n);
    r.std = std::sqrt(std::max(0.0, sumsq / static_cast<double>(r.n) - r.mean * r.mean));
    r.min = sorted.front();
    r.max = sorted.back();
    p.reference.push_back(std::move(r));
  }
  return p;
}

double population_stability_index(const std::vector<int64_t>& reference, const std::vector<int64_t>& window,
                                  double epsilon) {
  NN_CHECK(reference.size() == window.size(), ValueError, "population_stability_index: ", reference.size(),
           " reference bins but ", window.size(), " window bins");
  double nr = 0, nw = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    nr += static_cast<double>(reference[i]);
    nw += static_cast<double>(window[i]);
  }
  if (nr <= 0 || nw <= 0) return 0.0;
  double psi = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    const double r = std::max(static_cast<double>(reference[i]) / nr, epsilon);
    const double w = std::max(static_cast<double>(window[i]) / nw, epsilon);
    psi += (w - r) * std::log(w / r);
  }
  return psi;
}

std::pair<double, double> binned_ks(const std::vector<int64_t>& reference, const std::vector<int64_t>& window) {
  NN_CHECK(reference.size() == window.size(), ValueError, "binned_ks: ", reference.size(), " reference bins but ",
           window.size(), " window bins");
  double nr = 0, nw = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    nr += static_cast<double>(reference[i]);
    nw += static_cast<double>(window[i]);
  }
  if (nr <= 0 || nw <= 0) return {0.0, 1.0};
  double cr = 0, cw = 0, ks = 0, bound = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    const double r = static_cast<double>(reference[i]) / nr, w = static_cast<double>(window[i]) / nw;
    cr += r;
    cw += w;
    ks = std::max(ks, std::fabs(cw - cr));
    bound = std::max(bound, std::max(r, w));
  }
  return {ks, bound};
}

OutputComparison compare_outputs(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  OutputComparison r;
  if (a.size() != b.size()) {
    r.mismatch = str("the sessions return ", a.size(), " and ", b.size(), " outputs");
    return r;
  }
  for (size_t o = 0; o < a.size(); ++o) {
    if (a[o].sizes() != b[o].sizes() || is_floating(a[o].dtype()) != is_floating(b[o].dtype())) {
      r.mismatch = str("output ", o, ": shapes ", a[o].sizes(), " and ", b[o].sizes(), ", dtypes ",
                       dtype_name(a[o].dtype()), " and ", dtype_name(b[o].dtype()));
      return r;
    }
  }
  for (size_t o = 0; o < a.size(); ++o) {
    if (!is_floating(a[o].dtype()) || a[o].numel() == 0) continue;
    const Tensor x = contiguous(cast(a[o], DType::Float64)), y = contiguous(cast(b[o], DType::Float64));
    const double* p = x.data<double>();
    const double* q = y.data<double>();
    const int64_t n = x.numel();
    const int64_t last = x.dim() >= 1 ? x.sizes().back() : 1;
    const int64_t rows = n / last;
    for (int64_t row = 0; row < rows; ++row) {
      double dot = 0, pp = 0, qq = 0;
      int64_t ap = 0, aq = 0;
      for (int64_t j = 0; j < last; ++j) {
        const double u = p[row * last + j], v = q[row * last + j];
        const double d = std::fabs(u - v);
        if (!(std::isnan(u) && std::isnan(v)))  // NaN on both sides agrees; on one side it is the largest difference
          r.max_abs_diff = std::isnan(d) ? INFINITY : std::max(r.max_abs_diff, d);
        dot += u * v;
        pp += u * u;
        qq += v * v;
        if (u > p[row * last + ap]) ap = j;
        if (v > q[row * last + aq]) aq = j;
      }
      // cosine of two zero rows is 1 (they agree); of one zero row and another, 0
      const double denom = std::sqrt(pp) * std::sqrt(qq);
      r.cosine_sum += denom > 0 ? dot / denom : (pp == 0 && qq == 0 ? 1.0 : 0.0);
      r.top1_agree += ap == aq;
      ++r.rows;
    }
  }
  return r;
}

}  // namespace nn::runtime
