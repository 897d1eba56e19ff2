// unary_math_generic.cpp — the contiguous float32 exp/tanh/sigmoid loops of cpu/vec_math.h,
// compiled with this unit's ISA flags (see CMakeLists.txt); chosen at run time by
// cpu/unary_kernels.cpp.
#include "cpu/vec_math.h"

namespace nn::cpu {
NN_VEC_MATH_LOOPS(generic)
}  // namespace nn::cpu
