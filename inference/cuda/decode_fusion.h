#pragma once
// Which activations of a one-token decode step the matvec before them quantizes
// (Tuning::cuda_fused_q8, kernels.h MvFuse), decided once per model from the device types: a
// site is fused only where its producer and every consumer run the int8 matvec in the shape the
// epilogue needs. Elsewhere the step keeps its separate RMSNorm / quantize launches.
#include <vector>

#include "inference/cuda/matmul.h"

namespace ld::cuda {

struct LayerMatrices {
    const DevWeight *wq, *wk, *wv, *wo, *gate, *up, *down;
};

struct DecodeFusion {
    struct Layer {
        bool attn_norm = false;  // layer l - 1's down matvec normalizes and quantizes for q/k/v
        bool ffn_norm = false;   // wo's residual add normalizes and quantizes for gate/up
        bool swiglu = false;     // gate/up quantizes its output for down
    };
    int level = 0;               // Tuning::cuda_fused_q8 as asked (0 = nothing fused)
    std::vector<Layer> layers;
    bool out_norm = false;       // the last down matvec normalizes and quantizes for the output
    bool any_norm() const {
        for (const Layer& l : layers)
            if (l.attn_norm || l.ffn_norm) return true;
        return out_norm;
    }
};

// level 0: none; 1: the SwiGLU output; 2: also the RMSNorms after a residual add (all but layer
// 0's attention norm, whose input is the embedding row).
DecodeFusion plan_decode_fusion(int level, const std::vector<LayerMatrices>& layers, const DevWeight& output, int dim,
                                int head_dim);

}  // namespace ld::cuda
