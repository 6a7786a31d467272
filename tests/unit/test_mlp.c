/* test_mlp.c - the MLP: gradients against finite differences for every activation (with
 * dropout and class weights), learning XOR, early stopping restoring the best epoch,
 * dropout off at prediction, determinism, schedules in the history, parameter checks,
 * interruption, the model file round trip and corrupt files. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astrotrain/forest.h" /* at_class_weight */
#include "astrotrain/mlp.h"
#include "astrotrain/rng.h"
#include "harness.h"
#include "models/mlp_internal.h"

/* HDF5 itself leaks a little when it meets a damaged file (the byte-damage test below);
 * LeakSanitizer should report only our leaks. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libhdf5_serial.so\n"; }

/* ---- gradients ---------------------------------------------------------------------- */

/* The loss the training step minimises: sum(sw * CE) / sum(sw), with dropout drawn from
 * a fixed stream so that every evaluation sees the same mask. */
static double net_loss(nn_net *net, nn_work *w, const float *X, const int32_t *y, const float *sw, size_t rows,
                       double wsum) {
    w->dropout_seed = 77;
    nn_forward(net, w, X, rows);
    return nn_xent(net, w, y, sw, NULL, rows, 0.0, NULL) / wsum;
}

static void check_gradient(int activation, float drop) {
    mlp_net shape = {.n_layers = 3, .sizes = {4, 6, 5, 3}, .activation = activation};
    CHECK(mlp_net_layout(&shape));
    size_t rows = 9;
    at_error err;
    float *params = malloc(shape.n_params * sizeof(float)), *g = malloc(shape.n_params * sizeof(float));
    mlp_engine *eng = malloc(sizeof *eng);
    mlp_engine_build(&shape, drop, params, g, eng);
    CHECK(eng->net.nl == (drop > 0 ? 6u : 4u));
    nn_work *w = NULL;
    CHECK_OK(nn_work_new(&eng->net, rows, 1, 1, &w, &err), &err);
    if (!w) return;
    float X[9 * 4], sw[9];
    int32_t y[9];
    at_rng r;
    at_rng_init(&r, 1, (uint64_t)activation);
    for (size_t i = 0; i < 9 * 4; i++) X[i] = (float)at_rng_normal(&r);
    mlp_init_params(&shape, AT_MLP_INIT_XAVIER, 3, params);
    for (size_t i = shape.n_weights; i < shape.n_params; i++) params[i] = (float)(0.1 * at_rng_normal(&r));
    double wsum = 0;
    for (size_t i = 0; i < rows; i++) {
        y[i] = (int32_t)(i % 3);
        sw[i] = 0.5f + (float)(i % 3); /* class weights 0.5, 1.5, 2.5 */
        wsum += sw[i];
    }
    /* Analytic gradient. */
    net_loss(&eng->net, w, X, y, sw, rows, wsum);
    nn_xent(&eng->net, w, y, sw, NULL, rows, wsum, NULL);
    nn_backward(&eng->net, w, X, rows);
    float *g0 = malloc(shape.n_params * sizeof(float));
    memcpy(g0, g, shape.n_params * sizeof(float));
    /* Central differences on every parameter. */
    double max_err = 0, max_g = 0;
    const float h = 1e-3f;
    for (size_t i = 0; i < shape.n_params; i++) {
        float keep = params[i];
        params[i] = keep + h;
        double lp = net_loss(&eng->net, w, X, y, sw, rows, wsum);
        params[i] = keep - h;
        double lm = net_loss(&eng->net, w, X, y, sw, rows, wsum);
        params[i] = keep;
        double fd = (lp - lm) / (2.0 * h);
        double e = fabs(fd - g0[i]);
        if (e > max_err) max_err = e;
        if (fabs(g0[i]) > max_g) max_g = fabs(g0[i]);
    }
    if (getenv("SHOWGRAD") || !(max_err <= 5e-4 + 5e-3 * max_g))
        fprintf(stderr, "  activation %s dropout %.1f: max |fd - grad| = %g (max |grad| %g)\n",
                at_mlp_activation_name(activation), drop, max_err, max_g);
    CHECK(max_err <= 5e-4 + 5e-3 * max_g);
    CHECK(max_g > 1e-3); /* the check must not pass on all-zero gradients */
    free(g0);
    free(g);
    free(params);
    nn_work_free(w);
    free(eng);
}

