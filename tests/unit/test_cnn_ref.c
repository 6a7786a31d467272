/* test_cnn_ref.c - the CNN's batch normalisation and test-time augmentation against
 * textbook formulas computed here in double precision:
 *   - training mode: y = gamma * (z - mean_B) / sqrt(var_B + eps) + beta with the batch's
 *     biased variance, and running statistics as an exponential moving average
 *       running_mean = (1 - 0.1) * running_mean + 0.1 * mean_B
 *       running_var  = (1 - 0.1) * running_var  + 0.1 * var_B * M / (M - 1)
 *     (momentum 0.1 and the UNBIASED batch variance for running_var, M = values per
 *     channel = images x height x width: PyTorch's BatchNorm2d convention, which the
 *     library follows; running statistics start at mean 0, variance 1);
 *   - eval mode: y = gamma * (z - running_mean) / sqrt(running_var + eps) + beta, eps 1e-5;
 *   - tta: the mean of the 8 predictions on the D4 images (4 rotations, each also
 *     mirrored), the transformed images built here, not by the library. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/cnn.h"
#include "astrotrain/images.h"
#include "astrotrain/rng.h"
#include "cnn_util.h"
#include "harness.h"
#include "models/cnn/cnn_internal.h"

#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1


static double leaky(double v) { return v > 0 ? v : 0.1 * v; }

/* ---- batch normalisation ------------------------------------------------------------------ */

/* 3x2 images, 2 channels; a 1x1 conv (2 -> 2 channels, no bias) with batch norm and a leaky
 * activation, then a dense layer. Parameters: conv W (K=2 rows x C=2, row-major) [0,4),
 * gamma [4,6), beta [6,8); dense W (12 x 2) [8,32), bias [32,34). Stats: mean [0,2), var [2,4). */
static const char *const BN_NET = "[net]\nwidth=3\nheight=2\nchannels=2\n"
                                  "[conv]\nfilters=2\nsize=1\npad=0\nbatch_normalize=1\nactivation=leaky\n"
                                  "[dense]\nunits=2\n[softmax]\n";
enum { BN_PIX = 6, BN_IN = 2, BN_C = 2 };

/* z = x W for every pixel (the conv before normalisation), by hand. */
static void conv1x1_ref(const float *W, const float *x, size_t n, double *z) {
    for (size_t p = 0; p < n * BN_PIX; p++)
        for (size_t c = 0; c < BN_C; c++) {
            double s = 0;
            for (size_t k = 0; k < BN_IN; k++) s += (double)x[p * BN_IN + k] * W[k * BN_C + c];
            z[p * BN_C + c] = s;
        }
}

static void bn_eval_ref(const at_cnn *net, const float *x, size_t n, double *y) {
    const float *P = net->nn.params, *rm = net->nn.stats, *rv = net->nn.stats + BN_C;
    double z[16 * BN_PIX * BN_C];
    conv1x1_ref(P, x, n, z);
    for (size_t p = 0; p < n * BN_PIX; p++)
        for (size_t c = 0; c < BN_C; c++)
            y[p * BN_C + c] = leaky(P[4 + c] * (z[p * BN_C + c] - rm[c]) / sqrt((double)rv[c] + BN_EPS) + P[6 + c]);
}

