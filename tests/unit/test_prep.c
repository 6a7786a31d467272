/* test_prep.c - clean, undersample, split, scale, metrics, rng. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/metrics.h"
#include "astrotrain/preprocess.h"
#include "astrotrain/rng.h"
#include "harness.h"

static const char *const classes[] = {"A", "B", "C"};

/* n rows, 2 features; class c gets counts[c] rows; x0 = row index, x1 = class. */
static at_dataset *make(const size_t *counts) {
    at_error e;
    size_t n = counts[0] + counts[1] + counts[2];
    at_dataset *ds;
    const char *const feats[] = {"x0", "x1"};
    if (at_dataset_new(n, 2, 1, feats, classes, 3, &ds, &e)) return NULL;
    size_t i = 0;
    for (size_t c = 0; c < 3; c++)
        for (size_t j = 0; j < counts[c]; j++, i++) {
            ds->X[i * 2] = (double)i;
            ds->X[i * 2 + 1] = (double)c;
            ds->y[i] = (int32_t)c;
            ds->row[i] = (int64_t)i;
        }
    return ds;
}

static void test_clean(void) {
    size_t counts[3] = {3, 2, 1};
    at_dataset *ds = make(counts);
    at_error e;
    ds->X[1 * 2] = -9999;
    ds->X[3 * 2 + 1] = NAN;
    size_t dropped;
    CHECK_OK(at_clean_rows(ds, 1, -9999, 0, &dropped, &e), &e);
    CHECK(dropped == 2 && ds->n == 4);
    CHECK(ds->row[0] == 0 && ds->row[1] == 2 && ds->row[2] == 4 && ds->row[3] == 5);
    CHECK(ds->X[1 * 2] == 2.0 && ds->y[3] == 2);
    at_dataset_free(ds);
    ds = make(counts);
    ds->X[3 * 2 + 1] = NAN;
    CHECK_OK(at_clean_rows(ds, 1, -9999, 1, &dropped, &e), &e); /* keep NaN */
    CHECK(dropped == 0 && ds->n == 6);
    at_dataset_free(ds);
}

static void test_undersample(void) {
    size_t counts[3] = {50, 20, 7}, got[3];
    at_dataset *ds = make(counts), *out, *out2;
    at_error e;
    CHECK_OK(at_undersample(ds, AT_UNDERSAMPLE_MINORITY, 0, 1, &out, &e), &e);
    at_dataset_class_counts(out, got);
    CHECK(got[0] == 7 && got[1] == 7 && got[2] == 7 && out->n == 21);
    for (size_t i = 1; i < out->n; i++) CHECK(out->row[i] > out->row[i - 1]); /* original order */
    CHECK_OK(at_undersample(ds, AT_UNDERSAMPLE_MINORITY, 0, 1, &out2, &e), &e);
    CHECK(memcmp(out->row, out2->row, out->n * sizeof(int64_t)) == 0); /* seeded */
    at_dataset_free(out2);
    CHECK_OK(at_undersample(ds, AT_UNDERSAMPLE_MINORITY, 0, 2, &out2, &e), &e);
    CHECK(memcmp(out->row, out2->row, out->n * sizeof(int64_t)) != 0); /* another seed */
    at_dataset_free(out2);
    at_dataset_free(out);
    CHECK_OK(at_undersample(ds, AT_UNDERSAMPLE_PER_CLASS, 10, 1, &out, &e), &e);
    at_dataset_class_counts(out, got);
    CHECK(got[0] == 10 && got[1] == 10 && got[2] == 7);
    at_dataset_free(out);
    CHECK_OK(at_undersample(ds, AT_UNDERSAMPLE_NONE, 0, 1, &out, &e), &e);
    CHECK(out->n == 77);
    at_dataset_free(out);
    at_dataset_free(ds);
}

static void test_split(void) {
    size_t counts[3] = {100, 40, 20};
    at_dataset *ds = make(counts), *tr, *va, *te;
    at_error e;
    CHECK_OK(at_split_stratified(ds, 0.7, 0.15, 0.15, 42, &tr, &va, &te, &e), &e);
    size_t a[3], b[3], c[3];
    at_dataset_class_counts(tr, a);
    at_dataset_class_counts(va, b);
    at_dataset_class_counts(te, c);
    CHECK(a[0] == 70 && b[0] == 15 && c[0] == 15);
    CHECK(a[1] == 28 && b[1] == 6 && c[1] == 6);
    CHECK(a[2] == 14 && b[2] == 3 && c[2] == 3);
    /* disjoint and complete */
    int seen[160] = {0};
    at_dataset *parts[3] = {tr, va, te};
    for (int p = 0; p < 3; p++)
        for (size_t i = 0; i < parts[p]->n; i++) seen[parts[p]->row[i]]++;
    int all_once = 1;
    for (int i = 0; i < 160; i++) all_once &= seen[i] == 1;
    CHECK(all_once);
    at_dataset_free(tr), at_dataset_free(va), at_dataset_free(te);
    CHECK_FAIL(at_split_stratified(ds, 0.7, 0.2, 0.2, 42, &tr, &va, &te, &e), AT_ERR_CONFIG, &e, "sum to 1");
    at_dataset_free(ds);
}

