/* test_gbdt.c - histogram gradient boosting: the loss derivatives against finite differences,
 * binning edge cases, a first tree worked out by hand, early stopping, learned NaN directions,
 * thread-count independence, the binary objective, save/load and corrupt files. */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astrotrain/gbdt.h"
#include "astrotrain/rng.h"
#include "harness.h"
#include "models/gbdt_internal.h"

/* libhdf5 leaks a little on its own error paths when it reads damaged files (as in
 * test_model_file): not ours to fix, so LeakSanitizer skips it. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libhdf5_serial.so\n"; }

static const char *const cls3[] = {"a", "b", "c"};
static const char *const cls2[] = {"a", "b"};

static void model_free(at_model *m) { at_model_free(m); }

static at_status fit(at_model *m, const at_dataset *tr, const at_dataset *va, int threads,
                     uint64_t seed, at_error *err) {
    at_fit_input in = {.train = tr, .valid = va, .threads = threads, .seed = seed, .progress = NULL};
    return m->ops->fit(m->impl, &in, err);
}

/* Three Gaussian blobs in d dimensions, centres at +-1.5 on the first two features, the
 * rest noise; nan_frac of feature 2 cells are NaN. */
static at_dataset *blobs(size_t n, size_t d, uint64_t seed, double nan_frac) {
    at_dataset *ds = NULL;
    at_error err;
    if (at_dataset_new(n, d, 1, NULL, cls3, 3, &ds, &err)) return NULL;
    at_rng r;
    at_rng_init(&r, seed, 0);
    for (size_t i = 0; i < n; i++) {
        int32_t y = (int32_t)(i % 3);
        ds->y[i] = y;
        ds->row[i] = (int64_t)i;
        for (size_t f = 0; f < d; f++) {
            double c = f == 0 ? (y == 0 ? -1.5 : y == 1 ? 1.5 : 0) : f == 1 ? (y == 2 ? 1.5 : -0.5) : 0;
            ds->X[i * d + f] = c + at_rng_normal(&r);
        }
        if (d > 2 && at_rng_uniform(&r) < nan_frac) ds->X[i * d + 2] = NAN;
    }
    return ds;
}

/* ---- the loss ---- */

static double softmax_nll(const double *s, size_t K, int32_t y) {
    double p[8];
    return gbdt_softmax_grad(s, K, y, p, NULL);
}

static void test_softmax_gradient_matches_finite_differences(void) {
    const double s0[4] = {0.3, -1.2, 2.0, 0.1};
    for (int32_t y = 0; y < 4; y++) {
        double s[4], p[4];
        gbdt_gh gh[4];
        memcpy(s, s0, sizeof s);
        double nll = gbdt_softmax_grad(s, 4, y, p, gh);
        double sum = 0;
        for (int k = 0; k < 4; k++) sum += p[k];
        CHECK_NEAR(sum, 1.0, 1e-15);
        CHECK_NEAR(nll, -log(p[y]), 1e-14);
        for (size_t k = 0; k < 4; k++) {
            const double h = 1e-4;
            double sp[4], sm[4];
            memcpy(sp, s0, sizeof sp);
            memcpy(sm, s0, sizeof sm);
            sp[k] += h;
            sm[k] -= h;
            double fp = softmax_nll(sp, 4, y), fm = softmax_nll(sm, 4, y);
            CHECK_NEAR(gh[k].g, (fp - fm) / (2 * h), 1e-8);
            CHECK_NEAR(gh[k].h, (fp - 2 * nll + fm) / (h * h), 1e-6);
        }
    }
}

static void test_logistic_gradient_matches_finite_differences(void) {
    for (int y1 = 0; y1 <= 1; y1++)
        for (double s = -3; s <= 3; s += 1.5) {
            double p1, p1b;
            gbdt_gh gh, tmp;
            double nll = gbdt_logistic_grad(s, y1, &p1, &gh);
            CHECK_NEAR(nll, -log(y1 ? p1 : 1 - p1), 1e-14);
            const double h = 1e-4;
            double fp = gbdt_logistic_grad(s + h, y1, &p1b, &tmp);
            double fm = gbdt_logistic_grad(s - h, y1, &p1b, &tmp);
            CHECK_NEAR(gh.g, (fp - fm) / (2 * h), 1e-8);
            CHECK_NEAR(gh.h, (fp - 2 * nll + fm) / (h * h), 1e-6);
        }
}

