/* test_cnn.c - the convolutional network: every layer kind's gradient against central
 * finite differences, a tiny net overfitting a tiny set, save/load, an interrupted and
 * resumed run equal bit for bit to an uninterrupted one, and network INI errors with
 * file:line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astrotrain/cnn.h"
#include "astrotrain/config_load.h"
#include "astrotrain/model_file.h"
#include "astrotrain/rng.h"
#include "cnn_util.h"
#include "harness.h"


/* Central differences on every parameter (or a strided sample of big layers). */
static void grad_check(const char *text, size_t h, size_t w, size_t c, size_t k, size_t n, int weighted) {
    at_cnn *net = make_net(text, k, 7);
    if (!net) return;
    at_error err = {0};
    size_t isz = h * w * c, np = at_cnn_param_count(net);
    float *x = malloc(n * isz * sizeof *x), *g = malloc(np * sizeof *g);
    int32_t *y = malloc(n * sizeof *y);
    float cw[4] = {1.0f, 2.5f, 0.5f, 1.5f};
    at_rng r;
    at_rng_init(&r, 3, 0);
    for (size_t i = 0; i < n * isz; i++) x[i] = (float)at_rng_normal(&r);
    for (size_t i = 0; i < n; i++) y[i] = (int32_t)(i % k);
    float *p = at_cnn_param_data(net);
    /* move parameters off zero so relu kinks and zero biases do not sit on the probe */
    for (size_t i = 0; i < np; i++) p[i] += (float)(0.05 * at_rng_normal(&r));
    double loss = 0;
    CHECK_OK(at_cnn_loss_grad(net, x, y, n, weighted ? cw : NULL, &loss, g, 2, &err), &err);
    size_t stride = np > 400 ? np / 400 : 1, bad = 0, checked = 0;
    double worst = 0;
    for (size_t i = 0; i < np; i += stride) {
        float keep = p[i];
        /* two step sizes: the larger is robust to float rounding, the smaller to curvature
         * (batch norm over a few pixels) and to probes that straddle a relu or max-pool kink */
        const float steps[2] = {5e-4f, 1e-4f};
        double num = 0, diff = 0, tol = 0;
        for (int q = 0; q < 2; q++) {
            double lp, lm;
            p[i] = keep + steps[q];
            at_cnn_loss_grad(net, x, y, n, weighted ? cw : NULL, &lp, NULL, 2, &err);
            p[i] = keep - steps[q];
            at_cnn_loss_grad(net, x, y, n, weighted ? cw : NULL, &lm, NULL, 2, &err);
            p[i] = keep;
            num = (lp - lm) / (2.0 * steps[q]), diff = fabs(num - g[i]);
            tol = 2e-3 + 3e-2 * fmax(fabs(num), fabs(g[i]));
            if (diff <= tol) break;
        }
        if (diff > tol && getenv("GC_VERBOSE")) fprintf(stderr, "    p%zu num %.6g ana %.6g\n", i, num, (double)g[i]);
        if (diff > tol) bad++;
        if (diff / tol > worst) worst = diff / tol;
        checked++;
    }
    /* a probe may straddle a relu or max-pool kink: allow a tiny fraction of misses */
    if (bad > checked / 100) fprintf(stderr, "  %zu of %zu gradients off (worst %.2f x tol)\n", bad, checked, worst);
    CHECK(bad <= checked / 100);
    CHECK(checked > 10);
    CHECK(isfinite(loss) && loss > 0);
    free(x), free(g), free(y);
    at_cnn_free(net);
}

#define NET(w, h, c) "[net]\nwidth=" #w "\nheight=" #h "\nchannels=" #c "\n"

static void test_grad_conv_dense(void) {
    grad_check(NET(6, 6, 2) "[conv]\nfilters=3\nsize=3\nactivation=leaky\n"
                            "[conv]\nfilters=4\nsize=2\nstride=2\npad=0\nactivation=linear\n"
                            "[dense]\nunits=3\n[softmax]\n",
               6, 6, 2, 3, 5, 0);
}

static void test_grad_batchnorm_maxpool(void) {
    grad_check(NET(6, 6, 1) "[conv]\nfilters=3\nsize=3\nbatch_normalize=1\nactivation=leaky\n"
                            "[maxpool]\nsize=2\n[dense]\nunits=2\nactivation=leaky\n[softmax]\n",
               6, 6, 1, 2, 4, 1);
}

