/* optim.c - the CNN's [net] optimiser and schedule settings handed to the engine's one
 * optimiser and schedule (src/models/nn/optim.c). */
#include "models/cnn/cnn_internal.h"

nn_opt_conf cnn_opt_conf(const at_cnn_params *p) {
    return (nn_opt_conf){.kind = p->optimizer, .nesterov = p->nesterov, .momentum = p->momentum,
                         .beta1 = p->beta1, .beta2 = p->beta2, .eps = p->eps, .weight_decay = p->weight_decay};
}

nn_schedule cnn_schedule(const at_cnn_params *p) {
    return (nn_schedule){.learning_rate = p->learning_rate, .schedule = p->schedule, .warmup = p->warmup,
                         .step_size = (double)p->step_size, .gamma = p->gamma, .epochs = (double)p->epochs};
}

double cnn_learning_rate(const at_cnn_params *p, int64_t step, size_t steps_per_epoch) {
    nn_schedule s = cnn_schedule(p);
    return nn_learning_rate(&s, step, steps_per_epoch);
}
