/* mlp_internal.h - (private) the MLP's shape, its network on the engine and the model
 * state, shared by mlp.c (training), mlp_net.c (layout, engine network, initialisation)
 * and mlp_io.c (files). */
#ifndef ASTROTRAIN_MODELS_MLP_INTERNAL_H
#define ASTROTRAIN_MODELS_MLP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "astrotrain/mlp.h"
#include "astrotrain/rng.h"
#include "models/nn/nn.h"

#define MLP_MAX_LAYERS (AT_MLP_MAX_HIDDEN + 1) /* dense layers, the output one included */
#define MLP_LEAKY_SLOPE 0.01f
#define MLP_ADAM_EPS 1e-8

/* The shape of a network and where each layer's arrays lie in one parameter vector:
 * all weights first (layer after layer, fan_in x fan_out row-major), then all biases, so
 * that weight decay applies to one contiguous range. */
typedef struct mlp_net {
    size_t n_layers;                   /* dense layers: hidden + 1 */
    size_t sizes[MLP_MAX_LAYERS + 1];  /* sizes[0] = features, sizes[n_layers] = classes */
    size_t w_off[MLP_MAX_LAYERS];
    size_t b_off[MLP_MAX_LAYERS];
    size_t n_weights, n_params;
    size_t max_width;
    int activation;
} mlp_net;

/* Fills offsets from sizes[0..n_layers]; 0 when the shape is too large to address. */
int mlp_net_layout(mlp_net *net);

/* The network on the engine (src/models/nn): per hidden layer a dense layer with the
 * activation (and a dropout layer when dropout > 0), then a linear dense output layer and
 * a softmax. Inputs are NHWC with H = W = 1. The dense layers' parameters keep the MLP's
 * layout (all weights, then all biases), so model files and at_mlp_get_parameters are
 * unchanged. eng.net.L points into eng.L: an mlp_engine is never copied by value. */
#define MLP_MAX_NN_LAYERS (2 * AT_MLP_MAX_HIDDEN + 2)

typedef struct mlp_engine {
    nn_layer L[MLP_MAX_NN_LAYERS];
    nn_net net;
} mlp_engine;

/* Builds eng for shape (params and grads set to the given pointers, which may be NULL). */
void mlp_engine_build(const mlp_net *shape, double dropout, float *params, float *grads, mlp_engine *eng);

/* dst = sum of grads[0..n_grads) (summed in that order), n values: the shards' gradients. */
void mlp_sum_grads(float *dst, float *const *grads, size_t n_grads, size_t n);

#define MLP_MAX_SHARDS 64

/* One shard's workspace: the engine's buffers (one thread) and the gathered rows. */
typedef struct mlp_shard {
    nn_work *w;
    float *x;   /* rows x d */
    int32_t *y; /* rows */
    float *sw;  /* rows: sample weights */
} mlp_shard;

at_status mlp_shard_alloc(mlp_shard *s, const nn_net *net, size_t rows, size_t d, int training, at_error *err);
void mlp_shard_free(mlp_shard *s);

/* Initial weights (He or Xavier by params' init and activation), zero biases. */
void mlp_init_params(const mlp_net *net, int init, uint64_t seed, float *params);

/* The [model] settings as the engine's optimiser (Adam's eps is 1e-8) and schedule. */
nn_opt_conf mlp_opt_conf(const at_mlp_params *p);
nn_schedule mlp_schedule(const at_mlp_params *p);

/* The family's state behind at_model. */
typedef struct mlp_model {
    at_mlp_params p;
    mlp_net net;
    float *params; /* n_params, NULL until fitted or loaded */
    mlp_engine eng; /* the network on the engine, over params */
    int64_t best_epoch;
    int64_t epochs_run;
    int stopped_early;
    /* History: n_rows x 6 (epoch, train_loss, train_accuracy, valid_loss, valid_accuracy,
     * learning_rate). */
    at_history hist;
    double *hist_values;
} mlp_model;

extern const char *const mlp_history_names[6];

/* The model takes ownership of its fitted state, from a fit or a file: params (n_params) and
 * the history (hist_rows x 6, may be NULL), replacing what it had. The caller then points the
 * engine at m->params. */
void mlp_adopt(mlp_model *m, float *params, double *hist, size_t hist_rows, int64_t best_epoch,
               int64_t epochs_run);

/* mlp_fit.c: the training loop (at_model_ops.fit). */
at_status mlp_fit(void *impl, const at_fit_input *in, at_error *err);

/* mlp_io.c: the model's arrays under "model/" in a model file. */
at_status mlp_save(const void *impl, at_store *st, at_error *err);
at_status mlp_load(void *impl, at_store *st, at_error *err);

#endif
