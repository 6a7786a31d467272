/* layers.c - forward and backward of every layer kind on NHWC float32 batches; every
 * kernel and every touch of a buffer goes through the net's backend (backend.h), so the
 * buffers may live in device memory.
 *
 * Convolution: the backend's conv_forward / conv_backward (the CPU one cuts the batch into
 * groups of whole images, about NN_CHUNK_ROWS output pixels each, im2col + one gemm per
 * group; see backend_cpu.c), then batch norm.
 *
 * Dense: one gemm over the batch, then bias + activation. Dropout: inverted (survivors
 * scaled by 1 / (1 - rate)), so prediction needs no rescaling.
 *
 * Backward functions receive acc: 0 when they are the only writer of the input gradient
 * (they overwrite it), 1 when a [shortcut] also writes there (they add). */
#include <stdlib.h>
#include <string.h>

#include "models/nn/nn.h"

/* ---- convolution ------------------------------------------------------------------------ */

static void conv_forward(const nn_net *net, const nn_layer *l, size_t li, nn_work *w, const float *in, size_t n) {
    const at_nn_backend *be = net->be;
    const size_t hw = l->s.out_h * l->s.out_w, C = l->s.out_c;
    const float *P = nn_params(net);
    float *S = nn_stats(net);
    /* a frozen layer with frozen batch norm normalises with its running statistics */
    const int frozen_bn = li < net->frozen && net->frozen_bn;
    const int bn = l->s.bn, training = w->training && !frozen_bn;
    nn_conv_fwd a = {.g = &l->g, .n = n, .chunk_imgs = l->chunk_imgs, .col_max = w->col_max, .threads = w->threads,
                     .epilogue = NN_EPI_BIAS_ACT, .act = l->s.act, .slope = l->slope, .in = in, .W = P + l->w_off,
                     .bias = bn ? NULL : P + l->b_off, .out = bn && training ? w->z[li] : w->out[li], .col = w->col};
    if (bn && training) {
        a.epilogue = NN_EPI_NONE;
    } else if (bn) { /* running statistics folded into a per-channel scale and shift */
        float *sc = w->bn_mean[li], *sh = w->bn_invstd[li];
        be->bn_fold(be, P + l->g_off, P + l->b_off, S + l->rs_off, S + l->rs_off + C, C, NN_BN_EPS, sc, sh);
        a.epilogue = NN_EPI_SCALE_ACT, a.sc = sc, a.sh = sh;
    }
    be->conv_forward(be, &a);
    if (bn && training)
        be->bn_forward_train(be, w->z[li], w->out[li], n * hw, C, P + l->g_off, P + l->b_off, w->bn_mean[li],
                             w->bn_invstd[li], S + l->rs_off, S + l->rs_off + C, NN_BN_EPS, NN_BN_MOMENTUM,
                             l->s.act, l->slope, w->red, w->red_max, w->threads);
}

static void conv_backward(nn_net *net, const nn_layer *l, size_t li, nn_work *w, const float *in, float *din,
                          size_t n, int acc) {
    const at_nn_backend *be = net->be;
    const size_t hw = l->s.out_h * l->s.out_w, C = l->s.out_c;
    float *dY = w->delta[li], *G = nn_grads(net);
    const float *P = nn_params(net);
    be->act_backward(be, dY, w->out[li], n * l->out_size, l->s.act, l->slope, w->threads);
    if (l->s.bn) /* out is free now: bn_backward reuses it for x-hat */
        be->bn_backward(be, dY, w->out[li], w->z[li], n * hw, C, P + l->g_off, w->bn_mean[li], w->bn_invstd[li],
                        G + l->g_off, G + l->b_off, w->bn_mean[li] + C, w->red, w->red_max, w->threads);
    nn_conv_bwd a = {.g = &l->g, .n = n, .chunk_imgs = l->chunk_imgs, .col_max = w->col_max,
                     .part_max = w->part_max, .threads = w->threads, .acc = acc, .in = in, .W = P + l->w_off,
                     .dZ = dY, .gw = G + l->w_off, .gb = l->s.bn ? NULL : G + l->b_off, .din = din, .col = w->col,
                     .dcol = w->dcol, .part = w->part};
    be->conv_backward(be, &a);
}

/* ---- dense ------------------------------------------------------------------------------- */

static void dense_forward(const nn_net *net, const nn_layer *l, size_t li, nn_work *w, const float *in, size_t n) {
    const at_nn_backend *be = net->be;
    size_t D = l->in_size, U = l->out_size;
    float *y = w->out[li];
    const float *P = nn_params(net);
    be->gemm(be, 0, 0, n, U, D, 1.0f, in, D, P + l->w_off, U, 0.0f, y, U);
    be->bias_act(be, y, n, U, P + l->b_off, l->s.act, l->slope);
}

