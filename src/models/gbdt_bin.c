/* gbdt_bin.c - quantile binning of features for histogram boosting: at most max_bin bins
 * per feature, cut between distinct training values so that bins hold about equal counts,
 * and bin codes (uint8, with the code after the last bin for missing values). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/gbdt_internal.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The cut between two neighbouring distinct values a < b: the midpoint, or a itself when
 * the midpoint rounds up to b (a and b adjacent doubles), so that a <= cut < b always. */
static double cut_between(double a, double b) {
    double mid = a + (b - a) * 0.5;
    if (!(mid < b) || !(mid >= a) || !isfinite(mid)) mid = a;
    return mid;
}

/* Edges of one feature from its sorted non-missing values v[0..m); returns the bin count. */
static int32_t feature_edges(const double *v, size_t m, int max_bin, double *edges) {
    if (m == 0) return 0;
    /* Distinct values count: when it fits, every distinct value gets its own bin. */
    size_t distinct = 1;
    for (size_t i = 1; i < m; i++) distinct += v[i] != v[i - 1];
    int32_t nb = 0;
    if (distinct <= (size_t)max_bin) {
        for (size_t i = 1; i < m; i++)
            if (v[i] != v[i - 1]) edges[nb++] = cut_between(v[i - 1], v[i]);
    } else {
        /* Greedy equal-count bins over the runs of equal values: close a bin once it holds
         * its share of the rows left, or just before a run that alone fills a share, and
         * recompute the share from what is left (a heavy value takes a bin to itself without
         * starving its neighbours). */
        double rest_rows = (double)m, rest_bins = (double)max_bin, acc = 0;
        size_t i = 0;
        while (i < m && rest_bins > 1) {
            size_t j = i + 1;
            while (j < m && v[j] == v[i]) j++; /* run [i, j) */
            acc += (double)(j - i);
            if (j >= m) break;
            size_t k = j + 1;
            while (k < m && v[k] == v[j]) k++; /* next run [j, k) */
            double share = rest_rows / rest_bins;
            if (acc >= share || (double)(k - j) >= share) {
                edges[nb++] = cut_between(v[j - 1], v[j]);
                rest_rows -= acc;
                rest_bins -= 1;
                acc = 0;
            }
            i = j;
        }
    }
    edges[nb++] = INFINITY;
    return nb;
}

at_status gbdt_bins_fit(const double *X, size_t n, size_t d, int max_bin, gbdt_bins *b,
                        at_error *err) {
    memset(b, 0, sizeof *b);
    if (max_bin < 2 || max_bin > GBDT_MAX_BIN)
        return at_fail(err, AT_ERR_CONFIG, "max_bin must be between 2 and %d, not %d",
                       GBDT_MAX_BIN, max_bin);
    b->d = d;
    b->n_bins = at_calloc(d, sizeof *b->n_bins, err);
    b->offset = at_calloc(d + 1, sizeof *b->offset, err);
    b->edges = at_malloc(d * (size_t)max_bin, sizeof *b->edges, err);
    double *v = at_malloc(n, sizeof *v, err);
    if (!b->n_bins || !b->offset || !b->edges || !v) {
        free(v);
        gbdt_bins_free(b);
        return AT_ERR_MEMORY;
    }
    for (size_t f = 0; f < d; f++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            double x = X[i * d + f];
            if (!isnan(x)) v[m++] = x;
        }
        qsort(v, m, sizeof *v, cmp_double);
        b->n_bins[f] = feature_edges(v, m, max_bin, b->edges + b->offset[f]);
        b->offset[f + 1] = b->offset[f] + b->n_bins[f];
    }
    free(v);
    return AT_OK;
}

void gbdt_bins_free(gbdt_bins *b) {
    free(b->n_bins);
    free(b->offset);
    free(b->edges);
    memset(b, 0, sizeof *b);
}

uint8_t gbdt_bin_code(const gbdt_bins *b, size_t f, double x) {
    int32_t nb = b->n_bins[f];
    if (isnan(x) || nb == 0) return (uint8_t)nb;
    const double *e = b->edges + b->offset[f];
    /* First edge >= x; the last edge is +inf, so one always exists. */
    int32_t lo = 0, hi = nb - 1;
    while (lo < hi) {
        int32_t mid = (lo + hi) / 2;
        if (x <= e[mid]) hi = mid;
        else lo = mid + 1;
    }
    return (uint8_t)lo;
}

void gbdt_bins_encode(const gbdt_bins *b, const double *X, size_t n, uint8_t *codes, int threads) {
    size_t d = b->d;
#pragma omp parallel for schedule(static) num_threads(threads > 0 ? threads : 1)
    for (size_t f = 0; f < d; f++)
        for (size_t i = 0; i < n; i++) codes[f * n + i] = gbdt_bin_code(b, f, X[i * d + f]);
}
