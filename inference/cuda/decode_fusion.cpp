#include "inference/cuda/decode_fusion.h"

namespace ld::cuda {

namespace {

bool q8(const DevWeight& w) { return has_q8_dot(w.type); }

// Matmul::qkv_rope's own condition: q, k and v on int8 activations, whole heads, one width.
bool qkv_in_one_epilogue(const LayerMatrices& L, int hd) {
    for (const DevWeight* w : {L.wq, L.wk, L.wv})
        if (!q8(*w) || hd <= 0 || w->ne1 % hd != 0 || w->ne0 != L.wq->ne0) return false;
    return true;
}

}  // namespace

DecodeFusion plan_decode_fusion(int level, const std::vector<LayerMatrices>& layers, const DevWeight& output, int dim,
                                int head_dim) {
    DecodeFusion f;
    f.level = level;
    f.layers.resize(layers.size());
    if (level <= 0) return f;
    const bool norms = level >= 2 && dim % 32 == 0;
    for (size_t l = 0; l < layers.size(); ++l) {
        const LayerMatrices& L = layers[l];
        const bool gate_up = Matmul::gate_up_fusable(*L.gate, *L.up);
        // The epilogue quantizes groups of 32 output rows; the down matvec reads them as int8.
        f.layers[l].swiglu = gate_up && L.gate->ne1 % 32 == 0 && q8(*L.down) && L.down->ne0 == L.gate->ne1;
        f.layers[l].ffn_norm = norms && q8(*L.wo) && L.wo->ne1 == dim && gate_up;
        f.layers[l].attn_norm = norms && l > 0 && q8(*layers[l - 1].down) && layers[l - 1].down->ne1 == dim &&
                                qkv_in_one_epilogue(L, head_dim);
    }
    f.out_norm = norms && !layers.empty() && q8(*layers.back().down) && layers.back().down->ne1 == dim && q8(output);
    return f;
}

}  // namespace ld::cuda
