// errors.h — the library's exception hierarchy. Every error raised from the core is
// one of these; the bindings map them to Python exceptions:
//   ShapeError, ValueError -> ValueError     DTypeError     -> TypeError
//   IndexError             -> IndexError     DeviceError, RuntimeError -> RuntimeError
//   OutOfMemoryError       -> MemoryError
// Messages name the op, the shapes involved and the rule that was broken.
#pragma once
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace nn {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct ValueError : Error { using Error::Error; };
struct ShapeError : ValueError { using ValueError::ValueError; };
struct DTypeError : Error { using Error::Error; };
struct IndexError : Error { using Error::Error; };
struct DeviceError : Error { using Error::Error; };
struct RuntimeError : Error { using Error::Error; };
struct OutOfMemoryError : Error { using Error::Error; };

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... Rest>
void append(std::ostringstream& os, const T& first, const Rest&... rest);

template <typename T>
void append_one(std::ostringstream& os, const std::vector<T>& v) {
  os << '(';
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  if (v.size() == 1) os << ',';
  os << ')';
}
template <typename T>
void append_one(std::ostringstream& os, const T& v) { os << v; }

template <typename T, typename... Rest>
void append(std::ostringstream& os, const T& first, const Rest&... rest) {
  append_one(os, first);
  append(os, rest...);
}
}  // namespace detail

// str("op: shapes ", a.sizes(), " and ", b.sizes()) — vectors print as tuples.
template <typename... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  detail::append(os, args...);
  return os.str();
}

}  // namespace nn

// NN_CHECK(cond, ErrorType, message parts...): throw ErrorType(str(parts...)) unless cond.
#define NN_CHECK(cond, ErrorType, ...)                        \
  do {                                                        \
    if (!(cond)) throw ::nn::ErrorType(::nn::str(__VA_ARGS__)); \
  } while (0)
