#pragma once
// The boundary between the engine and libllamadesk_cuda.so: plain C++ (no CUDA headers), so the
// engine and the tests can include it in builds without CUDA. The plugin exports the extern "C"
// functions below; the engine finds them with dlsym (inference/backend/cuda_plugin.cpp). Both
// sides are built by the same compiler from the same headers, so C++ objects may cross; every
// exception crossing it is an ld::Error.
#include <cstdint>
#include <string>
#include <vector>

#include "inference/backend/backend.h"
#include "inference/model/llama.h"
#include "inference/quant/types.h"

namespace ld::cuda {

// Bumped whenever anything declared here or a struct the plugin reads (Model, BackendOptions)
// changes shape; the engine refuses a plugin built against different headers. The sizes catch
// new fields; Backend's virtual functions have no size, so a change there needs the constant
// bumped by hand. 8: BackendOptions gained `tuning`, ld_cuda_ops_for_test takes it. 9: Backend's
// forward() is the engine's, the plugin implements max_step() and forward_batch(BatchView).
// 11: OpsForTest::attention_paged. 12: OpsForTest::fused_chain (and Tuning::cuda_fused_q8).
// 13: Tuning::cuda_mv_variant (the struct may keep its size through padding).
inline uint64_t abi_tag() {
    return 13u ^ (uint64_t(sizeof(Model)) << 8) ^ (uint64_t(sizeof(BackendOptions)) << 24) ^
           (uint64_t(sizeof(BatchView)) << 32) ^ (uint64_t(sizeof(LlamaParams)) << 40) ^
           (uint64_t(sizeof(Weight)) << 52);
}

struct DeviceInfo {
    int index = 0;
    std::string name;
    uint64_t total_bytes = 0, free_bytes = 0;
    int sm_count = 0;
    int cc_major = 0, cc_minor = 0;
};

struct MemoryInfo {
    uint64_t free_bytes = 0, total_bytes = 0;
};

// One kernel at a time on host data, for tests against the CPU reference. Shapes are in the
// same order as the forward pass uses them (row-major, tokens outermost).
class OpsForTest {
public:
    virtual ~OpsForTest() = default;
    virtual std::string device_name() = 0;
    virtual MemoryInfo memory() = 0;
    // y (B, rows) = x (B, ne0) . W^T, W raw GGUF rows of type t. B == 1 runs the decode matvec,
    // 2 <= B <= Tuning::cuda_small_batch (of the ops' tuning) the small-batch int8 kernel where the
    // type has it, other B the prompt path (dequantize + cuBLAS). accumulate: y += instead of y =.
    virtual std::vector<float> matmul(GgmlType t, int64_t ne0, int64_t rows, const void* w,
                                      const std::vector<float>& x, int B, bool accumulate,
                                      const std::vector<float>& y0) = 0;
    // Fused gate/up: silu(Wg x) * (Wu x) for x.size() / ne0 tokens (one: the decode matvec; a
    // small batch: matvec_batch.cu where the type has it, else two matmuls and the SwiGLU).
    virtual std::vector<float> matvec_swiglu(GgmlType t, int64_t ne0, int64_t rows, const void* wg,
                                             const void* wu, const std::vector<float>& x) = 0;
    // rows ids of W (n_rows rows of ne0) dequantized to f32 (the embedding lookup).
    virtual std::vector<float> get_rows(GgmlType t, int64_t ne0, int64_t n_rows, const void* w,
                                        const std::vector<int32_t>& ids) = 0;
    virtual std::vector<float> rmsnorm(const std::vector<float>& x, const std::vector<float>& w, int n,
                                       float eps) = 0;
    virtual std::vector<float> swiglu(const std::vector<float>& g, const std::vector<float>& u) = 0;
    // One row's RMSNorm with the int8 quantization of the decode path: returns the f32 output
    // (n), then d * q per element (n), then per group of 32 the stored {d, s0, s1} (3 * n / 32).
    virtual std::vector<float> rmsnorm_q8(const std::vector<float>& x, const std::vector<float>& w, int n,
                                          float eps) = 0;
    // One token's q/k/v matvec with RoPE and the KV store in its epilogue (int8 activations):
    // wq (n_heads*hd rows), wk and wv (n_kv*hd rows) raw rows of type t and width ne0, x (ne0)
    // at position pos. Returns q rotated, then the k cache row at pos, then the v row (as f32).
    virtual std::vector<float> qkv_rope(GgmlType t, int64_t ne0, const void* wq, const void* wk, const void* wv,
                                        const std::vector<float>& x, int n_heads, int n_kv, int head_dim,
                                        int rope_dim, const std::vector<float>& inv_freq, int pos) = 0;
    // RoPE of q (B, n_heads*head_dim) and k (B, n_kv*head_dim) at positions pos.., k and v
    // stored to an f16 cache; returns q rotated, then the cache rows of k, then v (as f32).
    virtual std::vector<float> rope_store(const std::vector<float>& q, const std::vector<float>& k,
                                          const std::vector<float>& v, int B, int n_heads, int n_kv,
                                          int head_dim, int rope_dim, const std::vector<float>& inv_freq,
                                          int pos) = 0;
    // Causal attention of q (B, n_heads*hd) at positions pos.. over an f16 cache holding
    // pos + B rows of n_kv*hd keys and values (fp16 bits). Returns (B, n_heads*hd).
    virtual std::vector<float> attention(const std::vector<float>& q, const std::vector<uint16_t>& k_cache,
                                         const std::vector<uint16_t>& v_cache, int B, int n_heads, int n_kv,
                                         int head_dim, int pos, int n_ctx) = 0;
    // A paged decode step's attention (attention_paged.cu) over f16 caches of 64-position blocks:
    // q (n, n_heads*hd) for n rows, of which those listed in rows are computed (the others stay
    // 0): row t at position positions[t] sees positions 0 .. positions[t], position p in cache
    // row tables[table_off[t] + p / 64] * 64 + p % 64. chunk: split-K into chunks of that many
    // positions (a multiple of 64; 0 = no split). Returns (n, n_heads*hd).
    virtual std::vector<float> attention_paged(const std::vector<float>& q, const std::vector<uint16_t>& k_cache,
                                               const std::vector<uint16_t>& v_cache,
                                               const std::vector<int32_t>& positions,
                                               const std::vector<int32_t>& table_off,
                                               const std::vector<int32_t>& tables, const std::vector<int32_t>& rows,
                                               int n_heads, int n_kv, int head_dim, int chunk) = 0;
    // The decode step's fused int8 epilogues (Tuning::cuda_fused_q8, kernels.h MvFuse) on one
    // token, chained as the forward pass chains them, every matrix raw rows of type t:
    //   x1 = x0 + Wo . q8(att)             wo (dim, dim); its epilogue quantizes x1 * w1 (a folded RMSNorm)
    //   g = silu(Wg . n1) * (Wu . n1)      n1 = rmsnorm(x1) * w1; wg, wu (ffn, dim); the epilogue quantizes g
    //   x2 = x1 + Wd . g                   wd (dim, ffn); the epilogue quantizes x2 * w2
    //   y = Wout . n2                      n2 = rmsnorm(x2) * w2; wout (n_out, dim)
    // Returns x1, g, x2 and y, one after the other.
    virtual std::vector<float> fused_chain(GgmlType t, int64_t dim, int64_t ffn, int64_t n_out, const void* wo,
                                           const void* wg, const void* wu, const void* wd, const void* wout,
                                           const std::vector<float>& x0, const std::vector<float>& att,
                                           const std::vector<float>& w1, const std::vector<float>& w2, float eps) = 0;
};

}  // namespace ld::cuda

// What libllamadesk_cuda.so exports. `why` receives the reason on failure (return value null
// or negative); none of them throws. ld_cuda_ops_for_test is exported only by the test build of
// the plugin (libllamadesk_cuda_test.so, tests/cuda/cuda_test_ops.cpp), never the shipped one.
extern "C" {
using ld_cuda_abi_fn = uint64_t (*)();
using ld_cuda_list_devices_fn = int (*)(std::vector<ld::cuda::DeviceInfo>* out, std::string* why);
using ld_cuda_create_backend_fn = ld::Backend* (*)(const ld::Model* model, const ld::BackendOptions* options,
                                                   std::string* why);
using ld_cuda_ops_for_test_fn = ld::cuda::OpsForTest* (*)(const ld::Tuning* tuning, std::string* why);
using ld_cuda_backend_memory_fn = int (*)(const ld::Backend* backend, ld::cuda::MemoryInfo* out);
}
