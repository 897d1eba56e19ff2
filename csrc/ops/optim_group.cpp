// optim_group.cpp — the group forms of the fused optimizer updates (ops/optim.h): check
// that every list has one entry per parameter, then update each parameter in turn.
#include <cstddef>

#include "ops/optim.h"

namespace nn {
namespace {

template <typename List>
void check_length(const List& list, size_t n, const char* op, const char* what) {
  NN_CHECK(list.size() == n, ValueError, op, ": expected ", n, " entries in '", what, "', got ", list.size());
}

}  // namespace

void sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
              const std::vector<Tensor>& momentum_buffers, const std::vector<bool>& first_step, const SgdOptions& o) {
  const size_t n = params.size();
  check_length(grads, n, "SGD", "grads");
  check_length(momentum_buffers, n, "SGD", "momentum_buffers");
  NN_CHECK(first_step.size() == n || first_step.empty(), ValueError, "SGD: expected ", n, " first-step flags");
  for (size_t i = 0; i < n; ++i)
    sgd_step(params[i], grads[i], momentum_buffers[i], first_step.empty() ? false : bool(first_step[i]), o);
}

void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
               const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
               const std::vector<Tensor>& max_exp_avg_sqs, const std::vector<int64_t>& steps, const AdamOptions& o) {
  const char* name = o.decoupled_weight_decay ? "AdamW" : "Adam";
  const size_t n = params.size();
  check_length(grads, n, name, "grads");
  check_length(exp_avgs, n, name, "exp_avgs");
  check_length(exp_avg_sqs, n, name, "exp_avg_sqs");
  check_length(max_exp_avg_sqs, n, name, "max_exp_avg_sqs");
  NN_CHECK(steps.size() == n, ValueError, name, ": expected ", n, " step counts, got ", steps.size());
  for (size_t i = 0; i < n; ++i)
    adam_step(params[i], grads[i], exp_avgs[i], exp_avg_sqs[i], max_exp_avg_sqs[i], steps[i], o);
}

void rmsprop_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                  const std::vector<Tensor>& square_avgs, const std::vector<Tensor>& momentum_buffers,
                  const std::vector<Tensor>& grad_avgs, const RmspropOptions& o) {
  const size_t n = params.size();
  check_length(grads, n, "RMSprop", "grads");
  check_length(square_avgs, n, "RMSprop", "square_avgs");
  check_length(momentum_buffers, n, "RMSprop", "momentum_buffers");
  check_length(grad_avgs, n, "RMSprop", "grad_avgs");
  for (size_t i = 0; i < n; ++i)
    rmsprop_step(params[i], grads[i], square_avgs[i], momentum_buffers[i], grad_avgs[i], o);
}

void adagrad_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                  const std::vector<Tensor>& state_sums, const std::vector<int64_t>& steps, const AdagradOptions& o) {
  const size_t n = params.size();
  check_length(grads, n, "Adagrad", "grads");
  check_length(state_sums, n, "Adagrad", "state_sums");
  NN_CHECK(steps.size() == n, ValueError, "Adagrad: expected ", n, " step counts, got ", steps.size());
  for (size_t i = 0; i < n; ++i) adagrad_step(params[i], grads[i], state_sums[i], steps[i], o);
}

void adadelta_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                   const std::vector<Tensor>& square_avgs, const std::vector<Tensor>& acc_deltas,
                   const AdadeltaOptions& o) {
  const size_t n = params.size();
  check_length(grads, n, "Adadelta", "grads");
  check_length(square_avgs, n, "Adadelta", "square_avgs");
  check_length(acc_deltas, n, "Adadelta", "acc_deltas");
  for (size_t i = 0; i < n; ++i) adadelta_step(params[i], grads[i], square_avgs[i], acc_deltas[i], o);
}

}  // namespace nn
