/* fuzz_csv_gz.c - gzip catalogues. With the first byte even, the rest is a CSV text that is
 * compressed here (so the CSV grammar is fuzzed behind zlib) and then cut or damaged at a
 * point chosen by the second byte; odd, the rest is written as it is (raw, mutated gzip
 * streams: truncated, corrupt, concatenated members). Either way: a status, never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "astrotrain/csv.h"
#include "fuzz_util.h"

/* A gzip file holding data[0..n) (zlib's deflate with a gzip wrapper). */
static unsigned char *gz_compress_(const uint8_t *data, size_t n, size_t *out_n) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    size_t cap = deflateBound(&z, (uLong)n) + 64;
    unsigned char *out = malloc(cap);
    if (!out) abort();
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    *out_n = z.total_out;
    deflateEnd(&z);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2 || size > (1u << 20)) return 0;
    uint8_t mode = data[0], cut = data[1];
    at_load_options lo;
    at_load_options_default(&lo);
    static const char *const features[] = {"u", "g", "redshift"};
    lo.features = features;
    lo.n_features = 3;
    lo.label = "class";
    lo.missing = (at_missing_policy)((mode >> 1) % 3);
    const char *path;
    if (mode & 1) {
        path = fuzz_write(data + 2, size - 2);
    } else {
        size_t n;
        unsigned char *gz = gz_compress_(data + 2, size - 2, &n);
        /* cut 0: whole; 1..127: truncated to cut/128 of the file; 128..255: one byte flipped. */
        if (cut >= 1 && cut < 128) n = n * cut / 128;
        else if (cut >= 128 && n) gz[(n * (size_t)(cut - 128)) / 128] ^= (unsigned char)(1u << (cut & 7));
        path = fuzz_write(gz, n);
        free(gz);
    }
    at_error err = {0};
    at_dataset *ds = NULL;
    at_status s = at_dataset_load_csv(path, &lo, &ds, NULL, &err);
    if (s != AT_OK && !err.msg[0]) abort();
    at_dataset_free(ds);
    static const char *const classes[] = {"GALAXY", "QSO", "STAR"};
    lo.class_names = classes;
    lo.n_classes = 3;
    lo.label_optional = 1;
    at_table_reader *t = NULL;
    s = at_table_open(path, &lo, &t, &err);
    while (s == AT_OK) {
        at_dataset *part = NULL;
        s = at_table_read(t, 7, &part, &err);
        size_t n = part ? part->n : 0;
        at_dataset_free(part);
        if (s == AT_OK && n == 0) break;
    }
    if (s != AT_OK && !err.msg[0]) abort();
    at_table_close(t);
    return 0;
}
