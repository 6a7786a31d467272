/* hungarian.c - the Hungarian algorithm with row/column potentials (shortest augmenting
 * paths, O(n^3)): one row is added at a time and the potentials keep every reduced cost
 * non-negative, so the final matching is optimal. */
#include "astrotrain/hungarian.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

/* Minimises sum cost[i][assign[i]]; sign = -1 turns it into a maximisation. Arrays are
 * 1-based inside (index 0 is the virtual start column), as is usual for this method. */
static at_status solve(const double *cost, size_t n, double sign, int *assign, at_error *err) {
    if (n == 0) return AT_OK;
    if (n > (size_t)INT_MAX - 1)
        return at_fail(err, AT_ERR_DATA, "assignment problem too large (%zu rows)", n);
    for (size_t i = 0; i < n * n; i++)
        if (!isfinite(cost[i]))
            return at_fail(err, AT_ERR_DATA, "assignment matrix entry (%zu, %zu) is not finite",
                           i / n, i % n);
    double *u = at_calloc(n + 1, sizeof *u, err);     /* row potentials */
    double *v = at_calloc(n + 1, sizeof *v, err);     /* column potentials */
    double *minv = at_malloc(n + 1, sizeof *minv, err); /* slack per column */
    size_t *p = at_calloc(n + 1, sizeof *p, err);      /* p[j]: row matched to column j */
    size_t *way = at_calloc(n + 1, sizeof *way, err);  /* previous column on the path */
    char *used = at_malloc(n + 1, 1, err);
    at_status s = AT_OK;
    if (!u || !v || !minv || !p || !way || !used) {
        s = AT_ERR_MEMORY;
        goto done;
    }
    for (size_t i = 1; i <= n; i++) {
        p[0] = i;
        size_t j0 = 0;
        for (size_t j = 0; j <= n; j++) {
            minv[j] = INFINITY;
            used[j] = 0;
        }
        do {
            used[j0] = 1;
            size_t i0 = p[j0], j1 = 0;
            double delta = INFINITY;
            for (size_t j = 1; j <= n; j++) {
                if (used[j]) continue;
                double cur = sign * cost[(i0 - 1) * n + (j - 1)] - u[i0] - v[j];
                if (cur < minv[j]) {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if (minv[j] < delta) { /* strict: the first column wins ties */
                    delta = minv[j];
                    j1 = j;
                }
            }
            for (size_t j = 0; j <= n; j++) {
                if (used[j]) {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
        } while (p[j0] != 0);
        /* Flip the augmenting path back to the start column. */
        do {
            size_t j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0);
    }
    for (size_t j = 1; j <= n; j++) assign[p[j] - 1] = (int)(j - 1);
done:
    free(u);
    free(v);
    free(minv);
    free(p);
    free(way);
    free(used);
    return s;
}

at_status at_hungarian_min(const double *cost, size_t n, int *assign, at_error *err) {
    return solve(cost, n, 1.0, assign, err);
}

at_status at_hungarian_max(const double *score, size_t n, int *assign, at_error *err) {
    return solve(score, n, -1.0, assign, err);
}
