/* test_optim_ref.c - the network engine's optimiser and learning-rate schedules, as the CNN
 * and the MLP set them up, and the MLP's forward pass on the engine against textbook formulas written out here in double precision, so
 * that a wrong number (a missing bias correction, decay through the gradient instead of
 * decoupled, Nesterov computed as plain momentum, decay on biases) fails a test.
 *
 * The reference conventions are PyTorch's (torch.optim.SGD, Adam, AdamW):
 *   SGD:      g' = g + wd*w;  v = mu*v + g';  w -= lr * (nesterov ? g' + mu*v : v)
 *   Adam:     g' = g + wd*w;  m = b1*m + (1-b1)*g';  v = b2*v + (1-b2)*g'^2;
 *             w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
 *   AdamW:    w -= lr*wd*w (decoupled, with the step's lr); then Adam on the raw g
 * Weight decay applies to weights only: never to biases or batch-norm gamma/beta. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/cnn.h"
#include "astrotrain/dataset.h"
#include "astrotrain/mlp.h"
#include "astrotrain/rng.h"
#include "harness.h"
#include "models/cnn/cnn_internal.h"
#include "models/mlp_internal.h"

enum { REF_SGD, REF_ADAM, REF_ADAMW };

typedef struct ref_opt {
    int kind, nesterov;
    double mu, wd, b1, b2, eps;
} ref_opt;

/* One textbook step of one parameter; t is the 1-based step count, decayed says whether
 * the parameter is a weight (weight decay applies) or a bias / batch-norm parameter. */
static void ref_step(const ref_opt *o, double *w, double *m, double *v, double g, int t, double lr, int decayed) {
    double wd = decayed ? o->wd : 0.0;
    if (o->kind == REF_SGD) {
        double gd = g + wd * *w;
        *m = o->mu * *m + gd;
        if (o->nesterov)
            *w = *w - lr * (gd + o->mu * *m);
        else
            *w = *w - lr * *m;
        return;
    }
    double gd = g;
    if (o->kind == REF_ADAM) gd = g + wd * *w; /* Adam: L2 through the gradient */
    else *w = *w - lr * wd * *w;              /* AdamW: decoupled decay first */
    *m = o->b1 * *m + (1.0 - o->b1) * gd;
    *v = o->b2 * *v + (1.0 - o->b2) * gd * gd;
    double mhat = *m / (1.0 - pow(o->b1, t));
    double vhat = *v / (1.0 - pow(o->b2, t));
    *w = *w - lr * mhat / (sqrt(vhat) + o->eps);
}

/* A known gradient for parameter i at step t (and shard s): signs and magnitudes vary,
 * some entries tiny so that Adam's eps matters. */
static double grad_of(size_t i, int t, int s) {
    static const double scale[5] = {1.0, 1e-2, 1e-4, 1e-6, 1e-8};
    double g = 0.4 * sin(1.7 * (double)i + 0.9 * t + 0.3 * s) + 0.1 * cos(0.37 * (double)i * (t + 1));
    return g * scale[(i / 3) % 5];
}

static double param0(size_t i) { return 0.8 * sin(0.61 * (double)i + 0.2) + 0.05; }

static double tol_of(double x) { return 3e-6 + 2e-5 * fabs(x); }

/* ---- CNN optimiser ------------------------------------------------------------------------ */

/* conv(bn) 1x1: W[0,2) gamma[2,4) beta[4,6); conv 1x1 (bias): W[6,10) b[10,12);
 * dense 8->2: W[12,28) b[28,30). */
static const char *const CNN_OPT_NET = "[net]\nwidth=2\nheight=2\nchannels=1\n"
                                       "[conv]\nfilters=2\nsize=1\npad=0\nbatch_normalize=1\nactivation=linear\n"
                                       "[conv]\nfilters=2\nsize=1\npad=0\nactivation=linear\n"
                                       "[dense]\nunits=2\n[softmax]\n";

static int cnn_is_weight(size_t i) { return i < 2 || (i >= 6 && i < 10) || (i >= 12 && i < 28); }

