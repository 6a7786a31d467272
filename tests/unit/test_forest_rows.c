/* test_forest_rows.c - the random forest data-parallel by rows ([run] distribute = rows) in one
 * process: hand-made trees through the small-node (gathered, exact) path and the large-node
 * (summed histograms) path, balanced class weights on integer counts, the out-of-bag accuracy,
 * importances, and independence of the thread count. (1, 2, 3 ranks bit for bit:
 * tests/e2e/mpi.sh.) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/forest.h"
#include "harness.h"
#include "models/forest_impl.h"

static const char *const FEAT[] = {"f0", "f1", "f2", "f3"};
static const char *const CLS[] = {"a", "b", "c"};

static at_dataset *make_ds(size_t n, size_t d, size_t k) {
    at_dataset *ds = NULL;
    at_error err;
    if (at_dataset_new(n, d, 1, FEAT, CLS, k, &ds, &err)) return NULL;
    return ds;
}

static at_forest_params exact_tree(void) {
    at_forest_params p;
    at_forest_params_default(&p);
    p.n_trees = 1;
    p.bootstrap = 0;
    p.oob_score = 0;
    strcpy(p.max_features, "all");
    return p;
}

static at_model *fit_rows(const at_forest_params *p, const at_dataset *ds, int threads) {
    at_model *m = NULL;
    at_error err = {0};
    CHECK_OK(at_forest_new(p, ds->d, ds->n_classes, &m, &err), &err);
    if (!m) return NULL;
    at_fit_input in = {.train = ds, .threads = threads, .seed = 11, .distribute_rows = 1};
    CHECK_OK(at_model_fit(m, &in, &err), &err);
    return m;
}

static const tree_list *trees_of(const at_model *m) { return &((const at_forest *)m->impl)->trees; }

/* x = 0..9, class b from 5: one split at 4.5 (the midpoint), two pure leaves. */
static void test_hand_tree_small_node(void) {
    at_dataset *ds = make_ds(10, 1, 2);
    for (size_t i = 0; i < 10; i++) ds->X[i] = (double)i, ds->y[i] = i >= 5;
    at_forest_params p = exact_tree();
    at_model *m = fit_rows(&p, ds, 1);
    CHECK(m != NULL);
    if (!m) {
        at_dataset_free(ds);
        return;
    }
    const tree_list *L = trees_of(m);
    CHECK(L->n_trees == 1 && L->n_nodes == 3);
    CHECK(L->nodes[0].feature == 0);
    CHECK_NEAR(L->nodes[0].thr, 4.5, 0);
    int32_t l = L->nodes[0].left, r = L->nodes[0].right;
    CHECK_NEAR(L->value[l * 2 + 0], 1.0, 0);
    CHECK_NEAR(L->value[r * 2 + 1], 1.0, 0);
    CHECK_NEAR(((const at_forest *)m->impl)->importance[0], 1.0, 0);
    at_model_free(m);
    at_dataset_free(ds);
}

/* Balanced weights multiply the integer counts: classes 3:1 weigh 2/3 and 2, so the root's
 * distribution is 0.5 / 0.5 and the split at 2.5 leaves two pure leaves. */
static void test_balanced_weights(void) {
    at_dataset *ds = make_ds(4, 1, 2);
    for (size_t i = 0; i < 4; i++) ds->X[i] = (double)i, ds->y[i] = i == 3;
    at_forest_params p = exact_tree();
    p.class_weight = AT_CLASS_WEIGHT_BALANCED;
    at_model *m = fit_rows(&p, ds, 1);
    CHECK(m != NULL);
    if (!m) {
        at_dataset_free(ds);
        return;
    }
    const tree_list *L = trees_of(m);
    CHECK(L->n_nodes == 3);
    CHECK_NEAR(L->value[0], 0.5, 1e-15);
    CHECK_NEAR(L->value[1], 0.5, 1e-15);
    CHECK_NEAR(L->nodes[0].thr, 2.5, 0);
    at_model_free(m);
    at_dataset_free(ds);
}

