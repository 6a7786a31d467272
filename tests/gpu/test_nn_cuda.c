/* test_nn_cuda.c - the CUDA backend against the CPU one (issue 17), built only with
 * make CUDA=1 (build/cuda/tests/gpu/test_nn_cuda) and run on a machine with a GPU
 * (scripts/device_check.sh); without a GPU it prints one SKIP line per test and passes.
 *
 * Three levels, each CPU vs GPU on the same inputs:
 *  1. every seam operation alone (products in all four transpose cases, im2col/col2im,
 *     bias + each activation and its backward, batch norm forward/backward, max pooling
 *     plain and padded, global average pooling, softmax, dropout with the same mask stream,
 *     the shortcut's ops, column sums, the optimiser update for SGD, Nesterov, Adam, AdamW,
 *     convolution forward/backward for several geometries);
 *  2. a network of every layer kind (conv plain / with batch norm / 1x1 / stride 2, max pools,
 *     shortcut, global average pool, dropout, dense, softmax), layer by layer: forward
 *     outputs within 1e-4 (relative to the layer's largest value), in training and inference
 *     mode, input gradients and parameter gradients within 1e-3, batch-norm statistics, one
 *     optimiser step;
 *  3. a short training run of a small CNN on separable synthetic images on each device: the
 *     test accuracies agree within seed noise (0.1) and both learn (> 0.8).
 * It prints every measured difference, so its output is the evidence for the issue. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/cnn.h"
#include "astrotrain/rng.h"
#include "harness.h"
#include "models/cnn/cnn_internal.h"
#include "models/nn/backend_cuda.h"
#include "models/nn/device.h"

#define FWD_TOL 1e-4
#define GRAD_TOL 1e-3

static const at_nn_backend *gpu; /* main's: opened once, or NULL when there is no GPU */
static char no_gpu[320];
/* AT_TEST_PRETEND_GPU=1 (no GPU needed): "the GPU" is the CPU's kernels behind a table that
 * says on_device = 1, so this program's own logic (buffer sizes, argument orders, the
 * comparisons) is checked on any machine; every difference must then be 0. */
static at_nn_backend pretend;
static const char *train_device = "cuda";

/* ---- helpers ---------------------------------------------------------------------------- */

static float *rnd(size_t n, uint64_t seed, double lo, double hi) {
    float *p = malloc((n ? n : 1) * sizeof *p);
    at_rng r;
    at_rng_init(&r, seed, 7);
    for (size_t i = 0; i < n; i++) p[i] = (float)(lo + (hi - lo) * at_rng_uniform(&r));
    return p;
}

static float *up(const float *h, size_t n) {
    float *d = gpu->alloc(gpu, n ? n : 1, sizeof(float));
    if (d && n) gpu->to_device(gpu, d, h, n * sizeof(float));
    return d;
}

static float *down(const float *d, size_t n) {
    float *h = malloc((n ? n : 1) * sizeof *h);
    if (n) gpu->to_host(gpu, h, d, n * sizeof(float));
    return h;
}

/* max |a - b| / max(max |b|, floor): the difference relative to the tensor's scale. */
static double rel_diff(const float *a, const float *b, size_t n) {
    double md = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= md)) md = d; /* NaN counts as a difference */
        if (fabs(b[i]) > mb) mb = fabs(b[i]);
    }
    return md / (mb > 1e-12 ? mb : 1e-12);
}

/* Compares the GPU buffer d (n floats) with the CPU's c; prints the figure. */
static int same(const char *what, const float *d, const float *c, size_t n, double tol) {
    float *h = down(d, n);
    double r = rel_diff(h, c, n);
    free(h);
    int ok = r <= tol;
    printf("  %-52s rel diff %.3g %s\n", what, r, ok ? "ok" : "OVER");
    CHECK(ok);
    return ok;
}

static void gpu_ok(void) {
    at_error err = {0};
    at_status s = gpu->status(gpu, &err);
    if (s) fprintf(stderr, "  GPU error: %s\n", err.msg);
    CHECK(s == AT_OK);
}

#define NEED_GPU()                     \
    do {                               \
        if (!gpu) SKIP(no_gpu);        \
    } while (0)

/* ---- 1. seam operations ----------------------------------------------------------------- */

