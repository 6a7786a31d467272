/* test_bundle_roundtrip.c - a model bundle saved with every preprocessing field set to a
 * value no default would give (scaler kind, shift and scale; the PCA stage with whitening;
 * feature and class names; the label; the sentinel filter and its value; the missing-value
 * policy; the config and metrics texts) comes back from the file with every field exactly
 * equal, bit for bit, and predicts exactly as before saving. Also: the same without a PCA
 * stage and with the other kinds and policies, and without a scaler. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astrotrain/config.h"
#include "astrotrain/dataset.h"
#include "astrotrain/model.h"
#include "astrotrain/model_file.h"
#include "astrotrain/pca.h"
#include "astrotrain/pipeline.h"
#include "astrotrain/preprocess.h"
#include "harness.h"

static char dir[64];

#define N_ROWS 90
#define D_IN 4
#define K 3

static const char *const FEATURES[D_IN] = {"mag_u", "mag g (AB)", "z_phot", "flux_ratio"};
static const char *const CLASSES[K] = {"AGN", "BLAZAR", "WD"};

/* Deterministic raw rows: three classes, four correlated features at very different scales. */
static void raw_rows(double *X, int32_t *y) {
    for (size_t i = 0; i < N_ROWS; i++) {
        int c = (int)(i % K);
        double t = (double)((i * 37) % 101) / 101.0, u = (double)((i * 53) % 89) / 89.0;
        X[i * D_IN + 0] = 18.0 + 2.5 * c + 0.7 * t;
        X[i * D_IN + 1] = 1000.0 * (c - 1) + 150.0 * u - 40.0 * t;
        X[i * D_IN + 2] = 0.001 * c + 0.0004 * u;
        X[i * D_IN + 3] = -7.0 + 3.0 * t * (c + 1) + u;
        y[i] = c;
    }
}

static char **dup_names(const char *const *names, size_t n) {
    char **out = calloc(n, sizeof *out);
    for (size_t i = 0; out && i < n; i++) out[i] = strdup(names[i]);
    return out;
}

/* A bundle like a run makes: raw -> scaler -> optional PCA -> a small forest. */
static at_bundle *make_bundle(at_scaler_kind kind, int with_pca, int use_sentinel, double sentinel, int missing,
                              const char *label) {
    at_error err = {0};
    double X[N_ROWS * D_IN];
    int32_t y[N_ROWS];
    raw_rows(X, y);
    at_bundle *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->d = D_IN;
    b->k = K;
    b->feature_names = dup_names(FEATURES, D_IN);
    b->class_names = dup_names(CLASSES, K);
    b->label = strdup(label);
    b->use_sentinel = use_sentinel;
    b->sentinel = sentinel;
    b->missing = missing;
    b->config_text = strdup("[run]\nname = roundtrip\n; a comment with \"quotes\" and UTF-8: \xc3\xa9\n");
    b->metrics_json = strdup("{\"test\": {\"accuracy\": 0.123456789012345678}}");
    if (kind != AT_SCALER_NONE) {
        /* Not what any fit would give: odd shifts and scales, one negative. */
        const double shift[D_IN] = {19.123456789012345, -3.25e-3, 0.0015, -5.000000000000001};
        const double scale[D_IN] = {2.7182818284590451, 1234.5678, 6.02e-4, -0.3333333333333333};
        CHECK_OK(at_scaler_new(kind, D_IN, shift, scale, &b->scaler, &err), &err);
        at_scaler_apply(b->scaler, X, N_ROWS);
    }
    at_dataset *ds = NULL, *mds = NULL;
    CHECK_OK(at_dataset_new(N_ROWS, D_IN, 1, FEATURES, CLASSES, K, &ds, &err), &err);
    if (!ds) return b;
    memcpy(ds->X, X, sizeof X);
    memcpy(ds->y, y, sizeof y);
    for (size_t i = 0; i < N_ROWS; i++) ds->row[i] = (int64_t)i;
    size_t model_d = D_IN;
    if (with_pca) {
        at_pca_params pp;
        at_pca_params_default(&pp);
        pp.n_components = 2;
        pp.whiten = 1;
        CHECK_OK(at_pca_fit(&pp, ds, &b->pca, &err), &err);
        if (!b->pca) {
            at_dataset_free(ds);
            return b;
        }
        const char *pcs[2] = {"PC1", "PC2"};
        CHECK_OK(at_dataset_new(N_ROWS, 2, 1, pcs, CLASSES, K, &mds, &err), &err);
        CHECK_OK(at_pca_transform(b->pca, ds->X, N_ROWS, mds->X, &err), &err);
        memcpy(mds->y, y, sizeof y);
        for (size_t i = 0; i < N_ROWS; i++) mds->row[i] = (int64_t)i;
        model_d = 2;
    }
    at_forest_params fp;
    at_forest_params_default(&fp);
    fp.n_trees = 7;
    CHECK_OK(at_model_create("random_forest", &fp, model_d, K, &b->model, &err), &err);
    at_fit_input in = {.train = mds ? mds : ds, .valid = NULL, .threads = 1, .seed = 99, .progress = NULL};
    if (b->model) CHECK_OK(at_model_fit(b->model, &in, &err), &err);
    at_dataset_free(ds);
    at_dataset_free(mds);
    return b;
}

