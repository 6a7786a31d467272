/* dataset.c - allocation, subsetting and counting of in-memory labelled tables. */
#include "astrotrain/dataset.h"

#include <stdlib.h>
#include <string.h>

static char **copy_names(const char *const *names, size_t n, at_error *err) {
    char **out = at_calloc(n, sizeof *out, err);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        out[i] = at_strdup(names[i] ? names[i] : "", err);
        if (!out[i]) {
            for (size_t j = 0; j < i; j++) free(out[j]);
            free(out);
            return NULL;
        }
    }
    return out;
}

at_status at_dataset_new(size_t n, size_t d, int labelled, const char *const *feature_names,
                         const char *const *class_names, size_t n_classes, at_dataset **out,
                         at_error *err) {
    *out = NULL;
    at_dataset *ds = at_calloc(1, sizeof *ds, err);
    if (!ds) return AT_ERR_MEMORY;
    ds->n = n;
    ds->d = d;
    ds->n_classes = n_classes;
    ds->X = at_malloc(n * (d ? d : 1), sizeof *ds->X, err);
    ds->row = at_malloc(n, sizeof *ds->row, err);
    if (labelled) ds->y = at_malloc(n, sizeof *ds->y, err);
    if (feature_names) ds->feature_names = copy_names(feature_names, d, err);
    else ds->feature_names = at_calloc(d, sizeof(char *), err);
    if (n_classes && class_names) ds->class_names = copy_names(class_names, n_classes, err);
    if (!ds->X || !ds->row || (labelled && !ds->y) || !ds->feature_names ||
        (n_classes && class_names && !ds->class_names)) {
        at_dataset_free(ds);
        return AT_ERR_MEMORY;
    }
    *out = ds;
    return AT_OK;
}

void at_dataset_free(at_dataset *ds) {
    if (!ds) return;
    if (ds->feature_names)
        for (size_t j = 0; j < ds->d; j++) free(ds->feature_names[j]);
    if (ds->class_names)
        for (size_t k = 0; k < ds->n_classes; k++) free(ds->class_names[k]);
    free(ds->feature_names);
    free(ds->class_names);
    free(ds->X);
    free(ds->y);
    free(ds->row);
    free(ds);
}

at_status at_dataset_subset(const at_dataset *src, const size_t *idx, size_t m, at_dataset **out,
                            at_error *err) {
    at_status st = at_dataset_new(m, src->d, src->y != NULL, (const char *const *)src->feature_names,
                                  (const char *const *)src->class_names, src->n_classes, out, err);
    if (st) return st;
    at_dataset *ds = *out;
    for (size_t i = 0; i < m; i++) {
        size_t r = idx[i];
        memcpy(ds->X + i * src->d, src->X + r * src->d, src->d * sizeof(double));
        ds->row[i] = src->row[r];
        if (src->y) ds->y[i] = src->y[r];
    }
    return AT_OK;
}

void at_dataset_class_counts(const at_dataset *ds, size_t *counts) {
    memset(counts, 0, ds->n_classes * sizeof *counts);
    if (!ds->y) return;
    for (size_t i = 0; i < ds->n; i++)
        if (ds->y[i] >= 0 && (size_t)ds->y[i] < ds->n_classes) counts[ds->y[i]]++;
}