static at_cnn *cnn_make(const char *text, size_t k) {
    at_error err = {0};
    at_cnn_spec *spec = NULL;
    at_cnn *net = NULL;
    CHECK_OK(at_cnn_spec_parse_text(text, "test", &spec, &err), &err);
    if (!spec) return NULL;
    CHECK_OK(at_cnn_new(spec, k, 1, &net, &err), &err);
    at_cnn_spec_free(spec);
    return net;
}

/* Runs `steps` updates of the CNN optimiser with known gradients and a varying learning
 * rate, checking every parameter after every step against ref_step. */
static void cnn_opt_case(const char *name, int optimizer, const ref_opt *ro, int steps) {
    at_cnn *net = cnn_make(CNN_OPT_NET, 2);
    if (!net) return;
    CHECK(net->nn.np == 30);
    CHECK(net->nn.L[0].w_off == 0 && net->nn.L[0].w_n == 2 && net->nn.L[0].g_off == 2 && net->nn.L[0].b_off == 4);
    CHECK(net->nn.L[1].w_off == 6 && net->nn.L[1].w_n == 4 && net->nn.L[1].b_off == 10);
    CHECK(net->nn.L[2].w_off == 12 && net->nn.L[2].w_n == 16 && net->nn.L[2].b_off == 28);
    if (net->nn.np != 30) {
        at_cnn_free(net);
        return;
    }
    at_cnn_params *p = &net->spec->p;
    p->optimizer = optimizer;
    p->momentum = ro->mu;
    p->nesterov = ro->nesterov;
    p->weight_decay = ro->wd;
    p->beta1 = ro->b1, p->beta2 = ro->b2, p->eps = ro->eps;
    double w[30], m[30] = {0}, v[30] = {0};
    for (size_t i = 0; i < 30; i++) w[i] = param0(i), net->nn.params[i] = (float)w[i];
    nn_optim o;
    at_error err = {0};
    CHECK_OK(nn_optim_init(&net->nn, &o, &err), &err);
    int bad = 0;
    for (int t = 1; t <= steps; t++) {
        double lr = 0.05 * (1.0 + 0.5 * t); /* the step's lr changes: AdamW's decay must use it */
        for (size_t i = 0; i < 30; i++) {
            double g = grad_of(i, t, 0);
            net->nn.grads[i] = (float)g;
            ref_step(ro, &w[i], &m[i], &v[i], (double)(float)g, t, lr, cnn_is_weight(i));
        }
        {
            nn_opt_conf oc = cnn_opt_conf(p);
            nn_optim_step(&net->nn, &oc, &o, net->nn.grads, lr);
        }
        for (size_t i = 0; i < 30; i++)
            if (!(fabs(net->nn.params[i] - w[i]) <= tol_of(w[i]))) {
                if (bad++ < 4)
                    fprintf(stderr, "  cnn %s step %d param %zu: %.9g, expected %.9g\n", name, t, i,
                            (double)net->nn.params[i], w[i]);
            }
    }
    CHECK(bad == 0);
    nn_optim_free(&o);
    at_cnn_free(net);
}

static void test_cnn_sgd(void) {
    ref_opt o = {.kind = REF_SGD, .mu = 0.0};
    cnn_opt_case("sgd", AT_OPT_SGD, &o, 3);
    o.wd = 0.1;
    cnn_opt_case("sgd+wd", AT_OPT_SGD, &o, 3);
}

static void test_cnn_momentum(void) {
    ref_opt o = {.kind = REF_SGD, .mu = 0.9, .wd = 0.05};
    cnn_opt_case("momentum", AT_OPT_SGD, &o, 3);
}

static void test_cnn_nesterov(void) {
    ref_opt o = {.kind = REF_SGD, .mu = 0.9, .nesterov = 1, .wd = 0.05};
    cnn_opt_case("nesterov", AT_OPT_SGD, &o, 3);
}

static void test_cnn_adam(void) {
    ref_opt o = {.kind = REF_ADAM, .b1 = 0.9, .b2 = 0.999, .eps = 1e-8};
    cnn_opt_case("adam", AT_OPT_ADAM, &o, 3);
    /* a large eps: its place (outside the bias-corrected square root) shows */
    o.eps = 1e-3, o.b1 = 0.8, o.b2 = 0.99, o.wd = 0.1;
    cnn_opt_case("adam eps+l2", AT_OPT_ADAM, &o, 3);
}

