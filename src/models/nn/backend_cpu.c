/* backend_cpu.c - the CPU implementation of the engine's compute seam (backend.h):
 * OpenBLAS sgemm for every product, OpenMP loops for the element-wise kernels, malloc for
 * the workspace. The kernels with a `threads` argument open their own parallel region
 * (skipped for one thread, as inside the MLP's shards); gemm is always called with the
 * BLAS thread count the caller set once (the CLI sets 1: the layers parallelise above it). */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX512F__) || defined(__AVX__) || defined(__SSE2__)
#include <immintrin.h>
#endif

#include "astrotrain/nn.h"
#include "astrotrain/rng.h"
#include "models/nn/backend.h"

static inline size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

static void *cpu_alloc(const at_nn_backend *be, size_t count, size_t size) {
    (void)be;
    if (size && count > SIZE_MAX / size) return NULL;
    return malloc(count * size > 0 ? count * size : 1);
}

static void cpu_release(const at_nn_backend *be, void *p) {
    (void)be;
    free(p);
}

static void cpu_gemm(const at_nn_backend *be, int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                     const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    (void)be;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N,
                (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

static void cpu_im2col(const at_nn_backend *be, const nn_geom *g, const float *in, size_t m, float *col) {
    (void)be;
    const long H = (long)g->in_h, W = (long)g->in_w, S = g->size, st = g->stride, pad = g->pad;
    const size_t C = g->in_c, OH = g->out_h, OW = g->out_w, K = g->K, run = (size_t)S * C;
    for (size_t img = 0; img < m; img++) {
        const float *x = in + img * (size_t)(H * W) * C;
        for (size_t oh = 0; oh < OH; oh++) {
            long ih0 = (long)oh * st - pad;
            for (size_t ow = 0; ow < OW; ow++) {
                float *row = col + ((img * OH + oh) * OW + ow) * K;
                long iw0 = (long)ow * st - pad;
                for (long kh = 0; kh < S; kh++) {
                    long ih = ih0 + kh;
                    float *dst = row + (size_t)kh * run;
                    if (ih < 0 || ih >= H) {
                        memset(dst, 0, run * sizeof *dst);
                        continue;
                    }
                    const float *src = x + (size_t)(ih * W) * C;
                    if (iw0 >= 0 && iw0 + S <= W) {
                        memcpy(dst, src + (size_t)iw0 * C, run * sizeof *dst);
                        continue;
                    }
                    for (long kw = 0; kw < S; kw++) {
                        long iw = iw0 + kw;
                        if (iw < 0 || iw >= W) memset(dst + (size_t)kw * C, 0, C * sizeof *dst);
                        else memcpy(dst + (size_t)kw * C, src + (size_t)iw * C, C * sizeof *dst);
                    }
                }
            }
        }
    }
}

/* The adjoint of im2col: adds every column entry back onto its input pixel. */
static void cpu_col2im_add(const at_nn_backend *be, const nn_geom *g, const float *col, size_t m, float *in) {
    (void)be;
    const long H = (long)g->in_h, W = (long)g->in_w, S = g->size, st = g->stride, pad = g->pad;
    const size_t C = g->in_c, OH = g->out_h, OW = g->out_w, K = g->K, run = (size_t)S * C;
    for (size_t img = 0; img < m; img++) {
        float *x = in + img * (size_t)(H * W) * C;
        for (size_t oh = 0; oh < OH; oh++) {
            long ih0 = (long)oh * st - pad;
            for (size_t ow = 0; ow < OW; ow++) {
                const float *row = col + ((img * OH + oh) * OW + ow) * K;
                long iw0 = (long)ow * st - pad;
                for (long kh = 0; kh < S; kh++) {
                    long ih = ih0 + kh;
                    if (ih < 0 || ih >= H) continue;
                    const float *src = row + (size_t)kh * run;
                    float *dst = x + (size_t)(ih * W) * C;
                    if (iw0 >= 0 && iw0 + S <= W) {
                        dst += (size_t)iw0 * C;
                        for (size_t j = 0; j < run; j++) dst[j] += src[j];
                        continue;
                    }
                    for (long kw = 0; kw < S; kw++) {
                        long iw = iw0 + kw;
                        if (iw < 0 || iw >= W) continue;
                        float *d = dst + (size_t)iw * C;
                        const float *q = src + (size_t)kw * C;
                        for (size_t c = 0; c < C; c++) d[c] += q[c];
                    }
                }
            }
        }
    }
}

/* One switch outside the loops so that each inner loop vectorises. */
static void cpu_bias_act(const at_nn_backend *be, float *y, size_t rows, size_t C, const float *bias, int act, float slope) {
    (void)be;
    for (size_t r = 0; r < rows; r++) {
        float *v = y + r * C;
        if (bias)
            for (size_t c = 0; c < C; c++) v[c] += bias[c];
        switch (act) {
        case ACT_RELU:
            for (size_t c = 0; c < C; c++) v[c] = v[c] > 0 ? v[c] : 0;
            break;
        case ACT_LEAKY:
            for (size_t c = 0; c < C; c++) v[c] = v[c] > 0 ? v[c] : slope * v[c];
            break;
        case ACT_TANH:
            for (size_t c = 0; c < C; c++) v[c] = tanhf(v[c]);
            break;
        case ACT_SIGMOID:
            for (size_t c = 0; c < C; c++) v[c] = 1.0f / (1.0f + expf(-v[c]));
            break;
        default: break;
        }
    }
}

static void cpu_act_backward(const at_nn_backend *be, float *d, const float *y, size_t n, int act, float slope, int threads) {
    (void)be;
    switch (act) {
    case ACT_RELU:
    case ACT_LEAKY: {
        float neg = act == ACT_LEAKY ? slope : 0.0f;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
        for (size_t i = 0; i < n; i++)
            if (!(y[i] > 0)) d[i] *= neg;
        break;
    }
    case ACT_TANH:
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
        for (size_t i = 0; i < n; i++) d[i] *= 1.0f - y[i] * y[i];
        break;
    case ACT_SIGMOID:
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
        for (size_t i = 0; i < n; i++) d[i] *= y[i] * (1.0f - y[i]);
        break;
    default: break;
    }
}

/* Per-channel sums over rows of an NHWC block, in a fixed order for a thread count:
 * sum[c] = sum_r a[r,c] (and, when b, sum2[c] = sum_r a[r,c] * b[r,c]). */
static void channel_sums(const float *a, const float *b, size_t rows, size_t C, double *red, size_t red_max,
                         int threads, double *sum, double *sum2) {
    int nt_used = 1;
#pragma omp parallel num_threads(threads)
    {
        int tid = omp_get_thread_num(), nt = omp_get_num_threads();
#pragma omp single
        nt_used = nt;
        double *ps = red + (size_t)tid * red_max, *ps2 = ps + C;
        memset(ps, 0, 2 * C * sizeof *ps);
        size_t r0 = rows * (size_t)tid / (size_t)nt, r1 = rows * (size_t)(tid + 1) / (size_t)nt;
        /* float partials per block of rows keep the inner loop vectorised; doubles across blocks */
        float fs[256], fs2[256];
        for (size_t c0 = 0; c0 < C; c0 += 256) {
            size_t cn = min_sz(256, C - c0);
            for (size_t rb = r0; rb < r1; rb += 64) {
                size_t re = min_sz(rb + 64, r1);
                memset(fs, 0, cn * sizeof *fs);
                memset(fs2, 0, cn * sizeof *fs2);
                for (size_t r = rb; r < re; r++) {
                    const float *ar = a + r * C + c0;
                    for (size_t c = 0; c < cn; c++) fs[c] += ar[c];
                    if (b) {
                        const float *br = b + r * C + c0;
                        for (size_t c = 0; c < cn; c++) fs2[c] += ar[c] * br[c];
                    }
                }
                for (size_t c = 0; c < cn; c++) ps[c0 + c] += fs[c], ps2[c0 + c] += fs2[c];
            }
        }
    }
    for (size_t c = 0; c < C; c++) sum[c] = 0, sum2[c] = 0;
    for (int t = 0; t < nt_used; t++) {
        const double *ps = red + (size_t)t * red_max;
        for (size_t c = 0; c < C; c++) sum[c] += ps[c], sum2[c] += ps[C + c];
    }
}

static void cpu_bn_forward_train(const at_nn_backend *be, const float *z, float *y, size_t M, size_t C, const float *gamma,
                                 const float *beta, float *mean, float *inv, float *rm, float *rv, float eps,
                                 float momentum, int act, float slope, double *red, size_t red_max, int threads) {
    (void)be;
    double *sum = red + (size_t)threads * red_max, *sum2 = sum + C;
    channel_sums(z, NULL, M, C, red, red_max, threads, sum, sum2);
    for (size_t c = 0; c < C; c++) mean[c] = (float)(sum[c] / (double)M);
    /* second pass for the variance: sum (z - mean)^2, stable */
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t r = 0; r < M; r++)
        for (size_t c = 0; c < C; c++) y[r * C + c] = z[r * C + c] - mean[c];
    channel_sums(y, y, M, C, red, red_max, threads, sum, sum2);
    for (size_t c = 0; c < C; c++) {
        double var = sum2[c] / (double)M;
        inv[c] = (float)(1.0 / sqrt(var + eps));
        double unbiased = M > 1 ? var * (double)M / (double)(M - 1) : var;
        rm[c] = (1 - momentum) * rm[c] + momentum * mean[c];
        rv[c] = (float)((1 - momentum) * rv[c] + momentum * unbiased);
    }
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t r = 0; r < M; r++) {
        float *v = y + r * C;
        for (size_t c = 0; c < C; c++) v[c] = gamma[c] * v[c] * inv[c] + beta[c];
        cpu_bias_act(be, v, 1, C, NULL, act, slope);
    }
}

