// The rans32 codec's own speed, on the exponent plane of a real BF16 checkpoint, against
// zstd decoding the same plane in the same process (bench/rans.sh builds and runs it).
//   rans_bench FILE.safetensors   (BF16 tensors; the plane of the first 512 Ki elements)
#include "latte_rans.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// Best time of `reps` calls of f over 9 rounds: the machine is shared and noisy.
#define BEST(reps, stmt) ({ double best = 1e9; for (int r_ = 0; r_ < 9; r_++) { double t0 = now(); \
    for (int k_ = 0; k_ < (reps); k_++) { stmt; } double d = (now() - t0) / (reps); if (d < best) best = d; } best; })

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: rans_bench FILE.safetensors\n"); return 64; }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *file = malloc(size);
    if (fread(file, 1, size, f) != (size_t)size) { fprintf(stderr, "short read\n"); return 1; }
    fclose(f);
    uint64_t header;
    memcpy(&header, file, 8);
    const uint8_t *data = file + 8 + header;
    int64_t elements = (size - 8 - (long)header) / 2;
    int64_t n = elements < (512 << 10) ? elements : (512 << 10);
    // The plane the writer codes: the top byte of each word rotated left by one bit.
    uint8_t *plane = malloc(n), *out = malloc(n);
    int64_t counts[256] = {0};
    for (int64_t i = 0; i < n; i++) {
        uint16_t v = (uint16_t)(data[2 * i] | data[2 * i + 1] << 8);
        v = (uint16_t)(v << 1 | v >> 15);
        plane[i] = (uint8_t)(v >> 8);
        counts[plane[i]]++;
    }
    // Frequencies out of 4096, each present symbol at least 1, the rounding error on the largest.
    uint16_t freq[256] = {0};
    int sum = 0, top = 0;
    for (int s = 0; s < 256; s++) {
        if (!counts[s]) continue;
        int64_t q = (counts[s] * 4096 + n / 2) / n;
        freq[s] = (uint16_t)(q < 1 ? 1 : q);
        sum += freq[s];
        if (freq[s] > freq[top]) top = s;
    }
    freq[top] = (uint16_t)(freq[top] + 4096 - sum);
    int64_t cap = 2 * n + 2, len = 0;
    uint8_t *buf = malloc(cap);
    uint32_t states[LR_LANES];
    double enc = BEST(20, len = lr_rans32_encode(plane, n, freq, buf, cap, states));
    double dec[2];
    for (int simd = 0; simd < 2; simd++) {
        int rc = 0;
        dec[simd] = BEST(50, rc |= lr_rans32_decode(buf + cap - len, len, states, freq, out, n, simd));
        if (rc || memcmp(out, plane, n)) { fprintf(stderr, "error: round trip failed\n"); return 1; }
    }
    size_t zcap = ZSTD_compressBound(n), zlen = 0;
    uint8_t *z = malloc(zcap);
    double zenc = BEST(20, zlen = ZSTD_compress(z, zcap, plane, n, 3));
    double zdec = BEST(50, ZSTD_decompress(out, n, z, zlen));
    int present = 0;
    for (int s = 0; s < 256; s++) present += freq[s] > 0;
    int64_t stream = 32 + 2 * present + 4 * LR_LANES + len;  // bitmap, frequencies, states, words
    printf("exponent plane of %lld BF16 weights: rans32 %.3f of its bytes, zstd -3 %.3f\n",
           (long long)n, (double)stream / n, (double)zlen / n);
    printf("encode: rans32 %.0f MB/s, zstd -3 %.0f MB/s\n", n / enc / 1e6, n / zenc / 1e6);
    printf("decode: rans32 AVX2 %.0f MB/s%s, portable %.0f MB/s, zstd %.0f MB/s; AVX2 time / zstd time %.2f\n",
           n / dec[1] / 1e6, lr_rans32_has_simd() ? "" : " (no AVX2 here: portable)", n / dec[0] / 1e6,
           n / zdec / 1e6, dec[1] / zdec);
    return 0;
}
