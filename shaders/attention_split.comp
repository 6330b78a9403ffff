#version 450
// Flash-decoding's split pass over the cache rows = positions (common/attention_split.glsl).
#extension GL_GOOGLE_include_directive : require
#include "common/attention_split.glsl"
