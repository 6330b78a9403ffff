#version 450
// Causal GQA attention of a prompt over the cache rows = positions (common/attention.glsl).
#extension GL_GOOGLE_include_directive : require
#include "common/attention.glsl"