static void test_cnn_adamw(void) {
    ref_opt o = {.kind = REF_ADAMW, .b1 = 0.9, .b2 = 0.999, .eps = 1e-8, .wd = 0.2};
    cnn_opt_case("adamw", AT_OPT_ADAMW, &o, 3);
    o.eps = 1e-3, o.b1 = 0.8, o.b2 = 0.99;
    cnn_opt_case("adamw eps", AT_OPT_ADAMW, &o, 2);
}

/* The CNN's schedule, per optimisation step s (0-based) with S steps per epoch
 * (documented: warm-up = "epochs of linear warm-up from 0 (fractions allowed)"):
 *   warm-up (s/S < W):  lr * min(1, (s + 1) / (W * S))
 *   step:               lr * gamma^floor((s/S) / step_size)
 *   cosine:             lr * (1 + cos(pi * min(1, (s/S - W) / (epochs - W)))) / 2 */
static void test_cnn_schedule(void) {
    at_cnn_spec *spec = NULL;
    at_error err = {0};
    CHECK_OK(at_cnn_spec_parse_text(CNN_OPT_NET, "test", &spec, &err), &err);
    if (!spec) return;
    at_cnn_params p = *at_cnn_spec_params(spec);
    at_cnn_spec_free(spec);
    const size_t S = 10;
    p.learning_rate = 0.02;
    p.epochs = 10;
    p.warmup = 1.5;
    p.schedule = AT_LR_CONSTANT;
    const int64_t steps[] = {0, 1, 7, 14, 15, 16, 40, 99};
    for (size_t j = 0; j < sizeof steps / sizeof *steps; j++) {
        int64_t s = steps[j];
        double e = (double)s / S, want;
        if (e < p.warmup) want = 0.02 * fmin(1.0, (double)(s + 1) / (p.warmup * S));
        else want = 0.02;
        CHECK_NEAR(cnn_learning_rate(&p, s, S), want, 1e-12);
    }
    CHECK_NEAR(cnn_learning_rate(&p, 0, S), 0.02 / 15, 1e-12);
    CHECK_NEAR(cnn_learning_rate(&p, 7, S), 0.02 * 8 / 15, 1e-12);
    p.schedule = AT_LR_COSINE;
    for (size_t j = 0; j < sizeof steps / sizeof *steps; j++) {
        int64_t s = steps[j];
        double e = (double)s / S, want;
        if (e < p.warmup) want = 0.02 * fmin(1.0, (double)(s + 1) / (p.warmup * S));
        else want = 0.02 * 0.5 * (1.0 + cos(M_PI * fmin(1.0, (e - p.warmup) / (10 - p.warmup))));
        CHECK_NEAR(cnn_learning_rate(&p, s, S), want, 1e-12);
    }
    CHECK_NEAR(cnn_learning_rate(&p, 100, S), 0.0, 1e-12); /* the end of the cosine */
    p.warmup = 0;
    p.schedule = AT_LR_STEP;
    p.step_size = 3;
    p.gamma = 0.5;
    for (int64_t s = 0; s < 100; s += 7) {
        double want = 0.02 * pow(0.5, floor(((double)s / S) / 3.0));
        CHECK_NEAR(cnn_learning_rate(&p, s, S), want, 1e-12);
    }
}

/* ---- MLP optimiser ------------------------------------------------------------------------ */

#define MLP_SHARDS 3

/* The MLP's step: its shards' gradients summed in shard order (mlp_sum_grads), then the
 * engine's optimiser over the MLP's layout (all weights first, then biases: 4x60 + 60x12
 * weights, 72 biases, more than one of the update's 512-parameter blocks). */
