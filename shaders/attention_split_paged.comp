#version 450
// Flash-decoding's split pass through the sequence's block table (common/attention_split.glsl
// with PAGED).
#extension GL_GOOGLE_include_directive : require
#define PAGED 1
#include "common/attention_split.glsl"
