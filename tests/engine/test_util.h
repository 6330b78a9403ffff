#pragma once
// Shared helpers for engine tests: locating ../shared and skipping with a reason without it.
#include <gtest/gtest.h>

#include <cstdlib>
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

inline std::vector<char> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace ld::test

// Skips the current test when a file from ../shared is missing.
#define LD_REQUIRE_SHARED(rel)                                                        \
    do {                                                                              \
        if (!std::filesystem::exists(::ld::test::shared_path(rel)))                    \
            GTEST_SKIP() << "test data " << ::ld::test::shared_path(rel)              \
                         << " not found (set LLAMADESK_SHARED_DIR)";                  \
    } while (0)
