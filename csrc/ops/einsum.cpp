// einsum.cpp — the COMPOSITE row einsum(equation, operands), PyTorch's torch.einsum:
// subscripts of letters a-z / A-Z, an optional "->output" (implicit form: the letters that
// appear once, in alphabetical order, after the ellipsis dims), "..." for broadcast dims,
// repeated letters within one operand taking diagonals. No kernel and no derivative of its
// own (STYLE.md 2): views, broadcast multiplies, sums and bmm.
//
// Plan (Note [einsum contraction]): every operand is brought to one layout with a dim per
// label of the whole equation (its diagonals taken, its missing labels as size-1 dims),
// labels ordered output labels first, then the contracted ones. Operands are combined
// left to right; a contracted label that no later operand uses is summed out as soon as
// possible. A pair is multiplied with bmm when it shares contracted labels (batch = labels
// both keep, m / n = labels only one of them has, k = the shared contracted labels), else
// with a broadcast multiply.
#include <algorithm>
#include <map>
#include <set>

#include "ops/internal.h"

namespace nn {

namespace {

constexpr int kEllipsis = -1;  // the label id of "..." in a parsed term

// Labels 0..25 are 'A'..'Z', 26..51 'a'..'z' (ASCII order: the implicit output's order);
// 52 + i is the i-th ellipsis dim (right aligned).
int label_id(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
  return -2;
}

char label_char(int l) { return static_cast<char>(l < 26 ? 'A' + l : 'a' + l - 26); }

std::vector<int> parse_term(const std::string& term, const std::string& equation) {
  std::vector<int> labels;
  bool has_ellipsis = false;
  for (size_t i = 0; i < term.size(); ++i) {
    const char c = term[i];
    if (c == ' ') continue;
    if (c == '.') {
      NN_CHECK(i + 2 < term.size() + 0 && term[i + 1] == '.' && term[i + 2] == '.', ValueError,
               "einsum(): found '.' that is not part of any ellipsis ('...') in the equation '", equation, "'");
      NN_CHECK(!has_ellipsis, ValueError, "einsum(): found more than one ellipsis ('...') in one term of '", equation,
               "'");
      has_ellipsis = true;
      labels.push_back(kEllipsis);
      i += 2;
      continue;
    }
    NN_CHECK(label_id(c) >= 0, ValueError, "einsum(): invalid subscript '", c,
             "' given in the equation string, subscripts must be in [a-zA-Z] (equation '", equation, "')");
    labels.push_back(label_id(c));
  }
  return labels;
}

// The operand as a tensor with one dim per entry of `labels` (ellipsis expanded to
// `ell_dims` labels numbered 52 + i, right aligned), repeated labels reduced to their
// diagonal; returns the tensor and its distinct labels in order.
std::pair<Tensor, std::vector<int>> canonical_operand(const Tensor& t, const std::vector<int>& term, int64_t ell_dims,
                                                      size_t operand, const std::string& equation) {
  const int64_t named = static_cast<int64_t>(std::count_if(term.begin(), term.end(), [](int l) { return l >= 0; }));
  const bool has_ellipsis = static_cast<int64_t>(term.size()) != named;
  const int64_t own_ell = t.dim() - named;
  NN_CHECK(has_ellipsis ? own_ell >= 0 : own_ell == 0, ValueError, "einsum(): the number of subscripts in the equation (",
           named, ") does not match the number of dimensions (", t.dim(), ") for operand ", operand,
           has_ellipsis ? "" : " and no ellipsis was given", " (equation '", equation, "')");
  std::vector<int> dims_labels;
  for (int l : term) {
    if (l == kEllipsis) {
      for (int64_t e = 0; e < own_ell; ++e) dims_labels.push_back(static_cast<int>(52 + ell_dims - own_ell + e));
    } else {
      dims_labels.push_back(l);
    }
  }
  Tensor cur = t;
  std::vector<int> labels = dims_labels;
  // Diagonals: while a label repeats, take the diagonal of its first two dims (a strided
  // view through index of arange on both dims, moved to the first occurrence).
  for (bool again = true; again;) {
    again = false;
    for (size_t i = 0; i < labels.size() && !again; ++i) {
      for (size_t j = i + 1; j < labels.size() && !again; ++j) {
        if (labels[i] != labels[j]) continue;
        const int64_t n = cur.sizes()[i];
        NN_CHECK(cur.sizes()[j] == n, ShapeError, "einsum(): subscript ", label_char(labels[i]),
                 " is repeated for operand ", operand, " but the sizes don't match, ", n, " != ", cur.sizes()[j]);
        Tensor ar = arange(0, static_cast<double>(n), 1, DType::Int64);
        // Move dim j next to i first: permute so dims are (i, j, rest...), index both.
        std::vector<int64_t> perm{static_cast<int64_t>(i), static_cast<int64_t>(j)};
        std::vector<int> rest_labels;
        for (int64_t k = 0; k < cur.dim(); ++k) {
          if (k != static_cast<int64_t>(i) && k != static_cast<int64_t>(j)) {
            perm.push_back(k);
            rest_labels.push_back(labels[k]);
          }
        }
        Tensor p = permute(cur, perm);
        cur = index(p, {ar, ar});  // (n, rest...)
        std::vector<int> new_labels{labels[i]};
        new_labels.insert(new_labels.end(), rest_labels.begin(), rest_labels.end());
        labels = new_labels;
        again = true;
      }
    }
  }
  return {cur, labels};
}

// t (dims labelled `labels`) permuted / unsqueezed to one dim per entry of `order`
// (labels t lacks become size-1 dims).
Tensor align(const Tensor& t, const std::vector<int>& labels, const std::vector<int>& order) {
  std::vector<int64_t> perm;
  std::vector<int> present;
  for (int l : order) {
    auto it = std::find(labels.begin(), labels.end(), l);
    if (it != labels.end()) {
      perm.push_back(it - labels.begin());
      present.push_back(l);
    }
  }
  Tensor out = permute(t, perm);
  std::vector<int64_t> shape;
  size_t k = 0;
  for (int l : order) {
    if (k < present.size() && present[k] == l) {
      shape.push_back(out.sizes()[k]);
      ++k;
    } else {
      shape.push_back(1);
    }
  }
  return reshape(out, shape);
}

int64_t product(const Shape& s, const std::vector<int64_t>& dims) {
  int64_t p = 1;
  for (int64_t d : dims) p *= s[d];
  return p;
}

// a, b aligned to `order` (sizes 1 where absent). Contracts `contract` (dims of order) of
// their product with bmm; the result is aligned to `order` with those dims of size 1.
Tensor contract_pair(const Tensor& a, const Tensor& b, const std::vector<int64_t>& contract) {
  const int64_t nd = a.dim();
  std::vector<int64_t> batch, only_a, only_b, ks;
  Shape out_shape(nd, 1);
  for (int64_t d = 0; d < nd; ++d) {
    const bool in_k = std::find(contract.begin(), contract.end(), d) != contract.end();
    const int64_t sa = a.sizes()[d], sb = b.sizes()[d];
    if (in_k) {
      ks.push_back(d);
      continue;
    }
    if (sa != 1 && sb != 1) batch.push_back(d);
    else if (sa != 1) only_a.push_back(d);
    else only_b.push_back(d);  // size 1 in both lands here too
    out_shape[d] = std::max(sa, sb);
  }
  // The contracted dims: sizes 1 on one side broadcast (sum the other side first).
  Tensor ar = a, br = b;
  for (int64_t d : ks) {
    if (a.sizes()[d] == 1 && b.sizes()[d] != 1) br = sum(br, {d}, true);
    if (b.sizes()[d] == 1 && a.sizes()[d] != 1) ar = sum(ar, {d}, true);
  }
  std::vector<int64_t> perm_a = batch, perm_b = batch;
  perm_a.insert(perm_a.end(), only_a.begin(), only_a.end());
  perm_a.insert(perm_a.end(), only_b.begin(), only_b.end());
  perm_a.insert(perm_a.end(), ks.begin(), ks.end());
  perm_b.insert(perm_b.end(), ks.begin(), ks.end());
  perm_b.insert(perm_b.end(), only_a.begin(), only_a.end());
  perm_b.insert(perm_b.end(), only_b.begin(), only_b.end());
  const int64_t nb = product(out_shape, batch), m = product(ar.sizes(), only_a), n = product(br.sizes(), only_b);
  const int64_t k = product(ar.sizes(), ks);
  Tensor a3 = reshape(permute(ar, perm_a), {nb, m, k});
  Tensor b3 = reshape(permute(br, perm_b), {nb, k, n});
  Tensor c = bmm(a3, b3);  // (batch, only_a, only_b)
  std::vector<int64_t> c_shape;
  for (int64_t d : batch) c_shape.push_back(out_shape[d]);
  for (int64_t d : only_a) c_shape.push_back(ar.sizes()[d]);
  for (int64_t d : only_b) c_shape.push_back(br.sizes()[d]);
  c = reshape(c, c_shape);
  // back to `order`: dims batch, only_a, only_b, then the contracted ones as size 1.
  std::vector<int64_t> src_of(nd);
  int64_t pos = 0;
  for (auto* group : {&batch, &only_a, &only_b}) for (int64_t d : *group) src_of[d] = pos++;
  for (int64_t d : ks) {
    c = unsqueeze(c, c.dim());
    src_of[d] = pos++;
  }
  std::vector<int64_t> perm(nd);
  for (int64_t d = 0; d < nd; ++d) perm[d] = src_of[d];
  return permute(c, perm);
}

}  // namespace

Tensor native_einsum(const std::string& equation, const std::vector<Tensor>& operands) {
  NN_CHECK(!operands.empty(), ValueError, "einsum(): must provide at least one operand");
  const size_t arrow = equation.find("->");
  const std::string lhs = equation.substr(0, arrow);
  std::vector<std::string> terms;
  for (size_t start = 0;;) {
    const size_t comma = lhs.find(',', start);
    terms.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  NN_CHECK(terms.size() == operands.size(), ValueError, "einsum(): ", terms.size(),
           " subscript terms in the equation '", equation, "' but ", operands.size(), " operands were given");
  std::vector<std::vector<int>> parsed;
  int64_t ell_dims = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    parsed.push_back(parse_term(terms[i], equation));
    const Tensor& t = operands[i];
    NN_CHECK(t.dtype() == operands[0].dtype(), DTypeError, "einsum(): expected all operands of one dtype, got ",
             operands[0].dtype(), " and ", t.dtype());
    const int64_t named = static_cast<int64_t>(std::count_if(parsed[i].begin(), parsed[i].end(), [](int l) { return l >= 0; }));
    if (named != static_cast<int64_t>(parsed[i].size())) ell_dims = std::max(ell_dims, t.dim() - named);
  }
  // Operands in canonical form (diagonals taken, ellipsis labels 52..).
  std::vector<Tensor> canon;
  std::vector<std::vector<int>> labels;
  std::map<int, int> count;
  for (size_t i = 0; i < operands.size(); ++i) {
    auto [t, ls] = canonical_operand(operands[i], parsed[i], ell_dims, i, equation);
    for (int l : ls) count[l] += 1;
    canon.push_back(t);
    labels.push_back(ls);
  }
  // Output labels.
  std::vector<int> out_labels;
  if (arrow == std::string::npos) {  // implicit: ellipsis dims, then the labels used once, in ASCII order
    std::map<int, int> uses;
    for (auto& term : parsed) for (int l : term) if (l >= 0) uses[l] += 1;
    for (int64_t e = 0; e < ell_dims; ++e) out_labels.push_back(static_cast<int>(52 + e));
    for (auto [l, c] : uses) if (c == 1) out_labels.push_back(l);
  } else {
    const std::vector<int> rhs = parse_term(equation.substr(arrow + 2), equation);
    std::set<int> seen;
    for (int l : rhs) {
      if (l == kEllipsis) {
        for (int64_t e = 0; e < ell_dims; ++e) out_labels.push_back(static_cast<int>(52 + e));
        continue;
      }
      NN_CHECK(seen.insert(l).second, ValueError, "einsum(): output subscript ", label_char(l),
               " appears more than once in the output (equation '", equation, "')");
      NN_CHECK(count.count(l), ValueError, "einsum(): output subscript ", label_char(l),
               " does not appear in the equation for any input operand (equation '", equation, "')");
      out_labels.push_back(l);
    }
  }
  // The layout: output labels, then the contracted ones (ellipsis dims missing from an
  // explicit output are contracted too, as NumPy and PyTorch do).
  std::vector<int> order = out_labels;
  for (auto [l, c] : count) {
    (void)c;
    if (std::find(order.begin(), order.end(), l) == order.end()) order.push_back(l);
  }
  // Sizes per label must agree (or be 1 for broadcast ellipsis dims).
  std::map<int, int64_t> size_of;
  for (size_t i = 0; i < canon.size(); ++i) {
    for (size_t d = 0; d < labels[i].size(); ++d) {
      const int l = labels[i][d];
      const int64_t s = canon[i].sizes()[d];
      auto it = size_of.find(l);
      if (it == size_of.end() || it->second == 1) {
        size_of[l] = s;
      } else {
        NN_CHECK(s == it->second || s == 1, ShapeError, "einsum(): operands do not broadcast with remapped shapes "
                 "(subscript of size ", it->second, " against ", s, ", operand ", i, ", equation '", equation, "')");
      }
    }
  }
  const int64_t nd = static_cast<int64_t>(order.size());
  const int64_t n_out = static_cast<int64_t>(out_labels.size());
  std::vector<Tensor> aligned;
  for (size_t i = 0; i < canon.size(); ++i) aligned.push_back(align(canon[i], labels[i], order));
  // Last operand index using each contracted dim.
  std::vector<int64_t> last_use(nd, -1);
  for (size_t i = 0; i < aligned.size(); ++i)
    for (int64_t d = n_out; d < nd; ++d)
      if (std::find(labels[i].begin(), labels[i].end(), order[d]) != labels[i].end()) last_use[d] = static_cast<int64_t>(i);
  auto sum_done = [&](Tensor t, int64_t after) {  // sum contracted dims no operand after `after` uses
    std::vector<int64_t> dims;
    for (int64_t d = n_out; d < nd; ++d)
      if (last_use[d] <= after && t.sizes()[d] != 1) dims.push_back(d);
    return dims.empty() ? t : sum(t, dims, true);
  };
  Tensor acc = sum_done(aligned[0], 0);
  for (size_t i = 1; i < aligned.size(); ++i) {
    std::vector<int64_t> contract;
    for (int64_t d = n_out; d < nd; ++d)
      if (last_use[d] == static_cast<int64_t>(i) && acc.sizes()[d] != 1 && aligned[i].sizes()[d] != 1)
        contract.push_back(d);
    if (!contract.empty() && is_floating(acc.dtype())) {
      acc = contract_pair(acc, aligned[i], contract);
    } else {
      acc = mul(acc, aligned[i]);
    }
    acc = sum_done(acc, static_cast<int64_t>(i));
  }
  // Drop the (now size 1) contracted dims; broadcast the output dims to their full sizes.
  std::vector<int64_t> out_shape;
  for (int64_t d = 0; d < n_out; ++d) out_shape.push_back(size_of[order[d]]);
  Tensor out = reshape(acc, std::vector<int64_t>(acc.sizes().begin(), acc.sizes().begin() + n_out));
  if (out.sizes() != Shape(out_shape.begin(), out_shape.end())) out = expand(out, out_shape);
  if (out.dtype() != operands[0].dtype()) out = cast(out, operands[0].dtype());  // integer sums widen to int64
  if (operands.size() == 1 && out.impl() == operands[0].impl()) out = clone(out);
  return out;
}

}  // namespace nn
