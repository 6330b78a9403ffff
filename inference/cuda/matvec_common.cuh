#pragma once
// What the one-token matvec (matvec.cu) and the small-batch kernel (matvec_batch.cu) share: the
// launch shape (warps per block, rows per warp), which weight rows and outputs a warp takes,
// warp sums, and the split-K choice. Sharing them keeps a column of the small-batch kernel
// summed in exactly the order of the one-token matvec.
#include <cstddef>
#include <cstdint>

#include "inference/cuda/kernels.h"

namespace ld::cuda {

constexpr int kWarps = 4;  // per block
constexpr int kRows = 2;   // per warp

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// The warp's rows, from its first row: for SwiGlu, R gate rows then the same R up rows;
// otherwise R rows numbered across the jobs in order (q, k, v), with their outputs and the
// output's row count (a batch's column j of row r is outs[r][j * lds[r]]). Null past the end.
// Constant job indices keep the kernel parameters out of local memory. R: rows per warp (kRows,
// or 4 in the kMvGateUp4 variant).
template <int R = kRows>
__device__ __forceinline__ void gate_up_rows(const MvArgs& a, int first, const uint8_t** rows) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
        const int row = first + r;
        const bool ok = row < a.job[0].rows;
        rows[r] = ok ? a.job[0].w + size_t(row) * a.row_bytes : nullptr;
        rows[R + r] = ok ? a.job[1].w + size_t(row) * a.row_bytes : nullptr;
    }
}
template <int R = kRows>
__device__ __forceinline__ void job_rows(const MvArgs& a, int first, const uint8_t** rows, float** outs, int* lds) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
        int row = first + r;
        rows[r] = nullptr;
        outs[r] = nullptr;
        lds[r] = 0;
#pragma unroll
        for (int j = 0; j < 3; ++j) {
            if (j < a.n_jobs && !rows[r]) {
                if (row < a.job[j].rows) {
                    rows[r] = a.job[j].w + size_t(row) * a.row_bytes;
                    outs[r] = a.job[j].y + row;
                    lds[r] = a.job[j].rows;
                } else {
                    row -= a.job[j].rows;
                }
            }
        }
    }
}

// Warps along K per group of rows: enough warps to fill the GPU (~4096 on 132 SMs) while every
// lane keeps at least one 32-chunk (8B Q4_K_M decode on the H200: 392.6 against 373.7 tok/s
// without). MvArgs::split (Tuning::cuda_mv_split) fixes it. rows_per_warp: the kernel's R.
inline int split_for(int total_rows, int n_chunks, int forced, int rows_per_warp = kRows) {
    if (forced == 1 || forced == 2 || forced == 4) return forced;
    const int warps = (total_rows + rows_per_warp - 1) / rows_per_warp;
    int split = 1;
    while (split < 4 && warps * split < 4096 && n_chunks >= 32 * 2 * split) split *= 2;
    return split;
}

}  // namespace ld::cuda