static void test_grad_strided_and_1x1(void) {
    grad_check(NET(7, 7, 3) "[conv]\nfilters=4\nsize=3\nstride=2\npad=1\n"
                            "[conv]\nfilters=3\nsize=1\npad=0\nactivation=linear\nbatch_normalize=true\n"
                            "[maxpool]\nsize=3\nstride=1\n[avgpool]\n[dense]\nunits=3\n[softmax]\n",
               7, 7, 3, 3, 3, 1);
}

static void test_grad_shortcut_avgpool(void) {
    grad_check(NET(5, 5, 2) "[conv]\nfilters=3\nactivation=leaky\n"
                            "[conv]\nfilters=3\nactivation=leaky\nbatch_normalize=1\n"
                            "[conv]\nfilters=3\nactivation=linear\n"
                            "[shortcut]\nfrom=-3\nactivation=leaky\n"
                            "[avgpool]\n[dense]\nunits=4\n[softmax]\n",
               5, 5, 2, 4, 4, 1);
}

static void test_grad_dropout_dense(void) {
    /* the dropout mask is fixed by the workspace seed, so the loss is a smooth function */
    grad_check(NET(3, 3, 2) "[dense]\nunits=8\nactivation=leaky\n[dropout]\nrate=0.3\n"
                            "[dense]\nunits=3\n[softmax]\n",
               3, 3, 2, 3, 6, 1);
}

static at_images *toy_images(size_t n, size_t s, size_t k, uint64_t seed) {
    at_error err = {0};
    at_images *im = NULL;
    CHECK_OK(at_images_new(n, s, s, 1, 1, &im, &err), &err);
    if (!im) return NULL;
    im->n_classes = k;
    at_rng r;
    at_rng_init(&r, seed, 1);
    for (size_t i = 0; i < n; i++) {
        im->y[i] = (int32_t)(i % k);
        for (size_t p = 0; p < s * s; p++) im->pixels[i * s * s + p] = (uint8_t)at_rng_below(&r, 256);
    }
    return im;
}

static const char *tiny_net =
    "[net]\nwidth=8\nheight=8\nchannels=1\nbatch=4\nepochs=60\noptimizer=adam\nlearning_rate=0.01\n"
    "[conv]\nfilters=8\n[maxpool]\n[conv]\nfilters=16\n[avgpool]\n[dense]\nunits=2\n[softmax]\n";

static void test_overfit_tiny_set(void) {
    at_images *im = toy_images(12, 8, 2, 5);
    at_cnn *net = make_net(tiny_net, 2, 1);
    if (!im || !net) return;
    at_cnn_fit_standardisation(net, im);
    at_error err = {0};
    at_cnn_train_options o = {.threads = 1, .seed = 9}; /* one thread: fast under ASan on a busy machine */
    CHECK_OK(at_cnn_train(net, im, NULL, &o, &err), &err);
    double P[24];
    CHECK_OK(at_cnn_predict_images(net, im, 0, P, 2, &err), &err);
    size_t ok = 0;
    for (size_t i = 0; i < 12; i++) ok += (P[2 * i + 1] > P[2 * i]) == (im->y[i] == 1);
    CHECK(ok == 12);
    const at_history *h = at_cnn_history(net);
    CHECK(h->n_rows == 60);
    CHECK(h->values[(h->n_rows - 1) * h->n_cols + 1] < h->values[1]); /* loss went down */
    /* save and load give the same probabilities */
    char path[] = "/tmp/test_cnn_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    at_store *st = NULL;
    CHECK_OK(at_store_create(path, &st, &err), &err);
    CHECK_OK(at_cnn_save(net, st, "model/", &err), &err);
    CHECK_OK(at_store_commit(st, &err), &err);
    CHECK_OK(at_store_open(path, &st, &err), &err);
    at_cnn *back = NULL;
    CHECK_OK(at_cnn_load(st, "model/", &back, &err), &err);
    at_store_close(st);
    unlink(path);
    if (back) {
        double Q[24];
        CHECK_OK(at_cnn_predict_images(back, im, 0, Q, 1, &err), &err);
        CHECK(memcmp(P, Q, sizeof P) == 0);
        CHECK(at_cnn_history(back)->n_rows == 60);
        /* D4 averaging is a valid distribution too */
        CHECK_OK(at_cnn_predict_images(back, im, 1, Q, 2, &err), &err);
        CHECK_NEAR(Q[0] + Q[1], 1.0, 1e-6);
    }
    at_cnn_free(back);
    at_cnn_free(net);
    at_images_free(im);
}

