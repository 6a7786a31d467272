/* fuzz_util.h - what the fuzz targets share: the parsers under test read files, so each
 * input is written to one scratch file per process before the call.
 *
 * The targets are built two ways: with libFuzzer (make fuzz, clang) and, renamed, into
 * tests/unit/test_fuzz_corpus.c, which replays every kept input in the ordinary test run. */
#ifndef ASTROTRAIN_FUZZ_UTIL_H
#define ASTROTRAIN_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* HDF5 1.10 leaks internal buffers when it rejects corrupt metadata (see
 * tests/unit/test_model_file.c); leaks allocated inside libhdf5 only are not reported. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libhdf5_serial.so\nleak:libhdf5.so\n"; }

static char fuzz_path_[64];

static void fuzz_cleanup_(void) {
    if (fuzz_path_[0]) unlink(fuzz_path_);
}

/* The scratch file's name (created on first use, removed at exit). */
static const char *fuzz_temp_path(void) {
    if (!fuzz_path_[0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(fuzz_path_, sizeof fuzz_path_, "%s/astrotrain-fuzz-XXXXXX", dir && *dir ? dir : "/tmp");
        int fd = mkstemp(fuzz_path_);
        if (fd < 0) abort();
        close(fd);
        atexit(fuzz_cleanup_);
    }
    return fuzz_path_;
}

/* Writes size bytes of data as the whole scratch file; returns its name. */
static const char *fuzz_write(const void *data, size_t size) {
    const char *path = fuzz_temp_path();
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    if (fclose(f) != 0) abort();
    return path;
}

#endif