/* The vectorised per-round pass agrees with the reference formula row by row. */
static void test_loss_pass_matches_reference(void) {
    const size_t n = 1000, K = 3;
    double *score = malloc(n * K * sizeof *score);
    int32_t *y = malloc(n * sizeof *y);
    gbdt_gh *gh = malloc(n * K * sizeof *gh);
    at_rng r;
    at_rng_init(&r, 7, 0);
    for (size_t i = 0; i < n * K; i++) score[i] = 30 * (at_rng_uniform(&r) - 0.5);
    score[0] = 800; /* a far outlier: exp must not overflow */
    for (size_t i = 0; i < n; i++) y[i] = (int32_t)at_rng_below(&r, K);
    double loss, acc, ref_loss = 0;
    size_t hits = 0;
    gbdt_loss_pass(score, n, K, y, gh, 2, &loss, &acc);
    double maxdiff = 0;
    for (size_t i = 0; i < n; i++) {
        double p[3];
        gbdt_gh g[3];
        ref_loss += gbdt_softmax_grad(score + i * K, K, y[i], p, g);
        size_t best = 0;
        for (size_t k = 1; k < K; k++)
            if (score[i * K + k] > score[i * K + best]) best = k;
        hits += best == (size_t)y[i];
        for (size_t k = 0; k < K; k++) {
            maxdiff = fmax(maxdiff, fabs(g[k].g - gh[k * n + i].g));
            maxdiff = fmax(maxdiff, fabs(g[k].h - gh[k * n + i].h));
        }
    }
    CHECK(maxdiff < 1e-14);
    CHECK_NEAR(loss, ref_loss / (double)n, 1e-12);
    CHECK_NEAR(acc, (double)hits / (double)n, 1e-15);
    free(score);
    free(y);
    free(gh);
}

/* ---- binning ---- */

static void test_binning_edge_cases(void) {
    const size_t n = 8, d = 4;
    /* f0 constant, f1 three distinct values, f2 all NaN, f3 with one NaN */
    double X[8 * 4];
    for (size_t i = 0; i < n; i++) {
        X[i * d + 0] = 5.0;
        X[i * d + 1] = (double)(i % 3);
        X[i * d + 2] = NAN;
        X[i * d + 3] = i == 3 ? NAN : (double)i * 10;
    }
    tree_bins b;
    at_error err;
    CHECK_OK(tree_bins_fit(X, n, d, 255, TREE_CUTS_GREEDY, 1, 1, &b, &err), &err);
    CHECK(b.n_bins[0] == 1);
    CHECK(b.n_bins[1] == 3);
    CHECK(b.n_bins[2] == 0);
    CHECK(b.n_bins[3] == 7);
    const double *e1 = b.edge + b.offset[1];
    CHECK_NEAR(e1[0], 0.5, 0);
    CHECK_NEAR(e1[1], 1.5, 0);
    CHECK(isinf(e1[2]) && e1[2] > 0);
    CHECK(tree_bin_code(&b, 0, 5.0) == 0);
    CHECK(tree_bin_code(&b, 0, -100) == 0);
    CHECK(tree_bin_code(&b, 0, NAN) == 1);
    CHECK(tree_bin_code(&b, 1, 0.0) == 0 && tree_bin_code(&b, 1, 1.0) == 1 && tree_bin_code(&b, 1, 2.0) == 2);
    CHECK(tree_bin_code(&b, 1, 0.5) == 0 && tree_bin_code(&b, 1, 0.50001) == 1);
    CHECK(tree_bin_code(&b, 1, INFINITY) == 2);
    CHECK(tree_bin_code(&b, 2, 1.0) == 0 && tree_bin_code(&b, 2, NAN) == 0);
    CHECK(tree_bin_code(&b, 3, NAN) == 7);
    tree_bins_free(&b);
    CHECK_FAIL(tree_bins_fit(X, n, d, 256, TREE_CUTS_GREEDY, 1, 1, &b, &err), AT_ERR_CONFIG, &err, "max_bin");
}

