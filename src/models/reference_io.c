/* reference_io.c - the training reference (reference.h) in a model file: the optional
 * group reference/ beside meta/ and preprocess/, every size checked on reading.
 *
 *   reference/n_train, seed, n_sample, test_n (int), test_accuracy (real, NaN unknown)
 *   reference/edges   d x (AT_REF_BINS-1)    reference/counts d x AT_REF_BINS
 *   reference/lo, hi, missing (d)           reference/sample d x n_sample
 *   reference/class_train, class_pred (k)   reference/winprob (AT_REF_PBINS) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/reference.h"

at_status at_reference_write(const at_reference *r, at_store *st, at_error *err) {
    at_status s;
    size_t d = r->d, k = r->k;
    if ((s = at_store_put_int(st, "reference/n_train", (int64_t)r->n_train, err)) ||
        (s = at_store_put_int(st, "reference/seed", (int64_t)r->seed, err)) ||
        (s = at_store_put_int(st, "reference/n_sample", (int64_t)r->n_sample, err)) ||
        (s = at_store_put_int(st, "reference/test_n", (int64_t)r->test_n, err)) ||
        (s = at_store_put_real(st, "reference/test_accuracy", r->test_accuracy, err)) ||
        (s = at_store_put_f64_2d(st, "reference/edges", r->edges, d, AT_REF_BINS - 1, err)) ||
        (s = at_store_put_f64_2d(st, "reference/counts", r->counts, d, AT_REF_BINS, err)) ||
        (s = at_store_put_f64(st, "reference/lo", r->lo, d, err)) ||
        (s = at_store_put_f64(st, "reference/hi", r->hi, d, err)) ||
        (s = at_store_put_f64(st, "reference/missing", r->missing, d, err)) ||
        (s = at_store_put_f64(st, "reference/class_train", r->class_train, k, err)) ||
        (s = at_store_put_f64(st, "reference/class_pred", r->class_pred, k, err)) ||
        (s = at_store_put_f64(st, "reference/winprob", r->winprob, AT_REF_PBINS, err)))
        return s;
    if (r->n_sample && (s = at_store_put_f64_2d(st, "reference/sample", r->sample, d, r->n_sample, err))) return s;
    return AT_OK;
}

/* Exactly n doubles of dataset name into dst (1-D or 2-D). */
static at_status read_exact(at_store *st, const char *name, double *dst, size_t n, at_error *err) {
    double *v = NULL;
    size_t m = 0;
    at_status s = at_store_get_f64(st, name, &v, &m, err);
    if (s) return s;
    if (m != n) s = at_fail(err, AT_ERR_MODEL, "%s: %s has %zu values, expected %zu", at_store_path(st), name, m, n);
    else memcpy(dst, v, n * sizeof *dst);
    free(v);
    return s;
}

at_status at_reference_read(at_store *st, size_t d, size_t k, at_reference **out, at_error *err) {
    *out = NULL;
    int64_t n_train = 0, seed = 0, n_sample = 0, test_n = 0;
    double acc = NAN;
    at_status s;
    if ((s = at_store_get_int(st, "reference/n_train", &n_train, err)) ||
        (s = at_store_get_int(st, "reference/seed", &seed, err)) ||
        (s = at_store_get_int(st, "reference/n_sample", &n_sample, err)) ||
        (s = at_store_get_int(st, "reference/test_n", &test_n, err)) ||
        (s = at_store_get_real(st, "reference/test_accuracy", &acc, err)))
        return s;
    if (n_train < 0 || n_sample < 0 || n_sample > AT_REF_SAMPLE || n_sample > n_train || test_n < 0)
        return at_fail(err, AT_ERR_MODEL, "%s: reference/: invalid sizes (corrupt file?)", at_store_path(st));
    at_reference *r = at_calloc(1, sizeof *r, err);
    if (!r) return AT_ERR_MEMORY;
    r->d = d, r->k = k, r->n_sample = (size_t)n_sample;
    r->edges = at_malloc(d * (AT_REF_BINS - 1) + 1, sizeof *r->edges, err);
    r->counts = at_malloc(d * AT_REF_BINS + 1, sizeof *r->counts, err);
    r->lo = at_malloc(d + 1, sizeof *r->lo, err);
    r->hi = at_malloc(d + 1, sizeof *r->hi, err);
    r->missing = at_malloc(d + 1, sizeof *r->missing, err);
    r->sample = at_malloc(d * r->n_sample + 1, sizeof *r->sample, err);
    r->class_train = at_malloc(k + 1, sizeof *r->class_train, err);
    r->class_pred = at_malloc(k + 1, sizeof *r->class_pred, err);
    if (!r->edges || !r->counts || !r->lo || !r->hi || !r->missing || !r->sample || !r->class_train || !r->class_pred)
        s = AT_ERR_MEMORY;
    r->n_train = (size_t)n_train, r->seed = (uint64_t)seed, r->test_n = (size_t)test_n, r->test_accuracy = acc;
    if (!s) s = read_exact(st, "reference/edges", r->edges, d * (AT_REF_BINS - 1), err);
    if (!s) s = read_exact(st, "reference/counts", r->counts, d * AT_REF_BINS, err);
    if (!s) s = read_exact(st, "reference/lo", r->lo, d, err);
    if (!s) s = read_exact(st, "reference/hi", r->hi, d, err);
    if (!s) s = read_exact(st, "reference/missing", r->missing, d, err);
    if (!s) s = read_exact(st, "reference/class_train", r->class_train, k, err);
    if (!s) s = read_exact(st, "reference/class_pred", r->class_pred, k, err);
    if (!s) s = read_exact(st, "reference/winprob", r->winprob, AT_REF_PBINS, err);
    if (!s && r->n_sample) s = read_exact(st, "reference/sample", r->sample, d * r->n_sample, err);
    /* Edges must ascend (a NaN ends them) for the bin search to be meaningful. */
    for (size_t j = 0; !s && j < d; j++) {
        const double *e = r->edges + j * (AT_REF_BINS - 1);
        for (size_t i = 1; i < AT_REF_BINS - 1 && !isnan(e[i]); i++)
            if (!(e[i] > e[i - 1]))
                s = at_fail(err, AT_ERR_MODEL, "%s: reference/edges of feature %zu do not ascend (corrupt file?)",
                            at_store_path(st), j);
    }
    if (s) {
        at_reference_free(r);
        return s;
    }
    *out = r;
    return AT_OK;
}
