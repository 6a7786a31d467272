/* mlp_params.c - the MLP's [model] keys: the one place of their defaults, ranges and docs
 * (config parsing, at_mlp_params_default, docs/config.md), and the checks across keys. */
#include <string.h>

#include "astrotrain/mlp.h"
#include "models/params.h"

#define M_(f) AT_KEY_FIELD(at_mlp_params, f)

static const at_key keys[] = {
    {"model", "class_weight", AT_KEY_CHOICE, M_(class_weight), "none", 0, 0, "none|balanced",
     "balanced weighs each row's loss by n / (k * count) of its class on the training part."},
    {"model", "hidden", AT_KEY_STR, M_(hidden), "64,64", 0, 0, NULL,
     "Hidden layer widths, comma-separated: up to 16 layers of 1 to 65536 units (empty: softmax regression)."},
    {"model", "activation", AT_KEY_CHOICE, M_(activation), "relu", 0, 0, "relu|leaky_relu|tanh|sigmoid",
     "Hidden-layer activation (leaky_relu has slope 0.01 below zero)."},
    {"model", "optimizer", AT_KEY_CHOICE, M_(optimizer), "adam", 0, 0, "adam|sgd",
     "Adam, or mini-batch SGD with momentum."},
    {"model", "learning_rate", AT_KEY_REAL, M_(learning_rate), "0.001", 1e-9, 10, NULL,
     "Step size (the peak value when warmup or a schedule is used)."},
    {"model", "batch_size", AT_KEY_INT, M_(batch_size), "256", 1, 1048576, NULL,
     "Rows per mini-batch; the rows are reshuffled every epoch."},
    {"model", "epochs", AT_KEY_INT, M_(epochs), "50", 1, 1000000, NULL,
     "Passes over the training part (at most, with patience)."},
    {"model", "momentum", AT_KEY_REAL, M_(momentum), "0.9", 0, 0.999, NULL, "SGD momentum (optimizer = sgd)."},
    {"model", "nesterov", AT_KEY_BOOL, M_(nesterov), "false", 0, 0, NULL, "Nesterov momentum (optimizer = sgd)."},
    {"model", "beta1", AT_KEY_REAL, M_(beta1), "0.9", 0, 0.999999, NULL,
     "Adam: decay rate of the gradient's running mean."},
    {"model", "beta2", AT_KEY_REAL, M_(beta2), "0.999", 0, 0.999999, NULL,
     "Adam: decay rate of the squared gradient's running mean."},
    {"model", "weight_decay", AT_KEY_REAL, M_(weight_decay), "0", 0, 1, NULL,
     "L2 penalty on the weights (not the biases), added to the gradient."},
    {"model", "dropout", AT_KEY_REAL, M_(dropout), "0", 0, 0.95, NULL,
     "Fraction of hidden units dropped while training (inverted dropout; none at prediction)."},
    {"model", "init", AT_KEY_CHOICE, M_(init), "auto", 0, 0, "auto|he|xavier",
     "Initial weights: he (normal) or xavier (uniform); auto = he for relu/leaky_relu, xavier otherwise."},
    {"model", "schedule", AT_KEY_CHOICE, M_(schedule), "constant", 0, 0, "constant|step|cosine",
     "Learning rate after warm-up: constant, step (times gamma every step_size epochs) or cosine (decays to 0)."},
    {"model", "step_size", AT_KEY_INT, M_(step_size), "10", 1, 1000000, NULL,
     "Epochs between learning-rate drops (schedule = step)."},
    {"model", "gamma", AT_KEY_REAL, M_(gamma), "0.1", 1e-6, 1, NULL,
     "Factor applied at each learning-rate drop (schedule = step)."},
    {"model", "warmup", AT_KEY_INT, M_(warmup), "0", 0, 1000000, NULL,
     "Epochs of linear learning-rate warm-up, ramped at every step: lr * min(1, (step + 1) / (warmup * "
     "steps_per_epoch)); the schedule then runs on fractional epochs (step / steps_per_epoch), as the cnn's. "
     "Must be less than epochs."},
    {"model", "patience", AT_KEY_INT, M_(patience), "0", 0, 1000000, NULL,
     "Early stopping: stop after this many epochs without a lower validation loss and keep the best "
     "epoch's weights; 0 = off."},
};

static at_status check(const void *params, at_error *err) {
    const at_mlp_params *p = params;
    size_t hidden[AT_MLP_MAX_HIDDEN], nh;
    at_status st = at_mlp_parse_hidden(p->hidden, hidden, &nh, err);
    if (st) return st;
    if (p->warmup >= p->epochs)
        return at_fail(err, AT_ERR_CONFIG, "warmup = %lld must be less than epochs = %lld", (long long)p->warmup,
                       (long long)p->epochs);
    return AT_OK;
}

const at_key_table at_mlp_param_table = {keys, sizeof keys / sizeof keys[0], sizeof(at_mlp_params), check};

void at_mlp_params_default(at_mlp_params *p) {
    memset(p, 0, sizeof *p);
    at_params_fill_defaults(&at_mlp_param_table, p);
}