static void test_gemm(void) {
    NEED_GPU();
    const at_nn_backend *cpu = nn_backend_cpu();
    size_t M = 37, N = 29, K = 53;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            size_t lda = ta ? M : K, ldb = tb ? K : N;
            float *A = rnd(M * K, 1, -1, 1), *B = rnd(K * N, 2, -1, 1), *C = rnd(M * N, 3, -1, 1);
            float *dA = up(A, M * K), *dB = up(B, K * N), *dC = up(C, M * N);
            cpu->gemm(cpu, ta, tb, M, N, K, 0.7f, A, lda, B, ldb, 0.3f, C, N);
            gpu->gemm(gpu, ta, tb, M, N, K, 0.7f, dA, lda, dB, ldb, 0.3f, dC, N);
            char w[64];
            snprintf(w, sizeof w, "gemm ta=%d tb=%d", ta, tb);
            same(w, dC, C, M * N, FWD_TOL);
            gpu->release(gpu, dA), gpu->release(gpu, dB), gpu->release(gpu, dC);
            free(A), free(B), free(C);
        }
    gpu_ok();
}

static void test_im2col(void) {
    NEED_GPU();
    const at_nn_backend *cpu = nn_backend_cpu();
    nn_geom g = {.in_h = 7, .in_w = 6, .in_c = 3, .size = 3, .stride = 2, .pad = 1, .out_c = 4};
    g.out_h = (g.in_h + 2 * (size_t)g.pad - (size_t)g.size) / (size_t)g.stride + 1;
    g.out_w = (g.in_w + 2 * (size_t)g.pad - (size_t)g.size) / (size_t)g.stride + 1;
    g.K = (size_t)(g.size * g.size) * g.in_c;
    size_t m = 2, in_n = m * g.in_h * g.in_w * g.in_c, col_n = m * g.out_h * g.out_w * g.K;
    float *x = rnd(in_n, 4, -1, 1), *col = malloc(col_n * sizeof *col), *back = calloc(in_n, sizeof *back);
    float *dx = up(x, in_n), *dcol = gpu->alloc(gpu, col_n, sizeof(float)), *dback = up(back, in_n);
    cpu->im2col(cpu, &g, x, m, col);
    gpu->im2col(gpu, &g, dx, m, dcol);
    same("im2col 3x3/2 pad 1", dcol, col, col_n, 0);
    cpu->col2im_add(cpu, &g, col, m, back);
    gpu->col2im_add(gpu, &g, dcol, m, dback);
    same("col2im_add", dback, back, in_n, FWD_TOL);
    gpu->release(gpu, dx), gpu->release(gpu, dcol), gpu->release(gpu, dback);
    free(x), free(col), free(back);
    gpu_ok();
}

static void test_activations(void) {
    NEED_GPU();
    const at_nn_backend *cpu = nn_backend_cpu();
    size_t rows = 33, C = 17, n = rows * C;
    const char *names[] = {"linear", "relu", "leaky", "tanh", "sigmoid"};
    for (int act = ACT_LINEAR; act <= ACT_SIGMOID; act++) {
        float *y = rnd(n, 5, -3, 3), *b = rnd(C, 6, -1, 1), *d = rnd(n, 7, -1, 1);
        float *dy = up(y, n), *db = up(b, C), *dd = up(d, n);
        cpu->bias_act(cpu, y, rows, C, b, act, 0.1f);
        gpu->bias_act(gpu, dy, rows, C, db, act, 0.1f);
        char w[64];
        snprintf(w, sizeof w, "bias + %s", names[act]);
        same(w, dy, y, n, FWD_TOL);
        cpu->act_backward(cpu, d, y, n, act, 0.1f, 1);
        gpu->act_backward(gpu, dd, dy, n, act, 0.1f, 1);
        snprintf(w, sizeof w, "%s backward", names[act]);
        same(w, dd, d, n, GRAD_TOL);
        gpu->release(gpu, dy), gpu->release(gpu, db), gpu->release(gpu, dd);
        free(y), free(b), free(d);
    }
    gpu_ok();
}