static void mlp_opt_case(const char *name, const at_mlp_params *mp, const ref_opt *ro, int steps) {
    mlp_net shape = {.n_layers = 2, .sizes = {4, 60, 12}, .activation = AT_MLP_RELU};
    CHECK(mlp_net_layout(&shape));
    const size_t NP = shape.n_params, NW = shape.n_weights;
    CHECK(NP == 1032 && NW == 960);
    float *params = malloc(NP * sizeof *params), *gsum = malloc(NP * sizeof *gsum), *gs[MLP_SHARDS];
    double *w = malloc(NP * sizeof *w), *m = calloc(NP, sizeof *m), *v = calloc(NP, sizeof *v);
    for (int s = 0; s < MLP_SHARDS; s++) gs[s] = malloc(NP * sizeof(float));
    for (size_t i = 0; i < NP; i++) w[i] = param0(i), params[i] = (float)w[i];
    mlp_engine *eng = malloc(sizeof *eng);
    mlp_engine_build(&shape, 0.0, params, NULL, eng);
    nn_optim o;
    at_error err = {0};
    CHECK_OK(nn_optim_init(&eng->net, &o, &err), &err);
    const nn_opt_conf oc = mlp_opt_conf(mp);
    int bad = 0;
    for (int t = 1; t <= steps; t++) {
        double lr = 0.01 * (1.0 + 0.5 * t);
        for (size_t i = 0; i < NP; i++) {
            double g = 0;
            for (int s = 0; s < MLP_SHARDS; s++) {
                gs[s][i] = (float)grad_of(i, t, s);
                g += gs[s][i];
            }
            ref_step(ro, &w[i], &m[i], &v[i], g, t, lr, i < NW);
        }
        mlp_sum_grads(gsum, gs, MLP_SHARDS, NP);
        nn_optim_step(&eng->net, &oc, &o, gsum, lr);
        for (size_t i = 0; i < NP; i++)
            if (!(fabs(params[i] - w[i]) <= tol_of(w[i]))) {
                if (bad++ < 4)
                    fprintf(stderr, "  mlp %s step %d param %zu: %.9g, expected %.9g\n", name, t, i,
                            (double)params[i], w[i]);
            }
    }
    CHECK(bad == 0);
    nn_optim_free(&o);
    for (int s = 0; s < MLP_SHARDS; s++) free(gs[s]);
    free(params), free(gsum), free(w), free(m), free(v), free(eng);
}

static at_mlp_params mlp_opt_params(int optimizer, double mu, int nesterov, double wd) {
    at_mlp_params p;
    at_mlp_params_default(&p);
    p.optimizer = optimizer, p.momentum = mu, p.nesterov = nesterov, p.weight_decay = wd;
    return p;
}

static void test_mlp_sgd(void) {
    at_mlp_params lo = mlp_opt_params(AT_MLP_SGD, 0.0, 0, 0.0);
    ref_opt ro = {.kind = REF_SGD, .mu = 0.0};
    mlp_opt_case("sgd", &lo, &ro, 3);
    lo.weight_decay = 0.1, ro.wd = (double)0.1f;
    mlp_opt_case("sgd+wd", &lo, &ro, 3);
}

static void test_mlp_momentum(void) {
    at_mlp_params lo = mlp_opt_params(AT_MLP_SGD, 0.9, 0, 0.05);
    ref_opt ro = {.kind = REF_SGD, .mu = (double)0.9f, .wd = (double)0.05f};
    mlp_opt_case("momentum", &lo, &ro, 3);
}

static void test_mlp_nesterov(void) {
    at_mlp_params lo = mlp_opt_params(AT_MLP_SGD, 0.9, 1, 0.05);
    ref_opt ro = {.kind = REF_SGD, .nesterov = 1, .mu = (double)0.9f, .wd = (double)0.05f};
    mlp_opt_case("nesterov", &lo, &ro, 3);
}

/* The MLP's Adam has a fixed eps of 1e-8 and L2 decay through the gradient (its [model]
 * has no AdamW); the tiny gradients of grad_of make the eps visible on the biases. */
static void test_mlp_adam(void) {
    at_mlp_params lo = mlp_opt_params(AT_MLP_ADAM, 0.9, 0, 0.0);
    lo.beta1 = 0.9, lo.beta2 = 0.999;
    ref_opt ro = {.kind = REF_ADAM, .b1 = (double)0.9f, .b2 = (double)0.999f, .eps = 1e-8};
    mlp_opt_case("adam", &lo, &ro, 3);
    lo.weight_decay = 0.1, lo.beta1 = 0.8, lo.beta2 = 0.99;
    ro.wd = (double)0.1f, ro.b1 = (double)0.8f, ro.b2 = (double)0.99f;
    mlp_opt_case("adam+l2", &lo, &ro, 3);
}

