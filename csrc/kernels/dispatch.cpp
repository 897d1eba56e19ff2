// dispatch.cpp — builds the kernel registry from each device's registration function.
#include "kernels/dispatch.h"

namespace nn {

const KernelRegistry& kernels() {
  static const KernelRegistry registry = [] {
    KernelRegistry r;
    cpu::register_kernels(r);
    return r;
  }();
  return registry;
}

}  // namespace nn