static void test_batch_norm(void) {
    NEED_GPU();
    const at_nn_backend *cpu = nn_backend_cpu();
    size_t M = 300, C = 12, n = M * C;
    float *z = rnd(n, 8, -2, 3), *gm = rnd(C, 9, 0.5, 1.5), *bt = rnd(C, 10, -0.5, 0.5);
    float *rm = rnd(C, 11, -0.1, 0.1), *rv = rnd(C, 12, 0.9, 1.1), *dY = rnd(n, 13, -1, 1);
    float *y = malloc(n * sizeof *y), *mean = malloc(4 * C * sizeof *mean), *inv = malloc(C * sizeof *inv);
    float *xh = malloc(n * sizeof *xh), *gg = malloc(C * sizeof *gg), *gb = malloc(C * sizeof *gb);
    double *red = malloc(4 * 2 * C * sizeof *red);
    float *d_z = up(z, n), *d_gm = up(gm, C), *d_bt = up(bt, C), *d_rm = up(rm, C), *d_rv = up(rv, C);
    float *d_y = gpu->alloc(gpu, n, sizeof(float)), *d_mean = gpu->alloc(gpu, 4 * C, sizeof(float));
    float *d_inv = gpu->alloc(gpu, C, sizeof(float)), *d_xh = gpu->alloc(gpu, n, sizeof(float));
    float *d_gg = gpu->alloc(gpu, C, sizeof(float)), *d_gb = gpu->alloc(gpu, C, sizeof(float)), *d_dY = up(dY, n);
    cpu->bn_forward_train(cpu, z, y, M, C, gm, bt, mean, inv, rm, rv, NN_BN_EPS, NN_BN_MOMENTUM, ACT_RELU, 0.1f, red,
                          2 * C, 1);
    gpu->bn_forward_train(gpu, d_z, d_y, M, C, d_gm, d_bt, d_mean, d_inv, d_rm, d_rv, NN_BN_EPS, NN_BN_MOMENTUM,
                          ACT_RELU, 0.1f, red, 2 * C, 1); /* red: host scratch the CUDA backend ignores */
    same("batch norm forward (train) + relu", d_y, y, n, FWD_TOL);
    same("batch norm batch mean", d_mean, mean, C, FWD_TOL);
    same("batch norm 1/std", d_inv, inv, C, FWD_TOL);
    same("batch norm running mean", d_rm, rm, C, FWD_TOL);
    same("batch norm running variance (unbiased)", d_rv, rv, C, FWD_TOL);
    /* the layer applies the activation's backward first; here dY is already dZ-after-act */
    cpu->bn_backward(cpu, dY, xh, z, M, C, gm, mean, inv, gg, gb, mean + C, red, 2 * C, 1);
    gpu->bn_backward(gpu, d_dY, d_xh, d_z, M, C, d_gm, d_mean, d_inv, d_gg, d_gb, d_mean + C, red, 2 * C, 1);
    same("batch norm backward dZ", d_dY, dY, n, GRAD_TOL);
    same("batch norm dgamma", d_gg, gg, C, GRAD_TOL);
    same("batch norm dbeta", d_gb, gb, C, GRAD_TOL);
    float *sc = malloc(C * sizeof *sc), *sh = malloc(C * sizeof *sh);
    float *d_sc = gpu->alloc(gpu, C, sizeof(float)), *d_sh = gpu->alloc(gpu, C, sizeof(float));
    cpu->bn_fold(cpu, gm, bt, rm, rv, C, NN_BN_EPS, sc, sh);
    gpu->bn_fold(gpu, d_gm, d_bt, d_rm, d_rv, C, NN_BN_EPS, d_sc, d_sh);
    same("batch norm fold (inference scale)", d_sc, sc, C, FWD_TOL);
    same("batch norm fold (inference shift)", d_sh, sh, C, FWD_TOL);
    float *bufs[] = {d_z, d_gm, d_bt, d_rm, d_rv, d_y, d_mean, d_inv, d_xh, d_gg, d_gb, d_dY, d_sc, d_sh};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) gpu->release(gpu, bufs[i]);
    free(z), free(gm), free(bt), free(rm), free(rv), free(dY), free(y), free(mean), free(inv), free(xh), free(gg);
    free(gb), free(red), free(sc), free(sh);
    gpu_ok();
}

static void pool_case(const char *what, size_t H, size_t W, size_t C, long S, long st, long pad) {
    const at_nn_backend *cpu = nn_backend_cpu();
    nn_geom g = {.in_h = H, .in_w = W, .in_c = C, .out_c = C, .size = S, .stride = st, .pad = pad};
    g.out_h = (H + 2 * (size_t)pad - (size_t)S) / (size_t)st + 1;
    g.out_w = (W + 2 * (size_t)pad - (size_t)S) / (size_t)st + 1;
    size_t n = 3, is = H * W * C, os = g.out_h * g.out_w * C;
    float *x = rnd(n * is, 14, -1, 1), *y = malloc(n * os * sizeof *y), *d = rnd(n * os, 15, -1, 1);
    float *din = rnd(n * is, 16, -1, 1);
    int32_t *am = malloc(n * os * sizeof *am);
    float *dx = up(x, n * is), *dy = gpu->alloc(gpu, n * os, sizeof(float)), *dd = up(d, n * os), *ddin = up(din, n * is);
    int32_t *dam = gpu->alloc(gpu, n * os, sizeof(int32_t));
    cpu->maxpool_forward(cpu, &g, x, n, y, am, 1);
    gpu->maxpool_forward(gpu, &g, dx, n, dy, dam, 1);
    char w[80];
    snprintf(w, sizeof w, "maxpool %s forward", what);
    same(w, dy, y, n * os, 0);
    int32_t *ham = malloc(n * os * sizeof *ham);
    gpu->to_host(gpu, ham, dam, n * os * sizeof *ham);
    CHECK(memcmp(ham, am, n * os * sizeof *am) == 0);
    for (int acc = 0; acc < 2; acc++) {
        cpu->maxpool_backward(cpu, d, am, n, os, is, din, acc, 1);
        gpu->maxpool_backward(gpu, dd, dam, n, os, is, ddin, acc, 1);
        snprintf(w, sizeof w, "maxpool %s backward acc=%d", what, acc);
        same(w, ddin, din, n * is, GRAD_TOL);
    }
    gpu->release(gpu, dx), gpu->release(gpu, dy), gpu->release(gpu, dd), gpu->release(gpu, ddin), gpu->release(gpu, dam);
    free(x), free(y), free(d), free(din), free(am), free(ham);
}