static void test_gradients(void) {
    for (int a = AT_MLP_RELU; a <= AT_MLP_SIGMOID; a++) {
        check_gradient(a, 0.0f);
        check_gradient(a, 0.3f);
    }
}

/* ---- data sets ---------------------------------------------------------------------- */

static const char *const feat2[] = {"x", "y"};
static const char *const cls2[] = {"a", "b"};

/* XOR: four clusters away from the axes; class = same sign of x and y. */
static at_dataset *make_xor(size_t n, uint64_t seed, double noise_labels) {
    at_dataset *ds = NULL;
    at_error err;
    if (at_dataset_new(n, 2, 1, feat2, cls2, 2, &ds, &err)) return NULL;
    at_rng r;
    at_rng_init(&r, seed, 0);
    for (size_t i = 0; i < n; i++) {
        double x = 0.2 + 0.8 * at_rng_uniform(&r), y = 0.2 + 0.8 * at_rng_uniform(&r);
        if (at_rng_u64(&r) & 1) x = -x;
        if (at_rng_u64(&r) & 1) y = -y;
        ds->X[2 * i] = x;
        ds->X[2 * i + 1] = y;
        int lab = (x > 0) == (y > 0);
        if (at_rng_uniform(&r) < noise_labels) lab = !lab;
        ds->y[i] = lab;
        ds->row[i] = (int64_t)i;
    }
    return ds;
}

static double accuracy(const at_model *m, const at_dataset *ds) {
    double *P = malloc(ds->n * m->n_classes * sizeof(double));
    at_error err;
    CHECK_OK(at_model_predict_proba(m, ds->X, ds->n, P, 2, &err), &err);
    size_t ok = 0;
    for (size_t i = 0; i < ds->n; i++) {
        size_t best = 0;
        for (size_t c = 1; c < m->n_classes; c++)
            if (P[i * m->n_classes + c] > P[i * m->n_classes + best]) best = c;
        ok += (int32_t)best == ds->y[i];
    }
    free(P);
    return (double)ok / (double)ds->n;
}

static void test_xor(void) {
    at_dataset *ds = make_xor(400, 1, 0.0);
    at_mlp_params p;
    at_mlp_params_default(&p);
    strcpy(p.hidden, "16, 16");
    p.learning_rate = 0.01;
    p.batch_size = 32;
    p.epochs = 60;
    for (int a = AT_MLP_RELU; a <= AT_MLP_SIGMOID; a++) {
        p.activation = a;
        if (a == AT_MLP_SIGMOID) p.learning_rate = 0.03; /* sigmoid learns slowly */
        at_model *m = NULL;
        at_error err;
        CHECK_OK(at_mlp_new(&p, 2, 2, &m, &err), &err);
        at_fit_input in = {.train = ds, .threads = 2, .seed = 5};
        CHECK_OK(at_model_fit(m, &in, &err), &err);
        double acc = accuracy(m, ds);
        if (acc != 1.0) fprintf(stderr, "  %s: accuracy %g\n", at_mlp_activation_name(a), acc);
        CHECK(acc == 1.0);
        const at_history *h = m->ops->history(m->impl);
        CHECK(h && h->n_rows == 60 && h->n_cols == 6);
        CHECK(h && strcmp(h->names[3], "valid_loss") == 0);
        CHECK(h && isnan(h->values[3])); /* no validation data */
        CHECK(h && h->values[59 * 6 + 1] < h->values[1]); /* loss went down */
        at_model_free(m);
    }
    /* SGD with Nesterov momentum learns it too. */
    p.activation = AT_MLP_TANH;
    p.optimizer = AT_MLP_SGD;
    p.nesterov = 1;
    p.learning_rate = 0.05;
    at_model *m = NULL;
    at_error err;
    CHECK_OK(at_mlp_new(&p, 2, 2, &m, &err), &err);
    at_fit_input in = {.train = ds, .threads = 1, .seed = 5};
    CHECK_OK(at_model_fit(m, &in, &err), &err);
    CHECK(accuracy(m, ds) == 1.0);
    at_model_free(m);
    at_dataset_free(ds);
}