static void dense_backward(nn_net *net, const nn_layer *l, size_t li, nn_work *w, const float *in, float *din,
                           size_t n, int acc) {
    const at_nn_backend *be = net->be;
    size_t D = l->in_size, U = l->out_size;
    float *d = w->delta[li], *G = nn_grads(net);
    be->act_backward(be, d, w->out[li], n * U, l->s.act, l->slope, 1);
    /* dW = X^T dY; db = column sums of dY; dX = dY W^T */
    be->gemm(be, 1, 0, D, U, n, 1.0f, in, D, d, U, 0.0f, G + l->w_off, U);
    be->col_sums(be, d, n, U, G + l->b_off);
    if (din) be->gemm(be, 0, 1, n, D, U, 1.0f, d, U, nn_params(net) + l->w_off, U, acc ? 1.0f : 0.0f, din, D);
}

/* ---- dropout, shortcut ------------------------------------------------------------------- */

static int dropout_off(const nn_net *net, const nn_layer *l, const nn_work *w) {
    return !w->training || net->grad_check || l->s.rate <= 0;
}

static void dropout_forward(const nn_net *net, const nn_layer *l, size_t li, nn_work *w, const float *in,
                            size_t n) {
    size_t m = n * l->out_size;
    if (dropout_off(net, l, w)) {
        net->be->copy(net->be, w->out[li], in, m * sizeof *in);
        return;
    }
    net->be->dropout(net->be, in, w->out[li], w->mask[li], m, l->s.rate, w->dropout_seed, li);
}

static void dropout_backward(const nn_net *net, const nn_layer *l, size_t li, nn_work *w, float *din, size_t n,
                             int acc) {
    int pass = net->grad_check || l->s.rate <= 0;
    net->be->dropout_backward(net->be, w->delta[li], pass ? NULL : w->mask[li], n * l->out_size, din, acc);
}

static void shortcut_forward(const nn_net *net, const nn_layer *l, size_t li, nn_work *w, const float *in,
                             size_t n) {
    const float *o = w->out[(size_t)((long)li + l->s.from)];
    net->be->add_act(net->be, in, o, w->out[li], n, l->out_size, l->s.act, l->slope, w->threads);
}

static void shortcut_backward(const nn_net *net, const nn_layer *l, size_t li, nn_work *w, float *din, size_t n,
                              int acc) {
    const at_nn_backend *be = net->be;
    size_t m = n * l->out_size;
    float *d = w->delta[li];
    be->act_backward(be, d, w->out[li], m, l->s.act, l->slope, w->threads);
    float *dsrc = w->delta[(size_t)((long)li + l->s.from)]; /* always accumulating (see net.c) */
    be->shortcut_backward(be, d, din, dsrc, m, acc, w->threads);
}

void nn_layer_forward(const nn_net *net, size_t li, nn_work *w, const float *in, size_t n) {
    const nn_layer *l = &net->L[li];
    const at_nn_backend *be = net->be;
    switch (l->s.kind) {
    case L_CONV: conv_forward(net, l, li, w, in, n); break;
    case L_MAXPOOL: be->maxpool_forward(be, &l->g, in, n, w->out[li], w->training ? w->argmax[li] : NULL, w->threads); break;
    case L_AVGPOOL: be->avgpool_forward(be, &l->g, in, n, w->out[li], w->threads); break;
    case L_DENSE: dense_forward(net, l, li, w, in, n); break;
    case L_DROPOUT: dropout_forward(net, l, li, w, in, n); break;
    case L_SHORTCUT: shortcut_forward(net, l, li, w, in, n); break;
    case L_SOFTMAX: be->softmax(be, in, n, l->out_size, w->out[li]); break;
    }
}

/* The softmax layer's backward is done by the loss (net.c). */
void nn_layer_backward(nn_net *net, size_t li, nn_work *w, const float *in, float *din, size_t n, int acc) {
    const nn_layer *l = &net->L[li];
    const at_nn_backend *be = net->be;
    switch (l->s.kind) {
    case L_CONV: conv_backward(net, l, li, w, in, din, n, acc); break;
    case L_MAXPOOL:
        if (din) be->maxpool_backward(be, w->delta[li], w->argmax[li], n, l->out_size, l->in_size, din, acc, w->threads);
        break;
    case L_AVGPOOL:
        if (din) be->avgpool_backward(be, &l->g, w->delta[li], n, din, acc, w->threads);
        break;
    case L_DENSE: dense_backward(net, l, li, w, in, din, n, acc); break;
    case L_DROPOUT:
        if (din) dropout_backward(net, l, li, w, din, n, acc);
        break;
    case L_SHORTCUT:
        if (din) shortcut_backward(net, l, li, w, din, n, acc);
        break;
    case L_SOFTMAX: break;
    }
}
