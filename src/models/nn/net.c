/* net.c - the engine's network pieces shared by every family: layer shapes and the
 * layer-by-layer parameter layout, workspaces (buffers from the backend), the forward
 * pass, the softmax cross-entropy and the backward pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/nn/nn.h"

/* Output rows (pixels) per convolution work unit: enough for an efficient gemm, small
 * enough that the im2col block stays in cache while the gemm consumes it. */
#define NN_CHUNK_ROWS 512

void nn_layer_shape(nn_layer *l) {
    const nn_layer_spec *s = &l->s;
    l->in_size = s->in_h * s->in_w * s->in_c;
    l->out_size = s->out_h * s->out_w * s->out_c;
    l->g = (nn_geom){.in_h = s->in_h, .in_w = s->in_w, .in_c = s->in_c, .out_h = s->out_h, .out_w = s->out_w,
                     .out_c = s->out_c, .size = s->size, .stride = s->stride, .pad = s->pad};
    if (s->kind == L_CONV) {
        l->K = (size_t)s->size * (size_t)s->size * s->in_c;
        size_t hw = s->out_h * s->out_w;
        l->chunk_imgs = hw ? (NN_CHUNK_ROWS + hw - 1) / hw : 1;
        if (!l->chunk_imgs) l->chunk_imgs = 1;
    } else if (s->kind == L_DENSE) {
        l->K = l->in_size;
    }
    l->g.K = l->K;
}

void nn_layout_by_layer(nn_net *net) {
    size_t np = 0, ns = 0;
    for (size_t li = 0; li < net->nl; li++) {
        nn_layer *l = &net->L[li];
        if (l->s.kind == L_CONV) {
            l->w_off = np, l->w_n = l->K * l->s.out_c, np += l->w_n;
            if (l->s.bn) {
                l->g_off = np, np += l->s.out_c;
                l->rs_off = ns, ns += 2 * l->s.out_c;
            }
            l->b_off = np, l->b_n = l->s.out_c, np += l->b_n;
        } else if (l->s.kind == L_DENSE) {
            l->w_off = np, l->w_n = l->K * l->out_size, np += l->w_n;
            l->b_off = np, l->b_n = l->out_size, np += l->b_n;
        }
    }
    net->np = np, net->ns = ns;
}

/* ---- workspace ---------------------------------------------------------------------------- */

void nn_work_free(nn_work *w) {
    if (!w) return;
    const at_nn_backend *be = w->be;
#define rel(p) be->release(be, p)
    if (w->out) {
        /* inference buffers may be shared (ping-pong): free each pointer once */
        for (size_t i = 0; i < w->nl_alloc; i++) {
            int dup = 0;
            for (size_t j = 0; j < i; j++) dup |= w->out[j] == w->out[i];
            if (!dup) rel(w->out[i]);
        }
    }
    for (size_t i = 0; i < w->nl_alloc; i++) {
        if (w->delta) rel(w->delta[i]);
        if (w->z) rel(w->z[i]);
        if (w->bn_mean) rel(w->bn_mean[i]);
        if (w->bn_invstd) rel(w->bn_invstd[i]);
        if (w->argmax) rel(w->argmax[i]);
        if (w->mask) rel(w->mask[i]);
    }
    free(w->out), free(w->delta), free(w->z), free(w->bn_mean), free(w->bn_invstd), free(w->argmax), free(w->mask);
    rel(w->col), rel(w->dcol), rel(w->part), rel(w->red), rel(w->x_dev);
#undef rel
    free(w->shared), free(w->h_p), free(w->h_d);
    free(w);
}

