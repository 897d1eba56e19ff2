// rnn_kernels.cpp — the fused pointwise cell steps of rnn_layer (contract in
// kernels/rnn.h): LSTM, GRU and plain RNN (tanh / relu), forward and backward.
//
// Layout: every matrix is a contiguous (B, width) row-major block; rows are independent,
// so the work is split over rows (parallel_for). Gate order is PyTorch's (LSTM i, f, g,
// o; GRU r, z, n), each gate a block of H columns.
//
// One row routine per mode is written once over an `Activations` policy that applies
// sigmoid / tanh to a contiguous array:
//   ReferenceActivations<T>  plain loops over std::exp / std::tanh: the reference, used
//                            for float64 and whenever the active ISA is generic
//                            (nn_core._C._set_isa("generic") forces it);
//   VecActivations           the float32 loops of cpu/vec_math.h for the active ISA
//                            (AVX2 / AVX-512 units): the fast path.
// tests/test_rnn.py runs the same float32 layer on both and compares them.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "cpu/cpu_features.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernels.h"

namespace nn::cpu {

namespace {

template <typename T>
struct ReferenceActivations {
  void sigmoid(T* x, int64_t n) const {
    for (int64_t i = 0; i < n; ++i) x[i] = T(1) / (T(1) + std::exp(-x[i]));
  }
  void tanh(const T* x, T* y, int64_t n) const {
    for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
  }
};

using VecLoop = void (*)(const float*, float*, int64_t);
struct VecActivations {
  VecLoop sigmoid_loop = nullptr, tanh_loop = nullptr;
  void sigmoid(float* x, int64_t n) const { sigmoid_loop(x, x, n); }
  void tanh(const float* x, float* y, int64_t n) const { tanh_loop(x, y, n); }
};

// The vectorised loops of the active ISA; false when it is generic (the reference runs).
bool pick_vec_activations(VecActivations& v) {
#if defined(NN_CORE_X86)
  const Isa isa = active_isa();
  if (isa == Isa::Avx512) {
    v.sigmoid_loop = &sigmoid_f32_avx512;
    v.tanh_loop = &tanh_f32_avx512;
    return true;
  }
  if (isa == Isa::Avx2) {
    v.sigmoid_loop = &sigmoid_f32_avx2;
    v.tanh_loop = &tanh_f32_avx2;
    return true;
  }
#endif
  (void)v;
  return false;
}

template <typename T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

inline bool row_active(const int64_t* lengths, int64_t b, int64_t t) { return lengths == nullptr || t < lengths[b]; }

// Rows per parallel chunk: enough elementwise work to pay for a thread.
int64_t row_grain(int64_t width) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(width, 1)); }