/* Validation loss of the model's current weights, as the history computes it. */
static double valid_loss(const at_model *m, const at_dataset *ds) {
    double *P = malloc(ds->n * 2 * sizeof(double));
    at_error err;
    CHECK_OK(at_model_predict_proba(m, ds->X, ds->n, P, 1, &err), &err);
    double loss = 0;
    for (size_t i = 0; i < ds->n; i++) loss -= log(P[i * 2 + ds->y[i]]);
    free(P);
    return loss / (double)ds->n;
}

static void test_early_stopping(void) {
    /* Few noisy rows and a wide net with a high learning rate: it overfits, and the
     * validation loss turns up after a few epochs. */
    at_dataset *tr = make_xor(60, 2, 0.25), *va = make_xor(400, 3, 0.25);
    at_mlp_params p;
    at_mlp_params_default(&p);
    strcpy(p.hidden, "128,128");
    p.learning_rate = 0.02;
    p.batch_size = 16;
    p.epochs = 300;
    p.patience = 5;
    at_model *m = NULL;
    at_error err;
    CHECK_OK(at_mlp_new(&p, 2, 2, &m, &err), &err);
    at_fit_input in = {.train = tr, .valid = va, .threads = 2, .seed = 9};
    CHECK_OK(at_model_fit(m, &in, &err), &err);
    const at_history *h = m->ops->history(m->impl);
    int64_t best = at_mlp_best_epoch(m);
    CHECK(h && h->n_rows < 300);                   /* it stopped */
    CHECK(h && (int64_t)h->n_rows == best + 5);    /* patience epochs after the best */
    double min_loss = INFINITY;
    for (size_t r = 0; h && r < h->n_rows; r++)
        if (h->values[r * 6 + 3] < min_loss) min_loss = h->values[r * 6 + 3];
    CHECK(h && h->values[(size_t)(best - 1) * 6 + 3] == min_loss);
    /* The weights held are the best epoch's: their validation loss is the minimum, not
     * the last epoch's. */
    CHECK_NEAR(valid_loss(m, va), min_loss, 1e-5);
    CHECK(h && fabs(h->values[(h->n_rows - 1) * 6 + 3] - min_loss) > 1e-4);
    at_model_free(m);
    at_dataset_free(tr);
    at_dataset_free(va);
}

/* Predictions of a model trained with dropout equal a plain forward pass in double with
 * the same weights: no dropout and no rescaling at prediction. */
static void test_dropout_off_at_predict(void) {
    at_dataset *ds = make_xor(200, 4, 0.0);
    at_mlp_params p;
    at_mlp_params_default(&p);
    strcpy(p.hidden, "8");
    p.dropout = 0.5;
    p.epochs = 5;
    at_model *m = NULL;
    at_error err;
    CHECK_OK(at_mlp_new(&p, 2, 2, &m, &err), &err);
    at_fit_input in = {.train = ds, .threads = 1, .seed = 1};
    CHECK_OK(at_model_fit(m, &in, &err), &err);
    float prm[2 * 8 + 8 * 2 + 8 + 2];
    CHECK(at_mlp_n_parameters(m) == sizeof prm / sizeof prm[0]);
    at_mlp_get_parameters(m, prm);
    const float *W0 = prm, *W1 = prm + 16, *b0 = prm + 32, *b1 = prm + 40;
    double P[2 * 20];
    CHECK_OK(at_model_predict_proba(m, ds->X, 20, P, 1, &err), &err);
    double P2[2 * 20];
    CHECK_OK(at_model_predict_proba(m, ds->X, 20, P2, 1, &err), &err);
    CHECK(memcmp(P, P2, sizeof P) == 0);
    for (size_t i = 0; i < 20; i++) {
        double hdn[8], z[2];
        for (size_t j = 0; j < 8; j++) {
            double a = b0[j] + ds->X[2 * i] * W0[j] + ds->X[2 * i + 1] * W0[8 + j];
            hdn[j] = a > 0 ? a : 0;
        }
        for (size_t c = 0; c < 2; c++) {
            z[c] = b1[c];
            for (size_t j = 0; j < 8; j++) z[c] += hdn[j] * W1[j * 2 + c];
        }
        double p1 = 1.0 / (1.0 + exp(z[0] - z[1]));
        CHECK_NEAR(P[2 * i + 1], p1, 1e-5);
        CHECK_NEAR(P[2 * i] + P[2 * i + 1], 1.0, 1e-6);
    }
    at_model_free(m);
    at_dataset_free(ds);
}