static void test_pooling(void) {
    NEED_GPU();
    pool_case("2x2/2", 8, 6, 5, 2, 2, 0);
    pool_case("3x3/2 pad 1", 9, 9, 4, 3, 2, 1);
    const at_nn_backend *cpu = nn_backend_cpu();
    nn_geom g = {.in_h = 5, .in_w = 7, .in_c = 6, .out_h = 1, .out_w = 1, .out_c = 6};
    size_t n = 4, is = 5 * 7 * 6;
    float *x = rnd(n * is, 17, -1, 1), *y = malloc(n * 6 * sizeof *y), *d = rnd(n * 6, 18, -1, 1);
    float *din = rnd(n * is, 19, -1, 1);
    float *dx = up(x, n * is), *dy = gpu->alloc(gpu, n * 6, sizeof(float)), *dd = up(d, n * 6), *ddin = up(din, n * is);
    cpu->avgpool_forward(cpu, &g, x, n, y, 1);
    gpu->avgpool_forward(gpu, &g, dx, n, dy, 1);
    same("global avgpool forward", dy, y, n * 6, FWD_TOL);
    for (int acc = 0; acc < 2; acc++) {
        cpu->avgpool_backward(cpu, &g, d, n, din, acc, 1);
        gpu->avgpool_backward(gpu, &g, dd, n, ddin, acc, 1);
        same(acc ? "global avgpool backward acc=1" : "global avgpool backward acc=0", ddin, din, n * is, GRAD_TOL);
    }
    gpu->release(gpu, dx), gpu->release(gpu, dy), gpu->release(gpu, dd), gpu->release(gpu, ddin);
    free(x), free(y), free(d), free(din);
    gpu_ok();
}

static void test_small_ops(void) {
    NEED_GPU();
    const at_nn_backend *cpu = nn_backend_cpu();
    size_t n = 41, k = 10, m = n * k;
    float *x = rnd(m, 20, -5, 5), *p = malloc(m * sizeof *p), *dx = up(x, m), *dp = gpu->alloc(gpu, m, sizeof(float));
    cpu->softmax(cpu, x, n, k, p);
    gpu->softmax(gpu, dx, n, k, dp);
    same("softmax", dp, p, m, FWD_TOL);
    /* dropout: the same mask stream on both */
    float *o = malloc(m * sizeof *o), *mask = malloc(m * sizeof *mask);
    float *d_o = gpu->alloc(gpu, m, sizeof(float)), *d_mask = gpu->alloc(gpu, m, sizeof(float));
    cpu->dropout(cpu, x, o, mask, m, 0.3, 1234, 5);
    gpu->dropout(gpu, dx, d_o, d_mask, m, 0.3, 1234, 5);
    same("dropout mask (same stream)", d_mask, mask, m, 0);
    same("dropout forward", d_o, o, m, 0);
    float *g = rnd(m, 21, -1, 1), *din = rnd(m, 22, -1, 1), *d_g = up(g, m), *d_din = up(din, m);
    for (int acc = 0; acc < 2; acc++) {
        cpu->dropout_backward(cpu, g, mask, m, din, acc);
        gpu->dropout_backward(gpu, d_g, d_mask, m, d_din, acc);
        same(acc ? "dropout backward acc=1" : "dropout backward acc=0", d_din, din, m, GRAD_TOL);
    }
    float *y = malloc(m * sizeof *y), *d_y = gpu->alloc(gpu, m, sizeof(float));
    cpu->add_act(cpu, x, g, y, n, k, ACT_RELU, 0.1f, 1);
    gpu->add_act(gpu, dx, d_g, d_y, n, k, ACT_RELU, 0.1f, 1);
    same("shortcut add + relu", d_y, y, m, FWD_TOL);
    float *src = rnd(m, 23, -1, 1), *d_src = up(src, m);
    for (int acc = 0; acc < 2; acc++) {
        cpu->shortcut_backward(cpu, g, din, src, m, acc, 1);
        gpu->shortcut_backward(gpu, d_g, d_din, d_src, m, acc, 1);
        same(acc ? "shortcut backward din acc=1" : "shortcut backward din acc=0", d_din, din, m, GRAD_TOL);
        same("shortcut backward into the source", d_src, src, m, GRAD_TOL);
    }
    float *cs = malloc(k * sizeof *cs), *d_cs = gpu->alloc(gpu, k, sizeof(float));
    cpu->col_sums(cpu, x, n, k, cs);
    gpu->col_sums(gpu, dx, n, k, d_cs);
    same("column sums (bias gradient)", d_cs, cs, k, GRAD_TOL);
    float *bufs[] = {dx, dp, d_o, d_mask, d_g, d_din, d_y, d_src, d_cs};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) gpu->release(gpu, bufs[i]);
    free(x), free(p), free(o), free(mask), free(g), free(din), free(y), free(src), free(cs);
    gpu_ok();
}

