// optim_kernels.cpp — CPU kernels of the fused optimizer updates (ops/optim.h; options
// in kernels/optim.h). Each kernel makes one pass over a contiguous parameter tensor,
// reading the gradient and reading/writing the state tensors element by element; chunks
// of the range run on parallel_for threads (disjoint writes, so results don't depend on
// the thread count).
//
// Arithmetic is in the parameter's dtype (float or double) in the order PyTorch's
// single-tensor implementations use, so float64 runs match a numpy transcription of the
// rules below to rounding. Per element, with g the gradient (negated when maximize):
//
//   SGD      g += wd * p;  if momentum: buf = first ? g : momentum * buf + (1 - dampening) * g
//                                        g = nesterov ? g + momentum * buf : buf
//            p -= lr * g
//   Adam     AdamW: p *= 1 - lr * wd;  Adam: g += wd * p
//            m += (1 - beta1) * (g - m);  v = beta2 * v + (1 - beta2) * g * g
//            vmax = max(vmax, v) (amsgrad);  denom = sqrt(v or vmax) / sqrt(1 - beta2^t) + eps
//            p -= lr / (1 - beta1^t) * m / denom
//   RMSprop  g += wd * p;  sq = alpha * sq + (1 - alpha) * g * g
//            centered: ga += (1 - alpha) * (g - ga);  avg = sqrt(sq - ga * ga) + eps
//            otherwise avg = sqrt(sq) + eps
//            momentum: buf = momentum * buf + g / avg;  p -= lr * buf;  otherwise p -= lr * g / avg
//   Adagrad  g += wd * p;  sum += g * g;  p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)
//   Adadelta g += wd * p;  sq = rho * sq + (1 - rho) * g * g
//            delta = sqrt(acc + eps) / sqrt(sq + eps) * g;  acc = rho * acc + (1 - rho) * delta * delta
//            p -= lr * delta
//
// The loops branch only on loop-invariant options (hoisted by the compiler), so each
// configuration compiles to a straight vectorisable loop.
#include <algorithm>
#include <cmath>

#include "core/parallel.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernels.h"
#include "kernels/optim.h"

namespace nn::cpu {
namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per chunk: small tensors stay on one thread

template <typename T>
void sgd_range(T* p, const T* gr, T* buf, bool first, const SgdOptions& o, int64_t b, int64_t e) {
  const T lr = static_cast<T>(o.lr), wd = static_cast<T>(o.weight_decay), mom = static_cast<T>(o.momentum);
  const T keep = static_cast<T>(1.0 - o.dampening);
  const bool use_wd = o.weight_decay != 0, use_mom = o.momentum != 0;
  for (int64_t i = b; i < e; ++i) {
    T g = o.maximize ? -gr[i] : gr[i];
    if (use_wd) g = g + wd * p[i];
    if (use_mom) {
      const T m = first ? g : buf[i] * mom + keep * g;
      buf[i] = m;
      g = o.nesterov ? g + mom * m : m;
    }
    p[i] = p[i] - lr * g;
  }
}

void sgd_kernel(const Tensor& p, const Tensor& grad, const Tensor& buf, bool first, const SgdOptions& o) {
  dispatch_float_dtype(p.dtype(), "SGD", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* pp = p.data<T>();
    const T* gp = grad.data<T>();
    T* bp = buf.defined() ? buf.data<T>() : nullptr;
    parallel_for(0, p.numel(), kGrain, [&](int64_t b, int64_t e) { sgd_range(pp, gp, bp, first, o, b, e); });
  });
}

template <typename T>
void adam_range(T* p, const T* gr, T* m, T* v, T* vmax, int64_t step, const AdamOptions& o, int64_t b,
                int64_t e) {
  const double bc1 = 1.0 - std::pow(o.beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(o.beta2, static_cast<double>(step));
  const T step_size = static_cast<T>(o.lr / bc1), bc2_sqrt = static_cast<T>(std::sqrt(bc2));
  const T decay = static_cast<T>(1.0 - o.lr * o.weight_decay), wd = static_cast<T>(o.weight_decay);
  const T w1 = static_cast<T>(1.0 - o.beta1), beta2 = static_cast<T>(o.beta2), w2 = static_cast<T>(1.0 - o.beta2);
  const T eps = static_cast<T>(o.eps);
  const bool coupled_wd = !o.decoupled_weight_decay && o.weight_decay != 0;
  const bool decoupled_wd = o.decoupled_weight_decay && o.weight_decay != 0;
  for (int64_t i = b; i < e; ++i) {
    T g = o.maximize ? -gr[i] : gr[i];
    T pi = p[i];
    if (decoupled_wd) pi = pi * decay;
    if (coupled_wd) g = g + wd * pi;
    const T mi = m[i] + w1 * (g - m[i]);
    const T vi = v[i] * beta2 + w2 * (g * g);
    m[i] = mi;
    v[i] = vi;
    T second = vi;
    if (o.amsgrad) {
      second = std::max(vmax[i], vi);
      vmax[i] = second;
    }
    const T denom = std::sqrt(second) / bc2_sqrt + eps;
    p[i] = pi - step_size * (mi / denom);
  }
}

void adam_kernel(const Tensor& p, const Tensor& grad, const Tensor& m, const Tensor& v, const Tensor& vmax,
                 int64_t step, const AdamOptions& o) {
  dispatch_float_dtype(p.dtype(), "Adam", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* pp = p.data<T>();
    const T* gp = grad.data<T>();
    T *mp = m.data<T>(), *vp = v.data<T>(), *xp = vmax.defined() ? vmax.data<T>() : nullptr;
    parallel_for(0, p.numel(), kGrain, [&](int64_t b, int64_t e) { adam_range(pp, gp, mp, vp, xp, step, o, b, e); });
  });
}

