#version 450
// The tiling of matmul_coopmat_wide_q4_k without cooperative matrices, for tests (see the header).
#extension GL_GOOGLE_include_directive : require
#include "common/push_constants.h"
#define WTYPE_Q4_K 1
#define EMULATE_COOPMAT 1
#define BN 32
#include "common/matmul_coopmat_wide.glsl"