static void test_update(void) {
    NEED_GPU();
    const at_nn_backend *cpu = nn_backend_cpu();
    size_t n = 1000;
    nn_update us[4] = {
        {.kind = AT_OPT_SGD, .mu = 0.9f, .step = 0.01f, .l2 = 1e-4f, .decay = 1},
        {.kind = AT_OPT_SGD, .nesterov = 1, .mu = 0.9f, .step = 0.01f, .l2 = 0, .decay = 1},
        {.kind = AT_OPT_ADAM, .b1 = 0.9f, .b2 = 0.999f, .step = 1e-3f, .eps = 1e-8f, .l2 = 1e-4f, .decay = 1},
        {.kind = AT_OPT_ADAMW, .b1 = 0.9f, .b2 = 0.999f, .step = 1e-3f, .eps = 1e-8f, .decay = 0.9999f},
    };
    const char *names[] = {"update sgd momentum", "update sgd nesterov", "update adam", "update adamw"};
    for (int u = 0; u < 4; u++) {
        float *w = rnd(n, 24, -1, 1), *g = rnd(n, 25, -1, 1), *m = rnd(n, 26, -0.1, 0.1), *v = rnd(n, 27, 0, 0.01);
        float *dw = up(w, n), *dg = up(g, n), *dm = up(m, n), *dv = up(v, n);
        for (int step = 0; step < 3; step++) {
            cpu->update(cpu, &us[u], w, g, m, v, n);
            gpu->update(gpu, &us[u], dw, dg, dm, dv, n);
        }
        same(names[u], dw, w, n, 1e-5);
        gpu->release(gpu, dw), gpu->release(gpu, dg), gpu->release(gpu, dm), gpu->release(gpu, dv);
        free(w), free(g), free(m), free(v);
    }
    gpu_ok();
}

static void conv_case(size_t H, size_t W, size_t Ci, size_t Co, long S, long st, long pad, int bias, int acc) {
    const at_nn_backend *cpu = nn_backend_cpu();
    nn_geom g = {.in_h = H, .in_w = W, .in_c = Ci, .out_c = Co, .size = S, .stride = st, .pad = pad};
    g.out_h = (H + 2 * (size_t)pad - (size_t)S) / (size_t)st + 1;
    g.out_w = (W + 2 * (size_t)pad - (size_t)S) / (size_t)st + 1;
    g.K = (size_t)(S * S) * Ci;
    size_t n = 5, hw = g.out_h * g.out_w, is = H * W * Ci, os = hw * Co, K = g.K, chunk = (512 + hw - 1) / hw;
    size_t rows = chunk * hw, col_max = rows * K, part_max = K * Co + Co;
    float *x = rnd(n * is, 30, -1, 1), *Wt = rnd(K * Co, 31, -0.3, 0.3), *b = rnd(Co, 32, -0.2, 0.2);
    float *y = malloc(n * os * sizeof *y), *col = malloc(col_max * sizeof *col), *dcol = malloc(col_max * sizeof *dcol);
    float *part = malloc(part_max * sizeof *part), *dZ = rnd(n * os, 33, -1, 1), *gw = malloc(K * Co * sizeof *gw);
    float *gb = malloc(Co * sizeof *gb), *din = rnd(n * is, 34, -1, 1);
    float *d_x = up(x, n * is), *d_W = up(Wt, K * Co), *d_b = up(b, Co), *d_y = gpu->alloc(gpu, n * os, sizeof(float));
    float *d_dZ = up(dZ, n * os), *d_gw = gpu->alloc(gpu, K * Co, sizeof(float)), *d_gb = gpu->alloc(gpu, Co, sizeof(float));
    float *d_din = up(din, n * is);
    nn_conv_fwd f = {.g = &g, .n = n, .chunk_imgs = chunk, .col_max = col_max, .threads = 1,
                     .epilogue = NN_EPI_BIAS_ACT, .act = ACT_LEAKY, .slope = 0.1f, .in = x, .W = Wt,
                     .bias = bias ? b : NULL, .out = y, .col = col};
    cpu->conv_forward(cpu, &f);
    f.in = d_x, f.W = d_W, f.bias = bias ? d_b : NULL, f.out = d_y; /* col: host scratch the GPU ignores */
    gpu->conv_forward(gpu, &f);
    char w[96];
    snprintf(w, sizeof w, "conv %zux%zux%zu->%zu %ldx%ld/%ld pad %ld forward", H, W, Ci, Co, S, S, st, pad);
    same(w, d_y, y, n * os, FWD_TOL);
    nn_conv_bwd bw = {.g = &g, .n = n, .chunk_imgs = chunk, .col_max = col_max, .part_max = part_max, .threads = 1,
                      .acc = acc, .in = x, .W = Wt, .dZ = dZ, .gw = gw, .gb = bias ? gb : NULL, .din = din,
                      .col = col, .dcol = dcol, .part = part};
    cpu->conv_backward(cpu, &bw);
    bw.in = d_x, bw.W = d_W, bw.dZ = d_dZ, bw.gw = d_gw, bw.gb = bias ? d_gb : NULL, bw.din = d_din;
    gpu->conv_backward(gpu, &bw);
    snprintf(w, sizeof w, "  ... weight gradient");
    same(w, d_gw, gw, K * Co, GRAD_TOL);
    if (bias) same("  ... bias gradient", d_gb, gb, Co, GRAD_TOL);
    snprintf(w, sizeof w, "  ... input gradient (acc=%d)", acc);
    same(w, d_din, din, n * is, GRAD_TOL);
    float *bufs[] = {d_x, d_W, d_b, d_y, d_dZ, d_gw, d_gb, d_din};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) gpu->release(gpu, bufs[i]);
    free(x), free(Wt), free(b), free(y), free(col), free(dcol), free(part), free(dZ), free(gw), free(gb), free(din);
}

