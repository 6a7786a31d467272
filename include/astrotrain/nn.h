/* nn.h - the settings shared by every network family (MLP, CNN): the optimisers and the
 * learning-rate schedules of the one network engine (src/models/nn).
 *
 * Schedule unit: warm-up, step_size and the cosine span are counted in EPOCHS, with
 * fractional progress: after s optimiser steps of an epoch of S steps the schedule is at
 * epoch e = s / S. Warm-up (W > 0 epochs) ramps linearly from the first step:
 *   e < W:  lr * min(1, (s + 1) / (W * S))
 * then   constant: lr;   step: lr * gamma^floor(e / step_size);
 *        cosine: lr * (1 + cos(pi * min(1, (e - W) / (epochs - W)))) / 2. */
#ifndef ASTROTRAIN_NN_H
#define ASTROTRAIN_NN_H

typedef enum at_optimizer { AT_OPT_SGD = 0, AT_OPT_ADAM = 1, AT_OPT_ADAMW = 2 } at_optimizer;
typedef enum at_lr_schedule { AT_LR_CONSTANT = 0, AT_LR_STEP = 1, AT_LR_COSINE = 2 } at_lr_schedule;

#endif
