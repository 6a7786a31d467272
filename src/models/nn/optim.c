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
    const at_nn_backend *be = o->be = net->be;
    size_t n = net->np ? net->np : 1;
    o->m = be->alloc(be, n, sizeof(float));
    o->v = be->alloc(be, n, sizeof(float));
    if (!o->m || !o->v) {
        nn_optim_free(o);
        return at_fail(err, AT_ERR_MEMORY, "out of %s memory (optimiser moments of %zu parameters)",
                       be->on_device ? "device" : "host", n);
    }
    be->zero(be, o->m, n * sizeof(float));
    be->zero(be, o->v, n * sizeof(float));
    return AT_OK;
}

void nn_optim_free(nn_optim *o) {
    if (o->be) o->be->release(o->be, o->m), o->be->release(o->be, o->v);
    o->m = o->v = NULL;
}

void nn_optim_get(const nn_optim *o, const nn_net *net, float *m, float *v) {
    o->be->to_host(o->be, m, o->m, net->np * sizeof *m);
    o->be->to_host(o->be, v, o->v, net->np * sizeof *v);
}

void nn_optim_set(nn_optim *o, const nn_net *net, const float *m, const float *v) {
    o->be->to_device(o->be, o->m, m, net->np * sizeof *m);
    o->be->to_device(o->be, o->v, v, net->np * sizeof *v);
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
    const at_nn_backend *be = net->be;
    float *w = nn_params(net);
    double scale_now = 1.0;
    for (size_t li = net->frozen; li < net->nl; li++) { /* frozen layers: no update, no decay */
        const nn_layer *l = &net->L[li];
        if (!l->w_n) continue;
        double scale = net->lr_scale ? net->lr_scale[li] : 1.0;
        if (scale != scale_now) { /* per-layer learning rate (lr_decay) */
            dw = constants(c, o->t, lr * scale, c->weight_decay), d0 = constants(c, o->t, lr * scale, 0.0);
            scale_now = scale;
        }
        be->update(be, &dw, w + l->w_off, g + l->w_off, o->m + l->w_off, o->v + l->w_off, l->w_n);
        if (l->s.kind == L_CONV && l->s.bn)
            be->update(be, &d0, w + l->g_off, g + l->g_off, o->m + l->g_off, o->v + l->g_off, l->s.out_c);
        be->update(be, &d0, w + l->b_off, g + l->b_off, o->m + l->b_off, o->v + l->b_off, l->b_n);
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
