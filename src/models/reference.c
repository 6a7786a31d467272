/* reference.c - builds the training reference of a model (see reference.h): quantile
 * bins, counts, range and a seeded sample of each feature's raw training values, the class
 * mix, and the test part's winning-probability histogram and accuracy. */
#include "astrotrain/reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/metrics.h"
#include "astrotrain/rng.h"

/* The sample's random stream: the run's seed, a stream of its own. */
#define AT_REF_STREAM 0x5245464552454e43ULL /* "REFERENC" */

void at_reference_free(at_reference *r) {
    if (!r) return;
    free(r->edges), free(r->counts), free(r->lo), free(r->hi), free(r->missing);
    free(r->sample), free(r->class_train), free(r->class_pred);
    free(r);
}

/* Allocates every array for d features, k classes, n_sample sample rows. */
static at_status ref_alloc(size_t d, size_t k, size_t n_sample, at_reference **out, at_error *err) {
    at_reference *r = at_calloc(1, sizeof *r, err);
    if (!r) return AT_ERR_MEMORY;
    r->d = d, r->k = k, r->n_sample = n_sample;
    r->edges = at_malloc(d * (AT_REF_BINS - 1) + 1, sizeof *r->edges, err);
    r->counts = at_calloc(d * AT_REF_BINS + 1, sizeof *r->counts, err);
    r->lo = at_calloc(d + 1, sizeof *r->lo, err);
    r->hi = at_calloc(d + 1, sizeof *r->hi, err);
    r->missing = at_calloc(d + 1, sizeof *r->missing, err);
    r->sample = at_calloc(d * n_sample + 1, sizeof *r->sample, err);
    r->class_train = at_calloc(k + 1, sizeof *r->class_train, err);
    r->class_pred = at_calloc(k + 1, sizeof *r->class_pred, err);
    if (!r->edges || !r->counts || !r->lo || !r->hi || !r->missing || !r->sample || !r->class_train ||
        !r->class_pred) {
        at_reference_free(r);
        return AT_ERR_MEMORY;
    }
    for (size_t i = 0; i < d * (AT_REF_BINS - 1); i++) r->edges[i] = NAN;
    r->test_accuracy = NAN;
    *out = r;
    return AT_OK;
}

size_t at_reference_bins(const at_reference *r, size_t j) {
    const double *e = r->edges + j * (AT_REF_BINS - 1);
    size_t nb = 1;
    while (nb < AT_REF_BINS && !isnan(e[nb - 1])) nb++;
    return nb;
}

