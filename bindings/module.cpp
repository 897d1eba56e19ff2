// module.cpp — placeholder entry point of nn_core._C (filled in by the tensor bindings).
#include <pybind11/pybind11.h>
PYBIND11_MODULE(_C, m) { m.doc() = "nn_core native core"; }
