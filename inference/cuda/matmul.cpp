#include "inference/cuda/matmul.h"

#include <algorithm>

namespace ld::cuda {

namespace {

constexpr int64_t kTileElems = int64_t(64) << 20;  // 128 MiB of f16 rows at most

int64_t tile_elems_for(int64_t max_ne0, int64_t max_rows) {
    return std::max<int64_t>(max_ne0 * 8, std::min(kTileElems, max_ne0 * max_rows));
}

// Columns of the small-batch kernel: 0 (off) or 2 .. kMaxBatchQ8, no more than a step holds.
int batch_columns(int batch_q8, int max_B) {
    const int n = std::min({batch_q8, max_B, kMaxBatchQ8});
    return n >= 2 ? n : 0;
}

}  // namespace

size_t Matmul::scratch_bytes(int64_t max_ne0, int max_B, int64_t max_rows, int batch_q8) {
    const size_t cols = size_t(batch_columns(batch_q8, max_B));
    return 2 * 2 * size_t(max_B) * size_t(max_ne0) + 2 * size_t(tile_elems_for(max_ne0, max_rows)) +
           cols * (size_t(max_ne0) + 16 * size_t(max_ne0 / 32 + 1)) +
           (size_t(32) << 20);  // cuBLAS workspace and handles, roughly
}

Matmul::Matmul(cudaStream_t stream, int64_t max_ne0, int max_B, int64_t max_rows, int64_t tile_elems, int mv_split,
               int batch_q8, int mv_variant)
    : stream_(stream), max_ne0_(max_ne0), max_B_(max_B), mv_split_(mv_split), batch_q8_(batch_columns(batch_q8, max_B)),
      mv_variant_(mv_variant) {
    if (batch_q8_ > 0) {
        xq_ = DeviceBuffer(size_t(batch_q8_) * size_t(max_ne0), "int8 activations (small batch)");
        xds_ = DeviceBuffer(16 * size_t(batch_q8_) * size_t(max_ne0 / 32 + 1), "int8 activation scales (small batch)");
    }
    if (max_B > 1) {
        x_hi_ = DeviceBuffer(2 * size_t(max_B) * size_t(max_ne0), "f16 activations");
        x_lo_ = DeviceBuffer(2 * size_t(max_B) * size_t(max_ne0), "f16 activations");
        tile_elems_ = tile_elems > 0 ? std::max<int64_t>(tile_elems, max_ne0) : tile_elems_for(max_ne0, max_rows);
        w_tile_ = DeviceBuffer(2 * size_t(tile_elems_), "dequantized weight tile");
        LD_CUBLAS(cublasCreate(&handle_));
        LD_CUBLAS(cublasSetStream(handle_, stream_));
    }
}

Matmul::~Matmul() {
    if (handle_) cublasDestroy(handle_);
}

void Matmul::run(const DevWeight& w, const float* x, int B, float* y, bool accumulate, const Q8Act* xq,
                 const MvFuse* fuse) {
    if (fuse && B != 1) fail("CUDA matmul: fused int8 epilogues are for one token, not ", B);
    if (B == 1) {
        MvArgs a;
        a.split = mv_split_;
        a.variant = mv_variant_;
        if (xq && has_q8_dot(w.type)) a.xq = *xq;
        if (fuse) a.fuse = *fuse;  // launch_matvec refuses it without int8 activations
        a.job[0] = {w.data, y, int(w.ne1)};
        a.n_jobs = 1;
        a.ne0 = int(w.ne0);
        a.row_bytes = w.row_bytes;
        a.x = x;
        launch_matvec(w.type, accumulate ? MvMode::Accumulate : MvMode::Store, a, stream_);
        return;
    }
    if (small_batch(w, B)) {
        const DevWeight* ws[] = {&w};
        float* ys[] = {y};
        launch_batch(ws, ys, 1, accumulate ? MvMode::Accumulate : MvMode::Store, quantize(x, B, w.ne0), B);
        return;
    }
    gemm(w, x, B, y, accumulate);
}

bool Matmul::small_batch(const DevWeight& w, int B) const {
    // has_q8_dot covers whole blocks: Q4_K / Q5_K rows are multiples of 256, the regrouped types
    // of 8 blocks.
    return B >= 2 && B <= batch_q8_ && has_q8_dot(w.type) && w.ne0 % 32 == 0 && w.ne0 <= max_ne0_;
}

Q8Act Matmul::quantize(const float* x, int B, int64_t ne0) {
    const Q8Act q{xq_.as<int8_t>(), xds_.as<float4>()};
    launch_quantize_q8(x, int(B * ne0), q, stream_);  // groups of 32 never straddle two rows
    return q;
}

void Matmul::launch_batch(const DevWeight* const* ws, float* const* ys, int n, MvMode mode, const Q8Act& xq, int B) {
    MvArgs a;
    a.split = mv_split_;
    a.xq = xq;
    for (int i = 0; i < n; ++i) a.job[i] = {ws[i]->data, ys[i], int(ws[i]->ne1)};
    a.n_jobs = n;
    a.ne0 = int(ws[0]->ne0);
    a.row_bytes = ws[0]->row_bytes;
    launch_matvec_batch(ws[0]->type, mode, a, B, stream_);
}

void Matmul::run_shared_input(const DevWeight* const* ws, float* const* ys, int n, const float* x, int B,
                              const Q8Act* xq) {
    bool same = n <= 3;
    for (int i = 1; i < n && same; ++i)
        same = ws[i]->type == ws[0]->type && ws[i]->ne0 == ws[0]->ne0 && ws[i]->row_bytes == ws[0]->row_bytes;
    if (B > 1) {
        // Small batch: x quantized once for every matrix that takes the int8 kernel.
        bool any = false;
        for (int i = 0; i < n; ++i) any = any || small_batch(*ws[i], B);
        if (!any) {
            for (int i = 0; i < n; ++i) gemm(*ws[i], x, B, ys[i], false);
            return;
        }
        const Q8Act q = quantize(x, B, ws[0]->ne0);
        if (same && small_batch(*ws[0], B)) {
            launch_batch(ws, ys, n, MvMode::Store, q, B);
            return;
        }
        for (int i = 0; i < n; ++i) {
            if (small_batch(*ws[i], B)) launch_batch(ws + i, ys + i, 1, MvMode::Store, q, B);
            else gemm(*ws[i], x, B, ys[i], false);
        }
        return;
    }
    if (!same) {
        for (int i = 0; i < n; ++i) run(*ws[i], x, B, ys[i], false, xq);
        return;
    }
    MvArgs a;
    a.split = mv_split_;
    a.variant = mv_variant_;
    if (xq && has_q8_dot(ws[0]->type)) a.xq = *xq;
    for (int i = 0; i < n; ++i) a.job[i] = {ws[i]->data, ys[i], int(ws[i]->ne1)};
    a.n_jobs = n;
    a.ne0 = int(ws[0]->ne0);
    a.row_bytes = ws[0]->row_bytes;
    a.x = x;
    launch_matvec(ws[0]->type, MvMode::Store, a, stream_);
}

bool Matmul::qkv_rope(const DevWeight* const* ws, float* const* ys, const float* x, const Q8Act* xq, MvRope rope,
                      const MvFuse* fuse) {
    if (!xq || rope.hd <= 0 || rope.hd % 2 != 0) return false;
    for (int i = 0; i < 3; ++i)
        if (!has_q8_dot(ws[i]->type) || ws[i]->ne1 % rope.hd != 0 || ws[i]->ne0 != ws[0]->ne0) return false;
    rope.kv_rows = int(ws[1]->ne1);
    // Jobs grouped by type, in order: q/k/v of Q4_K_M's layers with a Q6_K v take two launches.
    bool done[3] = {false, false, false};
    for (int i = 0; i < 3; ++i) {
        if (done[i]) continue;
        MvArgs a;
        a.split = mv_split_;
        a.variant = mv_variant_;
        MvRope r = rope;
        a.n_jobs = 0;
        for (int j = i; j < 3; ++j)
            if (!done[j] && ws[j]->type == ws[i]->type && ws[j]->row_bytes == ws[i]->row_bytes) {
                a.job[a.n_jobs] = {ws[j]->data, ys[j], int(ws[j]->ne1)};
                r.role[a.n_jobs] = j;
                ++a.n_jobs;
                done[j] = true;
            }
        a.ne0 = int(ws[i]->ne0);
        a.row_bytes = ws[i]->row_bytes;
        a.x = x;
        a.xq = *xq;
        a.rope = r;
        if (fuse) a.fuse = *fuse;
        launch_matvec(ws[i]->type, MvMode::QkvRope, a, stream_);
    }
    return true;
}

bool Matmul::gate_up_fusable(const DevWeight& wg, const DevWeight& wu) {
    return wg.type == wu.type && wg.ne0 == wu.ne0 && wg.ne1 == wu.ne1 && has_q8_dot(wg.type);
}

void Matmul::gate_up(const DevWeight& wg, const DevWeight& wu, const float* x, int B, float* g, float* u,
                     const Q8Act* xq, const MvFuse* fuse) {
    if (fuse && (B != 1 || !gate_up_fusable(wg, wu)))
        fail("CUDA matmul: a fused int8 epilogue needs one token's gate/up in one int8 launch");
    if (B == 1 && wg.type == wu.type && wg.ne0 == wu.ne0 && wg.ne1 == wu.ne1) {
        MvArgs a;
        a.split = mv_split_;
        a.variant = mv_variant_;
        if (xq && has_q8_dot(wg.type)) a.xq = *xq;
        if (fuse) a.fuse = *fuse;
        a.job[0] = {wg.data, g, int(wg.ne1)};
        a.job[1] = {wu.data, nullptr, int(wu.ne1)};
        a.n_jobs = 2;
        a.ne0 = int(wg.ne0);
        a.row_bytes = wg.row_bytes;
        a.x = x;
        launch_matvec(wg.type, MvMode::SwiGlu, a, stream_);
        return;
    }
    if (B > 1 && wg.type == wu.type && wg.ne0 == wu.ne0 && wg.ne1 == wu.ne1 && wg.row_bytes == wu.row_bytes &&
        small_batch(wg, B)) {
        const DevWeight* ws[] = {&wg, &wu};
        float* ys[] = {g, nullptr};
        launch_batch(ws, ys, 2, MvMode::SwiGlu, quantize(x, B, wg.ne0), B);
        return;
    }
    run(wg, x, B, g, false, xq);
    run(wu, x, B, u, false, xq);
    launch_swiglu(g, u, size_t(B) * size_t(wg.ne1), stream_);
}

// Row-major y (B, rows) is column-major (rows, B): y = W^T-in-column-major times x, so
// cuBLAS sees op(A) = A^T with A = W as a column-major (ne0, rows) matrix.
void Matmul::gemm(const DevWeight& w, const float* x, int B, float* y, bool accumulate) {
    if (!handle_ || B > max_B_ || w.ne0 > max_ne0_)
        fail("CUDA matmul: ", B, " tokens of width ", w.ne0, " exceed the buffers (", max_B_, " x ", max_ne0_, ")");
    const int m = int(w.ne1), k = int(w.ne0);
    const float one = 1.0f, zero = 0.0f;
    const float* beta = accumulate ? &one : &zero;
    if (w.type == GgmlType::F32) {
        LD_CUBLAS(cublasSgemm(handle_, CUBLAS_OP_T, CUBLAS_OP_N, m, B, k, &one, reinterpret_cast<const float*>(w.data),
                              k, x, k, beta, y, m));
        return;
    }
    uint16_t* hi = x_hi_.as<uint16_t>();
    uint16_t* lo = x_lo_.as<uint16_t>();
    if (w.type == GgmlType::F16) {
        launch_split_f16(x, size_t(B) * size_t(k), hi, lo, stream_);
        LD_CUBLAS(cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, m, B, k, &one, w.data, CUDA_R_16F, k, hi, CUDA_R_16F,
                               k, beta, y, CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        LD_CUBLAS(cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, m, B, k, &one, w.data, CUDA_R_16F, k, lo, CUDA_R_16F,
                               k, &one, y, CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        return;
    }
    launch_split_f16(x, size_t(B) * size_t(k), hi, nullptr, stream_);
    // Tiles of whole rows, a multiple of 64 rows so each tile's output column stays aligned.
    int64_t tile_rows = std::min<int64_t>({int64_t(m), tile_elems_ / k, 65535});
    if (tile_rows > 64) tile_rows -= tile_rows % 64;
    for (int64_t r0 = 0; r0 < m; r0 += tile_rows) {
        const int n = int(std::min<int64_t>(tile_rows, m - r0));
        launch_dequant(w.type, w.data, w.row_bytes, k, nullptr, r0, n, w_tile_.as(), true, stream_);
        LD_CUBLAS(cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, n, B, k, &one, w_tile_.as(), CUDA_R_16F, k, hi,
                               CUDA_R_16F, k, beta, y + r0, CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    }
}

}  // namespace ld::cuda
