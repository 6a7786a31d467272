/* undersample.c - random undersampling of every class (seeded, one stream per class),
 * keeping the surviving rows in their original order. */
#include <stdlib.h>
#include <string.h>

#include "astrotrain/preprocess.h"
#include "astrotrain/rng.h"

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

at_status at_undersample_labels(const int32_t *y, size_t n, size_t k, at_undersample_strategy strategy,
                                size_t per_class, uint64_t seed, size_t *keep, size_t *m_out, at_error *err) {
    *m_out = 0;
    size_t *counts = at_calloc(k + 1, sizeof *counts, err);
    size_t *idx = at_malloc(n + 1, sizeof *idx, err);
    if (!counts || !idx) {
        free(counts), free(idx);
        return AT_ERR_MEMORY;
    }
    for (size_t i = 0; i < n; i++)
        if (y[i] >= 0 && (size_t)y[i] < k) counts[y[i]]++;
    size_t target = (size_t)-1;
    if (strategy == AT_UNDERSAMPLE_MINORITY) {
        for (size_t c = 0; c < k; c++)
            if (counts[c] && counts[c] < target) target = counts[c];
    } else if (strategy == AT_UNDERSAMPLE_PER_CLASS) {
        target = per_class;
    }
    size_t m = 0;
    for (size_t c = 0; c < k; c++) {
        size_t nc = 0;
        for (size_t i = 0; i < n; i++)
            if (y[i] == (int32_t)c) idx[nc++] = i;
        size_t take = nc < target ? nc : target;
        if (take < nc) {
            at_rng r;
            at_rng_init(&r, seed, 0x5500 + c);
            /* Partial Fisher-Yates: the first `take` entries are a uniform sample. */
            for (size_t i = 0; i < take; i++) {
                size_t j = i + (size_t)at_rng_below(&r, nc - i);
                size_t t = idx[i];
                idx[i] = idx[j];
                idx[j] = t;
            }
        }
        memcpy(keep + m, idx, take * sizeof *idx);
        m += take;
    }
    qsort(keep, m, sizeof *keep, cmp_size);
    free(counts), free(idx);
    *m_out = m;
    return AT_OK;
}

at_status at_undersample(const at_dataset *ds, at_undersample_strategy strategy, size_t per_class,
                         uint64_t seed, at_dataset **out, at_error *err) {
    *out = NULL;
    size_t k = ds->n_classes;
    if (!ds->y || k == 0) return at_fail(err, AT_ERR_DATA, "undersampling needs labelled data");
    size_t *keep = at_malloc(ds->n + 1, sizeof *keep, err);
    if (!keep) return AT_ERR_MEMORY;
    size_t m = 0;
    at_status st = at_undersample_labels(ds->y, ds->n, k, strategy, per_class, seed, keep, &m, err);
    if (!st) st = at_dataset_subset(ds, keep, m, out, err);
    free(keep);
    return st;
}