/* Stops the run when the progress reaches a chosen (epoch, batch). */
typedef struct stopper {
    volatile int flag;
    size_t calls, stop_at;
} stopper;
static void stop_update(void *ctx, const char *stage, size_t done, size_t total, const char *detail) {
    (void)stage, (void)done, (void)total, (void)detail;
    stopper *s = ctx;
    if (++s->calls == s->stop_at) s->flag = 1;
}

static void test_resume_is_bit_identical(void) {
    const char *text = "[net]\nwidth=8\nheight=8\nchannels=1\nbatch=5\nepochs=4\noptimizer=sgd\nmomentum=0.9\n"
                       "learning_rate=0.05\nschedule=cosine\nwarmup=1\naugment_d4=true\nshift=1\nbrightness=0.2\n"
                       "[conv]\nfilters=4\nbatch_normalize=true\n[maxpool]\n[dropout]\nrate=0.2\n"
                       "[avgpool]\n[dense]\nunits=3\n[softmax]\n";
    at_images *tr = toy_images(23, 8, 3, 11), *va = toy_images(9, 8, 3, 12);
    at_cnn *a = make_net(text, 3, 4), *b = make_net(text, 3, 4);
    if (!tr || !va || !a || !b) return;
    at_cnn_fit_standardisation(a, tr);
    at_cnn_fit_standardisation(b, tr);
    at_error err = {0};
    char ck[] = "/tmp/test_cnn_ckpt_XXXXXX";
    int fd = mkstemp(ck);
    if (fd >= 0) close(fd);
    float cw[3] = {1.0f, 0.5f, 2.0f};
    at_cnn_train_options o = {.threads = 2, .seed = 21, .class_weight = cw};
    CHECK_OK(at_cnn_train(a, tr, va, &o, &err), &err);
    /* interrupted in epoch 2 (5 batches per epoch), then resumed from the checkpoint */
    stopper sp = {0, 0, 7};
    at_progress prog = {stop_update, NULL, &sp, &sp.flag};
    at_cnn_train_options ob = o;
    ob.checkpoint = ck;
    ob.progress = &prog;
    CHECK_FAIL(at_cnn_train(b, tr, va, &ob, &err), AT_ERR_INTERRUPTED, &err, "interrupted at epoch 2");
    at_cnn *c = make_net(text, 3, 99); /* different initial weights: all must come from the checkpoint */
    if (c) {
        at_cnn_fit_standardisation(c, tr);
        sp.flag = 0, sp.stop_at = 0;
        ob.resume = 1;
        CHECK_OK(at_cnn_train(c, tr, va, &ob, &err), &err);
        CHECK(at_cnn_param_count(a) == at_cnn_param_count(c));
        CHECK(memcmp(at_cnn_param_data(a), at_cnn_param_data(c), at_cnn_param_count(a) * sizeof(float)) == 0);
        const at_history *ha = at_cnn_history(a), *hc = at_cnn_history(c);
        CHECK(ha->n_rows == 4 && hc->n_rows == 4);
        CHECK(memcmp(ha->values, hc->values, ha->n_rows * ha->n_cols * sizeof(double)) == 0);
        CHECK(at_cnn_best_epoch(a) == at_cnn_best_epoch(c));
    }
    /* a checkpoint of another network is refused */
    at_cnn *d = make_net(tiny_net, 2, 1);
    if (d) {
        at_images *t8 = toy_images(4, 8, 2, 1);
        CHECK_FAIL(at_cnn_train(d, t8, NULL, &ob, &err), AT_ERR_MODEL, &err, "another network");
        at_images_free(t8);
    }
    unlink(ck);
    at_cnn_free(a), at_cnn_free(b), at_cnn_free(c), at_cnn_free(d);
    at_images_free(tr), at_images_free(va);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) fputs(text, f), fclose(f);
}

