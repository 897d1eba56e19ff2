// tracer.cpp — the Tracer (runtime/tracer.h) and runtime::traced::*, the recording side of
// each hooked op: run the real op with tracing suspended, then record one node. The
// attribute encoding of each op here must match its execution in runtime/executor.cpp.
#include "runtime/tracer.h"

#include "core/errors.h"

namespace nn::runtime {

namespace {

// Suspends tracing on this thread for the duration of one op.
struct Suspend {
  Tracer* tracer;
  Suspend() : tracer(tl_tracer) { tl_tracer = nullptr; }
  ~Suspend() { tl_tracer = tracer; }
};

void push_list(std::vector<int64_t>& v, const std::vector<int64_t>& list) {
  v.push_back(static_cast<int64_t>(list.size()));
  v.insert(v.end(), list.begin(), list.end());
}

struct B {  // node builder
  Node n;
  Tracer* t;
  B(Tracer* tracer, Op op) : t(tracer) { n.op = op; }
  B& in(const Tensor& x) { n.inputs.push_back(t->value_of(x)); return *this; }
  B& i(int64_t v) { n.ints.push_back(v); return *this; }
  B& f(int64_t v) { n.flags.push_back(v); return *this; }
  B& d(double v) { n.floats.push_back(v); return *this; }
  Tensor out(const Tensor& y) { t->record(std::move(n), {y}); return y; }
};

}  // namespace

Tracer::~Tracer() {
  if (active_ && tl_tracer == this) tl_tracer = nullptr;
}

void Tracer::begin(const std::vector<Tensor>& inputs, const std::vector<Tensor>& constants) {
  NN_CHECK(tl_tracer == nullptr, RuntimeError, "InferenceSession: a trace is already running on this thread");
  graph_ = Graph{};
  ids_.clear();
  graph_storages_.clear();
  keep_.clear();
  for (const Tensor& t : inputs) {
    NN_CHECK(t.defined(), ValueError, "InferenceSession: an example input is undefined");
    const int id = graph_.new_value(t);
    graph_.input_ids.push_back(id);
    ids_[t.impl()] = id;
    graph_storages_.insert(t.storage().get());
    keep_.push_back(t);
  }
  for (const Tensor& t : constants) {
    if (!t.defined() || ids_.count(t.impl())) continue;
    const int id = graph_.new_value(t);
    graph_.constant_ids.push_back(id);
    graph_.constants.push_back(t);
    graph_.constant_registered.push_back(true);
    ids_[t.impl()] = id;
    keep_.push_back(t);
  }
  active_ = true;
  tl_tracer = this;
}

void Tracer::abort() {
  if (tl_tracer == this) tl_tracer = nullptr;
  active_ = false;
  keep_.clear();
  ids_.clear();
}

Graph Tracer::finish(const std::vector<Tensor>& outputs) {
  if (tl_tracer == this) tl_tracer = nullptr;
  active_ = false;
  for (const Tensor& t : outputs) {
    NN_CHECK(t.defined(), ValueError, "InferenceSession: the model returned an undefined tensor");
    graph_.output_ids.push_back(value_of(t));
  }
  keep_.clear();
  ids_.clear();
  graph_storages_.clear();
  return std::move(graph_);
}

int Tracer::value_of(const Tensor& t) {
  if (!t.defined()) return -1;
  auto it = ids_.find(t.impl());
  if (it != ids_.end()) return it->second;
  NN_CHECK(!graph_storages_.count(t.storage().get()), RuntimeError,
           "InferenceSession: the model made a view of a traced tensor with an operation the runtime does not "
           "record (shape ", t.sizes(), "); use the nn_core ops (view, reshape, slice, transpose, ...)");
  // Not made by a recorded op: a constant, captured by value (the graph holds it).
  const int id = graph_.new_value(t);
  graph_.constant_ids.push_back(id);
  graph_.constants.push_back(t);
  graph_.constant_registered.push_back(false);
  ids_[t.impl()] = id;
  keep_.push_back(t);
  return id;
}

void Tracer::record(Node node, const std::vector<Tensor>& outs) {
  if (outs.size() == 1 && outs[0].defined()) {
    auto it = ids_.find(outs[0].impl());
    if (it != ids_.end()) {  // the op returned an existing value: an identity here
      ++graph_.num_identity_dropped;
      return;
    }
  }
  for (const Tensor& y : outs) {
    const int id = graph_.new_value(y);
    ids_[y.impl()] = id;
    graph_storages_.insert(y.storage().get());
    keep_.push_back(y);
    node.outputs.push_back(id);
  }
  graph_.nodes.push_back(std::move(node));
}

namespace traced {

#define NN_TR(op) Suspend s; B b(s.tracer, Op::op)

Tensor unary_op(OpId op, const Tensor& x) {
  NN_TR(unary);
  Tensor y = nn::unary_op(op, x);
  return b.in(x).f(static_cast<int64_t>(op)).out(y);
}
Tensor binary_op(OpId op, const Tensor& a, const Tensor& c) {
  NN_TR(binary);
  Tensor y = nn::binary_op(op, a, c);
  return b.in(a).in(c).f(static_cast<int64_t>(op)).out(y);
}
void unary_op_(OpId op, const Tensor& self) {
  NN_TR(unary_inplace);
  nn::unary_op_(op, self);
  b.in(self).f(static_cast<int64_t>(op));
  s.tracer->record_inplace(std::move(b.n));
}
void binary_op_(OpId op, const Tensor& self, const Tensor& other) {
  NN_TR(binary_inplace);
  nn::binary_op_(op, self, other);
  b.in(self).in(other).f(static_cast<int64_t>(op));
  s.tracer->record_inplace(std::move(b.n));
}
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& c) {
  NN_TR(where);
  Tensor y = nn::where(cond, a, c);
  return b.in(cond).in(a).in(c).out(y);
}
Tensor cast(const Tensor& x, DType dtype) {
  NN_TR(cast);
  Tensor y = nn::cast(x, dtype);
  return b.in(x).f(static_cast<int64_t>(dtype)).out(y);
}
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  NN_TR(clamp);
  Tensor y = nn::clamp(x, lo, hi);
  return b.in(x).f(lo.has_value()).f(hi.has_value()).d(lo.value_or(0)).d(hi.value_or(0)).out(y);
}
Tensor leaky_relu(const Tensor& x, double slope) {
  NN_TR(leaky_relu);
  Tensor y = nn::leaky_relu(x, slope);
  return b.in(x).d(slope).out(y);
}
Tensor softplus(const Tensor& x, double beta, double threshold) {
  NN_TR(softplus);
  Tensor y = nn::softplus(x, beta, threshold);
  return b.in(x).d(beta).d(threshold).out(y);
}
Tensor sum(const Tensor& x, const Dims& dims, bool keepdim, std::optional<DType> dtype) {
  NN_TR(sum);
  Tensor y = nn::sum(x, dims, keepdim, dtype);
  b.in(x).f(keepdim).f(dtype.has_value()).f(static_cast<int64_t>(dtype.value_or(DType::Float32)));
  push_list(b.n.flags, dims);
  return b.out(y);
}
#define NN_TR_REDUCE(name)                                   \
  Tensor name(const Tensor& x, const Dims& dims, bool keepdim) { \
    NN_TR(name);                                             \
    Tensor y = nn::name(x, dims, keepdim);                   \
    b.in(x).f(keepdim);                                      \
    push_list(b.n.flags, dims);                              \
    return b.out(y);                                         \
  }
