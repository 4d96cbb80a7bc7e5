#include "latte_kernels.h"

// The vector helpers below are always inlined into each target-specific variant, so the
// by-value vector ABI they would otherwise have never applies.
#pragma clang diagnostic ignored "-Wpsabi"

typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));

#define INLINE static inline __attribute__((always_inline))

// exp(x) by Cephes' expf scheme: x = n ln2 + r, |r| <= ln2/2, a degree-6 polynomial for
// e^r, then scaling by 2^n built in the exponent bits. About 1 ulp over the clamped range
// [-87.33, 88.02] (below: ~1e-38, above: ~1.6e38).
INLINE v16f vexp(v16f x) {
    const v16f lo = (v16f){} - 87.3365447504f, hi = (v16f){} + 88.02f;
    x = __builtin_elementwise_max(x, lo);
    x = __builtin_elementwise_min(x, hi);
    v16f fx = __builtin_elementwise_floor(x * 1.44269504088896341f + 0.5f);
    x = x - fx * 0.693359375f;
    x = x - fx * -2.12194440e-4f;
    v16f z = x * x;
    v16f y = (v16f){} + 1.9875691500e-4f;
    y = y * x + 1.3981999507e-3f;
    y = y * x + 8.3334519073e-3f;
    y = y * x + 4.1665795894e-2f;
    y = y * x + 1.6666665459e-1f;
    y = y * x + 5.0000001201e-1f;
    y = y * z + x + 1.0f;
    v16i n = __builtin_convertvector(fx, v16i);
    v16i bits = (n + 127) << 23;
    return y * (v16f)bits;
}

INLINE v16f load_partial(const float *p, int64_t n, float pad) {
    v16f v = (v16f){} + pad;
    for (int64_t i = 0; i < n; i++) v[i] = p[i];
    return v;
}

INLINE void store_partial(float *p, v16f v, int64_t n) {
    for (int64_t i = 0; i < n; i++) p[i] = v[i];
}

INLINE v16f loadu(const float *p) {
    v16f v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

INLINE void storeu(float *p, v16f v) { __builtin_memcpy(p, &v, sizeof v); }

INLINE v16f silu_mul_vec(v16f g, v16f u) {
    v16f sig = 1.0f / (1.0f + vexp(-g));
    return (g * sig) * u;
}

INLINE void silu_mul_body(const float *gu, int64_t ld_gu, float *out, int64_t ld_out, int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; r++) {
        const float *g = gu + r * ld_gu, *u = g + n;
        float *o = out + r * ld_out;
        int64_t j = 0;
        for (; j + 16 <= n; j += 16) storeu(o + j, silu_mul_vec(loadu(g + j), loadu(u + j)));
        if (j < n) store_partial(o + j, silu_mul_vec(load_partial(g + j, n - j, 0), load_partial(u + j, n - j, 0)), n - j);
    }
}

INLINE float hmax(v16f v) {
    float m = v[0];
    for (int i = 1; i < 16; i++) m = v[i] > m ? v[i] : m;
    return m;
}

INLINE float hsum(v16f v) {
    // Pairwise, like a vectorized reduction.
    for (int w = 8; w >= 1; w /= 2)
        for (int i = 0; i < w; i++) v[i] += v[i + w];
    return v[0];
}

INLINE void softmax_body(float *s, int64_t rows, int64_t cols, int64_t ld, int64_t causal_first) {
    for (int64_t r = 0; r < rows; r++) {
        float *x = s + r * ld;
        int64_t n = cols;
        if (causal_first >= 0) {
            n = causal_first + r + 1;
            if (n > cols) n = cols;
            for (int64_t j = n; j < cols; j++) x[j] = 0.0f;
        }
        if (n <= 0) continue;
        v16f vm = (v16f){} - __builtin_inff();
        int64_t j = 0;
        for (; j + 16 <= n; j += 16) vm = __builtin_elementwise_max(vm, loadu(x + j));
        if (j < n) vm = __builtin_elementwise_max(vm, load_partial(x + j, n - j, -__builtin_inff()));
        float m = hmax(vm);
        v16f vs = (v16f){};
        for (j = 0; j + 16 <= n; j += 16) {
            v16f e = vexp(loadu(x + j) - m);
            storeu(x + j, e);
            vs += e;
        }
        if (j < n) {
            v16f e = vexp(load_partial(x + j, n - j, m) - m);
            for (int64_t i = n - j; i < 16; i++) e[i] = 0.0f;
            store_partial(x + j, e, n - j);
            vs += e;
        }
        float inv = 1.0f / hsum(vs);
        for (j = 0; j + 16 <= n; j += 16) storeu(x + j, loadu(x + j) * inv);
        for (; j < n; j++) x[j] *= inv;
    }
}

INLINE void exp_body(const float *x, float *y, int64_t n) {
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) storeu(y + j, vexp(loadu(x + j)));
    if (j < n) store_partial(y + j, vexp(load_partial(x + j, n - j, 0)), n - j);
}

INLINE void bf16_body(const uint16_t *src, float *dst, int64_t n) {
    uint32_t *d = (uint32_t *)dst;
    for (int64_t i = 0; i < n; i++) {
        uint16_t b;
        __builtin_memcpy(&b, src + i, 2);
        d[i] = (uint32_t)b << 16;
    }
}

