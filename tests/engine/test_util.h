#pragma once
// Shared helpers for engine tests: locating ../shared, and skipping with a reason without it
// (or without an npm peer) on a developer's machine but failing in CI (CI=true), where both are
// always installed: a missing folder there is a broken setup, not a reason to pass.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace ld::test {

// The folder is fixed at configure time; LLAMADESK_SHARED_DIR in the environment overrides it, so
// binaries built here can run elsewhere (the device machine) with the data copied beside them.
inline std::string shared_path(const std::string& rel) {
    const char* env = std::getenv("LLAMADESK_SHARED_DIR");
    return std::string(env && *env ? env : LLAMADESK_SHARED_DIR) + "/" + rel;
}

// True under CI (CI=true, as GitHub Actions, GitLab and .ci/run set it; "1" too).
inline bool in_ci() {
    const char* ci = std::getenv("CI");
    return ci && (std::strcmp(ci, "true") == 0 || std::strcmp(ci, "TRUE") == 0 || std::strcmp(ci, "1") == 0);
}

inline std::vector<char> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace ld::test

// For test data (../shared) and npm peers only: skips the current test with `reason` (anything
// that streams into a gtest message) locally, fails it in CI. Hardware that is absent (no GPU,
// no CUDA or Vulkan device, an older CPU) stays a plain GTEST_SKIP.
#define LD_SKIP_OR_FAIL_IN_CI(reason)                                                  \
    do {                                                                               \
        if (::ld::test::in_ci()) {                                                     \
            GTEST_FAIL() << "CI=true, yet " << reason;                                 \
        } else {                                                                       \
            GTEST_SKIP() << reason;                                                    \
        }                                                                              \
    } while (0)

// Skips (fails in CI) the current test when a file from ../shared is missing.
#define LD_REQUIRE_SHARED(rel)                                                        \
    do {                                                                              \
        if (!std::filesystem::exists(::ld::test::shared_path(rel)))                    \
            LD_SKIP_OR_FAIL_IN_CI("test data " << ::ld::test::shared_path(rel)         \
                                  << " not found (set LLAMADESK_SHARED_DIR)");        \
    } while (0)
