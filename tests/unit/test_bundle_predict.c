/* test_bundle_predict.c - the bundle as a library object: a model file loaded once predicts
 * from memory on rows with named columns in any order (extra columns ignored, a missing one
 * named in the error), applies its own cleaning (a row with the sentinel or a NaN gets NaN
 * probabilities, the others are untouched), refuses images for a table model, and gives
 * bit-identical results when many threads call it at once on the one loaded bundle. Also
 * the registry's capability flags: each family listed once, flags as documented. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "astrotrain/bundle.h"
#include "astrotrain/config.h"
#include "astrotrain/metrics.h"
#include "astrotrain/params.h"
#include "harness.h"

#define N 200
#define D 3
#define K 3
#define THREADS 8

static const char *const FEATURES[D] = {"u_g", "g_r", "redshift"};
static const char *const CLASSES[K] = {"GALAXY", "QSO", "STAR"};

static void rows(double *X, int32_t *y) {
    for (size_t i = 0; i < N; i++) {
        int c = (int)(i % K);
        double t = (double)((i * 37) % 101) / 101.0, u = (double)((i * 53) % 89) / 89.0;
        X[i * D + 0] = 1.0 + 0.8 * c + 0.6 * t;
        X[i * D + 1] = 0.3 * c - 0.5 * u + 0.2 * t;
        X[i * D + 2] = 0.1 + 1.5 * (c == 1) + 0.3 * u;
        y[i] = c;
    }
}

/* A trained bundle (scaler + PCA stage + model of `type`), saved and loaded back. */
static at_bundle *trained(const char *type, const char *path) {
    at_error err = {0};
    double X[N * D];
    int32_t y[N];
    rows(X, y);
    at_bundle *b = calloc(1, sizeof *b);
    b->d = D, b->k = K;
    b->feature_names = calloc(D, sizeof(char *));
    b->class_names = calloc(K, sizeof(char *));
    for (size_t i = 0; i < D; i++) b->feature_names[i] = strdup(FEATURES[i]);
    for (size_t i = 0; i < K; i++) b->class_names[i] = strdup(CLASSES[i]);
    b->label = strdup("class");
    b->use_sentinel = 1, b->sentinel = -9999;
    b->missing = 0; /* drop */
    b->config_text = strdup(""), b->metrics_json = strdup("{}");
    at_dataset *ds = NULL, *pc = NULL;
    CHECK_OK(at_dataset_new(N, D, 1, FEATURES, CLASSES, K, &ds, &err), &err);
    memcpy(ds->X, X, sizeof X), memcpy(ds->y, y, sizeof y);
    CHECK_OK(at_scaler_fit(AT_SCALER_STANDARD, ds, &b->scaler, &err), &err);
    at_scaler_apply(b->scaler, ds->X, N);
    at_pca_params pp;
    at_pca_params_default(&pp);
    pp.n_components = 2;
    CHECK_OK(at_pca_fit(&pp, ds, &b->pca, &err), &err);
    const char *pcs[2] = {"PC1", "PC2"};
    CHECK_OK(at_dataset_new(N, 2, 1, pcs, CLASSES, K, &pc, &err), &err);
    CHECK_OK(at_pca_transform(b->pca, ds->X, N, pc->X, &err), &err);
    memcpy(pc->y, y, sizeof y);
    _Alignas(max_align_t) unsigned char params[AT_PARAMS_MAX];
    CHECK_OK(at_model_params_default(type, params, &err), &err);
    if (strcmp(type, "random_forest") == 0) ((at_forest_params *)(void *)params)->n_trees = 9;
    CHECK_OK(at_model_create(type, params, 2, K, &b->model, &err), &err);
    at_fit_input in = {.train = pc, .threads = 1, .seed = 5};
    CHECK_OK(at_model_fit(b->model, &in, &err), &err);
    at_dataset_free(ds), at_dataset_free(pc);
    CHECK_OK(at_bundle_save(b, path, &err), &err);
    at_bundle_free(b);
    at_bundle *loaded = NULL;
    CHECK_OK(at_bundle_load(path, &loaded, &err), &err);
    return loaded;
}

/* The input block: the bundle's columns reversed, with two extra columns around them. */
#define NC 5
static const char *const COLUMNS[NC] = {"ra", "redshift", "g_r", "dec", "u_g"};
static void block(double *B) {
    double X[N * D];
    int32_t y[N];
    rows(X, y);
    for (size_t i = 0; i < N; i++) {
        B[i * NC + 0] = 100.0 + (double)i;
        B[i * NC + 1] = X[i * D + 2];
        B[i * NC + 2] = X[i * D + 1];
        B[i * NC + 3] = -(double)i;
        B[i * NC + 4] = X[i * D + 0];
    }
}

typedef struct job {
    const at_bundle *b;
    const double *B;
    double P[N * K];
    int threads;
    at_status s;
} job;