static void test_ini_errors(void) {
    at_config *c = calloc(1, sizeof *c);
    at_error err = {0};
    const char *path = "/tmp/test_cnn_net.ini";
    const char *head = "[run]\nname = x\n[model]\ntype = cnn\n[net]\nwidth = 16\nheight = 16\n";
    char buf[1024];
    snprintf(buf, sizeof buf, "%s[conv]\nfiltres = 8\n[avgpool]\n[dense]\nunits = 2\n[softmax]\n", head);
    write_file(path, buf);
    CHECK_FAIL(at_config_load(path, NULL, 0, c, &err), AT_ERR_CONFIG, &err,
               "test_cnn_net.ini:9: unknown key 'filtres' in [conv] (did you mean 'filters'?)");
    snprintf(buf, sizeof buf, "%s[conv]\nfilters = 8\n[maxpool]\nsize = 32\n[dense]\nunits = 2\n[softmax]\n", head);
    write_file(path, buf);
    CHECK_FAIL(at_config_load(path, NULL, 0, c, &err), AT_ERR_CONFIG, &err,
               "test_cnn_net.ini:10: [maxpool] impossible shape: window 32 is larger than the 16x16 input");
    snprintf(buf, sizeof buf, "%s[conv]\nfilters = 8\nsize = 19\npad = 0\n[dense]\nunits = 2\n[softmax]\n", head);
    write_file(path, buf);
    CHECK_FAIL(at_config_load(path, NULL, 0, c, &err), AT_ERR_CONFIG, &err, "test_cnn_net.ini:8: [conv] impossible shape");
    snprintf(buf, sizeof buf, "%s[conv]\nfilters = 8\n[softmax]\n", head);
    write_file(path, buf);
    CHECK_FAIL(at_config_load(path, NULL, 0, c, &err), AT_ERR_CONFIG, &err, "test_cnn_net.ini:10: [softmax] needs one value per class");
    snprintf(buf, sizeof buf, "%s[conv]\nactivation = tanh\nfilters = 8\n[avgpool]\n[softmax]\n", head);
    write_file(path, buf);
    CHECK_FAIL(at_config_load(path, NULL, 0, c, &err), AT_ERR_CONFIG, &err, "test_cnn_net.ini:9: [conv] activation: 'tanh' is not one of linear/relu/leaky");
    snprintf(buf, sizeof buf, "%s[conv]\nsize = 3\n[avgpool]\n[softmax]\n", head);
    write_file(path, buf);
    CHECK_FAIL(at_config_load(path, NULL, 0, c, &err), AT_ERR_CONFIG, &err, "test_cnn_net.ini:8: [conv] needs 'filters'");
    snprintf(buf, sizeof buf, "%s[conv]\nfilters = 4\n[conv]\nfilters = 8\n[shortcut]\nfrom = -2\n[avgpool]\n[softmax]\n", head);
    write_file(path, buf);
    CHECK_FAIL(at_config_load(path, NULL, 0, c, &err), AT_ERR_CONFIG, &err, "test_cnn_net.ini:12: [shortcut] impossible shape");
    snprintf(buf, sizeof buf, "%s[conv]\nfilters = 4\n[avgpool]\n[softmax]\n[net]\nepochs = 2\n", head);
    write_file(path, buf);
    CHECK_FAIL(at_config_load(path, NULL, 0, c, &err), AT_ERR_CONFIG, &err, "test_cnn_net.ini:12: [net] appears twice");
    write_file(path, "[run]\nname = x\n[net]\nwidth = 16\n[conv]\nfilters = 2\n");
    CHECK_FAIL(at_config_load(path, NULL, 0, c, &err), AT_ERR_CONFIG, &err, "set [model] type = cnn");
    /* a good file: --set reaches [net], the effective config keeps the network */
    snprintf(buf, sizeof buf, "%s[conv]\nfilters = 4\n[avgpool]\n[softmax]\n", head);
    write_file(path, buf);
    const char *sets[] = {"net.epochs=3", "net.optimizer=adamw"};
    CHECK_OK(at_config_load(path, sets, 2, c, &err), &err);
    char *text = at_config_format(c);
    CHECK(text && strstr(text, "[net]\nwidth = 16\nheight = 16\nepochs = 3\noptimizer = adamw\n"));
    CHECK(text && strstr(text, "[conv]\nfilters = 4\n\n[avgpool]\n\n[softmax]\n"));
    free(text);
    const char *bad[] = {"net.epohcs=3"};
    CHECK_FAIL(at_config_load(path, bad, 1, c, &err), AT_ERR_CONFIG, &err, "did you mean 'epochs'");
    const char *bad2[] = {"conv.filters=3"};
    CHECK_FAIL(at_config_load(path, bad2, 1, c, &err), AT_ERR_CONFIG, &err, "layer keys cannot be set with --set");
    char *doc = at_config_reference();
    CHECK(doc && strstr(doc, "### [conv]") && strstr(doc, "| `batch_normalize` |"));
    free(doc);
    unlink(path);
    free(c);
}

int main(void) {
    RUN(test_grad_conv_dense);
    RUN(test_grad_batchnorm_maxpool);
    RUN(test_grad_strided_and_1x1);
    RUN(test_grad_shortcut_avgpool);
    RUN(test_grad_dropout_dense);
    RUN(test_overfit_tiny_set);
    RUN(test_resume_is_bit_identical);
    RUN(test_ini_errors);
    return harness_done();
}
