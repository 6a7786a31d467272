/* split.c - stratified train / validation / test split: each class shuffled with its own
 * seeded stream and cut by the fractions; every part keeps the original row order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/preprocess.h"
#include "astrotrain/rng.h"

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

at_status at_split_labels(const int32_t *y, size_t n, size_t k, double f_train, double f_valid, double f_test,
                          uint64_t seed, size_t *parts[3], size_t counts[3], at_error *err) {
    counts[0] = counts[1] = counts[2] = 0;
    if (f_train < 0 || f_valid < 0 || f_test < 0 || fabs(f_train + f_valid + f_test - 1.0) > 1e-9)
        return at_fail(err, AT_ERR_CONFIG, "split fractions %g / %g / %g must be >= 0 and sum to 1", f_train,
                       f_valid, f_test);
    size_t *idx = at_malloc(n + 1, sizeof *idx, err);
    if (!idx) return AT_ERR_MEMORY;
    for (size_t c = 0; c < k; c++) {
        size_t nc = 0;
        for (size_t i = 0; i < n; i++)
            if (y[i] == (int32_t)c) idx[nc++] = i;
        at_rng r;
        at_rng_init(&r, seed, 0x5900 + c);
        at_rng_shuffle(&r, idx, nc);
        size_t ntr = (size_t)llround((double)nc * f_train);
        size_t nva = (size_t)llround((double)nc * f_valid);
        if (ntr > nc) ntr = nc;
        if (nva > nc - ntr) nva = nc - ntr;
        memcpy(parts[0] + counts[0], idx, ntr * sizeof *idx);
        memcpy(parts[1] + counts[1], idx + ntr, nva * sizeof *idx);
        memcpy(parts[2] + counts[2], idx + ntr + nva, (nc - ntr - nva) * sizeof *idx);
        counts[0] += ntr;
        counts[1] += nva;
        counts[2] += nc - ntr - nva;
    }
    for (int p = 0; p < 3; p++) qsort(parts[p], counts[p], sizeof(size_t), cmp_size);
    free(idx);
    return AT_OK;
}

at_status at_split_stratified(const at_dataset *ds, double f_train, double f_valid, double f_test,
                              uint64_t seed, at_dataset **train, at_dataset **valid,
                              at_dataset **test, at_error *err) {
    *train = *valid = *test = NULL;
    if (f_train < 0 || f_valid < 0 || f_test < 0 || fabs(f_train + f_valid + f_test - 1.0) > 1e-9)
        return at_fail(err, AT_ERR_CONFIG, "split fractions %g / %g / %g must be >= 0 and sum to 1", f_train,
                       f_valid, f_test);
    if (!ds->y) return at_fail(err, AT_ERR_DATA, "a stratified split needs labelled data");
    size_t n = ds->n;
    size_t *parts[3];
    size_t counts[3] = {0, 0, 0};
    for (int p = 0; p < 3; p++) parts[p] = at_malloc(n + 1, sizeof(size_t), err);
    if (!parts[0] || !parts[1] || !parts[2]) {
        free(parts[0]), free(parts[1]), free(parts[2]);
        return AT_ERR_MEMORY;
    }
    at_status st = at_split_labels(ds->y, n, ds->n_classes, f_train, f_valid, f_test, seed, parts, counts, err);
    at_dataset **outs[3] = {train, valid, test};
    for (int p = 0; p < 3 && !st; p++) st = at_dataset_subset(ds, parts[p], counts[p], outs[p], err);
    free(parts[0]), free(parts[1]), free(parts[2]);
    if (st) {
        at_dataset_free(*train), at_dataset_free(*valid), at_dataset_free(*test);
        *train = *valid = *test = NULL;
    }
    return st;
}
