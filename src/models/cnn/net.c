/* net.c - a network built from its description: the flat parameter vector and its
 * initialisation, workspaces, the forward pass, the loss and backward pass, input
 * standardisation, batched prediction with optional D4 test-time augmentation, and the
 * layer table for the log. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/cnn/cnn_internal.h"

static const char *const kind_names[] = {"conv", "maxpool", "avgpool", "dense", "dropout", "shortcut", "softmax"};

/* ---- construction ----------------------------------------------------------------------- */

static void init_weights(at_cnn *net, uint64_t seed) {
    for (size_t li = 0; li < net->nn.nl; li++) {
        cnn_layer *l = &net->nn.L[li];
        if (!l->w_n) continue;
        at_rng r;
        at_rng_init(&r, seed, 0x1000 + li);
        float *w = net->nn.params + l->w_off;
        if (net->spec->p.init == AT_INIT_HE) {
            /* He initialisation for rectifiers, LeCun for linear outputs */
            double gain = l->s.act == ACT_LINEAR ? 1.0 : 2.0;
            double sd = sqrt(gain / (double)l->K);
            for (size_t i = 0; i < l->w_n; i++) w[i] = (float)(sd * at_rng_normal(&r));
        } else {
            /* small uniform weights and biases: with Adam's fixed step size a smaller start
             * moves the weights relatively faster (the reference nets are tuned for it) */
            double bound = 1.0 / sqrt((double)l->K);
            for (size_t i = 0; i < l->w_n; i++) w[i] = (float)(bound * (2 * at_rng_uniform(&r) - 1));
            if (!(l->s.kind == L_CONV && l->s.bn)) {
                float *b = net->nn.params + l->b_off;
                for (size_t i = 0; i < l->b_n; i++) b[i] = (float)(bound * (2 * at_rng_uniform(&r) - 1));
            }
        }
        if (l->s.kind == L_CONV && l->s.bn) {
            for (size_t c = 0; c < l->s.out_c; c++) net->nn.params[l->g_off + c] = 1.0f;
            for (size_t c = 0; c < l->s.out_c; c++) net->nn.stats[l->rs_off + l->s.out_c + c] = 1.0f;
        }
    }
}

at_status at_cnn_new(const at_cnn_spec *spec, size_t n_classes, uint64_t seed, at_cnn **out, at_error *err) {
    *out = NULL;
    at_cnn *net = at_calloc(1, sizeof *net, err);
    if (!net) return AT_ERR_MEMORY;
    at_status s = cnn_spec_copy(spec, &net->spec, err);
    if (s) {
        free(net);
        return s;
    }
    net->nn.nl = spec->n_layers;
    net->nn.k = n_classes;
    net->nn.L = at_calloc(net->nn.nl, sizeof *net->nn.L, err);
    if (!net->nn.L) {
        at_cnn_free(net);
        return AT_ERR_MEMORY;
    }
    net->nn.be = nn_backend_cpu();
    for (size_t li = 0; li < net->nn.nl; li++) {
        cnn_layer *l = &net->nn.L[li];
        l->s = spec->layers[li];
        l->slope = CNN_LEAKY_SLOPE;
        nn_layer_shape(l);
    }
    nn_layout_by_layer(&net->nn);
    const cnn_layer *last = &net->nn.L[net->nn.nl - 1];
    if (last->out_size != n_classes) {
        uint32_t line = last->s.line;
        for (size_t li = net->nn.nl; li-- > 0;)
            if (net->nn.L[li].s.kind == L_DENSE || net->nn.L[li].s.kind == L_CONV) {
                line = net->nn.L[li].s.line;
                break;
            }
        at_fail(err, AT_ERR_CONFIG, "%s:%u: the network ends with %zu outputs but the data have %zu classes: set "
                "units = %zu in the last [dense]", spec->source, line, last->out_size, n_classes, n_classes);
        at_cnn_free(net);
        return AT_ERR_CONFIG;
    }
    size_t np = net->nn.np, ns = net->nn.ns;
    net->nn.params = at_calloc(np ? np : 1, sizeof(float), err);
    net->nn.grads = at_calloc(np ? np : 1, sizeof(float), err);
    net->nn.stats = at_calloc(ns ? ns : 1, sizeof(float), err);
    if (!net->nn.params || !net->nn.grads || !net->nn.stats) {
        at_cnn_free(net);
        return AT_ERR_MEMORY;
    }
    for (size_t c = 0; c < CNN_MAX_CHANNELS; c++) net->mean[c] = 0.0f, net->stdev[c] = 1.0f;
    init_weights(net, seed);
    *out = net;
    return AT_OK;
}

