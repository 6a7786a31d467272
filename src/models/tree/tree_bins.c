/* tree_bins.c - the one binner of the tree learners: quantile cuts between distinct training
 * values of each feature, the smallest and largest training value of each bin, and uint8 bin
 * codes (the code after the last bin for missing values). The cut rule is the family's
 * choice (tree.h); sorting, bin bounds, codes and storage are shared. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/tree/tree.h"

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

/* RANK: distinct value j (first at sorted position j) goes to raw bin floor(j * max_bin / m);
 * raw bins left empty by heavy ties are skipped, so there are at most max_bin bins. */
static int32_t edges_rank(const double *v, size_t m, int max_bin, double *edges) {
    int32_t nb = 0;
    size_t last_raw = SIZE_MAX;
    for (size_t j = 0; j < m; j++) {
        if (j > 0 && v[j] == v[j - 1]) continue;
        size_t raw = (size_t)((unsigned __int128)j * (unsigned)max_bin / m);
        if (raw == last_raw) continue;
        if (nb > 0) edges[nb - 1] = cut_between(v[j - 1], v[j]);
        nb++;
        last_raw = raw;
    }
    edges[nb - 1] = INFINITY;
    return nb;
}

/* GREEDY: every distinct value its own bin when they fit; else equal-count bins over the
 * runs of equal values: close a bin once it holds its share of the rows left, or just before
 * a run that alone fills a share, and recompute the share from what is left (a heavy value
 * takes a bin to itself without starving its neighbours). */
static int32_t edges_greedy(const double *v, size_t m, int max_bin, double *edges) {
    size_t distinct = 1;
    for (size_t i = 1; i < m; i++) distinct += v[i] != v[i - 1];
    int32_t nb = 0;
    if (distinct <= (size_t)max_bin) {
        for (size_t i = 1; i < m; i++)
            if (v[i] != v[i - 1]) edges[nb++] = cut_between(v[i - 1], v[i]);
    } else {
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

at_status tree_bins_fit(const double *X, size_t n, size_t d, int max_bin, tree_cut_rule rule,
                        int allow_missing, int threads, tree_bins *b, at_error *err) {
    memset(b, 0, sizeof *b);
    int top = allow_missing ? 255 : 256;
    if (max_bin < 2 || max_bin > top)
        return at_fail(err, AT_ERR_CONFIG, "max_bin must be between 2 and %d, not %d", top, max_bin);
    if (!allow_missing)
        for (size_t i = 0; i < n * d; i++)
            if (isnan(X[i]))
                return at_fail(err, AT_ERR_DATA, "training row %zu, feature %zu is NaN", i / d, i % d);
    size_t mb = (size_t)max_bin;
    b->d = d;
    b->n_bins = at_calloc(d, sizeof *b->n_bins, err);
    b->offset = at_calloc(d + 1, sizeof *b->offset, err);
    b->edge = at_malloc(d * mb, sizeof *b->edge, err);
    b->lo = at_malloc(d * mb, sizeof *b->lo, err);
    b->hi = at_malloc(d * mb, sizeof *b->hi, err);
    if (!b->n_bins || !b->offset || !b->edge || !b->lo || !b->hi) {
        tree_bins_free(b);
        return AT_ERR_MEMORY;
    }
    /* Features in parallel, each in its own stretch of max_bin entries; packed after. */
    int failed = 0;
#pragma omp parallel num_threads(threads > 0 ? threads : 1) reduction(| : failed)
    {
        double *v = malloc((n ? n : 1) * sizeof *v);
        if (!v) failed = 1;
#pragma omp for schedule(dynamic)
        for (size_t f = 0; f < d; f++) {
            if (!v) continue;
            size_t m = 0;
            for (size_t i = 0; i < n; i++) {
                double x = X[i * d + f];
                if (!isnan(x)) v[m++] = x;
            }
            int32_t nb = 0;
            double *e = b->edge + f * mb, *lo = b->lo + f * mb, *hi = b->hi + f * mb;
            if (m > 0) {
                qsort(v, m, sizeof *v, cmp_double);
                nb = rule == TREE_CUTS_RANK ? edges_rank(v, m, max_bin, e)
                                            : edges_greedy(v, m, max_bin, e);
                /* Bin bounds; both rules cut between values, so no bin is empty. */
                int32_t bin = 0;
                lo[0] = v[0];
                for (size_t j = 0; j < m; j++) {
                    if (v[j] > e[bin]) {
                        while (v[j] > e[bin]) bin++;
                        lo[bin] = v[j];
                    }
                    hi[bin] = v[j];
                }
            }
            b->n_bins[f] = nb;
        }
        free(v);
    }
    if (failed) {
        tree_bins_free(b);
        return at_fail(err, AT_ERR_MEMORY, "out of memory while binning");
    }
    for (size_t f = 0; f < d; f++) {
        size_t o = (size_t)b->offset[f], nb = (size_t)b->n_bins[f];
        memmove(b->edge + o, b->edge + f * mb, nb * sizeof *b->edge);
        memmove(b->lo + o, b->lo + f * mb, nb * sizeof *b->lo);
        memmove(b->hi + o, b->hi + f * mb, nb * sizeof *b->hi);
        b->offset[f + 1] = b->offset[f] + (int64_t)nb;
    }
    return AT_OK;
}

void tree_bins_free(tree_bins *b) {
    free(b->n_bins);
    free(b->offset);
    free(b->edge);
    free(b->lo);
    free(b->hi);
    memset(b, 0, sizeof *b);
}

uint8_t tree_bin_code(const tree_bins *b, size_t f, double x) {
    int32_t nb = b->n_bins[f];
    if (isnan(x) || nb == 0) return (uint8_t)nb;
    const double *e = b->edge + b->offset[f];
    /* First edge >= x; the last edge is +inf, so one always exists. */
    int32_t lo = 0, hi = nb - 1;
    while (lo < hi) {
        int32_t mid = (lo + hi) / 2;
        if (x <= e[mid]) hi = mid;
        else lo = mid + 1;
    }
    return (uint8_t)lo;
}

void tree_bins_encode(const tree_bins *b, const double *X, size_t n, uint8_t *codes, int threads) {
    size_t d = b->d;
#pragma omp parallel for schedule(static) num_threads(threads > 0 ? threads : 1)
    for (size_t f = 0; f < d; f++)
        for (size_t i = 0; i < n; i++) codes[f * n + i] = tree_bin_code(b, f, X[i * d + f]);
}
