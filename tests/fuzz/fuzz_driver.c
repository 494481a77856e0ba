/* A libFuzzer stand-in for gcc builds: replays a corpus directory, then
 * runs a bounded number of deterministic mutations of it (and of random
 * bytes) through LLVMFuzzerTestOneInput. ctest runs it as a short fuzz. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEEDS      256
#define FUZZ_MAX_INPUT (256 * 1024)

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Mutates buf[0..*len) in place: flips, overwrites, inserts, truncates. */
static void mutate(uint8_t *buf, size_t *len, size_t cap)
{
    int edits = 1 + (int)(next() % 8);
    for (int e = 0; e < edits; e++) {
        size_t n = *len;
        switch (next() % 6) {
        case 0:
            if (n)
                buf[next() % n] ^= (uint8_t)(1u << (next() % 8));
            break;
        case 1:
            if (n)
                buf[next() % n] = (uint8_t)next();
            break;
        case 2: { /* interesting values */
            static const uint8_t v[] = {0, 1, 0x7f, 0x80, 0xff, 3, 9, 0x3f};
            if (n)
                buf[next() % n] = v[next() % sizeof(v)];
            break;
        }
        case 3: /* insert a byte */
            if (n < cap) {
                size_t at = n ? next() % n : 0;
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = (uint8_t)next();
                (*len)++;
            }
            break;
        case 4: /* truncate */
            if (n)
                *len = next() % n;
            break;
        default: /* duplicate a slice */
            if (n > 4 && n < cap) {
                size_t from = next() % n, cnt = 1 + next() % 16;
                if (from + cnt > n)
                    cnt = n - from;
                if (n + cnt > cap)
                    cnt = cap - n;
                size_t at = next() % n;
                memmove(buf + at + cnt, buf + at, n - at);
                memmove(buf + at, buf + (from >= at ? from + cnt : from), cnt);
                *len += cnt;
            }
            break;
        }
    }
}

int main(int argc, char **argv)
{
    static uint8_t *seeds[MAX_SEEDS];
    static size_t lens[MAX_SEEDS];
    int nseeds = 0;
    long runs = 2000;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "-runs=", 6) == 0) {
            runs = atol(argv[i] + 6);
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) {
            fprintf(stderr, "fuzz: cannot open corpus %s\n", argv[i]);
            return 2;
        }
        struct dirent *de;
        while ((de = readdir(d)) && nseeds < MAX_SEEDS) {
            if (de->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
            FILE *f = fopen(path, "rb");
            if (!f)
                continue;
            uint8_t *b = malloc(FUZZ_MAX_INPUT);
            size_t n = b ? fread(b, 1, FUZZ_MAX_INPUT, f) : 0;
            fclose(f);
            if (!b)
                continue;
            seeds[nseeds] = b;
            lens[nseeds++] = n;
        }
        closedir(d);
    }
    for (int i = 0; i < nseeds; i++) {
        uint8_t *copy = malloc(lens[i] ? lens[i] : 1);
        memcpy(copy, seeds[i], lens[i]);
        LLVMFuzzerTestOneInput(copy, lens[i]);
        free(copy);
    }
    uint8_t *buf = malloc(FUZZ_MAX_INPUT);
    for (long r = 0; r < runs; r++) {
        size_t len;
        if (nseeds && next() % 8) {
            int s = (int)(next() % (uint64_t)nseeds);
            len = lens[s];
            memcpy(buf, seeds[s], len);
        } else {
            len = next() % 4096;
            for (size_t k = 0; k < len; k++)
                buf[k] = (uint8_t)next();
        }
        mutate(buf, &len, FUZZ_MAX_INPUT);
        /* An exact-size heap copy so ASan sees reads past the end. */
        uint8_t *in = malloc(len ? len : 1);
        memcpy(in, buf, len);
        LLVMFuzzerTestOneInput(in, len);
        free(in);
    }
    free(buf);
    for (int i = 0; i < nseeds; i++)
        free(seeds[i]);
    printf("fuzz: %d seeds replayed, %ld mutated inputs, no crash\n", nseeds,
           runs);
    return 0;
}
