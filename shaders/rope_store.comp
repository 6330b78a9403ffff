#version 450
// RoPE and the KV-cache store of a batch at rows pos .. pos + n_tokens - 1 (common/rope_store.glsl).
#extension GL_GOOGLE_include_directive : require
#include "common/rope_store.glsl"
