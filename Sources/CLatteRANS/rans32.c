#include "latte_rans.h"

#include <string.h>
#include <pthread.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define SCALE (1u << LR_SCALE_BITS)
#define MASK (SCALE - 1)

// Per-symbol encoder constants. The division x / freq becomes a multiply by a reciprocal and
// a shift (exact for x < 2^31, which the state bound guarantees): x' = x + bias + q * cmpl
// with q = x / freq is (x / freq) * 4096 + x % freq + cum.
typedef struct {
    uint32_t x_max;  // a state at or above this emits a word first
    uint32_t bias;
    uint32_t cmpl;
    uint32_t shift;
    uint64_t rcp;
} enc_symbol;

static void enc_symbols(const uint16_t freq[256], enc_symbol out[256]) {
    uint32_t cum = 0;
    for (int s = 0; s < 256; s++) {
        uint32_t f = freq[s];
        enc_symbol e = {0};
        if (f == 0) { out[s] = e; continue; }
        // (LR_LOWER >> 12) << 16 = 2^19 per unit of frequency: at most 2^31.
        e.x_max = (uint32_t)(((uint64_t)(LR_LOWER >> LR_SCALE_BITS) << 16) * f);
        e.cmpl = SCALE - f;
        if (f == 1) {
            // q = x - 1 from the all-ones reciprocal; the bias adds back 4096 - 1.
            e.rcp = 0xFFFFFFFFu;
            e.shift = 0;
            e.bias = cum + SCALE - 1;
        } else {
            uint32_t shift = 0;
            while (f > (1u << shift)) shift++;
            e.rcp = ((1ull << (shift + 31)) + f - 1) / f;
            e.shift = shift - 1;
            e.bias = cum;
        }
        out[s] = e;
        cum += f;
    }
}

int64_t lr_rans32_encode(const uint8_t *src, int64_t n, const uint16_t freq[256],
                         uint8_t *dst, int64_t cap, uint32_t states[LR_LANES]) {
    if (cap < 2 * n + 2) return -1;
    enc_symbol syms[256];
    enc_symbols(freq, syms);
    uint32_t x[LR_LANES];
    for (int j = 0; j < LR_LANES; j++) x[j] = LR_LOWER;
    // Words go backwards from the end; the store below the current position is always made
    // (one spare word at dst's start keeps it inside) and kept only when the state emits,
    // so the renormalization has no data-dependent branch.
    uint8_t *w = dst + cap;
    for (int64_t i = n - 1; i >= 0; i--) {
        uint32_t j = (uint32_t)i & (LR_LANES - 1);
        const enc_symbol *e = &syms[src[i]];
        uint32_t s = x[j];
        uint32_t emit = s >= e->x_max;
        w[-2] = (uint8_t)s;
        w[-1] = (uint8_t)(s >> 8);
        w -= emit ? 2 : 0;
        s = emit ? s >> 16 : s;
        uint32_t q = (uint32_t)(((uint64_t)s * e->rcp) >> 32) >> e->shift;
        x[j] = s + e->bias + q * e->cmpl;
    }
    memcpy(states, x, sizeof x);
    return (int64_t)(dst + cap - w);
}

// One decode-table entry per slot: symbol (8 bits), frequency - 1 (12 bits), and the slot's
// offset within its symbol's range (12 bits). A step is then one load and one multiply-add:
// x' = (f) * (x >> 12) + offset.
static int build_table(const uint16_t freq[256], uint32_t *table) {
    uint32_t cum = 0;
    for (uint32_t s = 0; s < 256; s++) {
        uint32_t f = freq[s];
        if (f == 0) continue;
        if (f > SCALE || cum + f > SCALE) return 0;
        for (uint32_t k = 0; k < f; k++) table[cum + k] = s | (f - 1) << 8 | k << 20;
        cum += f;
    }
    return cum == SCALE;
}

// Whole rounds of 32 symbols while at least 64 bytes of words remain (a round reads at most
// 32 words), so no read needs its own bounds check. The renormalization is branch-free:
// whether a state needs a word is data, and a branch on it would mispredict often.
// Returns symbols done.
static int64_t decode_rounds(const uint32_t *table, const uint8_t **pp, const uint8_t *end,
                             uint32_t x[LR_LANES], uint8_t *dst, int64_t n) {
    const uint8_t *p = *pp;
    int64_t i = 0;
    while (n - i >= LR_LANES && end - p >= 64) {
        for (int j = 0; j < LR_LANES; j++) {
            uint32_t s = x[j];
            uint32_t e = table[s & MASK];
            dst[i + j] = (uint8_t)e;
            s = (((e >> 8) & 0xFFF) + 1) * (s >> LR_SCALE_BITS) + (e >> 20);
            uint32_t w = (uint32_t)p[0] | (uint32_t)p[1] << 8;
            // s < 2^31, so s - 2^15 has its top bit set exactly when s < 2^15: a mask,
            // which keeps clang from turning the choice back into a branch.
            uint32_t need = (s - LR_LOWER) >> 31, m = 0u - need;
            x[j] = (s & ~m) | ((s << 16 | w) & m);
            p += 2 * need;
        }
        i += LR_LANES;
    }
    *pp = p;
    return i;
}

#if defined(__x86_64__)
// For a mask m of the lanes that read a word (bit k = lane k), entry k of ranks[m] is how many
// lanes below k read one: the index of lane k's word among the eight loaded.
static uint32_t ranks[256][8] __attribute__((aligned(32)));
static pthread_once_t ranks_once = PTHREAD_ONCE_INIT;
static void build_ranks(void) {
    for (int m = 0; m < 256; m++)
        for (int k = 0; k < 8; k++) ranks[m][k] = (uint32_t)__builtin_popcount((unsigned)m & ((1u << k) - 1));
}

