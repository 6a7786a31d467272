/* test_gmm.c - Gaussian mixture: blobs recovered for each covariance type, EM monotone,
 * BIC selection, label matching (k = classes and k > classes), singular covariances,
 * determinism across seeds and threads, and the gmm model family. */
#include <stdlib.h>
#include <unistd.h>

#include "astrotrain/gmm.h"
#include "astrotrain/rng.h"
#include "harness.h"

/* Blobs in 2-D: n rows drawn from nb components with the given means, weights and
 * (per component) standard deviations and correlation. blob[i] gets the component. */
typedef struct blob_spec {
    size_t nb;
    double mean[4][2], weight[4], sd[4][2], rho[4];
} blob_spec;

static double *make_blobs(const blob_spec *b, size_t n, uint64_t seed, int32_t *blob) {
    double *X = malloc(n * 2 * sizeof *X);
    at_rng r;
    at_rng_init(&r, seed, 0);
    for (size_t i = 0; i < n; i++) {
        double u = at_rng_uniform(&r), acc = 0;
        size_t c = b->nb - 1;
        for (size_t j = 0; j < b->nb; j++) {
            acc += b->weight[j];
            if (u < acc) {
                c = j;
                break;
            }
        }
        double z0 = at_rng_normal(&r), z1 = at_rng_normal(&r);
        double rho = b->rho[c];
        X[i * 2] = b->mean[c][0] + b->sd[c][0] * z0;
        X[i * 2 + 1] = b->mean[c][1] + b->sd[c][1] * (rho * z0 + sqrt(1 - rho * rho) * z1);
        if (blob) blob[i] = (int32_t)c;
    }
    return X;
}

static const blob_spec three = {3,
                                {{0, 0}, {10, 0}, {0, 10}},
                                {0.5, 0.3, 0.2},
                                {{1, 2}, {1.5, 0.7}, {1, 1}},
                                {0.6, -0.3, 0}};

/* Index of the fitted component nearest to point m. */
static size_t nearest(const at_gmm *g, const double *m) {
    size_t b = 0;
    double bd = INFINITY;
    for (size_t c = 0; c < g->k; c++) {
        double dx = g->means[c * 2] - m[0], dy = g->means[c * 2 + 1] - m[1];
        if (dx * dx + dy * dy < bd) bd = dx * dx + dy * dy, b = c;
    }
    return b;
}

static void test_blobs_each_type(void) {
    size_t n = 4000;
    double *X = make_blobs(&three, n, 1, NULL);
    for (int t = AT_COV_FULL; t <= AT_COV_SPHERICAL; t++) {
        at_gmm_params p;
        at_gmm_params_default(&p);
        p.covariance_type = t;
        at_gmm *g = NULL;
        at_error err = {0};
        CHECK_OK(at_gmm_fit(&p, 3, X, n, 2, 42, 1, NULL, &g, &err), &err);
        if (!g) continue;
        int used[3] = {0};
        double wsum = 0;
        for (size_t j = 0; j < 3; j++) {
            size_t c = nearest(g, three.mean[j]);
            used[c]++;
            CHECK_NEAR(g->means[c * 2], three.mean[j][0], 0.15);
            CHECK_NEAR(g->means[c * 2 + 1], three.mean[j][1], 0.15);
            CHECK_NEAR(g->weights[c], three.weight[j], 0.03);
            wsum += g->weights[c];
            double C[4];
            at_gmm_covariance(g, c, C);
            CHECK(C[1] == C[2]);
            if (t == AT_COV_FULL) {
                CHECK_NEAR(C[0], three.sd[j][0] * three.sd[j][0], 0.15 * three.sd[j][0] * three.sd[j][0]);
                CHECK_NEAR(C[3], three.sd[j][1] * three.sd[j][1], 0.15 * three.sd[j][1] * three.sd[j][1]);
                CHECK_NEAR(C[1], three.rho[j] * three.sd[j][0] * three.sd[j][1], 0.15);
            } else if (t == AT_COV_DIAG) {
                CHECK(C[1] == 0);
                CHECK_NEAR(C[0], three.sd[j][0] * three.sd[j][0], 0.15 * three.sd[j][0] * three.sd[j][0]);
            } else {
                CHECK(C[0] == C[3] && C[1] == 0);
            }
        }
        CHECK(used[0] == 1 && used[1] == 1 && used[2] == 1);
        CHECK_NEAR(wsum, 1, 1e-9);
        CHECK(g->converged && g->n_iter >= 1 && g->n_samples == n);
        /* EM never lowers the likelihood */
        for (size_t i = 1; i < g->n_iter; i++) {
            CHECK(g->history[2 * i] == (double)(i + 1));
            CHECK(g->history[2 * i + 1] >= g->history[2 * i - 1] - 1e-9);
        }
        CHECK(g->mean_log_likelihood >= g->history[2 * g->n_iter - 1] - 1e-9);
        size_t np = at_gmm_n_parameters(3, 2, (at_covariance_type)t);
        CHECK(np == (t == AT_COV_FULL ? 17u : t == AT_COV_DIAG ? 14u : 11u));
        CHECK_NEAR(g->bic, -2 * g->mean_log_likelihood * (double)n + (double)np * log((double)n), 1e-6);
        CHECK_NEAR(g->aic, -2 * g->mean_log_likelihood * (double)n + 2.0 * (double)np, 1e-6);
        /* responsibilities: rows sum to 1, log-likelihoods average to the stored mean */
        double R[30], ll[10], tot = 0;
        CHECK_OK(at_gmm_responsibilities(g, X, 10, R, ll, 1, &err), &err);
        for (int i = 0; i < 10; i++) CHECK_NEAR(R[i * 3] + R[i * 3 + 1] + R[i * 3 + 2], 1, 1e-12);
        double *all = malloc(n * sizeof *all);
        CHECK_OK(at_gmm_responsibilities(g, X, n, NULL, all, 2, &err), &err);
        for (size_t i = 0; i < n; i++) tot += all[i];
        CHECK_NEAR(tot / (double)n, g->mean_log_likelihood, 1e-12);
        CHECK_NEAR(all[3], ll[3], 0);
        free(all);
        at_gmm_free(g);
    }
    free(X);
}

