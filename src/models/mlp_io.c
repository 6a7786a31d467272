/* mlp_io.c - the MLP's part of a model file, under "model/":
 *   layer_sizes      int64 [n_layers + 1]: features, hidden widths..., classes
 *   activation       string: relu, leaky_relu, tanh or sigmoid
 *   layerL/weight    float32 [fan_in][fan_out], one group per dense layer L = 0, 1, ...
 *   layerL/bias      float32 [fan_out]
 *   best_epoch, epochs_run   int64
 *   history          float64 [epochs_run][6], columns named in history_columns
 * Loading checks every shape against layer_sizes and every value for finiteness before
 * trusting it: a corrupt file is AT_ERR_MODEL, never a crash. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/mlp_internal.h"

/* Largest parameter count a file may claim (1 GiB of float32). */
#define MLP_MAX_FILE_PARAMS ((size_t)1 << 28)
#define MLP_MAX_HISTORY_ROWS 1000000

at_status mlp_save(const void *impl, at_store *st, at_error *err) {
    const mlp_model *m = impl;
    const mlp_net *net = &m->net;
    if (!m->params) return at_fail(err, AT_ERR_INTERNAL, "mlp: saving a model that was never fitted");
    at_status s;
    int64_t sizes[MLP_MAX_LAYERS + 1];
    for (size_t l = 0; l <= net->n_layers; l++) sizes[l] = (int64_t)net->sizes[l];
    if ((s = at_store_put_i64(st, "model/layer_sizes", sizes, net->n_layers + 1, err)) ||
        (s = at_store_put_str(st, "model/activation", at_mlp_activation_name(net->activation), err)))
        return s;
    for (size_t l = 0; l < net->n_layers; l++) {
        char name[64];
        snprintf(name, sizeof name, "model/layer%zu/weight", l);
        if ((s = at_store_put_f32_2d(st, name, m->params + net->w_off[l], net->sizes[l],
                                     net->sizes[l + 1], err)))
            return s;
        snprintf(name, sizeof name, "model/layer%zu/bias", l);
        if ((s = at_store_put_f32(st, name, m->params + net->b_off[l], net->sizes[l + 1], err)))
            return s;
    }
    if ((s = at_store_put_int(st, "model/best_epoch", m->best_epoch, err)) ||
        (s = at_store_put_int(st, "model/epochs_run", m->epochs_run, err)))
        return s;
    if (m->hist.n_rows) {
        if ((s = at_store_put_f64_2d(st, "model/history", m->hist.values, m->hist.n_rows, 6, err)) ||
            (s = at_store_put_strs(st, "model/history_columns", mlp_history_names, 6, err)))
            return s;
    }
    return AT_OK;
}

static at_status corrupt(at_store *st, at_error *err, const char *what) {
    return at_fail(err, AT_ERR_MODEL, "%s: corrupt mlp model: %s", at_store_path(st), what);
}

