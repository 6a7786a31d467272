/* test_forest.c - the random forest: tree structure on hand-made data, stopping rules,
 * criteria, max_features, class weights, thread independence, importances, OOB,
 * interruption, and the model file round trip with corrupt-file checks. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astrotrain/forest.h"
#include "astrotrain/rng.h"
#include "harness.h"
#include "models/forest_impl.h"

/* The fitted trees in the model-file form (feature -1 on a leaf), for walking by hand. */
typedef struct flat {
    size_t n_trees, n_nodes, k, d;
    int64_t *offset;
    int32_t *feature, *left, *right, *depth;
    double *threshold, *value, oob;
} flat;

static flat flatten(const at_model *m) {
    const at_forest *f = m->impl;
    const tree_list *L = &f->trees;
    flat r = {L->n_trees, L->n_nodes, f->k, f->d, L->off, NULL, NULL, NULL, L->depth, NULL, L->value, f->oob};
    r.feature = malloc(L->n_nodes * sizeof *r.feature);
    r.left = malloc(L->n_nodes * sizeof *r.left);
    r.right = malloc(L->n_nodes * sizeof *r.right);
    r.threshold = malloc(L->n_nodes * sizeof *r.threshold);
    tree_list_to_flat(L, r.feature, r.threshold, r.left, r.right, NULL);
    return r;
}

static void flat_free(flat *f) {
    free(f->feature);
    free(f->left);
    free(f->right);
    free(f->threshold);
}

static const char *const FEAT[] = {"f0", "f1", "f2", "f3", "f4", "f5"};

static at_dataset *make_ds(size_t n, size_t d, size_t k) {
    at_dataset *ds = NULL;
    at_error err;
    static const char *const cls[] = {"a", "b", "c", "d"};
    if (at_dataset_new(n, d, 1, FEAT, cls, k, &ds, &err)) return NULL;
    return ds;
}

static at_forest_params one_exact_tree(void) {
    at_forest_params p;
    at_forest_params_default(&p);
    p.n_trees = 1;
    p.bootstrap = 0;
    p.oob_score = 0;
    strcpy(p.max_features, "all");
    return p;
}

static at_model *fit(const at_forest_params *p, const at_dataset *ds, int threads, uint64_t seed) {
    at_model *m = NULL;
    at_error err = {0};
    CHECK_OK(at_forest_new(p, ds->d, ds->n_classes, &m, &err), &err);
    if (!m) return NULL;
    at_fit_input in = {.train = ds, .valid = NULL, .threads = threads, .seed = seed, .progress = NULL};
    CHECK_OK(at_model_fit(m, &in, &err), &err);
    return m;
}

static double accuracy(const at_model *m, const at_dataset *ds) {
    double *P = malloc(ds->n * ds->n_classes * sizeof *P);
    at_error err;
    CHECK_OK(at_model_predict_proba(m, ds->X, ds->n, P, 1, &err), &err);
    size_t ok = 0;
    for (size_t i = 0; i < ds->n; i++) {
        size_t b = 0;
        for (size_t c = 1; c < ds->n_classes; c++)
            if (P[i * ds->n_classes + c] > P[i * ds->n_classes + b]) b = c;
        ok += (int32_t)b == ds->y[i];
    }
    free(P);
    return (double)ok / (double)ds->n;
}

/* y = noisy (x[inf] > 0), the other features pure noise; flip labels with prob noise. */
static at_dataset *synthetic(size_t n, size_t d, size_t inf, double noise, uint64_t seed) {
    at_dataset *ds = make_ds(n, d, 2);
    at_rng r;
    at_rng_init(&r, seed, 0);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) ds->X[i * d + j] = at_rng_normal(&r);
        int y = ds->X[i * d + inf] > 0;
        if (at_rng_uniform(&r) < noise) y = !y;
        ds->y[i] = y;
    }
    return ds;
}

/* One feature, y = 0 0 1 0 1 1: thresholds 2.5 and 4.5 tie on gini (0.25 weighted);
 * the first (2.5) wins, the right leaf holds one 0 and three 1s. */