static void test_conv(void) {
    NEED_GPU();
    conv_case(9, 9, 3, 8, 3, 1, 1, 1, 0);
    conv_case(10, 10, 4, 6, 3, 2, 1, 0, 1);
    conv_case(8, 8, 6, 5, 1, 1, 0, 1, 1);
    conv_case(16, 16, 3, 8, 7, 2, 3, 0, 0);
    conv_case(8, 8, 4, 4, 1, 2, 0, 0, 0);
    gpu_ok();
}

/* ---- 2. a network of every layer kind, layer by layer ------------------------------------ */

static const char *kind_name(int k) {
    static const char *const names[] = {"conv", "maxpool", "avgpool", "dense", "dropout", "shortcut", "softmax"};
    return k >= 0 && k <= L_SOFTMAX ? names[k] : "?";
}

static const char *NET_INI = "[net]\nwidth = 16\nheight = 16\nchannels = 3\nbatch = 8\nepochs = 1\n"
                             "optimizer = adamw\nweight_decay = 0.01\n"
                             "[conv]\nfilters = 8\nactivation = leaky\n"
                             "[maxpool]\nsize = 3\nstride = 2\npad = 1\n"
                             "[conv]\nfilters = 8\nbatch_normalize = true\n"
                             "[conv]\nfilters = 8\nbatch_normalize = true\nactivation = linear\n"
                             "[shortcut]\nfrom = -2\nactivation = relu\n"
                             "[conv]\nfilters = 12\nstride = 2\n"
                             "[conv]\nfilters = 12\nsize = 1\nstride = 2\ninput = -2\nactivation = linear\n"
                             "[shortcut]\nfrom = -2\nactivation = relu\n"
                             "[maxpool]\n"
                             "[avgpool]\n"
                             "[dropout]\nrate = 0.3\n"
                             "[dense]\nunits = 16\nactivation = relu\n"
                             "[dense]\nunits = 3\n"
                             "[softmax]\n";

static at_cnn *make_net(at_error *err) {
    at_cnn_spec *spec = NULL;
    if (at_cnn_spec_parse_text(NET_INI, "test_nn_cuda", &spec, err)) return NULL;
    at_cnn *net = NULL;
    at_status s = at_cnn_new(spec, 3, 99, &net, err);
    at_cnn_spec_free(spec);
    return s ? NULL : net;
}

