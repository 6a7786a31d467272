/* test_monitor_stats.c - the statistics of monitoring against hand-computed values (PSI,
 * Wilson, chi-square, Kolmogorov), the streaming KS statistic against a brute-force one,
 * the reference (PSI of its own training rows is 0, bins, model-file round trip) and the
 * alert rules on small records. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "astrotrain/drift.h"
#include "astrotrain/model_file.h"
#include "astrotrain/monitor.h"
#include "astrotrain/reference.h"
#include "astrotrain/rng.h"
#include "harness.h"

static void test_psi_by_hand(void) {
    /* shares e = .1 .2 .3 .4, a = .2 .2 .2 .4: 0.1 ln 2 + 0.1 ln 1.5 = 0.1 ln 3 */
    double e[] = {10, 20, 30, 40}, a[] = {20, 20, 20, 40};
    CHECK_NEAR(at_psi(e, a, 4, AT_PSI_EPS), 0.1 * log(3.0), 1e-15);
    CHECK_NEAR(at_psi(a, e, 4, AT_PSI_EPS), 0.1 * log(3.0), 1e-15); /* symmetric */
    CHECK_NEAR(at_psi(e, e, 4, AT_PSI_EPS), 0.0, 0);
    /* an empty reference bin counts as a share of 1e-4 */
    double e2[] = {50, 50, 0}, a2[] = {40, 40, 20};
    CHECK_NEAR(at_psi(e2, a2, 3, AT_PSI_EPS), 2 * (-0.1 * log(0.8)) + (0.2 - 1e-4) * log(0.2 / 1e-4), 1e-12);
    double z[] = {0, 0, 0};
    CHECK_NEAR(at_psi(z, a2, 3, AT_PSI_EPS), 0.0, 0);
}

static void test_wilson_by_hand(void) {
    double lo, hi;
    /* 81 of 100: centre (0.81 + 1.9208/100) / 1.038415, half 1.88748 * sqrt(0.001539 + 0.000096) */
    at_wilson(81, 100, 1.959963984540054, &lo, &hi);
    CHECK_NEAR(lo, 0.7222115462093562, 1e-12);
    CHECK_NEAR(hi, 0.8748524849023126, 1e-12);
    at_wilson(0, 10, 1.959963984540054, &lo, &hi); /* [0, z^2 / (n + z^2)] */
    CHECK_NEAR(lo, 0.0, 1e-15);
    CHECK_NEAR(hi, 3.841458820694124 / 13.841458820694124, 1e-12);
    at_wilson(0, 0, 1.96, &lo, &hi);
    CHECK(lo == 0 && hi == 1);
}

static void test_gamma_and_chisq(void) {
    for (double x = 0.1; x < 40; x *= 1.7) {
        CHECK_NEAR(at_gamma_q(1, x), exp(-x), 1e-14 * fmax(1, exp(-x)) + 1e-300);
        CHECK_NEAR(at_gamma_q(0.5, x) / erfc(sqrt(x)), 1.0, 1e-12);
    }
    double o[] = {30, 70}, e[] = {1, 1}, st;
    size_t df;
    double p = at_chisq_gof(o, e, 2, &st, &df); /* (20^2 + 20^2) / 50 = 16, df 1 */
    CHECK_NEAR(st, 16.0, 1e-12);
    CHECK(df == 1);
    CHECK_NEAR(p, 6.334248366623988e-05, 1e-17);
    CHECK_NEAR(at_gamma_q(2, 7.5 / 2), 0.11170929281604328, 1e-15); /* chi2.sf(7.5, 4) */
    CHECK_NEAR(at_gamma_q(15, 75) / 6.706952523937869e-18, 1.0, 1e-10); /* chi2.sf(150, 30) */
}