static void test_stump_by_hand(void) {
    at_dataset *ds = make_ds(6, 1, 2);
    const int y[] = {0, 0, 1, 0, 1, 1};
    for (size_t i = 0; i < 6; i++) ds->X[i] = (double)(i + 1), ds->y[i] = y[i];
    at_forest_params p = one_exact_tree();
    p.max_depth = 1;
    at_model *m = fit(&p, ds, 1, 1);
    flat fl = flatten(m), *f = &fl;
    CHECK(f->n_trees == 1 && f->n_nodes == 3);
    CHECK(f->offset[0] == 0 && f->offset[1] == 3);
    CHECK(f->feature[0] == 0 && f->left[0] == 1 && f->right[0] == 2);
    CHECK_NEAR(f->threshold[0], 2.5, 0);
    CHECK(f->feature[1] == -1 && f->feature[2] == -1);
    CHECK_NEAR(f->value[2], 1.0, 0);
    CHECK_NEAR(f->value[3], 0.0, 0);
    CHECK_NEAR(f->value[4], 0.25, 1e-15);
    CHECK_NEAR(f->value[5], 0.75, 1e-15);
    CHECK(f->depth[0] == 1);
    /* Predict sends x <= 2.5 left, and 2.5 exactly too. */
    double X[] = {2.5, 2.6}, P[4];
    at_error err;
    CHECK_OK(at_model_predict_proba(m, X, 2, P, 1, &err), &err);
    CHECK_NEAR(P[0], 1.0, 0);
    CHECK_NEAR(P[3], 0.75, 1e-15);
    flat_free(&fl);
    at_model_free(m);
    at_dataset_free(ds);
}

/* Two features; only feature 1 separates the classes: split on it at the midpoint 3.5. */
static void test_best_feature_by_hand(void) {
    at_dataset *ds = make_ds(6, 2, 2);
    const double x0[] = {1, 6, 2, 5, 3, 4};
    for (size_t i = 0; i < 6; i++) {
        ds->X[i * 2] = x0[i];
        ds->X[i * 2 + 1] = (double)(i + 1);
        ds->y[i] = i >= 3;
    }
    at_forest_params p = one_exact_tree();
    at_model *m = fit(&p, ds, 1, 7);
    flat fl = flatten(m), *f = &fl;
    CHECK(f->n_nodes == 3);
    CHECK(f->feature[0] == 1);
    CHECK_NEAR(f->threshold[0], 3.5, 0);
    CHECK_NEAR(f->value[2], 1.0, 0);
    CHECK_NEAR(f->value[5], 1.0, 0);
    CHECK_NEAR(accuracy(m, ds), 1.0, 0);
    flat_free(&fl);
    at_model_free(m);
    at_dataset_free(ds);
}

/* A node holding one class is a leaf at once: a single-class sample gives a one-node tree. */
static void test_pure_node_is_leaf(void) {
    at_dataset *ds = make_ds(20, 2, 2);
    for (size_t i = 0; i < 40; i++) ds->X[i] = (double)(i % 7);
    for (size_t i = 0; i < 20; i++) ds->y[i] = 1;
    at_forest_params p = one_exact_tree();
    at_model *m = fit(&p, ds, 1, 3);
    flat fl = flatten(m), *f = &fl;
    CHECK(f->n_nodes == 1 && f->feature[0] == -1);
    CHECK_NEAR(f->value[0], 0.0, 0);
    CHECK_NEAR(f->value[1], 1.0, 0);
    double imp[2] = {1, 1};
    CHECK(m->ops->importances(m->impl, imp) == AT_OK);
    CHECK(imp[0] == 0 && imp[1] == 0);
    flat_free(&fl);
    at_model_free(m);
    at_dataset_free(ds);
}

/* Checkerboard (x > 0) xor (y > 0): separable only by axis-aligned splits several levels
 * deep; both criteria reach 100% on the training rows. */
static void test_criteria_fit_separable(void) {
    size_t n = 400;
    at_dataset *ds = make_ds(n, 2, 2);
    at_rng r;
    at_rng_init(&r, 5, 0);
    for (size_t i = 0; i < n; i++) {
        double a = at_rng_uniform(&r) * 2 - 1, b = at_rng_uniform(&r) * 2 - 1;
        ds->X[i * 2] = a;
        ds->X[i * 2 + 1] = b;
        ds->y[i] = (a > 0) != (b > 0);
    }
    for (int crit = AT_CRITERION_GINI; crit <= AT_CRITERION_ENTROPY; crit++) {
        at_forest_params p;
        at_forest_params_default(&p);
        p.n_trees = 20;
        p.criterion = crit;
        at_model *m = fit(&p, ds, 2, 11);
        CHECK_NEAR(accuracy(m, ds), 1.0, 0);
        at_model_free(m);
    }
    at_dataset_free(ds);
}