static void test_label_matching(void) {
    size_t n = 3000;
    int32_t *blob = malloc(n * sizeof *blob), *y = malloc(n * sizeof *y);
    double *X = make_blobs(&three, n, 2, blob);
    for (size_t i = 0; i < n; i++) y[i] = (blob[i] + 1) % 3; /* classes are a permutation of blobs */
    y[5] = -1;                                                 /* an unknown label is ignored */
    at_gmm_params p;
    at_gmm_params_default(&p);
    at_gmm *g = NULL;
    at_error err = {0};
    CHECK_OK(at_gmm_fit(&p, 3, X, n, 2, 7, 1, NULL, &g, &err), &err);
    if (!g) return;
    double *P = malloc(n * 3 * sizeof *P);
    CHECK_FAIL(at_gmm_predict_proba(g, X, n, P, 1, &err), AT_ERR_DATA, &err, "not matched");
    CHECK_OK(at_gmm_match_labels(g, X, y, n, 3, 1, &err), &err);
    CHECK_OK(at_gmm_predict_proba(g, X, n, P, 1, &err), &err);
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK_NEAR(P[i * 3] + P[i * 3 + 1] + P[i * 3 + 2], 1, 1e-12);
        size_t b = 0;
        for (size_t c = 1; c < 3; c++)
            if (P[i * 3 + c] > P[i * 3 + b]) b = c;
        ok += (int32_t)b == (blob[i] + 1) % 3;
    }
    CHECK((double)ok / (double)n > 0.99);
    for (size_t j = 0; j < 3; j++) CHECK(g->cluster_class[nearest(g, three.mean[j])] == (int32_t)((j + 1) % 3));
    at_gmm_free(g);
    free(P), free(X), free(blob), free(y);
}

