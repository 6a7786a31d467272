/* test_pca.c - PCA on data with a known covariance: eigenvalues and vectors, ratios,
 * sign convention, variance_to_keep, whitening, errors and the model-family wrapper. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "astrotrain/model_file.h"
#include "astrotrain/pca.h"
#include "astrotrain/rng.h"
#include "harness.h"

#define D 4
static const double true_var[D] = {9, 4, 1, 0.25};

/* Row i of the rotation R (an orthogonal matrix: two Givens rotations). Data = z * diag(sd) * R,
 * so the population covariance is R^T diag(var) R and its eigenvectors are R's rows. */
static void rotation(double R[D][D]) {
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) R[i][j] = i == j;
    double c = cos(0.6), s = sin(0.6), c2 = cos(1.1), s2 = sin(1.1);
    double G1[D][D] = {{c, s, 0, 0}, {-s, c, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};
    double G2[D][D] = {{1, 0, 0, 0}, {0, c2, 0, -s2}, {0, 0, 1, 0}, {0, s2, 0, c2}};
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double t = 0;
            for (int l = 0; l < D; l++) t += G1[i][l] * G2[l][j];
            R[i][j] = t;
        }
}

static double *make_data(size_t n, uint64_t seed) {
    double R[D][D];
    rotation(R);
    double *X = malloc(n * D * sizeof *X);
    at_rng r;
    at_rng_init(&r, seed, 0);
    for (size_t i = 0; i < n; i++) {
        double z[D];
        for (int c = 0; c < D; c++) z[c] = at_rng_normal(&r) * sqrt(true_var[c]);
        for (int j = 0; j < D; j++) {
            double t = 5.0 + j; /* a non-zero mean */
            for (int c = 0; c < D; c++) t += z[c] * R[c][j];
            X[i * D + j] = t;
        }
    }
    return X;
}

/* The sample covariance the slow way, to check C v = lambda v exactly. */
static void naive_cov(const double *X, size_t n, double C[D][D]) {
    double m[D] = {0};
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < D; j++) m[j] += X[i * D + j] / (double)n;
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) {
            double t = 0;
            for (size_t i = 0; i < n; i++) t += (X[i * D + a] - m[a]) * (X[i * D + b] - m[b]);
            C[a][b] = t / (double)(n - 1);
        }
}

static void test_known_covariance(void) {
    size_t n = 20000;
    double *X = make_data(n, 1);
    at_pca_params p;
    at_pca_params_default(&p);
    p.n_components = 0; /* all */
    at_pca *pca = NULL;
    at_error err = {0};
    CHECK_OK(at_pca_fit_matrix(&p, X, n, D, &pca, &err), &err);
    if (!pca) return;
    CHECK(pca->k == D && pca->d == D && pca->n_samples == n);
    double R[D][D], C[D][D];
    rotation(R);
    naive_cov(X, n, C);
    double sum = 0, trace = 0;
    for (int c = 0; c < D; c++) {
        const double *v = pca->components + c * D;
        double lam = pca->explained_variance[c];
        /* recovered within sampling error of the population values */
        CHECK_NEAR(lam, true_var[c], 0.05 * true_var[c]);
        double dot = 0, norm = 0;
        for (int j = 0; j < D; j++) dot += v[j] * R[c][j], norm += v[j] * v[j];
        CHECK_NEAR(norm, 1, 1e-12);
        CHECK(fabs(dot) > 0.99);
        /* exact eigenpair of the sample covariance */
        for (int a = 0; a < D; a++) {
            double cv = 0;
            for (int b = 0; b < D; b++) cv += C[a][b] * v[b];
            CHECK_NEAR(cv, lam * v[a], 1e-9 * true_var[0]);
        }
        /* sign convention: the largest |loading| is positive */
        int arg = 0;
        for (int j = 1; j < D; j++)
            if (fabs(v[j]) > fabs(v[arg])) arg = j;
        CHECK(v[arg] > 0);
        if (c > 0) CHECK(pca->explained_variance[c] <= pca->explained_variance[c - 1]);
        sum += pca->explained_variance_ratio[c];
        trace += C[c][c];
        CHECK_NEAR(pca->eigenvalues[c], lam, 0);
    }
    CHECK_NEAR(sum, 1, 1e-12);
    CHECK_NEAR(pca->total_variance, trace, 1e-9 * trace);
    /* components are mutually orthogonal */
    for (int a = 0; a < D; a++)
        for (int b = a + 1; b < D; b++) {
            double t = 0;
            for (int j = 0; j < D; j++) t += pca->components[a * D + j] * pca->components[b * D + j];
            CHECK_NEAR(t, 0, 1e-12);
        }
    /* the mean */
    double m0 = 0;
    for (size_t i = 0; i < n; i++) m0 += X[i * D];
    CHECK_NEAR(pca->mean[0], m0 / (double)n, 1e-12);
    at_pca_free(pca);
    free(X);
}