static void test_binning_quantiles(void) {
    const size_t n = 10000;
    double *X = malloc(n * sizeof *X);
    at_rng r;
    at_rng_init(&r, 3, 0);
    for (size_t i = 0; i < n; i++) X[i] = at_rng_normal(&r);
    for (size_t i = 0; i < 2000; i++) X[i] = 0.25; /* a heavy value takes one bin whole */
    tree_bins b;
    at_error err;
    CHECK_OK(tree_bins_fit(X, n, 1, 16, TREE_CUTS_GREEDY, 1, 1, &b, &err), &err);
    CHECK(b.n_bins[0] >= 10 && b.n_bins[0] <= 16);
    size_t count[16] = {0};
    const double *e = b.edge;
    for (int32_t k = 1; k < b.n_bins[0]; k++) CHECK(e[k] > e[k - 1]);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = tree_bin_code(&b, 0, X[i]);
        CHECK(c < b.n_bins[0]);
        CHECK(X[i] <= e[c] && (c == 0 || X[i] > e[c - 1]));
        count[c]++;
    }
    /* Bins other than the heavy one hold about n / 16 rows each (nothing tiny or huge). */
    uint8_t heavy = tree_bin_code(&b, 0, 0.25);
    CHECK(count[heavy] >= 2000);
    for (int32_t k = 0; k < b.n_bins[0]; k++)
        if (k != heavy) {
            CHECK(count[k] > n / 40 && count[k] < n / 5);
        }
    tree_bins_free(&b);
    free(X);
}

/* ---- trees ---- */

/* One feature, x = 0..5 with two rows per class, depth 1, one round: the class-0 tree splits at
 * 1.5 and its leaves are -G / (H + lambda) * eta with p = 1/3 everywhere (equal priors). */
static void test_first_tree_by_hand(void) {
    at_dataset *ds = NULL;
    at_error err;
    CHECK_OK(at_dataset_new(6, 1, 1, NULL, cls3, 3, &ds, &err), &err);
    for (size_t i = 0; i < 6; i++) {
        ds->X[i] = (double)i;
        ds->y[i] = (int32_t)(i / 2);
        ds->row[i] = (int64_t)i;
    }
    at_gbdt_params p;
    at_gbdt_params_default(&p);
    p.n_rounds = 1;
    p.max_depth = 1;
    p.learning_rate = 0.3;
    p.min_child_weight = 0;
    at_model *m = NULL;
    CHECK_OK(at_gbdt_new(&p, 1, 3, &m, &err), &err);
    CHECK_OK(fit(m, ds, NULL, 1, 1, &err), &err);
    const gbdt_model *g = m->impl;
    CHECK(g->trees.n_trees == 3);
    CHECK_NEAR(g->base[0], log(1.0 / 3), 1e-15);
    /* Class 0: g = 1/3 - 1 = -2/3 on rows 0,1 and 1/3 elsewhere, h = 2/9 on every row. */
    const double eta = 0.3, lambda = 1;
    CHECK(g->trees.nodes[0].feature == 0);
    CHECK_NEAR(g->trees.nodes[0].thr, 1.5, 0);
    double GL = 2 * (-2.0 / 3), HL = 2 * (2.0 / 9), GR = 4 * (1.0 / 3), HR = 4 * (2.0 / 9);
    CHECK_NEAR(g->trees.value[g->trees.nodes[0].left], -GL / (HL + lambda) * eta, 1e-15);
    CHECK_NEAR(g->trees.value[g->trees.nodes[0].right], -GR / (HR + lambda) * eta, 1e-15);
    double G = GL + GR, H = HL + HR;
    CHECK_NEAR(g->trees.gain[0], GL * GL / (HL + lambda) + GR * GR / (HR + lambda) - G * G / (H + lambda), 1e-12);
    /* Class 2 (rows 4,5) mirrors it at 3.5. */
    size_t t2 = (size_t)g->trees.off[2];
    CHECK_NEAR(g->trees.nodes[t2].thr, 3.5, 0);
    /* Prediction for x = 0: softmax of base + the three leaves. */
    double P[3], x = 0;
    CHECK_OK(m->ops->predict_proba(m->impl, &x, 1, P, 1, &err), &err);
    double s[3];
    for (size_t c = 0; c < 3; c++) {
        size_t o = (size_t)g->trees.off[c];
        s[c] = g->base[c] + g->trees.value[o + (size_t)(x <= g->trees.nodes[o].thr ? g->trees.nodes[o].left : g->trees.nodes[o].right)];
    }
    double z = exp(s[0]) + exp(s[1]) + exp(s[2]);
    for (size_t c = 0; c < 3; c++) CHECK_NEAR(P[c], exp(s[c]) / z, 1e-15);
    CHECK(P[0] > P[1] && P[0] > P[2]);
    model_free(m);
    at_dataset_free(ds);
}

