/* scale.c - feature scaling fitted on the training part only, applied everywhere
 * (including prediction, from the parameters stored in the model file). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/preprocess.h"

at_status at_scaler_new(at_scaler_kind kind, size_t d, const double *shift, const double *scale,
                        at_scaler **out, at_error *err) {
    *out = NULL;
    at_scaler *s = at_calloc(1, sizeof *s, err);
    if (!s) return AT_ERR_MEMORY;
    s->kind = kind;
    s->d = d;
    s->shift = at_malloc(d, sizeof(double), err);
    s->scale = at_malloc(d, sizeof(double), err);
    if (!s->shift || !s->scale) {
        at_scaler_free(s);
        return AT_ERR_MEMORY;
    }
    for (size_t j = 0; j < d; j++) {
        s->shift[j] = shift ? shift[j] : 0.0;
        s->scale[j] = scale ? scale[j] : 1.0;
        if (!isfinite(s->shift[j]) || !isfinite(s->scale[j]) || s->scale[j] == 0.0) {
            at_scaler_free(s);
            return at_fail(err, AT_ERR_MODEL, "scaler parameter %zu is not usable", j);
        }
    }
    *out = s;
    return AT_OK;
}

at_status at_scaler_fit(at_scaler_kind kind, const at_dataset *train, at_scaler **out, at_error *err) {
    size_t d = train->d, n = train->n;
    double *shift = at_calloc(d, sizeof *shift, err), *scale = at_malloc(d, sizeof *scale, err);
    if (!shift || !scale) {
        free(shift), free(scale);
        return AT_ERR_MEMORY;
    }
    for (size_t j = 0; j < d; j++) {
        scale[j] = 1.0;
        if (kind == AT_SCALER_STANDARD) {
            /* Two passes: the mean, then the population variance (numpy's std, ddof 0). */
            double sum = 0, cnt = 0;
            for (size_t i = 0; i < n; i++) {
                double x = train->X[i * d + j];
                if (isfinite(x)) sum += x, cnt++;
            }
            double mean = cnt > 0 ? sum / cnt : 0, ss = 0;
            for (size_t i = 0; i < n; i++) {
                double x = train->X[i * d + j];
                if (isfinite(x)) ss += (x - mean) * (x - mean);
            }
            double sd = cnt > 0 ? sqrt(ss / cnt) : 0;
            shift[j] = mean;
            scale[j] = sd > 0 ? sd : 1.0;
        } else if (kind == AT_SCALER_MINMAX) {
            double lo = INFINITY, hi = -INFINITY;
            for (size_t i = 0; i < n; i++) {
                double x = train->X[i * d + j];
                if (isfinite(x)) {
                    if (x < lo) lo = x;
                    if (x > hi) hi = x;
                }
            }
            if (!isfinite(lo)) lo = 0, hi = 1;
            shift[j] = lo;
            scale[j] = hi > lo ? hi - lo : 1.0;
        }
    }
    at_status st = at_scaler_new(kind, d, shift, scale, out, err);
    free(shift), free(scale);
    return st;
}

void at_scaler_apply(const at_scaler *s, double *X, size_t n) {
    if (!s || s->kind == AT_SCALER_NONE) return;
    size_t d = s->d;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) X[i * d + j] = (X[i * d + j] - s->shift[j]) / s->scale[j];
}

void at_scaler_free(at_scaler *s) {
    if (!s) return;
    free(s->shift);
    free(s->scale);
    free(s);
}