static void test_bn_running_stats(void) {
    at_cnn *net = make_net(BN_NET, 2, 3);
    if (!net) return;
    CHECK(net->nn.np == 34 && net->nn.ns == 4 && net->nn.L[0].g_off == 4 && net->nn.L[0].b_off == 6 && net->nn.L[1].w_off == 8);
    float *P = net->nn.params;
    const float W[4] = {0.9f, -0.4f, 0.35f, 1.3f}, gamma[2] = {1.5f, 0.7f}, beta[2] = {0.2f, -0.3f};
    memcpy(P, W, sizeof W);
    memcpy(P + 4, gamma, sizeof gamma);
    memcpy(P + 6, beta, sizeof beta);
    CHECK(net->nn.stats[0] == 0.0f && net->nn.stats[1] == 0.0f && net->nn.stats[2] == 1.0f && net->nn.stats[3] == 1.0f);
    at_error err = {0};
    cnn_work *w = NULL;
    CHECK_OK(nn_work_new(&net->nn, 16, 2, 1, &w, &err), &err);
    if (!w) {
        at_cnn_free(net);
        return;
    }
    at_rng r;
    at_rng_init(&r, 9, 0);
    double rm[2] = {0, 0}, rv[2] = {1, 1}; /* the reference running statistics */
    const size_t batches[4] = {4, 2, 7, 3};
    float x[16 * BN_PIX * BN_IN];
    double z[16 * BN_PIX * BN_C];
    for (int b = 0; b < 4; b++) {
        size_t n = batches[b], M = n * BN_PIX;
        /* channel offsets and scales far from (0, 1) so that a stale statistic shows */
        for (size_t i = 0; i < M * BN_IN; i++) x[i] = (float)(2.5 * at_rng_normal(&r) + (i % 2 ? 1.0 : -0.5) + 0.3 * b);
        nn_forward(&net->nn, w, x, n);
        conv1x1_ref(W, x, n, z);
        for (size_t c = 0; c < BN_C; c++) {
            double mean = 0, ss = 0;
            for (size_t p = 0; p < M; p++) mean += z[p * BN_C + c];
            mean /= (double)M;
            for (size_t p = 0; p < M; p++) ss += (z[p * BN_C + c] - mean) * (z[p * BN_C + c] - mean);
            double var_biased = ss / (double)M, var_unbiased = ss / (double)(M - 1);
            rm[c] = (1 - BN_MOMENTUM) * rm[c] + BN_MOMENTUM * mean;
            rv[c] = (1 - BN_MOMENTUM) * rv[c] + BN_MOMENTUM * var_unbiased;
            /* the training output normalises with the batch's biased variance */
            for (size_t p = 0; p < M; p++) {
                double y = leaky(gamma[c] * (z[p * BN_C + c] - mean) / sqrt(var_biased + BN_EPS) + beta[c]);
                CHECK_NEAR(w->out[0][p * BN_C + c], y, 1e-5 + 1e-5 * fabs(y));
            }
            CHECK_NEAR(net->nn.stats[c], rm[c], 1e-5 + 1e-5 * fabs(rm[c]));
            CHECK_NEAR(net->nn.stats[BN_C + c], rv[c], 1e-5 * rv[c]);
        }
    }
    /* the running variance moved well away from its start (a frozen one would fail above) */
    CHECK(fabs(rv[0] - 1) > 0.5 && fabs(rv[1] - 1) > 0.5);
    nn_work_free(w);

    /* eval mode uses the running statistics, not the batch's: first those just learned,
     * then a tiny variance where the place of eps (inside the square root) matters */
    double y[16 * BN_PIX * BN_C];
    const size_t n = 5;
    for (size_t i = 0; i < n * BN_PIX * BN_IN; i++) x[i] = (float)(1.5 * at_rng_normal(&r) + 0.4);
    for (int round = 0; round < 2; round++) {
        if (round == 1) {
            net->nn.stats[0] = 0.7f, net->nn.stats[1] = -0.25f;
            net->nn.stats[2] = 2.5e-5f, net->nn.stats[3] = 0.3f;
        }
        cnn_work *we = NULL;
        CHECK_OK(nn_work_new(&net->nn, n, 1, 0, &we, &err), &err);
        if (!we) break;
        float keep[4];
        memcpy(keep, net->nn.stats, sizeof keep);
        nn_layer_forward(&net->nn, 0, we, x, n);
        bn_eval_ref(net, x, n, y);
        for (size_t i = 0; i < n * BN_PIX * BN_C; i++) CHECK_NEAR(we->out[0][i], y[i], 1e-5 + 2e-5 * fabs(y[i]));
        CHECK(memcmp(keep, net->nn.stats, sizeof keep) == 0); /* eval leaves the statistics alone */
        nn_work_free(we);

        /* the whole network in eval mode: dense (12 x 2, row-major) and softmax by hand */
        float Pr[5 * 2];
        CHECK_OK(at_cnn_forward(net, x, n, Pr, 1, &err), &err);
        for (size_t i = 0; i < n; i++) {
            double lg[2];
            for (size_t u = 0; u < 2; u++) {
                lg[u] = P[32 + u];
                for (size_t d = 0; d < 12; d++) lg[u] += y[i * 12 + d] * P[8 + d * 2 + u];
            }
            double p1 = 1.0 / (1.0 + exp(lg[0] - lg[1]));
            CHECK_NEAR(Pr[i * 2 + 1], p1, 2e-5);
            CHECK_NEAR(Pr[i * 2], 1 - p1, 2e-5);
        }
        CHECK(memcmp(keep, net->nn.stats, sizeof keep) == 0);
    }
    at_cnn_free(net);
}

/* ---- test-time augmentation --------------------------------------------------------------- */

