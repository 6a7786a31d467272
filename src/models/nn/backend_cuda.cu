/* backend_cuda.cu - the CUDA implementation of the engine's compute seam (backend.h; issue 17),
 * built only with make CUDA=1: convolutions (forward, backward data, backward filter) and
 * batch norm through cuDNN, dense products and column sums through cuBLAS, activations,
 * pooling, softmax, dropout, shortcut and the optimiser update through small kernels of its
 * own. Every buffer of a workspace lives in device memory; the work of one backend goes into
 * one stream, in order, so scratch reused by consecutive operations is never overwritten
 * while a kernel still reads it. Each operation holds the backend's mutex while it enqueues
 * (several threads may share one backend: the prediction server).
 *
 * Layouts: activations NHWC, the CPU's weight matrix K x C_out (K = kh, kw, c_in) is
 * transposed to cuDNN's KRSC filter (C_out x K) before a cuDNN call and the filter gradient
 * back. Batch norm over M rows x C channels is cuDNN's spatial batch norm on an N = M,
 * C, 1, 1 tensor, which is the same memory.
 *
 * Errors: the ops return nothing (the seam is the CPU's), so the first CUDA, cuBLAS or
 * cuDNN error is kept in the context with the call that failed and a hint, every later op is
 * skipped, and be->status reports it as one line. Precision: fp32 (FMA math, no TF32) by
 * default; with bf16, products and convolutions use bf16 tensor cores with fp32 data. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "astrotrain/nn.h"
#include "astrotrain/rng.h"
#include "models/nn/backend.h"
#include "models/nn/backend_cuda.h"
#include "models/nn/nn.h" /* NN_BN_EPS: the seam's bn_backward takes no eps */
}

#define PLAN_MAX 128
#define WS_LIMIT ((size_t)2 << 30) /* most cuDNN workspace one algorithm may use */

/* One convolution geometry at one batch size: cuDNN descriptors and chosen algorithms. */
typedef struct conv_plan {
    nn_geom g;
    size_t n;
    int used;
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnConvolutionFwdAlgo_t fa;
    cudnnConvolutionBwdDataAlgo_t da;
    cudnnConvolutionBwdFilterAlgo_t wa;
    size_t fws, dws, wws;
} conv_plan;

typedef struct cuda_ctx {
    int device, bf16;
    cudaStream_t s;
    cublasHandle_t blas;
    cudnnHandle_t dnn;
    pthread_mutex_t mu;
    void *ws;
    size_t ws_size;
    float *wt, *dwt, *ones; /* transposed weights, filter gradient, a vector of ones */
    size_t wt_n, dwt_n, ones_n;
    float *hmask; /* page-locked host scratch for dropout masks */
    size_t hmask_n;
    cudnnTensorDescriptor_t bn_x, bn_p;
    conv_plan plans[PLAN_MAX];
    int nplans, evict;
    int failed;
    char msg[800];
    char name[160];
} cuda_ctx;

typedef struct cuda_backend {
    at_nn_backend be;
    cuda_ctx c;
} cuda_backend;

static cuda_ctx *ctx_of(const at_nn_backend *be) { return (cuda_ctx *)be->ctx; }

/* ---- errors ------------------------------------------------------------------------------- */

static const char *cuda_hint(cudaError_t e) {
    switch (e) {
    case cudaErrorMemoryAllocation: return ": the GPU is out of memory: use a smaller batch or network, or --device cpu";
    case cudaErrorInsufficientDriver:
        return ": no NVIDIA driver, or one older than this CUDA runtime: install or update the driver (nvidia-smi "
               "shows it), or rebuild with make CUDA=1 CUDA_HOME=<an older toolkit>";
    case cudaErrorNoDevice: return ": no CUDA GPU is visible: use --device cpu";
    case cudaErrorNoKernelImageForDevice:
        return ": this GPU is not among the architectures it was built for: rebuild with make CUDA=1 "
               "CUDA_ARCH=sm_<yours>";
    default: return "";
    }
}

/* Keeps the first error: "<device>: <call>: <what went wrong><: what to do>". */
static void fail_msg(cuda_ctx *c, const char *what, const char *why, const char *hint) {
    if (c->failed) return;
    c->failed = 1;
    snprintf(c->msg, sizeof c->msg, "%.159s: %.199s: %.199s%.199s", c->name, what, why, hint);
}

static int ck_cuda(cuda_ctx *c, cudaError_t e, const char *what) {
    if (e == cudaSuccess) return 0;
    fail_msg(c, what, cudaGetErrorString(e), cuda_hint(e));
    return 1;
}

static const char *cublas_text(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "cuBLAS not initialised";
    case CUBLAS_STATUS_ALLOC_FAILED: return "cuBLAS could not allocate GPU memory";
    case CUBLAS_STATUS_INVALID_VALUE: return "invalid value";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "not supported by this GPU";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "kernel failed to run";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "not supported";
    default: return "internal error";
    }
}

static int ck_blas(cuda_ctx *c, cublasStatus_t s, const char *what) {
    if (s == CUBLAS_STATUS_SUCCESS) return 0;
    fail_msg(c, what, cublas_text(s),
             s == CUBLAS_STATUS_ALLOC_FAILED ? ": use a smaller batch or --device cpu" : "");
    return 1;
}

static int ck_dnn(cuda_ctx *c, cudnnStatus_t s, const char *what) {
    if (s == CUDNN_STATUS_SUCCESS) return 0;
    fail_msg(c, what, cudnnGetErrorString(s),
             s == CUDNN_STATUS_ALLOC_FAILED ? ": use a smaller batch or --device cpu" : "");
    return 1;
}