static void test_kolmogorov(void) {
    CHECK_NEAR(at_kolmogorov_q(1.0), 0.26999967167735456, 1e-14); /* scipy kstwobign.sf */
    CHECK_NEAR(at_kolmogorov_q(0.5), 0.9639452436648751, 1e-14);
    CHECK_NEAR(at_bonferroni(0.02, 6), 0.12, 1e-15);
    CHECK(at_bonferroni(0.5, 6) == 1);
}

/* sup |F1 - F2| over every data point, the slow way. */
static double ks_brute(const double *a, size_t n, const double *b, size_t m) {
    double d = 0;
    for (size_t t = 0; t < n + m; t++) {
        double x = t < n ? a[t] : b[t - n], fa = 0, fb = 0;
        for (size_t i = 0; i < n; i++) fa += a[i] <= x;
        for (size_t i = 0; i < m; i++) fb += b[i] <= x;
        d = fmax(d, fabs(fa / (double)n - fb / (double)m));
    }
    return d;
}

static void test_ks_stream_matches_brute_force(void) {
    at_error err = {0};
    double ref[] = {1, 2, 2, 3, 5}, batch[] = {2, 2, 4, 0, 6, 6};
    at_ks_accum a;
    CHECK_OK(at_ks_accum_init(&a, ref, 5, &err), &err);
    for (size_t i = 0; i < 6; i++) at_ks_accum_add(&a, batch[i]);
    CHECK_NEAR(at_ks_accum_stat(&a), ks_brute(ref, 5, batch, 6), 1e-15);
    at_ks_accum_free(&a);
    at_rng r;
    at_rng_init(&r, 3, 0);
    for (int trial = 0; trial < 20; trial++) { /* ties from rounding, shifts of both signs */
        double R[60], B[90];
        for (size_t i = 0; i < 60; i++) R[i] = round(at_rng_normal(&r) * 4) / 4;
        for (size_t i = 0; i < 90; i++) B[i] = round((at_rng_normal(&r) + 0.3 * (trial % 3 - 1)) * 4) / 4;
        for (size_t i = 1; i < 60; i++) /* insertion sort */
            for (size_t j = i; j > 0 && R[j - 1] > R[j]; j--) {
                double t = R[j];
                R[j] = R[j - 1], R[j - 1] = t;
            }
        CHECK_OK(at_ks_accum_init(&a, R, 60, &err), &err);
        for (size_t i = 0; i < 90; i++) at_ks_accum_add(&a, B[i]);
        CHECK_NEAR(at_ks_accum_stat(&a), ks_brute(R, 60, B, 90), 1e-15);
        at_ks_accum_free(&a);
    }
}

static at_dataset *normal_rows(size_t n, uint64_t seed) {
    static const char *names[] = {"x", "step"};
    static const char *cls[] = {"A", "B"};
    at_error err = {0};
    at_dataset *ds = NULL;
    if (at_dataset_new(n, 2, 1, names, cls, 2, &ds, &err)) return NULL;
    at_rng r;
    at_rng_init(&r, seed, 0);
    for (size_t i = 0; i < n; i++) {
        ds->X[i * 2] = at_rng_normal(&r);
        ds->X[i * 2 + 1] = (double)at_rng_below(&r, 4); /* ties: 4 values */
        ds->y[i] = ds->X[i * 2] > 0;
        ds->row[i] = (int64_t)i;
    }
    return ds;
}

