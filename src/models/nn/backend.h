/* backend.h - (private) the compute seam of the network engine: every dense product,
 * im2col/col2im, bias + activation, batch norm, pooling, softmax, dropout mask and
 * optimiser update that the layers (layers.c) and the optimiser (optim.c) run goes
 * through one at_nn_backend, chosen once per network (nn_net.be). The buffers of a
 * workspace (activations, gradients flowing back, im2col blocks) are allocated with the
 * backend's alloc/free, so a device backend can keep them in device memory between layers.
 *
 * Two backends: the CPU one (backend_cpu.c: OpenBLAS sgemm, OpenMP loops), and with
 * make CUDA=1 the CUDA one (backend_cuda.cu: cuDNN convolutions, cuBLAS products, kernels of
 * its own). Every function takes the backend first (a device backend keeps its handles and
 * stream in be->ctx). Parameters, gradients and statistics of a net on a device backend are
 * mirrored in device memory (nn_net.dev, net_device.c): uploaded before training, downloaded
 * for a save or checkpoint. */
#ifndef ASTROTRAIN_MODELS_NN_BACKEND_H
#define ASTROTRAIN_MODELS_NN_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "astrotrain/status.h"

/* Activations (after a dense or conv layer, or a shortcut). Backward is written in terms
 * of the output y = f(z): relu and leaky keep the sign, tanh' = 1 - y^2, sigmoid' = y(1-y). */
typedef enum nn_act { ACT_LINEAR, ACT_RELU, ACT_LEAKY, ACT_TANH, ACT_SIGMOID } nn_act;

/* The geometry of a convolution or pooling window over NHWC images. */
typedef struct nn_geom {
    size_t in_h, in_w, in_c, out_h, out_w, out_c;
    long size, stride, pad;
    size_t K; /* conv: size * size * in_c */
} nn_geom;

/* One optimiser step's constants (optim.c fills it from the family's settings). */
typedef struct nn_update {
    int kind;     /* at_optimizer */
    int nesterov; /* SGD */
    float mu;     /* SGD momentum */
    float b1, b2; /* Adam */
    float step;   /* Adam: lr * sqrt(1 - b2^t) / (1 - b1^t); SGD: lr */
    float eps;    /* Adam: eps * sqrt(1 - b2^t) (bias correction folded in) */
    float l2;     /* decay through the gradient (SGD, Adam) */
    float decay;  /* decoupled decay factor (AdamW: 1 - lr * wd; else 1) */
} nn_update;

typedef struct at_nn_backend at_nn_backend;

/* One convolution's forward pass over n images (layers.c fills it): out = in * W, then the
 * epilogue: NN_EPI_NONE leaves the raw product (batch norm in training follows),
 * NN_EPI_BIAS_ACT adds bias and applies act, NN_EPI_SCALE_ACT applies out * sc[c] + sh[c]
 * (batch norm on running statistics) then act. col: threads x col_max floats of scratch. */
enum { NN_EPI_NONE, NN_EPI_BIAS_ACT, NN_EPI_SCALE_ACT };
typedef struct nn_conv_fwd {
    const nn_geom *g;
    size_t n, chunk_imgs, col_max;
    int threads, epilogue, act;
    float slope;
    const float *in, *W, *bias, *sc, *sh;
    float *out, *col;
} nn_conv_fwd;

/* One convolution's backward pass given dZ (the gradient of the pre-activation output):
 * gw = in^T dZ (K x C), gb = column sums of dZ (NULL: no bias, batch norm), and when din is
 * not NULL the input gradient (added onto din when acc, else written). col, dcol: threads x
 * col_max floats; part: threads x part_max floats of partial sums. */
typedef struct nn_conv_bwd {
    const nn_geom *g;
    size_t n, chunk_imgs, col_max, part_max;
    int threads, acc;
    const float *in, *W, *dZ;
    float *gw, *gb, *din, *col, *dcol, *part;
} nn_conv_bwd;