at_status nn_work_new(const nn_net *net, size_t n_max, int threads, int training, nn_work **out, at_error *err) {
    *out = NULL;
    if (threads < 1) threads = 1;
    nn_work *w = at_calloc(1, sizeof *w, err);
    if (!w) return AT_ERR_MEMORY;
    const at_nn_backend *be = w->be = net->be;
    w->n_max = n_max, w->threads = threads, w->training = training, w->nl_alloc = net->nl;
    size_t L = net->nl;
    w->out = at_calloc(L, sizeof *w->out, err);
    w->delta = at_calloc(L, sizeof *w->delta, err);
    w->z = at_calloc(L, sizeof *w->z, err);
    w->bn_mean = at_calloc(L, sizeof *w->bn_mean, err);
    w->bn_invstd = at_calloc(L, sizeof *w->bn_invstd, err);
    w->argmax = at_calloc(L, sizeof *w->argmax, err);
    w->mask = at_calloc(L, sizeof *w->mask, err);
    w->shared = at_calloc(L ? L : 1, 1, err);
    if (!w->out || !w->delta || !w->z || !w->bn_mean || !w->bn_invstd || !w->argmax || !w->mask || !w->shared)
        goto oom;
    for (size_t li = 0; li < L; li++) {
        if (net->L[li].s.kind == L_SHORTCUT) w->shared[(size_t)((long)li + net->L[li].s.from)] = 1;
        long src = nn_layer_source(net, li);
        if (src >= 0 && (size_t)src + 1 != li) w->shared[src] = 1, w->shared[li - 1] = 1; /* read twice / not by li */
    }
    size_t col_max = 1, part_max = 1, max_c = 1, max_out = 1;
    for (size_t li = 0; li < L; li++) {
        const nn_layer *l = &net->L[li];
        if (l->out_size > max_out) max_out = l->out_size;
        if (l->s.out_c > max_c) max_c = l->s.out_c;
        if (l->s.kind != L_CONV) continue;
        size_t rows = l->chunk_imgs * l->s.out_h * l->s.out_w;
        if (rows * l->K > col_max) col_max = rows * l->K;
        if (l->w_n + l->s.out_c > part_max) part_max = l->w_n + l->s.out_c;
    }
    /* Inference keeps two alternating output buffers plus the outputs a [shortcut] reads. */
    float *pp[2] = {NULL, NULL};
    for (size_t li = 0; li < L; li++) {
        const nn_layer *l = &net->L[li];
        size_t m = n_max * l->out_size;
        if (training || w->shared[li] || li + 1 == L) {
            if (!(w->out[li] = be->alloc(be, m, sizeof(float)))) goto oom;
        } else {
            if (!pp[li % 2] && !(pp[li % 2] = be->alloc(be, n_max * max_out, sizeof(float)))) goto oom;
            w->out[li] = pp[li % 2];
        }
        if (training && !(w->delta[li] = be->alloc(be, m, sizeof(float)))) goto oom;
        if (l->s.kind == L_CONV && l->s.bn) {
            if (training && !(w->z[li] = be->alloc(be, m, sizeof(float)))) goto oom;
            /* mean (C) then 3C of scratch for the backward pass */
            if (!(w->bn_mean[li] = be->alloc(be, 4 * l->s.out_c, sizeof(float)))) goto oom;
            if (!(w->bn_invstd[li] = be->alloc(be, l->s.out_c, sizeof(float)))) goto oom;
        }
        if (training && l->s.kind == L_MAXPOOL && !(w->argmax[li] = be->alloc(be, m, sizeof(int32_t)))) goto oom;
        if (training && l->s.kind == L_DROPOUT && !(w->mask[li] = be->alloc(be, m, sizeof(float)))) goto oom;
    }
    w->col_max = col_max, w->part_max = part_max, w->red_max = 2 * max_c;
    if (!(w->col = be->alloc(be, (size_t)threads * col_max, sizeof(float)))) goto oom;
    if (training && !(w->dcol = be->alloc(be, (size_t)threads * col_max, sizeof(float)))) goto oom;
    if (training && !(w->part = be->alloc(be, (size_t)threads * part_max, sizeof(float)))) goto oom;
    if (!(w->red = be->alloc(be, (size_t)(threads + 1) * w->red_max, sizeof(double)))) goto oom;
    if (be->on_device) { /* the input batch on the device; host copies of the probabilities and loss gradient */
        size_t k = net->nl ? net->L[net->nl - 1].out_size : 1;
        if (!(w->x_dev = be->alloc(be, n_max * (net->nl ? net->L[0].in_size : 1), sizeof(float)))) goto oom;
        if (!(w->h_p = malloc(n_max * k * sizeof(float) + 1)) || !(w->h_d = malloc(n_max * k * sizeof(float) + 1)))
            goto oom;
    }
    *out = w;
    return AT_OK;
oom:
    nn_work_free(w);
    return at_fail(err, AT_ERR_MEMORY, "out of %smemory (network workspace for %zu inputs)%s",
                   be->on_device ? "GPU " : "", n_max,
                   be->on_device ? ": use a smaller [net] batch or infer_batch, or --device cpu" : "");
}

