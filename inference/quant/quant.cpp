// Public quantization API: argument checks and runtime dispatch to the scalar reference or the
// best SIMD kernels the CPU supports.
#include "inference/quant/quant.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "inference/backend/tuning.h"
#include "inference/core/error.h"
#include "inference/quant/quant_internal.h"

namespace ld {

namespace {

Isa hardware_isa() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (detail::avx512_built() && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni") &&
        __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        return Isa::AVX512;
    if (detail::avx2_built() && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c"))
        return Isa::AVX2;
#endif
    return Isa::Scalar;
}

// Tuning::cpu_isa (LLAMADESK_CPU_ISA=scalar|avx2|avx512) caps the choice (benchmarks, bisecting
// a kernel bug); it can never raise it above what the hardware supports. Process-wide, like the
// kernels it picks, so read from the environment here rather than from a backend's options.
Isa compute_isa() {
    Isa isa = hardware_isa();
    if (const std::string v = Tuning::from_env().cpu_isa; !v.empty()) {
        Isa cap = isa;
        if (v == "scalar") cap = Isa::Scalar;
        else if (v == "avx2") cap = Isa::AVX2;
        else if (v == "avx512") cap = Isa::AVX512;
        if (int(cap) < int(isa)) isa = cap;
    }
    return isa;
}

void check_n(GgmlType t, int64_t n, const char* what) {
    const TypeTraits* tt = type_traits(uint32_t(t));
    if (!tt) fail(what, ": unknown tensor type id ", uint32_t(t));
    if (n < 0 || n % tt->block_size != 0)
        fail(what, ": row length ", n, " is not a multiple of ", tt->name, "'s block size ",
             tt->block_size);
}

bool is_compute_type(GgmlType t) {
    switch (t) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16: case GgmlType::Q4_0:
    case GgmlType::Q4_1: case GgmlType::Q5_0: case GgmlType::Q5_1: case GgmlType::Q8_0:
    case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K:
        return true;
    default:
        return false;
    }
}

void check_rows(int64_t r0, int64_t r1, const char* what) {
    if (r0 < 0 || r1 < r0) fail(what, ": bad row range [", r0, ", ", r1, ")");
}

}  // namespace

Isa detected_isa() {
    static const Isa isa = compute_isa();
    return isa;
}

const char* isa_name(Isa isa) {
    switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::AVX2: return "avx2";
    case Isa::AVX512: return "avx512";
    }
    return "unknown";
}

void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n) {
    check_n(t, n, "dequantize_row");
    if (!detail::scalar_dequantize(t, src, dst, n))
        fail("dequantize_row: cannot dequantize type ", type_name(t));
}

void quantize_row(GgmlType t, const float* src, void* dst, int64_t n) {
    check_n(t, n, "quantize_row");
    if (!detail::scalar_quantize(t, src, dst, n))
        fail("quantize_row: cannot quantize to type ", type_name(t));
}

GgmlType vec_dot_type(GgmlType t) {
    switch (t) {
    case GgmlType::Q4_0: case GgmlType::Q5_0: case GgmlType::Q8_0: return GgmlType::Q8_0;
    case GgmlType::Q4_1: case GgmlType::Q5_1: return GgmlType::Q8_1;
    case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K: return GgmlType::Q8_K;
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16: return GgmlType::F32;
    default: fail("vec_dot_type: no dot product for type ", type_name(t));
    }
}

void quantize_activation(GgmlType act_type, const float* x, void* dst, int64_t n) {
    if (act_type != GgmlType::F32 && act_type != GgmlType::Q8_0 && act_type != GgmlType::Q8_1 &&
        act_type != GgmlType::Q8_K)
        fail("quantize_activation: ", type_name(act_type), " is not an activation type");
    quantize_row(act_type, x, dst, n);
}

VecDotFn vec_dot_fn(GgmlType t, Isa isa) {
    if (!is_compute_type(t)) return nullptr;
    if (int(isa) > int(detected_isa())) return nullptr;
    switch (isa) {
    case Isa::Scalar: return detail::scalar_vec_dot(t);
    case Isa::AVX2: return detail::avx2_vec_dot(t);
    case Isa::AVX512: return detail::avx512_vec_dot(t);
    }
    return nullptr;
}

VecDotFn vec_dot_fn(GgmlType t) {
    if (!is_compute_type(t)) fail("vec_dot_fn: no dot product for type ", type_name(t));
    for (int i = int(detected_isa()); i >= 0; --i)
        if (VecDotFn f = vec_dot_fn(t, Isa(i))) return f;
    fail("vec_dot_fn: no dot product for type ", type_name(t));
}

void matvec(GgmlType t, int64_t n, const void* W, const void* xq, float* y, int64_t r0,
            int64_t r1) {
    check_n(t, n, "matvec");
    check_rows(r0, r1, "matvec");
    const VecDotFn dot = vec_dot_fn(t);
    const Isa isa = detected_isa();
    if (isa == Isa::AVX512 && detail::avx512_matvec(t, n, W, xq, y, r0, r1)) return;
    if (isa >= Isa::AVX2 && detail::avx2_matvec(t, n, W, xq, y, r0, r1)) return;
    const size_t rs = row_size(t, n);
    const uint8_t* w = static_cast<const uint8_t*>(W);
    for (int64_t r = r0; r < r1; ++r) dot(n, &y[r], w + size_t(r) * rs, xq);
}

void matmul(GgmlType t, int64_t n, const void* W, const void* xq, int64_t nb, float* y,
            int64_t ldy, int64_t r0, int64_t r1) {
    check_n(t, n, "matmul");
    check_rows(r0, r1, "matmul");
    if (nb < 0 || (nb > 1 && ldy < r1)) fail("matmul: bad batch ", nb, " / stride ", ldy);
    const VecDotFn dot = vec_dot_fn(t);
    const Isa isa = detected_isa();
    if (isa == Isa::AVX512 && detail::avx512_matmul(t, n, W, xq, nb, y, ldy, r0, r1)) return;
    if (isa >= Isa::AVX2 && detail::avx2_matmul(t, n, W, xq, nb, y, ldy, r0, r1)) return;
    const size_t rs = row_size(t, n);
    const size_t xs = row_size(vec_dot_type(t), n);
    const uint8_t* w = static_cast<const uint8_t*>(W);
    const uint8_t* x = static_cast<const uint8_t*>(xq);
    for (int64_t b = 0; b < nb; ++b)
        for (int64_t r = r0; r < r1; ++r)
            dot(n, &y[b * ldy + r], w + size_t(r) * rs, x + size_t(b) * xs);
}

}  // namespace ld
