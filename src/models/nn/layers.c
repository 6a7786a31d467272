/* layers.c - forward and backward of every layer kind on NHWC float32 batches; every
 * kernel goes through the net's backend (backend.h).
 *
 * Convolution: the batch is cut into groups of whole images (about NN_CHUNK_ROWS output
 * pixels each); a thread turns its group into an im2col block (contiguous runs of
 * size * channels floats per kernel row) and multiplies it by the weight matrix with one
 * gemm while the block is still in cache, then adds the bias and applies the activation on
 * the same rows. Backward does the same per group: the weight gradient accumulates into
 * per-thread partial sums (added in thread order afterwards, so results depend on the
 * thread count but not on scheduling) and the input gradient is scattered back with col2im
 * into the group's own images, so threads never write the same memory.
 *
 * Dense: one gemm over the batch, then bias + activation. Dropout: inverted (survivors
 * scaled by 1 / (1 - rate)), so prediction needs no rescaling.
 *
 * Backward functions receive acc: 0 when they are the only writer of the input gradient
 * (they overwrite it), 1 when a [shortcut] also writes there (they add). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "models/nn/nn.h"

static inline size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

/* ---- convolution ------------------------------------------------------------------------ */

static int conv_is_direct(const nn_layer *l) { return l->s.size == 1 && l->s.stride == 1 && l->s.pad == 0; }

static void conv_forward(const nn_net *net, const nn_layer *l, size_t li, nn_work *w, const float *in, size_t n) {
    const at_nn_backend *be = net->be;
    const size_t hw = l->s.out_h * l->s.out_w, C = l->s.out_c, K = l->K, g = l->chunk_imgs;
    const size_t nch = (n + g - 1) / g;
    const float *W = net->params + l->w_off;
    /* a frozen layer with frozen batch norm normalises with its running statistics */
    const int frozen_bn = li < net->frozen && net->frozen_bn;
    const int bn = l->s.bn, training = w->training && !frozen_bn, direct = conv_is_direct(l);
    float *dst_all = bn && training ? w->z[li] : w->out[li];
    const float *bias = bn ? NULL : net->params + l->b_off;
    float *sc = NULL, *sh = NULL;
    if (bn && !training) { /* running statistics folded into a per-channel scale and shift */
        sc = w->bn_mean[li], sh = w->bn_invstd[li];
        const float *gamma = net->params + l->g_off, *beta = net->params + l->b_off;
        const float *rm = net->stats + l->rs_off, *rv = rm + C;
        for (size_t c = 0; c < C; c++) {
            sc[c] = gamma[c] / sqrtf(rv[c] + NN_BN_EPS);
            sh[c] = beta[c] - rm[c] * sc[c];
        }
    }
#pragma omp parallel num_threads(w->threads)
    {
        int tid = omp_get_thread_num(), nt = omp_get_num_threads();
        float *col = w->col + (size_t)tid * w->col_max;
        for (size_t ch = (size_t)tid; ch < nch; ch += (size_t)nt) {
            size_t i0 = ch * g, m = min_sz(g, n - i0), rows = m * hw;
            const float *A = in + i0 * l->in_size;
            if (!direct) {
                be->im2col(&l->g, A, m, col);
                A = col;
            }
            float *Y = dst_all + i0 * hw * C;
            be->gemm(0, 0, rows, C, K, 1.0f, A, K, W, C, 0.0f, Y, C);
            if (!bn) {
                be->bias_act(Y, rows, C, bias, l->s.act, l->slope);
            } else if (!training) {
                for (size_t r = 0; r < rows; r++) {
                    float *v = Y + r * C;
                    for (size_t c = 0; c < C; c++) v[c] = v[c] * sc[c] + sh[c];
                }
                be->bias_act(Y, rows, C, NULL, l->s.act, l->slope);
            }
        }
    }
    if (bn && training)
        be->bn_forward_train(w->z[li], w->out[li], n * hw, C, net->params + l->g_off, net->params + l->b_off,
                             w->bn_mean[li], w->bn_invstd[li], net->stats + l->rs_off, net->stats + l->rs_off + C,
                             NN_BN_EPS, NN_BN_MOMENTUM, l->s.act, l->slope, w->red, w->red_max, w->threads);
}

