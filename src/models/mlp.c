/* mlp.c - the MLP family's glue: parameters, construction, prediction on the engine and
 * the at_model_ops table. The training loop is in mlp_fit.c.
 *
 * The network runs on the engine (src/models/nn: dense, dropout and softmax layers, the one
 * optimiser and schedule). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/forest.h" /* at_class_weight */
#include "models/mlp_internal.h"

const char *const mlp_history_names[6] = {"epoch",      "train_loss",     "train_accuracy",
                                          "valid_loss", "valid_accuracy", "learning_rate"};

void mlp_adopt(mlp_model *m, float *params, double *hist, size_t hist_rows, int64_t best_epoch,
               int64_t epochs_run) {
    free(m->params);
    free(m->hist_values);
    m->params = params;
    m->hist_values = hist;
    m->hist.n_rows = hist_rows;
    m->hist.n_cols = 6;
    m->hist.names = mlp_history_names;
    m->hist.values = hist;
    m->best_epoch = best_epoch;
    m->epochs_run = epochs_run;
}

static const char *const activation_names[] = {"relu", "leaky_relu", "tanh", "sigmoid"};

const char *at_mlp_activation_name(int activation) {
    return activation >= 0 && activation < 4 ? activation_names[activation] : "?";
}

at_status at_mlp_parse_hidden(const char *text, size_t sizes[AT_MLP_MAX_HIDDEN], size_t *n,
                              at_error *err) {
    *n = 0;
    const char *s = text;
    while (isspace((unsigned char)*s)) s++;
    if (*s == '\0') return AT_OK; /* no hidden layer: multinomial logistic regression */
    for (;;) {
        while (isspace((unsigned char)*s)) s++;
        if (!isdigit((unsigned char)*s))
            return at_fail(err, AT_ERR_CONFIG,
                           "hidden = '%s': expected a comma-separated list of layer widths "
                           "such as '64, 64'",
                           text);
        errno = 0;
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || v < 1 || v > 65536)
            return at_fail(err, AT_ERR_CONFIG, "hidden = '%s': a layer width must be 1 to 65536",
                           text);
        if (*n == AT_MLP_MAX_HIDDEN)
            return at_fail(err, AT_ERR_CONFIG, "hidden = '%s': at most %d hidden layers", text,
                           AT_MLP_MAX_HIDDEN);
        sizes[(*n)++] = (size_t)v;
        s = end;
        while (isspace((unsigned char)*s)) s++;
        if (*s == '\0') return AT_OK;
        if (*s != ',')
            return at_fail(err, AT_ERR_CONFIG,
                           "hidden = '%s': expected a comma-separated list of layer widths "
                           "such as '64, 64'",
                           text);
        s++;
    }
}

static at_status check_params(const at_mlp_params *p, at_error *err) {
#define BAD(...) return at_fail(err, AT_ERR_CONFIG, __VA_ARGS__)
    if (p->activation < 0 || p->activation > AT_MLP_SIGMOID) BAD("mlp: unknown activation");
    if (p->optimizer < 0 || p->optimizer > AT_MLP_SGD) BAD("mlp: unknown optimizer");
    if (!(p->learning_rate > 0.0 && p->learning_rate <= 10.0))
        BAD("learning_rate = %g: must be in (0, 10]", p->learning_rate);
    if (p->batch_size < 1 || p->batch_size > (1 << 20))
        BAD("batch_size = %lld: must be 1 to 1048576", (long long)p->batch_size);
    if (p->epochs < 1 || p->epochs > 1000000)
        BAD("epochs = %lld: must be 1 to 1000000", (long long)p->epochs);
    if (!(p->momentum >= 0.0 && p->momentum < 1.0)) BAD("momentum = %g: must be in [0, 1)", p->momentum);
    if (!(p->beta1 >= 0.0 && p->beta1 < 1.0)) BAD("beta1 = %g: must be in [0, 1)", p->beta1);
    if (!(p->beta2 >= 0.0 && p->beta2 < 1.0)) BAD("beta2 = %g: must be in [0, 1)", p->beta2);
    if (!(p->weight_decay >= 0.0 && p->weight_decay <= 1.0))
        BAD("weight_decay = %g: must be in [0, 1]", p->weight_decay);
    if (!(p->dropout >= 0.0 && p->dropout <= 0.95))
        BAD("dropout = %g: must be in [0, 0.95]", p->dropout);
    if (p->init < 0 || p->init > AT_MLP_INIT_XAVIER) BAD("mlp: unknown init");
    if (p->schedule < 0 || p->schedule > AT_MLP_SCHEDULE_COSINE) BAD("mlp: unknown schedule");
    if (p->step_size < 1) BAD("step_size = %lld: must be at least 1", (long long)p->step_size);
    if (!(p->gamma > 0.0 && p->gamma <= 1.0)) BAD("gamma = %g: must be in (0, 1]", p->gamma);
    if (p->warmup < 0 || p->warmup >= p->epochs)
        BAD("warmup = %lld: must be 0 to epochs - 1 (%lld)", (long long)p->warmup,
            (long long)p->epochs - 1);
    if (p->patience < 0) BAD("patience = %lld: must be 0 (off) or more", (long long)p->patience);
    if (p->class_weight != AT_CLASS_WEIGHT_NONE && p->class_weight != AT_CLASS_WEIGHT_BALANCED)
        BAD("mlp: unknown class_weight");
    return AT_OK;
#undef BAD
}