static void test_reference_psi_of_itself_is_zero(void) {
    at_error err = {0};
    at_dataset *tr = normal_rows(5000, 1), *other = normal_rows(5000, 2);
    CHECK(tr && other);
    if (!tr || !other) return;
    at_reference *ref = NULL;
    CHECK_OK(at_reference_build(tr, 42, &ref, &err), &err);
    if (!ref) return;
    CHECK(ref->n_sample == AT_REF_SAMPLE && ref->n_train == 5000);
    CHECK(at_reference_bins(ref, 0) == 10);
    CHECK(at_reference_bins(ref, 1) == 4); /* 4 values: edges 0, 1, 2 (3, the maximum, dropped): 4 bins */
    for (size_t j = 0; j < 2; j++) {
        double self[AT_REF_BINS] = {0}, oth[AT_REF_BINS] = {0};
        size_t nb = at_reference_bins(ref, j);
        for (size_t i = 0; i < 5000; i++) {
            self[at_reference_bin_of(ref, j, tr->X[i * 2 + j])] += 1;
            oth[at_reference_bin_of(ref, j, other->X[i * 2 + j])] += 1;
        }
        CHECK_NEAR(at_psi(ref->counts + j * AT_REF_BINS, self, nb, AT_PSI_EPS), 0.0, 1e-15);
        CHECK(at_psi(ref->counts + j * AT_REF_BINS, oth, nb, AT_PSI_EPS) < 0.01);
    }
    /* a value equal to an edge belongs to the bin below it */
    double e0 = ref->edges[0];
    CHECK(at_reference_bin_of(ref, 0, e0) == 0 && at_reference_bin_of(ref, 0, nextafter(e0, 1e9)) == 1);
    CHECK(at_reference_bin_of(ref, 0, -1e300) == 0 && at_reference_bin_of(ref, 0, 1e300) == 9);
    /* sample rows sorted; the same seed draws the same sample */
    at_reference *again = NULL;
    CHECK_OK(at_reference_build(tr, 42, &again, &err), &err);
    int same = again != NULL, sorted = 1;
    for (size_t i = 0; again && i < 2 * ref->n_sample; i++) same &= ref->sample[i] == again->sample[i];
    for (size_t i = 1; i < ref->n_sample; i++) sorted &= ref->sample[i - 1] <= ref->sample[i];
    CHECK(same && sorted);
    /* model-file round trip */
    at_reference_set_test(ref, tr->y, (double[]){0.2, 0.8, 0.9, 0.1, 0.5, 0.5}, 3);
    CHECK(ref->class_pred[0] == 2 && ref->class_pred[1] == 1 && ref->winprob[16] == 1 && ref->winprob[18] == 1 &&
          ref->winprob[10] == 1);
    char path[] = "/tmp/at_ref_rt.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    at_store *st = NULL;
    CHECK_OK(at_store_create(path, &st, &err), &err);
    CHECK_OK(at_reference_write(ref, st, &err), &err);
    CHECK_OK(at_store_commit(st, &err), &err);
    at_reference *back = NULL;
    CHECK_OK(at_store_open(path, &st, &err), &err);
    CHECK_OK(at_reference_read(st, 2, 2, &back, &err), &err);
    at_store_close(st);
    at_store *st2 = NULL;
    CHECK_OK(at_store_open(path, &st2, &err), &err);
    at_reference *bad = NULL;
    CHECK_FAIL(at_reference_read(st2, 3, 2, &bad, &err), AT_ERR_MODEL, &err, "reference/edges");
    at_store_close(st2);
    unlink(path);
    if (back) {
        int eq = back->n_sample == ref->n_sample && back->test_n == 3 && back->test_accuracy == ref->test_accuracy;
        for (size_t i = 0; i < 2 * ref->n_sample; i++) eq &= back->sample[i] == ref->sample[i];
        for (size_t i = 0; i < 2 * AT_REF_BINS; i++) eq &= back->counts[i] == ref->counts[i];
        CHECK(eq);
    }
    at_reference_free(back), at_reference_free(again), at_reference_free(ref);
    at_dataset_free(tr), at_dataset_free(other);
}