static void cpu_bn_backward(const at_nn_backend *be, float *d, float *xh, const float *z, size_t M, size_t C, const float *gamma,
                            const float *mean, const float *inv, float *gg, float *gb, float *k, double *red,
                            size_t red_max, int threads) {
    (void)be;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t r = 0; r < M; r++)
        for (size_t c = 0; c < C; c++) xh[r * C + c] = (z[r * C + c] - mean[c]) * inv[c];
    double *sum = red + (size_t)threads * red_max, *sum2 = sum + C;
    channel_sums(d, xh, M, C, red, red_max, threads, sum, sum2);
    float *k1 = k, *k2 = k + C, *k3 = k + 2 * C;
    for (size_t c = 0; c < C; c++) {
        gb[c] = (float)sum[c];
        gg[c] = (float)sum2[c];
        k1[c] = gamma[c] * inv[c];
        k2[c] = (float)(sum[c] / (double)M);
        k3[c] = (float)(sum2[c] / (double)M);
    }
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t r = 0; r < M; r++)
        for (size_t c = 0; c < C; c++) {
            size_t i = r * C + c;
            d[i] = k1[c] * (d[i] - k2[c] - xh[i] * k3[c]);
        }
}

/* Max pooling with padding: window positions outside the image are skipped (PyTorch pads
 * with -inf); every window holds at least one pixel since pad < size. */
