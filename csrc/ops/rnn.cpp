// rnn.cpp — rnn_layer: one recurrent layer (LSTM, GRU, RNN tanh / relu) in one direction,
// the whole time loop in C++, with its backward (BPTT) recorded as one node.
//
// Layout: input (T, B, I); hx, cx (B, H); w_ih (G*H, I), w_hh (G*H, H), b_ih, b_hh (G*H)
// in PyTorch's gate order (kernels/rnn.h); outputs: output (T, B, H), h_n, c_n (B, H)
// (c_n is an empty (0,) tensor but for LSTM). Multi-layer and bidirectional stacks,
// batch_first and packed sequences are composed in Python (nn_core/nn/rnn.py).
//
// Forward: the input projection of all T steps is ONE GEMM, (T*B, I) @ W_ih^T; then per
// step one GEMM h_prev @ W_hh^T and one fused pointwise kernel (cpu/rnn_kernels.cpp) that
// adds the biases, applies the gate activations and writes the new state and output row.
// Backward: per step (in reverse processing order) one fused pointwise backward kernel
// and one GEMM dgates_h @ W_hh (the gradient reaching h_prev through W_hh); then the
// weight, bias and input gradients for all steps at once: three GEMMs and two row sums.
//
// Note [State slots]: the states live in hs / cs of shape (T + 1, B, H), indexed so that
// the state *before* the step at time index t is slot t (forward) or t + 1 (reverse), and
// the state after it is slot t + 1 (forward) or t (reverse). So the previous states of
// all T steps are the contiguous block hs[0:T] (forward) or hs[1:T+1] (reverse), in time
// order like the input, which is what the W_hh gradient GEMM reads.
//
// Note [Padded steps]: with `lengths` (int64 (B,), each in [0, T]), row b is active at
// time index t when t < lengths[b]. An inactive step keeps the state and writes a zero
// output row. Forward that is "stop at the sequence's end"; in reverse it is "start at
// the sequence's last step from h0", which is what PyTorch computes for a packed
// sequence. Without lengths every row is active.
#include <tuple>

#include "ops/internal.h"