NN_TR_REDUCE(mean)
NN_TR_REDUCE(amax)
NN_TR_REDUCE(amin)
#undef NN_TR_REDUCE
Tensor softmax(const Tensor& x, int64_t dim) {
  NN_TR(softmax);
  Tensor y = nn::softmax(x, dim);
  return b.in(x).f(dim).out(y);
}
Tensor log_softmax(const Tensor& x, int64_t dim) {
  NN_TR(log_softmax);
  Tensor y = nn::log_softmax(x, dim);
  return b.in(x).f(dim).out(y);
}
Tensor view(const Tensor& x, const Shape& shape) {
  NN_TR(view);
  Tensor y = nn::view(x, shape);
  b.in(x);
  b.n.ints = shape;
  return b.out(y);
}
Tensor reshape(const Tensor& x, const Shape& shape) {
  NN_TR(reshape);
  Tensor y = nn::reshape(x, shape);
  b.in(x);
  b.n.ints = shape;
  return b.out(y);
}
Tensor permute(const Tensor& x, const Dims& dims) {
  NN_TR(permute);
  Tensor y = nn::permute(x, dims);
  b.in(x);
  b.n.flags = dims;
  return b.out(y);
}
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  NN_TR(transpose);
  Tensor y = nn::transpose(x, d0, d1);
  return b.in(x).f(d0).f(d1).out(y);
}
Tensor expand(const Tensor& x, const Shape& shape) {
  NN_TR(expand);
  Tensor y = nn::expand(x, shape);
  b.in(x);
  b.n.ints = shape;
  return b.out(y);
}
Tensor squeeze(const Tensor& x, std::optional<Dims> dims) {
  NN_TR(squeeze);
  Tensor y = nn::squeeze(x, dims);
  b.in(x).f(dims.has_value());
  if (dims) b.n.flags.insert(b.n.flags.end(), dims->begin(), dims->end());
  return b.out(y);
}
Tensor unsqueeze(const Tensor& x, int64_t dim) {
  NN_TR(unsqueeze);
  Tensor y = nn::unsqueeze(x, dim);
  return b.in(x).f(dim).out(y);
}
Tensor slice(const Tensor& x, int64_t dim, std::optional<int64_t> start, std::optional<int64_t> stop, int64_t step) {
  NN_TR(slice);
  Tensor y = nn::slice(x, dim, start, stop, step);
  return b.in(x).f(dim).f(start.has_value()).f(stop.has_value()).i(start.value_or(0)).i(stop.value_or(0)).i(step)
      .out(y);
}
Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  NN_TR(select);
  Tensor y = nn::select(x, dim, index);
  return b.in(x).f(dim).i(index).out(y);
}
Tensor contiguous(const Tensor& x) {
  NN_TR(contiguous);
  Tensor y = nn::contiguous(x);
  return b.in(x).out(y);
}
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  NN_TR(cat);
  Tensor y = nn::cat(tensors, dim);
  for (const Tensor& t : tensors) b.in(t);
  return b.f(dim).out(y);
}
// key item k: flags (kind, has_start, has_stop), ints (integer, start, stop, step);
// tensor items are inputs 1.. in order.
void encode_key(B& b, const std::vector<TensorIndex>& key) {
  for (const TensorIndex& k : key) {
    b.f(static_cast<int64_t>(k.kind)).f(k.start.has_value()).f(k.stop.has_value());
    b.i(k.integer).i(k.start.value_or(0)).i(k.stop.value_or(0)).i(k.step);
    if (k.kind == TensorIndex::Kind::Tensor) b.in(k.tensor);
  }
}
Tensor get_item(const Tensor& x, const std::vector<TensorIndex>& key) {
  NN_TR(get_item);
  Tensor y = nn::get_item(x, key);
  b.in(x);
  encode_key(b, key);
  return b.out(y);
}
// inputs: x, value, then the key's tensors
void set_item(const Tensor& x, const std::vector<TensorIndex>& key, const Tensor& value) {
  NN_TR(set_item_inplace);
  nn::set_item(x, key, value);
  b.in(x).in(value);
  encode_key(b, key);
  s.tracer->record_inplace(std::move(b.n));
}
Tensor matmul(const Tensor& a, const Tensor& c) {
  NN_TR(matmul);
  Tensor y = nn::matmul(a, c);
  return b.in(a).in(c).out(y);
}
Tensor bmm(const Tensor& a, const Tensor& c) {
  NN_TR(bmm);
  Tensor y = nn::bmm(a, c);
  return b.in(a).in(c).out(y);
}
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias, const std::string& activation) {
  NN_TR(linear);
  Tensor y = nn::linear(x, w, bias, activation);
  b.in(x).in(w).in(bias);
  b.n.str = activation;
  return b.out(y);
}
Tensor addmm(const Tensor& input, const Tensor& m1, const Tensor& m2, double beta, double alpha) {
  NN_TR(addmm);
  Tensor y = nn::addmm(input, m1, m2, beta, alpha);
  return b.in(input).in(m1).in(m2).d(beta).d(alpha).out(y);
}
Tensor conv2d(const Tensor& input, const Tensor& w, const Tensor& bias, const std::vector<int64_t>& stride,
              const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation, int64_t groups, bool relu) {
  NN_TR(conv2d);
  Tensor y = nn::conv2d(input, w, bias, stride, padding, dilation, groups, relu);
  b.in(input).in(w).in(bias);
  push_list(b.n.flags, stride);
  push_list(b.n.flags, padding);
  push_list(b.n.flags, dilation);
  b.f(groups).f(relu);
  return b.out(y);
}
std::pair<Tensor, Tensor> max_pool2d(const Tensor& input, const std::vector<int64_t>& k, const std::vector<int64_t>& st,
                                     const std::vector<int64_t>& pad, const std::vector<int64_t>& dil, bool ceil_mode) {
  NN_TR(max_pool2d);
  auto y = nn::max_pool2d(input, k, st, pad, dil, ceil_mode);
  b.in(input);
  push_list(b.n.flags, k);
  push_list(b.n.flags, st);
  push_list(b.n.flags, pad);
  push_list(b.n.flags, dil);
  b.f(ceil_mode);
  s.tracer->record(std::move(b.n), {y.first, y.second});
  return y;
}
Tensor avg_pool2d(const Tensor& input, const std::vector<int64_t>& k, const std::vector<int64_t>& st,
                  const std::vector<int64_t>& pad, bool ceil_mode, bool count_include_pad,
                  std::optional<int64_t> divisor_override) {
  NN_TR(avg_pool2d);
  Tensor y = nn::avg_pool2d(input, k, st, pad, ceil_mode, count_include_pad, divisor_override);
  b.in(input);
  push_list(b.n.flags, k);
  push_list(b.n.flags, st);
  push_list(b.n.flags, pad);
  b.f(ceil_mode).f(count_include_pad).f(divisor_override.has_value()).f(divisor_override.value_or(0));
  return b.out(y);
}
Tensor adaptive_avg_pool2d(const Tensor& input, const std::vector<int64_t>& output_size) {
  NN_TR(adaptive_avg_pool2d);
  Tensor y = nn::adaptive_avg_pool2d(input, output_size);
  b.in(input);
  b.n.ints = output_size;
  return b.out(y);
}
Tensor batch_norm(const Tensor& input, const Tensor& rm, const Tensor& rv, const Tensor& w, const Tensor& bias,
                  bool training, double momentum, double eps) {
  NN_TR(batch_norm);
  Tensor y = nn::batch_norm(input, rm, rv, w, bias, training, momentum, eps);
  return b.in(input).in(rm).in(rv).in(w).in(bias).f(training).d(momentum).d(eps).out(y);
}
Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& w, const Tensor& bias, double eps) {
  NN_TR(group_norm);
  Tensor y = nn::group_norm(input, num_groups, w, bias, eps);
  return b.in(input).in(w).in(bias).f(num_groups).d(eps).out(y);
}
Tensor layer_norm(const Tensor& x, const Shape& shape, const Tensor& w, const Tensor& bias, double eps) {
  NN_TR(layer_norm);
  Tensor y = nn::layer_norm(x, shape, w, bias, eps);
  b.in(x).in(w).in(bias).d(eps);
  b.n.ints = shape;
  return b.out(y);
}
Tensor rms_norm(const Tensor& x, const Shape& shape, const Tensor& w, std::optional<double> eps) {
  NN_TR(rms_norm);
  Tensor y = nn::rms_norm(x, shape, w, eps);
  b.in(x).in(w).f(eps.has_value()).d(eps.value_or(0));
  b.n.ints = shape;
  return b.out(y);
}
Tensor embedding(const Tensor& indices, const Tensor& w, std::optional<int64_t> padding_idx) {
  NN_TR(embedding);
  Tensor y = nn::embedding(indices, w, padding_idx);
  return b.in(indices).in(w).f(padding_idx.has_value()).f(padding_idx.value_or(0)).out(y);
}
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                                    double dropout_p, bool is_causal, std::optional<double> scale) {
  NN_TR(attention);
  Tensor y = nn::scaled_dot_product_attention(q, k, v, mask, dropout_p, is_causal, scale);
  return b.in(q).in(k).in(v).in(mask).f(is_causal).f(scale.has_value()).d(dropout_p).d(scale.value_or(0)).out(y);
}
Tensor dropout(const Tensor& x, double p, bool training) {
  NN_TR(dropout);
  Tensor y = nn::dropout(x, p, training);
  return b.in(x).f(training).d(p).out(y);
}
Tensor full(const Shape& shape, double value, DType dtype) {
  NN_TR(full);
  Tensor y = nn::full(shape, value, dtype);
  b.f(static_cast<int64_t>(dtype)).d(value);
  b.n.ints = shape;
  return b.out(y);
}
// Integral bounds go in ints (they may be dynamic sizes), others in floats.
Tensor arange(double start, double end, double step, DType dtype) {
  NN_TR(arange);
  Tensor y = nn::arange(start, end, step, dtype);
  const bool integral = start == static_cast<double>(static_cast<int64_t>(start)) &&
                        end == static_cast<double>(static_cast<int64_t>(end)) &&
                        step == static_cast<double>(static_cast<int64_t>(step));
  b.f(static_cast<int64_t>(dtype)).f(integral);
  if (integral) b.i(static_cast<int64_t>(start)).i(static_cast<int64_t>(end)).i(static_cast<int64_t>(step));
  else b.d(start).d(end).d(step);
  return b.out(y);
}
Tensor detach(const Tensor& x) {
  NN_TR(detach);
  Tensor y = nn::detach(x);
  return b.in(x).out(y);
}
Tensor clone(const Tensor& x) {
  NN_TR(clone);
  Tensor y = nn::clone(x);
  return b.in(x).out(y);
}
void copy_(const Tensor& dst, const Tensor& src) {
  NN_TR(copy_inplace);
  nn::copy_(dst, src);
  b.in(dst).in(src);
  s.tracer->record_inplace(std::move(b.n));
}
void fill_(const Tensor& t, double value) {
  NN_TR(fill_inplace);
  nn::fill_(t, value);
  b.in(t).d(value);
  s.tracer->record_inplace(std::move(b.n));
}
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) {
  NN_TR(max_dim);
  auto y = nn::max(x, dim, keepdim);
  b.in(x).f(dim).f(keepdim);
  s.tracer->record(std::move(b.n), {y.first, y.second});
  return y;
}
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) {
  NN_TR(min_dim);
  auto y = nn::min(x, dim, keepdim);
  b.in(x).f(dim).f(keepdim);
  s.tracer->record(std::move(b.n), {y.first, y.second});
  return y;
}
Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  NN_TR(argmax);
  Tensor y = nn::argmax(x, dim, keepdim);
  return b.in(x).f(dim.has_value()).f(dim.value_or(0)).f(keepdim).out(y);
}
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  NN_TR(argmin);
  Tensor y = nn::argmin(x, dim, keepdim);
  return b.in(x).f(dim.has_value()).f(dim.value_or(0)).f(keepdim).out(y);
}
Tensor prod(const Tensor& x, const Dims& dims, bool keepdim) {
  NN_TR(prod);
  Tensor y = nn::prod(x, dims, keepdim);
  b.in(x).f(keepdim);
  push_list(b.n.flags, dims);
  return b.out(y);
}
Tensor var(const Tensor& x, const Dims& dims, double correction, bool keepdim) {
  NN_TR(var);
  Tensor y = nn::var(x, dims, correction, keepdim);
  b.in(x).f(keepdim).d(correction);
  push_list(b.n.flags, dims);
  return b.out(y);
}
Tensor std(const Tensor& x, const Dims& dims, double correction, bool keepdim) {
  NN_TR(std);
  Tensor y = nn::std(x, dims, correction, keepdim);
  b.in(x).f(keepdim).d(correction);
  push_list(b.n.flags, dims);
  return b.out(y);
}
// inputs: x, then the given index tensors; flags: per position, whether one is given
Tensor index(const Tensor& x, const std::vector<std::optional<Tensor>>& indices) {
  NN_TR(index);
  Tensor y = nn::index(x, indices);
  b.in(x);
  for (const auto& t : indices) {
    b.f(t.has_value());
    if (t) b.in(*t);
  }
  return b.out(y);
}
// inputs: x, values, then the given index tensors; flags: accumulate, per position given
void index_put_(const Tensor& x, const std::vector<std::optional<Tensor>>& indices, const Tensor& values,
                bool accumulate) {
  NN_TR(index_put_inplace);
  nn::index_put_(x, indices, values, accumulate);
  b.in(x).in(values).f(accumulate);
  for (const auto& t : indices) {
    b.f(t.has_value());
    if (t) b.in(*t);
  }
  s.tracer->record_inplace(std::move(b.n));
}
Tensor conv_transpose2d(const Tensor& input, const Tensor& w, const Tensor& bias, const std::vector<int64_t>& stride,
                        const std::vector<int64_t>& padding, const std::vector<int64_t>& output_padding,
                        int64_t groups, const std::vector<int64_t>& dilation) {
  NN_TR(conv_transpose2d);
  Tensor y = nn::conv_transpose2d(input, w, bias, stride, padding, output_padding, groups, dilation);
  b.in(input).in(w).in(bias);
  push_list(b.n.flags, stride);
  push_list(b.n.flags, padding);
  push_list(b.n.flags, output_padding);
  push_list(b.n.flags, dilation);
  b.f(groups);
  return b.out(y);
}