template <typename T>
void rmsprop_range(T* p, const T* gr, T* sq, T* buf, T* ga, const RmspropOptions& o, int64_t b, int64_t e) {
  const T lr = static_cast<T>(o.lr), wd = static_cast<T>(o.weight_decay), alpha = static_cast<T>(o.alpha);
  const T w = static_cast<T>(1.0 - o.alpha), eps = static_cast<T>(o.eps), mom = static_cast<T>(o.momentum);
  const bool use_wd = o.weight_decay != 0, use_mom = o.momentum > 0;
  for (int64_t i = b; i < e; ++i) {
    T g = o.maximize ? -gr[i] : gr[i];
    if (use_wd) g = g + wd * p[i];
    const T s = sq[i] * alpha + w * (g * g);
    sq[i] = s;
    T avg;
    if (o.centered) {
      const T a = ga[i] + w * (g - ga[i]);
      ga[i] = a;
      avg = std::sqrt(s - a * a) + eps;
    } else {
      avg = std::sqrt(s) + eps;
    }
    if (use_mom) {
      const T m = buf[i] * mom + g / avg;
      buf[i] = m;
      p[i] = p[i] - lr * m;
    } else {
      p[i] = p[i] - lr * (g / avg);
    }
  }
}

void rmsprop_kernel(const Tensor& p, const Tensor& grad, const Tensor& sq, const Tensor& buf, const Tensor& ga,
                    const RmspropOptions& o) {
  dispatch_float_dtype(p.dtype(), "RMSprop", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* pp = p.data<T>();
    const T* gp = grad.data<T>();
    T *sp = sq.data<T>(), *bp = buf.defined() ? buf.data<T>() : nullptr, *ap = ga.defined() ? ga.data<T>() : nullptr;
    parallel_for(0, p.numel(), kGrain, [&](int64_t b, int64_t e) { rmsprop_range(pp, gp, sp, bp, ap, o, b, e); });
  });
}

template <typename T>
void adagrad_range(T* p, const T* gr, T* sum, int64_t step, const AdagradOptions& o, int64_t b, int64_t e) {
  const T clr = static_cast<T>(o.lr / (1.0 + static_cast<double>(step - 1) * o.lr_decay));
  const T wd = static_cast<T>(o.weight_decay), eps = static_cast<T>(o.eps);
  const bool use_wd = o.weight_decay != 0;
  for (int64_t i = b; i < e; ++i) {
    T g = o.maximize ? -gr[i] : gr[i];
    if (use_wd) g = g + wd * p[i];
    const T s = sum[i] + g * g;
    sum[i] = s;
    p[i] = p[i] - clr * (g / (std::sqrt(s) + eps));
  }
}

void adagrad_kernel(const Tensor& p, const Tensor& grad, const Tensor& sum, int64_t step, const AdagradOptions& o) {
  dispatch_float_dtype(p.dtype(), "Adagrad", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* pp = p.data<T>();
    const T* gp = grad.data<T>();
    T* sp = sum.data<T>();
    parallel_for(0, p.numel(), kGrain, [&](int64_t b, int64_t e) { adagrad_range(pp, gp, sp, step, o, b, e); });
  });
}

template <typename T>
void adadelta_range(T* p, const T* gr, T* sq, T* acc, const AdadeltaOptions& o, int64_t b, int64_t e) {
  const T lr = static_cast<T>(o.lr), wd = static_cast<T>(o.weight_decay), rho = static_cast<T>(o.rho);
  const T w = static_cast<T>(1.0 - o.rho), eps = static_cast<T>(o.eps);
  const bool use_wd = o.weight_decay != 0;
  for (int64_t i = b; i < e; ++i) {
    T g = o.maximize ? -gr[i] : gr[i];
    if (use_wd) g = g + wd * p[i];
    const T s = sq[i] * rho + w * (g * g);
    sq[i] = s;
    const T delta = std::sqrt(acc[i] + eps) / std::sqrt(s + eps) * g;
    acc[i] = acc[i] * rho + w * (delta * delta);
    p[i] = p[i] - lr * delta;
  }
}

void adadelta_kernel(const Tensor& p, const Tensor& grad, const Tensor& sq, const Tensor& acc,
                     const AdadeltaOptions& o) {
  dispatch_float_dtype(p.dtype(), "Adadelta", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* pp = p.data<T>();
    const T* gp = grad.data<T>();
    T *sp = sq.data<T>(), *ap = acc.data<T>();
    parallel_for(0, p.numel(), kGrain, [&](int64_t b, int64_t e) { adadelta_range(pp, gp, sp, ap, o, b, e); });
  });
}

}  // namespace

void register_optim_kernels(KernelRegistry& r) {
  OptimKernels& k = r.optim[static_cast<int>(DeviceType::CPU)];
  k.sgd = &sgd_kernel;
  k.adam = &adam_kernel;
  k.rmsprop = &rmsprop_kernel;
  k.adagrad = &adagrad_kernel;
  k.adadelta = &adadelta_kernel;
}

}  // namespace nn::cpu