void at_cnn_free(at_cnn *net) {
    if (!net) return;
    at_cnn_use_device(net, NULL, NULL); /* back on the CPU, a device backend closed */
    at_cnn_spec_free(net->spec);
    nn_work_free(net->train_work);
    free(net->nn.L);
    free(net->nn.params);
    free(net->nn.grads);
    free(net->nn.stats);
    free(net->hist);
    free(net->lr_scale);
    free(net);
}

const at_cnn_params *at_cnn_params_of(const at_cnn *net) { return &net->spec->p; }
size_t at_cnn_n_classes(const at_cnn *net) { return net->nn.k; }
size_t at_cnn_n_params(const at_cnn *net) { return net->nn.np; }
size_t at_cnn_param_count(const at_cnn *net) { return net->nn.np; }
float *at_cnn_param_data(at_cnn *net) { return net->nn.params; }
void at_cnn_set_grad_check(at_cnn *net, int on) { net->nn.grad_check = on; }
size_t at_cnn_best_epoch(const at_cnn *net) { return net->best_epoch; }

static double layer_flops(const cnn_layer *l) {
    switch (l->s.kind) {
    case L_CONV: return 2.0 * (double)(l->s.out_h * l->s.out_w * l->s.out_c) * (double)l->K;
    case L_DENSE: return 2.0 * (double)l->K * (double)l->out_size;
    default: return 0;
    }
}

double at_cnn_flops(const at_cnn *net) {
    double f = 0;
    for (size_t li = 0; li < net->nn.nl; li++) f += layer_flops(&net->nn.L[li]);
    return f;
}

void at_cnn_log_layers(const at_cnn *net, const at_progress *p) {
    const at_cnn_params *q = &net->spec->p;
    at_progress_log(p, "network: input %zux%zux%zu", q->height, q->width, q->channels);
    at_progress_log(p, "  %3s %-9s %-22s %16s %10s %9s", "#", "layer", "settings", "output", "params", "MFLOP");
    for (size_t li = 0; li < net->nn.nl; li++) {
        const cnn_layer *l = &net->nn.L[li];
        char set[64] = "", shape[48];
        static const char *const acts[] = {"linear", "relu", "leaky"};
        switch (l->s.kind) {
        case L_CONV:
            snprintf(set, sizeof set, "%dx%d/%d %s%s", l->s.size, l->s.size, l->s.stride, acts[l->s.act],
                     l->s.bn ? " bn" : "");
            break;
        case L_MAXPOOL: snprintf(set, sizeof set, "%dx%d/%d", l->s.size, l->s.size, l->s.stride); break;
        case L_AVGPOOL: snprintf(set, sizeof set, "global"); break;
        case L_DENSE: snprintf(set, sizeof set, "%s", acts[l->s.act]); break;
        case L_DROPOUT: snprintf(set, sizeof set, "rate %g", l->s.rate); break;
        case L_SHORTCUT: snprintf(set, sizeof set, "from %d %s", l->s.from, acts[l->s.act]); break;
        default: break;
        }
        snprintf(shape, sizeof shape, "%zux%zux%zu", l->s.out_h, l->s.out_w, l->s.out_c);
        size_t params = l->w_n + l->b_n + (l->s.kind == L_CONV && l->s.bn ? l->s.out_c : 0);
        at_progress_log(p, "  %3zu %-9s %-22s %16s %10zu %9.2f", li, kind_names[l->s.kind], set, shape, params,
                        layer_flops(l) / 1e6);
    }
    at_progress_log(p, "  total: %zu parameters, %.2f MFLOP per image forward", net->nn.np, at_cnn_flops(net) / 1e6);
}

