// Small batches: quantized weights times 2..16 int8 activation columns (several sequences
// decoding together, a speculative verification of k + 1 tokens). Such a step, like one token,
// is bound by reading the weights; dequantizing them to f16 tiles for cuBLAS (the prompt path,
// matmul.cpp) writes and reads every weight again as f16, four times the bytes of Q4.
//
// The kernel is the one-token int8 matvec (matvec.cu) with the columns inside: a warp takes
// kRows rows, each lane two 32-element chunks per row in flight (load_w, dot_q8.cuh), and
// multiplies every chunk it holds with each column's int8 activations (load_x / dot_wx, read
// through L1: all warps of a block walk the same chunks). Templated on the column count NB
// (2, 4, 8, 16; a batch of B runs the next size up, columns past B skipped).
//
// Each column is summed in exactly the order of the one-token matvec (same chunks per lane, same
// shuffle tree, same split-K combine), so a sequence's result does not depend on how many others
// share its step. The kRows * NB sums of a lane are reduced together: each shuffle step halves the
// values a lane keeps (31 shuffles for 32 values instead of 5 per value), and lane l ends with
// one value's total, which it stores.
#include "inference/cuda/cuda_check.h"
#include "inference/cuda/dot_q8.cuh"
#include "inference/cuda/kernels.h"
#include "inference/cuda/launch.cuh"
#include "inference/cuda/matvec_common.cuh"