static float *fit_params(const at_mlp_params *p, const at_dataset *ds, int threads, uint64_t seed,
                         size_t *n) {
    at_model *m = NULL;
    at_error err;
    CHECK_OK(at_mlp_new(p, 2, 2, &m, &err), &err);
    at_fit_input in = {.train = ds, .threads = threads, .seed = seed};
    CHECK_OK(at_model_fit(m, &in, &err), &err);
    *n = at_mlp_n_parameters(m);
    float *w = malloc(*n * sizeof(float));
    at_mlp_get_parameters(m, w);
    at_model_free(m);
    return w;
}

static void test_determinism(void) {
    at_dataset *ds = make_xor(1000, 5, 0.1);
    at_mlp_params p;
    at_mlp_params_default(&p);
    p.epochs = 3;
    p.batch_size = 64;
    p.dropout = 0.2;
    size_t n;
    for (int threads = 1; threads <= 3; threads++) {
        float *a = fit_params(&p, ds, threads, 11, &n), *b = fit_params(&p, ds, threads, 11, &n);
        CHECK(memcmp(a, b, n * sizeof(float)) == 0);
        free(a);
        free(b);
    }
    float *a = fit_params(&p, ds, 2, 11, &n), *b = fit_params(&p, ds, 2, 12, &n);
    CHECK(memcmp(a, b, n * sizeof(float)) != 0);
    free(a);
    free(b);
    at_dataset_free(ds);
}

static double weight_norm(const at_model *m) {
    size_t n = at_mlp_n_parameters(m);
    float *w = malloc(n * sizeof(float));
    at_mlp_get_parameters(m, w);
    const mlp_model *mm = m->impl;
    double s = 0;
    for (size_t i = 0; i < mm->net.n_weights; i++) s += (double)w[i] * w[i];
    free(w);
    return sqrt(s);
}

/* Weight decay shrinks the weights; plain momentum SGD learns; balanced class weights
 * raise the recall of a rare class that overlaps a common one. */
static void test_decay_sgd_class_weight(void) {
    at_dataset *ds = make_xor(400, 10, 0.0);
    at_mlp_params p;
    at_mlp_params_default(&p);
    strcpy(p.hidden, "16");
    p.optimizer = AT_MLP_SGD;
    p.learning_rate = 0.1;
    p.batch_size = 32;
    p.epochs = 60;
    at_model *a = NULL, *b = NULL;
    at_error err;
    at_fit_input in = {.train = ds, .threads = 1, .seed = 2};
    CHECK_OK(at_mlp_new(&p, 2, 2, &a, &err), &err);
    CHECK_OK(at_model_fit(a, &in, &err), &err);
    CHECK(accuracy(a, ds) > 0.99);
    p.weight_decay = 0.01;
    CHECK_OK(at_mlp_new(&p, 2, 2, &b, &err), &err);
    CHECK_OK(at_model_fit(b, &in, &err), &err);
    CHECK(weight_norm(b) < 0.8 * weight_norm(a));
    at_model_free(a);
    at_model_free(b);
    at_dataset_free(ds);

    /* 1-D: class 1 is 10% of the rows, centred one standard deviation above class 0. */
    at_dataset *im = NULL;
    CHECK_OK(at_dataset_new(2000, 2, 1, feat2, cls2, 2, &im, &err), &err);
    at_rng r;
    at_rng_init(&r, 4, 4);
    for (size_t i = 0; i < im->n; i++) {
        int lab = i % 10 == 0;
        im->y[i] = lab;
        im->X[2 * i] = at_rng_normal(&r) + (lab ? 1.0 : 0.0);
        im->X[2 * i + 1] = at_rng_normal(&r);
        im->row[i] = (int64_t)i;
    }
    double recall[2];
    for (int cwt = 0; cwt < 2; cwt++) {
        at_mlp_params_default(&p);
        strcpy(p.hidden, "8");
        p.epochs = 10;
        p.learning_rate = 0.01;
        p.class_weight = cwt ? AT_CLASS_WEIGHT_BALANCED : AT_CLASS_WEIGHT_NONE;
        at_model *m = NULL;
        CHECK_OK(at_mlp_new(&p, 2, 2, &m, &err), &err);
        at_fit_input in2 = {.train = im, .threads = 2, .seed = 1};
        CHECK_OK(at_model_fit(m, &in2, &err), &err);
        double *P = malloc(im->n * 2 * sizeof(double));
        CHECK_OK(at_model_predict_proba(m, im->X, im->n, P, 1, &err), &err);
        size_t hit = 0;
        for (size_t i = 0; i < im->n; i += 10) hit += P[2 * i + 1] > P[2 * i];
        recall[cwt] = (double)hit / (double)(im->n / 10);
        free(P);
        at_model_free(m);
    }
    CHECK(recall[0] < 0.2 && recall[1] > 0.5);
    at_dataset_free(im);
}

