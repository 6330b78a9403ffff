#pragma once
// ggml tensor types and block layouts, byte-for-byte as ggml stores them in GGUF files.
// Block structs are declared once here and used by the CPU kernels, the quantizer and (as
// raw bytes) every GPU backend.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "inference/quant/fp16.h"

namespace ld {

// Values are ggml's enum ggml_type ids as written in GGUF tensor infos.
enum class GgmlType : uint32_t {
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
    IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
    IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
    TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

constexpr int QK4_0 = 32, QK4_1 = 32, QK5_0 = 32, QK5_1 = 32, QK8_0 = 32, QK8_1 = 32;
constexpr int QK_K = 256;
constexpr int K_SCALE_SIZE = 12;

struct block_q4_0 {
    fp16_t d;              // delta
    uint8_t qs[QK4_0 / 2]; // nibbles: low nibble = element j, high nibble = element j + 16
};
static_assert(sizeof(block_q4_0) == 18);

struct block_q4_1 {
    fp16_t d, m;           // delta, min
    uint8_t qs[QK4_1 / 2];
};
static_assert(sizeof(block_q4_1) == 20);

struct block_q5_0 {
    fp16_t d;
    uint8_t qh[4];         // 5th bit of each element
    uint8_t qs[QK5_0 / 2];
};
static_assert(sizeof(block_q5_0) == 22);

struct block_q5_1 {
    fp16_t d, m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
};
static_assert(sizeof(block_q5_1) == 24);

struct block_q8_0 {
    fp16_t d;
    int8_t qs[QK8_0];
};
static_assert(sizeof(block_q8_0) == 34);

struct block_q8_1 {
    fp16_t d;              // delta
    fp16_t s;              // d * sum(qs)
    int8_t qs[QK8_1];
};
static_assert(sizeof(block_q8_1) == 36);

// Super-block of 8 sub-blocks of 32; 6-bit scales and mins packed in `scales`.
struct block_q4_K {
    fp16_t d;              // super-block scale for the quantized scales
    fp16_t dmin;           // super-block scale for the quantized mins
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
};
static_assert(sizeof(block_q4_K) == 144);

struct block_q5_K {
    fp16_t d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
};
static_assert(sizeof(block_q5_K) == 176);

// 16 sub-blocks of 16, 8-bit scales.
struct block_q6_K {
    uint8_t ql[QK_K / 2];  // lower 4 bits
    uint8_t qh[QK_K / 4];  // upper 2 bits
    int8_t scales[QK_K / 16];
    fp16_t d;
};
static_assert(sizeof(block_q6_K) == 210);

// Activation format for K-quant dot products.
struct block_q8_K {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];  // sum of each group of 16 qs
};
static_assert(sizeof(block_q8_K) == 292);

struct block_q2_K {
    uint8_t scales[QK_K / 16];
    uint8_t qs[QK_K / 4];
    fp16_t d, dmin;
};
static_assert(sizeof(block_q2_K) == 84);

struct block_q3_K {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[12];
    fp16_t d;
};
static_assert(sizeof(block_q3_K) == 110);

struct TypeTraits {
    const char* name;
    int block_size;        // elements per block
    size_t type_size;      // bytes per block
    bool compute;          // this engine can dequantize and multiply it
};

// Traits of a ggml type id, or nullptr for an id this engine does not know (files naming such a
// type are rejected with an error that says so).
const TypeTraits* type_traits(uint32_t type);
inline const TypeTraits& traits(GgmlType t) { return *type_traits(uint32_t(t)); }
const char* type_name(GgmlType t);
// Parses "Q4_K", "q8_0", "F16"...; returns false for an unknown name.
bool parse_type_name(std::string_view name, GgmlType* out);

// Bytes of a row of n elements (n must be a multiple of the block size).
inline size_t row_size(GgmlType t, int64_t n) {
    const TypeTraits& tt = traits(t);
    return size_t(n / tt.block_size) * tt.type_size;
}

}  // namespace ld