static void conv_backward(nn_net *net, const nn_layer *l, size_t li, nn_work *w, const float *in, float *din,
                          size_t n, int acc) {
    const at_nn_backend *be = net->be;
    const size_t hw = l->s.out_h * l->s.out_w, C = l->s.out_c, K = l->K, g = l->chunk_imgs;
    const size_t nch = (n + g - 1) / g, wn = K * C;
    float *dY = w->delta[li];
    be->act_backward(dY, w->out[li], n * l->out_size, l->s.act, l->slope, w->threads);
    if (l->s.bn) /* out is free now: bn_backward reuses it for x-hat */
        be->bn_backward(dY, w->out[li], w->z[li], n * hw, C, net->params + l->g_off, w->bn_mean[li],
                        w->bn_invstd[li], net->grads + l->g_off, net->grads + l->b_off, w->bn_mean[li] + C, w->red,
                        w->red_max, w->threads);
    const float *W = net->params + l->w_off;
    const int direct = conv_is_direct(l), bn = l->s.bn;
    int nt_used = 1;
#pragma omp parallel num_threads(w->threads)
    {
        int tid = omp_get_thread_num(), nt = omp_get_num_threads();
#pragma omp single
        nt_used = nt;
        float *part = w->part + (size_t)tid * w->part_max;
        memset(part, 0, (wn + C) * sizeof *part);
        float *col = w->col + (size_t)tid * w->col_max, *dcol = w->dcol + (size_t)tid * w->col_max;
        for (size_t ch = (size_t)tid; ch < nch; ch += (size_t)nt) {
            size_t i0 = ch * g, m = min_sz(g, n - i0), rows = m * hw;
            const float *A = in + i0 * l->in_size;
            if (!direct) {
                be->im2col(&l->g, A, m, col);
                A = col;
            }
            const float *dZ = dY + i0 * hw * C;
            be->gemm(1, 0, K, C, rows, 1.0f, A, K, dZ, C, 1.0f, part, C);
            if (!bn) {
                float *pb = part + wn;
                for (size_t r = 0; r < rows; r++)
                    for (size_t c = 0; c < C; c++) pb[c] += dZ[r * C + c];
            }
            if (!din) continue;
            float *D = din + i0 * l->in_size;
            if (direct) {
                be->gemm(0, 1, rows, K, C, 1.0f, dZ, C, W, C, acc ? 1.0f : 0.0f, D, K);
            } else {
                be->gemm(0, 1, rows, K, C, 1.0f, dZ, C, W, C, 0.0f, dcol, K);
                if (!acc) memset(D, 0, m * l->in_size * sizeof *D);
                be->col2im_add(&l->g, dcol, m, D);
            }
        }
    }
    float *gw = net->grads + l->w_off, *gb = bn ? NULL : net->grads + l->b_off;
    memcpy(gw, w->part, wn * sizeof *gw);
    if (gb) memcpy(gb, w->part + wn, C * sizeof *gb);
    for (int t = 1; t < nt_used; t++) {
        const float *p = w->part + (size_t)t * w->part_max;
        for (size_t j = 0; j < wn; j++) gw[j] += p[j];
        if (gb)
            for (size_t c = 0; c < C; c++) gb[c] += p[wn + c];
    }
}

/* ---- dense ------------------------------------------------------------------------------- */

static void dense_forward(const nn_net *net, const nn_layer *l, size_t li, nn_work *w, const float *in, size_t n) {
    size_t D = l->in_size, U = l->out_size;
    float *y = w->out[li];
    net->be->gemm(0, 0, n, U, D, 1.0f, in, D, net->params + l->w_off, U, 0.0f, y, U);
    net->be->bias_act(y, n, U, net->params + l->b_off, l->s.act, l->slope);
}

static void dense_backward(nn_net *net, const nn_layer *l, size_t li, nn_work *w, const float *in, float *din,
                           size_t n, int acc) {
    const at_nn_backend *be = net->be;
    size_t D = l->in_size, U = l->out_size;
    float *d = w->delta[li];
    be->act_backward(d, w->out[li], n * U, l->s.act, l->slope, 1);
    /* dW = X^T dY; db = column sums of dY; dX = dY W^T */
    be->gemm(1, 0, D, U, n, 1.0f, in, D, d, U, 0.0f, net->grads + l->w_off, U);
    float *gb = net->grads + l->b_off;
    for (size_t u = 0; u < U; u++) gb[u] = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t u = 0; u < U; u++) gb[u] += d[i * U + u];
    if (din) be->gemm(0, 1, n, D, U, 1.0f, d, U, net->params + l->w_off, U, acc ? 1.0f : 0.0f, din, D);
}

