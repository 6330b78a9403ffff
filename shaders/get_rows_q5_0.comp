#version 450
#extension GL_GOOGLE_include_directive : require
#define WTYPE_Q5_0 1
#include "common/get_rows.glsl"
