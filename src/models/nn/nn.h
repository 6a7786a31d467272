/* nn.h - (private) the one network engine of the MLP and the CNN: layers on NHWC float32
 * batches (a dense net is NHWC with H = W = 1), a flat parameter vector with per-layer
 * slices, workspaces, the forward pass, the softmax cross-entropy and the backward pass,
 * the optimisers (SGD, momentum, Nesterov, Adam, AdamW) and the learning-rate schedules.
 * Every kernel runs through the net's backend (backend.h). */
#ifndef ASTROTRAIN_MODELS_NN_H
#define ASTROTRAIN_MODELS_NN_H

#include <stddef.h>
#include <stdint.h>

#include "astrotrain/nn.h"
#include "astrotrain/status.h"
#include "models/nn/backend.h"

typedef enum nn_kind { L_CONV, L_MAXPOOL, L_AVGPOOL, L_DENSE, L_DROPOUT, L_SHORTCUT, L_SOFTMAX } nn_kind;

#define NN_BN_EPS 1e-5f
#define NN_BN_MOMENTUM 0.1f

/* A layer's description and shapes (the CNN's spec parser fills these from INI sections;
 * the MLP builds them from its hidden widths). */
typedef struct nn_layer_spec {
    int kind;
    uint32_t line;
    int filters, size, stride, pad, act, bn; /* conv; maxpool uses size, stride */
    int units;                               /* dense */
    double rate;                             /* dropout */
    int from;                                /* shortcut: relative index (< 0) */
    int input;                               /* conv: the layer it reads, relative (-1 = the previous one) */
    char name[32];                           /* optional layer name (weights are matched by it) */
    size_t in_h, in_w, in_c, out_h, out_w, out_c;
} nn_layer_spec;

typedef struct nn_layer {
    nn_layer_spec s;
    float slope;              /* leaky activation: the slope below zero */
    size_t in_size, out_size; /* per image */
    size_t K;                 /* conv: size*size*in_c; dense: in_size */
    size_t w_off, w_n;        /* weights in params (decayed) */
    size_t b_off, b_n;        /* bias, or batch-norm beta */
    size_t g_off;             /* batch-norm gamma (out_c) */
    size_t rs_off;            /* running mean (out_c) then var (out_c) in stats */
    size_t chunk_imgs;        /* conv: images per work unit */
    nn_geom g;                /* conv and pooling geometry */
} nn_layer;

/* A network: layers and the parameter, gradient and statistics vectors. A shallow copy
 * with other params/grads pointers is a replica (the MLP's shards train on replicas). */
typedef struct nn_net {
    nn_layer *L;
    size_t nl, k;
    float *params, *grads;
    size_t np;
    float *stats;
    size_t ns;
    int grad_check; /* dropout off, batch norm on batch statistics */
    const at_nn_backend *be;
    /* Fine-tuning (transfer.c of the CNN sets them; zero = everything trains):
     * layers [0, frozen) are not updated and get no backward pass; with frozen_bn their
     * batch norms use the running statistics while training (and leave them unchanged);
     * lr_scale (nl values, or NULL = 1) multiplies the learning rate of each layer. */
    size_t frozen;
    int frozen_bn;
    const float *lr_scale;
    /* On a device backend (be->on_device): the device copies of params, grads and stats
     * that the layers and the optimiser use (net_device.c); NULL on the CPU. */
    float *dparams, *dgrads, *dstats;
} nn_net;

/* The parameter, gradient and statistics vectors the backend computes on. */
static inline float *nn_params(const nn_net *net) { return net->dparams ? net->dparams : net->params; }
static inline float *nn_grads(const nn_net *net) { return net->dgrads ? net->dgrads : net->grads; }
static inline float *nn_stats(const nn_net *net) { return net->dstats ? net->dstats : net->stats; }

/* net_device.c: a net on a device backend. nn_net_attach puts the net on backend be: on a
 * device backend it allocates the device copies and uploads params and stats; on the CPU it
 * only sets net->be. nn_net_upload / nn_net_download move params and stats (after a load or
 * a host-side change / before a save, a checkpoint or a host-side read); nn_net_download_grads
 * moves the gradients; nn_net_detach downloads, frees the device copies and returns the net
 * to the CPU backend. All are no-ops for a net on the CPU. */
at_status nn_net_attach(nn_net *net, const at_nn_backend *be, at_error *err);
void nn_net_upload(nn_net *net);
void nn_net_download(nn_net *net);
void nn_net_download_grads(nn_net *net);
void nn_net_detach(nn_net *net);

/* The input of layer li: the index of the layer whose output it reads, or -1 for the
 * network's input (a [conv] may read an earlier layer than the previous one: input = -N). */
