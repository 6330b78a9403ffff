#pragma once
// CPU quantization kernels: dequantize, quantize, and fused quantized dot products.
// Weights stay in their GGUF type; an activation row is converted once to vec_dot_type(t)
// (Q8_0 / Q8_1 / Q8_K / F32), as ggml's CPU paths do, and then dotted with every weight row.
// SIMD variants (AVX2+FMA, AVX-512 VNNI/BF16) are chosen at run time; all agree with the
// scalar reference to float rounding.
#include <cstddef>
#include <cstdint>

#include "inference/quant/types.h"

namespace ld {

enum class Isa { Scalar = 0, AVX2 = 1, AVX512 = 2 };
Isa detected_isa();              // best instruction set this CPU and build support
const char* isa_name(Isa isa);

// n is a multiple of traits(t).block_size in all functions below.
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);
// Reference quantizer (ggml's algorithms: rounding for Q*_0/_1, make_qkx2/make_qx searches for
// K-quants). Writes row_size(t, n) bytes.
void quantize_row(GgmlType t, const float* src, void* dst, int64_t n);

// The type an activation row is converted to before dotting it with weights of type t.
GgmlType vec_dot_type(GgmlType t);
// Converts n floats to vec_dot_type (F32 is a copy). Writes row_size(act_type, n) bytes.
void quantize_activation(GgmlType act_type, const float* x, void* dst, int64_t n);

// s = sum_i w[i] * x[i], w of type t, x of vec_dot_type(t), both n elements.
using VecDotFn = void (*)(int64_t n, float* s, const void* w, const void* x);
VecDotFn vec_dot_fn(GgmlType t);            // fastest available on this CPU
VecDotFn vec_dot_fn(GgmlType t, Isa isa);   // a given ISA, or nullptr if not built/available

// y[r] = dot(row r of W, x) for r in [r0, r1). W's rows are row_size(t, n) bytes apart; xq is
// the activation already in vec_dot_type(t). Used by decode (one token).
void matvec(GgmlType t, int64_t n, const void* W, const void* xq, float* y, int64_t r0, int64_t r1);

// Batched form for prompt processing: for b in [0, nb), r in [r0, r1):
//   y[b * ldy + r] = dot(row r of W, activation b)
// activation b starts at xq + b * row_size(vec_dot_type(t), n). Tiles rows x tokens so each
// weight row is read from memory once per tile of tokens.
void matmul(GgmlType t, int64_t n, const void* W, const void* xq, int64_t nb, float* y, int64_t ldy,
            int64_t r0, int64_t r1);

}  // namespace ld