static void maxpool_padded(const nn_geom *g, const float *in, size_t n, float *out, int32_t *am, int threads) {
    const long H = (long)g->in_h, W = (long)g->in_w, S = g->size, st = g->stride, pad = g->pad;
    const size_t C = g->in_c, OH = g->out_h, OW = g->out_w;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t io = 0; io < n * OH; io++) {
        size_t img = io / OH, oh = io % OH;
        const float *x = in + img * (size_t)(H * W) * C;
        for (size_t ow = 0; ow < OW; ow++) {
            float *y = out + ((img * OH + oh) * OW + ow) * C;
            int32_t *a = am ? am + ((img * OH + oh) * OW + ow) * C : NULL;
            for (size_t c = 0; c < C; c++) y[c] = -INFINITY;
            int first = 1;
            for (long kh = 0; kh < S; kh++) {
                long ih = (long)oh * st - pad + kh;
                if (ih < 0 || ih >= H) continue;
                for (long kw = 0; kw < S; kw++) {
                    long iw = (long)ow * st - pad + kw;
                    if (iw < 0 || iw >= W) continue;
                    size_t p = (size_t)(ih * W + iw) * C;
                    for (size_t c = 0; c < C; c++)
                        if (first || x[p + c] > y[c]) {
                            y[c] = x[p + c];
                            if (a) a[c] = (int32_t)(p + c);
                        }
                    first = 0;
                }
            }
        }
    }
}

