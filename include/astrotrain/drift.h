/* drift.h - the statistics of monitoring: population stability index, the two-sample
 * Kolmogorov-Smirnov test (streaming against a sorted reference sample), the Wilson score
 * interval, the chi-square goodness-of-fit test with its regularised incomplete gamma, and
 * the Bonferroni correction. Pure functions, no allocation except the KS accumulator. */
#ifndef ASTROTRAIN_DRIFT_H
#define ASTROTRAIN_DRIFT_H

#include <stddef.h>

#include "status.h"

/* A share below this counts as this share in PSI (an empty bin would make it infinite). */
#define AT_PSI_EPS 1e-4

/* PSI = sum_i (a_i - e_i) ln(a_i / e_i) over n bins, with e_i, a_i the shares of the
 * expected (reference) and actual counts, each share floored at eps. 0 when either side
 * has no counts at all. */
double at_psi(const double *expected, const double *actual, size_t n, double eps);

/* Wilson score interval for `successes` of n at z (1.959963984540054 for 95%): [lo, hi].
 * n == 0 gives [0, 1]. */
void at_wilson(size_t successes, size_t n, double z, double *lo, double *hi);

/* Regularised upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a), a > 0, x >= 0
 * (series for x < a + 1, continued fraction otherwise; relative accuracy ~1e-14). */
double at_gamma_q(double a, double x);

/* Chi-square goodness of fit of observed counts against the shares of expected counts
 * (n categories; a category with no expected count is floored at AT_PSI_EPS share).
 * *stat = sum (o - E)^2 / E, *df = n - 1, returns the p-value Q(df/2, stat/2). */
double at_chisq_gof(const double *observed, const double *expected, size_t n, double *stat, size_t *df);

/* Kolmogorov distribution's survival function Q_KS(lambda) = 2 sum (-1)^(j-1) exp(-2 j^2 lambda^2). */
double at_kolmogorov_q(double lambda);

/* Two-sided p-value of a two-sample KS statistic d for sample sizes n1, n2: the asymptotic
 * distribution with Stephens' small-sample correction, Q_KS((sqrt(en) + 0.12 + 0.11 /
 * sqrt(en)) d), en = n1 n2 / (n1 + n2). SciPy's ks_2samp computes the exact distribution
 * for samples up to 10,000 and kstwo(round(en)) above; the two agree within 0.01 on the
 * sizes monitoring sees (tests/e2e/monitor_stats.sh checks them against each other). */
double at_ks_pvalue(double d, size_t n1, size_t n2);

/* Bonferroni: min(1, p m). */
double at_bonferroni(double p, size_t m);

/* The KS statistic between a sorted reference sample ref[m] (finite values) and a stream
 * of batch values, exact (the same D as scipy.stats.ks_2samp), in O(m) memory: each batch
 * value is counted in the gap of the reference it falls in. */
typedef struct at_ks_accum {
    const double *ref;
    size_t m;
    double *lt;  /* m + 1: batch values strictly between ref[i-1] and ref[i] (first of equals) */
    double *eq;  /* m: batch values equal to ref[i] (i the first of equals) */
    double n;    /* batch values added */
} at_ks_accum;

at_status at_ks_accum_init(at_ks_accum *a, const double *ref, size_t m, at_error *err);
void at_ks_accum_add(at_ks_accum *a, double x); /* x finite */
/* sup |F_ref - F_batch|; 0 when either side is empty. */
double at_ks_accum_stat(const at_ks_accum *a);
void at_ks_accum_free(at_ks_accum *a);

#endif
