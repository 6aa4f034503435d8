#pragma once
// Shared by the fuzz targets: a property that must hold for every input.
// A violation prints what was expected (non-printable bytes as \xNN) and
// aborts, which libFuzzer reports as a crash and saves the input as
// crash-<sha1>.

#include <cstdio>
#include <cstdlib>
#include <string>

namespace stoa::fuzz {

inline std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace stoa::fuzz

#define STOA_FUZZ_CHECK(cond, what)                                                   \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: property violated: %s\n  %s\n", __FILE__, __LINE__, \
                   #cond, stoa::fuzz::printable(std::string(what)).c_str());          \
      std::abort();                                                                   \
    }                                                                                 \
  } while (false)
