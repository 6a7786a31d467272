/* optim.c - the engine's one optimiser (SGD with momentum or Nesterov, Adam with L2 through
 * the gradient, AdamW with decoupled decay) over a net's flat parameter vector, and its
 * learning-rate schedules (warm-up, constant, step, cosine; unit: epochs with fractional
 * progress, see include/astrotrain/nn.h).
 *
 * Weight decay applies to conv and dense weights only: decaying biases and batch-norm
 * scales only fights the normalisation. The update itself runs on the net's backend. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/nn/nn.h"

at_status nn_optim_init(const nn_net *net, nn_optim *o, at_error *err) {
    memset(o, 0, sizeof *o);
    o->m = at_calloc(net->np ? net->np : 1, sizeof(float), err);
    o->v = at_calloc(net->np ? net->np : 1, sizeof(float), err);
    if (!o->m || !o->v) {
        nn_optim_free(o);
        return AT_ERR_MEMORY;
    }
    return AT_OK;
}

void nn_optim_free(nn_optim *o) {
    free(o->m), free(o->v);
    o->m = o->v = NULL;
}

/* The step's constants for decay wd (0 for biases and batch-norm parameters). */
static nn_update constants(const nn_opt_conf *c, int64_t step, double lr, double wd) {
    nn_update u = {.kind = c->kind, .nesterov = c->nesterov, .mu = (float)c->momentum, .step = (float)lr,
                   .l2 = (float)wd, .decay = 1.0f};
    if (c->kind == AT_OPT_SGD) return u;
    double b1 = c->beta1, b2 = c->beta2, t = (double)step;
    u.b1 = (float)b1, u.b2 = (float)b2;
    /* bias corrections folded into the step size and eps */
    u.step = (float)(lr * sqrt(1 - pow(b2, t)) / (1 - pow(b1, t)));
    u.eps = (float)(c->eps * sqrt(1 - pow(b2, t)));
    u.l2 = c->kind == AT_OPT_ADAM ? (float)wd : 0.0f;
    u.decay = c->kind == AT_OPT_ADAMW ? (float)(1 - lr * wd) : 1.0f;
    return u;
}

void nn_optim_step(const nn_net *net, const nn_opt_conf *c, nn_optim *o, const float *g, double lr) {
    o->t++;
    nn_update dw = constants(c, o->t, lr, c->weight_decay), d0 = constants(c, o->t, lr, 0.0);
    void (*update)(const nn_update *, float *, const float *, float *, float *, size_t) = net->be->update;
    float *w = net->params;
    double scale_now = 1.0;
    for (size_t li = net->frozen; li < net->nl; li++) { /* frozen layers: no update, no decay */
        const nn_layer *l = &net->L[li];
        if (!l->w_n) continue;
        double scale = net->lr_scale ? net->lr_scale[li] : 1.0;
        if (scale != scale_now) { /* per-layer learning rate (lr_decay) */
            dw = constants(c, o->t, lr * scale, c->weight_decay), d0 = constants(c, o->t, lr * scale, 0.0);
            scale_now = scale;
        }
        update(&dw, w + l->w_off, g + l->w_off, o->m + l->w_off, o->v + l->w_off, l->w_n);
        if (l->s.kind == L_CONV && l->s.bn)
            update(&d0, w + l->g_off, g + l->g_off, o->m + l->g_off, o->v + l->g_off, l->s.out_c);
        update(&d0, w + l->b_off, g + l->b_off, o->m + l->b_off, o->v + l->b_off, l->b_n);
    }
}

double nn_learning_rate(const nn_schedule *p, int64_t step, size_t steps_per_epoch) {
    double S = (double)(steps_per_epoch ? steps_per_epoch : 1);
    double e = (double)step / S; /* epochs done */
    double lr = p->learning_rate;
    if (p->warmup > 0 && e < p->warmup) {
        double f = (e + 1.0 / S) / p->warmup;
        return lr * (f < 1 ? f : 1);
    }
    switch (p->schedule) {
    case AT_LR_STEP: return lr * pow(p->gamma, floor(e / p->step_size));
    case AT_LR_COSINE: {
        double span = p->epochs - p->warmup;
        double t = span > 0 ? (e - p->warmup) / span : 1;
        if (t > 1) t = 1;
        return lr * 0.5 * (1 + cos(M_PI * t));
    }
    default: return lr;
    }
}