static void test_more_components_than_classes(void) {
    const blob_spec four = {4,
                            {{0, 0}, {8, 0}, {0, 8}, {8, 8}},
                            {0.25, 0.25, 0.25, 0.25},
                            {{1, 1}, {1, 1}, {1, 1}, {1, 1}},
                            {0, 0, 0, 0}};
    size_t n = 4000;
    int32_t *blob = malloc(n * sizeof *blob), *y = malloc(n * sizeof *y);
    double *X = make_blobs(&four, n, 3, blob);
    for (size_t i = 0; i < n; i++) y[i] = blob[i] == 0 || blob[i] == 3 ? 1 : 0; /* diagonal vs off */
    at_gmm_params p;
    at_gmm_params_default(&p);
    at_gmm *g = NULL;
    at_error err = {0};
    CHECK_OK(at_gmm_fit(&p, 4, X, n, 2, 42, 1, NULL, &g, &err), &err);
    if (!g) return;
    CHECK_OK(at_gmm_match_labels(g, X, y, n, 2, 1, &err), &err);
    for (size_t j = 0; j < 4; j++)
        CHECK(g->cluster_class[nearest(g, four.mean[j])] == (j == 0 || j == 3 ? 1 : 0));
    double *P = malloc(n * 2 * sizeof *P);
    CHECK_OK(at_gmm_predict_proba(g, X, n, P, 1, &err), &err);
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) ok += (P[i * 2 + 1] > P[i * 2]) == (y[i] == 1);
    CHECK((double)ok / (double)n > 0.98);
    /* fewer components than classes: distinct classes, the rest get probability 0 */
    at_gmm *g2 = NULL;
    CHECK_OK(at_gmm_fit(&p, 2, X, n, 2, 42, 1, NULL, &g2, &err), &err);
    for (size_t i = 0; i < n; i++) y[i] = blob[i];
    CHECK_OK(at_gmm_match_labels(g2, X, y, n, 4, 1, &err), &err);
    CHECK(g2->cluster_class[0] != g2->cluster_class[1]);
    double P4[4];
    CHECK_OK(at_gmm_predict_proba(g2, X, 1, P4, 1, &err), &err);
    CHECK_NEAR(P4[0] + P4[1] + P4[2] + P4[3], 1, 1e-12);
    at_gmm_free(g2);
    at_gmm_free(g);
    free(P), free(X), free(blob), free(y);
}

static void test_singular_covariance(void) {
    /* features: x, a copy of x, a constant */
    size_t n = 600;
    double *B = make_blobs(&three, n, 4, NULL);
    double *X = malloc(n * 3 * sizeof *X);
    for (size_t i = 0; i < n; i++) X[i * 3] = B[i * 2], X[i * 3 + 1] = B[i * 2], X[i * 3 + 2] = 3;
    at_error err = {0};
    for (int t = AT_COV_FULL; t <= AT_COV_SPHERICAL; t++) {
        at_gmm_params p;
        at_gmm_params_default(&p);
        p.covariance_type = t;
        at_gmm *g = NULL;
        CHECK_OK(at_gmm_fit(&p, 3, X, n, 3, 1, 1, NULL, &g, &err), &err);
        CHECK(g && isfinite(g->mean_log_likelihood) && isfinite(g->bic));
        at_gmm_free(g);
        if (t == AT_COV_SPHERICAL) continue; /* pooled variance stays > 0 */
        p.reg_covar = 0;
        g = NULL;
        CHECK_FAIL(at_gmm_fit(&p, 3, X, n, 3, 1, 1, NULL, &g, &err), AT_ERR_DATA, &err, "reg_covar");
        CHECK(g == NULL);
    }
    free(B), free(X);
}

static void test_determinism(void) {
    size_t n = 5000;
    double *X = make_blobs(&three, n, 5, NULL);
    at_gmm_params p;
    at_gmm_params_default(&p);
    p.n_init = 2;
    at_gmm *a = NULL, *b = NULL, *c = NULL;
    at_error err = {0};
    CHECK_OK(at_gmm_fit(&p, 3, X, n, 2, 9, 1, NULL, &a, &err), &err);
    CHECK_OK(at_gmm_fit(&p, 3, X, n, 2, 9, 2, NULL, &b, &err), &err);
    CHECK_OK(at_gmm_fit(&p, 3, X, n, 2, 9, 4, NULL, &c, &err), &err);
    if (a && b && c) {
        CHECK(memcmp(a->means, b->means, 6 * sizeof(double)) == 0);
        CHECK(memcmp(a->covariances, c->covariances, 12 * sizeof(double)) == 0);
        CHECK(a->mean_log_likelihood == b->mean_log_likelihood && a->n_iter == c->n_iter);
    }
    /* more restarts never end worse than the first */
    at_gmm *one = NULL;
    p.n_init = 1;
    CHECK_OK(at_gmm_fit(&p, 3, X, n, 2, 9, 1, NULL, &one, &err), &err);
    if (one && a) CHECK(a->mean_log_likelihood >= one->mean_log_likelihood);
    at_gmm_free(a), at_gmm_free(b), at_gmm_free(c), at_gmm_free(one);
    free(X);
}