static int same_doubles(const double *a, const double *b, size_t n) {
    return a && b && memcmp(a, b, n * sizeof *a) == 0;
}

static void check_same_bundle(const at_bundle *a, const at_bundle *b) {
    CHECK(b->d == a->d && b->k == a->k);
    for (size_t i = 0; i < a->d && b->d == a->d; i++) CHECK(strcmp(a->feature_names[i], b->feature_names[i]) == 0);
    for (size_t i = 0; i < a->k && b->k == a->k; i++) CHECK(strcmp(a->class_names[i], b->class_names[i]) == 0);
    CHECK(b->label && strcmp(a->label, b->label) == 0);
    CHECK(b->use_sentinel == a->use_sentinel);
    CHECK(memcmp(&a->sentinel, &b->sentinel, sizeof a->sentinel) == 0);
    CHECK(b->missing == a->missing);
    CHECK(b->config_text && strcmp(a->config_text, b->config_text) == 0);
    CHECK(b->metrics_json && strcmp(a->metrics_json, b->metrics_json) == 0);
    /* the scaler */
    CHECK((a->scaler == NULL) == (b->scaler == NULL));
    if (a->scaler && b->scaler) {
        CHECK(b->scaler->kind == a->scaler->kind);
        CHECK(b->scaler->d == a->scaler->d);
        CHECK(same_doubles(a->scaler->shift, b->scaler->shift, a->d));
        CHECK(same_doubles(a->scaler->scale, b->scaler->scale, a->d));
    }
    /* the PCA stage */
    CHECK((a->pca == NULL) == (b->pca == NULL));
    if (a->pca && b->pca) {
        const at_pca *p = a->pca, *q = b->pca;
        CHECK(q->d == p->d && q->k == p->k);
        CHECK(q->whiten == p->whiten && q->whiten == 1);
        CHECK(q->n_samples == p->n_samples && q->n_samples == N_ROWS);
        if (q->d == p->d && q->k == p->k) {
            CHECK(same_doubles(p->mean, q->mean, p->d));
            CHECK(same_doubles(p->components, q->components, p->k * p->d));
            CHECK(same_doubles(p->explained_variance, q->explained_variance, p->k));
            CHECK(same_doubles(p->explained_variance_ratio, q->explained_variance_ratio, p->k));
            CHECK(same_doubles(p->eigenvalues, q->eigenvalues, p->d));
        }
        CHECK(memcmp(&p->total_variance, &q->total_variance, sizeof p->total_variance) == 0);
    }
    /* the model */
    CHECK(b->model && strcmp(b->model->ops->type, a->model->ops->type) == 0);
    CHECK(b->model && b->model->n_features == a->model->n_features && b->model->n_classes == a->model->n_classes);
    /* and the whole chain predicts the same from raw rows */
    double X1[N_ROWS * D_IN], X2[N_ROWS * D_IN], P1[N_ROWS * K], P2[N_ROWS * K];
    int32_t y[N_ROWS];
    raw_rows(X1, y);
    memcpy(X2, X1, sizeof X1);
    at_error err = {0};
    CHECK_OK(at_bundle_predict(a, X1, N_ROWS, P1, 1, &err), &err);
    CHECK_OK(at_bundle_predict(b, X2, N_ROWS, P2, 1, &err), &err);
    CHECK(memcmp(P1, P2, sizeof P1) == 0);
    CHECK(memcmp(X1, X2, sizeof X1) == 0); /* scaled in place the same way */
    /* the predictions are not trivial: the forest learnt the classes */
    size_t right = 0;
    for (size_t i = 0; i < N_ROWS; i++) right += at_argmax(P2 + i * K, K) == (size_t)y[i];
    CHECK(right > N_ROWS / 2);
}