/* 3000 rows in 256 quantile bins (a large node: histograms), class b above 1700.5: the root
 * splits at a bin edge and the tree still classifies every training row, threshold 1700.5 on
 * the path; 1 and 2 threads give the same tree. */
static void test_large_nodes(void) {
    size_t n = 3000;
    at_dataset *ds = make_ds(n, 2, 2);
    for (size_t i = 0; i < n; i++) {
        ds->X[i * 2] = (double)((i * 7919) % n); /* a permutation of 0..n-1 */
        ds->X[i * 2 + 1] = (double)(i % 13);     /* noise */
        ds->y[i] = ds->X[i * 2] > 1700.5;
    }
    at_forest_params p = exact_tree();
    at_model *m1 = fit_rows(&p, ds, 1), *m2 = fit_rows(&p, ds, 2);
    CHECK(m1 && m2);
    if (!m1 || !m2) {
        at_model_free(m1), at_model_free(m2), at_dataset_free(ds);
        return;
    }
    const tree_list *L = trees_of(m1), *L2 = trees_of(m2);
    CHECK(L->n_nodes == L2->n_nodes);
    CHECK(L->n_nodes == L2->n_nodes && !memcmp(L->nodes, L2->nodes, L->n_nodes * sizeof *L->nodes));
    CHECK(L->n_nodes == L2->n_nodes && !memcmp(L->value, L2->value, L->n_nodes * 2 * sizeof *L->value));
    CHECK(L->nodes[0].feature == 0);
    int has = 0;
    for (size_t i = 0; i < L->n_nodes; i++) has |= L->nodes[i].left != (int32_t)i && L->nodes[i].thr == 1700.5;
    CHECK(has);
    double *P = malloc(n * 2 * sizeof *P);
    at_error err;
    CHECK_OK(at_model_predict_proba(m1, ds->X, n, P, 1, &err), &err);
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) ok += (P[i * 2 + 1] > 0.5) == (ds->y[i] == 1);
    CHECK(ok == n);
    free(P);
    at_model_free(m1);
    at_model_free(m2);
    at_dataset_free(ds);
}

/* With the Poisson(1) bootstrap: the out-of-bag accuracy is computed and high on learnable
 * data, importances sum to 1, one and two threads agree. */
static void test_bootstrap_share(void) {
    size_t n = 4000, d = 3;
    at_dataset *ds = make_ds(n, d, 3);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) ds->X[i * d + j] = (double)((i * (31 + 7 * j) + 17 * j) % 1009);
        ds->y[i] = (int32_t)((ds->X[i * d] + ds->X[i * d + 1]) / 700.0);
    }
    at_forest_params p;
    at_forest_params_default(&p);
    p.n_trees = 8;
    at_model *m1 = fit_rows(&p, ds, 1), *m2 = fit_rows(&p, ds, 2);
    CHECK(m1 && m2);
    if (!m1 || !m2) {
        at_model_free(m1), at_model_free(m2), at_dataset_free(ds);
        return;
    }
    const at_forest *f = m1->impl;
    CHECK(!isnan(f->oob) && f->oob > 0.8);
    CHECK(f->oob == ((const at_forest *)m2->impl)->oob);
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        s += f->importance[j];
        CHECK(f->importance[j] >= 0);
    }
    CHECK_NEAR(s, 1.0, 1e-12);
    const tree_list *L = &f->trees, *L2 = &((const at_forest *)m2->impl)->trees;
    CHECK(L->n_nodes == L2->n_nodes && !memcmp(L->nodes, L2->nodes, L->n_nodes * sizeof *L->nodes));
    at_model_free(m1);
    at_model_free(m2);
    at_dataset_free(ds);
}

int main(void) {
    RUN(test_hand_tree_small_node);
    RUN(test_balanced_weights);
    RUN(test_large_nodes);
    RUN(test_bootstrap_share);
    return harness_done();
}
