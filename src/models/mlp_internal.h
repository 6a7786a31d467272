/* mlp_internal.h - (private) the MLP's network, work space and model state, shared by
 * mlp.c (training), mlp_net.c (forward and backward passes) and mlp_io.c (files). */
#ifndef ASTROTRAIN_MODELS_MLP_INTERNAL_H
#define ASTROTRAIN_MODELS_MLP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "astrotrain/mlp.h"
#include "astrotrain/rng.h"

#define MLP_MAX_LAYERS (AT_MLP_MAX_HIDDEN + 1) /* dense layers, the output one included */
#define MLP_LEAKY_SLOPE 0.01f

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

/* Scratch for one shard of up to `rows` rows: no allocation while training. */
typedef struct mlp_work {
    size_t rows;
    float *act[MLP_MAX_LAYERS + 1]; /* act[0]: input; act[l]: layer l's output (after dropout) */
    float *mask[MLP_MAX_LAYERS];    /* dropout scale per hidden unit (0 or 1/(1-p)), or NULL */
    float *delta[2];                /* rows x max_width: the gradient flowing backwards */
    float *grad;                    /* n_params */
    int32_t *y;                     /* rows: labels of the gathered rows */
    float *sw;                      /* rows: sample weights */
} mlp_work;

at_status mlp_work_alloc(mlp_work *w, const mlp_net *net, size_t rows, int dropout,
                         int with_grad, at_error *err);
void mlp_work_free(mlp_work *w);

/* Forward pass over w->act[0] (rows x features), leaving class probabilities in
 * w->act[n_layers]. With drop_rate > 0 and rng, hidden outputs are dropped (inverted
 * dropout: survivors scaled by 1/(1-rate)). */
void mlp_forward(const mlp_net *net, const float *params, mlp_work *w, size_t rows,
                 float drop_rate, at_rng *rng);

/* Softmax cross-entropy of the probabilities in w->act[n_layers] against w->y weighted by
 * w->sw; returns sum(sw * -log p_y) and counts correct predictions. With scale > 0 it also
 * leaves d(scale * loss)/d(logits) in w->delta[0]. */
double mlp_loss(const mlp_net *net, mlp_work *w, size_t rows, float scale, size_t *n_correct);

/* Backward pass from w->delta[0] (set by mlp_loss): fills w->grad (overwritten). */
void mlp_backward(const mlp_net *net, const float *params, mlp_work *w, size_t rows);

/* Initial weights (He or Xavier by params' init and activation), zero biases. */
void mlp_init_params(const mlp_net *net, int init, uint64_t seed, float *params);

/* mlp_optim.c: the optimiser's constants and one step. */
typedef struct mlp_opt {
    int kind;      /* at_mlp_optimizer */
    int nesterov;
    float wd, mu;  /* weight decay, SGD momentum */
    float b1, b2;  /* Adam */
} mlp_opt;

/* The learning rate of epoch e (0-based): linear warm-up over the first `warmup` epochs
 * (lr * (e+1) / (warmup+1)), then the schedule over the remaining epochs. */
double mlp_epoch_lr(const at_mlp_params *p, int64_t e);

/* One update of params[0, n_params) with the gradient sum(grads[0..n_grads)) (summed in
 * that order), L2 weight decay on the first n_weights. m1, m2: Adam's moments (m1 is the
 * SGD velocity); step: 1-based update count (Adam's bias correction). */
void mlp_opt_step(const mlp_opt *o, float *params, float *m1, float *m2, float *const *grads,
                  size_t n_grads, size_t n_params, size_t n_weights, int64_t step, double lr);

/* The family's state behind at_model. */
typedef struct mlp_model {
    at_mlp_params p;
    mlp_net net;
    float *params; /* n_params, NULL until fitted or loaded */
    int64_t best_epoch;
    int64_t epochs_run;
    int stopped_early;
    /* History: n_rows x 6 (epoch, train_loss, train_accuracy, valid_loss, valid_accuracy,
     * learning_rate). */
    at_history hist;
    double *hist_values;
} mlp_model;

extern const char *const mlp_history_names[6];

/* mlp_io.c: the model's arrays under "model/" in a model file. */
at_status mlp_save(const void *impl, at_store *st, at_error *err);
at_status mlp_load(void *impl, at_store *st, at_error *err);

#endif