static void test_schedules(void) {
    at_dataset *ds = make_xor(100, 6, 0.0);
    at_mlp_params p;
    at_mlp_params_default(&p);
    p.epochs = 10;
    p.learning_rate = 0.01;
    p.schedule = AT_MLP_SCHEDULE_STEP;
    p.step_size = 3;
    p.gamma = 0.5;
    p.warmup = 2;
    at_model *m = NULL;
    at_error err;
    CHECK_OK(at_mlp_new(&p, 2, 2, &m, &err), &err);
    at_fit_input in = {.train = ds, .threads = 1, .seed = 1};
    CHECK_OK(at_model_fit(m, &in, &err), &err);
    const at_history *h = m->ops->history(m->impl);
    /* One step per epoch; the history holds the epoch's last step's rate, by the engine's
     * schedule (nn.h): warm-up lr * min(1, (s + 1) / (W * S)), then lr * gamma^floor(e / 3). */
    const double want[10] = {0.005, 0.01, 0.01, 0.005, 0.005, 0.005, 0.0025, 0.0025, 0.0025, 0.00125};
    for (size_t e = 0; h && e < 10; e++) {
        CHECK_NEAR(h->values[e * 6 + 0], (double)(e + 1), 0);
        CHECK_NEAR(h->values[e * 6 + 5], want[e], 1e-12);
    }
    at_model_free(m);
    p.schedule = AT_MLP_SCHEDULE_COSINE;
    p.warmup = 0;
    CHECK_OK(at_mlp_new(&p, 2, 2, &m, &err), &err);
    CHECK_OK(at_model_fit(m, &in, &err), &err);
    h = m->ops->history(m->impl);
    CHECK_NEAR(h->values[0 * 6 + 5], 0.01, 1e-12);
    CHECK_NEAR(h->values[5 * 6 + 5], 0.005, 1e-12);
    CHECK(h->values[9 * 6 + 5] < 0.0003);
    at_model_free(m);
    at_dataset_free(ds);
}

static void test_params(void) {
    size_t sizes[AT_MLP_MAX_HIDDEN], n;
    at_error err;
    CHECK_OK(at_mlp_parse_hidden(" 64, 32 ,8", sizes, &n, &err), &err);
    CHECK(n == 3 && sizes[0] == 64 && sizes[1] == 32 && sizes[2] == 8);
    CHECK_OK(at_mlp_parse_hidden("", sizes, &n, &err), &err);
    CHECK(n == 0);
    CHECK_FAIL(at_mlp_parse_hidden("64,,64", sizes, &n, &err), AT_ERR_CONFIG, &err, "comma-separated");
    CHECK_FAIL(at_mlp_parse_hidden("64 x", sizes, &n, &err), AT_ERR_CONFIG, &err, "comma-separated");
    CHECK_FAIL(at_mlp_parse_hidden("0", sizes, &n, &err), AT_ERR_CONFIG, &err, "1 to 65536");
    CHECK_FAIL(at_mlp_parse_hidden("-3", sizes, &n, &err), AT_ERR_CONFIG, &err, "comma-separated");
    CHECK_FAIL(at_mlp_parse_hidden("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", sizes, &n, &err),
               AT_ERR_CONFIG, &err, "at most 16");
    at_mlp_params p;
    at_mlp_params_default(&p);
    at_model *m = NULL;
    p.warmup = 50;
    CHECK_FAIL(at_mlp_new(&p, 3, 2, &m, &err), AT_ERR_CONFIG, &err, "warmup");
    at_mlp_params_default(&p);
    p.dropout = 1.0;
    CHECK_FAIL(at_mlp_new(&p, 3, 2, &m, &err), AT_ERR_CONFIG, &err, "dropout");
    at_mlp_params_default(&p);
    strcpy(p.hidden, "");
    CHECK_OK(at_mlp_new(&p, 3, 4, &m, &err), &err); /* softmax regression */
    CHECK(at_mlp_n_parameters(m) == 3 * 4 + 4);
    at_model_free(m);
}