static void test_network_layers(void) {
    NEED_GPU();
    at_error err = {0};
    at_cnn *c = make_net(&err), *g = make_net(&err);
    if (!c || !g) {
        fprintf(stderr, "  %s\n", err.msg);
        CHECK(0);
        at_cnn_free(c), at_cnn_free(g);
        return;
    }
    /* give batch norm's running statistics something to differ by */
    for (size_t i = 0; i < c->nn.ns; i++) c->nn.stats[i] = g->nn.stats[i] = (float)(0.5 + 0.01 * (double)(i % 7));
    CHECK(nn_net_attach(&g->nn, gpu, &err) == AT_OK);
    size_t n = 6, in = c->nn.L[0].in_size, L = c->nn.nl;
    float *x = rnd(n * in, 40, -2, 2);
    int32_t y[6] = {0, 1, 2, 2, 1, 0};
    for (int training = 1; training >= 0; training--) {
        nn_work *wc = NULL, *wg = NULL;
        CHECK(nn_work_new(&c->nn, n, 2, training, &wc, &err) == AT_OK);
        CHECK(nn_work_new(&g->nn, n, 2, training, &wg, &err) == AT_OK);
        if (!wc || !wg) {
            nn_work_free(wc), nn_work_free(wg);
            break;
        }
        wc->dropout_seed = wg->dropout_seed = 777;
        nn_forward(&c->nn, wc, x, n);
        nn_forward(&g->nn, wg, x, n);
        printf(" %s forward, layer by layer:\n", training ? "training" : "inference");
        for (size_t li = 0; li < L; li++) {
            if (!training && !wc->shared[li] && li + 1 < L) continue; /* ping-pong buffers: only the kept ones */
            char w[64];
            snprintf(w, sizeof w, "layer %zu (%s) output", li, kind_name(c->nn.L[li].s.kind));
            same(w, wg->out[li], wc->out[li], n * c->nn.L[li].out_size, FWD_TOL);
        }
        if (training) {
            size_t okc = 0, okg = 0;
            double lc = nn_xent(&c->nn, wc, y, NULL, NULL, n, (double)n, &okc);
            double lg = nn_xent(&g->nn, wg, y, NULL, NULL, n, (double)n, &okg);
            printf("  loss cpu %.7f gpu %.7f\n", lc, lg);
            CHECK(fabs(lc - lg) <= FWD_TOL * fabs(lc));
            nn_backward(&c->nn, wc, x, n);
            nn_backward(&g->nn, wg, x, n);
            printf(" backward, layer by layer:\n");
            for (size_t li = 0; li + 1 < L; li++) {
                const nn_layer *l = &c->nn.L[li];
                char w[80];
                snprintf(w, sizeof w, "layer %zu (%s) output gradient", li, kind_name(l->s.kind));
                same(w, wg->delta[li], wc->delta[li], n * l->out_size, GRAD_TOL);
                if (l->w_n) {
                    snprintf(w, sizeof w, "layer %zu weight gradient", li);
                    same(w, g->nn.dgrads + l->w_off, c->nn.grads + l->w_off, l->w_n, GRAD_TOL);
                    snprintf(w, sizeof w, "layer %zu bias/beta gradient", li);
                    same(w, g->nn.dgrads + l->b_off, c->nn.grads + l->b_off, l->b_n, GRAD_TOL);
                    if (l->s.kind == L_CONV && l->s.bn) {
                        snprintf(w, sizeof w, "layer %zu gamma gradient", li);
                        same(w, g->nn.dgrads + l->g_off, c->nn.grads + l->g_off, l->s.out_c, GRAD_TOL);
                    }
                }
            }
            same("batch-norm running statistics", g->nn.dstats, c->nn.stats, c->nn.ns, FWD_TOL);
            /* one AdamW step from the CPU's gradients on both: the update alone */
            g->nn.be->to_device(gpu, g->nn.dgrads, c->nn.grads, c->nn.np * sizeof(float));
            nn_optim oc, og;
            CHECK(nn_optim_init(&c->nn, &oc, &err) == AT_OK);
            CHECK(nn_optim_init(&g->nn, &og, &err) == AT_OK);
            nn_opt_conf conf = cnn_opt_conf(&c->spec->p);
            nn_optim_step(&c->nn, &conf, &oc, c->nn.grads, 1e-3);
            nn_optim_step(&g->nn, &conf, &og, g->nn.dgrads, 1e-3);
            same("parameters after one adamw step", g->nn.dparams, c->nn.params, c->nn.np, 1e-5);
            nn_optim_free(&oc), nn_optim_free(&og);
        }
        nn_work_free(wc), nn_work_free(wg);
    }
    gpu_ok();
    nn_net_detach(&g->nn); /* back on the CPU: the host copy is the GPU's */
    CHECK(rel_diff(g->nn.params, c->nn.params, c->nn.np) <= 1e-5);
    free(x);
    at_cnn_free(c), at_cnn_free(g);
}

/* ---- 3. a short training run on each device ------------------------------------------------ */