static void test_max_features(void) {
    size_t m = 99;
    CHECK(at_forest_max_features("sqrt", 6, &m) && m == 2);
    CHECK(at_forest_max_features("sqrt", 16, &m) && m == 4);
    CHECK(at_forest_max_features("log2", 6, &m) && m == 2);
    CHECK(at_forest_max_features("log2", 1, &m) && m == 1);
    CHECK(at_forest_max_features("all", 6, &m) && m == 6);
    CHECK(at_forest_max_features("0.5", 6, &m) && m == 3);
    CHECK(at_forest_max_features("0.01", 6, &m) && m == 1);
    CHECK(at_forest_max_features("1.0", 6, &m) && m == 6);
    CHECK(at_forest_max_features("3", 6, &m) && m == 3);
    CHECK(at_forest_max_features("10", 6, &m) && m == 6);
    const char *bad[] = {"", "abc", "0", "-1", "1.5", "0.0", "2x", " 2", "sqrtx", "-0.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!at_forest_max_features(bad[i], 6, &m));
        CHECK(m == 0);
    }
    at_forest_params p;
    at_forest_params_default(&p);
    strcpy(p.max_features, "half");
    at_model *mod = NULL;
    at_error err;
    CHECK_FAIL(at_forest_new(&p, 6, 2, &mod, &err), AT_ERR_CONFIG, &err, "max_features 'half'");
    CHECK(mod == NULL);
    at_forest_params_default(&p);
    p.min_samples_leaf = 0;
    CHECK_FAIL(at_forest_new(&p, 6, 2, &mod, &err), AT_ERR_CONFIG, &err, "min_samples_leaf");
    at_forest_params_default(&p);
    p.max_bins = 1000;
    CHECK_FAIL(at_forest_new(&p, 6, 2, &mod, &err), AT_ERR_CONFIG, &err, "max_bins");
}

/* Routes every training row through each tree as predict does: every leaf must hold
 * >= min_samples_leaf rows, and its stored distribution must be exactly the class mix of
 * the rows routed there. That checks that "x <= threshold" at predict time sends rows
 * where training sent them, both for binned splits (large nodes: 3000 rows, many
 * distinct values, more than the 256 bins) and for exact ones (small nodes). */
static void test_min_samples_leaf_and_routing(void) {
    size_t n = 3000;
    at_dataset *ds = synthetic(n, 3, 0, 0.2, 9);
    for (int leaf = 1; leaf <= 7; leaf += 6) {
        at_forest_params p = one_exact_tree();
        p.n_trees = 3;
        p.min_samples_leaf = leaf;
        strcpy(p.max_features, "sqrt");
        at_model *m = fit(&p, ds, 1, 4);
        flat fl = flatten(m), *f = &fl;
        int *hits = calloc(f->n_nodes, sizeof *hits), *ones = calloc(f->n_nodes, sizeof *ones);
        for (size_t t = 0; t < f->n_trees; t++)
            for (size_t i = 0; i < n; i++) {
                size_t base = (size_t)f->offset[t];
                int32_t j = 0;
                while (f->feature[base + j] >= 0)
                    j = ds->X[i * 3 + f->feature[base + j]] <= f->threshold[base + j]
                            ? f->left[base + j]
                            : f->right[base + j];
                hits[base + j]++;
                ones[base + j] += ds->y[i];
            }
        int smallest = 1 << 30, leaves = 0, mismatched = 0;
        for (size_t i = 0; i < f->n_nodes; i++)
            if (f->feature[i] < 0) {
                leaves++;
                if (hits[i] < smallest) smallest = hits[i];
                if (f->value[2 * i + 1] != (double)ones[i] / (double)hits[i]) mismatched++;
            }
        CHECK(smallest >= leaf);
        if (leaf == 1) CHECK(smallest == 1); /* noisy labels: fully grown trees isolate rows */
        CHECK(leaves > 100);
        CHECK(mismatched == 0);
        free(hits);
        free(ones);
        flat_free(&fl);
        at_model_free(m);
    }
    at_dataset_free(ds);
}

