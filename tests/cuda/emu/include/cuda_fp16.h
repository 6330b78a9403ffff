#pragma once
#include "cuda_runtime.h"
#include "inference/quant/fp16.h"
struct __half { uint16_t x; };
struct __half2 { __half a, b; };
inline __half __ushort_as_half(uint16_t v) { return {v}; }
inline float __half2float(__half h) { return ld::fp16_to_fp32(h.x); }
inline __half __float2half_rn(float f) { return {ld::fp32_to_fp16(f)}; }
inline __half2 __floats2half2_rn(float a, float b) { return {__float2half_rn(a), __float2half_rn(b)}; }
inline float2 __half22float2(const __half2& h) { return {__half2float(h.a), __half2float(h.b)}; }
inline uint16_t __half_as_ushort(__half h) { return h.x; }