size_t at_reference_bin_of(const at_reference *r, size_t j, double x) {
    const double *e = r->edges + j * (AT_REF_BINS - 1);
    size_t lo = 0, hi = at_reference_bins(r, j) - 1; /* edges used */
    while (lo < hi) { /* first edge >= x */
        size_t mid = (lo + hi) / 2;
        if (e[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* NaNs sort last. */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    if (isnan(x)) return isnan(y) ? 0 : 1;
    if (isnan(y)) return -1;
    return (x > y) - (x < y);
}

at_status at_reference_build(const at_dataset *train, uint64_t seed, at_reference **out, at_error *err) {
    *out = NULL;
    size_t n = train->n, d = train->d, k = train->n_classes;
    size_t ns = n < AT_REF_SAMPLE ? n : AT_REF_SAMPLE;
    at_reference *r = NULL;
    at_status s = ref_alloc(d, k, ns, &r, err);
    if (s) return s;
    r->n_train = n;
    r->seed = seed;
    double *v = at_malloc(n + 1, sizeof *v, err);
    size_t *idx = at_malloc(n + 1, sizeof *idx, err);
    if (!v || !idx) {
        free(v), free(idx), at_reference_free(r);
        return AT_ERR_MEMORY;
    }
    /* The sample: the first ns rows of a seeded shuffle, the same rows for every feature. */
    for (size_t i = 0; i < n; i++) idx[i] = i;
    at_rng rng;
    at_rng_init(&rng, seed, AT_REF_STREAM);
    for (size_t i = 0; i < ns; i++) { /* partial Fisher-Yates */
        size_t j = i + (size_t)at_rng_below(&rng, n - i);
        size_t t = idx[i];
        idx[i] = idx[j], idx[j] = t;
    }
    for (size_t j = 0; j < d; j++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            double x = train->X[i * d + j];
            if (isfinite(x)) v[m++] = x;
        }
        r->missing[j] = (double)(n - m);
        qsort(v, m, sizeof *v, cmp_double);
        double *e = r->edges + j * (AT_REF_BINS - 1);
        size_t ne = 0;
        if (m) {
            r->lo[j] = v[0], r->hi[j] = v[m - 1];
            /* Deciles (lower order statistic); equal edges merge, and an edge at the
             * maximum would leave an empty last bin, so it is dropped. */
            for (size_t q = 1; q < AT_REF_BINS; q++) {
                double x = v[(size_t)floor((double)q * (double)(m - 1) / AT_REF_BINS)];
                if (x < v[m - 1] && (ne == 0 || x > e[ne - 1])) e[ne++] = x;
            }
        } else {
            r->lo[j] = r->hi[j] = NAN;
        }
        for (size_t i = 0; i < m; i++) r->counts[j * AT_REF_BINS + at_reference_bin_of(r, j, v[i])] += 1;
        double *smp = r->sample + j * ns;
        for (size_t i = 0; i < ns; i++) smp[i] = train->X[idx[i] * d + j];
        qsort(smp, ns, sizeof *smp, cmp_double);
    }
    if (train->y)
        for (size_t i = 0; i < n; i++)
            if (train->y[i] >= 0 && (size_t)train->y[i] < k) r->class_train[train->y[i]] += 1;
    free(v), free(idx);
    *out = r;
    return AT_OK;
}

void at_reference_set_test(at_reference *r, const int32_t *y, const double *P, size_t n) {
    memset(r->class_pred, 0, r->k * sizeof *r->class_pred);
    memset(r->winprob, 0, sizeof r->winprob);
    size_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        size_t c = at_argmax(P + i * r->k, r->k);
        double p = P[i * r->k + c];
        r->class_pred[c] += 1;
        size_t b = p >= 1 ? AT_REF_PBINS - 1 : p <= 0 ? 0 : (size_t)(p * AT_REF_PBINS);
        r->winprob[b] += 1;
        if (y && y[i] == (int32_t)c) correct++;
    }
    r->test_n = n;
    r->test_accuracy = y && n ? (double)correct / (double)n : NAN;
}

at_status at_reference_copy(const at_reference *r, at_reference **out, at_error *err) {
    at_reference *c = NULL;
    at_status s = ref_alloc(r->d, r->k, r->n_sample, &c, err);
    if (s) return s;
    size_t d = r->d, k = r->k;
    memcpy(c->edges, r->edges, d * (AT_REF_BINS - 1) * sizeof *c->edges);
    memcpy(c->counts, r->counts, d * AT_REF_BINS * sizeof *c->counts);
    memcpy(c->lo, r->lo, d * sizeof *c->lo);
    memcpy(c->hi, r->hi, d * sizeof *c->hi);
    memcpy(c->missing, r->missing, d * sizeof *c->missing);
    memcpy(c->sample, r->sample, d * r->n_sample * sizeof *c->sample);
    memcpy(c->class_train, r->class_train, k * sizeof *c->class_train);
    memcpy(c->class_pred, r->class_pred, k * sizeof *c->class_pred);
    memcpy(c->winprob, r->winprob, sizeof c->winprob);
    c->n_train = r->n_train, c->seed = r->seed, c->test_accuracy = r->test_accuracy, c->test_n = r->test_n;
    *out = c;
    return AT_OK;
}