static void test_variance_to_keep(void) {
    size_t n = 5000;
    double *X = make_data(n, 2);
    at_pca_params p;
    at_pca_params_default(&p);
    p.n_components = 0;
    at_pca *all = NULL, *pca = NULL;
    at_error err = {0};
    CHECK_OK(at_pca_fit_matrix(&p, X, n, D, &all, &err), &err);
    if (!all) return;
    double cum = 0;
    for (size_t k = 1; k <= D; k++) {
        cum += all->explained_variance_ratio[k - 1];
        /* just below the cumulative ratio of k components: k; just above (k < D): k + 1 */
        p.variance_to_keep = cum - 1e-6;
        CHECK_OK(at_pca_fit_matrix(&p, X, n, D, &pca, &err), &err);
        CHECK(pca && pca->k == k);
        at_pca_free(pca);
        if (k < D) {
            p.variance_to_keep = cum + 1e-6;
            CHECK_OK(at_pca_fit_matrix(&p, X, n, D, &pca, &err), &err);
            CHECK(pca && pca->k == k + 1);
            at_pca_free(pca);
        }
    }
    p.variance_to_keep = 1.0;
    p.n_components = 1; /* ignored when variance_to_keep is set */
    CHECK_OK(at_pca_fit_matrix(&p, X, n, D, &pca, &err), &err);
    CHECK(pca && pca->k == D);
    at_pca_free(pca);
    /* n_components: clipped to d */
    p.variance_to_keep = 0;
    p.n_components = 2;
    CHECK_OK(at_pca_fit_matrix(&p, X, n, D, &pca, &err), &err);
    CHECK(pca && pca->k == 2);
    CHECK_NEAR(pca->explained_variance_ratio[1], all->explained_variance_ratio[1], 1e-12);
    at_pca_free(pca);
    p.n_components = 10;
    CHECK_OK(at_pca_fit_matrix(&p, X, n, D, &pca, &err), &err);
    CHECK(pca && pca->k == D);
    at_pca_free(pca);
    at_pca_free(all);
    free(X);
}

static void test_transform_and_whiten(void) {
    size_t n = 3000;
    double *X = make_data(n, 3);
    at_pca_params p;
    at_pca_params_default(&p);
    p.n_components = 3;
    at_error err = {0};
    for (int whiten = 0; whiten <= 1; whiten++) {
        p.whiten = whiten;
        at_pca *pca = NULL;
        CHECK_OK(at_pca_fit_matrix(&p, X, n, D, &pca, &err), &err);
        if (!pca) return;
        double *T = malloc(n * 3 * sizeof *T);
        CHECK_OK(at_pca_transform(pca, X, n, T, &err), &err);
        /* scores: zero mean, variance = eigenvalue (or 1 whitened), uncorrelated */
        for (int a = 0; a < 3; a++) {
            double m = 0;
            for (size_t i = 0; i < n; i++) m += T[i * 3 + a];
            CHECK_NEAR(m / (double)n, 0, 1e-10);
            for (int b = 0; b < 3; b++) {
                double c = 0;
                for (size_t i = 0; i < n; i++) c += T[i * 3 + a] * T[i * 3 + b];
                c /= (double)(n - 1);
                double want = a != b ? 0 : whiten ? 1 : pca->explained_variance[a];
                CHECK_NEAR(c, want, 1e-9);
            }
        }
        /* one row by hand */
        double t0 = 0;
        for (int j = 0; j < D; j++) t0 += (X[7 * D + j] - pca->mean[j]) * pca->components[1 * D + j];
        if (whiten) t0 /= sqrt(pca->explained_variance[1]);
        CHECK_NEAR(T[7 * 3 + 1], t0, 1e-12);
        free(T);
        at_pca_free(pca);
    }
    free(X);
}

static void test_degenerate(void) {
    /* a constant and a duplicated feature: zero eigenvalues, whitening gives 0, not NaN */
    size_t n = 200;
    double *X = malloc(n * 3 * sizeof *X);
    at_rng r;
    at_rng_init(&r, 4, 0);
    for (size_t i = 0; i < n; i++) {
        X[i * 3] = at_rng_normal(&r);
        X[i * 3 + 1] = X[i * 3];
        X[i * 3 + 2] = 7;
    }
    at_pca_params p = {.n_components = 0, .variance_to_keep = 0, .whiten = 1};
    at_pca *pca = NULL;
    at_error err = {0};
    CHECK_OK(at_pca_fit_matrix(&p, X, n, 3, &pca, &err), &err);
    if (!pca) return;
    CHECK_NEAR(pca->explained_variance_ratio[0], 1, 1e-12);
    CHECK_NEAR(pca->explained_variance[2], 0, 1e-12);
    double T[3 * 3];
    CHECK_OK(at_pca_transform(pca, X, 3, T, &err), &err);
    for (int i = 0; i < 9; i++) CHECK(isfinite(T[i]));
    at_pca_free(pca);
    free(X);
}

