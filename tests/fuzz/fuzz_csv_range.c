/* fuzz_csv_range.c - the byte ranges of a distributed read (issue 15: MPI): a plain CSV cut at
 * any point into two ranges, each read as its own shard through the loader. The first byte
 * picks the cut (as a fraction of the file) and the options; the rest is the file. Never a
 * crash or an error without a message; and when the file holds no quote (a quoted field may
 * hide a line end, which ranges do not support) and both halves and the whole file load, the
 * two shards hold exactly the whole file's rows, in order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/csv.h"
#include "fuzz_util.h"

static const char *const range_features_[] = {"u", "g", "redshift"};

static at_status range_load(const char *path, uint8_t sel, int64_t b, int64_t e, at_dataset **ds,
                            at_load_report *rep) {
    at_load_options lo;
    at_load_options_default(&lo);
    lo.features = range_features_;
    lo.n_features = 3;
    lo.label = "class";
    lo.missing = (at_missing_policy)(sel % 3);
    lo.csv.allow_comments = (sel >> 2) & 1;
    lo.csv.max_line = 4096;
    lo.csv.range_begin = b;
    lo.csv.range_end = e;
    lo.shard = e > 0;
    at_error err = {0};
    at_status s = at_dataset_load_csv(path, &lo, ds, rep, &err);
    if (s && !err.msg[0]) abort();
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t sel = data[0];
    const char *path = fuzz_write(data + 1, size - 1);
    int64_t n = (int64_t)size - 1, cut = n * (sel >> 3) / 32;
    at_dataset *a = NULL, *b = NULL, *all = NULL;
    at_load_report ra = {0}, rb = {0}, rall = {0};
    at_status sa = range_load(path, sel, 0, cut > 0 ? cut : 1, &a, &ra);
    at_status sb = range_load(path, sel, cut, INT64_MAX, &b, &rb);
    at_status sall = range_load(path, sel, 0, 0, &all, &rall);
    if (!sa && !sb && !sall && !memchr(data + 1, '"', size - 1)) {
        if (ra.rows_read + rb.rows_read != rall.rows_read) abort();
        if (a->n + b->n != all->n) abort();
        for (size_t i = 0; i < all->n; i++) {
            const at_dataset *p = i < a->n ? a : b;
            size_t j = i < a->n ? i : i - a->n;
            if (memcmp(p->X + j * 3, all->X + i * 3, 3 * sizeof(double)) != 0) abort();
        }
    }
    at_dataset_free(a);
    at_dataset_free(b);
    at_dataset_free(all);
    return 0;
}