static void cpu_maxpool_forward(const at_nn_backend *be, const nn_geom *g, const float *in, size_t n, float *out, int32_t *am,
                                int threads) {
    (void)be;
    const size_t H = g->in_h, W = g->in_w, C = g->in_c, OH = g->out_h, OW = g->out_w, S = (size_t)g->size,
                 st = (size_t)g->stride;
    if (g->pad > 0) {
        maxpool_padded(g, in, n, out, am, threads);
        return;
    }
    (void)H;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t io = 0; io < n * OH; io++) {
        size_t img = io / OH, oh = io % OH;
        const float *x = in + img * g->in_h * W * C;
        for (size_t ow = 0; ow < OW; ow++) {
            float *y = out + ((img * OH + oh) * OW + ow) * C;
            int32_t *a = am ? am + ((img * OH + oh) * OW + ow) * C : NULL;
            size_t p0 = (oh * st * W + ow * st) * C;
            for (size_t c = 0; c < C; c++) {
                y[c] = x[p0 + c];
                if (a) a[c] = (int32_t)(p0 + c);
            }
            for (size_t kh = 0; kh < S; kh++)
                for (size_t kw = 0; kw < S; kw++) {
                    if (!kh && !kw) continue;
                    size_t p = ((oh * st + kh) * W + ow * st + kw) * C;
                    if (a) {
                        for (size_t c = 0; c < C; c++)
                            if (x[p + c] > y[c]) y[c] = x[p + c], a[c] = (int32_t)(p + c);
                    } else {
                        for (size_t c = 0; c < C; c++) y[c] = x[p + c] > y[c] ? x[p + c] : y[c];
                    }
                }
        }
    }
}

static void cpu_maxpool_backward(const at_nn_backend *be, const float *d, const int32_t *am, size_t n, size_t os, size_t is, float *din,
                                 int acc, int threads) {
    (void)be;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t img = 0; img < n; img++) {
        float *D = din + img * is;
        if (!acc) memset(D, 0, is * sizeof *D);
        for (size_t j = 0; j < os; j++) D[am[img * os + j]] += d[img * os + j];
    }
}

static void cpu_avgpool_forward(const at_nn_backend *be, const nn_geom *g, const float *in, size_t n, float *out, int threads) {
    (void)be;
    size_t hw = g->in_h * g->in_w, C = g->in_c;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t img = 0; img < n; img++) {
        float *y = out + img * C;
        const float *x = in + img * hw * C;
        for (size_t c = 0; c < C; c++) y[c] = 0;
        for (size_t p = 0; p < hw; p++)
            for (size_t c = 0; c < C; c++) y[c] += x[p * C + c];
        for (size_t c = 0; c < C; c++) y[c] /= (float)hw;
    }
}

static void cpu_avgpool_backward(const at_nn_backend *be, const nn_geom *g, const float *d, size_t n, float *din, int acc, int threads) {
    (void)be;
    size_t hw = g->in_h * g->in_w, C = g->in_c;
    float inv = 1.0f / (float)hw;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t img = 0; img < n; img++)
        for (size_t p = 0; p < hw; p++) {
            float *D = din + (img * hw + p) * C;
            for (size_t c = 0; c < C; c++) D[c] = (acc ? D[c] : 0) + d[img * C + c] * inv;
        }
}

