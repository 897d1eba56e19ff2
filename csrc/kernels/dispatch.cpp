// dispatch.cpp — builds the kernel registry from each device's registration function.
#include "kernels/dispatch.h"

#include <vector>

namespace nn {

namespace {
std::vector<KernelRegistrationFn>& registrations() {
  static std::vector<KernelRegistrationFn> fns;
  return fns;
}
}  // namespace

bool add_kernel_registration(KernelRegistrationFn fn) {
  registrations().push_back(fn);
  return true;
}

const KernelRegistry& kernels() {
  static const KernelRegistry registry = [] {
    KernelRegistry r;
    for (KernelRegistrationFn fn : registrations()) fn(r);
    return r;
  }();
  return registry;
}

}  // namespace nn