/* Balanced weights n/(k count_c) turn a 90/10 unsplittable node into 50/50. */
static void test_class_weight_balanced(void) {
    at_dataset *ds = make_ds(100, 1, 2);
    for (size_t i = 0; i < 100; i++) ds->X[i] = 1.0, ds->y[i] = i < 10;
    at_forest_params p = one_exact_tree();
    at_model *m = fit(&p, ds, 1, 1);
    flat fl = flatten(m), *f = &fl;
    CHECK(f->n_nodes == 1);
    CHECK_NEAR(f->value[0], 0.9, 1e-12);
    flat_free(&fl);
    at_model_free(m);
    p.class_weight = AT_CLASS_WEIGHT_BALANCED;
    m = fit(&p, ds, 1, 1);
    fl = flatten(m);
    CHECK_NEAR(f->value[0], 0.5, 1e-12);
    CHECK_NEAR(f->value[1], 0.5, 1e-12);
    flat_free(&fl);
    at_model_free(m);
    at_dataset_free(ds);
}

/* Trees grow on their own random streams and are stored by index: the same forest and
 * the same probabilities, bit for bit, whatever the thread count. */
static void test_threads_identical(void) {
    at_dataset *ds = synthetic(2000, 5, 1, 0.1, 21);
    at_forest_params p;
    at_forest_params_default(&p);
    p.n_trees = 16;
    at_model *a = fit(&p, ds, 1, 99), *b = fit(&p, ds, 2, 99), *c = fit(&p, ds, 2, 100);
    flat la = flatten(a), lb = flatten(b), lc = flatten(c), *fa = &la, *fb = &lb, *fc = &lc;
    CHECK(fa->n_nodes == fb->n_nodes);
    CHECK(memcmp(fa->feature, fb->feature, fa->n_nodes * sizeof *fa->feature) == 0);
    CHECK(memcmp(fa->threshold, fb->threshold, fa->n_nodes * sizeof *fa->threshold) == 0);
    CHECK(memcmp(fa->value, fb->value, fa->n_nodes * 2 * sizeof *fa->value) == 0);
    CHECK(memcmp(&fa->oob, &fb->oob, sizeof fa->oob) == 0);
    CHECK(fa->n_nodes != fc->n_nodes ||
          memcmp(fa->threshold, fc->threshold, fa->n_nodes * sizeof *fa->threshold) != 0);
    double *P1 = malloc(ds->n * 2 * sizeof *P1), *P2 = malloc(ds->n * 2 * sizeof *P2);
    at_error err;
    CHECK_OK(at_model_predict_proba(a, ds->X, ds->n, P1, 1, &err), &err);
    CHECK_OK(at_model_predict_proba(b, ds->X, ds->n, P2, 2, &err), &err);
    CHECK(memcmp(P1, P2, ds->n * 2 * sizeof *P1) == 0);
    for (size_t i = 0; i < ds->n; i++) CHECK_NEAR(P1[2 * i] + P1[2 * i + 1], 1.0, 1e-12);
    free(P1);
    free(P2);
    flat_free(&la);
    flat_free(&lb);
    flat_free(&lc);
    at_model_free(a);
    at_model_free(b);
    at_model_free(c);
    at_dataset_free(ds);
}

static void test_importances(void) {
    at_dataset *ds = synthetic(1500, 6, 3, 0.05, 33);
    at_forest_params p;
    at_forest_params_default(&p);
    p.n_trees = 30;
    at_model *m = fit(&p, ds, 2, 5);
    double imp[6], s = 0;
    CHECK(m->ops->importances(m->impl, imp) == AT_OK);
    size_t best = 0;
    for (size_t j = 0; j < 6; j++) {
        s += imp[j];
        CHECK(imp[j] >= 0);
        if (imp[j] > imp[best]) best = j;
    }
    CHECK_NEAR(s, 1.0, 1e-12);
    CHECK(best == 3);
    CHECK(imp[3] > 0.3);
    at_model_free(m);
    at_dataset_free(ds);
}

/* The number after "key": in a JSON text; NaN when the key is absent. */
static double json_number(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *at = strstr(json, pat);
    return at ? strtod(at + strlen(pat), NULL) : NAN;
}