namespace ld::cuda {

namespace {

constexpr int log2i(int v) { return v <= 1 ? 0 : 1 + log2i(v / 2); }

// V values per lane (a power of two, at most 32) summed over the warp. Step o (16, 8, .., 1)
// pairs lane l with l ^ o as warp_sum does; while a lane holds more than one value, the lane with
// bit o set keeps the upper half (adding its partner's copies of them) and the other the lower.
// Afterwards v[0] of lane l is the total of value l >> (5 - log2 V), bit for bit warp_sum's.
template <int V, int O = 16>
__device__ __forceinline__ void warp_sums(float* v, int lane) {
    if constexpr (O > 0) {
        if constexpr (V > 1) {
            constexpr int H = V / 2;
            const bool up = (lane & O) != 0;
#pragma unroll
            for (int i = 0; i < H; ++i) {
                const float keep = up ? v[i + H] : v[i];
                const float send = up ? v[i] : v[i + H];
                v[i] = keep + __shfl_xor_sync(0xffffffffu, send, O);
            }
            warp_sums<H, O / 2>(v, lane);
        } else {
            v[0] += __shfl_xor_sync(0xffffffffu, v[0], O);
            warp_sums<1, O / 2>(v, lane);
        }
    }
}

// acc[r * NB + j] += rows[r] . column j over the lane's chunks, as matvec.cu's dot_rows_q8 pairs
// them: chunks c and c + step added together before they join the sum.
template <GgmlType T, int N, int NB>
__device__ __forceinline__ void dot_rows_batch(const uint8_t* const* rows, const Q8Act& xq, int ne0, int B, int c,
                                               int step, float* acc) {
    const int n_chunks = ne0 >> 5;
    for (; c + step < n_chunks; c += 2 * step) {
        WChunk w0[N], w1[N];
#pragma unroll
        for (int r = 0; r < N; ++r)
            if (rows[r]) {
                w0[r] = load_w<T>(rows[r], c);
                w1[r] = load_w<T>(rows[r], c + step);
            }
#pragma unroll
        for (int j = 0; j < NB; ++j) {
            if (j >= B) break;
            const XQ x{xq.q + size_t(j) * ne0, xq.ds + size_t(j) * (ne0 >> 5)};
            const XChunk x0 = load_x<T>(c, x), x1 = load_x<T>(c + step, x);
#pragma unroll
            for (int r = 0; r < N; ++r)
                if (rows[r]) acc[r * NB + j] += dot_wx<T>(w0[r], x0, c) + dot_wx<T>(w1[r], x1, c + step);
        }
    }
    if (c < n_chunks) {
        WChunk w0[N];
#pragma unroll
        for (int r = 0; r < N; ++r)
            if (rows[r]) w0[r] = load_w<T>(rows[r], c);
#pragma unroll
        for (int j = 0; j < NB; ++j) {
            if (j >= B) break;
            const XQ x{xq.q + size_t(j) * ne0, xq.ds + size_t(j) * (ne0 >> 5)};
            const XChunk x0 = load_x<T>(c, x);
#pragma unroll
            for (int r = 0; r < N; ++r)
                if (rows[r]) acc[r * NB + j] += dot_wx<T>(w0[r], x0, c);
        }
    }
}

// a.split (1, 2 or 4, set by the launcher) warps share a group of rows along K, as in the
// one-token matvec; y of job j is (B, job rows) row-major.
template <uint32_t TI, int MODE, int NB>
__global__ void __launch_bounds__(kWarps * 32) matvec_batch_kernel(MvArgs a, int B) {
    constexpr GgmlType T = GgmlType(TI);
    constexpr bool kGlu = MODE == int(MvMode::SwiGlu);
    constexpr int N = kGlu ? 2 * kRows : kRows;  // weight rows (SwiGlu: kRows gate, then kRows up)
    constexpr int V = kRows * NB;                // sums per set (SwiGlu: two sets, gate and up)
    constexpr int kShift = 5 - log2i(V);         // lane l ends with value l >> kShift
    static_assert(V <= 32 && (V & (V - 1)) == 0, "kRows * NB sums must fit one per lane");
    pdl_wait();
    const int lane = threadIdx.x & 31, warp = int(threadIdx.x >> 5);
    const int split = a.split;
    const int first = (blockIdx.x * (kWarps / split) + warp / split) * kRows;
    const uint8_t* rows[N];
    float* outs[kRows] = {};
    int lds[kRows] = {};
    if constexpr (kGlu) gate_up_rows(a, first, rows);
    else job_rows(a, first, rows, outs, lds);
    float acc[N * NB];
#pragma unroll
    for (int i = 0; i < N * NB; ++i) acc[i] = 0.0f;
    dot_rows_batch<T, N, NB>(rows, a.xq, a.ne0, B, lane + 32 * (warp % split), 32 * split, acc);
    warp_sums<V>(acc, lane);
    if constexpr (kGlu) warp_sums<V>(acc + V, lane);
    if (split > 1) {
        // The first warp of the group adds the others' totals in order (matvec.cu's combine_split).
        __shared__ float red[kWarps][2][32];
        red[warp][0][lane] = acc[0];
        if constexpr (kGlu) red[warp][1][lane] = acc[V];
        __syncthreads();
        if (warp % split != 0) return;
        for (int k = 1; k < split; ++k) {
            acc[0] += red[warp + k][0][lane];
            if constexpr (kGlu) acc[V] += red[warp + k][1][lane];
        }
    }
    if ((lane & ((1 << kShift) - 1)) != 0) return;  // lanes holding a copy of the same total
    const int idx = lane >> kShift, r = idx / NB, j = idx % NB;
    if (j >= B) return;
    if constexpr (kGlu) {
        const int row = first + r;
        if (row < a.job[0].rows) {
            const float g = acc[0], u = acc[V];
            a.job[0].y[size_t(j) * a.job[0].rows + row] = g / (1.0f + expf(-g)) * u;
        }
    } else {
        float* out = nullptr;
        int ld = 0;
#pragma unroll
        for (int k = 0; k < kRows; ++k)  // constant indices keep outs and lds in registers
            if (k == r) {
                out = outs[k];
                ld = lds[k];
            }
        if (!out) return;
        out += size_t(j) * ld;
        if constexpr (MODE == int(MvMode::Accumulate)) *out += acc[0];
        else *out = acc[0];
    }
}

template <GgmlType T, int NB>
void launch_nb(MvMode mode, const MvArgs& a, int B, int total, cudaStream_t s) {
    const int per_block = kRows * kWarps / a.split;
    const dim3 grid(unsigned((total + per_block - 1) / per_block)), block(kWarps * 32);
    const char* what = "matvec (small batch, int8 activations)";
    switch (mode) {
    case MvMode::Store: launch(matvec_batch_kernel<uint32_t(T), 0, NB>, grid, block, 0, s, what, a, B); break;
    case MvMode::Accumulate: launch(matvec_batch_kernel<uint32_t(T), 1, NB>, grid, block, 0, s, what, a, B); break;
    case MvMode::SwiGlu: launch(matvec_batch_kernel<uint32_t(T), 2, NB>, grid, block, 0, s, what, a, B); break;
    case MvMode::QkvRope: break;  // refused by launch_matvec_batch
    }
}

template <GgmlType T>
void launch_type(MvMode mode, const MvArgs& a, int B, int total, cudaStream_t s) {
    if (B <= 2) launch_nb<T, 2>(mode, a, B, total, s);
    else if (B <= 4) launch_nb<T, 4>(mode, a, B, total, s);
    else if (B <= 8) launch_nb<T, 8>(mode, a, B, total, s);
    else launch_nb<T, 16>(mode, a, B, total, s);
}

}  // namespace

void launch_matvec_batch(GgmlType t, MvMode mode, const MvArgs& a, int B, cudaStream_t s) {
    if (B < 2 || B > kMaxBatchQ8) fail("CUDA small-batch matvec: ", B, " columns (2 to ", kMaxBatchQ8, ")");
    if (mode == MvMode::QkvRope) fail("CUDA small-batch matvec: no q/k/v + RoPE epilogue");
    if (!has_q8_dot(t) || !a.xq.q || !a.xq.ds)
        fail("CUDA small-batch matvec: ", type_name(file_type(t)), " weights without int8 activations");
    if (a.ne0 <= 0 || a.ne0 % 32 != 0 ||
        (a.ne0 % 256 != 0 && (t == GgmlType::Q4_K || t == GgmlType::Q5_K || t == kQ6_KR)))
        fail("CUDA small-batch matvec: ", type_name(file_type(t)), " rows of ", a.ne0, " elements");
    int total = 0;
    if (mode == MvMode::SwiGlu) total = a.job[0].rows;
    else
        for (int j = 0; j < a.n_jobs; ++j) total += a.job[j].rows;
    if (total <= 0) return;
    MvArgs args = a;
    args.split = split_for(total, a.ne0 >> 5, a.split);  // as the one-token matvec picks it
    switch (t) {
    case kQ4_0R: launch_type<kQ4_0R>(mode, args, B, total, s); break;
    case kQ8_0R: launch_type<kQ8_0R>(mode, args, B, total, s); break;
    case kQ6_KR: launch_type<kQ6_KR>(mode, args, B, total, s); break;
    case GgmlType::Q4_1: launch_type<GgmlType::Q4_1>(mode, args, B, total, s); break;
    case GgmlType::Q4_K: launch_type<GgmlType::Q4_K>(mode, args, B, total, s); break;
    case GgmlType::Q5_K: launch_type<GgmlType::Q5_K>(mode, args, B, total, s); break;
    default: break;
    }
}

}  // namespace ld::cuda
