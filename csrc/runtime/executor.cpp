// executor.cpp — execution side of each recorded op (the encoding is in runtime/tracer.cpp).
#include "runtime/executor.h"

#include "core/errors.h"
#include "ops/attention_ops.h"
#include "ops/ops.h"
#include "ops/quantized_ops.h"

namespace nn::runtime {

namespace {

std::vector<int64_t> read_list(const std::vector<int64_t>& v, size_t& pos) {
  const size_t n = static_cast<size_t>(v[pos++]);
  std::vector<int64_t> out(v.begin() + static_cast<std::ptrdiff_t>(pos), v.begin() + static_cast<std::ptrdiff_t>(pos + n));
  pos += n;
  return out;
}

std::vector<TensorIndex> decode_key(const std::vector<int64_t>& fl, const int64_t* ints, const std::vector<Tensor>& in,
                                    size_t first_tensor) {
  std::vector<TensorIndex> key(fl.size() / 3);
  size_t t = first_tensor;
  for (size_t k = 0; k < key.size(); ++k) {
    TensorIndex& ix = key[k];
    ix.kind = static_cast<TensorIndex::Kind>(fl[3 * k]);
    ix.integer = ints[4 * k];
    if (fl[3 * k + 1]) ix.start = ints[4 * k + 1];
    if (fl[3 * k + 2]) ix.stop = ints[4 * k + 2];
    ix.step = ints[4 * k + 3];
    if (ix.kind == TensorIndex::Kind::Tensor) ix.tensor = in[t++];
  }
  return key;
}

std::vector<std::optional<Tensor>> decode_indices(const std::vector<int64_t>& fl, size_t first_flag,
                                                  const std::vector<Tensor>& in, size_t first_tensor) {
  std::vector<std::optional<Tensor>> out;
  size_t t = first_tensor;
  for (size_t k = first_flag; k < fl.size(); ++k) out.push_back(fl[k] ? std::optional<Tensor>(in[t++]) : std::nullopt);
  return out;
}

std::vector<int64_t> ints_of(const Node& n, const int64_t* ints) { return std::vector<int64_t>(ints, ints + n.ints.size()); }

}  // namespace

void exec_node(const Node& n, const int64_t* ints, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  out.clear();
  const auto& fl = n.flags;
  const auto& fd = n.floats;
  switch (n.op) {
    case Op::unary: out.push_back(unary_op(static_cast<OpId>(fl[0]), in[0])); break;
    case Op::binary: out.push_back(binary_op(static_cast<OpId>(fl[0]), in[0], in[1])); break;
    case Op::unary_inplace: unary_op_(static_cast<OpId>(fl[0]), in[0]); break;
    case Op::binary_inplace: binary_op_(static_cast<OpId>(fl[0]), in[0], in[1]); break;
    case Op::where: out.push_back(where(in[0], in[1], in[2])); break;
    case Op::cast: out.push_back(cast(in[0], static_cast<DType>(fl[0]))); break;
    case Op::clamp:
      out.push_back(clamp(in[0], fl[0] ? std::optional<double>(fd[0]) : std::nullopt,
                          fl[1] ? std::optional<double>(fd[1]) : std::nullopt));
      break;
    case Op::leaky_relu: out.push_back(leaky_relu(in[0], fd[0])); break;
    case Op::softplus: out.push_back(softplus(in[0], fd[0], fd[1])); break;
    case Op::sum: {
      size_t pos = 3;
      const Dims dims = read_list(fl, pos);
      out.push_back(sum(in[0], dims, fl[0] != 0, fl[1] ? std::optional<DType>(static_cast<DType>(fl[2])) : std::nullopt));
      break;
    }
    case Op::mean:
    case Op::amax:
    case Op::amin: {
      size_t pos = 1;
      const Dims dims = read_list(fl, pos);
      const bool keep = fl[0] != 0;
      out.push_back(n.op == Op::mean ? mean(in[0], dims, keep) : n.op == Op::amax ? amax(in[0], dims, keep)
                                                                                  : amin(in[0], dims, keep));
      break;
    }
    case Op::softmax: out.push_back(softmax(in[0], fl[0])); break;
    case Op::log_softmax: out.push_back(log_softmax(in[0], fl[0])); break;
    case Op::view: out.push_back(view(in[0], ints_of(n, ints))); break;
    case Op::reshape: out.push_back(reshape(in[0], ints_of(n, ints))); break;
    case Op::permute: out.push_back(permute(in[0], fl)); break;
    case Op::transpose: out.push_back(transpose(in[0], fl[0], fl[1])); break;
    case Op::expand: out.push_back(expand(in[0], ints_of(n, ints))); break;
    case Op::squeeze:
      out.push_back(squeeze(in[0], fl[0] ? std::optional<Dims>(Dims(fl.begin() + 1, fl.end())) : std::nullopt));
      break;
    case Op::unsqueeze: out.push_back(unsqueeze(in[0], fl[0])); break;
    case Op::slice:
      out.push_back(slice(in[0], fl[0], fl[1] ? std::optional<int64_t>(ints[0]) : std::nullopt,
                          fl[2] ? std::optional<int64_t>(ints[1]) : std::nullopt, ints[2]));
      break;
    case Op::select: out.push_back(select(in[0], fl[0], ints[0])); break;
    case Op::contiguous: out.push_back(contiguous(in[0])); break;
    case Op::cat: out.push_back(cat(in, fl[0])); break;
    case Op::get_item: out.push_back(get_item(in[0], decode_key(fl, ints, in, 1))); break;
    case Op::set_item_inplace: set_item(in[0], decode_key(fl, ints, in, 2), in[1]); break;
    case Op::matmul: out.push_back(matmul(in[0], in[1])); break;
    case Op::bmm: out.push_back(bmm(in[0], in[1])); break;
    case Op::linear: out.push_back(linear(in[0], in[1], in[2], n.str.empty() ? "none" : n.str)); break;
    case Op::addmm: out.push_back(addmm(in[0], in[1], in[2], fd[0], fd[1])); break;
    case Op::conv2d: {
      size_t pos = 0;
      const auto stride = read_list(fl, pos), padding = read_list(fl, pos), dilation = read_list(fl, pos);
      out.push_back(conv2d(in[0], in[1], in[2], stride, padding, dilation, fl[pos], fl[pos + 1] != 0));
      break;
    }
    case Op::max_pool2d: {
      size_t pos = 0;
      const auto k = read_list(fl, pos), st = read_list(fl, pos), pad = read_list(fl, pos), dil = read_list(fl, pos);
      auto r = max_pool2d(in[0], k, st, pad, dil, fl[pos] != 0);
      out.push_back(std::move(r.first));
      out.push_back(std::move(r.second));
      break;
    }
    case Op::avg_pool2d: {
      size_t pos = 0;
      const auto k = read_list(fl, pos), st = read_list(fl, pos), pad = read_list(fl, pos);
      out.push_back(avg_pool2d(in[0], k, st, pad, fl[pos] != 0, fl[pos + 1] != 0,
                               fl[pos + 2] ? std::optional<int64_t>(fl[pos + 3]) : std::nullopt));
      break;
    }
    case Op::adaptive_avg_pool2d: out.push_back(adaptive_avg_pool2d(in[0], ints_of(n, ints))); break;
    case Op::batch_norm:
      out.push_back(batch_norm(in[0], in[1], in[2], in[3], in[4], fl[0] != 0, fd[0], fd[1]));
      break;
    case Op::group_norm: out.push_back(group_norm(in[0], fl[0], in[1], in[2], fd[0])); break;
    case Op::layer_norm: out.push_back(layer_norm(in[0], ints_of(n, ints), in[1], in[2], fd[0])); break;
    case Op::rms_norm:
      out.push_back(rms_norm(in[0], ints_of(n, ints), in[1], fl[0] ? std::optional<double>(fd[0]) : std::nullopt));
      break;
    case Op::embedding:
      out.push_back(embedding(in[0], in[1], fl[0] ? std::optional<int64_t>(fl[1]) : std::nullopt));
      break;
    case Op::attention:
      out.push_back(scaled_dot_product_attention(in[0], in[1], in[2], in[3], fd[0], fl[0] != 0,
                                                 fl[1] ? std::optional<double>(fd[1]) : std::nullopt));
      break;
    case Op::dropout: out.push_back(dropout(in[0], fd[0], fl[0] != 0)); break;
    case Op::full: out.push_back(full(ints_of(n, ints), fd[0], static_cast<DType>(fl[0]))); break;
    case Op::arange:
      if (fl[1])
        out.push_back(arange(static_cast<double>(ints[0]), static_cast<double>(ints[1]), static_cast<double>(ints[2]),
                             static_cast<DType>(fl[0])));
      else
        out.push_back(arange(fd[0], fd[1], fd[2], static_cast<DType>(fl[0])));
      break;
    case Op::detach: out.push_back(detach(in[0])); break;
    case Op::clone: out.push_back(clone(in[0])); break;
    case Op::copy_inplace: copy_(in[0], in[1]); break;
    case Op::fill_inplace: fill_(in[0], fd[0]); break;
    case Op::max_dim:
    case Op::min_dim: {
      auto r = n.op == Op::max_dim ? max(in[0], fl[0], fl[1] != 0) : min(in[0], fl[0], fl[1] != 0);
      out.push_back(std::move(r.first));
      out.push_back(std::move(r.second));
      break;
    }
    case Op::prod: {
      size_t pos = 1;
      const Dims dims = read_list(fl, pos);
      out.push_back(prod(in[0], dims, fl[0] != 0));
      break;
    }
    case Op::var:
    case Op::std: {
      size_t pos = 1;
      const Dims dims = read_list(fl, pos);
      out.push_back(n.op == Op::var ? var(in[0], dims, fd[0], fl[0] != 0) : nn::std(in[0], dims, fd[0], fl[0] != 0));
      break;
    }
    case Op::index: out.push_back(index(in[0], decode_indices(fl, 0, in, 1))); break;
    case Op::index_put_inplace: index_put_(in[0], decode_indices(fl, 1, in, 2), in[1], fl[0] != 0); break;
    case Op::conv_transpose2d: {
      size_t pos = 0;
      const auto st = read_list(fl, pos), pad = read_list(fl, pos), opad = read_list(fl, pos), dil = read_list(fl, pos);
      out.push_back(conv_transpose2d(in[0], in[1], in[2], st, pad, opad, fl[pos], dil));
      break;
    }
    case Op::quantize_per_tensor:
      out.push_back(quantize_per_tensor(in[0], fd[0], fl[0], static_cast<DType>(fl[1])));
      break;
    case Op::dequantize_per_tensor: out.push_back(dequantize_per_tensor(in[0], fd[0], fl[0])); break;
    case Op::qlinear_dynamic: out.push_back(quantized_linear_dynamic(in[0], n.qweight, in[1], n.str)); break;
    case Op::qlinear:
      out.push_back(quantized_linear(in[0], fd[0], fl[0], n.qweight, in[1], n.str, static_cast<DType>(fl[1]), fd[1],
                                     fl[2]));
      break;
    case Op::qconv2d: {
      size_t pos = 5;
      const auto st = read_list(fl, pos), pad = read_list(fl, pos), dil = read_list(fl, pos);
      out.push_back(quantized_conv2d(in[0], fd[0], fl[0], n.qweight, fl[1], fl[2], in[1], st, pad, dil, n.str,
                                     static_cast<DType>(fl[3]), fd[1], fl[4]));
      break;
    }
    case Op::argmax:
    case Op::argmin: {
      const std::optional<int64_t> dim = fl[0] ? std::optional<int64_t>(fl[1]) : std::nullopt;
      out.push_back(n.op == Op::argmax ? argmax(in[0], dim, fl[2] != 0) : argmin(in[0], dim, fl[2] != 0));
      break;
    }
  }
}

}  // namespace nn::runtime