/* ---- dropout, shortcut ------------------------------------------------------------------- */

static int dropout_off(const nn_net *net, const nn_layer *l, const nn_work *w) {
    return !w->training || net->grad_check || l->s.rate <= 0;
}

static void dropout_forward(const nn_net *net, const nn_layer *l, size_t li, nn_work *w, const float *in,
                            size_t n) {
    size_t m = n * l->out_size;
    if (dropout_off(net, l, w)) {
        memcpy(w->out[li], in, m * sizeof *in);
        return;
    }
    net->be->dropout(in, w->out[li], w->mask[li], m, l->s.rate, w->dropout_seed, li);
}

static void dropout_backward(const nn_net *net, const nn_layer *l, size_t li, nn_work *w, float *din, size_t n,
                             int acc) {
    size_t m = n * l->out_size;
    const float *d = w->delta[li];
    int pass = net->grad_check || l->s.rate <= 0;
    const float *mask = w->mask[li];
    for (size_t i = 0; i < m; i++) {
        float v = pass ? d[i] : d[i] * mask[i];
        din[i] = acc ? din[i] + v : v;
    }
}

static void shortcut_forward(const nn_net *net, const nn_layer *l, size_t li, nn_work *w, const float *in,
                             size_t n) {
    size_t os = l->out_size;
    const float *o = w->out[(size_t)((long)li + l->s.from)];
    float *y = w->out[li];
#pragma omp parallel for schedule(static) num_threads(w->threads)
    for (size_t img = 0; img < n; img++) {
        float *yi = y + img * os;
        for (size_t j = 0; j < os; j++) yi[j] = in[img * os + j] + o[img * os + j];
        net->be->bias_act(yi, 1, os, NULL, l->s.act, l->slope);
    }
}

static void shortcut_backward(const nn_net *net, const nn_layer *l, size_t li, nn_work *w, float *din, size_t n,
                              int acc) {
    size_t m = n * l->out_size;
    float *d = w->delta[li];
    net->be->act_backward(d, w->out[li], m, l->s.act, l->slope, w->threads);
    float *dsrc = w->delta[(size_t)((long)li + l->s.from)]; /* always accumulating (see net.c) */
#pragma omp parallel for schedule(static) num_threads(w->threads)
    for (size_t i = 0; i < m; i++) {
        din[i] = acc ? din[i] + d[i] : d[i];
        dsrc[i] += d[i];
    }
}

void nn_layer_forward(const nn_net *net, size_t li, nn_work *w, const float *in, size_t n) {
    const nn_layer *l = &net->L[li];
    const at_nn_backend *be = net->be;
    switch (l->s.kind) {
    case L_CONV: conv_forward(net, l, li, w, in, n); break;
    case L_MAXPOOL: be->maxpool_forward(&l->g, in, n, w->out[li], w->training ? w->argmax[li] : NULL, w->threads); break;
    case L_AVGPOOL: be->avgpool_forward(&l->g, in, n, w->out[li], w->threads); break;
    case L_DENSE: dense_forward(net, l, li, w, in, n); break;
    case L_DROPOUT: dropout_forward(net, l, li, w, in, n); break;
    case L_SHORTCUT: shortcut_forward(net, l, li, w, in, n); break;
    case L_SOFTMAX: be->softmax(in, n, l->out_size, w->out[li]); break;
    }
}

/* The softmax layer's backward is done by the loss (net.c). */
void nn_layer_backward(nn_net *net, size_t li, nn_work *w, const float *in, float *din, size_t n, int acc) {
    const nn_layer *l = &net->L[li];
    const at_nn_backend *be = net->be;
    switch (l->s.kind) {
    case L_CONV: conv_backward(net, l, li, w, in, din, n, acc); break;
    case L_MAXPOOL:
        if (din) be->maxpool_backward(w->delta[li], w->argmax[li], n, l->out_size, l->in_size, din, acc, w->threads);
        break;
    case L_AVGPOOL:
        if (din) be->avgpool_backward(&l->g, w->delta[li], n, din, acc, w->threads);
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
