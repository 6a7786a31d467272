/* fuzz_fits.c - FITS binary tables through the chunked table reader, as predict drives it
 * (catalogue mode: every row kept with its issue, a kept column, optional label) and the
 * whole-file loader (training). The first byte picks the HDU (first table, by number, by
 * name), the missing policy, the chunk size; the rest is the file (seeds: small tables
 * written by astropy, tests/fuzz/corpus/fits/). Properties: no crash, an error always has a
 * message, chunks never exceed their size, issues name a real feature. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/csv.h"
#include "fuzz_util.h"

/* CFITSIO sizes some allocations from header values (a hostile TFIELDS, NAXIS1); a failed
 * calloc is its "memory allocation error", which it reports. Let those return NULL rather
 * than stop the sanitizer run (the corpus file huge_header_alloc is such an input). */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

static const char *const fits_features_[] = {"u", "g", "redshift"};
static const char *const fits_classes_[] = {"GALAXY", "QSO", "STAR"};
static const char *const fits_keep_[] = {"objid"};

static void fits_read_all(const char *path, uint8_t sel) {
    static const char *const hdus[] = {NULL, "1", "CAT", "0"};
    at_load_options lo;
    at_load_options_default(&lo);
    lo.features = fits_features_;
    lo.n_features = 3;
    lo.label = "class";
    lo.label_optional = 1;
    lo.class_names = fits_classes_;
    lo.n_classes = 3;
    lo.missing = (at_missing_policy)((sel >> 2) % 3);
    lo.hdu = hdus[sel & 3];
    lo.keep_all_rows = (sel >> 4) & 1;
    lo.keep = fits_keep_;
    lo.n_keep = (sel >> 5) & 1;
    at_error err = {0};
    at_table_reader *t = NULL;
    size_t chunk = 1 + (size_t)(sel >> 6) * 3;
    at_status s = at_table_open(path, &lo, &t, &err);
    while (s == AT_OK) {
        at_dataset *part = NULL;
        s = at_table_read(t, chunk, &part, &err);
        size_t n = part ? part->n : 0;
        if (s == AT_OK) {
            if (n > chunk) abort();
            for (size_t i = 0; i < n; i++) {
                size_t f = 0;
                at_row_issue is = at_table_row_issue(t, i, &f);
                if (is > AT_ROW_NOT_NUMBER || f >= 3) abort();
                if (lo.n_keep && !at_table_kept(t, i, 0)) abort();
                if (part->y && (part->y[i] < -1 || part->y[i] >= 3)) abort();
            }
        }
        at_dataset_free(part);
        if (s == AT_OK && n == 0) break;
    }
    if (s != AT_OK && !err.msg[0]) abort();
    at_table_close(t);

    /* The whole-file loader (training): classes discovered. */
    lo.class_names = NULL;
    lo.n_classes = 0;
    lo.label_optional = 0;
    lo.keep_all_rows = 0;
    lo.n_keep = 0;
    lo.max_table_bytes = (size_t)1 << 24;
    at_dataset *ds = NULL;
    at_load_report rep = {0};
    err.msg[0] = '\0';
    s = at_dataset_load_csv(path, &lo, &ds, &rep, &err);
    if (s == AT_OK && (!ds || ds->n == 0 || ds->n > rep.rows_read)) abort();
    if (s != AT_OK && !err.msg[0]) abort();
    at_dataset_free(ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    fits_read_all(fuzz_write(data + 1, size - 1), data[0]);
    return 0;
}
