/* mlp.h - multilayer perceptron classifier trained by backpropagation.
 *
 * Dense layers in float32 on the network engine shared with the CNN (CPU backend: OpenBLAS
 * sgemm), a softmax cross-entropy output, mini-batch
 * SGD (momentum, Nesterov) or Adam, L2 weight decay, inverted dropout on hidden layers,
 * learning-rate schedules with warm-up, class weights and early stopping on the
 * validation loss. Each mini-batch is cut into one shard per thread; the shards' gradients
 * are summed in a fixed order, so the same seed and thread count give the same weights. */
#ifndef ASTROTRAIN_MLP_H
#define ASTROTRAIN_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "nn.h"

#define AT_MLP_MAX_HIDDEN 16

typedef enum at_mlp_activation {
    AT_MLP_RELU = 0,
    AT_MLP_LEAKY_RELU = 1, /* slope 0.01 below zero */
    AT_MLP_TANH = 2,
    AT_MLP_SIGMOID = 3
} at_mlp_activation;

/* The [model] optimizer choice ("adam|sgd", in the order of the key table); the engine's
 * optimiser (at_optimizer, nn.h) runs it: adam -> AT_OPT_ADAM (eps 1e-8), sgd -> AT_OPT_SGD. */
typedef enum at_mlp_optimizer { AT_MLP_ADAM = 0, AT_MLP_SGD = 1 } at_mlp_optimizer;

/* The engine's schedules (nn.h): evaluated at every optimiser step with fractional epochs
 * e = step / steps_per_epoch; warm-up ramps lr * min(1, (step + 1) / (warmup * steps_per_epoch)). */
typedef enum at_mlp_schedule {
    AT_MLP_SCHEDULE_CONSTANT = AT_LR_CONSTANT,
    AT_MLP_SCHEDULE_STEP = AT_LR_STEP,    /* lr * gamma^(floor(e / step_size)) */
    AT_MLP_SCHEDULE_COSINE = AT_LR_COSINE /* lr * (1 + cos(pi * (e - warmup) / (epochs - warmup))) / 2 */
} at_mlp_schedule;

typedef enum at_mlp_init {
    AT_MLP_INIT_AUTO = 0,  /* he for relu and leaky_relu, xavier for tanh and sigmoid */
    AT_MLP_INIT_HE = 1,    /* normal, std sqrt(2 / fan_in) */
    AT_MLP_INIT_XAVIER = 2 /* uniform, limit sqrt(6 / (fan_in + fan_out)) */
} at_mlp_init;

typedef struct at_mlp_params {
    char hidden[256];       /* "64,64": hidden layer widths, 0 to 16 of them ("" = none) */
    int activation;         /* at_mlp_activation, relu */
    int optimizer;          /* at_mlp_optimizer, adam */
    double learning_rate;   /* 1e-3 */
    int64_t batch_size;     /* 256 */
    int64_t epochs;         /* 50 */
    double momentum;        /* 0.9 (sgd) */
    int nesterov;           /* 0 (sgd) */
    double beta1, beta2;    /* 0.9, 0.999 (adam) */
    double weight_decay;    /* 0: L2 penalty on the weights (not the biases) */
    double dropout;         /* 0: drop rate on hidden-layer outputs while training */
    int init;               /* at_mlp_init, auto */
    int schedule;           /* at_mlp_schedule, constant */
    int64_t step_size;      /* 10 epochs (step schedule) */
    double gamma;           /* 0.1 (step schedule) */
    int64_t warmup;         /* 0 epochs of linear warm-up (ramped per step, nn.h) */
    int64_t patience;       /* 0 = no early stopping */
    int class_weight;       /* at_class_weight (forest.h): none or balanced */
} at_mlp_params;

void at_mlp_params_default(at_mlp_params *p);

/* Parses a hidden-layer list ("64, 64"; "" for none) into sizes[0..*n), at most
 * AT_MLP_MAX_HIDDEN widths in [1, 65536]. AT_ERR_CONFIG with a message otherwise. */
at_status at_mlp_parse_hidden(const char *text, size_t sizes[AT_MLP_MAX_HIDDEN], size_t *n,
                              at_error *err);

/* Names of the enums for config tables and messages. */
const char *at_mlp_activation_name(int activation);

extern const at_model_ops at_mlp_ops;

/* Direct constructor (the registry calls this through at_model_create). Checks the
 * parameters: AT_ERR_CONFIG when one is out of range. */
at_status at_mlp_new(const at_mlp_params *p, size_t n_features, size_t n_classes, at_model **out,
                     at_error *err);

/* The number of trainable parameters, and the epoch (1-based) whose weights the model
 * holds after fit (the best validation epoch with early stopping, else the last). */
size_t at_mlp_n_parameters(const at_model *m);
int64_t at_mlp_best_epoch(const at_model *m);

/* Copies the float32 parameters into out (at_mlp_n_parameters entries): the weights
 * layer after layer (W is fan_in x fan_out, row-major), then the biases: for tests. */
void at_mlp_get_parameters(const at_model *m, float *out);

#endif