/* float max, exp, sum and one reciprocal per row: the arithmetic of the MLP before the
 * engine, so that its model files predict bit-identically (the CNN's used a double sum;
 * its probabilities move in the last float bit). */
static void cpu_softmax(const at_nn_backend *be, const float *in, size_t n, size_t k, float *y) {
    (void)be;
    for (size_t i = 0; i < n; i++) {
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

static void cpu_dropout(const at_nn_backend *be, const float *in, float *out, float *mask, size_t m, double rate, uint64_t seed,
                        uint64_t stream) {
    (void)be;
    float keep = (float)(1.0 / (1.0 - rate));
    at_rng r;
    at_rng_init(&r, seed, stream);
    for (size_t i = 0; i < m; i++) {
        mask[i] = at_rng_uniform(&r) < rate ? 0.0f : keep;
        out[i] = in[i] * mask[i];
    }
}

/* GCC will not vectorise sqrtf while it must set errno; IEEE square roots are correctly
 * rounded, so the vector and scalar paths give the same bits. */
static void sqrt_block(float *x, size_t n) {
    size_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_sqrt_ps(_mm512_loadu_ps(x + i)));
#elif defined(__AVX__)
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_sqrt_ps(_mm256_loadu_ps(x + i)));
#elif defined(__SSE2__)
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(x + i, _mm_sqrt_ps(_mm_loadu_ps(x + i)));
#endif
    for (; i < n; i++) x[i] = sqrtf(x[i]);
}

#define UPDATE_BLOCK 512

static void cpu_update(const at_nn_backend *be, const nn_update *u, float *w, const float *g, float *m, float *v, size_t n) {
    (void)be;
    if (u->kind == AT_OPT_SGD) {
        float mu = u->mu, lr = u->step, l2 = u->l2;
        if (u->nesterov)
            for (size_t i = 0; i < n; i++) {
                float gi = g[i] + l2 * w[i];
                m[i] = mu * m[i] + gi;
                w[i] -= lr * (gi + mu * m[i]);
            }
        else
            for (size_t i = 0; i < n; i++) {
                float gi = g[i] + l2 * w[i];
                m[i] = mu * m[i] + gi;
                w[i] -= lr * m[i];
            }
        return;
    }
    float den[UPDATE_BLOCK];
    const float b1 = u->b1, b2 = u->b2, step = u->step, eps = u->eps, l2 = u->l2, decay = u->decay;
    for (size_t lo = 0; lo < n; lo += UPDATE_BLOCK) {
        size_t bn = min_sz(UPDATE_BLOCK, n - lo);
        float *wb = w + lo, *mb = m + lo, *vb = v + lo;
        const float *gb = g + lo;
        for (size_t i = 0; i < bn; i++) {
            float gi = gb[i] + l2 * wb[i];
            mb[i] = b1 * mb[i] + (1 - b1) * gi;
            vb[i] = b2 * vb[i] + (1 - b2) * gi * gi;
            den[i] = vb[i];
        }
        sqrt_block(den, bn);
        for (size_t i = 0; i < bn; i++) wb[i] = wb[i] * decay - step * mb[i] / (den[i] + eps);
    }
}

/* ---- layer-level operations (the arithmetic layers.c did before issue 17, unchanged) ---- */

/* Convolution: the batch is cut into groups of whole images (chunk_imgs each); a thread
 * turns its group into an im2col block and multiplies it by the weight matrix with one gemm
 * while the block is still in cache, then runs the epilogue on the same rows. */
