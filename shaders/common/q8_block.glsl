// Quantizes 32 values into block `blk` of a vector of n values in the int8 layout of
// QuantizeQ8PC (common/push_constants.h): d = amax / 127, q = round-half-even(v / d) (as the
// tests' CPU reference), s0 and s1 = d * the sums of the first and second 16 quants. The
// including shader declares the destination as `int q8_words[]` and `vec4 q8_scales[]` (two
// views of one binding).
void store_q8_block(float v[32], uint blk, uint n) {
    float amax = 0.0;
    for (uint k = 0u; k < 32u; ++k) amax = max(amax, abs(v[k]));
    const float d = amax / 127.0, id = amax > 0.0 ? 127.0 / amax : 0.0;
    int s0 = 0, s1 = 0;
    for (uint w = 0u; w < 8u; ++w) {
        int word = 0;
        for (uint k = 0u; k < 4u; ++k) {
            const int qi = clamp(int(roundEven(v[4u * w + k] * id)), -127, 127);
            word |= (qi & 0xFF) << (8u * k);
            if (w < 4u) s0 += qi; else s1 += qi;
        }
        q8_words[8u * blk + w] = word;
    }
    q8_scales[n / 16u + blk] = vec4(d, d * float(s0), d * float(s1), 0.0);
}
