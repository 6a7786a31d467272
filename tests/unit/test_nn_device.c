/* test_nn_device.c - the device plumbing of the network engine (issue 17) on any machine:
 * device names ([run] device, --device), the answer of a build without CUDA, and every
 * host-side path a GPU backend takes (input upload, probabilities and loss gradient through
 * host copies, device mirrors of parameters, gradients, statistics and optimiser moments,
 * attach / detach) run on a pretend device: the CPU's own kernels behind a table that says
 * on_device = 1. Its results must be bit-identical to the CPU's, so any value the plumbing
 * forgets to move shows up. The CPU implementations of the seam's layer-level operations
 * (conv forward/backward, column sums, dropout and shortcut backward) are checked against
 * hand-computed values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astrotrain/cnn.h"
#include "astrotrain/device.h"
#include "astrotrain/model_file.h"
#include "astrotrain/rng.h"
#include "harness.h"
#include "models/cnn/cnn_internal.h"
#include "models/nn/device.h"

static void test_device_names(void) {
    at_device_kind k;
    int idx;
    at_error err = {0};
    CHECK(at_device_parse("cpu", &k, &idx, &err) == AT_OK && k == AT_DEVICE_CPU);
    CHECK(at_device_parse("", &k, &idx, &err) == AT_OK && k == AT_DEVICE_CPU);
    CHECK(at_device_parse(NULL, &k, &idx, &err) == AT_OK && k == AT_DEVICE_CPU);
    CHECK(at_device_parse("auto", &k, &idx, &err) == AT_OK && k == AT_DEVICE_AUTO);
    CHECK(at_device_parse("cuda", &k, &idx, &err) == AT_OK && k == AT_DEVICE_CUDA && idx == 0);
    CHECK(at_device_parse("cuda:3", &k, &idx, &err) == AT_OK && k == AT_DEVICE_CUDA && idx == 3);
    CHECK(at_device_parse("cuda:63", &k, &idx, &err) == AT_OK && idx == 63);
    const char *bad[] = {"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:64", "cuda:1x", "CPU", "cuda0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(at_device_parse(bad[i], &k, &idx, &err) == AT_ERR_CONFIG);
        CHECK(strstr(err.msg, "is not one of cpu, cuda, cuda:N") != NULL);
    }
}

static void test_open_without_cuda(void) {
    const at_nn_backend *be = NULL;
    at_error err = {0};
    CHECK(nn_device_open("cpu", 0, &be, &err) == AT_OK && be == nn_backend_cpu());
    if (at_device_has_cuda()) SKIP("built with CUDA=1: the GPU test program covers opening a GPU");
    CHECK(at_device_cuda_count() == 0);
    CHECK(nn_device_open("auto", 0, &be, &err) == AT_OK && be == nn_backend_cpu());
    CHECK(nn_device_open("cuda:1", 0, &be, &err) == AT_ERR_CONFIG);
    CHECK(strstr(err.msg, "this astrotrain was built without CUDA: rebuild with make CUDA=1") != NULL);
    CHECK(be == nn_backend_cpu());
    nn_device_close(be);
}

/* ---- the pretend device ------------------------------------------------------------------ */

static const at_nn_backend *fake_device(at_nn_backend *t) {
    *t = *nn_backend_cpu();
    t->name = "pretend device";
    t->on_device = 1;
    return t;
}

static const char *NET_INI = "[net]\nwidth = 8\nheight = 8\nchannels = 3\nbatch = 8\nepochs = 1\n"
                             "optimizer = adamw\nweight_decay = 0.01\n"
                             "[conv]\nfilters = 6\nactivation = leaky\n"
                             "[maxpool]\nsize = 3\nstride = 2\npad = 1\n"
                             "[conv]\nfilters = 6\nbatch_normalize = true\n"
                             "[conv]\nfilters = 6\nbatch_normalize = true\nactivation = linear\n"
                             "[shortcut]\nfrom = -2\nactivation = relu\n"
                             "[avgpool]\n[dropout]\nrate = 0.3\n[dense]\nunits = 3\n[softmax]\n";