at_status mlp_load(void *impl, at_store *st, at_error *err) {
    mlp_model *m = impl;
    at_status s;
    int64_t *sizes = NULL;
    char *act = NULL;
    float *params = NULL;
    double *hist = NULL;
    size_t n_sizes = 0, hist_rows = 0;
    mlp_net net;
    memset(&net, 0, sizeof net);

    if ((s = at_store_get_i64(st, "model/layer_sizes", &sizes, &n_sizes, err))) goto done;
    if (n_sizes < 2 || n_sizes > MLP_MAX_LAYERS + 1) {
        s = corrupt(st, err, "layer_sizes has an impossible length");
        goto done;
    }
    net.n_layers = n_sizes - 1;
    for (size_t l = 0; l < n_sizes; l++) {
        if (sizes[l] < 1 || sizes[l] > (1 << 20)) {
            s = corrupt(st, err, "a layer size is out of range");
            goto done;
        }
        net.sizes[l] = (size_t)sizes[l];
    }
    /* The shape must agree with meta/ (read by at_model_load into the empty model). */
    if (net.sizes[0] != m->net.sizes[0] || net.sizes[net.n_layers] != m->net.sizes[m->net.n_layers]) {
        s = corrupt(st, err, "layer_sizes disagree with meta/n_features or meta/n_classes");
        goto done;
    }
    if ((s = at_store_get_str(st, "model/activation", &act, err))) goto done;
    net.activation = -1;
    for (int a = 0; a <= AT_MLP_SIGMOID; a++)
        if (strcmp(act, at_mlp_activation_name(a)) == 0) net.activation = a;
    if (net.activation < 0) {
        s = corrupt(st, err, "unknown activation");
        goto done;
    }
    if (!mlp_net_layout(&net) || net.n_params > MLP_MAX_FILE_PARAMS) {
        s = corrupt(st, err, "the network is implausibly large");
        goto done;
    }
    /* Check every array's shape before allocating for them. */
    for (size_t l = 0; l < net.n_layers; l++) {
        char name[64];
        size_t rank, dims[2];
        snprintf(name, sizeof name, "model/layer%zu/weight", l);
        if ((s = at_store_shape(st, name, &rank, dims, err))) goto done;
        if (rank != 2 || dims[0] != net.sizes[l] || dims[1] != net.sizes[l + 1]) {
            s = corrupt(st, err, "a weight matrix does not match layer_sizes");
            goto done;
        }
    }
    if (!(params = at_malloc(net.n_params, sizeof(float), err))) {
        s = AT_ERR_MEMORY;
        goto done;
    }
    for (size_t l = 0; l < net.n_layers; l++) {
        char name[64];
        snprintf(name, sizeof name, "model/layer%zu/weight", l);
        if ((s = at_store_read_f32(st, name, params + net.w_off[l], net.sizes[l] * net.sizes[l + 1],
                                   err)))
            goto done;
        snprintf(name, sizeof name, "model/layer%zu/bias", l);
        if ((s = at_store_read_f32(st, name, params + net.b_off[l], net.sizes[l + 1], err))) goto done;
    }
    for (size_t i = 0; i < net.n_params; i++)
        if (!isfinite(params[i])) {
            s = corrupt(st, err, "a weight is not a finite number");
            goto done;
        }
    int64_t best_epoch = 0, epochs_run = 0;
    if ((at_store_has(st, "model/best_epoch") &&
         (s = at_store_get_int(st, "model/best_epoch", &best_epoch, err))) ||
        (at_store_has(st, "model/epochs_run") &&
         (s = at_store_get_int(st, "model/epochs_run", &epochs_run, err))))
        goto done;
    if (epochs_run < 0 || epochs_run > MLP_MAX_HISTORY_ROWS || best_epoch < 0 || best_epoch > epochs_run) {
        s = corrupt(st, err, "best_epoch or epochs_run out of range");
        goto done;
    }
    if (at_store_has(st, "model/history")) {
        size_t rank, dims[2];
        if ((s = at_store_shape(st, "model/history", &rank, dims, err))) goto done;
        if (rank != 2 || dims[1] != 6 || dims[0] > MLP_MAX_HISTORY_ROWS ||
            dims[0] != (size_t)epochs_run) {
            s = corrupt(st, err, "history has the wrong shape");
            goto done;
        }
        hist_rows = dims[0];
        if (hist_rows) {
            if (!(hist = at_malloc(hist_rows, 6 * sizeof(double), err))) {
                s = AT_ERR_MEMORY;
                goto done;
            }
            if ((s = at_store_read_f64(st, "model/history", hist, hist_rows * 6, err))) goto done;
        }
    }

    /* Commit: the model now describes the file's network. */
    m->net = net;
    m->p.activation = net.activation;
    size_t len = 0;
    m->p.hidden[0] = '\0';
    for (size_t l = 1; l < net.n_layers; l++)
        len += (size_t)snprintf(m->p.hidden + len, len < sizeof m->p.hidden ? sizeof m->p.hidden - len : 0,
                                "%s%zu", l > 1 ? "," : "", net.sizes[l]);
    mlp_adopt(m, params, hist, hist_rows, best_epoch, epochs_run);
    params = NULL;
    hist = NULL;
    mlp_engine_build(&m->net, m->p.dropout, m->params, NULL, &m->eng);
    s = AT_OK;
done:
    free(sizes);
    free(act);
    free(params);
    free(hist);
    return s;
}