static void test_params_are_checked(void) {
    at_gbdt_params p;
    at_error err;
    at_model *m = NULL;
    at_gbdt_params_default(&p);
    p.max_bin = 256;
    CHECK_FAIL(at_gbdt_new(&p, 3, 3, &m, &err), AT_ERR_CONFIG, &err, "max_bin");
    at_gbdt_params_default(&p);
    p.max_depth = 0;
    CHECK_FAIL(at_gbdt_new(&p, 3, 3, &m, &err), AT_ERR_CONFIG, &err, "max_leaves");
    at_gbdt_params_default(&p);
    p.subsample = 0;
    CHECK_FAIL(at_gbdt_new(&p, 3, 3, &m, &err), AT_ERR_CONFIG, &err, "subsample");
    at_gbdt_params_default(&p);
    CHECK_FAIL(at_gbdt_new(&p, 3, 1, &m, &err), AT_ERR_DATA, &err, "two classes");
    CHECK(m == NULL);
}

/* Labels independent of the features: validation loss rises after the first rounds, so early
 * stopping ends the fit and keeps the best round, which predicts exactly like a model fitted
 * for that many rounds without early stopping. */
static void test_early_stopping_keeps_best_round(void) {
    at_dataset *tr = blobs(600, 3, 11, 0), *va = blobs(300, 3, 12, 0);
    at_rng r;
    at_rng_init(&r, 99, 0);
    for (size_t i = 0; i < tr->n; i++) tr->y[i] = (int32_t)at_rng_below(&r, 3);
    for (size_t i = 0; i < va->n; i++) va->y[i] = (int32_t)at_rng_below(&r, 3);
    at_gbdt_params p;
    at_gbdt_params_default(&p);
    p.n_rounds = 200;
    p.learning_rate = 0.5;
    p.early_stopping_rounds = 5;
    at_error err;
    at_model *m = NULL, *m2 = NULL;
    CHECK_OK(at_gbdt_new(&p, 3, 3, &m, &err), &err);
    CHECK_OK(fit(m, tr, va, 1, 5, &err), &err);
    const gbdt_model *g = m->impl;
    int64_t best = at_gbdt_best_round(m);
    CHECK(best >= 0 && best < 20);
    CHECK(g->rounds_run == best + 1 + 5);
    CHECK(g->trees.n_trees == (size_t)(best + 1) * 3);
    const at_history *h = m->ops->history(m->impl);
    CHECK(h->n_rows == (size_t)g->rounds_run && h->n_cols == 5);
    CHECK(strcmp(h->names[3], "valid_logloss") == 0);
    for (size_t i = 0; i < h->n_rows; i++) {
        CHECK(h->values[i * 5] == (double)(i + 1));
        CHECK(h->values[i * 5 + 3] >= h->values[(size_t)best * 5 + 3]);
        if (i > 0) CHECK(h->values[i * 5 + 1] < h->values[(i - 1) * 5 + 1]); /* train keeps falling */
    }
    CHECK(h->values[(h->n_rows - 1) * 5 + 3] > h->values[(size_t)best * 5 + 3]);

    p.n_rounds = best + 1;
    p.early_stopping_rounds = 0;
    CHECK_OK(at_gbdt_new(&p, 3, 3, &m2, &err), &err);
    CHECK_OK(fit(m2, tr, va, 1, 5, &err), &err);
    double *P1 = malloc(va->n * 3 * sizeof *P1), *P2 = malloc(va->n * 3 * sizeof *P2);
    CHECK_OK(m->ops->predict_proba(m->impl, va->X, va->n, P1, 1, &err), &err);
    CHECK_OK(m2->ops->predict_proba(m2->impl, va->X, va->n, P2, 1, &err), &err);
    CHECK(memcmp(P1, P2, va->n * 3 * sizeof *P1) == 0);
    free(P1);
    free(P2);
    model_free(m);
    model_free(m2);
    at_dataset_free(tr);
    at_dataset_free(va);
}

/* Feature 0 is pure noise except that it is missing for half the class-1 rows and never
 * otherwise: the trees must learn to send NaN towards class 1. */