static void test_select(void) {
    size_t n = 3000;
    double *X = make_blobs(&three, n, 6, NULL);
    at_gmm_params p;
    at_gmm_params_default(&p);
    double bic[5], aic[5];
    at_gmm *best = NULL;
    at_error err = {0};
    CHECK_OK(at_gmm_select(&p, 1, 5, X, n, 2, 42, 2, NULL, bic, aic, &best, &err), &err);
    size_t arg = 0;
    for (size_t i = 1; i < 5; i++)
        if (bic[i] < bic[arg]) arg = i;
    CHECK(arg == 2);
    CHECK(best && best->k == 3 && best->bic == bic[2]);
    CHECK(aic[2] < aic[0]);
    at_gmm_free(best);
    free(X);
}

static void test_errors(void) {
    at_gmm_params p;
    at_gmm_params_default(&p);
    at_gmm *g = NULL;
    at_error err = {0};
    double X[6] = {1, 2, 3, 4, 5, 6};
    CHECK_FAIL(at_gmm_fit(&p, 4, X, 3, 2, 1, 1, NULL, &g, &err), AT_ERR_DATA, &err, "at least 4 rows");
    X[3] = NAN;
    CHECK_FAIL(at_gmm_fit(&p, 2, X, 3, 2, 1, 1, NULL, &g, &err), AT_ERR_DATA, &err, "not finite");
    p.max_iter = 0;
    CHECK_FAIL(at_gmm_fit(&p, 2, X, 3, 2, 1, 1, NULL, &g, &err), AT_ERR_CONFIG, &err, "max_iter");
    CHECK(g == NULL);
    size_t lo, hi;
    CHECK(at_gmm_components("3", &lo, &hi) && lo == 3 && hi == 3);
    CHECK(at_gmm_components(" 2 .. 8 ", &lo, &hi) && lo == 2 && hi == 8);
    CHECK(!at_gmm_components("0", &lo, &hi));
    CHECK(!at_gmm_components("5..2", &lo, &hi));
    CHECK(!at_gmm_components("3x", &lo, &hi));
    CHECK(!at_gmm_components("-1", &lo, &hi));
    CHECK(!at_gmm_components("", &lo, &hi));
    CHECK(!at_gmm_components("2..", &lo, &hi));
}

static void test_interrupt(void) {
    size_t n = 500;
    double *X = make_blobs(&three, n, 8, NULL);
    at_gmm_params p;
    at_gmm_params_default(&p);
    volatile int stop = 1;
    at_progress prog = {0};
    prog.stop = &stop;
    at_gmm *g = NULL;
    at_error err = {0};
    CHECK_FAIL(at_gmm_fit(&p, 3, X, n, 2, 1, 1, &prog, &g, &err), AT_ERR_INTERRUPTED, &err, "interrupted");
    free(X);
}

static void test_model_family(void) {
    size_t n = 2000;
    int32_t *blob = malloc(n * sizeof *blob);
    double *X = make_blobs(&three, n, 9, blob);
    const char *feat[2] = {"x", "y"}, *cls[3] = {"A", "B", "C"};
    at_dataset *ds = NULL;
    at_error err = {0};
    CHECK_OK(at_dataset_new(n, 2, 1, feat, cls, 3, &ds, &err), &err);
    memcpy(ds->X, X, n * 2 * sizeof *X);
    for (size_t i = 0; i < n; i++) ds->y[i] = 2 - blob[i];
    at_gmm_params p;
    at_gmm_params_default(&p);
    strcpy(p.components, "2..4");
    at_model *m = NULL;
    CHECK_OK(at_gmm_new(&p, 2, 3, &m, &err), &err);
    if (!m) return;
    CHECK(at_gmm_of(m) == NULL && m->ops->history(m->impl) == NULL);
    at_fit_input in = {.train = ds, .threads = 2, .seed = 42};
    CHECK_OK(m->ops->fit(m->impl, &in, &err), &err);
    const at_gmm *g = at_gmm_of(m);
    CHECK(g && g->k == 3);
    size_t k0 = 0, cnt = 0;
    const double *bic = NULL;
    CHECK(at_gmm_selection(m, &k0, &cnt, &bic, NULL) && k0 == 2 && cnt == 3 && bic[1] < bic[0]);
    const at_history *h = m->ops->history(m->impl);
    CHECK(h && h->n_cols == 2 && h->n_rows == g->n_iter && strcmp(h->names[1], "mean_log_likelihood") == 0);
    double *P = malloc(n * 3 * sizeof *P);
    CHECK_OK(m->ops->predict_proba(m->impl, X, n, P, 2, &err), &err);
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        size_t b = 0;
        for (size_t c = 1; c < 3; c++)
            if (P[i * 3 + c] > P[i * 3 + b]) b = c;
        ok += (int32_t)b == ds->y[i];
    }
    CHECK((double)ok / (double)n > 0.99);
    at_json j;
    at_json_init(&j);
    at_json_begin_object(&j);
    m->ops->describe(m->impl, &j);
    at_json_end_object(&j);
    CHECK(j.buf && strstr(j.buf, "\"cluster_class\": [") && strstr(j.buf, "\"selection\": {") &&
          strstr(j.buf, "\"covariance_type\": \"full\""));
    at_json_free(&j);
    /* a bad components spec is a config error at creation */
    at_model *bad = NULL;
    strcpy(p.components, "3..1");
    CHECK_FAIL(at_gmm_new(&p, 2, 3, &bad, &err), AT_ERR_CONFIG, &err, "components");
    m->ops->free(m->impl);
    free(m);
    at_dataset_free(ds);
    free(P), free(X), free(blob);
}

