/* gbdt_sample.c - the row and feature draws of one boosted tree (subsample, colsample), from
 * the tree's own random stream, so a draw does not depend on which thread grows the tree. */
#include <stdlib.h>

#include "models/gbdt_internal.h"

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

void gbdt_sample_rows(at_rng *rng, double subsample, size_t n, uint32_t *rows, size_t *m) {
    *m = n;
    if (subsample >= 1) return;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (at_rng_uniform(rng) < subsample) rows[k++] = (uint32_t)i;
    if (k > 0) *m = k;
}

void gbdt_sample_features(at_rng *rng, size_t d, size_t nf, int32_t *feats) {
    for (size_t f = 0; f < d; f++) feats[f] = (int32_t)f;
    if (nf >= d) return;
    for (size_t f = 0; f < nf; f++) {
        size_t k = f + (size_t)at_rng_below(rng, d - f);
        int32_t t = feats[f];
        feats[f] = feats[k];
        feats[k] = t;
    }
    qsort(feats, nf, sizeof *feats, cmp_i32);
}