/* 10% flipped labels on a one-feature rule, fully grown trees. OOB accuracy estimates the
 * accuracy on unseen rows: it must agree with the accuracy on 20000 fresh rows from the
 * same distribution within 3 binomial standard deviations of the difference,
 * 3 sqrt(0.9 0.1 (1/3000 + 1/20000)) = 0.018 (measured 0.890 vs 0.897), while the training
 * rows score 0.999 (in-bag trees memorise them). NaN without bootstrap. */
static void test_oob(void) {
    at_dataset *ds = synthetic(3000, 3, 0, 0.1, 44);
    at_forest_params p;
    at_forest_params_default(&p);
    p.n_trees = 40;
    at_model *m = fit(&p, ds, 2, 8);
    double oob = at_forest_oob_accuracy(m);
    at_dataset *fresh = synthetic(20000, 3, 0, 0.1, 4444);
    double held_out = accuracy(m, fresh);
    at_dataset_free(fresh);
    CHECK_NEAR(oob, held_out, 3 * sqrt(0.9 * 0.1 * (1.0 / 3000 + 1.0 / 20000)));
    CHECK(held_out < 0.9 + 3 * sqrt(0.9 * 0.1 / 20000)); /* no better than the Bayes rate */
    CHECK(accuracy(m, ds) > 0.98);
    at_json j;
    at_json_init(&j);
    at_json_begin_object(&j);
    m->ops->describe(m->impl, &j);
    at_json_end_object(&j);
    /* describe reports the fitted forest's own figures (shortest round-trip text) */
    flat fl = flatten(m), *f = &fl;
    double depth = 0;
    for (size_t t = 0; t < f->n_trees; t++) depth += f->depth[t];
    CHECK(json_number(j.buf, "oob_accuracy") == oob);
    CHECK(json_number(j.buf, "n_trees") == 40 && f->n_trees == 40);
    CHECK(json_number(j.buf, "total_nodes") == (double)f->n_nodes && f->n_nodes > 40);
    CHECK(json_number(j.buf, "mean_depth") == depth / 40);
    at_json_free(&j);
    flat_free(&fl);
    at_model_free(m);
    p.bootstrap = 0;
    m = fit(&p, ds, 2, 8);
    CHECK(isnan(at_forest_oob_accuracy(m)));
    at_model_free(m);
    at_dataset_free(ds);
}

/* The out-of-bag vote recomputed from outside: tree t's bootstrap is the first n draws
 * at_rng_below(n) of stream (seed, t) (forest_fit.c: "tree t draws every random number
 * from its own stream"); a row is voted on by the trees that never drew it, summing their
 * leaf distributions in tree order, argmax with ties to the lower class; rows drawn by
 * every tree are not counted. Returns the accuracy; *counted the rows counted. */
static double oob_by_hand(const at_model *m, const at_dataset *ds, uint64_t seed, size_t *counted) {
    flat fl = flatten(m), *f = &fl;
    size_t n = ds->n, k = f->k, correct = 0;
    unsigned char *inbag = calloc(f->n_trees * n, 1);
    double *p = calloc(n * k, sizeof *p);
    int *any = calloc(n, sizeof *any);
    for (size_t t = 0; t < f->n_trees; t++) {
        at_rng r;
        at_rng_init(&r, seed, t);
        for (size_t i = 0; i < n; i++) inbag[t * n + at_rng_below(&r, n)] = 1;
    }
    *counted = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t t = 0; t < f->n_trees; t++) {
            if (inbag[t * n + i]) continue;
            size_t base = (size_t)f->offset[t];
            int32_t j = 0;
            while (f->feature[base + j] >= 0)
                j = ds->X[i * f->d + f->feature[base + j]] <= f->threshold[base + j]
                        ? f->left[base + j]
                        : f->right[base + j];
            for (size_t c = 0; c < k; c++) p[i * k + c] += f->value[(base + j) * k + c];
            any[i] = 1;
        }
        if (!any[i]) continue;
        size_t best = 0;
        for (size_t c = 1; c < k; c++)
            if (p[i * k + c] > p[i * k + best]) best = c;
        (*counted)++;
        correct += (int32_t)best == ds->y[i];
    }
    flat_free(&fl);
    free(inbag);
    free(p);
    free(any);
    return *counted ? (double)correct / (double)*counted : NAN;
}