at_status at_mlp_new(const at_mlp_params *p, size_t n_features, size_t n_classes, at_model **out,
                     at_error *err) {
    *out = NULL;
    at_status s;
    size_t hidden[AT_MLP_MAX_HIDDEN], nh = 0;
    if ((s = check_params(p, err)) || (s = at_mlp_parse_hidden(p->hidden, hidden, &nh, err)))
        return s;
    if (n_classes < 2) return at_fail(err, AT_ERR_DATA, "mlp: needs at least two classes");
    mlp_model *mm = at_calloc(1, sizeof *mm, err);
    if (!mm) return AT_ERR_MEMORY;
    mm->p = *p;
    mm->net.n_layers = nh + 1;
    mm->net.sizes[0] = n_features;
    for (size_t i = 0; i < nh; i++) mm->net.sizes[i + 1] = hidden[i];
    mm->net.sizes[nh + 1] = n_classes;
    mm->net.activation = p->activation;
    if (!mlp_net_layout(&mm->net)) {
        free(mm);
        return at_fail(err, AT_ERR_CONFIG, "mlp: the network is too large");
    }
    mlp_engine_build(&mm->net, p->dropout, NULL, NULL, &mm->eng);
    at_model *m = at_calloc(1, sizeof *m, err);
    if (!m) {
        free(mm);
        return AT_ERR_MEMORY;
    }
    m->ops = &at_mlp_ops;
    m->impl = mm;
    m->n_features = n_features;
    m->n_classes = n_classes;
    *out = m;
    return AT_OK;
}

#define MLP_PREDICT_ROWS 256

static at_status mlp_predict_proba(const void *impl, const double *X, size_t n, double *P,
                                   int threads, at_error *err) {
    const mlp_model *m = impl;
    const mlp_net *net = &m->net;
    if (!m->params) return at_fail(err, AT_ERR_INTERNAL, "mlp: predict before fit");
    size_t d = net->sizes[0], k = net->sizes[net->n_layers];
    size_t n_chunks = (n + MLP_PREDICT_ROWS - 1) / MLP_PREDICT_ROWS;
    size_t T = threads > 0 ? (size_t)threads : 1;
    if (T > MLP_MAX_SHARDS) T = MLP_MAX_SHARDS;
    if (T > n_chunks) T = n_chunks;
    mlp_shard sh[MLP_MAX_SHARDS];
    memset(sh, 0, sizeof sh);
    at_status st = AT_OK;
    /* A private copy of the net: the model is shared by the callers' threads. */
    nn_net eng = m->eng.net;
    eng.params = m->params;
    for (size_t t = 0; t < T; t++)
        if ((st = mlp_shard_alloc(&sh[t], &eng, MLP_PREDICT_ROWS, d, 0, err))) goto done;
#pragma omp parallel for num_threads((int)T) schedule(static)
    for (size_t c = 0; c < n_chunks; c++) {
        mlp_shard *w = &sh[omp_get_thread_num()];
        size_t lo = c * MLP_PREDICT_ROWS, r = n - lo < MLP_PREDICT_ROWS ? n - lo : MLP_PREDICT_ROWS;
        for (size_t i = 0; i < r * d; i++) w->x[i] = (float)X[lo * d + i];
        /* Always a full block: OpenBLAS computes tail rows with other kernels, and a row's
         * probabilities must not depend on where it falls in the input (predict on a file
         * reproduces the run's predictions.csv exactly). */
        for (size_t i = r * d; i < MLP_PREDICT_ROWS * d; i++) w->x[i] = 0.0f;
        nn_forward(&eng, w->w, w->x, MLP_PREDICT_ROWS);
        const float *out = w->w->out[eng.nl - 1];
        for (size_t i = 0; i < r * k; i++) P[lo * k + i] = out[i];
    }
done:
    for (size_t t = 0; t < T; t++) mlp_shard_free(&sh[t]);
    return st;
}

