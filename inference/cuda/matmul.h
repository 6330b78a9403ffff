#pragma once
// Weight matrices times activations: the decode matvec kernels for one token, the small-batch
// int8 kernel (matvec_batch.cu) for 2 .. batch_q8 tokens where the weight type has one, cuBLAS
// for prompts. F32 weights go through cublasSgemm as they are; F16 weights through
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
    // decode matvec (Tuning::cuda_mv_split; 0 = from the shape). batch_q8: steps of 2 up to this
    // many tokens (at most kMaxBatchQ8) multiply weights with has_q8_dot on int8 activations,
    // quantized here (Tuning::cuda_small_batch; 0 or 1 = cuBLAS for every step of 2 or more).
    // mv_variant: MvArgs::variant of every one-token matvec (Tuning::cuda_mv_variant).
    Matmul(cudaStream_t stream, int64_t max_ne0, int max_B, int64_t max_rows, int64_t tile_elems = 0,
           int mv_split = 0, int batch_q8 = 0, int mv_variant = 0);
    ~Matmul();
    Matmul(const Matmul&) = delete;
    Matmul& operator=(const Matmul&) = delete;

    // Device bytes this object allocates for the given sizes (for the memory check).
    static size_t scratch_bytes(int64_t max_ne0, int max_B, int64_t max_rows, int batch_q8 = 0);

    // y (B, w.ne1) = x (B, w.ne0) . W^T, or += with accumulate. xq: x quantized (B == 1),
    // used by weight types with has_q8_dot; null = every type reads f32 x. Small batches (see
    // batch_q8) ignore xq: x is quantized here. fuse (B == 1 with xq only; kernels.h MvFuse): the
    // decode step's int8 epilogues (Tuning::cuda_fused_q8).
    void run(const DevWeight& w, const float* x, int B, float* y, bool accumulate, const Q8Act* xq = nullptr,
             const MvFuse* fuse = nullptr);
    // Several matrices on the same input (q, k, v): one matvec launch when B == 1 or a small
    // batch and they share a type and width (a small batch's x is quantized once).
    void run_shared_input(const DevWeight* const* ws, float* const* ys, int n, const float* x, int B,
                          const Q8Act* xq = nullptr);
    // One token's q, k, v (ws[0..2], int8 activations) with RoPE and the KV-cache store in the
    // epilogue (MvMode::QkvRope): q to ys[0], k and v into rope's caches; one launch when the
    // three share a type, else one per type. Returns false, doing nothing, where that does not
    // apply (a type without int8 activations).
    // fuse: as in run (an input from a folded RMSNorm: in_ss only).
    bool qkv_rope(const DevWeight* const* ws, float* const* ys, const float* x, const Q8Act* xq, MvRope rope,
                  const MvFuse* fuse = nullptr);
    // g = silu(x . Wg^T) * (x . Wu^T); u is scratch of (B, rows) for the prompt path. fuse: as in
    // run; only where one launch does gate and up (B == 1, same type and shape: gate_up_fusable).
    void gate_up(const DevWeight& wg, const DevWeight& wu, const float* x, int B, float* g, float* u,
                 const Q8Act* xq = nullptr, const MvFuse* fuse = nullptr);
    // Whether one token's gate/up is one int8 launch (so that it can take MvFuse).
    static bool gate_up_fusable(const DevWeight& wg, const DevWeight& wu);

    // Whether B tokens times w take the small-batch int8 kernel.
    bool small_batch(const DevWeight& w, int B) const;

private:
    void gemm(const DevWeight& w, const float* x, int B, float* y, bool accumulate);
    // x (B, ne0) quantized into xq_ (for the small-batch kernel).
    Q8Act quantize(const float* x, int B, int64_t ne0);
    // The small-batch kernel on B int8 rows: n jobs of one type and width.
    void launch_batch(const DevWeight* const* ws, float* const* ys, int n, MvMode mode, const Q8Act& xq, int B);

    cudaStream_t stream_;
    cublasHandle_t handle_ = nullptr;
    int64_t max_ne0_;
    int max_B_;
    DeviceBuffer x_hi_, x_lo_;  // (max_B, max_ne0) f16
    DeviceBuffer w_tile_;       // dequantized rows, f16
    int64_t tile_elems_ = 0;
    int mv_split_ = 0;
    int batch_q8_ = 0;
    int mv_variant_ = 0;
    DeviceBuffer xq_, xds_;     // (batch_q8, max_ne0) int8 and (batch_q8, max_ne0 / 32) float4
};

}  // namespace ld::cuda
