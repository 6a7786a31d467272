/* drift.c - statistics of monitoring (see drift.h): PSI, KS, Wilson, chi-square. */
#include "astrotrain/drift.h"

#include <math.h>
#include <stdlib.h>

double at_psi(const double *expected, const double *actual, size_t n, double eps) {
    double te = 0, ta = 0;
    for (size_t i = 0; i < n; i++) te += expected[i], ta += actual[i];
    if (te <= 0 || ta <= 0) return 0;
    double psi = 0;
    for (size_t i = 0; i < n; i++) {
        double e = expected[i] / te, a = actual[i] / ta;
        if (e < eps) e = eps;
        if (a < eps) a = eps;
        psi += (a - e) * log(a / e);
    }
    return psi;
}

void at_wilson(size_t successes, size_t n, double z, double *lo, double *hi) {
    if (n == 0) {
        *lo = 0, *hi = 1;
        return;
    }
    double nn = (double)n, p = (double)successes / nn, z2 = z * z;
    double denom = 1 + z2 / nn;
    double centre = (p + z2 / (2 * nn)) / denom;
    double half = z / denom * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
    *lo = fmax(0.0, centre - half);
    *hi = fmin(1.0, centre + half);
}

double at_gamma_q(double a, double x) {
    if (!(a > 0) || !(x >= 0)) return NAN;
    if (x == 0) return 1;
    double lg = lgamma(a);
    if (x < a + 1) { /* P by its series, Q = 1 - P */
        double ap = a, sum = 1 / a, del = sum;
        for (int i = 0; i < 1000; i++) {
            ap += 1;
            del *= x / ap;
            sum += del;
            if (fabs(del) < fabs(sum) * 1e-16) break;
        }
        return 1 - sum * exp(-x + a * log(x) - lg);
    }
    /* Q by Lentz's continued fraction. */
    const double tiny = 1e-300;
    double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
    for (int i = 1; i < 1000; i++) {
        double an = -i * (i - a);
        b += 2;
        d = an * d + b;
        if (fabs(d) < tiny) d = tiny;
        c = b + an / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-16) break;
    }
    return exp(-x + a * log(x) - lg) * h;
}

double at_chisq_gof(const double *observed, const double *expected, size_t n, double *stat, size_t *df) {
    double to = 0, te = 0;
    for (size_t i = 0; i < n; i++) to += observed[i], te += expected[i];
    *stat = 0;
    *df = n ? n - 1 : 0;
    if (to <= 0 || te <= 0 || n < 2) return 1;
    for (size_t i = 0; i < n; i++) {
        double share = expected[i] / te;
        if (share < AT_PSI_EPS) share = AT_PSI_EPS;
        double e = share * to, dlt = observed[i] - e;
        *stat += dlt * dlt / e;
    }
    return at_gamma_q((double)*df / 2, *stat / 2);
}

double at_kolmogorov_q(double lambda) {
    if (lambda <= 0) return 1;
    if (lambda < 0.2) return 1; /* the series needs many terms there; Q = 1 - 1e-20 or closer */
    double sum = 0, sign = 1;
    for (int j = 1; j <= 100; j++) {
        double t = exp(-2.0 * j * j * lambda * lambda);
        sum += sign * t;
        sign = -sign;
        if (t < 1e-18) break;
    }
    double q = 2 * sum;
    return q < 0 ? 0 : q > 1 ? 1 : q;
}

double at_ks_pvalue(double d, size_t n1, size_t n2) {
    if (n1 == 0 || n2 == 0) return 1;
    double en = (double)n1 * (double)n2 / ((double)n1 + (double)n2), s = sqrt(en);
    return at_kolmogorov_q((s + 0.12 + 0.11 / s) * d);
}

double at_bonferroni(double p, size_t m) {
    double q = p * (double)m;
    return q > 1 ? 1 : q;
}

at_status at_ks_accum_init(at_ks_accum *a, const double *ref, size_t m, at_error *err) {
    a->ref = ref, a->m = m, a->n = 0;
    a->lt = at_calloc(m + 1, sizeof *a->lt, err);
    a->eq = at_calloc(m + 1, sizeof *a->eq, err);
    if (!a->lt || !a->eq) {
        at_ks_accum_free(a);
        return AT_ERR_MEMORY;
    }
    return AT_OK;
}

void at_ks_accum_add(at_ks_accum *a, double x) {
    size_t lo = 0, hi = a->m; /* first ref >= x */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a->ref[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    if (lo < a->m && a->ref[lo] == x) a->eq[lo] += 1;
    else a->lt[lo] += 1;
    a->n += 1;
}

double at_ks_accum_stat(const at_ks_accum *a) {
    if (a->m == 0 || a->n == 0) return 0;
    double m = (double)a->m, cum = 0, dmax = 0;
    size_t i = 0;
    while (i < a->m) {
        size_t j = i;
        while (j < a->m && a->ref[j] == a->ref[i]) j++;
        /* Just below ref[i]: i reference values, cum + lt[i] batch values. */
        double below = fabs((cum + a->lt[i]) / a->n - (double)i / m);
        cum += a->lt[i] + a->eq[i];
        double at = fabs(cum / a->n - (double)j / m);
        if (below > dmax) dmax = below;
        if (at > dmax) dmax = at;
        i = j;
    }
    return dmax;
}

void at_ks_accum_free(at_ks_accum *a) {
    free(a->lt), free(a->eq);
    a->lt = a->eq = NULL;
}
