/* Requantisation of an int8 model's accumulators (docs/model-format.md, "Int8 models"):
 * one definition, used by the scalar kernels and the runner, which the SIMD kernels
 * match bit for bit. Single-precision multiply and round-to-nearest-even are exact
 * IEEE operations, so every ISA gets the same byte. Internal to engine/. */
#ifndef EMOTIOND_REQUANT_H
#define EMOTIOND_REQUANT_H

#include <math.h>
#include <stdint.h>

static inline uint8_t enn_round_clamp(float f, int lo, int hi, int zero)
{
    f = f < (float)lo ? (float)lo : f > (float)hi ? (float)hi : f;
    return (uint8_t)((int)nearbyintf(f) + zero);
}

static inline uint8_t enn_requant(int32_t acc, float scale, int lo, int hi, int zero)
{
    return enn_round_clamp((float)acc * scale, lo, hi, zero);
}

#endif