namespace nn {
using autograd::SavedTensor;

namespace {

constexpr const char* kOp = "rnn_layer";

RnnMode parse_mode(const std::string& m) {
  if (m == "lstm") return RnnMode::Lstm;
  if (m == "gru") return RnnMode::Gru;
  if (m == "rnn_tanh") return RnnMode::RnnTanh;
  if (m == "rnn_relu") return RnnMode::RnnRelu;
  throw ValueError(str(kOp, ": mode must be 'lstm', 'gru', 'rnn_tanh' or 'rnn_relu', got '", m, "'"));
}

// Slice i of a contiguous (N, B, W) tensor as a (B, W) matrix.
Tensor rows_at(const Tensor& t, int64_t i) {
  const int64_t B = t.sizes()[1], W = t.sizes()[2];
  return make_view(t, {B, W}, {W, 1}, t.offset() + i * B * W);
}

// The transpose of a 2-D tensor as a view.
Tensor t2(const Tensor& m) {
  return make_view(m, {m.sizes()[1], m.sizes()[0]}, {m.strides()[1], m.strides()[0]}, m.offset());
}

// out = a @ b for 2-D a (M, K), b (K, N) with any non-negative strides, out (M, N)
// contiguous, through the registry's matmul kernel (the packed GEMM for float32).
void mm_into(const Tensor& a, const Tensor& b, const Tensor& out) {
  const int64_t M = a.sizes()[0], K = a.sizes()[1], N = b.sizes()[1];
  if (M * N == 0) return;
  if (K == 0) {
    kernels().fill.get(OpId::fill_, out.device())(out, 0.0);
    return;
  }
  const Tensor a3 = make_view(a, {1, M, K}, {M * K, a.strides()[0], a.strides()[1]}, a.offset());
  const Tensor b3 = make_view(b, {1, K, N}, {K * N, b.strides()[0], b.strides()[1]}, b.offset());
  const Tensor o3 = make_view(out, {1, M, N}, {M * N, N, 1}, out.offset());
  kernels().matmul.get(OpId::matmul, out.device())(a3, b3, o3);
}

void check_matrix(const Tensor& t, const char* what, int64_t rows, int64_t cols, const char* rule) {
  NN_CHECK(t.dim() == 2 && t.sizes()[0] == rows && t.sizes()[1] == cols, ShapeError, kOp, ": ", what,
           " must have shape (", rows, ", ", cols, ") ", rule, ", got ", t.sizes());
}

void check_bias(const Tensor& b, const char* what, int64_t GH) {
  if (!b.defined()) return;
  NN_CHECK(b.dim() == 1 && b.sizes()[0] == GH, ShapeError, kOp, ": ", what, " must have shape (", GH,
           ",) (gates * hidden_size), got ", b.sizes());
}

}  // namespace

std::tuple<Tensor, Tensor, Tensor> native_rnn_layer(const Tensor& input, const Tensor& hx, const Tensor& cx,
                                                    const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                                                    const Tensor& b_hh, const std::string& mode_name, bool reverse,
                                                    const Tensor& lengths) {
  const RnnMode mode = parse_mode(mode_name);
  const bool lstm = mode == RnnMode::Lstm;
  const int64_t G = rnn_gate_count(mode);
  NN_CHECK(input.dim() == 3, ShapeError, kOp, ": input must be 3-D (seq_len, batch, input_size), got shape ",
           input.sizes());
  NN_CHECK(w_hh.dim() == 2 && w_hh.sizes()[0] == G * w_hh.sizes()[1], ShapeError, kOp, ": w_hh must have shape (",
           G, " * hidden_size, hidden_size) for mode '", mode_name, "', got ", w_hh.sizes());
  const int64_t T = input.sizes()[0], B = input.sizes()[1], I = input.sizes()[2], H = w_hh.sizes()[1];
  const int64_t GH = G * H, SW = rnn_saved_width(mode, H);
  check_matrix(w_ih, "w_ih", GH, I, "(gates * hidden_size, input_size: the input's last dim)");
  check_matrix(hx, "hx", B, H, "(batch, hidden_size)");
  if (lstm) {
    NN_CHECK(cx.defined(), ValueError, kOp, ": mode 'lstm' needs the cell state cx");
  } else {
    NN_CHECK(!cx.defined(), ValueError, kOp, ": cx is only taken by mode 'lstm', got mode '", mode_name, "'");
  }
  if (lstm) check_matrix(cx, "cx", B, H, "(batch, hidden_size)");
  check_bias(b_ih, "b_ih", GH);
  check_bias(b_hh, "b_hh", GH);
  const DType dt = input.dtype();
  NN_CHECK(dt == DType::Float32 || dt == DType::Float64, DTypeError, kOp,
           ": input must be float32 or float64, got ", dt);
  for (const Tensor* t : {&hx, &cx, &w_ih, &w_hh, &b_ih, &b_hh}) {
    if (!t->defined()) continue;
    NN_CHECK(t->dtype() == dt, DTypeError, kOp, ": every state, weight and bias must have the input's dtype ", dt,
             ", got ", t->dtype(), " (shape ", t->sizes(), ")");
    detail::check_same_device(input, *t, kOp);
  }
  if (lengths.defined()) {
    NN_CHECK(lengths.dtype() == DType::Int64, DTypeError, kOp, ": lengths must be int64, got ", lengths.dtype());
    NN_CHECK(lengths.dim() == 1 && lengths.sizes()[0] == B, ShapeError, kOp, ": lengths must have shape (", B,
             ",) (one per batch entry), got ", lengths.sizes());
    detail::check_same_device(input, lengths, kOp);
  }
  const Device dev = input.device();

  const Tensor x = detail::contiguous_raw(input);
  const Tensor x2 = make_view(x, {T * B, I}, {I, 1}, x.offset());
  const Tensor bih = b_ih.defined() ? detail::contiguous_raw(b_ih) : Tensor();
  const Tensor bhh = b_hh.defined() ? detail::contiguous_raw(b_hh) : Tensor();
  const Tensor lens = lengths.defined() ? detail::contiguous_raw(lengths) : Tensor();
  const bool grad = autograd::needs_grad({&input, &hx, &cx, &w_ih, &w_hh, &b_ih, &b_hh});

  // The input projection of every step: one GEMM.
  Tensor gates_x = empty({T, B, GH}, dt, dev);
  mm_into(x2, t2(w_ih), make_view(gates_x, {T * B, GH}, {GH, 1}, 0));

  Tensor hs = empty({T + 1, B, H}, dt, dev);
  Tensor cs = lstm ? empty({T + 1, B, H}, dt, dev) : Tensor();
  Tensor output = empty({T, B, H}, dt, dev);
  Tensor saved = grad ? empty({T, B, SW}, dt, dev) : Tensor();
  Tensor gates_h = empty({B, GH}, dt, dev);
  const int64_t first = reverse ? T : 0, last = reverse ? 0 : T;  // Note [State slots]
  detail::copy_raw(rows_at(hs, first), hx);
  if (lstm) detail::copy_raw(rows_at(cs, first), cx);

  const RnnCellForwardKernel cell = kernels().rnn_cell.get(OpId::rnn_layer, dev);
  const Tensor wt_hh = t2(w_hh);
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = reverse ? T - 1 - s : s, prev = reverse ? t + 1 : t, next = reverse ? t : t + 1;
    RnnCellForwardArgs a;
    a.mode = mode;
    a.h_prev = rows_at(hs, prev);
    mm_into(a.h_prev, wt_hh, gates_h);
    a.gates_x = rows_at(gates_x, t);
    a.gates_h = gates_h;
    a.bias_ih = bih;
    a.bias_hh = bhh;
    a.h_next = rows_at(hs, next);
    if (lstm) {
      a.c_prev = rows_at(cs, prev);
      a.c_next = rows_at(cs, next);
    }
    a.output = rows_at(output, t);
    if (grad) a.saved = rows_at(saved, t);
    a.lengths = lens;
    a.t = t;
    a.steps = T;
    a.check_lengths = s == 0;
    a.op = kOp;
    cell(a);
  }
  if (T == 0 && lens.defined()) {  // no step ran: the kernel only checks the lengths (all must be 0)
    RnnCellForwardArgs a;
    a.lengths = lens;
    a.steps = 0;
    a.check_lengths = true;
    a.op = kOp;
    cell(a);
  }
  // Copies, so that an in-place edit of h_n / c_n cannot reach the states backward reads.
  Tensor h_n = clone(rows_at(hs, last));
  Tensor c_n = lstm ? clone(rows_at(cs, last)) : empty({0}, dt, dev);

