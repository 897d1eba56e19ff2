// test_check.h — the checks shared by the C++ test drivers in tests/cpp: CHECK(cond)
// counts and prints a failed condition, CHECK_THROWS(E, expr, fragment) that expr throws
// E with `fragment` in its message, and finish(name) turns the count into the exit status.
#pragma once
#include <cstdio>
#include <exception>
#include <string>

namespace nn_test {

inline int g_failures = 0;

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      ++nn_test::g_failures;                                            \
      std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);       \
    }                                                                   \
  } while (0)

// Runs fn and checks it throws E with `fragment` in its message.
template <typename E, typename Fn>
void check_throws(Fn fn, const char* fragment, int line) {
  try {
    fn();
  } catch (const E& e) {
    if (std::string(e.what()).find(fragment) == std::string::npos) {
      ++g_failures;
      std::printf("FAIL line %d: message '%s' lacks '%s'\n", line, e.what(), fragment);
    }
    return;
  } catch (const std::exception& e) {
    ++g_failures;
    std::printf("FAIL line %d: wrong exception type: %s\n", line, e.what());
    return;
  }
  ++g_failures;
  std::printf("FAIL line %d: no exception (expected one mentioning '%s')\n", line, fragment);
}
#define CHECK_THROWS(E, expr, fragment) nn_test::check_throws<E>([&] { (void)(expr); }, fragment, __LINE__)

// The exit status of a driver: 0 when every check passed.
inline int finish(const char* name) {
  if (g_failures != 0) {
    std::printf("%s: %d check(s) failed\n", name, g_failures);
    return 1;
  }
  std::printf("%s: all checks passed\n", name);
  return 0;
}

}  // namespace nn_test
