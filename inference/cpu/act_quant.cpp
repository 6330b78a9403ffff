#include "inference/cpu/act_quant.h"

namespace ld::cpu {

void quantize_act(GgmlType act_type, const float* x, void* dst, int64_t n) {
    static const bool avx512 = detected_isa() == Isa::AVX512;
    if (avx512 && quantize_act_avx512(act_type, x, dst, n)) return;
    quantize_activation(act_type, x, dst, n);
}

}  // namespace ld::cpu