/* ---- passes ------------------------------------------------------------------------------- */

long nn_layer_source(const nn_net *net, size_t li) {
    const nn_layer_spec *s = &net->L[li].s;
    long rel = s->kind == L_CONV && s->input < -1 ? s->input : -1;
    return (long)li + rel;
}

static const float *layer_in(const nn_net *net, const nn_work *w, const float *x, size_t li) {
    long src = nn_layer_source(net, li);
    return src < 0 ? x : w->out[src];
}

void nn_forward(nn_net *net, nn_work *w, const float *x, size_t n) {
    if (w->x_dev) { /* a device backend: the host batch goes up once */
        net->be->to_device(net->be, w->x_dev, x, n * net->L[0].in_size * sizeof *x);
        x = w->x_dev;
    }
    for (size_t li = 0; li < net->nl; li++) nn_layer_forward(net, li, w, layer_in(net, w, x, li), n);
}

double nn_xent(const nn_net *net, nn_work *w, const int32_t *y, const float *sw, const float *cw, size_t n,
               double norm, size_t *correct) {
    size_t L = net->nl, k = net->k;
    const float *P = nn_output(net, w, n);
    /* the softmax's input (families ensure L >= 2); on a device, a host copy sent up below */
    float *d = norm > 0 ? (w->h_d ? w->h_d : w->delta[L - 2]) : NULL;
    double loss = 0;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        const float *p = P + i * k;
        size_t yi = (size_t)y[i], best = 0;
        for (size_t c = 1; c < k; c++)
            if (p[c] > p[best]) best = c;
        ok += best == yi;
        double wi = sw ? sw[i] : cw ? cw[yi] : 1.0;
        float py = p[yi] > 1e-30f ? p[yi] : 1e-30f; /* a saturated softmax must not give inf */
        loss -= wi * log(py);
        if (d) {
            float f = (float)(wi / norm);
            float *di = d + i * k;
            for (size_t c = 0; c < k; c++) di[c] = f * (p[c] - (c == yi));
        }
    }
    if (correct) *correct = ok;
    if (d && w->h_d) net->be->to_device(net->be, w->delta[L - 2], d, n * k * sizeof *d);
    return loss;
}

const float *nn_output(const nn_net *net, nn_work *w, size_t n) {
    const float *P = w->out[net->nl - 1];
    if (!w->h_p) return P;
    net->be->to_host(net->be, w->h_p, P, n * net->k * sizeof *P);
    return w->h_p;
}

void nn_backward(nn_net *net, nn_work *w, const float *x, size_t n) {
    size_t L = net->nl;
    if (w->x_dev) x = w->x_dev; /* uploaded by nn_forward */
    for (size_t li = 0; li + 1 < L; li++)
        if (w->shared[li]) net->be->zero(net->be, w->delta[li], n * net->L[li].out_size * sizeof(float));
    /* layers below net->frozen are not trained: the pass stops at the first trained one,
     * which passes no gradient further down */
    for (size_t li = L - 1; li-- > net->frozen;) {
        long src = nn_layer_source(net, li);
        int below = src >= 0 && (size_t)src >= net->frozen;
        nn_layer_backward(net, li, w, layer_in(net, w, x, li), below ? w->delta[src] : NULL, n,
                          below ? w->shared[src] : 0);
    }
}
