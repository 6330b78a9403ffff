#pragma once
// Helpers for Vulkan tests: one device per test binary (skipping with the reason when there is
// none), host<->device copies, test weights and KV caches; random inputs and the comparison come
// from tests/gpu_test_common.h, shared with the CUDA tests.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "inference/core/error.h"
#include "inference/quant/fp16.h"
#include "inference/quant/quant.h"
#include "inference/vulkan/vk_device.h"
#include "inference/vulkan/vk_ops.h"
#include "inference/vulkan/vk_repack.h"
#include "inference/vulkan/vk_resources.h"
#include "tests/gpu_test_common.h"

namespace ld::test {

struct VkEnv {
    vk::Device dev;
    vk::Ops ops;
    vk::Commands cmds;
    vk::Uploader up;
    // The tuning of the variables CTest sets for the run (validation layer, fallback kernels).
    VkEnv() : dev("", Tuning::from_env()), ops(dev, Tuning::from_env()), cmds(dev), up(dev, size_t(8) << 20) {}

    template <typename T>
    vk::Buffer upload(const std::vector<T>& v) {
        vk::Buffer b(dev, v.size() * sizeof(T), vk::Buffer::Kind::device);
        up.upload(b, v.data(), v.size() * sizeof(T));
        return b;
    }
    vk::Buffer device(size_t bytes) { return vk::Buffer(dev, bytes, vk::Buffer::Kind::device); }
    template <typename T>
    std::vector<T> download(const vk::Buffer& b, size_t n) {
        vk::Buffer host(dev, n * sizeof(T), vk::Buffer::Kind::host);
        VkCommandBuffer cmd = cmds.begin();
        VkBufferCopy region{0, 0, n * sizeof(T)};
        vkCmdCopyBuffer(cmd, b.handle(), host.handle(), 1, &region);
        cmds.submit_and_wait();
        std::vector<T> out(n);
        std::memcpy(out.data(), host.mapped(), n * sizeof(T));
        return out;
    }
};

// The binary's one device. It is destroyed when the tests end (gtest's environment teardown,
// before main returns), not by a static destructor at exit: NVIDIA's driver crashed
// (SIGSEGV after PASSED, every binary with a device, on the H200) when the device outlived main,
// presumably because the driver's own exit handlers had already run.
struct VkEnvHolder {
    std::unique_ptr<VkEnv> env;
    std::string reason;
    bool tried = false;
};
inline VkEnvHolder& vk_env_holder() {
    static VkEnvHolder h;
    return h;
}
class VkEnvTeardown : public ::testing::Environment {
public:
    void TearDown() override { vk_env_holder().env.reset(); }
};
// Registered during static initialisation, so before RUN_ALL_TESTS whichever main runs.
inline ::testing::Environment* const kVkEnvTeardown = ::testing::AddGlobalTestEnvironment(new VkEnvTeardown);

// The shared device, or nullptr with `why` set.
inline VkEnv* vk_env(std::string* why) {
    VkEnvHolder& h = vk_env_holder();
    if (!h.tried) {
        h.tried = true;
        try {
            h.env = std::make_unique<VkEnv>();
        } catch (const Error& e) {
            h.reason = e.what();
        }
    }
    *why = h.reason;
    return h.env.get();
}

// An f16 KV cache of `rows` positions x kvd: positions < ctx random (keys scaled by k_scale),
// the rest NaN, as stale rows past a rewind would be (no kernel may read them).
struct KvCache {
    std::vector<fp16_t> k, v;
};
inline KvCache random_kv_cache(int ctx, int rows, int kvd, float k_scale, uint32_t seed) {
    const std::vector<float> kf = random_floats(size_t(ctx) * kvd, seed, k_scale), vf = random_floats(size_t(ctx) * kvd, seed + 1);
    KvCache c{std::vector<fp16_t>(size_t(rows) * kvd, fp32_to_fp16(std::nanf(""))),
              std::vector<fp16_t>(size_t(rows) * kvd, fp32_to_fp16(std::nanf("")))};
    for (size_t i = 0; i < kf.size(); ++i) {
        c.k[i] = fp32_to_fp16(kf[i]);
        c.v[i] = fp32_to_fp16(vf[i]);
    }
    return c;
}

// An Ops with the run's tuning (Tuning::from_env()) changed by `edit`.
inline std::unique_ptr<vk::Ops> ops_tuned(const vk::Device& dev, const std::function<void(Tuning&)>& edit) {
    Tuning t = Tuning::from_env();
    edit(t);
    return std::make_unique<vk::Ops>(dev, t);
}

// Random weights of `type` (rows x ne0): GGUF bytes, the device layout and exact values.
struct TestWeight {
    std::vector<uint8_t> bytes, device;
    std::vector<float> values;
};
inline TestWeight make_weight(GgmlType type, int rows, int ne0, uint32_t seed) {
    TestWeight w;
    const std::vector<float> src = random_floats(size_t(rows) * ne0, seed);
    const size_t rb = row_size(type, ne0);
    w.bytes.resize(rb * rows);
    w.values.resize(src.size());
    for (int r = 0; r < rows; ++r) {
        quantize_row(type, src.data() + size_t(r) * ne0, w.bytes.data() + rb * r, ne0);
        dequantize_row(type, w.bytes.data() + rb * r, w.values.data() + size_t(r) * ne0, ne0);
    }
    w.device = vk::repack_weight(type, w.bytes.data(), w.bytes.size());
    return w;
}

// y[c][r] = W row r . x[c] in double, from the exact (dequantized) weights.
inline std::vector<float> reference_product(const TestWeight& w, const std::vector<float>& x, int rows, int ne0, int cols) {
    std::vector<float> want(static_cast<size_t>(cols) * rows);
    for (int c = 0; c < cols; ++c)
        for (int r = 0; r < rows; ++r) {
            double s = 0;
            for (int i = 0; i < ne0; ++i) s += double(w.values[size_t(r) * ne0 + i]) * x[size_t(c) * ne0 + i];
            want[size_t(c) * rows + r] = float(s);
        }
    return want;
}

}  // namespace ld::test

#define LD_REQUIRE_VULKAN(env)                                                  \
    std::string vk_why_;                                                        \
    ::ld::test::VkEnv* env = ::ld::test::vk_env(&vk_why_);                      \
    if (!env) GTEST_SKIP() << "no usable Vulkan device: " << vk_why_
