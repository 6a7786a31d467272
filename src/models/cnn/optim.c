/* optim.c - SGD (momentum, Nesterov), Adam and AdamW over the flat parameter vector,
 * and the learning-rate schedules (warm-up, constant, step, cosine).
 *
 * Weight decay applies to conv and dense weights only: decaying biases and batch-norm
 * scales only fights the normalisation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/cnn/cnn_internal.h"

at_status cnn_optim_init(const at_cnn *net, cnn_optim *o, at_error *err) {
    memset(o, 0, sizeof *o);
    o->m = at_calloc(net->np ? net->np : 1, sizeof(float), err);
    o->v = at_calloc(net->np ? net->np : 1, sizeof(float), err);
    if (!o->m || !o->v) {
        cnn_optim_free(o);
        return AT_ERR_MEMORY;
    }
    return AT_OK;
}

void cnn_optim_free(cnn_optim *o) {
    free(o->m), free(o->v);
    o->m = o->v = NULL;
}

/* One update of params[a, b) with decay wd (0 for biases and batch-norm parameters). */
static void update(const at_cnn_params *p, cnn_optim *o, float *w, const float *g, size_t a, size_t b, double lr,
                   double wd) {
    float *m = o->m, *v = o->v;
    if (p->optimizer == AT_OPT_SGD) {
        float mu = (float)p->momentum, flr = (float)lr, fwd = (float)wd;
        for (size_t i = a; i < b; i++) {
            float gi = g[i] + fwd * w[i];
            m[i] = mu * m[i] + gi;
            w[i] -= flr * (p->nesterov ? gi + mu * m[i] : m[i]);
        }
        return;
    }
    double b1 = p->beta1, b2 = p->beta2, t = (double)o->t;
    /* bias corrections folded into the step size */
    float step = (float)(lr * sqrt(1 - pow(b2, t)) / (1 - pow(b1, t)));
    float fb1 = (float)b1, fb2 = (float)b2, eps = (float)(p->eps * sqrt(1 - pow(b2, t)));
    float l2 = p->optimizer == AT_OPT_ADAM ? (float)wd : 0.0f;
    float decay = p->optimizer == AT_OPT_ADAMW ? (float)(1 - lr * wd) : 1.0f;
    for (size_t i = a; i < b; i++) {
        float gi = g[i] + l2 * w[i];
        m[i] = fb1 * m[i] + (1 - fb1) * gi;
        v[i] = fb2 * v[i] + (1 - fb2) * gi * gi;
        w[i] = w[i] * decay - step * m[i] / (sqrtf(v[i]) + eps);
    }
}

void cnn_optim_step(at_cnn *net, cnn_optim *o, double lr) {
    const at_cnn_params *p = &net->spec->p;
    o->t++;
    for (size_t li = 0; li < net->nl; li++) {
        const cnn_layer *l = &net->L[li];
        if (!l->w_n) continue;
        update(p, o, net->params, net->grads, l->w_off, l->w_off + l->w_n, lr, p->weight_decay);
        size_t end = l->b_off + l->b_n; /* gamma (batch norm) sits between the weights and the bias */
        update(p, o, net->params, net->grads, l->w_off + l->w_n, end, lr, 0.0);
    }
}

double cnn_learning_rate(const at_cnn_params *p, int64_t step, size_t steps_per_epoch) {
    double e = (double)step / (double)(steps_per_epoch ? steps_per_epoch : 1); /* epochs done */
    double lr = p->learning_rate;
    if (p->warmup > 0 && e < p->warmup) {
        double f = (e + 1.0 / (double)(steps_per_epoch ? steps_per_epoch : 1)) / p->warmup;
        return lr * (f < 1 ? f : 1);
    }
    switch (p->schedule) {
    case AT_LR_STEP: return lr * pow(p->gamma, floor(e / (double)p->step_size));
    case AT_LR_COSINE: {
        double span = (double)p->epochs - p->warmup;
        double t = span > 0 ? (e - p->warmup) / span : 1;
        if (t > 1) t = 1;
        return lr * 0.5 * (1 + cos(M_PI * t));
    }
    default: return lr;
    }
}
