#pragma once
// Errors from bad input (files, arguments, devices) travel up as this exception, carrying text
// meant for the user. The engine never asserts or aborts on input.
#include <stdexcept>
#include <string>

namespace ld {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Printf-free message building: ld::fail("tensor ", name, " is outside the file").
template <typename... Args>
[[noreturn]] void fail(const Args&... args);

}  // namespace ld

#include <sstream>
namespace ld {
template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
    std::ostringstream os;
    (os << ... << args);
    throw Error(os.str());
}
}  // namespace ld