// int8 ops: the packed weight rides on the node (Node::qweight), not as a tensor value.
Tensor quantize_per_tensor(const Tensor& x, double scale, int64_t zero_point, DType dtype) {
  NN_TR(quantize_per_tensor);
  Tensor y = nn::quantize_per_tensor(x, scale, zero_point, dtype);
  return b.in(x).d(scale).f(zero_point).f(static_cast<int64_t>(dtype)).out(y);
}
Tensor dequantize_per_tensor(const Tensor& q, double scale, int64_t zero_point) {
  NN_TR(dequantize_per_tensor);
  Tensor y = nn::dequantize_per_tensor(q, scale, zero_point);
  return b.in(q).d(scale).f(zero_point).out(y);
}
Tensor quantized_linear_dynamic(const Tensor& x, const QWeight& w, const Tensor& bias, const std::string& activation) {
  NN_TR(qlinear_dynamic);
  Tensor y = nn::quantized_linear_dynamic(x, w, bias, activation);
  b.in(x).in(bias);
  b.n.str = activation;
  b.n.qweight = w;
  return b.out(y);
}
Tensor quantized_linear(const Tensor& x, double x_scale, int64_t x_zero_point, const QWeight& w, const Tensor& bias,
                        const std::string& activation, DType out_dtype, double out_scale, int64_t out_zero_point) {
  NN_TR(qlinear);
  Tensor y = nn::quantized_linear(x, x_scale, x_zero_point, w, bias, activation, out_dtype, out_scale, out_zero_point);
  b.in(x).in(bias).d(x_scale).d(out_scale).f(x_zero_point).f(static_cast<int64_t>(out_dtype)).f(out_zero_point);
  b.n.str = activation;
  b.n.qweight = w;
  return b.out(y);
}
Tensor quantized_conv2d(const Tensor& x, double x_scale, int64_t x_zero_point, const QWeight& w, int64_t kh,
                        int64_t kw, const Tensor& bias, std::vector<int64_t> stride, std::vector<int64_t> padding,
                        std::vector<int64_t> dilation, const std::string& activation, DType out_dtype,
                        double out_scale, int64_t out_zero_point) {
  NN_TR(qconv2d);
  Tensor y = nn::quantized_conv2d(x, x_scale, x_zero_point, w, kh, kw, bias, stride, padding, dilation, activation,
                                  out_dtype, out_scale, out_zero_point);
  b.in(x).in(bias).d(x_scale).d(out_scale);
  b.f(x_zero_point).f(kh).f(kw).f(static_cast<int64_t>(out_dtype)).f(out_zero_point);
  push_list(b.n.flags, stride);
  push_list(b.n.flags, padding);
  push_list(b.n.flags, dilation);
  b.n.str = activation;
  b.n.qweight = w;
  return b.out(y);
}

#undef NN_TR

}  // namespace traced

}  // namespace nn::runtime