static at_cnn *make_net(void) {
    at_error err = {0};
    at_cnn_spec *spec = NULL;
    at_cnn *net = NULL;
    if (at_cnn_spec_parse_text(NET_INI, "test", &spec, &err) == AT_OK) at_cnn_new(spec, 3, 21, &net, &err);
    at_cnn_spec_free(spec);
    if (!net) fprintf(stderr, "  %s\n", err.msg);
    return net;
}

static int same_bits(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof *a) == 0; }

static void test_pretend_device_matches_cpu(void) {
    at_nn_backend table;
    const at_nn_backend *dev = fake_device(&table);
    at_cnn *c = make_net(), *g = make_net();
    CHECK(c && g);
    if (!c || !g) {
        at_cnn_free(c), at_cnn_free(g);
        return;
    }
    at_error err = {0};
    CHECK(nn_net_attach(&g->nn, dev, &err) == AT_OK);
    CHECK(g->nn.dparams && g->nn.dgrads && g->nn.dstats && g->nn.dparams != g->nn.params);
    CHECK(same_bits(g->nn.dparams, c->nn.params, c->nn.np)); /* uploaded */
    size_t n = 5, in = c->nn.L[0].in_size, k = 3;
    float *x = malloc(n * in * sizeof *x);
    at_rng r;
    at_rng_init(&r, 3, 0);
    for (size_t i = 0; i < n * in; i++) x[i] = (float)at_rng_normal(&r);
    int32_t y[5] = {0, 1, 2, 1, 0};
    nn_work *wc = NULL, *wg = NULL;
    CHECK(nn_work_new(&c->nn, n, 2, 1, &wc, &err) == AT_OK);
    CHECK(nn_work_new(&g->nn, n, 2, 1, &wg, &err) == AT_OK);
    CHECK(wg->x_dev && wg->h_p && wg->h_d && !wc->x_dev && !wc->h_p);
    nn_optim oc, og;
    CHECK(nn_optim_init(&c->nn, &oc, &err) == AT_OK && nn_optim_init(&g->nn, &og, &err) == AT_OK);
    nn_opt_conf conf = cnn_opt_conf(&c->spec->p);
    for (int step = 0; step < 3; step++) {
        wc->dropout_seed = wg->dropout_seed = 100 + (uint64_t)step;
        nn_forward(&c->nn, wc, x, n);
        nn_forward(&g->nn, wg, x, n);
        CHECK(same_bits(nn_output(&g->nn, wg, n), nn_output(&c->nn, wc, n), n * k));
        size_t okc = 0, okg = 0;
        double lc = nn_xent(&c->nn, wc, y, NULL, NULL, n, (double)n, &okc);
        double lg = nn_xent(&g->nn, wg, y, NULL, NULL, n, (double)n, &okg);
        CHECK(lc == lg && okc == okg);
        CHECK(same_bits(wg->delta[c->nn.nl - 2], wc->delta[c->nn.nl - 2], n * k)); /* the gradient went up */
        nn_backward(&c->nn, wc, x, n);
        nn_backward(&g->nn, wg, x, n);
        CHECK(same_bits(g->nn.dgrads, c->nn.grads, c->nn.np));
        CHECK(same_bits(g->nn.dstats, c->nn.stats, c->nn.ns));
        nn_optim_step(&c->nn, &conf, &oc, nn_grads(&c->nn), 1e-2);
        nn_optim_step(&g->nn, &conf, &og, nn_grads(&g->nn), 1e-2);
        CHECK(same_bits(g->nn.dparams, c->nn.params, c->nn.np));
    }
    /* the host copy is stale until downloaded */
    CHECK(!same_bits(g->nn.params, c->nn.params, c->nn.np));
    nn_net_download(&g->nn);
    CHECK(same_bits(g->nn.params, c->nn.params, c->nn.np) && same_bits(g->nn.stats, c->nn.stats, c->nn.ns));
    /* moments out and back in */
    float *m = malloc(c->nn.np * sizeof *m), *v = malloc(c->nn.np * sizeof *v);
    nn_optim_get(&og, &g->nn, m, v);
    CHECK(same_bits(m, oc.m, c->nn.np) && same_bits(v, oc.v, c->nn.np));
    for (size_t i = 0; i < c->nn.np; i++) m[i] = 0.5f;
    nn_optim_set(&og, &g->nn, m, v);
    CHECK(og.m[0] == 0.5f && og.m[c->nn.np - 1] == 0.5f);
    /* a host-side change goes up with upload */
    g->nn.params[0] = 42.0f;
    nn_net_upload(&g->nn);
    CHECK(g->nn.dparams[0] == 42.0f);
    g->nn.params[0] = c->nn.params[0];
    nn_net_upload(&g->nn);
    /* inference: the folded batch norm through the device path */
    nn_work *ic = NULL, *ig = NULL;
    CHECK(nn_work_new(&c->nn, n, 2, 0, &ic, &err) == AT_OK && nn_work_new(&g->nn, n, 2, 0, &ig, &err) == AT_OK);
    nn_forward(&c->nn, ic, x, n);
    nn_forward(&g->nn, ig, x, n);
    CHECK(same_bits(nn_output(&g->nn, ig, n), nn_output(&c->nn, ic, n), n * k));
    nn_work_free(ic), nn_work_free(ig);
    /* detach: the host copy is the device's, the device copies are gone, the net is on the CPU */
    g->nn.dparams[1] += 1.0f;
    float expect = g->nn.dparams[1];
    nn_net_detach(&g->nn);
    CHECK(g->nn.params[1] == expect && !g->nn.dparams && !g->nn.dgrads && g->nn.be == nn_backend_cpu());
    nn_optim_free(&oc), nn_optim_free(&og);
    nn_work_free(wc), nn_work_free(wg);
    free(x), free(m), free(v);
    at_cnn_free(c), at_cnn_free(g);
}

