#pragma once
// Weight matrices times activations: the decode matvec kernels for one token, cuBLAS for
// prompts. F32 weights go through cublasSgemm as they are; F16 weights through
// cublasGemmEx with the activations split in two f16 halves (hi + lo, ~22 bits, so f16 models
// match the CPU reference closely); quantized weights are dequantized to f16 in tiles of rows
// and multiplied with f16 activations on the tensor cores.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "inference/cuda/device_buffer.h"
#include "inference/cuda/kernels.h"

namespace ld::cuda {

// A weight on the device: ne1 rows of ne0 elements, in its GGUF layout or the regrouped one
// that device_type() names (kernels.h).
struct DevWeight {
    GgmlType type = GgmlType::F32;  // device type
    int64_t ne0 = 0, ne1 = 1;
    size_t row_bytes = 0;
    const uint8_t* data = nullptr;
};

class Matmul {
public:
    // max_ne0: widest input; max_B: most tokens per call; max_rows: most rows of any matrix.
    // tile_elems: f16 elements of the dequantized tile (0 = up to 128 MiB; tests pass small
    // tiles so that several tiles per matrix are exercised). mv_split: MvArgs::split of every
    // decode matvec (Tuning::cuda_mv_split; 0 = from the shape).
    Matmul(cudaStream_t stream, int64_t max_ne0, int max_B, int64_t max_rows, int64_t tile_elems = 0,
           int mv_split = 0);
    ~Matmul();
    Matmul(const Matmul&) = delete;
    Matmul& operator=(const Matmul&) = delete;

    // Device bytes this object allocates for the given sizes (for the memory check).
    static size_t scratch_bytes(int64_t max_ne0, int max_B, int64_t max_rows);

    // y (B, w.ne1) = x (B, w.ne0) . W^T, or += with accumulate. xq: x quantized (B == 1),
    // used by weight types with has_q8_dot; null = every type reads f32 x.
    void run(const DevWeight& w, const float* x, int B, float* y, bool accumulate, const Q8Act* xq = nullptr);
    // Several matrices on the same input (q, k, v): one matvec launch when B == 1 and they share
    // a type and width.
    void run_shared_input(const DevWeight* const* ws, float* const* ys, int n, const float* x, int B,
                          const Q8Act* xq = nullptr);
    // One token's q, k, v (ws[0..2], int8 activations) with RoPE and the KV-cache store in the
    // epilogue (MvMode::QkvRope): q to ys[0], k and v into rope's caches; one launch when the
    // three share a type, else one per type. Returns false, doing nothing, where that does not
    // apply (a type without int8 activations).
    bool qkv_rope(const DevWeight* const* ws, float* const* ys, const float* x, const Q8Act* xq, MvRope rope);
    // g = silu(x . Wg^T) * (x . Wu^T); u is scratch of (B, rows) for the prompt path.
    void gate_up(const DevWeight& wg, const DevWeight& wu, const float* x, int B, float* g, float* u,
                 const Q8Act* xq = nullptr);

private:
    void gemm(const DevWeight& w, const float* x, int B, float* y, bool accumulate);

    cudaStream_t stream_;
    cublasHandle_t handle_ = nullptr;
    int64_t max_ne0_;
    int max_B_;
    DeviceBuffer x_hi_, x_lo_;  // (max_B, max_ne0) f16
    DeviceBuffer w_tile_;       // dequantized rows, f16
    int64_t tile_elems_ = 0;
    int mv_split_ = 0;
};

}  // namespace ld::cuda