long nn_layer_source(const nn_net *net, size_t li);

/* Sizes of layer li from its spec: in/out sizes, K, geometry and chunking. Does not place
 * parameters. */
void nn_layer_shape(nn_layer *l);
/* Places every layer's parameters one layer after another (weights, [gamma], bias) and the
 * batch-norm statistics; sets np, ns. */
void nn_layout_by_layer(nn_net *net);

/* Workspace for batches of up to n_max images; its buffers come from the backend. */
typedef struct nn_work {
    const at_nn_backend *be;
    size_t n_max, nl_alloc;
    int threads, training;
    float **out, **delta, **z; /* per layer; delta and z only when training (z: conv with bn) */
    float **bn_mean, **bn_invstd;
    int32_t **argmax;
    float **mask;
    float *col, *dcol; /* per thread: col_max floats each */
    size_t col_max;
    float *part; /* per thread: part_max floats (weight-gradient partial sums) */
    size_t part_max;
    double *red; /* per thread: 2 * max channels (batch-norm sums) */
    size_t red_max;
    uint64_t dropout_seed;
    unsigned char *shared; /* per layer: its delta is also written by a [shortcut] */
    /* device backend only: the input batch on the device, and host copies of the last
     * layer's probabilities and of the loss gradient (n_max * k each) */
    float *x_dev, *h_p, *h_d;
} nn_work;

/* The last layer's probabilities of the last forward pass over n inputs, in host memory
 * (copied from the device on a device backend). */
const float *nn_output(const nn_net *net, nn_work *w, size_t n);

at_status nn_work_new(const nn_net *net, size_t n_max, int threads, int training, nn_work **out, at_error *err);
void nn_work_free(nn_work *w);

/* Forward over n <= n_max inputs; the last layer's output (w->out[nl-1]) is probabilities.
 * training: batch statistics, dropout, keeps what backward needs. */
void nn_forward(nn_net *net, nn_work *w, const float *x, size_t n);
/* Softmax cross-entropy of the last layer's probabilities: returns sum_i wt_i * -log p_{y_i}
 * with wt_i = sw[i] (sw given), else cw[y_i] (cw given), else 1; counts correct argmaxes
 * (when correct != NULL). With norm > 0 it leaves d(loss / norm)/d(logits) in the
 * softmax's input gradient, ready for nn_backward. */
double nn_xent(const nn_net *net, nn_work *w, const int32_t *y, const float *sw, const float *cw, size_t n,
               double norm, size_t *correct);
/* Backward from the gradient nn_xent left: every parameter gradient into net->grads. */
void nn_backward(nn_net *net, nn_work *w, const float *x, size_t n);

/* layers.c: one forward/backward per layer kind. */
void nn_layer_forward(const nn_net *net, size_t li, nn_work *w, const float *in, size_t n);
void nn_layer_backward(nn_net *net, size_t li, nn_work *w, const float *in, float *din, size_t n, int acc);

/* optim.c: the one optimiser and schedule. */
typedef struct nn_opt_conf {
    int kind;     /* at_optimizer */
    int nesterov; /* SGD */
    double momentum, beta1, beta2, eps, weight_decay;
} nn_opt_conf;

typedef struct nn_optim {
    float *m, *v; /* momentum / first and second moments (np each); backend memory */
    int64_t t;    /* steps taken */
    const at_nn_backend *be; /* the backend m and v were allocated by */
} nn_optim;

/* The moments in host memory: m and v (np floats each) copied out / in (a checkpoint). */
void nn_optim_get(const nn_optim *o, const nn_net *net, float *m, float *v);
void nn_optim_set(nn_optim *o, const nn_net *net, const float *m, const float *v);

at_status nn_optim_init(const nn_net *net, nn_optim *o, at_error *err);
void nn_optim_free(nn_optim *o);
/* One step over every layer's parameters with gradient g (np, backend memory: nn_grads
 * on a device): weight decay on weights only (never biases or batch-norm parameters).
 * Increments o->t first. */
void nn_optim_step(const nn_net *net, const nn_opt_conf *c, nn_optim *o, const float *g, double lr);

typedef struct nn_schedule {
    double learning_rate;
    int schedule;     /* at_lr_schedule */
    double warmup;    /* epochs */
    double step_size; /* epochs */
    double gamma;
    double epochs;
} nn_schedule;

/* The learning rate of optimiser step `step` (0-based) of a run with steps_per_epoch steps
 * an epoch: the formulas of include/astrotrain/nn.h. */
double nn_learning_rate(const nn_schedule *s, int64_t step, size_t steps_per_epoch);

#endif
