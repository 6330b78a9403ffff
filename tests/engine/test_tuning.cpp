// Tuning::from_env(): the one place the engine reads its LLAMADESK_* switches (tuning.h).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "inference/backend/backend.h"
#include "inference/backend/tuning.h"

namespace ld {
namespace {

const char* const kVars[] = {"LLAMADESK_VK_MATVEC",     "LLAMADESK_VK_MATVEC_ROWS", "LLAMADESK_VK_MATVEC_WG",
                             "LLAMADESK_VK_MATVEC_UNROLL", "LLAMADESK_VK_COOPMAT",   "LLAMADESK_VK_Q8",
                             "LLAMADESK_VK_SMALL_BATCH",
                             "LLAMADESK_VK_PROFILE",    "LLAMADESK_VULKAN_VALIDATION", "LLAMADESK_CUDA_MV_SPLIT", "LLAMADESK_CUDA_GRAPH",
                             "LLAMADESK_CUDA_PAGED_CHUNK", "LLAMADESK_CUDA_SMALL_BATCH", "LLAMADESK_CUDA_FUSED_Q8",
                             "LLAMADESK_CUDA_MV_VARIANT",
                             "LLAMADESK_CPU_REPACK",    "LLAMADESK_CPU_ISA",        "LLAMADESK_CUDA_PLUGIN"};

// Unsets every switch for the test (CTest sets some for other runs) and restores them after.
class TuningEnv : public ::testing::Test {
protected:
    void SetUp() override {
        for (const char* v : kVars) {
            const char* old = std::getenv(v);
            saved_.push_back({v, old ? std::string(old) : std::string(), old != nullptr});
            unsetenv(v);
        }
    }
    void TearDown() override {
        for (const Saved& s : saved_) {
            if (s.set) setenv(s.name, s.value.c_str(), 1);
            else unsetenv(s.name);
        }
    }

private:
    struct Saved {
        const char* name;
        std::string value;
        bool set;
    };
    std::vector<Saved> saved_;
};

TEST_F(TuningEnv, NothingSetGivesTheMeasuredDefaults) {
    const Tuning t = Tuning::from_env();
    EXPECT_TRUE(t.vk_wide_matvec);
    EXPECT_EQ(t.vk_matvec_rows, 2);
    EXPECT_EQ(t.vk_matvec_threads, 64);
    EXPECT_EQ(t.vk_matvec_unroll, 1);
    EXPECT_EQ(t.vk_matmul, Tuning::VkMatmul::wide);
    EXPECT_TRUE(t.vk_int8);
    EXPECT_EQ(t.vk_small_batch, 16);
    EXPECT_FALSE(t.vk_profile);
    EXPECT_FALSE(t.vk_validation);
    EXPECT_EQ(t.cuda_mv_split, 0);
    EXPECT_EQ(t.cuda_paged_chunk, 0);
    EXPECT_EQ(t.cuda_small_batch, 16);
    EXPECT_EQ(t.cuda_fused_q8, 0);  // unmeasured on a GPU: off until its device run
    EXPECT_EQ(t.cuda_mv_variant, 0);  // likewise
    EXPECT_TRUE(t.cuda_graph);
    EXPECT_TRUE(t.cpu_repack);
    EXPECT_EQ(t.cpu_isa, "");
    EXPECT_EQ(t.cuda_plugin, "");
    // BackendOptions starts from the same defaults.
    const BackendOptions o;
    EXPECT_EQ(o.tuning.vk_matvec_rows, t.vk_matvec_rows);
    EXPECT_EQ(o.tuning.vk_matmul, t.vk_matmul);
}

TEST_F(TuningEnv, EachVariableSetsItsField) {
    setenv("LLAMADESK_VK_MATVEC", "generic", 1);
    setenv("LLAMADESK_VK_MATVEC_ROWS", "3", 1);
    setenv("LLAMADESK_VK_MATVEC_WG", "128", 1);
    setenv("LLAMADESK_VK_MATVEC_UNROLL", "2", 1);
    setenv("LLAMADESK_VK_COOPMAT", "emulate", 1);
    setenv("LLAMADESK_VK_Q8", "0", 1);
    setenv("LLAMADESK_VK_SMALL_BATCH", "0", 1);
    setenv("LLAMADESK_VK_PROFILE", "1", 1);
    setenv("LLAMADESK_VULKAN_VALIDATION", "1", 1);
    setenv("LLAMADESK_CUDA_MV_SPLIT", "4", 1);
    setenv("LLAMADESK_CUDA_PAGED_CHUNK", "256", 1);
    setenv("LLAMADESK_CUDA_SMALL_BATCH", "0", 1);
    setenv("LLAMADESK_CUDA_FUSED_Q8", "2", 1);
    setenv("LLAMADESK_CUDA_MV_VARIANT", "2", 1);
    setenv("LLAMADESK_CUDA_GRAPH", "0", 1);
    setenv("LLAMADESK_CPU_REPACK", "0", 1);
    setenv("LLAMADESK_CPU_ISA", "avx2", 1);
    setenv("LLAMADESK_CUDA_PLUGIN", "/tmp/x.so", 1);
    const Tuning t = Tuning::from_env();
    EXPECT_FALSE(t.vk_wide_matvec);
    EXPECT_EQ(t.vk_matvec_rows, 3);
    EXPECT_EQ(t.vk_matvec_threads, 128);
    EXPECT_EQ(t.vk_matvec_unroll, 2);
    EXPECT_EQ(t.vk_matmul, Tuning::VkMatmul::emulate);
    EXPECT_FALSE(t.vk_int8);
    EXPECT_EQ(t.vk_small_batch, 0);
    EXPECT_TRUE(t.vk_profile);
    EXPECT_TRUE(t.vk_validation);
    EXPECT_EQ(t.cuda_mv_split, 4);
    EXPECT_EQ(t.cuda_paged_chunk, 256);
    EXPECT_EQ(t.cuda_small_batch, 0);
    EXPECT_EQ(t.cuda_fused_q8, 2);
    EXPECT_EQ(t.cuda_mv_variant, 2);
    EXPECT_FALSE(t.cuda_graph);
    EXPECT_FALSE(t.cpu_repack);
    EXPECT_EQ(t.cpu_isa, "avx2");
    EXPECT_EQ(t.cuda_plugin, "/tmp/x.so");
    setenv("LLAMADESK_VK_COOPMAT", "classic", 1);
    EXPECT_EQ(Tuning::from_env().vk_matmul, Tuning::VkMatmul::classic);
    setenv("LLAMADESK_VK_COOPMAT", "0", 1);
    EXPECT_EQ(Tuning::from_env().vk_matmul, Tuning::VkMatmul::tiled);
    setenv("LLAMADESK_VK_COOPMAT", "wide", 1);
    EXPECT_EQ(Tuning::from_env().vk_matmul, Tuning::VkMatmul::wide);
}

TEST_F(TuningEnv, OutOfRangeIsClampedAndUnknownIgnored) {
    setenv("LLAMADESK_VK_MATVEC_ROWS", "99", 1);
    setenv("LLAMADESK_VK_MATVEC_WG", "100", 1);  // a multiple of 32 below it
    setenv("LLAMADESK_VK_MATVEC_UNROLL", "0", 1);
    setenv("LLAMADESK_VK_COOPMAT", "fast", 1);
    setenv("LLAMADESK_VK_SMALL_BATCH", "17", 1);  // the kernel's 16 columns at most
    setenv("LLAMADESK_VK_MATVEC", "wide", 1);
    setenv("LLAMADESK_CUDA_MV_SPLIT", "3", 1);
    setenv("LLAMADESK_CUDA_PAGED_CHUNK", "-7", 1);  // -1, never split
    setenv("LLAMADESK_CUDA_SMALL_BATCH", "40", 1);  // the kernel's 16 columns at most
    setenv("LLAMADESK_CUDA_FUSED_Q8", "3", 1);  // 2, everything fused
    setenv("LLAMADESK_CUDA_MV_VARIANT", "9", 1);  // 3, both variants
    setenv("LLAMADESK_VK_PROFILE", "yes", 1);
    const Tuning t = Tuning::from_env();
    EXPECT_EQ(t.vk_matvec_rows, 8);
    EXPECT_EQ(t.vk_matvec_threads, 96);
    EXPECT_EQ(t.vk_matvec_unroll, 1);
    EXPECT_EQ(t.vk_matmul, Tuning::VkMatmul::wide);
    EXPECT_TRUE(t.vk_wide_matvec);
    EXPECT_EQ(t.vk_small_batch, 16);
    EXPECT_EQ(t.cuda_mv_split, 0);
    EXPECT_EQ(t.cuda_paged_chunk, -1);
    EXPECT_EQ(t.cuda_small_batch, 16);
    EXPECT_EQ(t.cuda_fused_q8, 2);
    EXPECT_EQ(t.cuda_mv_variant, 3);
    EXPECT_FALSE(t.vk_profile);
}

// The point of the struct: no engine source but tuning.cpp reads the environment, so a switch
// cannot again change a path from deep inside a backend behind its caller's back.
TEST(Tuning, OnlyTuningCppReadsTheEnvironment) {
    namespace fs = std::filesystem;
    const fs::path root = fs::path(LLAMADESK_SOURCE_DIR) / "inference";
    ASSERT_TRUE(fs::is_directory(root)) << root;
    std::vector<std::string> readers;
    int scanned = 0;
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(root)) {
        const std::string ext = e.path().extension().string();
        if (!e.is_regular_file() || (ext != ".cpp" && ext != ".h" && ext != ".cu" && ext != ".cuh")) continue;
        ++scanned;
        std::ifstream in(e.path());
        std::stringstream ss;
        ss << in.rdbuf();
        if (ss.str().find("getenv(") != std::string::npos)
            readers.push_back(fs::relative(e.path(), root).string());
    }
    EXPECT_GT(scanned, 50);
    EXPECT_EQ(readers, std::vector<std::string>{"backend/tuning.cpp"});
}

}  // namespace
}  // namespace ld