/* ---- the CPU's layer-level operations against hand-computed values ---------------------- */

static void test_cpu_layer_ops(void) {
    const at_nn_backend *be = nn_backend_cpu();
    /* 1 image 3x3x1, 2x2 kernel, stride 1, no pad, 1 output channel: out 2x2 */
    nn_geom g = {.in_h = 3, .in_w = 3, .in_c = 1, .out_h = 2, .out_w = 2, .out_c = 1, .size = 2, .stride = 1, .pad = 0,
                 .K = 4};
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, W[4] = {1, 0, 0, -1}, bias[1] = {0.5f}, out[4];
    float col[64], dcol[64], part[64];
    nn_conv_fwd f = {.g = &g, .n = 1, .chunk_imgs = 1, .col_max = 64, .threads = 1, .epilogue = NN_EPI_BIAS_ACT,
                     .act = ACT_LEAKY, .slope = 0.1f, .in = x, .W = W, .bias = bias, .out = out, .col = col};
    be->conv_forward(be, &f);
    /* x[r][c] - x[r+1][c+1] = -4 each, + 0.5 = -3.5, leaky: -0.35 */
    for (int i = 0; i < 4; i++) CHECK_NEAR(out[i], -0.35, 1e-6);
    float sc[1] = {2.0f}, sh[1] = {1.0f};
    f.epilogue = NN_EPI_SCALE_ACT, f.sc = sc, f.sh = sh, f.act = ACT_RELU;
    be->conv_forward(be, &f);
    for (int i = 0; i < 4; i++) CHECK_NEAR(out[i], 0.0, 0); /* 2 * -4 + 1 = -7, relu */
    f.epilogue = NN_EPI_NONE;
    be->conv_forward(be, &f);
    for (int i = 0; i < 4; i++) CHECK_NEAR(out[i], -4.0, 0);
    /* backward with dZ = 1 everywhere: gw[k] = sum of the input under kernel tap k, gb = 4,
     * din = W scattered: din[0] = 1, din[8] = -1, din[4] = 1 - 1 = 0 ... */
    float dZ[4] = {1, 1, 1, 1}, gw[4], gb[1], din[9];
    for (int i = 0; i < 9; i++) din[i] = 10;
    nn_conv_bwd b = {.g = &g, .n = 1, .chunk_imgs = 1, .col_max = 64, .part_max = 64, .threads = 2, .acc = 0,
                     .in = x, .W = W, .dZ = dZ, .gw = gw, .gb = gb, .din = din, .col = col, .dcol = dcol, .part = part};
    float part2[128], col2[128], dcol2[128];
    b.part = part2, b.col = col2, b.dcol = dcol2;
    be->conv_backward(be, &b);
    CHECK_NEAR(gw[0], 1 + 2 + 4 + 5, 0);
    CHECK_NEAR(gw[1], 2 + 3 + 5 + 6, 0);
    CHECK_NEAR(gw[2], 4 + 5 + 7 + 8, 0);
    CHECK_NEAR(gw[3], 5 + 6 + 8 + 9, 0);
    CHECK_NEAR(gb[0], 4, 0);
    const float expect[9] = {1, 1, 0, 1, 0, -1, 0, -1, -1};
    for (int i = 0; i < 9; i++) CHECK_NEAR(din[i], expect[i], 0);
    b.acc = 1; /* adds onto din */
    be->conv_backward(be, &b);
    for (int i = 0; i < 9; i++) CHECK_NEAR(din[i], 2 * expect[i], 0);
    /* 1x1 (direct) conv: out = 2 x */
    nn_geom g1 = {.in_h = 1, .in_w = 2, .in_c = 1, .out_h = 1, .out_w = 2, .out_c = 1, .size = 1, .stride = 1, .K = 1};
    float x1[2] = {3, -4}, W1[1] = {2}, o1[2], d1[2] = {1, 2}, gw1[1], din1[2] = {5, 5};
    nn_conv_fwd f1 = {.g = &g1, .n = 1, .chunk_imgs = 1, .col_max = 64, .threads = 1, .epilogue = NN_EPI_BIAS_ACT,
                      .act = ACT_LINEAR, .in = x1, .W = W1, .out = o1, .col = col};
    be->conv_forward(be, &f1);
    CHECK_NEAR(o1[0], 6, 0);
    CHECK_NEAR(o1[1], -8, 0);
    nn_conv_bwd b1 = {.g = &g1, .n = 1, .chunk_imgs = 1, .col_max = 64, .part_max = 64, .threads = 1, .acc = 1,
                      .in = x1, .W = W1, .dZ = d1, .gw = gw1, .din = din1, .col = col, .dcol = dcol, .part = part};
    be->conv_backward(be, &b1);
    CHECK_NEAR(gw1[0], 3 * 1 + -4 * 2, 0);
    CHECK_NEAR(din1[0], 5 + 2, 0);
    CHECK_NEAR(din1[1], 5 + 4, 0);
    /* column sums, dropout backward, shortcut forward/backward, batch-norm fold */
    float d[6] = {1, 2, 3, 4, 5, 6}, cs[3];
    be->col_sums(be, d, 2, 3, cs);
    CHECK_NEAR(cs[0], 5, 0);
    CHECK_NEAR(cs[1], 7, 0);
    CHECK_NEAR(cs[2], 9, 0);
    float mask[3] = {0, 2, 2}, dd[3] = {1, 1, 1}, di[3] = {1, 1, 1};
    be->dropout_backward(be, dd, mask, 3, di, 0);
    CHECK(di[0] == 0 && di[1] == 2 && di[2] == 2);
    be->dropout_backward(be, dd, mask, 3, di, 1);
    CHECK(di[0] == 0 && di[1] == 4 && di[2] == 4);
    be->dropout_backward(be, dd, NULL, 3, di, 0); /* pass-through */
    CHECK(di[0] == 1 && di[1] == 1 && di[2] == 1);
    float a[4] = {1, -2, 3, -4}, bb[4] = {1, 1, -5, 1}, s[4];
    be->add_act(be, a, bb, s, 2, 2, ACT_RELU, 0, 1);
    CHECK(s[0] == 2 && s[1] == 0 && s[2] == 0 && s[3] == 0);
    float sd[2] = {1, 2}, sdin[2] = {10, 10}, ssrc[2] = {5, 5};
    be->shortcut_backward(be, sd, sdin, ssrc, 2, 1, 1);
    CHECK(sdin[0] == 11 && sdin[1] == 12 && ssrc[0] == 6 && ssrc[1] == 7);
    be->shortcut_backward(be, sd, sdin, ssrc, 2, 0, 1);
    CHECK(sdin[0] == 1 && sdin[1] == 2 && ssrc[0] == 7 && ssrc[1] == 9);
    float gm[1] = {3}, bt[1] = {1}, rm[1] = {2}, rv[1] = {3.5f}, fsc[1], fsh[1];
    be->bn_fold(be, gm, bt, rm, rv, 1, 0.5f, fsc, fsh); /* 3 / sqrt(3.5 + 0.5) */
    CHECK_NEAR(fsc[0], 1.5, 1e-6);
    CHECK_NEAR(fsh[0], 1 - 2 * 1.5, 1e-6);
}