template <typename T, typename Act>
void forward_rows(const RnnCellForwardArgs& a, const Act& act) {
  const int64_t B = a.h_next.sizes()[0], H = a.h_next.sizes()[1];
  const int64_t GH = rnn_gate_count(a.mode) * H, SW = rnn_saved_width(a.mode, H);
  const T *gx_all = a.gates_x.data<T>(), *gh_all = a.gates_h.data<T>();
  const T *bih = ptr_or_null<T>(a.bias_ih), *bhh = ptr_or_null<T>(a.bias_hh);
  const T *hp_all = a.h_prev.data<T>(), *cp_all = ptr_or_null<T>(a.c_prev);
  T *hn_all = a.h_next.data<T>(), *cn_all = a.c_next.defined() ? a.c_next.data<T>() : nullptr;
  T* out_all = a.output.data<T>();
  T* saved_all = a.saved.defined() ? a.saved.data<T>() : nullptr;
  const int64_t* lengths = ptr_or_null<int64_t>(a.lengths);
  auto bias = [](const T* v, int64_t k) { return v != nullptr ? v[k] : T(0); };

  parallel_for(0, B, row_grain(GH), [&](int64_t b0, int64_t b1) {
    std::vector<T> scratch(static_cast<size_t>(SW + H));
    for (int64_t b = b0; b < b1; ++b) {
      const T *gx = gx_all + b * GH, *gh = gh_all + b * GH, *hp = hp_all + b * H;
      T *hn = hn_all + b * H, *out = out_all + b * H;
      T* pre = saved_all != nullptr ? saved_all + b * SW : scratch.data();
      T* tmp = scratch.data() + SW;
      if (!row_active(lengths, b, a.t)) {  // Note [Padded steps]: the state carries over
        std::copy(hp, hp + H, hn);
        if (a.mode == RnnMode::Lstm) std::copy(cp_all + b * H, cp_all + (b + 1) * H, cn_all + b * H);
        std::fill(out, out + H, T(0));
        continue;
      }
      switch (a.mode) {
        case RnnMode::Lstm: {
          const T* cp = cp_all + b * H;
          T* cn = cn_all + b * H;
          for (int64_t k = 0; k < GH; ++k) pre[k] = gx[k] + bias(bih, k) + gh[k] + bias(bhh, k);
          act.sigmoid(pre, 2 * H);
          act.tanh(pre + 2 * H, pre + 2 * H, H);
          act.sigmoid(pre + 3 * H, H);
          for (int64_t j = 0; j < H; ++j) cn[j] = pre[H + j] * cp[j] + pre[j] * pre[2 * H + j];
          act.tanh(cn, tmp, H);
          for (int64_t j = 0; j < H; ++j) out[j] = hn[j] = pre[3 * H + j] * tmp[j];
          break;
        }
        case RnnMode::Gru: {
          for (int64_t k = 0; k < 2 * H; ++k) pre[k] = gx[k] + bias(bih, k) + gh[k] + bias(bhh, k);
          act.sigmoid(pre, 2 * H);
          for (int64_t j = 0; j < H; ++j) {
            const T hpart = gh[2 * H + j] + bias(bhh, 2 * H + j);
            pre[3 * H + j] = hpart;
            pre[2 * H + j] = gx[2 * H + j] + bias(bih, 2 * H + j) + pre[j] * hpart;
          }
          act.tanh(pre + 2 * H, pre + 2 * H, H);
          for (int64_t j = 0; j < H; ++j) {
            const T z = pre[H + j], n = pre[2 * H + j];
            out[j] = hn[j] = (T(1) - z) * n + z * hp[j];
          }
          break;
        }
        case RnnMode::RnnTanh:
        case RnnMode::RnnRelu: {
          for (int64_t j = 0; j < H; ++j) pre[j] = gx[j] + bias(bih, j) + gh[j] + bias(bhh, j);
          if (a.mode == RnnMode::RnnTanh) {
            act.tanh(pre, pre, H);
          } else {
            for (int64_t j = 0; j < H; ++j) pre[j] = pre[j] > T(0) ? pre[j] : T(0);
          }
          std::copy(pre, pre + H, hn);
          std::copy(pre, pre + H, out);
          break;
        }
      }
    }
  });
}

