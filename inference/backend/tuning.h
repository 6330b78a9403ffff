#pragma once
// Every switch that changes how a backend runs (kernel variants, launch shapes) and the debug
// switches, in one struct. Backends read only BackendOptions::tuning; the environment is read in
// one place, Tuning::from_env(), by whoever builds the options (the CLI, the app, the tests), so
// nothing deep in the engine changes behaviour behind the caller's back. The variables and what
// they were measured for are listed in benchmarks/README.md and the man page (ENVIRONMENT).
//
// Variants that lost their benchmark everywhere were deleted with their switches rather than
// kept here (benchmarks/README.md lists them); what remains is a fallback that devices without
// a feature take anyway (and CI tests on purpose), a launch-shape knob, or a debugging aid.
#include <string>

namespace ld {

struct Tuning {
    // Vulkan decode matvec: false = the generic kernel (one workgroup per row), what devices
    // without subgroup arithmetic get anyway. LLAMADESK_VK_MATVEC=generic.
    bool vk_wide_matvec = true;
    // The wide (and int8) matvec's rows per workgroup (1..8), threads per workgroup (32..1024,
    // a multiple of 32) and 32-element slots per loop step of the int8 matvec (1 or 2).
    // LLAMADESK_VK_MATVEC_ROWS, LLAMADESK_VK_MATVEC_WG, LLAMADESK_VK_MATVEC_UNROLL.
    int vk_matvec_rows = 2;
    int vk_matvec_threads = 64;
    int vk_matvec_unroll = 1;
    // Vulkan prompt matmul of quantized weights. LLAMADESK_VK_COOPMAT=wide|classic|0|emulate.
    enum class VkMatmul {
        wide,     // tensor cores, 128-wide K slices where they fit, else the 32-wide kernel
        classic,  // tensor cores, only the 32-wide K kernel
        tiled,    // the f32 tiled kernel (what devices without cooperative matrices run)
        emulate,  // the 128-wide kernel's tiling without tensor cores (tests on any device)
    };
    VkMatmul vk_matmul = VkMatmul::wide;
    // Integer dot products for the decode matvec where the device has them; false = f32
    // activations, what devices without them run. LLAMADESK_VK_Q8=0.
    bool vk_int8 = true;
    // Vulkan steps of 2 up to this many tokens (decoding several sequences, speculative
    // verification) run the int8 small-batch matmul (Ops::matmul_q8b: each weight block read once
    // for all columns) for the weight types that have one; larger steps take the prompt path.
    // 0 or 1: every step of 2 or more tokens takes the prompt path (the previous behaviour, kept
    // for comparison). 0..16. LLAMADESK_VK_SMALL_BATCH.
    int vk_small_batch = 16;
    // Debug: GPU timestamps per op, printed when the backend is destroyed (LLAMADESK_VK_PROFILE=1).
    bool vk_profile = false;
    // Debug: the Khronos validation layer, messages to stderr (LLAMADESK_VULKAN_VALIDATION=1).
    bool vk_validation = false;
    // CUDA decode matvec: warps along K per row group, 1, 2 or 4; 0 = chosen from the shape.
    // LLAMADESK_CUDA_MV_SPLIT.
    int cuda_mv_split = 0;
    // CUDA steps of 2 up to this many tokens (several sequences decoding together, speculative
    // verification) multiply weights that have an int8 decode matvec with the small-batch kernel
    // (matvec_batch.cu: each weight block read once for all columns); larger steps and other
    // types take the prompt path (dequantize + cuBLAS). 0 or 1: the prompt path for every step of
    // 2 or more tokens (the previous behaviour, kept for comparison). 0..16.
    // LLAMADESK_CUDA_SMALL_BATCH.
    int cuda_small_batch = 16;
    // CUDA paged decode attention (steps of several sequences): positions per split-K chunk of a
    // row's context (rounded up to whole 64-position KV blocks); 0 = chosen from the step's shape
    // (few rows with long contexts split), -1 = never split. LLAMADESK_CUDA_PAGED_CHUNK.
    int cuda_paged_chunk = 0;
    // CUDA decode (one token, one sequence), a variant not yet measured, so off by default: the
    // matvec that produces an activation also quantizes it for the next int8 matvec (kernels.h
    // MvFuse; the block finishing each 32-row group quantizes it). 1: gate/up quantizes its
    // SwiGLU output for down (no separate quantize launch); 2: also the RMSNorms after a residual
    // add are folded into it (x * w quantized, the next matvec scales its sums), all but layer
    // 0's. 0..2. LLAMADESK_CUDA_FUSED_Q8.
    int cuda_fused_q8 = 0;
    // CUDA decode matvec variants not yet measured on a GPU, so off by default (benchmarks/cuda.md,
    // "matvec variants"), a bit mask: 1 = gate/up with 4 rows per warp instead of 2 (16 weight
    // chunks in flight per lane, the int8 activation shared by 8 rows); 2 = Q6_K rows with leaner
    // loads (the two sub-block scales in one 8-byte load, only the activation sums a chunk uses)
    // and at most 64 registers, for occupancy. 0..3. LLAMADESK_CUDA_MV_VARIANT.
    int cuda_mv_variant = 0;
    // Debug: decode replays a CUDA graph; false launches every kernel eagerly, so that Nsight
    // Compute times each on its own (benchmarks/device_run_cuda.sh). LLAMADESK_CUDA_GRAPH=0.
    bool cuda_graph = true;
    // Debug: the CPU backend repacks weights for its kernels; false keeps the GGUF layout
    // (bisecting a kernel bug). LLAMADESK_CPU_REPACK=0.
    bool cpu_repack = true;

    // Process-wide debugging switches, not per backend: read through from_env() where they
    // apply, once (setting them in BackendOptions has no effect).
    // LLAMADESK_CPU_ISA=scalar|avx2|avx512 caps the CPU kernels' instruction set (quant.cpp).
    std::string cpu_isa;
    // LLAMADESK_CUDA_PLUGIN: the CUDA plugin to load before the usual places (cuda_plugin.cpp).
    std::string cuda_plugin;

    // The defaults with whatever of the variables above is set; values out of range are clamped,
    // unknown ones ignored (they are developer switches, see benchmarks/README.md).
    static Tuning from_env();
};

}  // namespace ld
