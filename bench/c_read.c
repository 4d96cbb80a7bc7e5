// Reads every tensor of a .latte file through the C ABI (latte_read_tensors), REPS times, and
// prints the mean GB/s of the calls. Destinations are either reused across calls ("warm":
// their pages already mapped) or a fresh anonymous map per call ("fresh": every output page
// faulted in, as in a process that loads its weights once). bench/c_read.sh drives it.
//   c_read FILE.latte THREADS REPS warm|fresh
#include "latte.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: c_read FILE.latte THREADS REPS warm|fresh\n"); return 64; }
    int threads = atoi(argv[2]), reps = atoi(argv[3]), fresh = strcmp(argv[4], "fresh") == 0;
    latte_file *f;
    if (latte_open(argv[1], &f) != LATTE_OK) { fprintf(stderr, "error: %s\n", latte_last_error()); return 1; }
    int64_t n = latte_tensor_count(f), total = 0, span = 0;
    int64_t *indices = malloc(n * sizeof *indices), *sizes = malloc(n * sizeof *sizes);
    void **buffers = malloc(n * sizeof *buffers);
    for (int64_t i = 0; i < n; i++) {
        const char *name, *dtype, *role;
        int32_t ndim, section, group, layer;
        const int64_t *shape;
        latte_tensor_info(f, i, &name, &dtype, &ndim, &shape, &sizes[i], &section, &group, &layer, &role);
        indices[i] = i;
        total += sizes[i];
        span += (sizes[i] + 63) & ~63;  // 64-byte aligned, as numpy and torch allocate
    }
    char *memory = NULL;
    double seconds = 0;
    for (int r = 0; r < reps; r++) {
        if (fresh || memory == NULL) {
            if (memory) munmap(memory, span + 64);
            memory = mmap(NULL, span + 64, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (memory == MAP_FAILED) { perror("mmap"); return 1; }
            int64_t at = 0;
            for (int64_t i = 0; i < n; i++) { buffers[i] = memory + at; at += (sizes[i] + 63) & ~63; }
        }
        double t = now();
        if (latte_read_tensors(f, n, indices, buffers, sizes, threads) != LATTE_OK) {
            fprintf(stderr, "error: %s\n", latte_last_error());
            return 1;
        }
        seconds += now() - t;
    }
    printf("%.3f\n", (double)total * reps / seconds / 1e9);
    latte_close(f);
    return 0;
}
