#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/push_constants.h"
#define WTYPE_Q8_0 1
#include "common/matmul_q8b.glsl"
