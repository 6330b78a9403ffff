#pragma once
// The CPU backend's activation conversion: quantize_activation (quant.h) with AVX-512 loops for
// the two types a decode step converts most (Q8_0 for Q4_0/Q8_0 weights, Q8_K for K-quants).
// Byte for byte what quantize_activation writes (the same float operations per element, the
// same rounding), so results do not depend on which path ran. The scalar reference took ~4% of
// an 8-sequence Q4_0 decode step (a libm roundf per element). Other types go to the reference.
#include <cstdint>

#include "inference/quant/quant.h"

namespace ld::cpu {

// Converts n floats to act_type; writes row_size(act_type, n) bytes.
void quantize_act(GgmlType act_type, const float* x, void* dst, int64_t n);

// The AVX-512 loops alone (act_quant_avx512.cpp), for the tests: false when this CPU or build
// lacks AVX-512 or the type has no loop.
bool quantize_act_avx512(GgmlType act_type, const float* x, void* dst, int64_t n);

}  // namespace ld::cpu
