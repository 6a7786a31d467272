/* mlp_net.c - the MLP's shape on the network engine: the parameter layout (all weights,
 * then all biases), the engine network of dense, dropout and softmax layers over it, the
 * optimiser and schedule settings, the shards' gradient sum and the initial weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/mlp_internal.h"

int mlp_net_layout(mlp_net *net) {
    size_t off = 0, max_w = 0;
    for (size_t l = 0; l < net->n_layers; l++) {
        size_t in = net->sizes[l], out = net->sizes[l + 1];
        if (in == 0 || out == 0 || in > (1u << 20) || out > (1u << 20)) return 0;
        if (in * out > ((size_t)1 << 40) - off) return 0;
        net->w_off[l] = off;
        off += in * out;
    }
    net->n_weights = off;
    for (size_t l = 0; l < net->n_layers; l++) {
        net->b_off[l] = off;
        off += net->sizes[l + 1];
    }
    net->n_params = off;
    for (size_t l = 0; l <= net->n_layers; l++)
        if (net->sizes[l] > max_w) max_w = net->sizes[l];
    net->max_width = max_w;
    return 1;
}

static int engine_act(int activation) {
    switch (activation) {
    case AT_MLP_LEAKY_RELU: return ACT_LEAKY;
    case AT_MLP_TANH: return ACT_TANH;
    case AT_MLP_SIGMOID: return ACT_SIGMOID;
    default: return ACT_RELU;
    }
}

static nn_layer *add_layer(mlp_engine *eng, int kind, size_t in, size_t out) {
    nn_layer *l = &eng->L[eng->net.nl++];
    memset(l, 0, sizeof *l);
    l->s.kind = kind;
    l->s.in_h = l->s.in_w = l->s.out_h = l->s.out_w = 1;
    l->s.in_c = in, l->s.out_c = out;
    l->slope = MLP_LEAKY_SLOPE;
    return l;
}

void mlp_engine_build(const mlp_net *shape, double dropout, float *params, float *grads, mlp_engine *eng) {
    memset(&eng->net, 0, sizeof eng->net);
    eng->net.L = eng->L;
    for (size_t l = 0; l < shape->n_layers; l++) {
        size_t in = shape->sizes[l], out = shape->sizes[l + 1];
        int hidden = l + 1 < shape->n_layers;
        nn_layer *d = add_layer(eng, L_DENSE, in, out);
        d->s.units = (int)out;
        d->s.act = hidden ? engine_act(shape->activation) : ACT_LINEAR;
        nn_layer_shape(d);
        d->w_off = shape->w_off[l], d->w_n = in * out;
        d->b_off = shape->b_off[l], d->b_n = out;
        if (hidden && dropout > 0) {
            nn_layer *r = add_layer(eng, L_DROPOUT, out, out);
            r->s.rate = dropout;
            nn_layer_shape(r);
        }
    }
    size_t k = shape->sizes[shape->n_layers];
    nn_layer_shape(add_layer(eng, L_SOFTMAX, k, k));
    eng->net.k = k;
    eng->net.np = shape->n_params;
    eng->net.params = params, eng->net.grads = grads;
    eng->net.be = nn_backend_cpu();
}

void mlp_sum_grads(float *dst, float *const *grads, size_t n_grads, size_t n) {
    memcpy(dst, grads[0], n * sizeof *dst);
    for (size_t s = 1; s < n_grads; s++) {
        const float *g = grads[s];
        for (size_t i = 0; i < n; i++) dst[i] += g[i];
    }
}

nn_opt_conf mlp_opt_conf(const at_mlp_params *p) {
    return (nn_opt_conf){.kind = p->optimizer == AT_MLP_SGD ? AT_OPT_SGD : AT_OPT_ADAM, .nesterov = p->nesterov,
                         .momentum = p->momentum, .beta1 = p->beta1, .beta2 = p->beta2, .eps = MLP_ADAM_EPS,
                         .weight_decay = p->weight_decay};
}

nn_schedule mlp_schedule(const at_mlp_params *p) {
    return (nn_schedule){.learning_rate = p->learning_rate, .schedule = p->schedule, .warmup = (double)p->warmup,
                         .step_size = (double)p->step_size, .gamma = p->gamma, .epochs = (double)p->epochs};
}

void mlp_init_params(const mlp_net *net, int init, uint64_t seed, float *params) {
    int he = init == AT_MLP_INIT_HE ||
             (init == AT_MLP_INIT_AUTO &&
              (net->activation == AT_MLP_RELU || net->activation == AT_MLP_LEAKY_RELU));
    for (size_t l = 0; l < net->n_layers; l++) {
        size_t in = net->sizes[l], out = net->sizes[l + 1];
        at_rng r;
        at_rng_init(&r, seed, 0x1000 + l); /* one stream per layer */
        float *W = params + net->w_off[l];
        /* The output layer feeds a softmax, not the activation: Xavier suits it either way. */
        if (he && l + 1 < net->n_layers) {
            double sd = sqrt(2.0 / (double)in);
            for (size_t i = 0; i < in * out; i++) W[i] = (float)(sd * at_rng_normal(&r));
        } else {
            double lim = sqrt(6.0 / (double)(in + out));
            for (size_t i = 0; i < in * out; i++) W[i] = (float)(lim * (2.0 * at_rng_uniform(&r) - 1.0));
        }
        memset(params + net->b_off[l], 0, out * sizeof(float));
    }
}

void mlp_shard_free(mlp_shard *s) {
    nn_work_free(s->w);
    free(s->x), free(s->y), free(s->sw);
    memset(s, 0, sizeof *s);
}

at_status mlp_shard_alloc(mlp_shard *s, const nn_net *net, size_t rows, size_t d, int training,
                             at_error *err) {
    memset(s, 0, sizeof *s);
    at_status st = nn_work_new(net, rows, 1, training, &s->w, err);
    if (st) return st;
    if (!(s->x = at_calloc(rows, d * sizeof(float), err)) || !(s->y = at_malloc(rows, sizeof(int32_t), err)) ||
        !(s->sw = at_malloc(rows, sizeof(float), err))) {
        mlp_shard_free(s);
        return AT_ERR_MEMORY;
    }
    return AT_OK;
}