/* The MLP's schedule is the engine's (include/astrotrain/nn.h; it was per epoch before the
 * engine, with its own warm-up): at step s of S per epoch, e = s / S,
 *   warm-up (e < W):  lr * min(1, (s + 1) / (W * S))
 *   step: lr * gamma^floor(e / step_size);  cosine: lr * (1 + cos(pi * min(1, (e - W) / (epochs - W)))) / 2 */
static void test_mlp_schedule(void) {
    at_mlp_params p;
    at_mlp_params_default(&p);
    p.learning_rate = 0.03;
    p.epochs = 20;
    p.warmup = 4;
    const size_t S = 7;
    for (int sch = AT_MLP_SCHEDULE_CONSTANT; sch <= AT_MLP_SCHEDULE_COSINE; sch++) {
        p.schedule = sch;
        p.step_size = 3;
        p.gamma = 0.5;
        nn_schedule ns = mlp_schedule(&p);
        for (int64_t s = 0; s < 20 * (int64_t)S; s += 3) {
            double e = (double)s / S, want;
            if (e < 4) {
                want = 0.03 * fmin(1.0, (double)(s + 1) / (4.0 * S));
            } else {
                if (sch == AT_MLP_SCHEDULE_CONSTANT) want = 0.03;
                else if (sch == AT_MLP_SCHEDULE_STEP) want = 0.03 * pow(0.5, floor(e / 3.0));
                else want = 0.03 * 0.5 * (1.0 + cos(M_PI * fmin(1.0, (e - 4.0) / 16.0)));
            }
            CHECK_NEAR(nn_learning_rate(&ns, s, S), want, 1e-12);
        }
    }
    nn_schedule ns = mlp_schedule(&p);
    CHECK_NEAR(nn_learning_rate(&ns, 0, S), 0.03 / 28, 1e-12); /* warm-up starts above zero */
}

/* ---- MLP forward pass --------------------------------------------------------------------- */

static double act_ref(int act, double z) {
    switch (act) {
    case AT_MLP_RELU: return z > 0 ? z : 0;
    case AT_MLP_LEAKY_RELU: return z > 0 ? z : 0.01 * z;
    case AT_MLP_TANH: return tanh(z);
    default: return 1.0 / (1.0 + exp(-z));
    }
}

/* One dense layer by hand: out[r][j] = sum_i in[r][i] W[i][j] + b[j] (W fan_in x fan_out,
 * row-major), then the activation, or a softmax for the output layer (act < 0). */
static void dense_ref(const double *in, size_t rows, size_t fi, size_t fo, const float *W, const float *b, int act,
                      double *out) {
    for (size_t r = 0; r < rows; r++) {
        for (size_t j = 0; j < fo; j++) {
            double z = b[j];
            for (size_t i = 0; i < fi; i++) z += in[r * fi + i] * (double)W[i * fo + j];
            out[r * fo + j] = act >= 0 ? act_ref(act, z) : z;
        }
        if (act < 0) {
            double mx = out[r * fo], sum = 0;
            for (size_t j = 1; j < fo; j++) mx = fmax(mx, out[r * fo + j]);
            for (size_t j = 0; j < fo; j++) sum += exp(out[r * fo + j] - mx);
            for (size_t j = 0; j < fo; j++) out[r * fo + j] = exp(out[r * fo + j] - mx) / sum;
        }
    }
}