/* A record with one feature of this PSI/KS, a class mix and optional labels. */
static json_t *record(double psi, double ks, double ksp, double mix_psi, double chi2_p, double acc_hi, double ref_acc) {
    json_t *r = json_pack("{s:s, s:[{s:s, s:f, s:f, s:f}], s:{s:f, s:f}, s:{s:f}}", "batch", "b", "features", "name",
                          "r", "psi", psi, "ks", ks, "ks_p_bonferroni", ksp, "class_mix", "psi", mix_psi, "chi2_p",
                          chi2_p, "reference", "test_accuracy", ref_acc);
    if (!isnan(acc_hi))
        json_object_set_new(r, "labels", json_pack("{s:f, s:f, s:f}", "accuracy", acc_hi - 0.01, "accuracy_lo",
                                                   acc_hi - 0.02, "accuracy_hi", acc_hi));
    at_monitor_alerts(r);
    return r;
}

static const char *status(json_t *r) { return json_string_value(json_object_get(r, "status")); }
static const char *first_kind(json_t *r) {
    return json_string_value(json_object_get(json_array_get(json_object_get(r, "alerts"), 0), "kind"));
}

static void test_alert_rules(void) {
    json_t *r;
    r = record(0.05, 0.01, 1, 0.01, 0.5, NAN, 0.97);
    CHECK(strcmp(status(r), "ok") == 0 && json_array_size(json_object_get(r, "alerts")) == 0);
    json_decref(r);
    r = record(0.26, 0.01, 1, 0.01, 0.5, NAN, 0.97);
    CHECK(strcmp(status(r), "alert") == 0 && strcmp(first_kind(r), "feature") == 0);
    json_decref(r);
    r = record(0.25, 0.01, 1, 0.01, 0.5, NAN, 0.97); /* 0.25 itself is watch */
    CHECK(strcmp(status(r), "watch") == 0);
    json_decref(r);
    r = record(0.11, 0.01, 1, 0.01, 0.5, NAN, 0.97);
    CHECK(strcmp(status(r), "watch") == 0);
    json_decref(r);
    r = record(0.10, 0.01, 1, 0.01, 0.5, NAN, 0.97);
    CHECK(strcmp(status(r), "ok") == 0);
    json_decref(r);
    r = record(0.05, 0.06, 0.001, 0.01, 0.5, NAN, 0.97); /* KS: significant and D >= 0.05 */
    CHECK(strcmp(status(r), "alert") == 0);
    json_decref(r);
    r = record(0.05, 0.04, 1e-9, 0.01, 0.5, NAN, 0.97); /* significant but small D */
    CHECK(strcmp(status(r), "ok") == 0);
    json_decref(r);
    r = record(0.05, 0.2, 0.02, 0.01, 0.5, NAN, 0.97); /* large D, not significant */
    CHECK(strcmp(status(r), "ok") == 0);
    json_decref(r);
    r = record(0.05, 0.01, 1, 0.26, 0.5, NAN, 0.97);
    CHECK(strcmp(status(r), "alert") == 0 && strcmp(first_kind(r), "class_mix") == 0);
    json_decref(r);
    r = record(0.05, 0.01, 1, 0.15, 1e-4, NAN, 0.97); /* chi-square with PSI above watch */
    CHECK(strcmp(status(r), "alert") == 0);
    json_decref(r);
    r = record(0.05, 0.01, 1, 0.05, 1e-4, NAN, 0.97); /* chi-square alone: watch */
    CHECK(strcmp(status(r), "watch") == 0);
    json_decref(r);
    r = record(0.05, 0.01, 1, 0.01, 0.5, 0.96, 0.97); /* upper bound below the test accuracy */
    CHECK(strcmp(status(r), "alert") == 0 && strcmp(first_kind(r), "accuracy") == 0);
    json_decref(r);
    r = record(0.05, 0.01, 1, 0.01, 0.5, 0.975, 0.97);
    CHECK(strcmp(status(r), "ok") == 0);
    json_decref(r);
}

int main(void) {
    RUN(test_psi_by_hand);
    RUN(test_wilson_by_hand);
    RUN(test_gamma_and_chisq);
    RUN(test_kolmogorov);
    RUN(test_ks_stream_matches_brute_force);
    RUN(test_reference_psi_of_itself_is_zero);
    RUN(test_alert_rules);
    return harness_done();
}