/* ---- the whole training loop on the pretend device ---------------------------------------- */

static at_images *stripes(size_t n, uint64_t seed) {
    at_images *im = calloc(1, sizeof *im);
    im->n = n, im->height = im->width = 8, im->channels = 3, im->n_classes = 3;
    im->pixels = malloc(n * 8 * 8 * 3);
    im->y = malloc(n * sizeof *im->y);
    at_rng r;
    at_rng_init(&r, seed, 1);
    for (size_t i = 0; i < n; i++) {
        int c = (int)at_rng_below(&r, 3);
        im->y[i] = c;
        for (size_t p = 0; p < 64; p++)
            for (int ch = 0; ch < 3; ch++)
                im->pixels[(i * 64 + p) * 3 + (size_t)ch] =
                    (uint8_t)(((p / 8) % 3 == (size_t)c ? 160 : 50) + at_rng_below(&r, 40));
    }
    return im;
}

/* Trains NET_INI for 2 epochs (checkpoint written every epoch) on be; returns the net. */
static at_cnn *train_on_backend(const at_nn_backend *be, const at_images *tr, const at_images *va, const char *ckpt) {
    at_cnn *net = make_net();
    if (!net) return NULL;
    at_cnn_fit_standardisation(net, tr);
    net->spec->p.epochs = 2;
    at_cnn_train_options o = {.threads = 2, .seed = 5, .checkpoint = ckpt};
    at_error err = {0};
    at_status s = cnn_train_with(net, be, tr, va, &o, &err);
    if (s) fprintf(stderr, "  %s\n", err.msg);
    CHECK(s == AT_OK);
    return net;
}

