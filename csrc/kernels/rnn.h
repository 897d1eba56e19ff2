// rnn.h — the kernel interface of the recurrent layers (ops/rnn.cpp; CPU kernels in
// cpu/rnn_kernels.cpp): one fused pointwise cell step forward and one backward.
//
// The op runs the time loop; per step it hands the kernel the two GEMM results and the
// kernel does everything else of the cell (biases, sigmoid/tanh/relu, the new state,
// the output row, what backward needs). Gate order is PyTorch's: LSTM i, f, g, o;
// GRU r, z, n; plain RNN one gate. G = 4, 3, 1 gates of width H each.
//
// Layout: every tensor is a contiguous row-major (B, width) matrix (a view with an
// offset is fine) of one compute dtype, float32 or float64; biases are contiguous (G*H)
// vectors or undefined; lengths is an int64 (B) vector or undefined (= every row active).
// A row b is *active* at time index t when t < lengths[b]; an inactive row keeps its
// state (h_next = h_prev, c_next = c_prev) and writes a zero output row (Note [Padded
// steps] in ops/rnn.cpp).
//
// `saved` (what backward reads) per mode:
//   lstm      (B, 4H): the activated gates i, f, g, o
//   gru       (B, 4H): r, z, n and hn = (h_prev @ W_hn^T + b_hn), the h-part of n
//   rnn_tanh, rnn_relu  (B, H): h_next of the active rows
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace nn {

enum class RnnMode { Lstm, Gru, RnnTanh, RnnRelu };

inline int64_t rnn_gate_count(RnnMode m) { return m == RnnMode::Lstm ? 4 : m == RnnMode::Gru ? 3 : 1; }
inline int64_t rnn_saved_width(RnnMode m, int64_t H) { return m == RnnMode::Lstm || m == RnnMode::Gru ? 4 * H : H; }

// One forward step. gates_x: the input projection rows of this time step (x @ W_ih^T,
// no bias); gates_h: h_prev @ W_hh^T (no bias). Writes h_next, c_next (LSTM), output
// and saved (when defined). When check_lengths is set the kernel first checks that every
// length lies in [0, steps] (ValueError naming `op` otherwise).
struct RnnCellForwardArgs {
  RnnMode mode = RnnMode::Lstm;
  Tensor gates_x, gates_h, bias_ih, bias_hh;  // (B, G*H), (B, G*H), (G*H) or undefined
  Tensor h_prev, c_prev;                      // (B, H); c_prev only for LSTM
  Tensor h_next, c_next, output;              // (B, H) written
  Tensor saved;                               // (B, saved width) written, or undefined
  Tensor lengths;                             // (B) int64 or undefined
  int64_t t = 0, steps = 0;
  bool check_lengths = false;
  const char* op = "rnn_layer";
};

// One backward step (the forward step's inputs as above). grad_h / grad_c hold, on entry,
// the gradient reaching h_next / c_next from later steps (through the state directly);
// on exit, the gradient reaching h_prev / c_prev directly (not through W_hh).
// grad_output (may be undefined) is this step's output gradient and grad_h_rec (may be
// undefined) the recurrent part already multiplied out (dgates_h of the step processed
// after this one, @ W_hh). Writes grad_gates_x = d loss / d (x-part pre-activations, =
// the gradient of b_ih rows) and, for GRU only, grad_gates_h (the h-part; for the other
// modes the two are equal and grad_gates_h is undefined).
struct RnnCellBackwardArgs {
  RnnMode mode = RnnMode::Lstm;
  Tensor saved, h_prev, c_prev, c_next;
  Tensor grad_output, grad_h_rec;
  Tensor grad_h, grad_c;                 // (B, H) in/out; grad_c only for LSTM
  Tensor grad_gates_x, grad_gates_h;     // (B, G*H) written
  Tensor lengths;
  int64_t t = 0;
};

using RnnCellForwardKernel = void (*)(const RnnCellForwardArgs& a);
using RnnCellBackwardKernel = void (*)(const RnnCellBackwardArgs& a);

}  // namespace nn
