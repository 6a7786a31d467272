/* scale_global.c - the scaler's statistics over the training rows of every rank: min/max by a
 * reduction, mean and standard deviation from sums kept exact in 128-bit fixed point (each
 * value rounded to a multiple of 2^-s, s set by the largest magnitude of all ranks so that it
 * fills 62 bits), so that the sums, and the scaler, are the same bits whatever the number of
 * ranks and whatever order the rows come in. Partial sums are exchanged by one allgather and
 * added in rank order (integer addition: any order gives the same result). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/comm.h"
#include "astrotrain/preprocess.h"

typedef __int128 i128;

/* The shift that puts |x| <= amax below 2^62. */
static int shift_for(double amax) {
    if (!(amax > 0) || !isfinite(amax)) return 0;
    int e;
    frexp(amax, &e); /* amax < 2^e */
    return 62 - e;
}

/* Sums over all ranks of d int128 values (exact). */
static at_status sum_i128(at_comm *comm, i128 *v, size_t d, at_error *err) {
    int P = at_comm_size(comm);
    if (P == 1) return AT_OK;
    void *all = NULL;
    at_status s = at_comm_allgatherv(comm, v, d * sizeof *v, &all, NULL, err);
    if (s) return s;
    const i128 *a = all;
    for (size_t j = 0; j < d; j++) {
        i128 t = 0;
        for (int r = 0; r < P; r++) t += a[(size_t)r * d + j];
        v[j] = t;
    }
    free(all);
    return AT_OK;
}

/* sum_i f(x_ij) exactly, for f(x) = x - c (c per feature, may be NULL) squared or not. */
static at_status exact_sums(const at_dataset *t, const double *center, int square, at_comm *comm, double *out,
                            at_error *err) {
    size_t d = t->d, n = t->n;
    double *amax = at_calloc(d + 1, sizeof *amax, err);
    i128 *acc = at_calloc(d + 1, sizeof *acc, err);
    at_status s = !amax || !acc ? AT_ERR_MEMORY : AT_OK;
    for (size_t i = 0; !s && i < n; i++)
        for (size_t j = 0; j < d; j++) {
            double x = t->X[i * d + j];
            if (!isfinite(x)) continue;
            double v = center ? x - center[j] : x;
            if (square) v *= v;
            if (fabs(v) > amax[j]) amax[j] = fabs(v);
        }
    if (!s) s = at_comm_max_f64(comm, amax, d, err);
    for (size_t i = 0; !s && i < n; i++)
        for (size_t j = 0; j < d; j++) {
            double x = t->X[i * d + j];
            if (!isfinite(x)) continue;
            double v = center ? x - center[j] : x;
            if (square) v *= v;
            acc[j] += (i128)llrint(ldexp(v, shift_for(amax[j])));
        }
    if (!s) s = sum_i128(comm, acc, d, err);
    for (size_t j = 0; !s && j < d; j++) out[j] = ldexp((double)acc[j], -shift_for(amax[j]));
    free(amax);
    free(acc);
    return s;
}

at_status at_scaler_fit_global(at_scaler_kind kind, const at_dataset *train, at_comm *comm, at_scaler **out,
                               at_error *err) {
    *out = NULL;
    size_t d = train->d, n = train->n;
    double *shift = at_calloc(d + 1, sizeof *shift, err), *scale = at_malloc(d + 1, sizeof *scale, err);
    double *cnt = at_calloc(d + 1, sizeof *cnt, err), *tmp = at_calloc(d + 1, sizeof *tmp, err);
    at_status s = !shift || !scale || !cnt || !tmp ? AT_ERR_MEMORY : AT_OK;
    for (size_t j = 0; !s && j < d; j++) scale[j] = 1.0;
    if (!s && kind == AT_SCALER_STANDARD) {
        /* Two passes, as numpy's std (ddof 0): the mean, then the mean squared deviation. */
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) cnt[j] += isfinite(train->X[i * d + j]);
        if (!(s = at_comm_sum_f64(comm, cnt, d, err)) && !(s = exact_sums(train, NULL, 0, comm, tmp, err))) {
            for (size_t j = 0; j < d; j++) shift[j] = cnt[j] > 0 ? tmp[j] / cnt[j] : 0;
            s = exact_sums(train, shift, 1, comm, tmp, err);
        }
        for (size_t j = 0; !s && j < d; j++) {
            double sd = cnt[j] > 0 ? sqrt(tmp[j] / cnt[j]) : 0;
            scale[j] = sd > 0 ? sd : 1.0;
        }
    } else if (!s && kind == AT_SCALER_MINMAX) {
        for (size_t j = 0; j < d; j++) shift[j] = INFINITY, tmp[j] = -INFINITY;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) {
                double x = train->X[i * d + j];
                if (isfinite(x)) {
                    if (x < shift[j]) shift[j] = x;
                    if (x > tmp[j]) tmp[j] = x;
                }
            }
        if (!(s = at_comm_min_f64(comm, shift, d, err))) s = at_comm_max_f64(comm, tmp, d, err);
        for (size_t j = 0; !s && j < d; j++) {
            double lo = shift[j], hi = tmp[j];
            if (!isfinite(lo)) lo = 0, hi = 1;
            shift[j] = lo;
            scale[j] = hi > lo ? hi - lo : 1.0;
        }
    }
    if (!s) s = at_scaler_new(kind, d, shift, scale, out, err);
    free(shift), free(scale), free(cnt), free(tmp);
    return s;
}
