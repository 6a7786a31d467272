/* test_fuzz_corpus.c - replays every kept fuzz input (tests/fuzz/corpus/<target>/: the seeds
 * and every input that once crashed or hung, kept as regression tests) through its fuzz
 * target, in the ordinary build and under the sanitizers, without libFuzzer or clang.
 * A target aborts on a broken property; the sanitizers stop on memory errors. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

/* Each target defines LLVMFuzzerTestOneInput; give each its own name here. */
#define LLVMFuzzerTestOneInput fuzz_config_one
#include "../fuzz/fuzz_config.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_csv_one
#include "../fuzz/fuzz_csv.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_csv_gz_one
#include "../fuzz/fuzz_csv_gz.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_model_one
#include "../fuzz/fuzz_model.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_image_one
#include "../fuzz/fuzz_image.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_galaxy10_one
#include "../fuzz/fuzz_galaxy10.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_serve_one
#include "../fuzz/fuzz_serve.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_fits_one
#include "../fuzz/fuzz_fits.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_safetensors_one
#include "../fuzz/fuzz_safetensors.c"
#undef LLVMFuzzerTestOneInput
#define AT_FUZZ_NO_ASAN_OPTIONS /* fuzz_fits.c above defines them */
#define LLVMFuzzerTestOneInput fuzz_fits_image_one
#include "../fuzz/fuzz_fits_image.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_monitor_one
#include "../fuzz/fuzz_monitor.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_serve_rows_one
#include "../fuzz/fuzz_serve_rows.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_csv_range_one
#include "../fuzz/fuzz_csv_range.c"
#undef LLVMFuzzerTestOneInput

typedef int (*target_fn)(const uint8_t *, size_t);

/* Runs fn on every file of tests/fuzz/corpus/name; returns how many. */
static size_t replay(const char *name, target_fn fn) {
    char dir[512];
    const char *root = getenv("AT_ROOT");
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", root && *root ? root : ".", name);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d) return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        struct stat sb;
        if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
            fclose(f);
            continue;
        }
        size_t len = (size_t)sb.st_size;
        uint8_t *buf = malloc(len ? len : 1);
        CHECK(buf && fread(buf, 1, len, f) == len);
        fclose(f);
        fprintf(stderr, "  %s\n", path); /* the culprit, should a sanitizer stop us here */
        fn(buf, len);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

/* At least the inputs checked in today (a corpus only grows: new failures are added), so a
 * moved or emptied corpus folder fails instead of replaying nothing. */
static void test_config_corpus(void) { CHECK(replay("config", fuzz_config_one) >= 12); }
static void test_csv_corpus(void) { CHECK(replay("csv", fuzz_csv_one) >= 10); }
static void test_csv_gz_corpus(void) { CHECK(replay("csv_gz", fuzz_csv_gz_one) >= 13); }
static void test_model_corpus(void) { CHECK(replay("model", fuzz_model_one) >= 6); }
static void test_image_corpus(void) { CHECK(replay("image", fuzz_image_one) >= 6); }
static void test_galaxy10_corpus(void) { CHECK(replay("galaxy10", fuzz_galaxy10_one) >= 5); }
static void test_serve_corpus(void) { CHECK(replay("serve", fuzz_serve_one) >= 12); }
static void test_fits_corpus(void) { CHECK(replay("fits", fuzz_fits_one) >= 7); }
static void test_safetensors_corpus(void) { CHECK(replay("safetensors", fuzz_safetensors_one) >= 7); }
static void test_fits_image_corpus(void) { CHECK(replay("fits_image", fuzz_fits_image_one) >= 8); }
static void test_monitor_corpus(void) { CHECK(replay("monitor", fuzz_monitor_one) >= 9); }
static void test_serve_rows_corpus(void) { CHECK(replay("serve_rows", fuzz_serve_rows_one) >= 8); }
static void test_csv_range_corpus(void) { CHECK(replay("csv_range", fuzz_csv_range_one) >= 5); }

int main(void) {
    RUN(test_config_corpus);
    RUN(test_csv_corpus);
    RUN(test_csv_gz_corpus);
    RUN(test_model_corpus);
    RUN(test_image_corpus);
    RUN(test_galaxy10_corpus);
    RUN(test_serve_corpus);
    RUN(test_fits_corpus);
    RUN(test_safetensors_corpus);
    RUN(test_fits_image_corpus);
    RUN(test_monitor_corpus);
    RUN(test_serve_rows_corpus);
    RUN(test_csv_range_corpus);
    return harness_done();
}