#define CU(x)                                                                                                      \
    do {                                                                                                           \
        if (ck_cuda(c, (x), #x)) return;                                                                          \
    } while (0)
#define CB(x)                                                                                                      \
    do {                                                                                                           \
        if (ck_blas(c, (x), #x)) return;                                                                          \
    } while (0)
#define CD(x)                                                                                                      \
    do {                                                                                                           \
        if (ck_dnn(c, (x), #x)) return;                                                                           \
    } while (0)
#define LAUNCHED() CU(cudaGetLastError())

/* Holds the backend's mutex for one operation, on the backend's device. */
struct op_guard {
    cuda_ctx *c;
    explicit op_guard(cuda_ctx *cc) : c(cc) {
        pthread_mutex_lock(&c->mu);
        if (!c->failed) ck_cuda(c, cudaSetDevice(c->device), "cudaSetDevice");
    }
    ~op_guard() { pthread_mutex_unlock(&c->mu); }
};

#define OP(be)                                                                                                     \
    cuda_ctx *c = ctx_of(be);                                                                                      \
    op_guard guard_(c);                                                                                            \
    if (c->failed) return

static unsigned blocks_for(size_t n) {
    size_t b = (n + 255) / 256;
    if (b > 65535u * 16u) b = 65535u * 16u;
    return (unsigned)(b ? b : 1);
}

#define GRID_LOOP(i, n) for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

/* Grows a device scratch vector of floats to at least n (the stream is drained first:
 * earlier operations may still read the old one). */
static int grow(cuda_ctx *c, float **p, size_t *have, size_t n) {
    if (*have >= n) return 0;
    if (ck_cuda(c, cudaStreamSynchronize(c->s), "cudaStreamSynchronize")) return 1;
    if (*p) cudaFree(*p);
    *p = NULL, *have = 0;
    if (ck_cuda(c, cudaMalloc((void **)p, n * sizeof(float)), "cudaMalloc (scratch)")) return 1;
    *have = n;
    return 0;
}

static int grow_ws(cuda_ctx *c, size_t bytes) {
    if (c->ws_size >= bytes) return 0;
    if (ck_cuda(c, cudaStreamSynchronize(c->s), "cudaStreamSynchronize")) return 1;
    if (c->ws) cudaFree(c->ws);
    c->ws = NULL, c->ws_size = 0;
    if (ck_cuda(c, cudaMalloc(&c->ws, bytes), "cudaMalloc (cuDNN workspace)")) return 1;
    c->ws_size = bytes;
    return 0;
}

/* ---- kernels ------------------------------------------------------------------------------ */

__device__ __forceinline__ float act_f(float v, int act, float slope) {
    switch (act) {
    case ACT_RELU: return v > 0 ? v : 0;
    case ACT_LEAKY: return v > 0 ? v : slope * v;
    case ACT_TANH: return tanhf(v);
    case ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
    default: return v;
    }
}

__global__ void k_bias_act(float *y, size_t n, size_t C, const float *bias, int act, float slope) {
    GRID_LOOP(i, n) y[i] = act_f(bias ? y[i] + bias[i % C] : y[i], act, slope);
}

__global__ void k_scale_act(float *y, size_t n, size_t C, const float *sc, const float *sh, int act, float slope) {
    GRID_LOOP(i, n) {
        size_t c = i % C;
        y[i] = act_f(y[i] * sc[c] + sh[c], act, slope);
    }
}

__global__ void k_act_backward(float *d, const float *y, size_t n, int act, float slope) {
    GRID_LOOP(i, n) {
        switch (act) {
        case ACT_RELU:
            if (!(y[i] > 0)) d[i] = 0.0f * d[i];
            break;
        case ACT_LEAKY:
            if (!(y[i] > 0)) d[i] *= slope;
            break;
        case ACT_TANH: d[i] *= 1.0f - y[i] * y[i]; break;
        case ACT_SIGMOID: d[i] *= y[i] * (1.0f - y[i]); break;
        default: break;
        }
    }
}

__global__ void k_im2col(nn_geom g, const float *in, size_t total, float *col) {
    const long H = (long)g.in_h, W = (long)g.in_w, S = g.size;
    const size_t C = g.in_c, OH = g.out_h, OW = g.out_w, K = g.K;
    GRID_LOOP(i, total) {
        size_t r = i / K, k = i % K, img = r / (OH * OW), p = r % (OH * OW), oh = p / OW, ow = p % OW;
        long kh = (long)(k / ((size_t)S * C)), kw = (long)((k / C) % (size_t)S), ch = (long)(k % C);
        long ih = (long)oh * g.stride - g.pad + kh, iw = (long)ow * g.stride - g.pad + kw;
        col[i] = ih < 0 || ih >= H || iw < 0 || iw >= W ? 0.0f : in[((img * (size_t)H + (size_t)ih) * (size_t)W + (size_t)iw) * C + (size_t)ch];
    }
}

__global__ void k_col2im_add(nn_geom g, const float *col, size_t total, float *in) {
    const long H = (long)g.in_h, W = (long)g.in_w, S = g.size;
    const size_t C = g.in_c, OH = g.out_h, OW = g.out_w, K = g.K;
    GRID_LOOP(i, total) {
        size_t r = i / K, k = i % K, img = r / (OH * OW), p = r % (OH * OW), oh = p / OW, ow = p % OW;
        long kh = (long)(k / ((size_t)S * C)), kw = (long)((k / C) % (size_t)S), ch = (long)(k % C);
        long ih = (long)oh * g.stride - g.pad + kh, iw = (long)ow * g.stride - g.pad + kw;
        if (ih >= 0 && ih < H && iw >= 0 && iw < W)
            atomicAdd(in + ((img * (size_t)H + (size_t)ih) * (size_t)W + (size_t)iw) * C + (size_t)ch, col[i]);
    }
}

/* The CPU's window order and tie rule: the first maximum in (kh, kw) order wins. */
__global__ void k_maxpool(nn_geom g, const float *in, size_t n, float *out, int32_t *am) {
    const long H = (long)g.in_h, W = (long)g.in_w, S = g.size, st = g.stride, pad = g.pad;
    const size_t C = g.in_c, OH = g.out_h, OW = g.out_w, total = n * OH * OW * C;
    GRID_LOOP(i, total) {
        size_t c = i % C, q = i / C, ow = q % OW, oh = (q / OW) % OH, img = q / (OW * OH);
        const float *x = in + img * (size_t)(H * W) * C;
        float y = -INFINITY;
        int32_t a = 0;
        int first = 1;
        for (long kh = 0; kh < S; kh++) {
            long ih = (long)oh * st - pad + kh;
            if (ih < 0 || ih >= H) continue;
            for (long kw = 0; kw < S; kw++) {
                long iw = (long)ow * st - pad + kw;
                if (iw < 0 || iw >= W) continue;
                size_t p = (size_t)(ih * W + iw) * C + c;
                if (first || x[p] > y) y = x[p], a = (int32_t)p;
                first = 0;
            }
        }
        out[i] = y;
        if (am) am[i] = a;
    }
}

__global__ void k_maxpool_backward(const float *d, const int32_t *am, size_t n, size_t os, size_t is, float *din) {
    GRID_LOOP(i, n * os) atomicAdd(din + (i / os) * is + (size_t)am[i], d[i]);
}

__global__ void k_avgpool(const float *in, size_t n, size_t hw, size_t C, float *out) {
    GRID_LOOP(i, n * C) {
        size_t img = i / C, c = i % C;
        const float *x = in + img * hw * C + c;
        float s = 0;
        for (size_t p = 0; p < hw; p++) s += x[p * C];
        out[i] = s / (float)hw;
    }
}

__global__ void k_avgpool_backward(const float *d, size_t n, size_t hw, size_t C, float *din, int acc) {
    float inv = 1.0f / (float)hw;
    GRID_LOOP(i, n * hw * C) {
        size_t c = i % C, img = i / (hw * C);
        din[i] = (acc ? din[i] : 0.0f) + d[img * C + c] * inv;
    }
}

__global__ void k_softmax(const float *in, size_t n, size_t k, float *y) {
    GRID_LOOP(i, n) {
        const float *x = in + i * k;
        float *yi = y + i * k;
        float mx = -INFINITY;
        for (size_t c = 0; c < k; c++) mx = x[c] > mx ? x[c] : mx;
        float sum = 0.0f;
        for (size_t c = 0; c < k; c++) {
            yi[c] = expf(x[c] - mx);
            sum += yi[c];
        }
        float inv = 1.0f / sum;
        for (size_t c = 0; c < k; c++) yi[c] *= inv;
    }
}

__global__ void k_mul(const float *a, const float *b, float *out, size_t n) {
    GRID_LOOP(i, n) out[i] = a[i] * b[i];
}

__global__ void k_dropout_backward(const float *d, const float *mask, size_t n, float *din, int acc) {
    GRID_LOOP(i, n) {
        float v = mask ? d[i] * mask[i] : d[i];
        din[i] = acc ? din[i] + v : v;
    }
}

__global__ void k_add_act(const float *a, const float *b, float *y, size_t n, int act, float slope) {
    GRID_LOOP(i, n) y[i] = act_f(a[i] + b[i], act, slope);
}

__global__ void k_shortcut_backward(const float *d, float *din, float *dsrc, size_t n, int acc) {
    GRID_LOOP(i, n) {
        din[i] = acc ? din[i] + d[i] : d[i];
        dsrc[i] += d[i];
    }
}

__global__ void k_fill(float *p, size_t n, float v) {
    GRID_LOOP(i, n) p[i] = v;
}

__global__ void k_bn_fold(const float *gamma, const float *beta, const float *rm, const float *rv, size_t C, float eps,
                          float *sc, float *sh) {
    GRID_LOOP(c, C) {
        sc[c] = gamma[c] / sqrtf(rv[c] + eps);
        sh[c] = beta[c] - rm[c] * sc[c];
    }
}

__global__ void k_update(nn_update u, float *w, const float *g, float *m, float *v, size_t n) {
    GRID_LOOP(i, n) {
        float gi = g[i] + u.l2 * w[i];
        if (u.kind == AT_OPT_SGD) {
            m[i] = u.mu * m[i] + gi;
            w[i] -= u.step * (u.nesterov ? gi + u.mu * m[i] : m[i]);
        } else {
            m[i] = u.b1 * m[i] + (1 - u.b1) * gi;
            v[i] = u.b2 * v[i] + (1 - u.b2) * gi * gi;
            w[i] = w[i] * u.decay - u.step * m[i] / (sqrtf(v[i]) + u.eps);
        }
    }
}

/* ---- memory ------------------------------------------------------------------------------- */

static void *cu_alloc(const at_nn_backend *be, size_t count, size_t size) {
    cuda_ctx *c = ctx_of(be);
    op_guard guard_(c);
    if (c->failed || (size && count > SIZE_MAX / size)) return NULL;
    void *p = NULL;
    size_t bytes = count * size > 0 ? count * size : 1;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* an out-of-memory is not sticky: the caller reports it */
        return NULL;
    }
    return p;
}

static void cu_release(const at_nn_backend *be, void *p) {
    if (!p) return;
    cuda_ctx *c = ctx_of(be);
    op_guard guard_(c);
    cudaFree(p);
}

static void cu_zero(const at_nn_backend *be, void *p, size_t bytes) {
    OP(be);
    if (bytes) CU(cudaMemsetAsync(p, 0, bytes, c->s));
}

static void cu_copy(const at_nn_backend *be, void *dst, const void *src, size_t bytes) {
    OP(be);
    if (bytes && dst != src) CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, c->s));
}

/* From pageable memory the call returns once the host buffer may be reused; from
 * page-locked memory (host_alloc) it returns at once and the caller must not write the
 * buffer before the stream has passed the copy (the training loop syncs every step). */
static void cu_to_device(const at_nn_backend *be, void *dst, const void *host, size_t bytes) {
    OP(be);
    if (bytes) CU(cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, c->s));
}

static void cu_to_host(const at_nn_backend *be, void *host, const void *src, size_t bytes) {
    OP(be);
    if (!bytes) return;
    CU(cudaMemcpyAsync(host, src, bytes, cudaMemcpyDeviceToHost, c->s));
    CU(cudaStreamSynchronize(c->s));
}

static void *cu_host_alloc(const at_nn_backend *be, size_t bytes) {
    cuda_ctx *c = ctx_of(be);
    op_guard guard_(c);
    void *p = NULL;
    if (cudaHostAlloc(&p, bytes ? bytes : 1, cudaHostAllocDefault) != cudaSuccess) {
        (void)cudaGetLastError();
        return NULL;
    }
    return p;
}

static void cu_host_free(const at_nn_backend *be, void *p) {
    if (!p) return;
    cuda_ctx *c = ctx_of(be);
    op_guard guard_(c);
    cudaStreamSynchronize(c->s);
    cudaFreeHost(p);
}

static at_status cu_status(const at_nn_backend *be, at_error *err) {
    cuda_ctx *c = ctx_of(be);
    op_guard guard_(c);
    if (!c->failed) ck_cuda(c, cudaStreamSynchronize(c->s), "a GPU kernel");
    if (!c->failed) return AT_OK;
    return at_fail(err, AT_ERR_IO, "%s", c->msg);
}

/* ---- products ----------------------------------------------------------------------------- */

/* Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: cuBLAS gets B first. */
static void cu_gemm(const at_nn_backend *be, int ta, int tb, size_t M, size_t N, size_t K, float alpha,
                    const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    OP(be);
    if (!M || !N) return;
    cublasOperation_t oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (c->bf16)
        CB(cublasGemmEx(c->blas, ob, oa, (int)N, (int)M, (int)K, &alpha, B, CUDA_R_32F, (int)ldb, A, CUDA_R_32F,
                        (int)lda, &beta, C, CUDA_R_32F, (int)ldc, CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT));
    else
        CB(cublasSgemm(c->blas, ob, oa, (int)N, (int)M, (int)K, &alpha, B, (int)ldb, A, (int)lda, &beta, C, (int)ldc));
}

/* gb[c] = sum over rows of d[r, c]: a product with a vector of ones. */
static void col_sums_locked(cuda_ctx *c, const float *d, size_t rows, size_t C, float *gb) {
    if (!rows) {
        CU(cudaMemsetAsync(gb, 0, C * sizeof *gb, c->s));
        return;
    }
    if (c->ones_n < rows) {
        if (grow(c, &c->ones, &c->ones_n, rows)) return;
        k_fill<<<blocks_for(rows), 256, 0, c->s>>>(c->ones, rows, 1.0f);
        LAUNCHED();
    }
    const float one = 1.0f, zero = 0.0f;
    CB(cublasSgemv(c->blas, CUBLAS_OP_N, (int)C, (int)rows, &one, d, (int)C, c->ones, 1, &zero, gb, 1));
}

static void cu_col_sums(const at_nn_backend *be, const float *d, size_t rows, size_t C, float *gb) {
    OP(be);
    col_sums_locked(c, d, rows, C, gb);
}

/* ---- element-wise ------------------------------------------------------------------------- */

static void cu_im2col(const at_nn_backend *be, const nn_geom *g, const float *in, size_t m, float *col) {
    OP(be);
    size_t total = m * g->out_h * g->out_w * g->K;
    if (!total) return;
    k_im2col<<<blocks_for(total), 256, 0, c->s>>>(*g, in, total, col);
    LAUNCHED();
}

static void cu_col2im_add(const at_nn_backend *be, const nn_geom *g, const float *col, size_t m, float *in) {
    OP(be);
    size_t total = m * g->out_h * g->out_w * g->K;
    if (!total) return;
    k_col2im_add<<<blocks_for(total), 256, 0, c->s>>>(*g, col, total, in);
    LAUNCHED();
}

static void cu_bias_act(const at_nn_backend *be, float *y, size_t rows, size_t C, const float *bias, int act,
                        float slope) {
    OP(be);
    size_t n = rows * C;
    if (!n || (!bias && act == ACT_LINEAR)) return;
    k_bias_act<<<blocks_for(n), 256, 0, c->s>>>(y, n, C, bias, act, slope);
    LAUNCHED();
}

static void cu_act_backward(const at_nn_backend *be, float *d, const float *y, size_t n, int act, float slope,
                            int threads) {
    (void)threads;
    OP(be);
    if (!n || act == ACT_LINEAR) return;
    k_act_backward<<<blocks_for(n), 256, 0, c->s>>>(d, y, n, act, slope);
    LAUNCHED();
}

static void cu_softmax(const at_nn_backend *be, const float *in, size_t n, size_t k, float *out) {
    OP(be);
    if (!n) return;
    k_softmax<<<blocks_for(n), 256, 0, c->s>>>(in, n, k, out);
    LAUNCHED();
}

/* The mask is drawn on the host from the same stream as the CPU's (at_rng), so both
 * backends drop the same units; it goes up through page-locked scratch. */
static void cu_dropout(const at_nn_backend *be, const float *in, float *out, float *mask, size_t m, double rate,
                       uint64_t seed, uint64_t stream) {
    OP(be);
    if (!m) return;
    CU(cudaStreamSynchronize(c->s)); /* the scratch may still be on its way up from the last call */
    if (c->hmask_n < m) {
        if (c->hmask) cudaFreeHost(c->hmask);
        c->hmask = NULL, c->hmask_n = 0;
        CU(cudaHostAlloc((void **)&c->hmask, m * sizeof(float), cudaHostAllocDefault));
        c->hmask_n = m;
    }
    float keep = (float)(1.0 / (1.0 - rate));
    at_rng r;
    at_rng_init(&r, seed, stream);
    for (size_t i = 0; i < m; i++) c->hmask[i] = at_rng_uniform(&r) < rate ? 0.0f : keep;
    CU(cudaMemcpyAsync(mask, c->hmask, m * sizeof(float), cudaMemcpyHostToDevice, c->s));
    k_mul<<<blocks_for(m), 256, 0, c->s>>>(in, mask, out, m);
    LAUNCHED();
}

static void cu_dropout_backward(const at_nn_backend *be, const float *d, const float *mask, size_t m, float *din,
                                int acc) {
    OP(be);
    if (!m) return;
    k_dropout_backward<<<blocks_for(m), 256, 0, c->s>>>(d, mask, m, din, acc);
    LAUNCHED();
}

static void cu_add_act(const at_nn_backend *be, const float *a, const float *b, float *y, size_t n, size_t os,
                       int act, float slope, int threads) {
    (void)threads;
    OP(be);
    if (n == 0 || os == 0) return;
    k_add_act<<<blocks_for(n * os), 256, 0, c->s>>>(a, b, y, n * os, act, slope);
    LAUNCHED();
}

static void cu_shortcut_backward(const at_nn_backend *be, const float *d, float *din, float *dsrc, size_t m, int acc,
                                 int threads) {
    (void)threads;
    OP(be);
    if (!m) return;
    k_shortcut_backward<<<blocks_for(m), 256, 0, c->s>>>(d, din, dsrc, m, acc);
    LAUNCHED();
}

static void cu_update(const at_nn_backend *be, const nn_update *u, float *w, const float *g, float *m, float *v,
                      size_t n) {
    OP(be);
    if (!n) return;
    k_update<<<blocks_for(n), 256, 0, c->s>>>(*u, w, g, m, v, n);
    LAUNCHED();
}

/* ---- pooling ------------------------------------------------------------------------------ */

static void cu_maxpool_forward(const at_nn_backend *be, const nn_geom *g, const float *in, size_t n, float *out,
                               int32_t *argmax, int threads) {
    (void)threads;
    OP(be);
    size_t total = n * g->out_h * g->out_w * g->in_c;
    if (!total) return;
    k_maxpool<<<blocks_for(total), 256, 0, c->s>>>(*g, in, n, out, argmax);
    LAUNCHED();
}

static void cu_maxpool_backward(const at_nn_backend *be, const float *d, const int32_t *argmax, size_t n, size_t os,
                                size_t is, float *din, int acc, int threads) {
    (void)threads;
    OP(be);
    if (!n) return;
    if (!acc) CU(cudaMemsetAsync(din, 0, n * is * sizeof *din, c->s));
    k_maxpool_backward<<<blocks_for(n * os), 256, 0, c->s>>>(d, argmax, n, os, is, din);
    LAUNCHED();
}

static void cu_avgpool_forward(const at_nn_backend *be, const nn_geom *g, const float *in, size_t n, float *out,
                               int threads) {
    (void)threads;
    OP(be);
    if (!n) return;
    k_avgpool<<<blocks_for(n * g->in_c), 256, 0, c->s>>>(in, n, g->in_h * g->in_w, g->in_c, out);
    LAUNCHED();
}

static void cu_avgpool_backward(const at_nn_backend *be, const nn_geom *g, const float *d, size_t n, float *din,
                                int acc, int threads) {
    (void)threads;
    OP(be);
    size_t hw = g->in_h * g->in_w, total = n * hw * g->in_c;
    if (!total) return;
    k_avgpool_backward<<<blocks_for(total), 256, 0, c->s>>>(d, n, hw, g->in_c, din, acc);
    LAUNCHED();
}

/* ---- batch norm (cuDNN spatial batch norm on M x C as N = M, C, 1, 1) -------------------- */

static int bn_descs(cuda_ctx *c, size_t M, size_t C) {
    if (M > INT32_MAX || C > INT32_MAX) {
        fail_msg(c, "batch norm", "too many rows for cuDNN", ": use a smaller batch");
        return 1;
    }
    if (ck_dnn(c, cudnnSetTensor4dDescriptor(c->bn_x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)M, (int)C, 1, 1),
               "cudnnSetTensor4dDescriptor (batch norm)"))
        return 1;
    return ck_dnn(c, cudnnDeriveBNTensorDescriptor(c->bn_p, c->bn_x, CUDNN_BATCHNORM_SPATIAL),
                  "cudnnDeriveBNTensorDescriptor");
}

static double bn_eps(float eps) { return (double)eps > CUDNN_BN_MIN_EPSILON ? (double)eps : CUDNN_BN_MIN_EPSILON; }

static void cu_bn_forward_train(const at_nn_backend *be, const float *z, float *y, size_t M, size_t C,
                                const float *gamma, const float *beta, float *mean, float *invstd, float *rm, float *rv,
                                float eps, float momentum, int act, float slope, double *red, size_t red_max,
                                int threads) {
    (void)red, (void)red_max, (void)threads;
    OP(be);
    if (!M) return;
    if (bn_descs(c, M, C)) return;
    const float one = 1.0f, zero = 0.0f;
    /* cuDNN's running variance is the unbiased one, as the CPU's */
    CD(cudnnBatchNormalizationForwardTraining(c->dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, c->bn_x, z, c->bn_x, y,
                                              c->bn_p, gamma, beta, (double)momentum, rm, rv, bn_eps(eps), mean,
                                              invstd));
    if (act != ACT_LINEAR) {
        k_bias_act<<<blocks_for(M * C), 256, 0, c->s>>>(y, M * C, C, NULL, act, slope);
        LAUNCHED();
    }
}

static void cu_bn_backward(const at_nn_backend *be, float *d, float *xh, const float *z, size_t M, size_t C,
                           const float *gamma, const float *mean, const float *invstd, float *dgamma, float *dbeta,
                           float *k, double *red, size_t red_max, int threads) {
    (void)k, (void)red, (void)red_max, (void)threads;
    OP(be);
    if (!M) return;
    if (bn_descs(c, M, C)) return;
    const float one = 1.0f, zero = 0.0f;
    /* dx into the scratch xh (cuDNN does not promise in-place), then back into d */
    CD(cudnnBatchNormalizationBackward(c->dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero, c->bn_x, z, c->bn_x,
                                       d, c->bn_x, xh, c->bn_p, gamma, dgamma, dbeta, bn_eps(NN_BN_EPS), mean,
                                       invstd));
    CU(cudaMemcpyAsync(d, xh, M * C * sizeof *d, cudaMemcpyDeviceToDevice, c->s));
}

static void cu_bn_fold(const at_nn_backend *be, const float *gamma, const float *beta, const float *rm,
                       const float *rv, size_t C, float eps, float *sc, float *sh) {
    OP(be);
    k_bn_fold<<<blocks_for(C), 256, 0, c->s>>>(gamma, beta, rm, rv, C, eps, sc, sh);
    LAUNCHED();
}

/* ---- convolution (cuDNN) ----------------------------------------------------------------- */

static int same_geom(const nn_geom *a, const nn_geom *b) {
    return a->in_h == b->in_h && a->in_w == b->in_w && a->in_c == b->in_c && a->out_h == b->out_h &&
           a->out_w == b->out_w && a->out_c == b->out_c && a->size == b->size && a->stride == b->stride &&
           a->pad == b->pad;
}

static void plan_destroy(conv_plan *p) {
    if (!p->used) return;
    cudnnDestroyTensorDescriptor(p->x), cudnnDestroyTensorDescriptor(p->y);
    cudnnDestroyFilterDescriptor(p->w), cudnnDestroyConvolutionDescriptor(p->conv);
    p->used = 0;
}

static conv_plan *plan_fail(cuda_ctx *c, conv_plan *p, const char *what) {
    fail_msg(c, what, "no cuDNN algorithm for this convolution",
             ": use --device cpu for this network and report the layer");
    plan_destroy(p);
    return NULL;
}

/* The descriptors and heuristic algorithms of one geometry at batch n, cached. */
static conv_plan *get_plan(cuda_ctx *c, const nn_geom *g, size_t n) {
    for (int i = 0; i < c->nplans; i++)
        if (c->plans[i].used && c->plans[i].n == n && same_geom(&c->plans[i].g, g)) return &c->plans[i];
    conv_plan *p;
    if (c->nplans < PLAN_MAX) {
        p = &c->plans[c->nplans++];
    } else {
        p = &c->plans[c->evict];
        c->evict = (c->evict + 1) % PLAN_MAX;
        if (ck_cuda(c, cudaStreamSynchronize(c->s), "cudaStreamSynchronize")) return NULL;
        plan_destroy(p);
    }
    memset(p, 0, sizeof *p);
    if (n > INT32_MAX || g->in_h > INT32_MAX || g->in_w > INT32_MAX) {
        fail_msg(c, "convolution", "too large for cuDNN", ": use a smaller batch");
        return NULL;
    }
    if (ck_dnn(c, cudnnCreateTensorDescriptor(&p->x), "cudnnCreateTensorDescriptor")) return NULL;
    if (ck_dnn(c, cudnnCreateTensorDescriptor(&p->y), "cudnnCreateTensorDescriptor")) {
        cudnnDestroyTensorDescriptor(p->x);
        return NULL;
    }
    if (ck_dnn(c, cudnnCreateFilterDescriptor(&p->w), "cudnnCreateFilterDescriptor")) {
        cudnnDestroyTensorDescriptor(p->x), cudnnDestroyTensorDescriptor(p->y);
        return NULL;
    }
    if (ck_dnn(c, cudnnCreateConvolutionDescriptor(&p->conv), "cudnnCreateConvolutionDescriptor")) {
        cudnnDestroyTensorDescriptor(p->x), cudnnDestroyTensorDescriptor(p->y), cudnnDestroyFilterDescriptor(p->w);
        return NULL;
    }
    p->used = 1, p->g = *g, p->n = n;
    const int N = (int)n, S = (int)g->size;
    if (ck_dnn(c, cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, N, (int)g->in_c, (int)g->in_h,
                                             (int)g->in_w),
               "cudnnSetTensor4dDescriptor (conv input)") ||
        ck_dnn(c, cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, N, (int)g->out_c,
                                             (int)g->out_h, (int)g->out_w),
               "cudnnSetTensor4dDescriptor (conv output)") ||
        ck_dnn(c, cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, (int)g->out_c, (int)g->in_c, S, S),
               "cudnnSetFilter4dDescriptor") ||
        ck_dnn(c, cudnnSetConvolution2dDescriptor(p->conv, (int)g->pad, (int)g->pad, (int)g->stride, (int)g->stride, 1,
                                                  1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
               "cudnnSetConvolution2dDescriptor")) {
        plan_destroy(p);
        return NULL;
    }
    int on, oc, oh, ow;
    if (ck_dnn(c, cudnnGetConvolution2dForwardOutputDim(p->conv, p->x, p->w, &on, &oc, &oh, &ow),
               "cudnnGetConvolution2dForwardOutputDim")) {
        plan_destroy(p);
        return NULL;
    }
    if (on != N || oc != (int)g->out_c || oh != (int)g->out_h || ow != (int)g->out_w) {
        fail_msg(c, "convolution", "cuDNN's output shape differs from the network's",
                 ": use --device cpu and report the layer");
        plan_destroy(p);
        return NULL;
    }
    /* fp32: FMA math (no TF32) so that the GPU matches the CPU; bf16: tensor cores with
     * down-conversion. Should cuDNN have no algorithm in that mode for this geometry, the
     * default math is tried before giving up. */
    const cudnnMathType_t modes[2] = {c->bf16 ? CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION : CUDNN_FMA_MATH,
                                      CUDNN_DEFAULT_MATH};
    for (int mode = 0; mode < 2; mode++) {
        if (ck_dnn(c, cudnnSetConvolutionMathType(p->conv, modes[mode]), "cudnnSetConvolutionMathType")) {
            plan_destroy(p);
            return NULL;
        }
        int got = 0, i;
        cudnnConvolutionFwdAlgoPerf_t fp[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        cudnnConvolutionBwdDataAlgoPerf_t dp[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        cudnnConvolutionBwdFilterAlgoPerf_t wp[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        if (ck_dnn(c, cudnnGetConvolutionForwardAlgorithm_v7(c->dnn, p->x, p->w, p->conv, p->y,
                                                             CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, fp),
                   "cudnnGetConvolutionForwardAlgorithm_v7")) {
            plan_destroy(p);
            return NULL;
        }
        for (i = 0; i < got && (fp[i].status != CUDNN_STATUS_SUCCESS || fp[i].memory > WS_LIMIT);) i++;
        if (i == got) continue;
        p->fa = fp[i].algo, p->fws = fp[i].memory;
        if (ck_dnn(c, cudnnGetConvolutionBackwardDataAlgorithm_v7(c->dnn, p->w, p->y, p->conv, p->x,
                                                                  CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, dp),
                   "cudnnGetConvolutionBackwardDataAlgorithm_v7")) {
            plan_destroy(p);
            return NULL;
        }
        for (i = 0; i < got && (dp[i].status != CUDNN_STATUS_SUCCESS || dp[i].memory > WS_LIMIT);) i++;
        if (i == got) continue;
        p->da = dp[i].algo, p->dws = dp[i].memory;
        if (ck_dnn(c, cudnnGetConvolutionBackwardFilterAlgorithm_v7(c->dnn, p->x, p->y, p->conv, p->w,
                                                                    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got, wp),
                   "cudnnGetConvolutionBackwardFilterAlgorithm_v7")) {
            plan_destroy(p);
            return NULL;
        }
        for (i = 0; i < got && (wp[i].status != CUDNN_STATUS_SUCCESS || wp[i].memory > WS_LIMIT);) i++;
        if (i == got) continue;
        p->wa = wp[i].algo, p->wws = wp[i].memory;
        return p;
    }
    return plan_fail(c, p, "convolution");
}

/* W (K x C_out, row-major) into c->wt as C_out x K (cuDNN's KRSC filter). */
static int transpose_weights(cuda_ctx *c, const float *W, size_t K, size_t Co) {
    if (grow(c, &c->wt, &c->wt_n, K * Co)) return 1;
    const float one = 1.0f, zero = 0.0f;
    /* column-major view: W is Co x K (ld Co); its transpose K x Co (ld K) is wt */
    return ck_blas(c, cublasSgeam(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)K, (int)Co, &one, W, (int)Co, &zero, c->wt,
                                  (int)K, c->wt, (int)K),
                   "cublasSgeam (weights to KRSC)");
}

static void cu_conv_forward(const at_nn_backend *be, const nn_conv_fwd *a) {
    OP(be);
    const nn_geom *g = a->g;
    if (!a->n) return;
    conv_plan *p = get_plan(c, g, a->n);
    if (!p || transpose_weights(c, a->W, g->K, g->out_c) || grow_ws(c, p->fws)) return;
    const float one = 1.0f, zero = 0.0f;
    CD(cudnnConvolutionForward(c->dnn, &one, p->x, a->in, p->w, c->wt, p->conv, p->fa, c->ws, p->fws, &zero, p->y,
                               a->out));
    size_t total = a->n * g->out_h * g->out_w * g->out_c;
    if (a->epilogue == NN_EPI_BIAS_ACT && (a->bias || a->act != ACT_LINEAR)) {
        k_bias_act<<<blocks_for(total), 256, 0, c->s>>>(a->out, total, g->out_c, a->bias, a->act, a->slope);
        LAUNCHED();
    } else if (a->epilogue == NN_EPI_SCALE_ACT) {
        k_scale_act<<<blocks_for(total), 256, 0, c->s>>>(a->out, total, g->out_c, a->sc, a->sh, a->act, a->slope);
        LAUNCHED();
    }
}

static void cu_conv_backward(const at_nn_backend *be, const nn_conv_bwd *a) {
    OP(be);
    const nn_geom *g = a->g;
    const size_t K = g->K, Co = g->out_c;
    const float one = 1.0f, zero = 0.0f;
    if (!a->n) {
        CU(cudaMemsetAsync(a->gw, 0, K * Co * sizeof(float), c->s));
        if (a->gb) CU(cudaMemsetAsync(a->gb, 0, Co * sizeof(float), c->s));
        return;
    }
    conv_plan *p = get_plan(c, g, a->n);
    if (!p || grow_ws(c, p->wws > p->dws ? p->wws : p->dws) || grow(c, &c->dwt, &c->dwt_n, K * Co)) return;
    CD(cudnnConvolutionBackwardFilter(c->dnn, &one, p->x, a->in, p->y, a->dZ, p->conv, p->wa, c->ws, p->wws, &zero,
                                      p->w, c->dwt));
    /* dwt is C_out x K row-major (column-major K x C_out, ld K): its transpose is gw */
    CB(cublasSgeam(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)Co, (int)K, &one, c->dwt, (int)K, &zero, a->gw, (int)Co,
                   a->gw, (int)Co));
    if (a->gb) {
        col_sums_locked(c, a->dZ, a->n * g->out_h * g->out_w, Co, a->gb);
        if (c->failed) return;
    }
    if (!a->din) return;
    if (transpose_weights(c, a->W, K, Co)) return;
    CD(cudnnConvolutionBackwardData(c->dnn, &one, p->w, c->wt, p->y, a->dZ, p->conv, p->da, c->ws, p->dws,
                                    a->acc ? &one : &zero, p->x, a->din));
}

