// The decode matvecs' push constants (common/matvec_wide.glsl, common/matvec_q8.glsl): MatVecPC,
// or with ROPE_EPILOGUE MatVecRopePC, whose MatVecPC part is still reached as `p`.
#ifdef ROPE_EPILOGUE
layout(push_constant) uniform PC { MatVecRopePC pr; };
#define p pr.mv
#else
layout(push_constant) uniform PC { MatVecPC p; };
#endif
