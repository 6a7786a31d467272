/* cnn_internal.h - (private) the network's data structures shared by the files of
 * src/models/cnn: the parsed description, the layers with their slices of the flat
 * parameter vector, and the per-batch workspace. */
#ifndef ASTROTRAIN_CNN_INTERNAL_H
#define ASTROTRAIN_CNN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "astrotrain/cnn.h"
#include "astrotrain/rng.h"

typedef enum cnn_kind { L_CONV, L_MAXPOOL, L_AVGPOOL, L_DENSE, L_DROPOUT, L_SHORTCUT, L_SOFTMAX } cnn_kind;
typedef enum cnn_act { ACT_LINEAR, ACT_RELU, ACT_LEAKY } cnn_act;

#define CNN_LEAKY_SLOPE 0.1f
#define CNN_BN_EPS 1e-5f
#define CNN_BN_MOMENTUM 0.1f
#define CNN_MAX_CHANNELS 4
/* Output rows (pixels) per convolution work unit: enough for an efficient sgemm, small
 * enough that the im2col block stays in cache while the sgemm consumes it. */
#define CNN_CHUNK_ROWS 512

typedef struct cnn_layer_spec {
    int kind;
    uint32_t line;
    int filters, size, stride, pad, act, bn; /* conv; maxpool uses size, stride */
    int units;                               /* dense */
    double rate;                             /* dropout */
    int from;                                /* shortcut: relative index (< 0) */
    size_t in_h, in_w, in_c, out_h, out_w, out_c;
} cnn_layer_spec;

struct at_cnn_spec {
    at_cnn_params p;
    cnn_layer_spec *layers;
    size_t n_layers;
    char *text; /* canonical INI text (saved in model files, re-parsed on load) */
    char source[512]; /* the file it came from, for messages */
};

typedef struct cnn_layer {
    cnn_layer_spec s;
    size_t in_size, out_size; /* per image */
    size_t K;                 /* conv: size*size*in_c; dense: in_size */
    size_t w_off, w_n;        /* weights in params (decayed) */
    size_t b_off, b_n;        /* bias, or batch-norm beta */
    size_t g_off;             /* batch-norm gamma (out_c) */
    size_t rs_off;            /* running mean (out_c) then var (out_c) in stats */
    size_t chunk_imgs;        /* conv: images per work unit */
} cnn_layer;

typedef struct cnn_work cnn_work;

struct at_cnn {
    at_cnn_spec *spec;
    cnn_layer *L;
    size_t nl, k;
    float *params, *grads;
    size_t np;
    float *stats;
    size_t ns;
    float mean[CNN_MAX_CHANNELS], stdev[CNN_MAX_CHANNELS];
    int grad_check;
    /* history: epoch, train_loss, train_accuracy, val_loss, val_accuracy, learning_rate */
    double *hist;
    size_t hist_rows, hist_cap;
    at_history history;
    size_t best_epoch;
    cnn_work *train_work; /* cached workspace for at_cnn_loss_grad */
};

#define CNN_HIST_COLS 6

/* Workspace for batches of up to n_max images. */
struct cnn_work {
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
};

/* spec.c */
at_status cnn_spec_copy(const at_cnn_spec *s, at_cnn_spec **out, at_error *err);

/* net.c */
at_status cnn_work_new(const at_cnn *net, size_t n_max, int threads, int training, cnn_work **out, at_error *err);
void cnn_work_free(cnn_work *w);
/* Forward over n <= n_max images (x standardised NHWC); the last layer's output is
 * probabilities. training: batch statistics, dropout, keeps what backward needs. */
void cnn_forward(at_cnn *net, cnn_work *w, const float *x, size_t n);
/* Loss of the batch (weighted mean cross-entropy) and every gradient into net->grads. */
double cnn_backward(at_cnn *net, cnn_work *w, const float *x, const int32_t *y, size_t n, const float *cw);
/* m uint8 images (NHWC) into x, standardised. */
void cnn_standardise(const at_cnn *net, const uint8_t *pix, size_t m, float *x);
/* OpenBLAS single-threaded while our OpenMP threads call it; returns the previous count. */
int cnn_blas_single(void);
void cnn_blas_restore(int prev);

/* layers.c: one forward/backward per layer kind. */
void cnn_conv_forward(const at_cnn *net, const cnn_layer *l, size_t li, cnn_work *w, const float *in, size_t n);
void cnn_conv_backward(at_cnn *net, const cnn_layer *l, size_t li, cnn_work *w, const float *in, float *din,
                       size_t n, int acc);
void cnn_layer_forward(const at_cnn *net, size_t li, cnn_work *w, const float *in, size_t n);
void cnn_layer_backward(at_cnn *net, size_t li, cnn_work *w, const float *in, float *din, size_t n, int acc);

/* optim.c */
typedef struct cnn_optim {
    float *m, *v; /* momentum / first and second moments (np each) */
    int64_t t;    /* steps taken */
} cnn_optim;
at_status cnn_optim_init(const at_cnn *net, cnn_optim *o, at_error *err);
void cnn_optim_free(cnn_optim *o);
void cnn_optim_step(at_cnn *net, cnn_optim *o, double lr);
double cnn_learning_rate(const at_cnn_params *p, int64_t step, size_t steps_per_epoch);

/* history */
at_status cnn_history_add(at_cnn *net, const double *row, at_error *err);

#endif