/* ---- open, close -------------------------------------------------------------------------- */

static const at_nn_backend cuda_table = {
    "cuda",
    1,
    NULL,
    cu_alloc,
    cu_release,
    cu_gemm,
    cu_im2col,
    cu_col2im_add,
    cu_bias_act,
    cu_act_backward,
    cu_bn_forward_train,
    cu_bn_backward,
    cu_maxpool_forward,
    cu_maxpool_backward,
    cu_avgpool_forward,
    cu_avgpool_backward,
    cu_softmax,
    cu_dropout,
    cu_update,
    cu_conv_forward,
    cu_conv_backward,
    cu_bn_fold,
    cu_col_sums,
    cu_dropout_backward,
    cu_add_act,
    cu_shortcut_backward,
    cu_zero,
    cu_copy,
    cu_to_device,
    cu_to_host,
    cu_host_alloc,
    cu_host_free,
    cu_status,
};

extern "C" int nn_cuda_device_count(char *why, size_t why_len) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        if (why) snprintf(why, why_len, "%s%s", cudaGetErrorString(e), cuda_hint(e));
        return -1;
    }
    if (!count && why) snprintf(why, why_len, "no CUDA GPU is visible");
    return count;
}

extern "C" void nn_backend_cuda_free(const at_nn_backend *be) {
    if (!be) return;
    cuda_backend *b = (cuda_backend *)be;
    cuda_ctx *c = &b->c;
    cudaSetDevice(c->device);
    if (c->s) cudaStreamSynchronize(c->s);
    for (int i = 0; i < c->nplans; i++) plan_destroy(&c->plans[i]);
    if (c->bn_x) cudnnDestroyTensorDescriptor(c->bn_x);
    if (c->bn_p) cudnnDestroyTensorDescriptor(c->bn_p);
    cudaFree(c->ws), cudaFree(c->wt), cudaFree(c->dwt), cudaFree(c->ones);
    if (c->hmask) cudaFreeHost(c->hmask);
    if (c->dnn) cudnnDestroy(c->dnn);
    if (c->blas) cublasDestroy(c->blas);
    if (c->s) cudaStreamDestroy(c->s);
    pthread_mutex_destroy(&c->mu);
    free(b);
}

