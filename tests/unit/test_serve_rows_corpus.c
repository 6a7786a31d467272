/* test_serve_rows_corpus.c - replays every kept input of the fast rows reader's differential
 * fuzz target (tests/fuzz/corpus/serve_rows/: the seeds and the inputs that once broke it)
 * through tests/fuzz/fuzz_serve_rows.c in the ordinary build and under the sanitizers, as
 * test_fuzz_corpus.c does for the other targets (its own file so branches merge cleanly).
 * The target aborts on a broken property. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "harness.h"

#define LLVMFuzzerTestOneInput fuzz_serve_rows_one
#include "../fuzz/fuzz_serve_rows.c"
#undef LLVMFuzzerTestOneInput

/* Every file of tests/fuzz/corpus/serve_rows through the target; returns how many. */
static size_t replay(void) {
    char dir[512];
    const char *root = getenv("AT_ROOT");
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/serve_rows", root && *root ? root : ".");
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
        fuzz_serve_rows_one(buf, len);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

/* At least the inputs checked in today (a corpus only grows). */
static void test_serve_rows_corpus(void) { CHECK(replay() >= 8); }

int main(void) {
    RUN(test_serve_rows_corpus);
    return harness_done();
}