static int same_store_f32(const char *a, const char *b, const char *name, size_t n) {
    at_store *sa = NULL, *sb = NULL;
    at_error err = {0};
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    int ok = at_store_open(a, &sa, &err) == AT_OK && at_store_open(b, &sb, &err) == AT_OK &&
             at_store_read_f32(sa, name, x, n, &err) == AT_OK && at_store_read_f32(sb, name, y, n, &err) == AT_OK &&
             same_bits(x, y, n);
    at_store_close(sa), at_store_close(sb);
    free(x), free(y);
    return ok;
}

/* A progress whose update asks to stop after `after` batches (an interrupt mid-epoch). */
typedef struct stopper {
    volatile int stop;
    size_t after;
} stopper;

static void stop_after(void *ctx, const char *stage, size_t done, size_t total, const char *detail) {
    (void)stage, (void)total, (void)detail;
    stopper *st = ctx;
    if (done >= st->after) st->stop = 1;
}

/* Interrupted after 3 batches of epoch 1: the checkpoint written then holds the weights and
 * moments of that moment (no best-epoch copy has refreshed the host yet). */
static void test_interrupt_checkpoint_on_pretend_device(void) {
    at_nn_backend table;
    const at_nn_backend *dev = fake_device(&table);
    at_images *tr = stripes(40, 3);
    char ck[2][64];
    const at_nn_backend *bes[2] = {nn_backend_cpu(), dev};
    for (int i = 0; i < 2; i++) {
        snprintf(ck[i], sizeof ck[i], "/tmp/at_nn_device_int%d_%d.h5", i, (int)getpid());
        at_cnn *net = make_net();
        if (!net) continue;
        at_cnn_fit_standardisation(net, tr);
        stopper stp = {0, 3};
        at_progress prog = {.update = stop_after, .ctx = &stp, .stop = &stp.stop};
        at_cnn_train_options o = {.threads = 2, .seed = 9, .checkpoint = ck[i], .progress = &prog};
        at_error err = {0};
        CHECK(cnn_train_with(net, bes[i], tr, NULL, &o, &err) == AT_ERR_INTERRUPTED);
        CHECK(same_store_f32(ck[0], ck[i], "net/params", net->nn.np));
        CHECK(same_store_f32(ck[0], ck[i], "net/stats", net->nn.ns ? net->nn.ns : 1));
        CHECK(same_store_f32(ck[0], ck[i], "train/m", net->nn.np));
        at_cnn_free(net);
    }
    remove(ck[0]), remove(ck[1]);
    free(tr->pixels), free(tr->y), free(tr);
}