static void cpu_conv_forward(const at_nn_backend *be, const nn_conv_fwd *a) {
    const nn_geom *g = a->g;
    const size_t hw = g->out_h * g->out_w, C = g->out_c, K = g->K, gi = a->chunk_imgs;
    const size_t nch = (a->n + gi - 1) / gi, in_size = g->in_h * g->in_w * g->in_c;
    const int direct = g->size == 1 && g->stride == 1 && g->pad == 0;
#pragma omp parallel num_threads(a->threads)
    {
        int tid = omp_get_thread_num(), nt = omp_get_num_threads();
        float *col = a->col + (size_t)tid * a->col_max;
        for (size_t ch = (size_t)tid; ch < nch; ch += (size_t)nt) {
            size_t i0 = ch * gi, m = min_sz(gi, a->n - i0), rows = m * hw;
            const float *A = a->in + i0 * in_size;
            if (!direct) {
                cpu_im2col(be, g, A, m, col);
                A = col;
            }
            float *Y = a->out + i0 * hw * C;
            cpu_gemm(be, 0, 0, rows, C, K, 1.0f, A, K, a->W, C, 0.0f, Y, C);
            if (a->epilogue == NN_EPI_BIAS_ACT) {
                cpu_bias_act(be, Y, rows, C, a->bias, a->act, a->slope);
            } else if (a->epilogue == NN_EPI_SCALE_ACT) {
                for (size_t r = 0; r < rows; r++) {
                    float *v = Y + r * C;
                    for (size_t c = 0; c < C; c++) v[c] = v[c] * a->sc[c] + a->sh[c];
                }
                cpu_bias_act(be, Y, rows, C, NULL, a->act, a->slope);
            }
        }
    }
}

/* Per group: the weight gradient accumulates into per-thread partial sums (added in thread
 * order afterwards, so results depend on the thread count but not on scheduling) and the
 * input gradient is scattered back with col2im into the group's own images. */
static void cpu_conv_backward(const at_nn_backend *be, const nn_conv_bwd *a) {
    const nn_geom *g = a->g;
    const size_t hw = g->out_h * g->out_w, C = g->out_c, K = g->K, gi = a->chunk_imgs;
    const size_t nch = (a->n + gi - 1) / gi, wn = K * C, in_size = g->in_h * g->in_w * g->in_c;
    const int direct = g->size == 1 && g->stride == 1 && g->pad == 0, acc = a->acc;
    int nt_used = 1;
#pragma omp parallel num_threads(a->threads)
    {
        int tid = omp_get_thread_num(), nt = omp_get_num_threads();
#pragma omp single
        nt_used = nt;
        float *part = a->part + (size_t)tid * a->part_max;
        memset(part, 0, (wn + C) * sizeof *part);
        float *col = a->col + (size_t)tid * a->col_max, *dcol = a->dcol + (size_t)tid * a->col_max;
        for (size_t ch = (size_t)tid; ch < nch; ch += (size_t)nt) {
            size_t i0 = ch * gi, m = min_sz(gi, a->n - i0), rows = m * hw;
            const float *A = a->in + i0 * in_size;
            if (!direct) {
                cpu_im2col(be, g, A, m, col);
                A = col;
            }
            const float *dZ = a->dZ + i0 * hw * C;
            cpu_gemm(be, 1, 0, K, C, rows, 1.0f, A, K, dZ, C, 1.0f, part, C);
            if (a->gb) {
                float *pb = part + wn;
                for (size_t r = 0; r < rows; r++)
                    for (size_t c = 0; c < C; c++) pb[c] += dZ[r * C + c];
            }
            if (!a->din) continue;
            float *D = a->din + i0 * in_size;
            if (direct) {
                cpu_gemm(be, 0, 1, rows, K, C, 1.0f, dZ, C, a->W, C, acc ? 1.0f : 0.0f, D, K);
            } else {
                cpu_gemm(be, 0, 1, rows, K, C, 1.0f, dZ, C, a->W, C, 0.0f, dcol, K);
                if (!acc) memset(D, 0, m * in_size * sizeof *D);
                cpu_col2im_add(be, g, dcol, m, D);
            }
        }
    }
    float *gw = a->gw, *gb = a->gb;
    memcpy(gw, a->part, wn * sizeof *gw);
    if (gb) memcpy(gb, a->part + wn, C * sizeof *gb);
    for (int t = 1; t < nt_used; t++) {
        const float *p = a->part + (size_t)t * a->part_max;
        for (size_t j = 0; j < wn; j++) gw[j] += p[j];
        if (gb)
            for (size_t c = 0; c < C; c++) gb[c] += p[wn + c];
    }
}

