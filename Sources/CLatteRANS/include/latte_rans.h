// The hot loops of the `rans32` plane codec (docs/FORMAT.md, section 5): an order-0 rANS
// coder with 32 interleaved lanes and 16-bit renormalization, so a decoder can run 8 lanes
// per AVX2 instruction. The stream's header (symbol bitmap, frequencies, states) is read and
// checked in Swift (LatteFormat's RANS); these functions see only validated tables.
#ifndef LATTE_RANS_H
#define LATTE_RANS_H

#include <stdint.h>

/// Lanes: symbol i is coded by lane i % 32.
#define LR_LANES 32
/// Probabilities are frequencies out of 2^12.
#define LR_SCALE_BITS 12
/// States live in [LR_LOWER, 2^31); a decoder reads one 16-bit word when a state drops below.
#define LR_LOWER (1u << 15)

/// Outcomes of lr_rans32_decode.
enum {
    LR_OK = 0,
    LR_TRUNCATED = 1,     ///< a lane needed a word after the last one
    LR_TRAILING = 2,      ///< words were left over (or the word stream has an odd length)
    LR_BAD_FINAL = 3,     ///< a state did not end at LR_LOWER
    LR_BAD_STATE = 4,     ///< an initial state outside [LR_LOWER, 2^31)
    LR_BAD_TABLE = 5,     ///< frequencies do not sum to 2^12
};

/// Encodes src[0 ..< n] with the frequencies freq[256] (summing to 2^12, nonzero for every
/// symbol that occurs in src). The word stream is written backwards so that it ends at
/// dst + cap; cap must be at least 2 * n + 2. Returns the stream's length in bytes (it
/// starts at dst + cap - length) and the 32 final states (the decoder's initial ones).
int64_t lr_rans32_encode(const uint8_t *src, int64_t n, const uint16_t freq[256],
                         uint8_t *dst, int64_t cap, uint32_t states[LR_LANES]);

/// Decodes n symbols into dst from the 32 initial states and the word stream
/// words[0 ..< len]. Never reads outside words[0 ..< len], whatever its content. With
/// allow_simd set, uses AVX2 when the CPU has it (same result as the scalar loop).
int lr_rans32_decode(const uint8_t *words, int64_t len, const uint32_t states[LR_LANES],
                     const uint16_t freq[256], uint8_t *dst, int64_t n, int allow_simd);

/// 1 when lr_rans32_decode can use its AVX2 loop on this CPU.
int lr_rans32_has_simd(void);

#endif