template <typename T, typename Act>
void backward_rows(const RnnCellBackwardArgs& a, const Act& act) {
  const int64_t B = a.grad_h.sizes()[0], H = a.grad_h.sizes()[1];
  const int64_t GH = rnn_gate_count(a.mode) * H, SW = rnn_saved_width(a.mode, H);
  const T *saved_all = a.saved.data<T>(), *hp_all = ptr_or_null<T>(a.h_prev);
  const T *cp_all = ptr_or_null<T>(a.c_prev), *cn_all = ptr_or_null<T>(a.c_next);
  const T *go_all = ptr_or_null<T>(a.grad_output), *rec_all = ptr_or_null<T>(a.grad_h_rec);
  T *dh_all = a.grad_h.data<T>(), *dc_all = a.grad_c.defined() ? a.grad_c.data<T>() : nullptr;
  T *dgx_all = a.grad_gates_x.data<T>(), *dgh_all = a.grad_gates_h.defined() ? a.grad_gates_h.data<T>() : nullptr;
  const int64_t* lengths = ptr_or_null<int64_t>(a.lengths);

  parallel_for(0, B, row_grain(GH), [&](int64_t b0, int64_t b1) {
    std::vector<T> tanh_c(static_cast<size_t>(H));
    for (int64_t b = b0; b < b1; ++b) {
      T* dh = dh_all + b * H;
      T* dgx = dgx_all + b * GH;
      T* dgh = dgh_all != nullptr ? dgh_all + b * GH : nullptr;
      const T* rec = rec_all != nullptr ? rec_all + b * H : nullptr;
      if (!row_active(lengths, b, a.t)) {  // h_next = h_prev: the gradient passes through
        if (rec != nullptr)
          for (int64_t j = 0; j < H; ++j) dh[j] += rec[j];
        std::fill(dgx, dgx + GH, T(0));
        if (dgh != nullptr) std::fill(dgh, dgh + GH, T(0));
        continue;
      }
      const T* go = go_all != nullptr ? go_all + b * H : nullptr;
      for (int64_t j = 0; j < H; ++j) dh[j] += (go != nullptr ? go[j] : T(0)) + (rec != nullptr ? rec[j] : T(0));
      const T* s = saved_all + b * SW;
      switch (a.mode) {
        case RnnMode::Lstm: {
          const T *cp = cp_all + b * H, *cn = cn_all + b * H;
          T* dc = dc_all + b * H;
          act.tanh(cn, tanh_c.data(), H);
          for (int64_t j = 0; j < H; ++j) {
            const T i = s[j], f = s[H + j], g = s[2 * H + j], o = s[3 * H + j], tc = tanh_c[j];
            const T dct = dc[j] + dh[j] * o * (T(1) - tc * tc);
            dgx[j] = dct * g * i * (T(1) - i);
            dgx[H + j] = dct * cp[j] * f * (T(1) - f);
            dgx[2 * H + j] = dct * i * (T(1) - g * g);
            dgx[3 * H + j] = dh[j] * tc * o * (T(1) - o);
            dc[j] = dct * f;
            dh[j] = T(0);
          }
          break;
        }
        case RnnMode::Gru: {
          const T* hp = hp_all + b * H;
          for (int64_t j = 0; j < H; ++j) {
            const T r = s[j], z = s[H + j], n = s[2 * H + j], hpart = s[3 * H + j], d = dh[j];
            const T dn_pre = d * (T(1) - z) * (T(1) - n * n);
            const T dr_pre = dn_pre * hpart * r * (T(1) - r);
            const T dz_pre = d * (hp[j] - n) * z * (T(1) - z);
            dgx[j] = dgh[j] = dr_pre;
            dgx[H + j] = dgh[H + j] = dz_pre;
            dgx[2 * H + j] = dn_pre;
            dgh[2 * H + j] = dn_pre * r;
            dh[j] = d * z;
          }
          break;
        }
        case RnnMode::RnnTanh:
          for (int64_t j = 0; j < H; ++j) {
            dgx[j] = dh[j] * (T(1) - s[j] * s[j]);
            dh[j] = T(0);
          }
          break;
        case RnnMode::RnnRelu:
          for (int64_t j = 0; j < H; ++j) {
            dgx[j] = s[j] > T(0) ? dh[j] : T(0);
            dh[j] = T(0);
          }
          break;
      }
    }
  });
}

void check_lengths(const RnnCellForwardArgs& a) {
  const int64_t* lengths = a.lengths.data<int64_t>();
  for (int64_t b = 0; b < a.lengths.sizes()[0]; ++b)
    NN_CHECK(lengths[b] >= 0 && lengths[b] <= a.steps, ValueError, a.op, ": lengths[", b, "] = ", lengths[b],
             " is outside [0, ", a.steps, "] (every length must be at most the input's ", a.steps, " time steps)");
}

void rnn_cell_forward(const RnnCellForwardArgs& a) {
  if (a.check_lengths && a.lengths.defined()) check_lengths(a);
  if (a.steps == 0) return;  // a lengths check only (rnn_layer on 0 time steps)
  VecActivations vec;
  if (a.h_next.dtype() == DType::Float32 && pick_vec_activations(vec)) return forward_rows<float>(a, vec);
  dispatch_float_dtype(a.h_next.dtype(), a.op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    forward_rows<T>(a, ReferenceActivations<T>{});
  });
}

void rnn_cell_backward(const RnnCellBackwardArgs& a) {
  VecActivations vec;
  if (a.grad_h.dtype() == DType::Float32 && pick_vec_activations(vec)) return backward_rows<float>(a, vec);
  dispatch_float_dtype(a.grad_h.dtype(), "rnn_layer", [&](auto tag) {
    using T = typename decltype(tag)::type;
    backward_rows<T>(a, ReferenceActivations<T>{});
  });
}

}  // namespace

void register_rnn_kernels(KernelRegistry& r) {
  r.rnn_cell.set(OpId::rnn_layer, DeviceType::CPU, &rnn_cell_forward);
  r.rnn_cell_backward.set(OpId::rnn_layer, DeviceType::CPU, &rnn_cell_backward);
}

}  // namespace nn::cpu
