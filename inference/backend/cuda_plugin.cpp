#include "inference/backend/cuda_plugin.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <filesystem>
#include <mutex>

#include "inference/core/error.h"

namespace ld {

namespace {

struct Plugin {
    void* handle = nullptr;
    std::string path;   // where it was loaded from
    std::string error;  // why it was not
    ld_cuda_list_devices_fn list_devices = nullptr;
    ld_cuda_create_backend_fn create = nullptr;
    ld_cuda_ops_for_test_fn ops_for_test = nullptr;
    ld_cuda_backend_memory_fn backend_memory = nullptr;
};

std::string exe_dir() {
    char buf[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return {};
    buf[n] = 0;
    return std::filesystem::path(buf).parent_path().string();
}

std::vector<std::string> candidates() {
    std::vector<std::string> out;
    if (const std::string env = Tuning::from_env().cuda_plugin; !env.empty()) out.push_back(env);
    const std::string dir = exe_dir();
    if (!dir.empty()) {
        out.push_back(dir + "/libllamadesk_cuda.so");
        out.push_back(dir + "/../lib/llamadesk/libllamadesk_cuda.so");
    }
    return out;
}

Plugin load() {
    Plugin p;
    std::string looked;
    for (const std::string& path : candidates()) {
        looked += (looked.empty() ? "" : ", ") + path;
        if (!std::filesystem::exists(path)) continue;
        // RTLD_LOCAL: its symbols stay private; it exports only the ld_cuda_* entry points.
        void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char* e = dlerror();
            p.error = "CUDA backend: cannot load " + path + ": " + (e ? e : "unknown error");
            return p;
        }
        auto abi = reinterpret_cast<ld_cuda_abi_fn>(dlsym(h, "ld_cuda_abi"));
        p.list_devices = reinterpret_cast<ld_cuda_list_devices_fn>(dlsym(h, "ld_cuda_list_devices"));
        p.create = reinterpret_cast<ld_cuda_create_backend_fn>(dlsym(h, "ld_cuda_create_backend"));
        // Only the test build has it (tests/cuda/CMakeLists.txt); the shipped plugin has no test code.
        p.ops_for_test = reinterpret_cast<ld_cuda_ops_for_test_fn>(dlsym(h, "ld_cuda_ops_for_test"));
        p.backend_memory = reinterpret_cast<ld_cuda_backend_memory_fn>(dlsym(h, "ld_cuda_backend_memory"));
        if (!abi || !p.list_devices || !p.create || !p.backend_memory) {
            p.error = "CUDA backend: " + path + " is not a LlamaDesk CUDA plugin (entry points missing)";
            dlclose(h);
            return p;
        }
        if (abi() != cuda::abi_tag()) {
            p.error = "CUDA backend: " + path + " was built from other sources than this program; rebuild both";
            dlclose(h);
            return p;
        }
        // Never unloaded: backends it created may live until exit.
        p.handle = h;
        p.path = path;
        return p;
    }
    p.error = "CUDA backend: plugin not found (looked in " + looked + "; set LLAMADESK_CUDA_PLUGIN)";
    return p;
}

// The shared library is process-wide by nature, so its loaded state is too; loaded once, on
// first use.
const Plugin& plugin() {
    static std::once_flag once;
    static Plugin p;
    std::call_once(once, [] { p = load(); });
    return p;
}

const Plugin& require_plugin() {
    const Plugin& p = plugin();
    if (!p.handle) throw Error(p.error);
    return p;
}

// Wraps the plugin's backend so that whatever it throws reaches callers as ld::Error (the
// exception's type information lives in the plugin), and so that tests can find the inner
// object for memory queries.
class PluginBackend final : public Backend {
public:
    explicit PluginBackend(Backend* inner) : inner_(inner) {}
    std::string name() const override { return inner_->name(); }
    int context_size() const override { return inner_->context_size(); }
    int vocab_size() const override { return inner_->vocab_size(); }
    int batch_size() const override { return inner_->batch_size(); }
    bool supports_sequences() const override { return inner_->supports_sequences(); }
    int kv_block_size() const override { return inner_->kv_block_size(); }
    int kv_blocks() const override { return inner_->kv_blocks(); }
    void copy_kv_block(int src, int dst) override { rethrow_as_error([&] { inner_->copy_kv_block(src, dst); }); }
    const Backend* inner() const { return inner_.get(); }

private:
    // forward() (the engine's, backend.cpp) checks and splits against the inner backend's sizes;
    // the plugin runs only the steps. It does not link backend.cpp.
    int max_step(bool all_logits) const override { return max_step_of(*inner_, all_logits); }
    void forward_batch(const BatchView& batch) override {
        rethrow_as_error([&] { forward_batch_of(*inner_, batch); });
    }
    template <typename F>
    static void rethrow_as_error(F&& f) {
        try {
            f();
        } catch (const Error&) {
            throw;
        } catch (const std::exception& e) {
            throw Error(e.what());
        }
    }

    std::unique_ptr<Backend> inner_;
};

}  // namespace

std::unique_ptr<Backend> create_cuda_backend(const Model& model, const BackendOptions& options) {
    const Plugin& p = require_plugin();
    std::string why;
    Backend* b = p.create(&model, &options, &why);
    if (!b) throw Error(why.empty() ? "CUDA backend: creation failed" : why);
    return std::make_unique<PluginBackend>(b);
}

bool cuda_gpu_available() {
    const Plugin& p = plugin();
    if (!p.handle) return false;
    std::vector<cuda::DeviceInfo> devices;
    std::string why;
    return p.list_devices(&devices, &why) > 0;
}

std::vector<cuda::DeviceInfo> list_cuda_devices(std::string* why) {
    std::vector<cuda::DeviceInfo> devices;
    const Plugin& p = plugin();
    if (!p.handle) {
        *why = p.error;
        return devices;
    }
    if (p.list_devices(&devices, why) <= 0) devices.clear();
    return devices;
}

cuda::MemoryInfo cuda_device_memory(const Backend& backend) {
    const auto* pb = dynamic_cast<const PluginBackend*>(&backend);
    if (!pb) fail("not a CUDA backend: ", backend.name());
    cuda::MemoryInfo m;
    if (require_plugin().backend_memory(pb->inner(), &m) != 0) fail("CUDA: cannot read the device memory");
    return m;
}

std::unique_ptr<cuda::OpsForTest> cuda_ops_for_test(const Tuning& tuning) {
    const Plugin& p = require_plugin();
    if (!p.ops_for_test)
        fail("CUDA: ", p.path, " has no test entry points (the tests load libllamadesk_cuda_test.so)");
    std::string why;
    cuda::OpsForTest* ops = p.ops_for_test(&tuning, &why);
    if (!ops) throw Error(why);
    return std::unique_ptr<cuda::OpsForTest>(ops);
}

std::string cuda_plugin_status() {
    const Plugin& p = plugin();
    return p.handle ? "loaded from " + p.path : p.error;
}

}  // namespace ld
