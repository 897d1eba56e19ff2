// optim.h — fused optimizer updates: SGD (momentum, dampening, nesterov, weight decay),
// Adam / AdamW (amsgrad), RMSprop (centered, momentum), Adagrad and Adadelta. One call updates one
// parameter tensor and its state tensors in place in a single pass over memory; the
// Python optimizers (nn_core/optim) hold the state and call the group forms (one call per
// parameter group; optim_group.cpp) that loop over the tensors.
//
// These are not tensor ops: no op-table row, no autograd node. Shapes: every state
// tensor has the parameter's sizes and dtype (float32 or float64); `grad` may have any
// strides; a non-contiguous parameter is updated through a contiguous copy. The update
// rules (PyTorch's, term by term) are written out in cpu/optim_kernels.cpp; the option
// structs are in kernels/optim.h.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "kernels/optim.h"

namespace nn {

// momentum_buffer: undefined when momentum == 0. first_step: the buffer is set to the
// (decayed) gradient instead of being blended into (PyTorch's lazy buffer creation).
void sgd_step(const Tensor& p, const Tensor& grad, const Tensor& momentum_buffer, bool first_step,
              const SgdOptions& o);
// step: the 1-based step count after this update (used for the bias corrections).
// max_exp_avg_sq: undefined unless amsgrad.
void adam_step(const Tensor& p, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const Tensor& max_exp_avg_sq, int64_t step, const AdamOptions& o);
// momentum_buffer: undefined when momentum == 0; grad_avg: undefined unless centered.
void rmsprop_step(const Tensor& p, const Tensor& grad, const Tensor& square_avg, const Tensor& momentum_buffer,
                  const Tensor& grad_avg, const RmspropOptions& o);
// step: the 1-based step count after this update (lr decay). state_sum: the running sum of g^2.
void adagrad_step(const Tensor& p, const Tensor& grad, const Tensor& state_sum, int64_t step,
                  const AdagradOptions& o);
void adadelta_step(const Tensor& p, const Tensor& grad, const Tensor& square_avg, const Tensor& acc_delta,
                   const AdadeltaOptions& o);

// Group forms: entry i of every list belongs to params[i]. Each state list has one entry
// per parameter (undefined where unused); first_step may be empty (all false). ValueError
// names the list whose length is wrong.
void sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
              const std::vector<Tensor>& momentum_buffers, const std::vector<bool>& first_step, const SgdOptions& o);
void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
               const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
               const std::vector<Tensor>& max_exp_avg_sqs, const std::vector<int64_t>& steps, const AdamOptions& o);
void rmsprop_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                  const std::vector<Tensor>& square_avgs, const std::vector<Tensor>& momentum_buffers,
                  const std::vector<Tensor>& grad_avgs, const RmspropOptions& o);

void adagrad_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                  const std::vector<Tensor>& state_sums, const std::vector<int64_t>& steps, const AdagradOptions& o);
void adadelta_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                   const std::vector<Tensor>& square_avgs, const std::vector<Tensor>& acc_deltas,
                   const AdadeltaOptions& o);

}  // namespace nn
