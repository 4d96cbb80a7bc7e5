// Elementwise float32 kernels of the LaTtE-Flow runtime whose cost is dominated by exp():
// SwiGLU activation and row softmax. Written with clang vector extensions and compiled
// for AVX-512, AVX2+FMA and a baseline, chosen once at run time from the CPU's features.
#ifndef LATTE_KERNELS_H
#define LATTE_KERNELS_H

#include <stdint.h>

/// out[r*ld_out + j] = silu(gu[r*ld_gu + j]) * gu[r*ld_gu + n + j] for r < rows, j < n,
/// with silu(g) = g * (1 / (1 + exp(-g))).
void lk_silu_mul(const float *gu, int64_t ld_gu, float *out, int64_t ld_out, int64_t rows, int64_t n);

/// Softmax over each row of s (rows x cols, row stride ld), in place. When causal_first >= 0,
/// row r keeps only columns 0 ... causal_first + r; the columns after are set to 0.
void lk_softmax_rows(float *s, int64_t rows, int64_t cols, int64_t ld, int64_t causal_first);

/// y[i] = exp(x[i]) for i < n (the vectorized exp the two kernels above use; for tests).
void lk_exp(const float *x, float *y, int64_t n);

/// dst[i] = the float32 value of little-endian bfloat16 bits src[i] (exact).
void lk_bf16_to_f32(const uint16_t *src, float *dst, int64_t n);

/// dst[i] = the float32 value of little-endian IEEE binary16 bits src[i] (exact, subnormals,
/// infinities and NaNs included).
void lk_f16_to_f32(const uint16_t *src, float *dst, int64_t n);

/// Which code path the kernels run: 3 AVX-512, 2 AVX2+FMA, 1 baseline.
int lk_isa_level(void);

#endif