/* Labels drawn uniformly from 4 classes, independent of the features: fully grown trees
 * memorise their bootstrap rows, so the forest scores near 1 on its training rows, but a
 * tree that never saw row i knows nothing of y_i, so each out-of-bag vote is right with
 * probability exactly 1/4. With n = 2000 rows (all counted: a row is in-bag in all 50
 * trees with probability 0.632^50) the OOB accuracy is 0.25 +- sqrt(0.25 * 0.75 / 2000)
 * = 0.0097 (the votes share training rows, so the spread is a little wider: 0.012 over 30
 * seeds, this one gives 0.273); allow 4 standard deviations. Letting in-bag trees vote
 * pushes it to 1. */
static void test_oob_noise_labels(void) {
    size_t n = 2000, d = 3, k = 4;
    at_dataset *ds = make_ds(n, d, k);
    at_rng r;
    at_rng_init(&r, 71, 0);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) ds->X[i * d + j] = at_rng_normal(&r);
        ds->y[i] = (int32_t)at_rng_below(&r, k);
    }
    at_forest_params p;
    at_forest_params_default(&p);
    p.n_trees = 50;
    at_model *m = fit(&p, ds, 2, 12);
    double oob = at_forest_oob_accuracy(m), train = accuracy(m, ds);
    double sd = sqrt(0.25 * 0.75 / (double)n);
    CHECK_NEAR(oob, 0.25, 4 * sd);
    CHECK(train > 0.95); /* in-bag: memorised */
    size_t counted = 0;
    CHECK(oob == oob_by_hand(m, ds, 12, &counted));
    CHECK(counted == n);
    at_model_free(m);
    at_dataset_free(ds);
}

/* Three trees: about 0.632^3 = 25% of the rows are in every bootstrap and must not be
 * counted; the estimate equals the vote recomputed from outside exactly. */
static void test_oob_exact(void) {
    at_dataset *ds = synthetic(600, 3, 1, 0.2, 45);
    at_forest_params p;
    at_forest_params_default(&p);
    p.n_trees = 3;
    at_model *m = fit(&p, ds, 2, 31);
    size_t counted = 0;
    double want = oob_by_hand(m, ds, 31, &counted);
    CHECK(at_forest_oob_accuracy(m) == want);
    /* 600 * (1 - 0.632^3) = 449 expected, binomial sd 10.6 */
    CHECK(counted > 400 && counted < 500);
    at_model_free(m);
    at_dataset_free(ds);
}

typedef struct prog {
    size_t calls, last_done, total;
    volatile int stop;
} prog;

static void on_update(void *ctx, const char *stage, size_t done, size_t total, const char *detail) {
    (void)detail;
    prog *g = ctx;
    if (strcmp(stage, "fit random_forest") == 0) g->calls++, g->last_done = done, g->total = total;
}

static void test_progress_and_stop(void) {
    at_dataset *ds = synthetic(300, 3, 0, 0.1, 2);
    at_forest_params p;
    at_forest_params_default(&p);
    p.n_trees = 12;
    prog g = {0};
    at_progress pr = {on_update, NULL, &g, &g.stop};
    at_model *m = NULL;
    at_error err;
    CHECK_OK(at_forest_new(&p, 3, 2, &m, &err), &err);
    at_fit_input in = {.train = ds, .valid = NULL, .threads = 2, .seed = 1, .progress = &pr};
    CHECK_OK(at_model_fit(m, &in, &err), &err);
    CHECK(g.calls == 12 && g.last_done == 12 && g.total == 12);
    g.stop = 1;
    CHECK_FAIL(at_model_fit(m, &in, &err), AT_ERR_INTERRUPTED, &err, "interrupted");
    double P[2];
    CHECK_FAIL(at_model_predict_proba(m, ds->X, 1, P, 1, &err), AT_ERR_INTERNAL, &err, "before fit");
    at_model_free(m);
    at_dataset_free(ds);
}

static void test_bad_labels(void) {
    at_dataset *ds = synthetic(50, 2, 0, 0, 2);
    ds->y[7] = 5;
    at_forest_params p;
    at_forest_params_default(&p);
    at_model *m = NULL;
    at_error err;
    CHECK_OK(at_forest_new(&p, 2, 2, &m, &err), &err);
    at_fit_input in = {.train = ds, .valid = NULL, .threads = 1, .seed = 1, .progress = NULL};
    CHECK_FAIL(at_model_fit(m, &in, &err), AT_ERR_DATA, &err, "row 7");
    ds->y[7] = 0;
    ds->X[3] = NAN;
    CHECK_FAIL(at_model_fit(m, &in, &err), AT_ERR_DATA, &err, "NaN");
    at_model_free(m);
    at_dataset_free(ds);
}