// One decode step for eight lanes; reads this vector's words at *p and advances it.
__attribute__((target("avx2,popcnt"), always_inline)) static inline __m256i
step8(__m256i x, const uint32_t *table, const uint8_t **p, __m256i *sym) {
    const __m256i mask = _mm256_set1_epi32((int)MASK);
    const __m256i low12 = _mm256_set1_epi32(0xFFF);
    const __m256i one = _mm256_set1_epi32(1);
    const __m256i lower = _mm256_set1_epi32((int)LR_LOWER);
    __m256i e = _mm256_i32gather_epi32((const int *)table, _mm256_and_si256(x, mask), 4);
    __m256i f = _mm256_add_epi32(_mm256_and_si256(_mm256_srli_epi32(e, 8), low12), one);
    x = _mm256_add_epi32(_mm256_mullo_epi32(f, _mm256_srli_epi32(x, LR_SCALE_BITS)), _mm256_srli_epi32(e, 20));
    // States stay below 2^31, so the signed compare is exact.
    __m256i need = _mm256_cmpgt_epi32(lower, x);
    int m = _mm256_movemask_ps(_mm256_castsi256_ps(need));
    __m256i words = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)*p));
    words = _mm256_permutevar8x32_epi32(words, _mm256_load_si256((const __m256i *)ranks[m]));
    x = _mm256_blendv_epi8(x, _mm256_or_si256(_mm256_slli_epi32(x, 16), words), need);
    *p += 2 * __builtin_popcount((unsigned)m);
    *sym = _mm256_and_si256(e, _mm256_set1_epi32(0xFF));
    return x;
}

// Whole rounds of 32 symbols while at least 64 bytes of words remain: a round reads at most
// 32 words, and each vector's 16-byte load then stays inside the stream. Returns symbols done.
__attribute__((target("avx2,popcnt"))) static int64_t
decode_avx2(const uint32_t *table, const uint8_t **pp, const uint8_t *end, uint32_t x[LR_LANES],
            uint8_t *dst, int64_t n) {
    pthread_once(&ranks_once, build_ranks);
    const uint8_t *p = *pp;
    __m256i x0 = _mm256_loadu_si256((const __m256i *)(x + 0));
    __m256i x1 = _mm256_loadu_si256((const __m256i *)(x + 8));
    __m256i x2 = _mm256_loadu_si256((const __m256i *)(x + 16));
    __m256i x3 = _mm256_loadu_si256((const __m256i *)(x + 24));
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    int64_t i = 0;
    while (n - i >= LR_LANES && end - p >= 64) {
        __m256i s0, s1, s2, s3;
        x0 = step8(x0, table, &p, &s0);
        x1 = step8(x1, table, &p, &s1);
        x2 = step8(x2, table, &p, &s2);
        x3 = step8(x3, table, &p, &s3);
        // 4 x 8 symbols (one per 32-bit lane) to 32 bytes in lane order: the packs work per
        // 128-bit half, so the dwords come out as s0a s1a s2a s3a s0b s1b s2b s3b.
        __m256i b = _mm256_packus_epi16(_mm256_packus_epi32(s0, s1), _mm256_packus_epi32(s2, s3));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_permutevar8x32_epi32(b, order));
        i += LR_LANES;
    }
    _mm256_storeu_si256((__m256i *)(x + 0), x0);
    _mm256_storeu_si256((__m256i *)(x + 8), x1);
    _mm256_storeu_si256((__m256i *)(x + 16), x2);
    _mm256_storeu_si256((__m256i *)(x + 24), x3);
    *pp = p;
    return i;
}
#endif

int lr_rans32_has_simd(void) {
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
#else
    return 0;
#endif
}

int lr_rans32_decode(const uint8_t *words, int64_t len, const uint32_t states[LR_LANES],
                     const uint16_t freq[256], uint8_t *dst, int64_t n, int allow_simd) {
    uint32_t table[SCALE];
    if (!build_table(freq, table)) return LR_BAD_TABLE;
    uint32_t x[LR_LANES];
    for (int j = 0; j < LR_LANES; j++) {
        // Inside [2^15, 2^31) a step reads at most one word and stays inside, whatever the
        // data: the decoder's reads are bounded by the symbol count.
        if (states[j] < LR_LOWER || states[j] >= (1u << 31)) return LR_BAD_STATE;
        x[j] = states[j];
    }
    if (len % 2 != 0) return LR_TRAILING;
    const uint8_t *p = words, *end = words + len;
    int64_t i = 0;
#if defined(__x86_64__)
    if (allow_simd && lr_rans32_has_simd()) i = decode_avx2(table, &p, end, x, dst, n);
#else
    (void)allow_simd;
#endif
    if (i == 0) i = decode_rounds(table, &p, end, x, dst, n);
    // The rest, each word read checked against the end.
    for (; i < n; i++) {
        uint32_t j = (uint32_t)i & (LR_LANES - 1);
        uint32_t s = x[j];
        uint32_t e = table[s & MASK];
        dst[i] = (uint8_t)e;
        s = (((e >> 8) & 0xFFF) + 1) * (s >> LR_SCALE_BITS) + (e >> 20);
        if (s < LR_LOWER) {
            if (end - p < 2) return LR_TRUNCATED;
            s = s << 16 | (uint32_t)p[0] | (uint32_t)p[1] << 8;
            p += 2;
        }
        x[j] = s;
    }
    if (p != end) return LR_TRAILING;
    for (int j = 0; j < LR_LANES; j++)
        if (x[j] != LR_LOWER) return LR_BAD_FINAL;
    return LR_OK;
}
