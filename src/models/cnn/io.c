/* io.c - the network in a model file (or checkpoint) under a prefix, and the at_model
 * face of the network ("cnn") so that `info`, `predict` and the model registry treat it
 * like every other family.
 *
 * Layout under the prefix: spec (the canonical INI text of [net] and the layers),
 * n_classes, params (flat float32, layer order: weights, [gamma], bias/beta), stats
 * (batch-norm running mean and variance), mean and std (input standardisation), history
 * (epochs x 6) and best_epoch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/cnn/cnn_internal.h"
#include "models/cnn/fit.h"

static void name(char *buf, size_t cap, const char *prefix, const char *leaf) {
    snprintf(buf, cap, "%s%s", prefix ? prefix : "", leaf);
}

at_status at_cnn_save(const at_cnn *net, at_store *st, const char *prefix, at_error *err) {
    char n[256];
    at_status s;
    size_t C = net->spec->p.channels;
    name(n, sizeof n, prefix, "spec");
    if ((s = at_store_put_str(st, n, net->spec->text, err))) return s;
    name(n, sizeof n, prefix, "n_classes");
    if ((s = at_store_put_int(st, n, (int64_t)net->nn.k, err))) return s;
    name(n, sizeof n, prefix, "params");
    if ((s = at_store_put_f32(st, n, net->nn.params, net->nn.np, err))) return s;
    name(n, sizeof n, prefix, "stats");
    if ((s = at_store_put_f32(st, n, net->nn.stats, net->nn.ns, err))) return s;
    name(n, sizeof n, prefix, "mean");
    if ((s = at_store_put_f32(st, n, net->mean, C, err))) return s;
    name(n, sizeof n, prefix, "std");
    if ((s = at_store_put_f32(st, n, net->stdev, C, err))) return s;
    name(n, sizeof n, prefix, "best_epoch");
    if ((s = at_store_put_int(st, n, (int64_t)net->best_epoch, err))) return s;
    name(n, sizeof n, prefix, "history");
    if (net->hist_rows) return at_store_put_f64_2d(st, n, net->hist, net->hist_rows, CNN_HIST_COLS, err);
    return AT_OK;
}

at_status at_cnn_load(at_store *st, const char *prefix, at_cnn **out, at_error *err) {
    *out = NULL;
    char n[256];
    const char *path = at_store_path(st);
    char *text = NULL;
    int64_t k = 0, best = 0;
    at_cnn_spec *spec = NULL;
    at_cnn *net = NULL;
    at_status s;
    name(n, sizeof n, prefix, "spec");
    if ((s = at_store_get_str(st, n, &text, err))) return s;
    s = at_cnn_spec_parse_text(text, path, &spec, err);
    free(text);
    if (s) {
        if (s == AT_ERR_CONFIG) s = err ? (err->code = AT_ERR_MODEL) : AT_ERR_MODEL;
        return s;
    }
    name(n, sizeof n, prefix, "n_classes");
    if ((s = at_store_get_int(st, n, &k, err))) goto done;
    if (k < 2 || k > 100000) {
        s = at_fail(err, AT_ERR_MODEL, "%s: implausible class count %lld", path, (long long)k);
        goto done;
    }
    if ((s = at_cnn_new(spec, (size_t)k, 0, &net, err))) {
        if (err) err->code = AT_ERR_MODEL;
        s = AT_ERR_MODEL;
        goto done;
    }
    size_t C = net->spec->p.channels;
    name(n, sizeof n, prefix, "params");
    if ((s = at_store_read_f32(st, n, net->nn.params, net->nn.np, err))) goto done;
    name(n, sizeof n, prefix, "stats");
    if (net->nn.ns && (s = at_store_read_f32(st, n, net->nn.stats, net->nn.ns, err))) goto done;
    name(n, sizeof n, prefix, "mean");
    if ((s = at_store_read_f32(st, n, net->mean, C, err))) goto done;
    name(n, sizeof n, prefix, "std");
    if ((s = at_store_read_f32(st, n, net->stdev, C, err))) goto done;
    name(n, sizeof n, prefix, "best_epoch");
    if ((s = at_store_get_int(st, n, &best, err))) goto done;
    net->best_epoch = best > 0 ? (size_t)best : 0;
    name(n, sizeof n, prefix, "history");
    if (at_store_has(st, n)) {
        size_t rank, dims[2];
        if ((s = at_store_shape(st, n, &rank, dims, err))) goto done;
        if (rank != 2 || dims[1] != CNN_HIST_COLS || dims[0] > 10000000) {
            s = at_fail(err, AT_ERR_MODEL, "%s: %s has the wrong shape", path, n);
            goto done;
        }
        double *h = NULL;
        size_t cnt = 0;
        if ((s = at_store_get_f64(st, n, &h, &cnt, err))) goto done;
        net->hist = h, net->hist_rows = net->hist_cap = dims[0];
    }
done:
    at_cnn_spec_free(spec);
    if (s) {
        at_cnn_free(net);
        return s;
    }
    *out = net;
    return AT_OK;
}

/* ---- at_model face ------------------------------------------------------------------- */