static void roundtrip(at_bundle *a, const char *name) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    at_error err = {0};
    at_bundle *b = NULL;
    CHECK_OK(at_bundle_save(a, path, &err), &err);
    CHECK_OK(at_bundle_load(path, &b, &err), &err);
    if (b) check_same_bundle(a, b);
    at_bundle_free(b);
    unlink(path);
}

/* Min-max scaler, PCA stage (whitened), sentinel filter on with an odd sentinel, missing
 * values kept as NaN: none of them the default. */
static void test_everything_set(void) {
    at_bundle *a = make_bundle(AT_SCALER_MINMAX, 1, 1, -123.45678901234567, AT_MISSING_KEEP, "object_type");
    CHECK(a && a->model && a->scaler && a->pca);
    if (a && a->model) roundtrip(a, "all.h5");
    at_bundle_free(a);
}

/* Standard scaler, no PCA stage, no sentinel filter, missing values an error. */
static void test_other_settings(void) {
    at_bundle *a = make_bundle(AT_SCALER_STANDARD, 0, 0, 42.0625, AT_MISSING_ERROR, "class");
    CHECK(a && a->model && a->scaler && !a->pca);
    if (a && a->model) roundtrip(a, "other.h5");
    at_bundle_free(a);
}

/* No scaler at all: it must come back absent, not as an identity scaler of some kind. */
static void test_no_scaler(void) {
    at_bundle *a = make_bundle(AT_SCALER_NONE, 1, 1, 1e300, AT_MISSING_DROP, "label");
    CHECK(a && a->model && !a->scaler && a->pca);
    if (a && a->model) roundtrip(a, "none.h5");
    at_bundle_free(a);
}

/* The stored fields are where the README says, with the values given. */
static void test_file_layout(void) {
    at_bundle *a = make_bundle(AT_SCALER_MINMAX, 1, 1, -7.5, AT_MISSING_KEEP, "object_type");
    if (!a || !a->model) {
        CHECK(0);
        at_bundle_free(a);
        return;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/layout.h5", dir);
    at_error err = {0};
    CHECK_OK(at_bundle_save(a, path, &err), &err);
    at_store *st = NULL;
    CHECK_OK(at_store_open(path, &st, &err), &err);
    if (st) {
        int64_t v = -1;
        double r = 0, *shift = NULL, *scale = NULL;
        size_t ns = 0, nc = 0;
        CHECK_OK(at_store_get_int(st, "preprocess/scaler_kind", &v, &err), &err);
        CHECK(v == AT_SCALER_MINMAX);
        CHECK_OK(at_store_get_int(st, "preprocess/missing", &v, &err), &err);
        CHECK(v == AT_MISSING_KEEP);
        CHECK_OK(at_store_get_int(st, "preprocess/sentinel_filter", &v, &err), &err);
        CHECK(v == 1);
        CHECK_OK(at_store_get_real(st, "preprocess/sentinel", &r, &err), &err);
        CHECK(r == -7.5);
        CHECK_OK(at_store_get_f64(st, "preprocess/scaler_shift", &shift, &ns, &err), &err);
        CHECK_OK(at_store_get_f64(st, "preprocess/scaler_scale", &scale, &nc, &err), &err);
        CHECK(ns == D_IN && nc == D_IN);
        if (ns == D_IN) CHECK(same_doubles(shift, a->scaler->shift, D_IN));
        if (nc == D_IN) CHECK(same_doubles(scale, a->scaler->scale, D_IN));
        free(shift);
        free(scale);
        CHECK(at_store_has(st, "preprocess/pca"));
        char *label = NULL;
        CHECK_OK(at_store_get_str(st, "meta/label", &label, &err), &err);
        CHECK(label && strcmp(label, "object_type") == 0);
        free(label);
        at_store_close(st);
    }
    unlink(path);
    at_bundle_free(a);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s", "/tmp/at_bundle_rt.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_everything_set);
    RUN(test_other_settings);
    RUN(test_no_scaler);
    RUN(test_file_layout);
    rmdir(dir);
    return harness_done();
}
