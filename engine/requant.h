/* Requantisation of an int8 model's accumulators (docs/model-format.md, "Int8 models"):
 * one definition, used by the scalar kernels and the runner, which the SIMD kernels
 * match bit for bit. Single-precision multiply and round-to-nearest-even are exact
 * IEEE operations, so every ISA gets the same byte. Internal to engine/. */
#ifndef EMOTIOND_REQUANT_H
#define EMOTIOND_REQUANT_H

#include <float.h>
#include <math.h>
#include <stdint.h>

/* Round to nearest even after the clamp: adding and taking away 1.5 x 2^23 leaves the
 * integer nearest f, ties to even (exact for |f| < 2^22, and |f| <= 127 here). Same value
 * as nearbyintf in the default rounding mode, without a libm call per element. */
static inline uint8_t enn_round_clamp(float f, int lo, int hi, int zero)
{
    f = f < (float)lo ? (float)lo : f > (float)hi ? (float)hi : f;
#if FLT_EVAL_METHOD == 0
    const float big = 12582912.0f;
    return (uint8_t)((int)((f + big) - big) + zero);
#else   /* wider intermediates (x87) would keep f + big exact: no rounding happens */
    return (uint8_t)((int)nearbyintf(f) + zero);
#endif
}

static inline uint8_t enn_requant(int32_t acc, float scale, int lo, int hi, int zero)
{
    return enn_round_clamp((float)acc * scale, lo, hi, zero);
}

#endif