extern "C" at_status nn_backend_cuda_new(int device, int bf16, const at_nn_backend **out, at_error *err) {
    *out = NULL;
    char why[300];
    int count = nn_cuda_device_count(why, sizeof why);
    if (count < 0) return at_fail(err, AT_ERR_IO, "CUDA cannot start: %s; or use --device cpu", why);
    if (count == 0) return at_fail(err, AT_ERR_IO, "no CUDA GPU found: use --device cpu (or auto)");
    if (device < 0 || device >= count)
        return at_fail(err, AT_ERR_CONFIG, "device cuda:%d asked for but this machine has %d GPU%s: use cuda:0%s", device,
                       count, count == 1 ? "" : "s", count > 1 ? " .. cuda:N-1" : "");
    size_t dv = cudnnGetVersion();
    if (dv / 10000 != CUDNN_MAJOR)
        return at_fail(err, AT_ERR_IO,
                       "the cuDNN library found (%zu) is not the major version %d astrotrain was built with: set "
                       "LD_LIBRARY_PATH to cuDNN %d's lib directory",
                       dv, CUDNN_MAJOR, CUDNN_MAJOR);
    cuda_backend *b = (cuda_backend *)calloc(1, sizeof *b);
    if (!b) return at_fail(err, AT_ERR_MEMORY, "out of memory (CUDA backend)");
    b->be = cuda_table;
    b->be.ctx = &b->c;
    cuda_ctx *c = &b->c;
    c->device = device, c->bf16 = bf16;
    pthread_mutex_init(&c->mu, NULL);
    cudaDeviceProp prop;
    memset(&prop, 0, sizeof prop);
    snprintf(c->name, sizeof c->name, "cuda:%d", device);
    if (!ck_cuda(c, cudaSetDevice(device), "cudaSetDevice") &&
        !ck_cuda(c, cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties"))
        snprintf(c->name, sizeof c->name, "cuda:%d (%.100s)", device, prop.name);
    b->be.name = c->name;
    if (!c->failed) ck_cuda(c, cudaStreamCreateWithFlags(&c->s, cudaStreamNonBlocking), "cudaStreamCreate");
    if (!c->failed) ck_blas(c, cublasCreate(&c->blas), "cublasCreate");
    if (!c->failed) ck_blas(c, cublasSetStream(c->blas, c->s), "cublasSetStream");
    if (!c->failed) ck_blas(c, cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    if (!c->failed) ck_dnn(c, cudnnCreate(&c->dnn), "cudnnCreate");
    if (!c->failed) ck_dnn(c, cudnnSetStream(c->dnn, c->s), "cudnnSetStream");
    if (!c->failed) ck_dnn(c, cudnnCreateTensorDescriptor(&c->bn_x), "cudnnCreateTensorDescriptor");
    if (!c->failed) ck_dnn(c, cudnnCreateTensorDescriptor(&c->bn_p), "cudnnCreateTensorDescriptor");
    if (c->failed) {
        at_status s = at_fail(err, AT_ERR_IO, "%s", c->msg);
        nn_backend_cuda_free(&b->be);
        return s;
    }
    *out = &b->be;
    return AT_OK;
}