/* ---- loss and backward ---------------------------------------------------------------------- */

double cnn_backward(at_cnn *net, cnn_work *w, const float *x, const int32_t *y, size_t n, const float *cw) {
    double wsum = 0;
    for (size_t i = 0; i < n; i++) wsum += cw ? cw[y[i]] : 1.0;
    if (wsum <= 0) wsum = 1;
    double loss = nn_xent(&net->nn, w, y, NULL, cw, n, wsum, NULL);
    nn_backward(&net->nn, w, x, n);
    return loss / wsum;
}

at_status at_cnn_loss_grad(at_cnn *net, const float *x, const int32_t *y, size_t n, const float *class_weight,
                           double *loss, float *grad, int threads, at_error *err) {
    if (net->train_work && (net->train_work->n_max < n || net->train_work->threads != threads)) {
        nn_work_free(net->train_work);
        net->train_work = NULL;
    }
    if (!net->train_work) {
        at_status s = nn_work_new(&net->nn, n, threads, 1, &net->train_work, err);
        if (s) return s;
    }
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || (size_t)y[i] >= net->nn.k) return at_fail(err, AT_ERR_DATA, "label %d out of range", y[i]);
    nn_forward(&net->nn, net->train_work, x, n);
    *loss = cnn_backward(net, net->train_work, x, y, n, class_weight);
    if (grad) {
        nn_net_download_grads(&net->nn); /* a net on a GPU: its gradients come back first */
        memcpy(grad, net->nn.grads, net->nn.np * sizeof *grad);
    }
    return AT_OK;
}

/* ---- standardisation and inference --------------------------------------------------------- */

void at_cnn_set_standardisation(at_cnn *net, const float *mean, const float *std) {
    for (size_t c = 0; c < net->spec->p.channels && c < CNN_MAX_CHANNELS; c++) {
        net->mean[c] = mean[c];
        net->stdev[c] = std[c] > 1e-6f ? std[c] : 1.0f;
    }
}

void at_cnn_fit_standardisation(at_cnn *net, const at_images *im) {
    size_t C = im->channels, npix = im->n * im->height * im->width;
    double s[CNN_MAX_CHANNELS] = {0}, s2[CNN_MAX_CHANNELS] = {0};
    for (size_t p = 0; p < npix; p++)
        for (size_t c = 0; c < C && c < CNN_MAX_CHANNELS; c++) {
            double v = im->pixels[p * C + c] / 255.0;
            s[c] += v, s2[c] += v * v;
        }
    float mean[CNN_MAX_CHANNELS], sd[CNN_MAX_CHANNELS];
    for (size_t c = 0; c < C && c < CNN_MAX_CHANNELS; c++) {
        double m = npix ? s[c] / (double)npix : 0, var = npix ? s2[c] / (double)npix - m * m : 1;
        mean[c] = (float)m;
        sd[c] = (float)sqrt(var > 0 ? var : 0);
    }
    at_cnn_set_standardisation(net, mean, sd);
}

void cnn_standardise(const at_cnn *net, const uint8_t *pix, size_t m, float *x) {
    size_t C = net->spec->p.channels, n = m * net->spec->p.height * net->spec->p.width;
    float a[CNN_MAX_CHANNELS], b[CNN_MAX_CHANNELS];
    for (size_t c = 0; c < C; c++) {
        a[c] = 1.0f / (255.0f * net->stdev[c]);
        b[c] = -net->mean[c] / net->stdev[c];
    }
    for (size_t p = 0; p < n; p++)
        for (size_t c = 0; c < C; c++) x[p * C + c] = (float)pix[p * C + c] * a[c] + b[c];
}