/* Save, load, same probabilities bit for bit; then corrupt arrays must give AT_ERR_MODEL. */
static void test_save_load(void) {
    at_dataset *ds = synthetic(1000, 4, 2, 0.1, 17);
    at_forest_params p;
    at_forest_params_default(&p);
    p.n_trees = 10;
    p.criterion = AT_CRITERION_ENTROPY;
    strcpy(p.max_features, "0.5");
    at_model *m = fit(&p, ds, 2, 3), *back = NULL;
    char path[256];
    snprintf(path, sizeof path, "/tmp/test_forest_%d.h5", (int)getpid());
    at_error err;
    CHECK_OK(at_model_save_file(m, path, &err), &err);
    CHECK_OK(at_model_load_file(path, &back, &err), &err);
    if (back) {
        CHECK(back->ops == &at_forest_ops && back->n_features == 4 && back->n_classes == 2);
        flat la = flatten(m), lb = flatten(back), *fa = &la, *fb = &lb;
        const at_forest *pb = back->impl;
        CHECK(pb->p.criterion == AT_CRITERION_ENTROPY && strcmp(pb->p.max_features, "0.5") == 0);
        CHECK(fb->n_trees == 10 && fb->n_nodes == fa->n_nodes);
        CHECK(memcmp(fa->depth, fb->depth, 10 * sizeof *fa->depth) == 0);
        CHECK(memcmp(&fa->oob, &fb->oob, sizeof fa->oob) == 0);
        double *P1 = malloc(ds->n * 2 * sizeof *P1), *P2 = malloc(ds->n * 2 * sizeof *P2);
        CHECK_OK(at_model_predict_proba(m, ds->X, ds->n, P1, 2, &err), &err);
        CHECK_OK(at_model_predict_proba(back, ds->X, ds->n, P2, 1, &err), &err);
        CHECK(memcmp(P1, P2, ds->n * 2 * sizeof *P1) == 0);
        free(P1);
        free(P2);
        double i1[4], i2[4];
        m->ops->importances(m->impl, i1);
        back->ops->importances(back->impl, i2);
        CHECK(memcmp(i1, i2, sizeof i1) == 0);
        flat_free(&la);
        flat_free(&lb);
        at_model_free(back);
    }
    /* Corruptions written through save (which trusts memory), caught by load. */
    at_forest *f = m->impl;
    tree_list *L = &f->trees;
    int32_t split = 0; /* the root of tree 0 splits */
    CHECK(!tree_node_is_leaf(&L->nodes[split], split));
    int32_t old_right = L->nodes[split].right, old_feat = L->nodes[split].feature;
    int64_t old_off = L->off[1];
    double old_val = L->value[0];
    for (int c = 0; c < 4; c++) {
        if (c == 0) L->nodes[split].right = 0; /* a cycle */
        if (c == 1) L->nodes[split].feature = 4;
        if (c == 2) L->off[1] = L->off[2] + 1;
        if (c == 3) L->value[0] = NAN;
        CHECK_OK(at_model_save_file(m, path, &err), &err);
        back = NULL;
        CHECK_FAIL(at_model_load_file(path, &back, &err), AT_ERR_MODEL, &err, "random forest");
        CHECK(back == NULL);
        L->nodes[split].right = old_right;
        L->nodes[split].feature = old_feat;
        L->off[1] = old_off;
        L->value[0] = old_val;
    }
    unlink(path);
    at_model_free(m);
    at_dataset_free(ds);
}

int main(void) {
    RUN(test_stump_by_hand);
    RUN(test_best_feature_by_hand);
    RUN(test_pure_node_is_leaf);
    RUN(test_criteria_fit_separable);
    RUN(test_max_features);
    RUN(test_min_samples_leaf_and_routing);
    RUN(test_class_weight_balanced);
    RUN(test_threads_identical);
    RUN(test_importances);
    RUN(test_oob);
    RUN(test_oob_noise_labels);
    RUN(test_oob_exact);
    RUN(test_progress_and_stop);
    RUN(test_bad_labels);
    RUN(test_save_load);
    return harness_done();
}