static void *run_job(void *arg) {
    job *j = arg;
    at_error err = {0};
    for (int rep = 0; rep < 3 && !j->s; rep++)
        j->s = at_bundle_predict_rows(j->b, COLUMNS, NC, j->B, N, j->P, j->threads, &err);
    return NULL;
}

static void test_rows(const char *type) {
    char path[128];
    snprintf(path, sizeof path, "/tmp/at_bundle_predict_%ld_%s.h5", (long)getpid(), type);
    at_bundle *b = trained(type, path);
    if (!b) return;
    at_error err = {0};
    static double B[N * NC], Xo[N * D], P1[N * K], P0[N * K];
    block(B);
    /* the reference: the low-level path on rows in the bundle's order */
    int32_t y[N];
    rows(Xo, y);
    CHECK_OK(at_bundle_predict(b, Xo, N, P0, 1, &err), &err);
    CHECK_OK(at_bundle_predict_rows(b, COLUMNS, NC, B, N, P1, 1, &err), &err);
    CHECK(memcmp(P0, P1, sizeof P0) == 0);
    size_t correct = 0;
    for (size_t i = 0; i < N; i++) correct += (int32_t)at_argmax(P1 + i * K, K) == y[i];
    CHECK(correct > N * 8 / 10);
    /* many threads on the one loaded bundle, each with 1 or 2 threads of its own */
    pthread_t th[THREADS];
    static job jobs[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (job){.b = b, .B = B, .threads = 1 + t % 2};
        pthread_create(&th[t], NULL, run_job, &jobs[t]);
    }
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < THREADS; t++) CHECK(jobs[t].s == AT_OK && memcmp(jobs[t].P, P1, sizeof P1) == 0);
    /* the bundle's cleaning: a sentinel and a NaN give NaN rows; the others are unchanged */
    static double Bc[N * NC], Pc[N * K];
    memcpy(Bc, B, sizeof B);
    Bc[7 * NC + 2] = -9999;
    Bc[11 * NC + 4] = NAN;
    Bc[12 * NC + 0] = NAN; /* an extra column: ignored */
    CHECK_OK(at_bundle_predict_rows(b, COLUMNS, NC, Bc, N, Pc, 1, &err), &err);
    for (size_t i = 0; i < N; i++) {
        int bad = i == 7 || i == 11;
        for (size_t c = 0; c < K; c++)
            CHECK(bad ? isnan(Pc[i * K + c]) : Pc[i * K + c] == P1[i * K + c]);
    }
    /* a missing feature is an error naming it */
    const char *cols2[NC] = {"ra", "redshift", "g-r", "dec", "u_g"};
    CHECK_FAIL(at_bundle_predict_rows(b, cols2, NC, B, N, Pc, 1, &err), AT_ERR_DATA, &err, "'g_r'");
    /* a table model refuses images */
    at_images *im = NULL;
    CHECK_OK(at_images_new(1, 4, 4, 3, 0, &im, &err), &err);
    CHECK_FAIL(at_bundle_predict_images(b, im, Pc, 1, &err), AT_ERR_USAGE, &err, "does not classify images");
    at_images_free(im);
    at_bundle_free(b);
    unlink(path);
}

static void test_rows_forest(void) { test_rows("random_forest"); }
static void test_rows_mlp(void) { test_rows("mlp"); }

static void test_capabilities(void) {
    const char *const *names;
    size_t n = at_model_types(&names);
    CHECK(n == 7);
    for (size_t i = 0; i < n; i++) {
        CHECK(at_model_ops_find(names[i]) != NULL);
        CHECK(at_model_type_caps(names[i]) & (AT_CAP_TABLES | AT_CAP_IMAGES));
        for (size_t j = 0; j < i; j++) CHECK(strcmp(names[i], names[j]) != 0);
    }
    CHECK(at_model_type_has("pca", AT_CAP_TRANSFORM | AT_CAP_UNSUPERVISED));
    CHECK(at_model_type_has("gmm", AT_CAP_UNSUPERVISED) && !at_model_type_has("gmm", AT_CAP_TRANSFORM));
    CHECK(!at_model_type_has("random_forest", AT_CAP_TRANSFORM) && at_model_type_has("random_forest", AT_CAP_TABLES));
    CHECK(at_model_type_has("cnn", AT_CAP_IMAGES | AT_CAP_CHECKPOINT | AT_CAP_BUILT_FROM_NET));
    CHECK(!at_model_type_has("cnn", AT_CAP_TABLES));
    CHECK(at_model_type_has("ensemble", AT_CAP_BUILT_FROM_MEMBERS) && !at_model_type_has("mlp", AT_CAP_BUILT_FROM_MEMBERS));
    CHECK(at_model_type_caps("no_such_family") == 0 && !at_model_type_is_transform("no_such_family"));
}

int main(void) {
    RUN(test_rows_forest);
    RUN(test_rows_mlp);
    RUN(test_capabilities);
    return harness_done();
}