/* The MLP on the engine: dense(act) [dropout] dense(act) [dropout] dense, softmax. */
static void test_mlp_forward(void) {
    enum { ROWS = 64 };
    for (int act = AT_MLP_RELU; act <= AT_MLP_SIGMOID; act++) {
        mlp_net shape = {.n_layers = 3, .sizes = {3, 5, 4, 3}, .activation = act};
        CHECK(mlp_net_layout(&shape));
        float *params = malloc(shape.n_params * sizeof *params);
        at_rng r;
        at_rng_init(&r, 11, (uint64_t)act);
        for (size_t i = 0; i < shape.n_params; i++) params[i] = (float)(0.9 * at_rng_normal(&r));
        mlp_engine *eng = malloc(sizeof *eng), *engd = malloc(sizeof *engd);
        mlp_engine_build(&shape, 0.0, params, NULL, eng);
        mlp_engine_build(&shape, 0.25, params, NULL, engd);
        CHECK(eng->net.nl == 4 && engd->net.nl == 6);
        nn_work *w = NULL, *wd = NULL;
        at_error err = {0};
        CHECK_OK(nn_work_new(&eng->net, ROWS, 1, 0, &w, &err), &err);
        CHECK_OK(nn_work_new(&engd->net, ROWS, 1, 1, &wd, &err), &err);
        if (!w || !wd) return;
        double x[ROWS * 3], h1[ROWS * 5], h2[ROWS * 4], P[ROWS * 3];
        float xf[ROWS * 3];
        for (size_t i = 0; i < ROWS * 3; i++) x[i] = 2.0 * at_rng_normal(&r), xf[i] = (float)x[i];
        /* prediction: no dropout layer */
        nn_forward(&eng->net, w, xf, ROWS);
        dense_ref(x, ROWS, 3, 5, params + shape.w_off[0], params + shape.b_off[0], act, h1);
        dense_ref(h1, ROWS, 5, 4, params + shape.w_off[1], params + shape.b_off[1], act, h2);
        dense_ref(h2, ROWS, 4, 3, params + shape.w_off[2], params + shape.b_off[2], -1, P);
        /* inference reuses two alternating buffers: check the output, then the layers one by one */
        for (size_t i = 0; i < ROWS * 3; i++) CHECK_NEAR(w->out[3][i], P[i], 2e-6);
        for (size_t r0 = 0; r0 < ROWS; r0++)
            CHECK_NEAR(w->out[3][r0 * 3] + w->out[3][r0 * 3 + 1] + w->out[3][r0 * 3 + 2], 1.0, 1e-6);
        nn_layer_forward(&eng->net, 0, w, xf, ROWS);
        for (size_t i = 0; i < ROWS * 5; i++) CHECK_NEAR(w->out[0][i], h1[i], 1e-5 + 1e-5 * fabs(h1[i]));
        nn_layer_forward(&eng->net, 1, w, w->out[0], ROWS);
        for (size_t i = 0; i < ROWS * 4; i++) CHECK_NEAR(w->out[1][i], h2[i], 1e-5 + 1e-5 * fabs(h2[i]));

        /* softmax cross-entropy: loss = sum sw * -log p_y; d(loss/norm)/dz = sw/norm*(p - onehot) */
        nn_forward(&engd->net, wd, xf, ROWS); /* with dropout; only its output P' matters here */
        const float *Pd = wd->out[5];
        double loss_ref = 0;
        size_t correct_ref = 0;
        int32_t y[ROWS];
        float sw[ROWS];
        for (size_t i = 0; i < ROWS; i++) {
            y[i] = (int32_t)(i % 3);
            sw[i] = 0.5f + 0.25f * (float)(i % 4);
            loss_ref -= (double)sw[i] * log(Pd[i * 3 + (size_t)y[i]]);
            size_t best = 0;
            for (size_t j = 1; j < 3; j++)
                if (Pd[i * 3 + j] > Pd[i * 3 + best]) best = j;
            correct_ref += best == (size_t)y[i];
        }
        size_t correct = 0;
        double loss = nn_xent(&engd->net, wd, y, sw, NULL, ROWS, 4.0, &correct);
        CHECK_NEAR(loss, loss_ref, 1e-5 * fabs(loss_ref));
        CHECK(correct == correct_ref);
        for (size_t i = 0; i < ROWS; i++)
            for (size_t j = 0; j < 3; j++) {
                double want = 0.25 * sw[i] * (Pd[i * 3 + j] - (j == (size_t)y[i]));
                CHECK_NEAR(wd->delta[4][i * 3 + j], want, 1e-6);
            }

        /* training with inverted dropout: each hidden unit is 0 or its undropped value / (1 - rate),
         * given the (dropped) layer below */
        double in1[ROWS * 5], ref2[ROWS * 4];
        size_t zeros = 0;
        for (size_t i = 0; i < ROWS * 5; i++) {
            CHECK_NEAR(wd->out[0][i], h1[i], 1e-5 + 1e-5 * fabs(h1[i])); /* dense: undropped */
            double a = wd->out[1][i];
            CHECK(a == 0.0 || fabs(a - h1[i] / 0.75) <= 1e-5 + 1e-5 * fabs(h1[i]));
            CHECK(wd->mask[1][i] == 0.0f || fabs(wd->mask[1][i] - 1.0 / 0.75) < 1e-6);
            zeros += wd->mask[1][i] == 0.0f;
            in1[i] = a;
        }
        CHECK(zeros > ROWS * 5 / 8 && zeros < ROWS * 5 * 3 / 8); /* about a quarter dropped */
        dense_ref(in1, ROWS, 5, 4, params + shape.w_off[1], params + shape.b_off[1], act, ref2);
        for (size_t i = 0; i < ROWS * 4; i++) {
            double a = wd->out[3][i];
            CHECK(a == 0.0 || fabs(a - ref2[i] / 0.75) <= 1e-5 + 1e-5 * fabs(ref2[i]));
        }
        nn_work_free(w);
        nn_work_free(wd);
        free(eng), free(engd);
        free(params);
    }
}

