#version 450
// Causal GQA attention of a batch of several sequences through their block tables
// (common/attention.glsl with PAGED).
#extension GL_GOOGLE_include_directive : require
#define PAGED 1
#include "common/attention.glsl"