static void stop_update(void *ctx, const char *stage, size_t done, size_t total, const char *detail) {
    (void)stage, (void)total, (void)detail;
    *(size_t *)ctx = done;
}

static void test_progress_and_interrupt(void) {
    at_dataset *ds = make_xor(100, 7, 0.0);
    at_mlp_params p;
    at_mlp_params_default(&p);
    p.epochs = 4;
    size_t last = 0;
    volatile int stop = 0;
    at_progress prog = {.update = stop_update, .ctx = &last, .stop = &stop};
    at_model *m = NULL;
    at_error err;
    CHECK_OK(at_mlp_new(&p, 2, 2, &m, &err), &err);
    at_fit_input in = {.train = ds, .threads = 2, .seed = 1, .progress = &prog};
    CHECK_OK(at_model_fit(m, &in, &err), &err);
    CHECK(last == 4);
    stop = 1;
    CHECK_FAIL(at_model_fit(m, &in, &err), AT_ERR_INTERRUPTED, &err, "interrupted");
    at_model_free(m);
    /* Unlabelled rows only: a data error, not a crash. */
    for (size_t i = 0; i < ds->n; i++) ds->y[i] = -1;
    stop = 0;
    CHECK_OK(at_mlp_new(&p, 2, 2, &m, &err), &err);
    CHECK_FAIL(at_model_fit(m, &in, &err), AT_ERR_DATA, &err, "no labelled");
    at_model_free(m);
    at_dataset_free(ds);
}

/* ---- model files ------------------------------------------------------------------- */