/* Class c has a bright square in quadrant c (of 4), with noise. */
static at_images *synth(size_t n, uint64_t seed) {
    at_images *im = calloc(1, sizeof *im);
    im->n = n, im->height = im->width = 16, im->channels = 3, im->n_classes = 4;
    im->pixels = malloc(n * 16 * 16 * 3);
    im->y = malloc(n * sizeof *im->y);
    at_rng r;
    at_rng_init(&r, seed, 1);
    for (size_t i = 0; i < n; i++) {
        int c = (int)at_rng_below(&r, 4);
        im->y[i] = c;
        for (size_t p = 0; p < 256; p++) {
            size_t py = p / 16, px = p % 16;
            int in = (int)((py >= 8) * 2 + (px >= 8)) == c && py % 8 >= 2 && py % 8 < 6 && px % 8 >= 2 && px % 8 < 6;
            for (int ch = 0; ch < 3; ch++)
                im->pixels[(i * 256 + p) * 3 + (size_t)ch] = (uint8_t)((in ? 150 : 40) + at_rng_below(&r, 60));
        }
    }
    return im;
}

static void free_images(at_images *im) {
    if (!im) return;
    free(im->pixels), free(im->y), free(im);
}

static double train_acc(const char *device, const at_images *tr, const at_images *te) {
    const char *ini = "[net]\nwidth = 16\nheight = 16\nchannels = 3\nbatch = 16\nepochs = 3\nlearning_rate = 0.003\n"
                      "[conv]\nfilters = 8\nbatch_normalize = true\n[maxpool]\n"
                      "[conv]\nfilters = 16\nbatch_normalize = true\n[maxpool]\n"
                      "[conv]\nfilters = 16\n[avgpool]\n[dense]\nunits = 4\n[softmax]\n";
    at_error err = {0};
    at_cnn_spec *spec = NULL;
    at_cnn *net = NULL;
    double acc = -1;
    if (at_cnn_spec_parse_text(ini, "train", &spec, &err) || at_cnn_new(spec, 4, 5, &net, &err)) goto done;
    at_cnn_fit_standardisation(net, tr);
    at_cnn_train_options o = {.threads = 2, .seed = 11, .device = device};
    if (at_cnn_train(net, tr, NULL, &o, &err)) goto done;
    double *P = malloc(te->n * 4 * sizeof *P);
    if (!at_cnn_predict_images(net, te, 0, P, 2, &err)) {
        size_t ok = 0;
        for (size_t i = 0; i < te->n; i++) {
            size_t b = 0;
            for (size_t c = 1; c < 4; c++)
                if (P[i * 4 + c] > P[i * 4 + b]) b = c;
            ok += (int32_t)b == te->y[i];
        }
        acc = (double)ok / (double)te->n;
    }
    free(P);
done:
    if (acc < 0) fprintf(stderr, "  %s: %s\n", device, err.msg);
    at_cnn_free(net);
    at_cnn_spec_free(spec);
    return acc;
}

static void test_training_run(void) {
    NEED_GPU();
    at_images *tr = synth(384, 1), *te = synth(256, 2);
    double a_cpu = train_acc("cpu", tr, te), a_gpu = train_acc(train_device, tr, te);
    printf("  short training run: test accuracy cpu %.4f, gpu %.4f\n", a_cpu, a_gpu);
    CHECK(a_cpu > 0.8 && a_gpu > 0.8);
    CHECK(fabs(a_cpu - a_gpu) <= 0.1);
    free_images(tr), free_images(te);
}

int main(void) {
    at_error err = {0};
    char why[256] = "";
    int count = nn_cuda_device_count(why, sizeof why);
    const char *pre = getenv("AT_TEST_PRETEND_GPU");
    if (pre && *pre == '1') {
        pretend = *nn_backend_cpu();
        pretend.name = "pretend GPU (the CPU's kernels)";
        pretend.on_device = 1;
        gpu = &pretend, train_device = "cpu";
        printf("GPU: %s: AT_TEST_PRETEND_GPU=1 checks this program, not the GPU\n", gpu->name);
    } else if (count <= 0) {
        snprintf(no_gpu, sizeof no_gpu, "no CUDA GPU");
        printf("SKIP: no CUDA GPU (%s): the GPU checks of issue 17 did not run\n", why);
    } else if (nn_device_open("cuda", 0, &gpu, &err)) {
        snprintf(no_gpu, sizeof no_gpu, "the GPU could not be opened: %.250s", err.msg);
        printf("FAIL: %s\n", no_gpu);
        gpu = NULL;
        harness_failed_++;
    } else {
        printf("GPU: %s\n", gpu->name);
    }
    RUN(test_gemm);
    RUN(test_im2col);
    RUN(test_activations);
    RUN(test_batch_norm);
    RUN(test_pooling);
    RUN(test_small_ops);
    RUN(test_update);
    RUN(test_conv);
    RUN(test_network_layers);
    RUN(test_training_run);
    if (gpu != &pretend) nn_device_close(gpu);
    return harness_done();
}
