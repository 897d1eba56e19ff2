// intercept.cpp — lookups in the schema table of ops/intercept.h (the table itself,
// op_schema, and call_boxed are generated into ops_generated.cpp).
#include "ops/intercept.h"

#include <cstring>

#include "core/errors.h"

namespace nn::dispatch {

int arg_index(OpId op, const char* name) {
  const OpSchema& s = op_schema(op);
  for (int i = 0; i < s.num_args; ++i)
    if (std::strcmp(s.args[i].name, name) == 0) return i;
  throw ValueError(str(s.name, ": the schema has no argument '", name, "' (", s.signature, ")"));
}

}  // namespace nn::dispatch