static void test_save_load(void) {
    at_dataset *tr = make_xor(300, 8, 0.05), *va = make_xor(100, 9, 0.05);
    at_mlp_params p;
    at_mlp_params_default(&p);
    strcpy(p.hidden, "12,7,5");
    p.activation = AT_MLP_TANH;
    p.epochs = 8;
    at_model *m = NULL, *back = NULL;
    at_error err;
    CHECK_OK(at_mlp_new(&p, 2, 2, &m, &err), &err);
    at_fit_input in = {.train = tr, .valid = va, .threads = 2, .seed = 3};
    CHECK_OK(at_model_fit(m, &in, &err), &err);
    char path[256];
    snprintf(path, sizeof path, "/tmp/test_mlp_%d.h5", (int)getpid());
    CHECK_OK(at_model_save_file(m, path, &err), &err);
    CHECK_OK(at_model_load_file(path, &back, &err), &err);
    if (back) {
        CHECK(back->ops == &at_mlp_ops && back->n_features == 2 && back->n_classes == 2);
        const mlp_model *a = m->impl, *b = back->impl;
        CHECK(b->net.n_layers == 4 && b->net.sizes[1] == 12 && b->net.sizes[3] == 5);
        CHECK(b->net.activation == AT_MLP_TANH && strcmp(b->p.hidden, "12,7,5") == 0);
        CHECK(memcmp(a->params, b->params, a->net.n_params * sizeof(float)) == 0);
        double P1[2 * 100], P2[2 * 100];
        CHECK_OK(at_model_predict_proba(m, va->X, 100, P1, 2, &err), &err);
        CHECK_OK(at_model_predict_proba(back, va->X, 100, P2, 1, &err), &err);
        CHECK(memcmp(P1, P2, sizeof P1) == 0);
        const at_history *h1 = m->ops->history(m->impl), *h2 = back->ops->history(back->impl);
        CHECK(h2 && h2->n_rows == 8 && memcmp(h1->values, h2->values, 8 * 6 * sizeof(double)) == 0);
        CHECK(at_mlp_best_epoch(back) == 8);
        at_model_free(back);
    }
    /* Corruptions written through save (which trusts memory), caught by load. */
    mlp_model *mm = m->impl;
    const char *want[] = {"not a finite", "unknown activation", "disagree", "impossible length"};
    for (int c = 0; c < 4; c++) {
        mlp_model keep = *mm;
        float w0 = mm->params[3];
        if (c == 0) mm->params[3] = NAN;
        if (c == 1) mm->net.activation = 7;
        if (c == 2) mm->net.sizes[0] = 3, mm->net.w_off[1] = 36; /* a wider input layer */
        if (c == 3) mm->net.n_layers = 0;
        CHECK_OK(at_model_save_file(m, path, &err), &err);
        back = NULL;
        CHECK_FAIL(at_model_load_file(path, &back, &err), AT_ERR_MODEL, &err, want[c]);
        CHECK(back == NULL);
        *mm = keep;
        mm->params[3] = w0;
    }
    /* A file whose weight matrix disagrees with layer_sizes (written by hand). */
    {
        at_store *st = NULL;
        const int64_t sizes[] = {2, 4, 2};
        const float w[2 * 5] = {0}, b[5] = {0};
        CHECK_OK(at_store_create(path, &st, &err), &err);
        CHECK_OK(at_store_put_str(st, "meta/model_type", "mlp", &err), &err);
        CHECK_OK(at_store_put_int(st, "meta/n_features", 2, &err), &err);
        CHECK_OK(at_store_put_int(st, "meta/n_classes", 2, &err), &err);
        CHECK_OK(at_store_put_i64(st, "model/layer_sizes", sizes, 3, &err), &err);
        CHECK_OK(at_store_put_str(st, "model/activation", "relu", &err), &err);
        CHECK_OK(at_store_put_f32_2d(st, "model/layer0/weight", w, 2, 5, &err), &err);
        CHECK_OK(at_store_put_f32(st, "model/layer0/bias", b, 5, &err), &err);
        CHECK_OK(at_store_commit(st, &err), &err);
        back = NULL;
        CHECK_FAIL(at_model_load_file(path, &back, &err), AT_ERR_MODEL, &err, "does not match");
        CHECK(back == NULL);
    }
    /* Random byte damage anywhere in the file: an error or a model, never a crash. */
    CHECK_OK(at_model_save_file(m, path, &err), &err);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    unsigned char *bytes = malloc((size_t)size);
    rewind(f);
    CHECK(fread(bytes, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    at_rng r;
    at_rng_init(&r, 1, 1);
    for (int trial = 0; trial < 40; trial++) {
        unsigned char *dam = malloc((size_t)size);
        memcpy(dam, bytes, (size_t)size);
        for (int k = 0; k < 8; k++) dam[at_rng_below(&r, (uint64_t)size)] ^= (unsigned char)(1 + at_rng_below(&r, 255));
        f = fopen(path, "wb");
        fwrite(dam, 1, (size_t)(trial % 4 == 3 ? size / 2 : size), f); /* some truncated too */
        fclose(f);
        back = NULL;
        at_status s = at_model_load_file(path, &back, &err);
        CHECK(s == AT_OK || s == AT_ERR_MODEL);
        if (s == AT_OK) {
            double P[2 * 10];
            at_model_predict_proba(back, va->X, 10, P, 1, &err);
            at_model_free(back);
        }
        free(dam);
    }
    free(bytes);
    unlink(path);
    at_model_free(m);
    at_dataset_free(tr);
    at_dataset_free(va);
}

int main(void) {
    RUN(test_gradients);
    RUN(test_xor);
    RUN(test_early_stopping);
    RUN(test_dropout_off_at_predict);
    RUN(test_determinism);
    RUN(test_decay_sgd_class_weight);
    RUN(test_schedules);
    RUN(test_params);
    RUN(test_progress_and_interrupt);
    RUN(test_save_load);
    return harness_done();
}
