/* IEEE 754 half precision (binary16) to and from float, in bulk.
 *
 * Embeddings are stored as half on disk and computed on as float. The bulk converters use the
 * hardware instructions of the path cpu_isa_active() names (core/cpu.h: AVX-512F, else F16C on the
 * AVX2 path, else scalar), so the build does not depend on -march. Each has a scalar reference that
 * gives the same bits for every input, NaNs included: a NaN keeps its sign and payload and comes out
 * quiet, as the hardware does. */
#ifndef MA_F16_H
#define MA_F16_H

#include <stdint.h>

/* out[i] = in[i] widened to float, for 0 <= i < n; exact. Not collective. */
void f16_to_f32(const uint16_t *in, float *out, int64_t n);

/* Scalar reference for f16_to_f32: the same bits for all 65536 inputs. Not collective. */
float f16_to_f32_ref(uint16_t h);

/* out[i] = in[i] rounded to half, to nearest, ties to even; overflow gives inf, tiny values give
 * subnormals or signed zero. Not collective. */
void f32_to_f16(const float *in, uint16_t *out, int64_t n);

/* Scalar reference for f32_to_f16: the same bits for every float. Not collective. */
uint16_t f32_to_f16_ref(float f);

#endif
