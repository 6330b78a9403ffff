// Decode matrix-vector products (one token): the step that bounds decode speed, since every
// weight byte is read once per token. Each warp computes ROWS rows; lane l reads elements
// l*8 + 256k of each row, so a warp's loads of one row are contiguous, and the loop is unrolled
// twice so each lane has 2*ROWS independent weight loads in flight. The activation (f32) is read
// through L1 once per ROWS rows. Sums are reduced with warp shuffles.
#include <cstdlib>

#include "inference/cuda/cuda_check.h"
#include "inference/cuda/kernels.h"
#include "inference/cuda/launch.cuh"
#include "inference/cuda/dot_q8.cuh"
#include "inference/cuda/matvec_common.cuh"
#include "inference/cuda/quant_dev.cuh"

namespace ld::cuda {

namespace {

__device__ __forceinline__ void load_x8(const float* __restrict__ x, int i, float* xv) {
    const float4 a = __ldg(reinterpret_cast<const float4*>(x + i));
    const float4 b = __ldg(reinterpret_cast<const float4*>(x + i + 4));
    xv[0] = a.x; xv[1] = a.y; xv[2] = a.z; xv[3] = a.w;
    xv[4] = b.x; xv[5] = b.y; xv[6] = b.z; xv[7] = b.w;
}

// acc[r] += row r . x over this lane's elements; rows[r] null = no row.
template <GgmlType T, int N>
__device__ __forceinline__ void dot_rows(const uint8_t* const* rows, const float* __restrict__ x, int ne0,
                                         int lane, float* acc) {
    int i = lane * 8;
    for (; i + 256 < ne0; i += 512) {
        float w0[N][8], w1[N][8], x0[8], x1[8];
#pragma unroll
        for (int r = 0; r < N; ++r)
            if (rows[r]) {
                deq8<T>(rows[r], i, w0[r]);
                deq8<T>(rows[r], i + 256, w1[r]);
            }
        load_x8(x, i, x0);
        load_x8(x, i + 256, x1);
#pragma unroll
        for (int r = 0; r < N; ++r)
            if (rows[r]) {
#pragma unroll
                for (int k = 0; k < 8; ++k) acc[r] = fmaf(w0[r][k], x0[k], acc[r]);
#pragma unroll
                for (int k = 0; k < 8; ++k) acc[r] = fmaf(w1[r][k], x1[k], acc[r]);
            }
    }
    if (i < ne0) {
        float w0[N][8], x0[8];
#pragma unroll
        for (int r = 0; r < N; ++r)
            if (rows[r]) deq8<T>(rows[r], i, w0[r]);
        load_x8(x, i, x0);
#pragma unroll
        for (int r = 0; r < N; ++r)
            if (rows[r]) {
#pragma unroll
                for (int k = 0; k < 8; ++k) acc[r] = fmaf(w0[r][k], x0[k], acc[r]);
            }
    }
}

// Lane 0 writes the warp's results: silu(g) * u for SwiGlu (sums: kRows gate, kRows up), else
// y = s or y += s (Accumulate).
template <int MODE, int R = kRows>
__device__ __forceinline__ void store_rows(const MvArgs& a, int first, const uint8_t* const* rows, float* const* outs,
                                           const float* sums, int lane) {
    if (lane != 0) return;
#pragma unroll
    for (int r = 0; r < R; ++r) {
        if constexpr (MODE == int(MvMode::SwiGlu)) {
            const float g = sums[r], u = sums[R + r];
            if (rows[r]) a.job[0].y[first + r] = g / (1.0f + expf(-g)) * u;
        } else if (outs[r]) {
            if constexpr (MODE == int(MvMode::Accumulate)) *outs[r] += sums[r];
            else *outs[r] = sums[r];
        }
    }
}

// Kernels take the type as its number: nvcc's host stubs cannot name the device-only types
// (kernels.h), which are not enumerators.
template <uint32_t TI, int MODE>
__global__ void __launch_bounds__(kWarps * 32) matvec_kernel(MvArgs a) {
    constexpr GgmlType T = GgmlType(TI);
    constexpr int N = MODE == int(MvMode::SwiGlu) ? 2 * kRows : kRows;
    pdl_wait();
    const int lane = threadIdx.x & 31;
    const int first = (blockIdx.x * kWarps + int(threadIdx.x >> 5)) * kRows;
    const uint8_t* rows[N];
    float* outs[kRows] = {};
    int lds[kRows];  // unused: one column
    if constexpr (MODE == int(MvMode::SwiGlu)) gate_up_rows(a, first, rows);
    else job_rows(a, first, rows, outs, lds);
    float acc[N];
#pragma unroll
    for (int r = 0; r < N; ++r) acc[r] = 0.0f;
    dot_rows<T, N>(rows, a.x, a.ne0, lane, acc);
#pragma unroll
    for (int r = 0; r < N; ++r) acc[r] = warp_sum(acc[r]);
    store_rows<MODE>(a, first, rows, outs, acc, lane);
}

// The same kernel on int8 activations (dot_q8.cuh): a lane takes chunks of 32 elements, the
// warp's chunks are contiguous, and two chunks per row are in flight per lane. LEAN: Q6_K's
// leaner loads (kMvQ6Lean; the same values, so the same sums).
template <GgmlType T, bool LEAN>
__device__ __forceinline__ float dot_chunk_v(const uint8_t* __restrict__ row, int c, const XQ& x) {
    if constexpr (LEAN && T == kQ6_KR) return dot_wx<T>(load_w_q6_lean(row, c), load_x_q6_lean(c, x), c);
    else return dot_chunk<T>(row, c, x);
}
template <GgmlType T, int ROWS, bool LEAN = false>
__device__ __forceinline__ void dot_rows_q8(const uint8_t* const* rows, const XQ& x, int n_chunks, int c, int step,
                                            float* acc) {
    for (; c + step < n_chunks; c += 2 * step) {
#pragma unroll
        for (int r = 0; r < ROWS; ++r)
            if (rows[r]) acc[r] += dot_chunk_v<T, LEAN>(rows[r], c, x) + dot_chunk_v<T, LEAN>(rows[r], c + step, x);
    }
    if (c < n_chunks) {
#pragma unroll
        for (int r = 0; r < ROWS; ++r)
            if (rows[r]) acc[r] += dot_chunk_v<T, LEAN>(rows[r], c, x);
    }
}

// Split-K: SPLIT warps share a group of rows, each taking every SPLIT-th 32-chunk stride; the
// first warp of the group adds up the others' warp sums (v, N values per warp). Returns whether
// this warp holds the result. Matrices of 4096 rows give only ~16 warps per SM otherwise
// (ncu on the H200: 22% achieved occupancy, 1.1 TB/s for wo).
template <int SPLIT, int N>
__device__ __forceinline__ bool combine_split(float* v, int warp, int lane) {
    if constexpr (SPLIT == 1) {
        return true;
    } else {
        __shared__ float red[kWarps][N];
        if (lane == 0)
#pragma unroll
            for (int r = 0; r < N; ++r) red[warp][r] = v[r];
        __syncthreads();
        if (warp % SPLIT != 0) return false;
#pragma unroll
        for (int k = 1; k < SPLIT; ++k)
#pragma unroll
            for (int r = 0; r < N; ++r) v[r] += red[warp + k][r];
        return true;
    }
}

// QkvRope's epilogue for rows (row, row + 1) of the q/k/v jobs: the RoPE + KV store of
// elementwise.cu's rope_store_kernel, without its launch.
__device__ __forceinline__ void rope_pair(const MvArgs& a, int row, float x0, float x1) {
    // The job by constant indices, as in job_rows: a runtime index into the kernel parameters
    // would copy them to local memory.
    int role = -1;
    float* y = nullptr;
#pragma unroll
    for (int j = 0; j < 3; ++j)
        if (role < 0 && j < a.n_jobs) {
            if (row < a.job[j].rows) {
                role = a.rope.role[j];
                y = a.job[j].y;
            } else {
                row -= a.job[j].rows;
            }
        }
    if (role < 0) return;
    const int pos = a.rope.d_pos[0];
    const int i = (row % a.rope.hd) >> 1;
    if (role < 2 && 2 * i < a.rope.rope_dim) {
        float sn, cs;
        sincosf(float(pos) * a.rope.inv_freq[i], &sn, &cs);
        const float r0 = x0 * cs - x1 * sn, r1 = x0 * sn + x1 * cs;
        x0 = r0;
        x1 = r1;
    }
    if (role == 0) {
        y[row] = x0;
        y[row + 1] = x1;
    } else {
        __half* cache = reinterpret_cast<__half*>(role == 1 ? a.rope.k_cache : a.rope.v_cache) + size_t(pos) * a.rope.kv_rows;
        cache[row] = __float2half_rn(x0);
        cache[row + 1] = __float2half_rn(x1);
    }
}

// MvFuse::out_q: a block's rows (first .. first + per_block, per_block 2, 4 or 8: a divisor of
// 32) lie in one group of 32; the block that finishes its group last reads the group back from
// L2 and quantizes it. The CUDA programming guide's "last block" pattern (threadFenceReduction):
// the outputs are fenced before the block counts itself, so the last one sees them all.
__device__ __forceinline__ void quantize_epilogue(const MvArgs& a, int first, int per_block) {
    __threadfence();
    __syncthreads();
    __shared__ int last;
    const int group = first >> 5;
    if (threadIdx.x == 0) {
        last = atomicAdd(a.fuse.group_count + group, 1) == 32 / per_block - 1;
        __threadfence();
    }
    __syncthreads();
    if (!last || threadIdx.x >= 32) return;
    const int lane = threadIdx.x;
    if (lane == 0) a.fuse.group_count[group] = 0;  // ready for the next launch
    const int i = 32 * group + lane;
    float v = __ldcg(a.job[0].y + i);  // other blocks' rows: from L2, never a stale L1 line
    if (a.fuse.out_norm) {
        double sq = double(v) * double(v);  // in double like the CPU's RMSNorm
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) sq += __shfl_xor_sync(0xffffffffu, sq, o);
        if (lane == 0) atomicAdd(a.fuse.out_ss, sq);
        v *= __ldg(a.fuse.out_norm + i);
    }
    quantize_group(v, a.fuse.out_q.q + 32 * group, a.fuse.out_q.ds + group, lane);
}

// R: rows per warp (kRows; 4 for kMvGateUp4's gate/up). LEAN: kMvQ6Lean's loads. The body of
// matvec_q8_kernel (below), which differs only by its launch bounds.
template <uint32_t TI, int MODE, int SPLIT, bool FUSE, int R, bool LEAN>
__device__ __forceinline__ void matvec_q8(const MvArgs& a) {
    constexpr GgmlType T = GgmlType(TI);
    constexpr int N = MODE == int(MvMode::SwiGlu) ? 2 * R : R;
    pdl_wait();
    const int lane = threadIdx.x & 31, warp = int(threadIdx.x >> 5);
    const int first = (blockIdx.x * (kWarps / SPLIT) + warp / SPLIT) * R;
    const uint8_t* rows[N];
    float* outs[R] = {};
    int lds[R];  // unused: one column
    if constexpr (MODE == int(MvMode::SwiGlu)) gate_up_rows<R>(a, first, rows);
    else job_rows<R>(a, first, rows, outs, lds);
    float acc[N];
#pragma unroll
    for (int r = 0; r < N; ++r) acc[r] = 0.0f;
    dot_rows_q8<T, N, LEAN>(rows, XQ{a.xq.q, a.xq.ds}, a.ne0 >> 5, lane + 32 * (warp % SPLIT), 32 * SPLIT, acc);
#pragma unroll
    for (int r = 0; r < N; ++r) acc[r] = warp_sum(acc[r]);
    if constexpr (FUSE) {
        // As below, but every warp stays for the block's barriers in quantize_epilogue.
        if (combine_split<SPLIT, N>(acc, warp, lane)) {
            if (a.fuse.in_ss) {
                const float scale = float(1.0 / sqrt(*a.fuse.in_ss / a.ne0 + double(a.fuse.in_eps)));
#pragma unroll
                for (int r = 0; r < N; ++r) acc[r] *= scale;
            }
            if constexpr (MODE == int(MvMode::QkvRope)) {
                if (lane == 0)
#pragma unroll
                    for (int r = 0; r < R; r += 2) rope_pair(a, first + r, acc[r], acc[r + 1]);
            } else {
                store_rows<MODE, R>(a, first, rows, outs, acc, lane);
            }
        }
        if constexpr (MODE == int(MvMode::SwiGlu) || MODE == int(MvMode::Accumulate))
            if (a.fuse.out_q.q) quantize_epilogue(a, blockIdx.x * (R * kWarps / SPLIT), R * kWarps / SPLIT);
        return;
    }
    if (!combine_split<SPLIT, N>(acc, warp, lane)) return;
    if constexpr (MODE == int(MvMode::QkvRope)) {
        // Rows come in pairs (first is even, every job's rows even): one rotation per pair.
        static_assert(R % 2 == 0);
        if (lane == 0)
#pragma unroll
            for (int r = 0; r < R; r += 2) rope_pair(a, first + r, acc[r], acc[r + 1]);
    } else {
        store_rows<MODE, R>(a, first, rows, outs, acc, lane);
    }
}
// kMvQ6Lean also caps the registers at 64 (8 blocks an SM, 50% occupancy; ptxas gives the
// default Q6_K kernels 86 and more, 25% on the H200: cuda.md). A minimum of blocks in the
// default kernels' bounds would change their registers too (ptxas: 48-56 -> 72-91), so the
// cap is a second kernel around the same body.
template <uint32_t TI, int MODE, int SPLIT, bool FUSE, int R, bool LEAN>
__global__ void __launch_bounds__(kWarps * 32) matvec_q8_kernel(MvArgs a) {
    matvec_q8<TI, MODE, SPLIT, FUSE, R, LEAN>(a);
}
template <uint32_t TI, int MODE, int SPLIT, bool FUSE, int R, bool LEAN>
__global__ void __launch_bounds__(kWarps * 32, 8) matvec_q8_capped_kernel(MvArgs a) {
    matvec_q8<TI, MODE, SPLIT, FUSE, R, LEAN>(a);
}
template <uint32_t TI, int MODE, int SPLIT, bool FUSE, int R, bool LEAN>
void launch_q8_kernel(dim3 grid, dim3 block, cudaStream_t s, const char* what, const MvArgs& a) {
    if constexpr (LEAN) launch(matvec_q8_capped_kernel<TI, MODE, SPLIT, FUSE, R, LEAN>, grid, block, 0, s, what, a);
    else launch(matvec_q8_kernel<TI, MODE, SPLIT, FUSE, R, LEAN>, grid, block, 0, s, what, a);
}

template <GgmlType T, int SPLIT, bool FUSE, int R, bool LEAN>
void launch_q8_mode(MvMode mode, const MvArgs& a, dim3 grid, dim3 block, cudaStream_t s) {
    constexpr uint32_t TI = uint32_t(T);
    if constexpr (R != kRows) {  // kMvGateUp4: gate/up only (launch_q8)
        launch_q8_kernel<TI, 2, SPLIT, FUSE, R, LEAN>(grid, block, s, "matvec (int8, 4 rows a warp)", a);
    } else {
        switch (mode) {
        case MvMode::QkvRope: launch_q8_kernel<TI, 3, SPLIT, FUSE, R, LEAN>(grid, block, s, "matvec (q/k/v + RoPE)", a); break;
        case MvMode::Store: launch_q8_kernel<TI, 0, SPLIT, FUSE, R, LEAN>(grid, block, s, "matvec (int8 activations)", a); break;
        case MvMode::Accumulate: launch_q8_kernel<TI, 1, SPLIT, FUSE, R, LEAN>(grid, block, s, "matvec (int8 activations)", a); break;
        case MvMode::SwiGlu: launch_q8_kernel<TI, 2, SPLIT, FUSE, R, LEAN>(grid, block, s, "matvec (int8 activations)", a); break;
        }
    }
}

bool fused(const MvFuse& f) { return f.out_q.q || f.in_ss; }

template <GgmlType T, int SPLIT, int R, bool LEAN>
void launch_q8_split(MvMode mode, const MvArgs& a, int total, cudaStream_t s) {
    const int per_block = R * kWarps / SPLIT;  // 2, 4, 8 or 16 rows: a divisor of quantize_epilogue's 32
    const dim3 grid(unsigned((total + per_block - 1) / per_block)), block(kWarps * 32);
    if (fused(a.fuse)) launch_q8_mode<T, SPLIT, true, R, LEAN>(mode, a, grid, block, s);
    else launch_q8_mode<T, SPLIT, false, R, LEAN>(mode, a, grid, block, s);
}

// The shapes MvFuse's epilogues need, checked before any launch.
void check_fuse(GgmlType t, MvMode mode, const MvArgs& a, int total) {
    const MvFuse& f = a.fuse;
    if (!fused(f)) return;
    if (!a.xq.q || !has_q8_dot(t) || a.ne0 % 32 != 0)
        fail("CUDA matvec: a fused int8 epilogue needs int8 activations (", type_name(file_type(t)), " rows of ", a.ne0, ")");
    if (f.in_ss && f.in_eps < 0.0f) fail("CUDA matvec: a negative RMSNorm epsilon");
    if (!f.out_q.q) {
        if (f.out_norm || f.out_ss) fail("CUDA matvec: a folded RMSNorm without its int8 output");
        return;
    }
    if (mode != MvMode::SwiGlu && !(mode == MvMode::Accumulate && a.n_jobs == 1))
        fail("CUDA matvec: only gate/up and a one-matrix residual add quantize their output");
    if (total % 32 != 0) fail("CUDA matvec: quantizing ", total, " output rows (not a multiple of 32)");
    if (!f.out_q.ds || !f.group_count) fail("CUDA matvec: an int8 epilogue without its scales or group counters");
    if (f.out_norm && (mode != MvMode::Accumulate || !f.out_ss))
        fail("CUDA matvec: a folded RMSNorm needs the residual add and its sum of squares");
    if (!f.out_norm && f.out_ss) fail("CUDA matvec: a sum of squares without the RMSNorm weights");
}

template <GgmlType T, int R, bool LEAN>
void launch_q8_shape(MvMode mode, const MvArgs& a, int total, cudaStream_t s) {
    switch (split_for(total, a.ne0 >> 5, a.split, R)) {
    case 1: launch_q8_split<T, 1, R, LEAN>(mode, a, total, s); break;
    case 2: launch_q8_split<T, 2, R, LEAN>(mode, a, total, s); break;
    default: launch_q8_split<T, 4, R, LEAN>(mode, a, total, s); break;
    }
}

// MvArgs::variant picks the kernel's rows per warp and Q6_K's loads; the templates not asked
// for are never instantiated (4 rows a warp: gate/up only; lean loads: Q6_K only).
template <GgmlType T>
void launch_q8(MvMode mode, const MvArgs& a, int total, cudaStream_t s) {
    const bool four = (a.variant & kMvGateUp4) && mode == MvMode::SwiGlu;
    if constexpr (T == kQ6_KR) {
        if (a.variant & kMvQ6Lean) {
            if (four) launch_q8_shape<T, 4, true>(mode, a, total, s);
            else launch_q8_shape<T, kRows, true>(mode, a, total, s);
            return;
        }
    }
    if (four) launch_q8_shape<T, 4, false>(mode, a, total, s);
    else launch_q8_shape<T, kRows, false>(mode, a, total, s);
}

// Rows of any width (F32 / F16 only): one element per lane per step.
template <GgmlType T, int MODE>
__global__ void __launch_bounds__(kWarps * 32) matvec_scalar_kernel(MvArgs a) {
    pdl_wait();
    const int lane = threadIdx.x & 31;
    int row = blockIdx.x * kWarps + int(threadIdx.x >> 5);
    if constexpr (MODE == int(MvMode::SwiGlu)) {
        if (row >= a.job[0].rows) return;  // the whole warp leaves
        const uint8_t* wg = a.job[0].w + size_t(row) * a.row_bytes;
        const uint8_t* wu = a.job[1].w + size_t(row) * a.row_bytes;
        float g = 0.0f, u = 0.0f;
        for (int j = lane; j < a.ne0; j += 32) {
            g += elem<T>(wg, j) * a.x[j];
            u += elem<T>(wu, j) * a.x[j];
        }
        g = warp_sum(g);
        u = warp_sum(u);
        if (lane == 0) a.job[0].y[row] = g / (1.0f + expf(-g)) * u;
    } else {
        const uint8_t* w = nullptr;
        float* y = nullptr;
#pragma unroll
        for (int j = 0; j < 3; ++j) {
            if (j < a.n_jobs && !w) {
                if (row < a.job[j].rows) {
                    w = a.job[j].w + size_t(row) * a.row_bytes;
                    y = a.job[j].y + row;
                } else {
                    row -= a.job[j].rows;
                }
            }
        }
        if (!w) return;  // the whole warp leaves
        float acc = 0.0f;
        for (int j = lane; j < a.ne0; j += 32) acc += elem<T>(w, j) * a.x[j];
        acc = warp_sum(acc);
        if (lane == 0) {
            if constexpr (MODE == int(MvMode::Accumulate)) *y += acc;
            else *y = acc;
        }
    }
}

template <GgmlType T>
void launch_scalar(MvMode mode, const MvArgs& a, int total, cudaStream_t s) {
    const dim3 grid(unsigned((total + kWarps - 1) / kWarps));
    switch (mode) {
    case MvMode::Store: launch(matvec_scalar_kernel<T, 0>, grid, dim3(kWarps * 32), 0, s, "matvec (any width)", a); break;
    case MvMode::Accumulate: launch(matvec_scalar_kernel<T, 1>, grid, dim3(kWarps * 32), 0, s, "matvec (any width)", a); break;
    case MvMode::SwiGlu: launch(matvec_scalar_kernel<T, 2>, grid, dim3(kWarps * 32), 0, s, "matvec (any width)", a); break;
    case MvMode::QkvRope: break;
    }
}

}  // namespace