static void test_save_load(void) {
    size_t n = 1500;
    int32_t *blob = malloc(n * sizeof *blob);
    double *X = make_blobs(&three, n, 10, blob);
    const char *feat[2] = {"x", "y"}, *cls[3] = {"A", "B", "C"};
    at_dataset *ds = NULL;
    at_error err = {0};
    CHECK_OK(at_dataset_new(n, 2, 1, feat, cls, 3, &ds, &err), &err);
    memcpy(ds->X, X, n * 2 * sizeof *X);
    for (size_t i = 0; i < n; i++) ds->y[i] = blob[i];
    for (int t = AT_COV_FULL; t <= AT_COV_SPHERICAL; t++) {
        at_gmm_params p;
        at_gmm_params_default(&p);
        p.covariance_type = t;
        if (t == AT_COV_DIAG) strcpy(p.components, "2..4");
        at_model *m = NULL, *back = NULL;
        CHECK_OK(at_gmm_new(&p, 2, 3, &m, &err), &err);
        at_fit_input in = {.train = ds, .threads = 1, .seed = 3};
        CHECK_OK(at_model_fit(m, &in, &err), &err);
        char path[] = "/tmp/test_gmm_XXXXXX";
        int fd = mkstemp(path);
        if (fd >= 0) close(fd);
        CHECK_OK(at_model_save_file(m, path, &err), &err);
        CHECK_OK(at_model_load_file(path, &back, &err), &err);
        remove(path);
        const at_gmm *a = at_gmm_of(m), *b = at_gmm_of(back);
        CHECK(a && b);
        if (a && b) {
            CHECK(a->k == b->k && a->covariance_type == b->covariance_type && a->n_iter == b->n_iter);
            CHECK(memcmp(a->cluster_class, b->cluster_class, a->k * sizeof(int32_t)) == 0);
            CHECK(a->bic == b->bic && a->converged == b->converged);
            double Pa[3 * 20], Pb[3 * 20];
            CHECK_OK(at_model_predict_proba(m, X, 20, Pa, 1, &err), &err);
            CHECK_OK(at_model_predict_proba(back, X, 20, Pb, 1, &err), &err);
            for (int i = 0; i < 60; i++) CHECK_NEAR(Pa[i], Pb[i], 1e-12);
            const at_history *h = back->ops->history(back->impl);
            CHECK(h && h->n_rows == a->n_iter && h->values[1] == a->history[1]);
            size_t k0 = 0, cnt = 0;
            CHECK(at_gmm_selection(back, &k0, &cnt, NULL, NULL) == (t == AT_COV_DIAG));
        }
        at_model_free(m);
        at_model_free(back);
    }
    at_dataset_free(ds);
    free(X), free(blob);
}

int main(void) {
    RUN(test_blobs_each_type);
    RUN(test_label_matching);
    RUN(test_more_components_than_classes);
    RUN(test_singular_covariance);
    RUN(test_determinism);
    RUN(test_select);
    RUN(test_errors);
    RUN(test_interrupt);
    RUN(test_model_family);
    RUN(test_save_load);
    return harness_done();
}
