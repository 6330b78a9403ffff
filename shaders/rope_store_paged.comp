#version 450
// RoPE and the KV-cache store of a batch at the cache rows slots[t] (common/rope_store.glsl with
// PAGED).
#extension GL_GOOGLE_include_directive : require
#define PAGED 1
#include "common/rope_store.glsl"