// Bit-exact binary16 -> binary32 without hardware help (the baseline path).
INLINE float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, mant = h & 0x3FF, bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else if (exp == 0) {
        float m = (float)mant * 5.9604644775390625e-8f; // mant * 2^-24, exact
        __builtin_memcpy(&bits, &m, 4);
        bits |= sign;
    } else {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    }
    float f;
    __builtin_memcpy(&f, &bits, 4);
    return f;
}

INLINE void f16_soft_body(const uint16_t *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        uint16_t b;
        __builtin_memcpy(&b, src + i, 2);
        dst[i] = half_to_float(b);
    }
}

typedef uint16_t v16h_bits __attribute__((vector_size(32)));
typedef _Float16 v16h __attribute__((vector_size(32)));

// With F16C the conversion is one instruction per 8 or 16 values, exact.
INLINE void f16_hw_body(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16h h;
        __builtin_memcpy(&h, src + i, 32);
        v16f f = __builtin_convertvector(h, v16f);
        __builtin_memcpy(dst + i, &f, 64);
    }
    for (; i < n; i++) {
        uint16_t b;
        __builtin_memcpy(&b, src + i, 2);
        dst[i] = half_to_float(b);
    }
}

#if defined(__x86_64__) || defined(__i386__)
#define VARIANTS(name, params, args)                                                   \
    __attribute__((target("avx512f"))) static void name##_avx512 params { name##_body args; } \
    __attribute__((target("avx2,fma"))) static void name##_avx2 params { name##_body args; }  \
    static void name##_base params { name##_body args; }
#else
// Other architectures: one path, vectorized for the baseline target.
#define VARIANTS(name, params, args)                                          \
    static void name##_base params { name##_body args; }                      \
    static void name##_avx512 params { name##_body args; }                    \
    static void name##_avx2 params { name##_body args; }
#endif

VARIANTS(silu_mul, (const float *gu, int64_t ld_gu, float *out, int64_t ld_out, int64_t rows, int64_t n),
         (gu, ld_gu, out, ld_out, rows, n))
VARIANTS(softmax, (float *s, int64_t rows, int64_t cols, int64_t ld, int64_t causal_first),
         (s, rows, cols, ld, causal_first))
VARIANTS(exp, (const float *x, float *y, int64_t n), (x, y, n))
VARIANTS(bf16, (const uint16_t *src, float *dst, int64_t n), (src, dst, n))

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx512f,f16c"))) static void f16_avx512(const uint16_t *src, float *dst, int64_t n) { f16_hw_body(src, dst, n); }
__attribute__((target("avx2,fma,f16c"))) static void f16_avx2(const uint16_t *src, float *dst, int64_t n) { f16_hw_body(src, dst, n); }

int lk_isa_level(void) {
    static volatile int level = 0;
    if (level == 0) {
        __builtin_cpu_init();
        level = __builtin_cpu_supports("avx512f") ? 3 : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 2 : 1;
    }
    return level;
}

static int has_f16c(void) { return __builtin_cpu_supports("f16c"); }
#else
static void f16_avx512(const uint16_t *src, float *dst, int64_t n) { f16_soft_body(src, dst, n); }
static void f16_avx2(const uint16_t *src, float *dst, int64_t n) { f16_soft_body(src, dst, n); }
int lk_isa_level(void) { return 1; }
static int has_f16c(void) { return 0; }
#endif

void lk_silu_mul(const float *gu, int64_t ld_gu, float *out, int64_t ld_out, int64_t rows, int64_t n) {
    switch (lk_isa_level()) {
    case 3: silu_mul_avx512(gu, ld_gu, out, ld_out, rows, n); break;
    case 2: silu_mul_avx2(gu, ld_gu, out, ld_out, rows, n); break;
    default: silu_mul_base(gu, ld_gu, out, ld_out, rows, n);
    }
}

void lk_softmax_rows(float *s, int64_t rows, int64_t cols, int64_t ld, int64_t causal_first) {
    switch (lk_isa_level()) {
    case 3: softmax_avx512(s, rows, cols, ld, causal_first); break;
    case 2: softmax_avx2(s, rows, cols, ld, causal_first); break;
    default: softmax_base(s, rows, cols, ld, causal_first);
    }
}

void lk_exp(const float *x, float *y, int64_t n) {
    switch (lk_isa_level()) {
    case 3: exp_avx512(x, y, n); break;
    case 2: exp_avx2(x, y, n); break;
    default: exp_base(x, y, n);
    }
}

void lk_bf16_to_f32(const uint16_t *src, float *dst, int64_t n) {
    switch (lk_isa_level()) {
    case 3: bf16_avx512(src, dst, n); break;
    case 2: bf16_avx2(src, dst, n); break;
    default: bf16_base(src, dst, n);
    }
}

void lk_f16_to_f32(const uint16_t *src, float *dst, int64_t n) {
    int level = lk_isa_level();
    if (level >= 2 && has_f16c()) {
        if (level == 3) f16_avx512(src, dst, n); else f16_avx2(src, dst, n);
    } else {
        f16_soft_body(src, dst, n);
    }
}