static void cpu_bn_fold(const at_nn_backend *be, const float *gamma, const float *beta, const float *rm,
                        const float *rv, size_t C, float eps, float *sc, float *sh) {
    (void)be;
    for (size_t c = 0; c < C; c++) {
        sc[c] = gamma[c] / sqrtf(rv[c] + eps);
        sh[c] = beta[c] - rm[c] * sc[c];
    }
}

static void cpu_col_sums(const at_nn_backend *be, const float *d, size_t rows, size_t C, float *gb) {
    (void)be;
    for (size_t u = 0; u < C; u++) gb[u] = 0;
    for (size_t i = 0; i < rows; i++)
        for (size_t u = 0; u < C; u++) gb[u] += d[i * C + u];
}

static void cpu_dropout_backward(const at_nn_backend *be, const float *d, const float *mask, size_t m, float *din,
                                 int acc) {
    (void)be;
    for (size_t i = 0; i < m; i++) {
        float v = mask ? d[i] * mask[i] : d[i];
        din[i] = acc ? din[i] + v : v;
    }
}

static void cpu_add_act(const at_nn_backend *be, const float *a, const float *b, float *y, size_t n, size_t os,
                        int act, float slope, int threads) {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t img = 0; img < n; img++) {
        float *yi = y + img * os;
        for (size_t j = 0; j < os; j++) yi[j] = a[img * os + j] + b[img * os + j];
        cpu_bias_act(be, yi, 1, os, NULL, act, slope);
    }
}

static void cpu_shortcut_backward(const at_nn_backend *be, const float *d, float *din, float *dsrc, size_t m,
                                  int acc, int threads) {
    (void)be;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t i = 0; i < m; i++) {
        din[i] = acc ? din[i] + d[i] : d[i];
        dsrc[i] += d[i];
    }
}

static void cpu_zero(const at_nn_backend *be, void *p, size_t bytes) {
    (void)be;
    memset(p, 0, bytes);
}

static void cpu_copy(const at_nn_backend *be, void *dst, const void *src, size_t bytes) {
    (void)be;
    if (dst != src) memcpy(dst, src, bytes);
}

static void *cpu_host_alloc(const at_nn_backend *be, size_t bytes) {
    (void)be;
    return malloc(bytes ? bytes : 1);
}

static void cpu_host_free(const at_nn_backend *be, void *p) {
    (void)be;
    free(p);
}

static at_status cpu_status(const at_nn_backend *be, at_error *err) {
    (void)be, (void)err;
    return AT_OK;
}

static const at_nn_backend cpu_backend = {
    .name = "cpu",
    .on_device = 0,
    .ctx = NULL,
    .alloc = cpu_alloc,
    .release = cpu_release,
    .gemm = cpu_gemm,
    .im2col = cpu_im2col,
    .col2im_add = cpu_col2im_add,
    .bias_act = cpu_bias_act,
    .act_backward = cpu_act_backward,
    .bn_forward_train = cpu_bn_forward_train,
    .bn_backward = cpu_bn_backward,
    .maxpool_forward = cpu_maxpool_forward,
    .maxpool_backward = cpu_maxpool_backward,
    .avgpool_forward = cpu_avgpool_forward,
    .avgpool_backward = cpu_avgpool_backward,
    .softmax = cpu_softmax,
    .dropout = cpu_dropout,
    .update = cpu_update,
    .conv_forward = cpu_conv_forward,
    .conv_backward = cpu_conv_backward,
    .bn_fold = cpu_bn_fold,
    .col_sums = cpu_col_sums,
    .dropout_backward = cpu_dropout_backward,
    .add_act = cpu_add_act,
    .shortcut_backward = cpu_shortcut_backward,
    .zero = cpu_zero,
    .copy = cpu_copy,
    .to_device = cpu_copy,
    .to_host = cpu_copy,
    .host_alloc = cpu_host_alloc,
    .host_free = cpu_host_free,
    .status = cpu_status,
};

const at_nn_backend *nn_backend_cpu(void) { return &cpu_backend; }