static void test_nan_direction_is_learned(void) {
    const size_t n = 900;
    at_dataset *ds = NULL;
    at_error err;
    CHECK_OK(at_dataset_new(n, 2, 1, NULL, cls3, 3, &ds, &err), &err);
    at_rng r;
    at_rng_init(&r, 21, 0);
    for (size_t i = 0; i < n; i++) {
        ds->y[i] = (int32_t)(i % 3);
        ds->row[i] = (int64_t)i;
        ds->X[i * 2] = (ds->y[i] == 1 && i % 2) ? NAN : at_rng_uniform(&r);
        ds->X[i * 2 + 1] = at_rng_uniform(&r);
    }
    at_gbdt_params p;
    at_gbdt_params_default(&p);
    p.n_rounds = 30;
    p.max_depth = 2;
    at_model *m = NULL;
    CHECK_OK(at_gbdt_new(&p, 2, 3, &m, &err), &err);
    CHECK_OK(fit(m, ds, NULL, 1, 3, &err), &err);
    double X[4] = {NAN, 0.5, 0.5, 0.5}, P[6];
    CHECK_OK(m->ops->predict_proba(m->impl, X, 2, P, 1, &err), &err);
    CHECK(P[1] > 0.9);              /* missing: class 1 */
    CHECK(P[4] > 0.1 && P[4] < 0.5); /* present: about a quarter class 1 */
    /* The root of the class-1 tree splits on the missingness of feature 0. */
    const gbdt_model *g = m->impl;
    size_t o = (size_t)g->trees.off[1];
    CHECK(g->trees.nodes[o].feature == 0);
    double imp[2];
    CHECK_OK(m->ops->importances(m->impl, imp), &err);
    CHECK_NEAR(imp[0] + imp[1], 1.0, 1e-12);
    CHECK(imp[0] > imp[1]);
    model_free(m);
    at_dataset_free(ds);
}

/* 1 and 2 threads give bit-identical models, also with sampling, lossguide and NaN. */
static void test_threads_do_not_change_results(void) {
    at_dataset *tr = blobs(20000, 5, 31, 0.1), *te = blobs(2000, 5, 32, 0.1);
    at_gbdt_params p;
    at_gbdt_params_default(&p);
    p.n_rounds = 15;
    p.subsample = 0.8;
    p.colsample = 0.6;
    for (int policy = 0; policy <= 1; policy++) {
        p.grow_policy = policy;
        p.max_leaves = policy ? 24 : 0;
        double *P[2];
        double hist_last[2];
        for (int t = 0; t < 2; t++) {
            at_model *m = NULL;
            at_error err;
            P[t] = malloc(te->n * 3 * sizeof(double));
            CHECK_OK(at_gbdt_new(&p, 5, 3, &m, &err), &err);
            CHECK_OK(fit(m, tr, te, t + 1, 8, &err), &err);
            CHECK_OK(m->ops->predict_proba(m->impl, te->X, te->n, P[t], t + 1, &err), &err);
            const at_history *h = m->ops->history(m->impl);
            hist_last[t] = h->values[(h->n_rows - 1) * 5 + 1];
            model_free(m);
        }
        CHECK(memcmp(P[0], P[1], te->n * 3 * sizeof(double)) == 0);
        CHECK(hist_last[0] == hist_last[1]);
        size_t hits = 0;
        for (size_t i = 0; i < te->n; i++) {
            size_t b = 0;
            for (size_t k = 1; k < 3; k++)
                if (P[0][i * 3 + k] > P[0][i * 3 + b]) b = k;
            hits += b == (size_t)te->y[i];
        }
        CHECK((double)hits / (double)te->n > 0.8);
        free(P[0]);
        free(P[1]);
    }
    at_dataset_free(tr);
    at_dataset_free(te);
}