static void test_training_on_pretend_device(void) {
    at_nn_backend table;
    const at_nn_backend *dev = fake_device(&table);
    at_images *tr = stripes(40, 1), *va = stripes(12, 2);
    char ck_cpu[64], ck_dev[64];
    snprintf(ck_cpu, sizeof ck_cpu, "/tmp/at_nn_device_cpu_%d.h5", (int)getpid());
    snprintf(ck_dev, sizeof ck_dev, "/tmp/at_nn_device_dev_%d.h5", (int)getpid());
    at_cnn *c = train_on_backend(nn_backend_cpu(), tr, va, ck_cpu);
    at_cnn *g = train_on_backend(dev, tr, va, ck_dev);
    if (c && g) {
        /* the model, its statistics and history, and the checkpoint (weights, moments) are the CPU's */
        CHECK(g->nn.be == nn_backend_cpu() && !g->nn.dparams);
        CHECK(same_bits(g->nn.params, c->nn.params, c->nn.np));
        CHECK(same_bits(g->nn.stats, c->nn.stats, c->nn.ns));
        for (size_t i = 0; i < 2 * CNN_HIST_COLS && g->hist_rows == 2 && c->hist_rows == 2; i++)
            if (memcmp(&g->hist[i], &c->hist[i], sizeof *g->hist))
                fprintf(stderr, "  history[%zu]: device %.17g cpu %.17g\n", i, g->hist[i], c->hist[i]);
        CHECK(g->hist_rows == 2 && c->hist_rows == 2 &&
              memcmp(g->hist, c->hist, 2 * CNN_HIST_COLS * sizeof *g->hist) == 0);
        CHECK(same_store_f32(ck_cpu, ck_dev, "train/m", c->nn.np));
        CHECK(same_store_f32(ck_cpu, ck_dev, "train/v", c->nn.np));
        CHECK(same_store_f32(ck_cpu, ck_dev, "train/best_params", c->nn.np));
        /* and a checkpoint written on the device resumes on the device as on the CPU */
        at_cnn *r = make_net();
        at_cnn_fit_standardisation(r, tr);
        r->spec->p.epochs = 3;
        c->spec->p.epochs = 3;
        at_cnn_train_options o = {.threads = 2, .seed = 5, .checkpoint = ck_dev, .resume = 1};
        at_error err = {0};
        CHECK(cnn_train_with(r, dev, tr, va, &o, &err) == AT_OK);
        o.checkpoint = ck_cpu;
        CHECK(cnn_train_with(c, nn_backend_cpu(), tr, va, &o, &err) == AT_OK);
        CHECK(same_bits(r->nn.params, c->nn.params, c->nn.np));
        at_cnn_free(r);
    }
    remove(ck_cpu), remove(ck_dev);
    at_cnn_free(c), at_cnn_free(g);
    free(tr->pixels), free(tr->y), free(tr), free(va->pixels), free(va->y), free(va);
}

int main(void) {
    RUN(test_device_names);
    RUN(test_open_without_cuda);
    RUN(test_pretend_device_matches_cpu);
    RUN(test_cpu_layer_ops);
    RUN(test_training_on_pretend_device);
    RUN(test_interrupt_checkpoint_on_pretend_device);
    return harness_done();
}
