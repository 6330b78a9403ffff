#pragma once
// Weight matrices re-laid out at load time for the CPU kernels ("packed" layout).
//
// In the GGUF layout each row is a run of blocks, so a dot product ends in a horizontal sum and
// every 32-element block pays a scale conversion and broadcast per row. The packed layout
// interleaves kPackRows = 16 rows: for each block, lane r of a 512-bit vector holds 4 consecutive
// quantized values of row r, so one broadcast of 4 activation bytes feeds 16 rows with one
// VPDPBUSD and the 16 block scales convert with one instruction. No horizontal sums remain.
//
// A group is 16 rows (the last one zero-padded), read front to back as one stream: runs of
// blocks' quantized bytes, each followed by those blocks' scales (repack_layout.h). Bits are those of
// the GGUF blocks (no requantization), so results match matvec() to float rounding.
// Supported: Q4_0, Q8_0, Q4_K, Q6_K, with AVX-512 VNNI (can_repack() says whether this CPU
// and build have the kernels; otherwise keep using matvec/matmul on the GGUF layout).
#include <cstddef>
#include <cstdint>

#include "inference/quant/types.h"

namespace ld {

constexpr int64_t kPackRows = 16;

// Whether packed kernels exist for t with rows of n elements on this CPU (honours
// LLAMADESK_CPU_ISA).
bool can_repack(GgmlType t, int64_t n);
// Bytes of the packed form of an (nrows x n) matrix of type t.
size_t packed_size(GgmlType t, int64_t n, int64_t nrows);
// Packs row groups [g0, g1) (rows 16*g0 ..) of W (GGUF layout, nrows rows of n elements) into
// dst, a buffer of packed_size() bytes. Disjoint group ranges may be packed concurrently.
void repack_groups(GgmlType t, int64_t n, int64_t nrows, const void* W, void* dst, int64_t g0,
                   int64_t g1);

// Writes row r of a packed matrix back in the GGUF layout (row_size(t, n) bytes, identical to
// the packed source row): embedding lookups in a tied output matrix whose mapped pages were
// released.
void packed_row(GgmlType t, int64_t n, int64_t nrows, const void* P, int64_t r, void* dst);

// Same contracts as matvec()/matmul() in quant.h, with P the packed matrix of nrows rows.
// Any row range works; ranges aligned to kPackRows avoid recomputing a shared group.
void packed_matvec(GgmlType t, int64_t n, int64_t nrows, const void* P, const void* xq, float* y,
                   int64_t r0, int64_t r1);
void packed_matmul(GgmlType t, int64_t n, int64_t nrows, const void* P, const void* xq, int64_t nb,
                   float* y, int64_t ldy, int64_t r0, int64_t r1);

}  // namespace ld