/* Two classes: one tree per round on the logistic loss. */
static void test_binary(void) {
    at_dataset *tr = blobs(3000, 3, 41, 0.05), *te = blobs(1000, 3, 42, 0.05);
    at_dataset *sets[2] = {tr, te};
    for (int s = 0; s < 2; s++) {
        at_dataset *ds = sets[s];
        free(ds->class_names[2]);
        ds->n_classes = 2;
        for (size_t i = 0; i < ds->n; i++) {
            ds->y[i] = ds->y[i] == 2;
            if (ds->y[i]) ds->X[i * ds->d + 1] += 3; /* far from the rest: Bayes error ~1% */
        }
    }
    (void)cls2;
    at_gbdt_params p;
    at_gbdt_params_default(&p);
    p.n_rounds = 50;
    at_model *m = NULL;
    at_error err;
    CHECK_OK(at_gbdt_new(&p, 3, 2, &m, &err), &err);
    CHECK_OK(fit(m, tr, te, 2, 1, &err), &err);
    const gbdt_model *g = m->impl;
    CHECK(g->kt == 1 && g->trees.n_trees == 50);
    double *P = malloc(te->n * 2 * sizeof *P);
    CHECK_OK(m->ops->predict_proba(m->impl, te->X, te->n, P, 2, &err), &err);
    size_t hits = 0;
    for (size_t i = 0; i < te->n; i++) {
        CHECK_NEAR(P[i * 2] + P[i * 2 + 1], 1.0, 1e-15);
        hits += (P[i * 2 + 1] > 0.5) == (te->y[i] == 1);
    }
    double acc = (double)hits / (double)te->n;
    CHECK(acc > 0.97);
    const at_history *h = m->ops->history(m->impl);
    CHECK(h->n_rows == 50);
    CHECK_NEAR(h->values[49 * 5 + 4], acc, 1e-12);
    free(P);
    model_free(m);
    at_dataset_free(tr);
    at_dataset_free(te);
}

static void on_update(void *ctx, const char *stage, size_t done, size_t total, const char *detail) {
    (void)stage;
    (void)total;
    (void)detail;
    volatile int *stop = ctx;
    if (done == 3) *stop = 1;
}

static void test_interrupt_stops_the_fit(void) {
    at_dataset *tr = blobs(300, 3, 51, 0);
    volatile int stop = 0;
    at_progress pr = {on_update, NULL, (void *)&stop, &stop};
    at_gbdt_params p;
    at_gbdt_params_default(&p);
    at_model *m = NULL;
    at_error err;
    CHECK_OK(at_gbdt_new(&p, 3, 3, &m, &err), &err);
    at_fit_input in = {.train = tr, .valid = NULL, .threads = 1, .seed = 1, .progress = &pr};
    CHECK_FAIL(m->ops->fit(m->impl, &in, &err), AT_ERR_INTERRUPTED, &err, "round 3");
    double P[3];
    CHECK(m->ops->predict_proba(m->impl, tr->X, 1, P, 1, &err) == AT_ERR_INTERNAL);
    model_free(m);
    at_dataset_free(tr);
}


/* Save, load, same probabilities bit for bit; corrupt arrays and flipped bytes never crash and
 * give AT_ERR_MODEL where the damage is structural. */
