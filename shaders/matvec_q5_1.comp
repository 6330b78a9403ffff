#version 450
#extension GL_GOOGLE_include_directive : require
#define WTYPE_Q5_1 1
#include "common/matvec.glsl"