bool type_supported(GgmlType t) {
    switch (t) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::Q4_0: case GgmlType::Q4_1:
    case GgmlType::Q5_0: case GgmlType::Q5_1: case GgmlType::Q8_0: case GgmlType::Q4_K:
    case GgmlType::Q5_K: case GgmlType::Q6_K: return true;
    default: return false;
    }
}

void launch_matvec(GgmlType t, MvMode mode, const MvArgs& a, cudaStream_t s) {
    int total = 0;
    if (mode == MvMode::SwiGlu) total = a.job[0].rows;
    else
        for (int j = 0; j < a.n_jobs; ++j) total += a.job[j].rows;
    if (total <= 0) return;
    check_fuse(t, mode, a, total);
    if (a.ne0 % 8 != 0) {
        if (t == GgmlType::F32) launch_scalar<GgmlType::F32>(mode, a, total, s);
        else if (t == GgmlType::F16) launch_scalar<GgmlType::F16>(mode, a, total, s);
        else fail("CUDA matvec: ", type_name(file_type(t)), " rows of ", a.ne0, " elements");
        LD_CUDA_LAUNCHED("matvec (any width)");
        return;
    }
    const int per_block = kWarps * kRows;
    const dim3 grid(unsigned((total + per_block - 1) / per_block));
    if (mode == MvMode::QkvRope) {
        bool ok = a.xq.q && has_q8_dot(t) && a.rope.hd % 2 == 0 && a.rope.hd > 0;
        for (int j = 0; j < a.n_jobs; ++j) ok = ok && a.job[j].rows % 2 == 0 && a.job[j].rows % a.rope.hd == 0;
        if (!ok) fail("CUDA matvec: q/k/v with RoPE needs int8 activations and whole heads");
    }
    if (a.xq.q && has_q8_dot(t)) {
        if (a.ne0 % 256 != 0 && (t == GgmlType::Q4_K || t == GgmlType::Q5_K || t == kQ6_KR))
            fail("CUDA matvec: ", type_name(file_type(t)), " rows of ", a.ne0, " elements");
        switch (t) {
        case kQ4_0R: launch_q8<kQ4_0R>(mode, a, total, s); break;
        case kQ8_0R: launch_q8<kQ8_0R>(mode, a, total, s); break;
        case kQ6_KR: launch_q8<kQ6_KR>(mode, a, total, s); break;
        case GgmlType::Q4_1: launch_q8<GgmlType::Q4_1>(mode, a, total, s); break;
        case GgmlType::Q4_K: launch_q8<GgmlType::Q4_K>(mode, a, total, s); break;
        case GgmlType::Q5_K: launch_q8<GgmlType::Q5_K>(mode, a, total, s); break;
        default: break;
        }
        LD_CUDA_LAUNCHED("matvec (int8 activations)");
        return;
    }
    const bool ok = dispatch_type(t, [&](auto tag) {
        constexpr GgmlType T = decltype(tag)::value;
        switch (mode) {
        case MvMode::Store: launch(matvec_kernel<uint32_t(T), 0>, grid, dim3(kWarps * 32), 0, s, "matvec", a); break;
        case MvMode::Accumulate: launch(matvec_kernel<uint32_t(T), 1>, grid, dim3(kWarps * 32), 0, s, "matvec", a); break;
        case MvMode::SwiGlu: launch(matvec_kernel<uint32_t(T), 2>, grid, dim3(kWarps * 32), 0, s, "matvec", a); break;
    case MvMode::QkvRope: break;  // refused above
        }
    });
    if (!ok) fail("the CUDA backend cannot multiply ", type_name(file_type(t)), " weights");
    LD_CUDA_LAUNCHED("matvec");
}

}  // namespace ld::cuda