typedef struct holder {
    at_cnn *net;
} holder;

static at_status ops_fit(void *impl, const at_fit_input *in, at_error *err) {
    at_cnn *net = ((holder *)impl)->net;
    return at_cnn_fit_images(net, net ? net->nn.k : 0, in, err); /* fit.c */
}
static at_status ops_predict_images(const void *impl, const at_images *im, double *P, int threads, at_error *err) {
    return at_cnn_predict_images_op(((const holder *)impl)->net, im, P, threads, err);
}

static at_status ops_predict(const void *impl, const double *X, size_t n, double *P, int threads, at_error *err) {
    const at_cnn *net = ((const holder *)impl)->net;
    const at_cnn_params *q = &net->spec->p;
    size_t isz = q->height * q->width * q->channels, B = q->infer_batch, C = q->channels, k = net->nn.k;
    if (B > n) B = n;
    float *x = at_malloc(B * isz, sizeof *x, err), *p = at_malloc(B * k, sizeof *p, err);
    at_status s = !x || !p ? AT_ERR_MEMORY : AT_OK;
    for (size_t i = 0; !s && i < n; i += B) {
        size_t m = n - i < B ? n - i : B;
        for (size_t j = 0; j < m * isz; j++) {
            size_t c = j % C;
            x[j] = (float)((X[i * isz + j] / 255.0 - net->mean[c]) / net->stdev[c]);
        }
        if (!(s = at_cnn_forward(net, x, m, p, threads, err)))
            for (size_t j = 0; j < m * k; j++) P[i * k + j] = p[j];
    }
    free(x), free(p);
    return s;
}

static at_status ops_save(const void *impl, at_store *st, at_error *err) {
    return at_cnn_save(((const holder *)impl)->net, st, "model/", err);
}
static at_status ops_load(void *impl, at_store *st, at_error *err) {
    holder *h = impl;
    at_cnn_free(h->net);
    h->net = NULL;
    return at_cnn_load(st, "model/", &h->net, err);
}
static void ops_free(void *impl) {
    holder *h = impl;
    at_cnn_free(h->net);
    free(h);
}
static const at_history *ops_history(const void *impl) { return at_cnn_history(((const holder *)impl)->net); }
static void ops_describe(const void *impl, at_json *j) {
    const at_cnn *net = ((const holder *)impl)->net;
    const at_cnn_params *q = &net->spec->p;
    at_json_kv_int(j, "parameters", (int64_t)net->nn.np);
    at_json_kv_number(j, "forward_mflop_per_image", at_cnn_flops(net) / 1e6);
    at_json_kv_int(j, "layers", (int64_t)net->nn.nl);
    at_json_kv_int(j, "best_epoch", (int64_t)net->best_epoch);
    at_json_kv_int(j, "epochs_run", (int64_t)net->hist_rows);
    at_json_key(j, "input");
    at_json_begin_array(j);
    at_json_int(j, (int64_t)q->height);
    at_json_int(j, (int64_t)q->width);
    at_json_int(j, (int64_t)q->channels);
    at_json_end_array(j);
    at_json_kv_string(j, "tta", q->tta ? "d4" : "none");
}

const at_model_ops at_cnn_ops = {
    .type = "cnn",
    .fit = ops_fit,
    .predict_proba = ops_predict,
    .save = ops_save,
    .load = ops_load,
    .free = ops_free,
    .history = ops_history,
    .describe = ops_describe,
    .predict_images = ops_predict_images,
};

at_status at_cnn_model_wrap(at_cnn *net, at_model **out, at_error *err) {
    *out = NULL;
    at_model *m = at_calloc(1, sizeof *m, err);
    holder *h = at_calloc(1, sizeof *h, err);
    if (!m || !h) {
        free(m), free(h);
        at_cnn_free(net);
        return AT_ERR_MEMORY;
    }
    h->net = net;
    m->ops = &at_cnn_ops;
    m->impl = h;
    m->n_classes = net ? net->nn.k : 0;
    m->n_features = net ? net->nn.L[0].in_size : 0;
    *out = m;
    return AT_OK;
}

at_cnn *at_cnn_model_net(const at_model *m) {
    if (!m || m->ops != &at_cnn_ops || !m->impl) return NULL;
    return ((const holder *)m->impl)->net;
}