at_status at_cnn_forward(const at_cnn *net, const float *x, size_t n, float *P, int threads, at_error *err) {
    size_t B = net->spec->p.infer_batch, in = net->nn.L[0].in_size;
    if (B > n) B = n;
    if (!n) return AT_OK;
    cnn_work *w = NULL;
    at_status s = nn_work_new(&net->nn, B, threads, 0, &w, err);
    if (s) return s;
    for (size_t i = 0; i < n; i += B) {
        size_t m = n - i < B ? n - i : B;
        nn_forward((nn_net *)&net->nn, w, x + i * in, m);
        memcpy(P + i * net->nn.k, nn_output(&net->nn, w, m), m * net->nn.k * sizeof *P);
    }
    nn_work_free(w);
    return AT_OK;
}

at_status at_cnn_predict_images(const at_cnn *net, const at_images *im, int tta, double *P, int threads,
                                at_error *err) {
    const at_cnn_params *q = &net->spec->p;
    if (im->height != q->height || im->width != q->width || im->channels != q->channels)
        return at_fail(err, AT_ERR_DATA, "images are %zux%zux%zu but the network takes %zux%zux%zu", im->height,
                       im->width, im->channels, q->height, q->width, q->channels);
    if (tta && q->height != q->width)
        return at_fail(err, AT_ERR_CONFIG, "test-time augmentation (tta) needs square images, not %zux%zu", q->height,
                       q->width);
    size_t n = im->n, B = q->infer_batch < n ? q->infer_batch : n, isz = q->height * q->width * q->channels, k = net->nn.k;
    if (!n) return AT_OK;
    cnn_work *w = NULL;
    at_status s = nn_work_new(&net->nn, B, threads, 0, &w, err);
    if (s) return s;
    float *x = at_malloc(B * isz, sizeof *x, err);
    uint8_t *buf = at_malloc(B * isz + isz, 1, err);
    if (!x || !buf) {
        free(x), free(buf), nn_work_free(w);
        return AT_ERR_MEMORY;
    }
    int T = tta ? 8 : 1;
    for (size_t i = 0; i < n; i += B) {
        size_t m = n - i < B ? n - i : B;
        for (size_t j = 0; j < m * k; j++) P[i * k + j] = 0;
        for (int t = 0; t < T; t++) {
            memcpy(buf, im->pixels + i * isz, m * isz);
            if (t)
                for (size_t j = 0; j < m; j++) at_image_d4(buf + j * isz, buf + B * isz, q->height, q->width, q->channels, t);
            cnn_standardise(net, buf, m, x);
            nn_forward((nn_net *)&net->nn, w, x, m);
            const float *out = nn_output(&net->nn, w, m);
            for (size_t j = 0; j < m * k; j++) P[i * k + j] += out[j] / (double)T;
        }
    }
    free(x), free(buf);
    nn_work_free(w);
    return AT_OK;
}

/* ---- history ---------------------------------------------------------------------------------- */

static const char *const hist_names[CNN_HIST_COLS] = {"epoch", "train_loss", "train_accuracy",
                                                      "val_loss", "val_accuracy", "learning_rate"};

at_status cnn_history_add(at_cnn *net, const double *row, at_error *err) {
    if (net->hist_rows == net->hist_cap) {
        size_t cap = net->hist_cap ? 2 * net->hist_cap : 32;
        double *h = realloc(net->hist, cap * CNN_HIST_COLS * sizeof *h);
        if (!h) return at_fail(err, AT_ERR_MEMORY, "out of memory (history)");
        net->hist = h, net->hist_cap = cap;
    }
    memcpy(net->hist + net->hist_rows * CNN_HIST_COLS, row, CNN_HIST_COLS * sizeof *row);
    net->hist_rows++;
    return AT_OK;
}

const at_history *at_cnn_history(const at_cnn *net) {
    at_cnn *m = (at_cnn *)net; /* the view is rebuilt on every call; the data are the net's */
    m->history.n_rows = net->hist_rows;
    m->history.n_cols = CNN_HIST_COLS;
    m->history.names = hist_names;
    m->history.values = net->hist;
    return &m->history;
}