static void test_scaler(void) {
    size_t counts[3] = {2, 1, 1};
    at_dataset *ds = make(counts);
    at_error e;
    at_scaler *s;
    CHECK_OK(at_scaler_fit(AT_SCALER_STANDARD, ds, &s, &e), &e);
    CHECK_NEAR(s->shift[0], 1.5, 1e-12);
    CHECK_NEAR(s->scale[0], sqrt(1.25), 1e-12); /* population std */
    at_scaler_apply(s, ds->X, ds->n);
    double m = 0;
    for (size_t i = 0; i < 4; i++) m += ds->X[i * 2];
    CHECK_NEAR(m, 0, 1e-12);
    at_scaler_free(s);
    CHECK_OK(at_scaler_fit(AT_SCALER_MINMAX, ds, &s, &e), &e);
    at_scaler_apply(s, ds->X, ds->n);
    CHECK_NEAR(ds->X[0], 0, 1e-12);
    CHECK_NEAR(ds->X[3 * 2], 1, 1e-12);
    at_scaler_free(s);
    at_dataset_free(ds);
}

static void test_metrics(void) {
    int32_t y[6] = {0, 0, 1, 1, 2, 2};
    double P[18] = {0.95, 0.05, 0, 0.6, 0.4, 0, 0.1, 0.9, 0, 0.7, 0.3, 0, 0, 0, 1, 0.2, 0.2, 0.6};
    at_metrics m;
    at_error e;
    CHECK_OK(at_metrics_compute(y, P, 6, 3, 0.9, &m, &e), &e);
    CHECK_NEAR(m.accuracy, 5.0 / 6.0, 1e-12);
    CHECK(m.confusion[1 * 3 + 0] == 1 && m.confusion[0] == 2);
    CHECK_NEAR(m.per_class[0].precision, 2.0 / 3.0, 1e-12);
    CHECK_NEAR(m.per_class[1].recall, 0.5, 1e-12);
    CHECK_NEAR(m.per_class[0].confident_fraction, 0.5, 1e-12); /* 0.95 yes, 0.6 no */
    CHECK_NEAR(m.per_class[2].confident_fraction, 0.5, 1e-12); /* 1.0 yes, 0.6 no */
    double ll = -(log(0.95) + log(0.6) + log(0.9) + log(0.3) + log(1) + log(0.6)) / 6;
    CHECK_NEAR(m.log_loss, ll, 1e-12);
    at_json j;
    at_json_init(&j);
    at_metrics_json(&m, classes, &j);
    CHECK(strstr(j.buf, "\"confident_fraction\": 0.5") != NULL);
    at_json_free(&j);
    at_metrics_free(&m);
}

static void test_rng(void) {
    at_rng a, b;
    at_rng_init(&a, 42, 1);
    at_rng_init(&b, 42, 1);
    CHECK(at_rng_u64(&a) == at_rng_u64(&b));
    at_rng_init(&b, 42, 2);
    CHECK(at_rng_u64(&a) != at_rng_u64(&b));
    double w[4], mean[4] = {0};
    int ok = 1;
    for (int t = 0; t < 4000; t++) {
        at_rng_simplex(&a, w, 4);
        double s = 0;
        for (int i = 0; i < 4; i++) {
            ok &= w[i] >= 0;
            s += w[i];
            mean[i] += w[i] / 4000;
        }
        ok &= fabs(s - 1) < 1e-12;
    }
    CHECK(ok);
    for (int i = 0; i < 4; i++) CHECK_NEAR(mean[i], 0.25, 0.02);
    /* Uniform on the simplex: each weight is Beta(1, k-1), P(w < x) = 1 - (1 - x)^(k-1). */
    size_t below = 0;
    for (int t = 0; t < 20000; t++) {
        at_rng_simplex(&a, w, 3);
        below += w[0] < 0.5;
    }
    CHECK_NEAR((double)below / 20000, 0.75, 0.01);
    size_t hits[5] = {0};
    for (int t = 0; t < 50000; t++) hits[at_rng_below(&a, 5)]++;
    for (int i = 0; i < 5; i++) CHECK_NEAR((double)hits[i] / 50000, 0.2, 0.01);
}

int main(void) {
    RUN(test_clean);
    RUN(test_undersample);
    RUN(test_split);
    RUN(test_scaler);
    RUN(test_metrics);
    RUN(test_rng);
    return harness_done();
}
