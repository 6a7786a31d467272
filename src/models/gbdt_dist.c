/* gbdt_dist.c - what boosting needs to train across MPI ranks (each rank holding some of the
 * training rows) and to give the same trees whatever the number of ranks:
 *   - gradients and hessians rounded to multiples of 2^-q, q chosen from the global row count
 *     so that every histogram sum, in any order and on any split of the rows, stays below
 *     2^52 units and is therefore exact in double: the histograms summed across ranks
 *     (tree_reduce -> MPI_Allreduce) are the single process's bits. The rounding is applied in
 *     a single process too (2^-q is about 1e-11 for 1e5 rows), so 1, 2 and 3 ranks agree;
 *   - bin edges from the whole training part, gathered once onto every rank for binning and
 *     freed after (n_train x d doubles held for that moment);
 *   - the class counts of the base scores and the training loss summed across ranks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/comm.h"
#include "models/gbdt_internal.h"

int gbdt_quant_bits(uint64_t n_global) {
    /* |g| <= 1 and 0 <= h <= 1 per row: a sum over n rows stays below 2^52 units of 2^-q. */
    int e = 0;
    while (e < 52 && ((uint64_t)1 << e) <= n_global) e++;
    return 52 - e - 1;
}

void gbdt_quantize(gbdt_gh *gh, size_t n, int q) {
    for (size_t i = 0; i < n; i++) {
        gh[i].g = ldexp(nearbyint(ldexp(gh[i].g, q)), -q);
        gh[i].h = ldexp(nearbyint(ldexp(gh[i].h, q)), -q);
    }
}

void gbdt_dist_sum(void *ctx, double *buf, size_t n) {
    gbdt_dist *dd = ctx;
    if (dd->st) return;
    dd->st = at_comm_sum_f64(dd->comm, buf, n, &dd->err);
}

at_status gbdt_dist_gather_X(gbdt_dist *dd, const at_dataset *tr, double **X, size_t *n, at_error *err) {
    void *all = NULL;
    at_status s = at_comm_allgatherv(dd->comm, tr->X, tr->n * tr->d * sizeof(double), &all, NULL, err);
    if (s) return s;
    *X = all;
    *n = dd->n_global;
    return AT_OK;
}

at_status gbdt_dist_loss(gbdt_dist *dd, size_t n_local, double *loss, double *acc, at_error *err) {
    double v[2] = {*loss * (double)n_local, *acc * (double)n_local};
    at_status s = at_comm_sum_f64(dd->comm, v, 2, err);
    if (s) return s;
    *loss = v[0] / (double)dd->n_global;
    *acc = v[1] / (double)dd->n_global;
    return AT_OK;
}