  if (grad) {
    SavedTensor sx(x), swih(w_ih), swhh(w_hh);
    const bool g_in = input.requires_grad(), g_hx = hx.requires_grad(), g_cx = cx.defined() && cx.requires_grad();
    const bool g_wih = w_ih.requires_grad(), g_whh = w_hh.requires_grad();
    const bool g_bih = b_ih.defined() && b_ih.requires_grad(), g_bhh = b_hh.defined() && b_hh.requires_grad();
    autograd::record("RnnLayerBackward", {input, hx, cx, w_ih, w_hh, b_ih, b_hh}, {output, h_n, c_n},
                     [=](const std::vector<Tensor>& g) {
      const char* node = "RnnLayerBackward";
      const Tensor x_saved = sx.unpack(node), wih = swih.unpack(node), whh = swhh.unpack(node);
      const Tensor g_out = g[0].defined() ? detail::contiguous_raw(detail::cast_raw(g[0], dt)) : Tensor();
      Tensor dh = g[1].defined() ? clone(detail::cast_raw(g[1], dt)) : zeros({B, H}, dt);
      dh = detail::contiguous_raw(dh);
      Tensor dc;
      if (lstm) dc = detail::contiguous_raw(g[2].defined() ? clone(detail::cast_raw(g[2], dt)) : zeros({B, H}, dt));
      Tensor dgx = empty({T, B, GH}, dt, dev);
      Tensor dgh = mode == RnnMode::Gru ? empty({T, B, GH}, dt, dev) : dgx;
      Tensor rec = empty({B, H}, dt, dev);
      // W_hh as the transpose of a contiguous (H, G*H) copy: the per-step product
      // dgates_h @ W_hh then reads B with a unit row stride, the GEMM's direct (unpacked)
      // small-M layout, instead of packing W_hh at every step.
      const Tensor whh_direct = t2(detail::contiguous_raw(t2(whh)));
      const RnnCellBackwardKernel cell_backward = kernels().rnn_cell_backward.get(OpId::rnn_layer, dev);
      for (int64_t s = 0; s < T; ++s) {  // the forward's processing order, backwards
        const int64_t t = reverse ? s : T - 1 - s, prev = reverse ? t + 1 : t, next = reverse ? t : t + 1;
        RnnCellBackwardArgs a;
        a.mode = mode;
        a.saved = rows_at(saved, t);
        a.h_prev = rows_at(hs, prev);
        if (lstm) {
          a.c_prev = rows_at(cs, prev);
          a.c_next = rows_at(cs, next);
        }
        if (g_out.defined()) a.grad_output = rows_at(g_out, t);
        if (s > 0) a.grad_h_rec = rec;
        a.grad_h = dh;
        a.grad_c = dc;
        a.grad_gates_x = rows_at(dgx, t);
        if (mode == RnnMode::Gru) a.grad_gates_h = rows_at(dgh, t);
        a.lengths = lens;
        a.t = t;
        cell_backward(a);
        mm_into(rows_at(dgh, t), whh_direct, rec);  // read by the next step (the kernel added the old one)
      }
      std::vector<Tensor> out(7);
      const Tensor dgx2 = make_view(dgx, {T * B, GH}, {GH, 1}, 0);
      const Tensor dgh2 = make_view(dgh, {T * B, GH}, {GH, 1}, 0);
      if (g_in) out[0] = reshape(matmul(dgx2, wih), {T, B, I});
      if (g_hx) out[1] = T > 0 ? add(dh, rec) : dh;
      if (g_cx) out[2] = dc;
      if (g_wih) out[3] = matmul(t2(dgx2), make_view(x_saved, {T * B, I}, {I, 1}, x_saved.offset()));
      if (g_whh) {  // Note [State slots]: the previous states of all steps, in time order
        const Tensor h_prev_all = make_view(hs, {T * B, H}, {H, 1}, hs.offset() + (reverse ? B * H : 0));
        out[4] = matmul(t2(dgh2), h_prev_all);
      }
      if (g_bih) out[5] = sum(dgx2, {0}, false);
      if (g_bhh) out[6] = sum(dgh2, {0}, false);
      return out;
    });
  }
  return {output, h_n, c_n};
}

}  // namespace nn