struct at_nn_backend {
    const char *name;
    /* 1 when the buffers of alloc live in device memory (the host must not touch them:
     * it moves data with to_device / to_host); the backend's own state is in ctx. */
    int on_device;
    void *ctx;
    /* Workspace memory (count x size bytes, NULL when out of memory) and its release. */
    void *(*alloc)(const at_nn_backend *be, size_t count, size_t size);
    void (*release)(const at_nn_backend *be, void *p);
    /* C = alpha * op(A) op(B) + beta * C, row-major; op transposes when ta / tb. */
    void (*gemm)(const at_nn_backend *be, int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                 const float *B, size_t ldb, float beta, float *C, size_t ldc);
    /* m images (NHWC) into rows of g->K values per output pixel, and its adjoint (adds). */
    void (*im2col)(const at_nn_backend *be, const nn_geom *g, const float *in, size_t m, float *col);
    void (*col2im_add)(const at_nn_backend *be, const nn_geom *g, const float *col, size_t m, float *in);
    /* y[r, c] = f(y[r, c] + bias[c]) over rows x C (bias may be NULL); leaky: slope below 0. */
    void (*bias_act)(const at_nn_backend *be, float *y, size_t rows, size_t C, const float *bias, int act, float slope);
    /* d[i] *= f'(.) given the outputs y[i], over n values. */
    void (*act_backward)(const at_nn_backend *be, float *d, const float *y, size_t n, int act, float slope, int threads);
    /* Batch norm over M rows x C channels in training mode: y = f(gamma * (z - mean) * invstd
     * + beta), mean/invstd of the batch kept, running statistics rm/rv updated with momentum;
     * red: (threads + 1) * red_max doubles of scratch. */
    void (*bn_forward_train)(const at_nn_backend *be, const float *z, float *y, size_t M, size_t C, const float *gamma, const float *beta,
                             float *mean, float *invstd, float *rm, float *rv, float eps, float momentum, int act,
                             float slope, double *red, size_t red_max, int threads);
    /* dY -> dZ in place (d), gamma and beta gradients; xh: M x C scratch; k: 3C scratch. */
    void (*bn_backward)(const at_nn_backend *be, float *d, float *xh, const float *z, size_t M, size_t C, const float *gamma,
                        const float *mean, const float *invstd, float *dgamma, float *dbeta, float *k,
                        double *red, size_t red_max, int threads);
    void (*maxpool_forward)(const at_nn_backend *be, const nn_geom *g, const float *in, size_t n, float *out, int32_t *argmax, int threads);
    void (*maxpool_backward)(const at_nn_backend *be, const float *d, const int32_t *argmax, size_t n, size_t out_size, size_t in_size,
                             float *din, int acc, int threads);
    void (*avgpool_forward)(const at_nn_backend *be, const nn_geom *g, const float *in, size_t n, float *out, int threads);
    void (*avgpool_backward)(const at_nn_backend *be, const nn_geom *g, const float *d, size_t n, float *din, int acc, int threads);
    /* Row-wise softmax of n rows of k. */
    void (*softmax)(const at_nn_backend *be, const float *in, size_t n, size_t k, float *out);
    /* Inverted dropout of m values: mask[i] = 0 with probability rate, else 1 / (1 - rate),
     * drawn from the stream (seed, stream); out = in * mask. */
    void (*dropout)(const at_nn_backend *be, const float *in, float *out, float *mask, size_t m, double rate, uint64_t seed,
                    uint64_t stream);
    /* One optimiser update of n parameters w with gradient g and moments m, v. */
    void (*update)(const at_nn_backend *be, const nn_update *u, float *w, const float *g, float *m, float *v, size_t n);

    /* ---- layer-level operations (issue 17): what a device library does in one call ---- */
    void (*conv_forward)(const at_nn_backend *be, const nn_conv_fwd *a);
    void (*conv_backward)(const at_nn_backend *be, const nn_conv_bwd *a);
    /* Batch norm on running statistics folded into sc[c] = gamma / sqrt(rv + eps) and
     * sh[c] = beta - rm * sc[c], over C channels. */
    void (*bn_fold)(const at_nn_backend *be, const float *gamma, const float *beta, const float *rm,
                    const float *rv, size_t C, float eps, float *sc, float *sh);
    /* gb[c] = sum over rows of d[r, c] (rows x C), in row order. */
    void (*col_sums)(const at_nn_backend *be, const float *d, size_t rows, size_t C, float *gb);
    /* din = (acc ? din : 0) + d * mask over m values (mask NULL: pass d through). */
    void (*dropout_backward)(const at_nn_backend *be, const float *d, const float *mask, size_t m, float *din,
                             int acc);
    /* y = f(a + b) over n images of os values. */
    void (*add_act)(const at_nn_backend *be, const float *a, const float *b, float *y, size_t n, size_t os, int act,
                    float slope, int threads);
    /* din = (acc ? din : 0) + d and dsrc += d over m values. */
    void (*shortcut_backward)(const at_nn_backend *be, const float *d, float *din, float *dsrc, size_t m, int acc,
                              int threads);
    /* Workspace memory: zero bytes, copy within it, and move between host and workspace. */
    void (*zero)(const at_nn_backend *be, void *p, size_t bytes);
    void (*copy)(const at_nn_backend *be, void *dst, const void *src, size_t bytes);
    void (*to_device)(const at_nn_backend *be, void *dst, const void *host, size_t bytes);
    void (*to_host)(const at_nn_backend *be, void *host, const void *src, size_t bytes);
    /* Host memory for batches headed to the device (page-locked on a GPU, so the copy runs
     * without staging); NULL when out of memory. */
    void *(*host_alloc)(const at_nn_backend *be, size_t bytes);
    void (*host_free)(const at_nn_backend *be, void *p);
    /* AT_OK, or the first error the backend met since it was opened (a device's errors are
     * kept until asked: the ops themselves return nothing), as one line naming what to do. */
    at_status (*status)(const at_nn_backend *be, at_error *err);
};

/* The CPU backend (OpenBLAS sgemm, OpenMP). BLAS threads are the caller's business (the CLI
 * sets them once); the layers call gemm from inside their own OpenMP regions. */
const at_nn_backend *nn_backend_cpu(void);

#endif