/* A fitted MLP with dropout predicts with the plain forward pass (no dropout, no rescaling):
 * predict_proba equals the hand forward pass over at_mlp_get_parameters. */
static void test_mlp_predict_is_eval_forward(void) {
    static const char *const feat[] = {"a", "b"};
    static const char *const cls[] = {"x", "y", "z"};
    enum { N = 90 };
    at_dataset *ds = NULL;
    at_error err = {0};
    CHECK_OK(at_dataset_new(N, 2, 1, feat, cls, 3, &ds, &err), &err);
    if (!ds) return;
    at_rng r;
    at_rng_init(&r, 2, 0);
    for (size_t i = 0; i < N; i++) {
        ds->X[2 * i] = at_rng_normal(&r), ds->X[2 * i + 1] = at_rng_normal(&r);
        ds->y[i] = ds->X[2 * i] > 0.5 ? 2 : ds->X[2 * i + 1] > 0 ? 1 : 0;
        ds->row[i] = (int64_t)i;
    }
    at_mlp_params p;
    at_mlp_params_default(&p);
    strcpy(p.hidden, "6, 5");
    p.activation = AT_MLP_TANH;
    p.dropout = 0.4;
    p.epochs = 3;
    p.batch_size = 16;
    p.learning_rate = 0.05;
    at_model *m = NULL;
    CHECK_OK(at_mlp_new(&p, 2, 3, &m, &err), &err);
    at_fit_input in = {.train = ds, .threads = 1, .seed = 3};
    CHECK_OK(at_model_fit(m, &in, &err), &err);
    size_t np = at_mlp_n_parameters(m);
    CHECK(np == 2 * 6 + 6 * 5 + 5 * 3 + 6 + 5 + 3);
    float *w = malloc(np * sizeof *w);
    at_mlp_get_parameters(m, w);
    double *P = malloc(N * 3 * sizeof *P), h1[N * 6], h2[N * 5], Q[N * 3];
    CHECK_OK(at_model_predict_proba(m, ds->X, N, P, 1, &err), &err);
    /* weights layer after layer, then the biases */
    const float *W0 = w, *W1 = W0 + 12, *W2 = W1 + 30, *b0 = W2 + 15, *b1 = b0 + 6, *b2 = b1 + 5;
    dense_ref(ds->X, N, 2, 6, W0, b0, AT_MLP_TANH, h1);
    dense_ref(h1, N, 6, 5, W1, b1, AT_MLP_TANH, h2);
    dense_ref(h2, N, 5, 3, W2, b2, -1, Q);
    for (size_t i = 0; i < N * 3; i++) CHECK_NEAR(P[i], Q[i], 3e-6);
    free(P), free(w);
    at_model_free(m);
    at_dataset_free(ds);
}

int main(void) {
    RUN(test_cnn_sgd);
    RUN(test_cnn_momentum);
    RUN(test_cnn_nesterov);
    RUN(test_cnn_adam);
    RUN(test_cnn_adamw);
    RUN(test_cnn_schedule);
    RUN(test_mlp_sgd);
    RUN(test_mlp_momentum);
    RUN(test_mlp_nesterov);
    RUN(test_mlp_adam);
    RUN(test_mlp_schedule);
    RUN(test_mlp_forward);
    RUN(test_mlp_predict_is_eval_forward);
    return harness_done();
}