static void test_save_load(void) {
    at_dataset *tr = blobs(2000, 4, 61, 0.1), *va = blobs(500, 4, 62, 0.1);
    at_gbdt_params p;
    at_gbdt_params_default(&p);
    p.n_rounds = 40;
    p.early_stopping_rounds = 3;
    p.learning_rate = 0.3;
    at_model *m = NULL, *back = NULL;
    at_error err;
    CHECK_OK(at_gbdt_new(&p, 4, 3, &m, &err), &err);
    CHECK_OK(fit(m, tr, va, 2, 9, &err), &err);
    char path[256];
    snprintf(path, sizeof path, "/tmp/test_gbdt_%d.h5", (int)getpid());
    CHECK_OK(at_model_save_file(m, path, &err), &err);
    CHECK_OK(at_model_load_file(path, &back, &err), &err);
    if (back) {
        CHECK(back->ops == &at_gbdt_ops && back->n_features == 4 && back->n_classes == 3);
        const gbdt_model *a = m->impl, *b = back->impl;
        CHECK(b->trees.n_trees == a->trees.n_trees && b->trees.n_nodes == a->trees.n_nodes && b->best_round == a->best_round);
        CHECK(at_gbdt_best_round(back) == at_gbdt_best_round(m));
        CHECK(b->bins.offset[4] == a->bins.offset[4]);
        CHECK(memcmp(b->bins.edge, a->bins.edge, (size_t)a->bins.offset[4] * sizeof(double)) == 0);
        const at_history *h1 = m->ops->history(m->impl), *h2 = back->ops->history(back->impl);
        /* one history row per round run: all 40, or 3 (early_stopping_rounds) past the best */
        CHECK(h1->n_rows == h2->n_rows);
        CHECK(h1->n_rows == 40 || h1->n_rows == (size_t)at_gbdt_best_round(m) + 1 + 3);
        CHECK(a->trees.n_trees == (size_t)(at_gbdt_best_round(m) + 1) * 3); /* the best round kept */
        CHECK(memcmp(h1->values, h2->values, h1->n_rows * 5 * sizeof(double)) == 0);
        double *P1 = malloc(va->n * 3 * sizeof *P1), *P2 = malloc(va->n * 3 * sizeof *P2);
        CHECK_OK(at_model_predict_proba(m, va->X, va->n, P1, 2, &err), &err);
        CHECK_OK(at_model_predict_proba(back, va->X, va->n, P2, 1, &err), &err);
        CHECK(memcmp(P1, P2, va->n * 3 * sizeof *P1) == 0);
        free(P1);
        free(P2);
        double i1[4], i2[4];
        CHECK_OK(m->ops->importances(m->impl, i1), &err);
        CHECK_OK(back->ops->importances(back->impl, i2), &err);
        CHECK(memcmp(i1, i2, sizeof i1) == 0);
        at_model_free(back);
    }
    /* Corruptions written through save (which trusts memory), caught by load. */
    gbdt_model *g = m->impl;
    CHECK(!tree_node_is_leaf(&g->trees.nodes[0], 0));
    int32_t old_right = g->trees.nodes[0].right, old_feat = g->trees.nodes[0].feature, old_nb = g->bins.n_bins[1];
    int64_t old_off = g->trees.off[1], old_best = g->best_round;
    size_t leaf = (size_t)g->trees.nodes[0].left;
    while (!tree_node_is_leaf(&g->trees.nodes[leaf], (int32_t)leaf)) leaf = (size_t)g->trees.nodes[leaf].left;
    double old_val = g->trees.value[leaf];
    for (int c = 0; c < 6; c++) {
        if (c == 0) g->trees.nodes[0].right = 0; /* a cycle */
        if (c == 1) g->trees.nodes[0].feature = 4;
        if (c == 2) g->trees.off[1] = g->trees.off[2] + 1;
        if (c == 3) g->trees.value[leaf] = NAN;
        if (c == 4) g->best_round = old_best + 5;
        if (c == 5) g->bins.n_bins[1] = 300;
        CHECK_OK(at_model_save_file(m, path, &err), &err);
        back = NULL;
        CHECK_FAIL(at_model_load_file(path, &back, &err), AT_ERR_MODEL, &err, "gradient boosting");
        CHECK(back == NULL);
        g->trees.nodes[0].right = old_right;
        g->trees.nodes[0].feature = old_feat;
        g->trees.off[1] = old_off;
        g->trees.value[leaf] = old_val;
        g->best_round = old_best;
        g->bins.n_bins[1] = old_nb;
    }
    /* Flipped bytes anywhere: an error or a model, never a crash (the sanitizers watch). */
    CHECK_OK(at_model_save_file(m, path, &err), &err);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *bytes = malloc((size_t)size);
    CHECK(fread(bytes, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    at_rng r;
    at_rng_init(&r, 5, 0);
    for (int trial = 0; trial < 40; trial++) {
        unsigned char *copy = malloc((size_t)size);
        memcpy(copy, bytes, (size_t)size);
        for (int k = 0; k < 8; k++) copy[at_rng_below(&r, (uint64_t)size)] ^= (unsigned char)(1 + at_rng_below(&r, 255));
        f = fopen(path, "wb");
        fwrite(copy, 1, (size_t)size, f);
        fclose(f);
        back = NULL;
        at_status s = at_model_load_file(path, &back, &err);
        CHECK(s == AT_OK || s == AT_ERR_MODEL);
        if (back) {
            double P[3];
            CHECK_OK(at_model_predict_proba(back, va->X, 1, P, 1, &err), &err);
            at_model_free(back);
        }
        free(copy);
    }
    free(bytes);
    unlink(path);
    at_model_free(m);
    at_dataset_free(tr);
    at_dataset_free(va);
}

/* ---- the histogram reduce seam ---- */

/* Two workers holding the same rows: the sum of their histograms is twice one's. */
static void double_it(void *ctx, double *buf, size_t n) {
    (*(int *)ctx)++;
    for (size_t i = 0; i < n; i++) buf[i] *= 2;
}

/* Grows one depth-3 tree on rows X (n x 2) with gradients gh; reduce may be NULL. */
static void grow_one_tree(const double *X, size_t n, const gbdt_gh *gh, tree_reduce red, tree *out) {
    at_error err;
    tree_bins b;
    CHECK_OK(tree_bins_fit(X, n, 2, 255, TREE_CUTS_GREEDY, 1, 1, &b, &err), &err);
    uint8_t *codes = malloc(2 * n);
    double *score = calloc(n, sizeof *score);
    tree_bins_encode(&b, X, n, codes, 1);
    gbdt_grow_params gp = {1.0, 0.0, 0.5, 0.5, 3, 0, 0, red};
    gbdt_grower *g = NULL;
    CHECK_OK(gbdt_grower_new(codes, n, &b, &gp, &g, &err), &err);
    const int32_t feats[2] = {0, 1};
    tree_init(out, 1);
    CHECK_OK(gbdt_grow_tree(g, gh, NULL, n, feats, 2, 2, score, 1, out, &err), &err);
    gbdt_grower_free(g);
    tree_bins_free(&b);
    free(codes);
    free(score);
}

/* A learner whose histograms (and root totals) are summed over two identical workers grows
 * the tree of the rows taken twice: the seam is called on every histogram built from rows,
 * before splits are chosen. Gradients are multiples of 1/8, so every sum is exact. */
static void test_hist_reduce_seam(void) {
    const size_t n = 600;
    double *X = malloc(2 * 2 * n * sizeof *X);
    gbdt_gh *gh = malloc(2 * n * sizeof *gh);
    at_rng r;
    at_rng_init(&r, 5, 0);
    for (size_t i = 0; i < n; i++) {
        X[2 * i] = (double)at_rng_below(&r, 40);
        X[2 * i + 1] = (double)at_rng_below(&r, 9);
        double y = X[2 * i] > 20 && X[2 * i + 1] < 5 ? 1 : 0;
        gh[i].g = (double)at_rng_below(&r, 5) / 8 - (y ? 0.75 : 0);
        gh[i].h = 0.25;
    }
    memcpy(X + 2 * n, X, 2 * n * sizeof *X); /* the rows taken twice */
    memcpy(gh + n, gh, n * sizeof *gh);
    int calls = 0;
    tree a, b, c;
    grow_one_tree(X, n, gh, (tree_reduce){double_it, &calls}, &a);
    grow_one_tree(X, 2 * n, gh, (tree_reduce){NULL, NULL}, &b);
    grow_one_tree(X, n, gh, (tree_reduce){NULL, NULL}, &c);
    CHECK(calls >= 1 + 3); /* the root totals, the root, at least one child per level */
    CHECK(a.n_nodes == b.n_nodes && a.n_nodes >= 7 && a.depth == 3);
    int same = a.n_nodes == b.n_nodes, differs = a.n_nodes != c.n_nodes;
    for (size_t i = 0; same && i < a.n_nodes; i++) {
        same &= a.nodes[i].feature == b.nodes[i].feature && a.nodes[i].thr == b.nodes[i].thr &&
                a.nodes[i].left == b.nodes[i].left && a.nodes[i].right == b.nodes[i].right &&
                a.value[i] == b.value[i] && a.gain[i] == b.gain[i];
        differs |= i < c.n_nodes && a.value[i] != c.value[i];
    }
    CHECK(same);
    CHECK(differs); /* one worker alone: other leaf values */
    tree_free(&a);
    tree_free(&b);
    tree_free(&c);
    free(X);
    free(gh);
}

int main(void) {
    RUN(test_softmax_gradient_matches_finite_differences);
    RUN(test_logistic_gradient_matches_finite_differences);
    RUN(test_loss_pass_matches_reference);
    RUN(test_binning_edge_cases);
    RUN(test_binning_quantiles);
    RUN(test_first_tree_by_hand);
    RUN(test_params_are_checked);
    RUN(test_early_stopping_keeps_best_round);
    RUN(test_nan_direction_is_learned);
    RUN(test_threads_do_not_change_results);
    RUN(test_binary);
    RUN(test_interrupt_stops_the_fit);
    RUN(test_save_load);
    RUN(test_hist_reduce_seam);
    return harness_done();
}