static void mlp_free(void *impl) {
    mlp_model *m = impl;
    if (!m) return;
    free(m->params);
    free(m->hist_values);
    free(m);
}

static const at_history *mlp_history(const void *impl) {
    const mlp_model *m = impl;
    return m->hist.n_rows ? &m->hist : NULL;
}

static void mlp_describe(const void *impl, at_json *j) {
    const mlp_model *m = impl;
    at_json_key(j, "layers");
    at_json_begin_array(j);
    for (size_t l = 0; l <= m->net.n_layers; l++) at_json_int(j, (int64_t)m->net.sizes[l]);
    at_json_end_array(j);
    at_json_kv_string(j, "activation", at_mlp_activation_name(m->net.activation));
    at_json_kv_int(j, "n_parameters", (int64_t)m->net.n_params);
    at_json_kv_int(j, "epochs_run", m->epochs_run);
    at_json_kv_int(j, "best_epoch", m->best_epoch);
    at_json_key(j, "stopped_early");
    at_json_bool(j, m->stopped_early);
    if (m->hist.n_rows) {
        const double *h = m->hist.values + (size_t)(m->best_epoch > 0 ? m->best_epoch - 1 : 0) * 6;
        at_json_kv_number(j, "train_loss", h[1]);
        at_json_kv_number(j, "valid_loss", h[3]);
        at_json_kv_number(j, "valid_accuracy", h[4]);
    }
}

size_t at_mlp_n_parameters(const at_model *m) { return ((const mlp_model *)m->impl)->net.n_params; }

int64_t at_mlp_best_epoch(const at_model *m) { return ((const mlp_model *)m->impl)->best_epoch; }

void at_mlp_get_parameters(const at_model *m, float *out) {
    const mlp_model *mm = m->impl;
    if (mm->params) memcpy(out, mm->params, mm->net.n_params * sizeof(float));
    else memset(out, 0, mm->net.n_params * sizeof(float));
}

/* Peak memory of a fit: the float copy of the data, per-thread parameter replicas with Adam
 * moments, two gradient buffers per shard, and the activations of one batch per shard. */
static size_t mlp_memory_estimate(const void *mp, size_t n, size_t d, size_t k, int threads) {
    const at_mlp_params *p = mp;
    size_t sizes[AT_MLP_MAX_HIDDEN], nh = 0;
    at_error e;
    if (at_mlp_parse_hidden(p->hidden, sizes, &nh, &e)) return 0;
    double params = 0, widest = (double)(d > k ? d : k), prev = (double)d;
    for (size_t l = 0; l < nh; l++) {
        params += prev * (double)sizes[l] + (double)sizes[l];
        prev = (double)sizes[l];
        if ((double)sizes[l] > widest) widest = (double)sizes[l];
    }
    params += prev * (double)k + (double)k;
    double shards = threads > 0 ? (double)threads : 1.0;
    double replicas = shards * params * 4.0 * 3.0 + 2.0 * shards * params * 4.0 + params * 4.0;
    double batch = shards * (double)p->batch_size * widest * 4.0 * ((double)nh + 6.0);
    double data = (double)n * ((double)d * 4.0 + 16.0);
    double total = replicas + batch + data;
    return total >= (double)SIZE_MAX ? SIZE_MAX : (size_t)total;
}

const at_model_ops at_mlp_ops = {
    .memory_estimate = mlp_memory_estimate,
    .type = "mlp",
    .fit = mlp_fit,
    .predict_proba = mlp_predict_proba,
    .save = mlp_save,
    .load = mlp_load,
    .free = mlp_free,
    .importances = NULL,
    .history = mlp_history,
    .describe = mlp_describe,
};
