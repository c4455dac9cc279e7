// cxx_exceptions.cpp: C++ exceptions (built with emscripten -fwasm-exceptions):
// throw across frames, catch by base class, rethrow, destructors during unwinding.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

static int destroyed = 0;
struct Guard { int id; ~Guard() { destroyed += id; } };

static int risky(int x) {
  Guard g{x};
  if (x % 3 == 0) throw std::runtime_error("multiple of three: " + std::to_string(x));
  if (x % 5 == 0) throw x;
  return x * 2;
}

int main() {
  long sum = 0;
  int caught_rt = 0, caught_int = 0;
  for (int i = 1; i <= 30; i++) {
    try {
      sum += risky(i);
    } catch (const std::exception &e) {
      caught_rt++;
      if (i == 3) std::printf("first: %s\n", e.what());
    } catch (int v) {
      caught_int += v;
    }
  }
  try {
    try { throw std::logic_error("inner"); }
    catch (...) { std::printf("rethrowing\n"); throw; }
  } catch (const std::logic_error &e) { std::printf("outer caught %s\n", e.what()); }
  std::vector<int> v(10, 1);
  try { (void)v.at(20); } catch (const std::out_of_range &) { std::printf("out_of_range ok\n"); }
  std::printf("sum=%ld rt=%d int=%d destroyed=%d\n", sum, caught_rt, caught_int, destroyed);
  return 0;
}