static void test_errors(void) {
    at_error err = {0};
    at_pca *pca = NULL;
    at_pca_params p;
    at_pca_params_default(&p);
    double one[2] = {1, 2};
    CHECK_FAIL(at_pca_fit_matrix(&p, one, 1, 2, &pca, &err), AT_ERR_DATA, &err, "at least 2 rows");
    double bad[4] = {1, NAN, 3, 4};
    CHECK_FAIL(at_pca_fit_matrix(&p, bad, 2, 2, &pca, &err), AT_ERR_DATA, &err, "not finite");
    p.n_components = -1;
    CHECK_FAIL(at_pca_fit_matrix(&p, bad, 2, 2, &pca, &err), AT_ERR_CONFIG, &err, "n_components");
    p.n_components = 0;
    p.variance_to_keep = 1.5;
    CHECK_FAIL(at_pca_fit_matrix(&p, bad, 2, 2, &pca, &err), AT_ERR_CONFIG, &err, "variance_to_keep");
    CHECK(pca == NULL);
}

static void test_model_family(void) {
    at_error err = {0};
    at_pca_params p;
    at_pca_params_default(&p);
    at_model *m = NULL;
    CHECK_OK(at_pca_new(&p, D, 0, &m, &err), &err);
    if (!m) return;
    CHECK(at_pca_of(m) == NULL);
    size_t n = 500;
    double *X = make_data(n, 5);
    const char *names[D] = {"a", "b", "c", "d"};
    at_dataset *ds = NULL;
    CHECK_OK(at_dataset_new(n, D, 0, names, NULL, 0, &ds, &err), &err);
    memcpy(ds->X, X, n * D * sizeof *X);
    at_fit_input in = {.train = ds, .threads = 1, .seed = 42};
    CHECK_OK(m->ops->fit(m->impl, &in, &err), &err);
    const at_pca *pca = at_pca_of(m);
    CHECK(pca && pca->k == 3);
    double P[3];
    CHECK_FAIL(m->ops->predict_proba(m->impl, X, 1, P, 1, &err), AT_ERR_CONFIG, &err,
               "astrotrain transform");
    at_json j;
    at_json_init(&j);
    at_json_begin_object(&j);
    m->ops->describe(m->impl, &j);
    at_json_end_object(&j);
    CHECK(j.buf && strstr(j.buf, "\"explained_variance_ratio\": [") && strstr(j.buf, "\"n_components\": 3"));
    at_json_free(&j);
    at_dataset_free(ds);
    m->ops->free(m->impl);
    free(m);
    free(X);
}

static void test_save_load(void) {
    size_t n = 400;
    double *X = make_data(n, 6);
    at_pca_params p;
    at_pca_params_default(&p);
    p.whiten = 1;
    at_model *m = NULL;
    at_error err = {0};
    CHECK_OK(at_pca_new(&p, D, 0, &m, &err), &err);
    const char *names[D] = {"a", "b", "c", "d"};
    at_dataset *ds = NULL;
    CHECK_OK(at_dataset_new(n, D, 0, names, NULL, 0, &ds, &err), &err);
    memcpy(ds->X, X, n * D * sizeof *X);
    at_fit_input in = {.train = ds, .threads = 1, .seed = 1};
    CHECK_OK(at_model_fit(m, &in, &err), &err);
    char path[] = "/tmp/test_pca_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    at_model *back = NULL;
    CHECK_OK(at_model_save_file(m, path, &err), &err);
    CHECK_OK(at_model_load_file(path, &back, &err), &err);
    const at_pca *a = at_pca_of(m), *b = at_pca_of(back);
    CHECK(a && b && a->k == b->k && b->whiten == 1 && b->n_samples == n);
    if (a && b) {
        CHECK(memcmp(a->components, b->components, a->k * D * sizeof(double)) == 0);
        CHECK(memcmp(a->eigenvalues, b->eigenvalues, D * sizeof(double)) == 0);
        double ta[3 * 5], tb[3 * 5];
        CHECK_OK(at_pca_transform(a, X, 5, ta, &err), &err);
        CHECK_OK(at_pca_transform(b, X, 5, tb, &err), &err);
        CHECK(memcmp(ta, tb, sizeof ta) == 0);
    }
    remove(path);
    at_model_free(m);
    at_model_free(back);
    at_dataset_free(ds);
    free(X);
}

int main(void) {
    RUN(test_known_covariance);
    RUN(test_variance_to_keep);
    RUN(test_transform_and_whiten);
    RUN(test_degenerate);
    RUN(test_errors);
    RUN(test_model_family);
    RUN(test_save_load);
    return harness_done();
}