enum { TS = 5, TC = 3, TN = 3, TK = 3 };

/* out(i, j) = in(j, S-1-i): a quarter turn. */
static void rot90(const uint8_t *in, uint8_t *out) {
    for (size_t i = 0; i < TS; i++)
        for (size_t j = 0; j < TS; j++)
            for (size_t c = 0; c < TC; c++) out[(i * TS + j) * TC + c] = in[(j * TS + (TS - 1 - i)) * TC + c];
}

/* out(i, j) = in(i, S-1-j): a mirror. */
static void mirror(const uint8_t *in, uint8_t *out) {
    for (size_t i = 0; i < TS; i++)
        for (size_t j = 0; j < TS; j++)
            for (size_t c = 0; c < TC; c++) out[(i * TS + j) * TC + c] = in[(i * TS + (TS - 1 - j)) * TC + c];
}

static void test_tta_is_mean_of_d4(void) {
    /* not D4-invariant: the dense layer sees positions; batch norm in eval mode included */
    const char *text = "[net]\nwidth=5\nheight=5\nchannels=3\ninfer_batch=2\n"
                       "[conv]\nfilters=3\nsize=3\nactivation=leaky\n"
                       "[conv]\nfilters=2\nsize=1\npad=0\nbatch_normalize=1\n"
                       "[dense]\nunits=3\n[softmax]\n";
    at_cnn *net = make_net(text, TK, 21);
    if (!net) return;
    at_rng r;
    at_rng_init(&r, 4, 0);
    for (size_t i = 0; i < net->nn.np; i++) net->nn.params[i] += (float)(0.5 * at_rng_normal(&r));
    for (size_t i = 0; i < net->nn.ns; i++) net->nn.stats[i] = (float)(0.5 + 0.3 * at_rng_uniform(&r));
    const float mean[3] = {0.45f, 0.5f, 0.3f}, sd[3] = {0.25f, 0.2f, 0.3f};
    at_cnn_set_standardisation(net, mean, sd);
    at_error err = {0};
    at_images *im = NULL, *tr = NULL;
    CHECK_OK(at_images_new(TN, TS, TS, TC, 0, &im, &err), &err);
    CHECK_OK(at_images_new(TN, TS, TS, TC, 0, &tr, &err), &err);
    if (!im || !tr) {
        at_images_free(im), at_images_free(tr), at_cnn_free(net);
        return;
    }
    const size_t isz = TS * TS * TC;
    for (size_t i = 0; i < TN * isz; i++) im->pixels[i] = (uint8_t)(at_rng_u64(&r) & 0xFF);
    double tta[TN * TK], each[8][TN * TK], mean8[TN * TK] = {0};
    CHECK_OK(at_cnn_predict_images(net, im, 1, tta, 2, &err), &err);
    uint8_t a[TS * TS * TC], b[TS * TS * TC];
    for (int f = 0; f < 2; f++)
        for (int q = 0; q < 4; q++) {
            int e = f * 4 + q;
            for (size_t j = 0; j < TN; j++) {
                memcpy(a, im->pixels + j * isz, isz);
                if (f) mirror(a, b), memcpy(a, b, isz);
                for (int t = 0; t < q; t++) rot90(a, b), memcpy(a, b, isz);
                memcpy(tr->pixels + j * isz, a, isz);
            }
            CHECK_OK(at_cnn_predict_images(net, tr, 0, each[e], 1, &err), &err);
            for (size_t i = 0; i < TN * TK; i++) mean8[i] += each[e][i];
        }
    for (size_t i = 0; i < TN * TK; i++) mean8[i] /= 8.0;
    for (size_t i = 0; i < TN * TK; i++) CHECK_NEAR(tta[i], mean8[i], 1e-6);
    /* the eight passes really differ (so eight identical passes cannot pass the check) */
    double least = INFINITY;
    for (int e1 = 0; e1 < 8; e1++)
        for (int e2 = e1 + 1; e2 < 8; e2++) {
            double d = 0;
            for (size_t i = 0; i < TN * TK; i++) d = fmax(d, fabs(each[e1][i] - each[e2][i]));
            least = fmin(least, d);
        }
    if (!(least > 1e-3)) fprintf(stderr, "  two D4 passes differ by only %g\n", least);
    CHECK(least > 1e-3);
    at_images_free(im), at_images_free(tr);
    at_cnn_free(net);
}

int main(void) {
    RUN(test_bn_running_stats);
    RUN(test_tta_is_mean_of_d4);
    return harness_done();
}
