/* layers.c - forward and backward of every layer kind on NHWC float32 batches.
 *
 * Convolution: the batch is cut into groups of whole images (about CNN_CHUNK_ROWS output
 * pixels each); a thread turns its group into an im2col block (contiguous runs of
 * size * channels floats per kernel row) and multiplies it by the weight matrix with one
 * single-threaded sgemm while the block is still in cache, then adds the bias and applies
 * the activation on the same rows. Backward does the same per group: the weight gradient
 * accumulates into per-thread partial sums (added in thread order afterwards, so results
 * depend on the thread count but not on scheduling) and the input gradient is scattered
 * back with col2im into the group's own images, so threads never write the same memory.
 *
 * Backward functions receive acc: 0 when they are the only writer of the input gradient
 * (they overwrite it), 1 when a [shortcut] also writes there (they add). */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "models/cnn/cnn_internal.h"

static inline size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

/* ---- helpers ---------------------------------------------------------------------------- */

static void im2col(const cnn_layer *l, const float *in, size_t m, float *col) {
    const cnn_layer_spec *s = &l->s;
    const long H = (long)s->in_h, W = (long)s->in_w, S = s->size, st = s->stride, pad = s->pad;
    const size_t C = s->in_c, OH = s->out_h, OW = s->out_w, K = l->K, run = (size_t)S * C;
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
static void col2im_add(const cnn_layer *l, const float *col, size_t m, float *in) {
    const cnn_layer_spec *s = &l->s;
    const long H = (long)s->in_h, W = (long)s->in_w, S = s->size, st = s->stride, pad = s->pad;
    const size_t C = s->in_c, OH = s->out_h, OW = s->out_w, K = l->K, run = (size_t)S * C;
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

static inline void bias_act(float *y, size_t rows, size_t C, const float *bias, int act) {
    for (size_t r = 0; r < rows; r++) {
        float *v = y + r * C;
        if (bias)
            for (size_t c = 0; c < C; c++) v[c] += bias[c];
        if (act == ACT_RELU)
            for (size_t c = 0; c < C; c++) v[c] = v[c] > 0 ? v[c] : 0;
        else if (act == ACT_LEAKY)
            for (size_t c = 0; c < C; c++) v[c] = v[c] > 0 ? v[c] : CNN_LEAKY_SLOPE * v[c];
    }
}

/* d *= act'(y) over n values (relu and leaky: the sign of the output is the sign of the input). */
static void act_backward(float *d, const float *y, size_t n, int act, int threads) {
    if (act == ACT_LINEAR) return;
    float neg = act == ACT_LEAKY ? CNN_LEAKY_SLOPE : 0.0f;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t i = 0; i < n; i++)
        if (!(y[i] > 0)) d[i] *= neg;
}

/* Per-channel sums over rows of an NHWC block, in a fixed order for a thread count:
 * sum[c] = sum_r a[r,c] (and, when b, sum2[c] = sum_r a[r,c] * b[r,c]). */
static void channel_sums(const float *a, const float *b, size_t rows, size_t C, cnn_work *w, double *sum,
                         double *sum2) {
    int nt_used = 1;
#pragma omp parallel num_threads(w->threads)
    {
        int tid = omp_get_thread_num(), nt = omp_get_num_threads();
#pragma omp single
        nt_used = nt;
        double *ps = w->red + (size_t)tid * w->red_max, *ps2 = ps + C;
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
        const double *ps = w->red + (size_t)t * w->red_max;
        for (size_t c = 0; c < C; c++) sum[c] += ps[c], sum2[c] += ps[C + c];
    }
}

/* ---- batch normalisation ---------------------------------------------------------------- */

static void bn_forward_train(at_cnn *net, const cnn_layer *l, size_t li, cnn_work *w, size_t n) {
    size_t C = l->s.out_c, M = n * l->s.out_h * l->s.out_w;
    const float *z = w->z[li];
    float *y = w->out[li], *mean = w->bn_mean[li], *inv = w->bn_invstd[li];
    double *sum = w->red + (size_t)w->threads * w->red_max, *sum2 = sum + C;
    channel_sums(z, NULL, M, C, w, sum, sum2);
    for (size_t c = 0; c < C; c++) mean[c] = (float)(sum[c] / (double)M);
    /* second pass for the variance: sum (z - mean)^2, stable */
#pragma omp parallel for schedule(static) num_threads(w->threads)
    for (size_t r = 0; r < M; r++)
        for (size_t c = 0; c < C; c++) y[r * C + c] = z[r * C + c] - mean[c];
    channel_sums(y, y, M, C, w, sum, sum2);
    float *rm = net->stats + l->rs_off, *rv = rm + C;
    for (size_t c = 0; c < C; c++) {
        double var = sum2[c] / (double)M;
        inv[c] = (float)(1.0 / sqrt(var + CNN_BN_EPS));
        double unbiased = M > 1 ? var * (double)M / (double)(M - 1) : var;
        rm[c] = (1 - CNN_BN_MOMENTUM) * rm[c] + CNN_BN_MOMENTUM * mean[c];
        rv[c] = (float)((1 - CNN_BN_MOMENTUM) * rv[c] + CNN_BN_MOMENTUM * unbiased);
    }
    const float *gamma = net->params + l->g_off, *beta = net->params + l->b_off;
    int act = l->s.act;
#pragma omp parallel for schedule(static) num_threads(w->threads)
    for (size_t r = 0; r < M; r++) {
        float *v = y + r * C;
        for (size_t c = 0; c < C; c++) v[c] = gamma[c] * v[c] * inv[c] + beta[c];
        bias_act(v, 1, C, NULL, act);
    }
}

/* dY (already through the activation) -> dZ in place; gamma and beta gradients. */
static void bn_backward(at_cnn *net, const cnn_layer *l, size_t li, cnn_work *w, size_t n) {
    size_t C = l->s.out_c, M = n * l->s.out_h * l->s.out_w;
    float *d = w->delta[li], *xh = w->out[li]; /* out is free now: reuse it for x-hat */
    const float *z = w->z[li], *mean = w->bn_mean[li], *inv = w->bn_invstd[li];
#pragma omp parallel for schedule(static) num_threads(w->threads)
    for (size_t r = 0; r < M; r++)
        for (size_t c = 0; c < C; c++) xh[r * C + c] = (z[r * C + c] - mean[c]) * inv[c];
    double *sum = w->red + (size_t)w->threads * w->red_max, *sum2 = sum + C;
    channel_sums(d, xh, M, C, w, sum, sum2);
    float *gg = net->grads + l->g_off, *gb = net->grads + l->b_off;
    const float *gamma = net->params + l->g_off;
    float *k1 = w->bn_mean[li] + C, *k2 = w->bn_invstd[li] + C; /* scratch beside the stats */
    for (size_t c = 0; c < C; c++) {
        gb[c] = (float)sum[c];
        gg[c] = (float)sum2[c];
        k1[c] = gamma[c] * inv[c];
        k2[c] = (float)(sum[c] / (double)M);
        sum2[c] /= (double)M;
    }
    float *k3 = w->bn_mean[li] + 2 * C;
    for (size_t c = 0; c < C; c++) k3[c] = (float)sum2[c];
#pragma omp parallel for schedule(static) num_threads(w->threads)
    for (size_t r = 0; r < M; r++)
        for (size_t c = 0; c < C; c++) {
            size_t i = r * C + c;
            d[i] = k1[c] * (d[i] - k2[c] - xh[i] * k3[c]);
        }
}

/* ---- convolution ------------------------------------------------------------------------ */

static int conv_is_direct(const cnn_layer *l) { return l->s.size == 1 && l->s.stride == 1 && l->s.pad == 0; }

void cnn_conv_forward(const at_cnn *net, const cnn_layer *l, size_t li, cnn_work *w, const float *in, size_t n) {
    const size_t hw = l->s.out_h * l->s.out_w, C = l->s.out_c, K = l->K, g = l->chunk_imgs;
    const size_t nch = (n + g - 1) / g;
    const float *W = net->params + l->w_off;
    const int bn = l->s.bn, training = w->training, direct = conv_is_direct(l);
    float *dst_all = bn && training ? w->z[li] : w->out[li];
    const float *bias = bn ? NULL : net->params + l->b_off;
    float *sc = NULL, *sh = NULL;
    if (bn && !training) { /* running statistics folded into a per-channel scale and shift */
        sc = w->bn_mean[li], sh = w->bn_invstd[li];
        const float *gamma = net->params + l->g_off, *beta = net->params + l->b_off;
        const float *rm = net->stats + l->rs_off, *rv = rm + C;
        for (size_t c = 0; c < C; c++) {
            sc[c] = gamma[c] / sqrtf(rv[c] + CNN_BN_EPS);
            sh[c] = beta[c] - rm[c] * sc[c];
        }
    }
#pragma omp parallel num_threads(w->threads)
    {
        int tid = omp_get_thread_num(), nt = omp_get_num_threads();
        float *col = w->col + (size_t)tid * w->col_max;
        for (size_t ch = (size_t)tid; ch < nch; ch += (size_t)nt) {
            size_t i0 = ch * g, m = min_sz(g, n - i0), rows = m * hw;
            const float *A = in + i0 * l->in_size;
            if (!direct) {
                im2col(l, A, m, col);
                A = col;
            }
            float *Y = dst_all + i0 * hw * C;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)C, (int)K, 1.0f, A, (int)K, W,
                        (int)C, 0.0f, Y, (int)C);
            if (!bn) {
                bias_act(Y, rows, C, bias, l->s.act);
            } else if (!training) {
                for (size_t r = 0; r < rows; r++) {
                    float *v = Y + r * C;
                    for (size_t c = 0; c < C; c++) v[c] = v[c] * sc[c] + sh[c];
                }
                bias_act(Y, rows, C, NULL, l->s.act);
            }
        }
    }
    if (bn && training) bn_forward_train((at_cnn *)net, l, li, w, n);
}

void cnn_conv_backward(at_cnn *net, const cnn_layer *l, size_t li, cnn_work *w, const float *in, float *din,
                       size_t n, int acc) {
    const size_t hw = l->s.out_h * l->s.out_w, C = l->s.out_c, K = l->K, g = l->chunk_imgs;
    const size_t nch = (n + g - 1) / g, wn = K * C;
    float *dY = w->delta[li];
    act_backward(dY, w->out[li], n * l->out_size, l->s.act, w->threads);
    if (l->s.bn) bn_backward(net, l, li, w, n);
    const float *W = net->params + l->w_off;
    const int direct = conv_is_direct(l), bn = l->s.bn;
    int nt_used = 1;
#pragma omp parallel num_threads(w->threads)
    {
        int tid = omp_get_thread_num(), nt = omp_get_num_threads();
#pragma omp single
        nt_used = nt;
        float *part = w->part + (size_t)tid * w->part_max;
        memset(part, 0, (wn + C) * sizeof *part);
        float *col = w->col + (size_t)tid * w->col_max, *dcol = w->dcol + (size_t)tid * w->col_max;
        for (size_t ch = (size_t)tid; ch < nch; ch += (size_t)nt) {
            size_t i0 = ch * g, m = min_sz(g, n - i0), rows = m * hw;
            const float *A = in + i0 * l->in_size;
            if (!direct) {
                im2col(l, A, m, col);
                A = col;
            }
            const float *dZ = dY + i0 * hw * C;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)C, (int)rows, 1.0f, A, (int)K, dZ,
                        (int)C, 1.0f, part, (int)C);
            if (!bn) {
                float *pb = part + wn;
                for (size_t r = 0; r < rows; r++)
                    for (size_t c = 0; c < C; c++) pb[c] += dZ[r * C + c];
            }
            if (!din) continue;
            float *D = din + i0 * l->in_size;
            if (direct) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)K, (int)C, 1.0f, dZ, (int)C, W,
                            (int)C, acc ? 1.0f : 0.0f, D, (int)K);
            } else {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)K, (int)C, 1.0f, dZ, (int)C, W,
                            (int)C, 0.0f, dcol, (int)K);
                if (!acc) memset(D, 0, m * l->in_size * sizeof *D);
                col2im_add(l, dcol, m, D);
            }
        }
    }
    float *gw = net->grads + l->w_off, *gb = bn ? NULL : net->grads + l->b_off;
    memcpy(gw, w->part, wn * sizeof *gw);
    if (gb) memcpy(gb, w->part + wn, C * sizeof *gb);
    for (int t = 1; t < nt_used; t++) {
        const float *p = w->part + (size_t)t * w->part_max;
        for (size_t j = 0; j < wn; j++) gw[j] += p[j];
        if (gb)
            for (size_t c = 0; c < C; c++) gb[c] += p[wn + c];
    }
}

/* ---- the other layers ------------------------------------------------------------------ */

static void maxpool_forward(const cnn_layer *l, size_t li, cnn_work *w, const float *in, size_t n) {
    const cnn_layer_spec *s = &l->s;
    const size_t H = s->in_h, W = s->in_w, C = s->in_c, OH = s->out_h, OW = s->out_w, S = (size_t)s->size,
                 st = (size_t)s->stride;
    float *out = w->out[li];
    int32_t *am = w->training ? w->argmax[li] : NULL;
#pragma omp parallel for schedule(static) num_threads(w->threads)
    for (size_t io = 0; io < n * OH; io++) {
        size_t img = io / OH, oh = io % OH;
        const float *x = in + img * H * W * C;
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

static void maxpool_backward(const cnn_layer *l, size_t li, cnn_work *w, float *din, size_t n, int acc) {
    const float *d = w->delta[li];
    const int32_t *am = w->argmax[li];
    size_t os = l->out_size, is = l->in_size;
#pragma omp parallel for schedule(static) num_threads(w->threads)
    for (size_t img = 0; img < n; img++) {
        float *D = din + img * is;
        if (!acc) memset(D, 0, is * sizeof *D);
        for (size_t j = 0; j < os; j++) D[am[img * os + j]] += d[img * os + j];
    }
}

static void avgpool_forward(const cnn_layer *l, size_t li, cnn_work *w, const float *in, size_t n) {
    size_t hw = l->s.in_h * l->s.in_w, C = l->s.in_c;
    float *out = w->out[li];
#pragma omp parallel for schedule(static) num_threads(w->threads)
    for (size_t img = 0; img < n; img++) {
        float *y = out + img * C;
        const float *x = in + img * hw * C;
        for (size_t c = 0; c < C; c++) y[c] = 0;
        for (size_t p = 0; p < hw; p++)
            for (size_t c = 0; c < C; c++) y[c] += x[p * C + c];
        for (size_t c = 0; c < C; c++) y[c] /= (float)hw;
    }
}

static void avgpool_backward(const cnn_layer *l, size_t li, cnn_work *w, float *din, size_t n, int acc) {
    size_t hw = l->s.in_h * l->s.in_w, C = l->s.in_c;
    const float *d = w->delta[li];
    float inv = 1.0f / (float)hw;
#pragma omp parallel for schedule(static) num_threads(w->threads)
    for (size_t img = 0; img < n; img++)
        for (size_t p = 0; p < hw; p++) {
            float *D = din + (img * hw + p) * C;
            for (size_t c = 0; c < C; c++) D[c] = (acc ? D[c] : 0) + d[img * C + c] * inv;
        }
}

static void dense_forward(const at_cnn *net, const cnn_layer *l, size_t li, cnn_work *w, const float *in, size_t n) {
    size_t D = l->in_size, U = l->out_size;
    float *y = w->out[li];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)U, (int)D, 1.0f, in, (int)D,
                net->params + l->w_off, (int)U, 0.0f, y, (int)U);
    bias_act(y, n, U, net->params + l->b_off, l->s.act);
}

static void dense_backward(at_cnn *net, const cnn_layer *l, size_t li, cnn_work *w, const float *in, float *din,
                           size_t n, int acc) {
    size_t D = l->in_size, U = l->out_size;
    float *d = w->delta[li];
    act_backward(d, w->out[li], n * U, l->s.act, 1);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)D, (int)U, (int)n, 1.0f, in, (int)D, d, (int)U, 0.0f,
                net->grads + l->w_off, (int)U);
    float *gb = net->grads + l->b_off;
    for (size_t u = 0; u < U; u++) gb[u] = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t u = 0; u < U; u++) gb[u] += d[i * U + u];
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)D, (int)U, 1.0f, d, (int)U,
                    net->params + l->w_off, (int)U, acc ? 1.0f : 0.0f, din, (int)D);
}

static void dropout_forward(const at_cnn *net, const cnn_layer *l, size_t li, cnn_work *w, const float *in,
                            size_t n) {
    size_t m = n * l->out_size;
    float *y = w->out[li];
    if (!w->training || net->grad_check || l->s.rate <= 0) {
        memcpy(y, in, m * sizeof *y);
        return;
    }
    float *mask = w->mask[li], keep = (float)(1.0 / (1.0 - l->s.rate));
    at_rng r;
    at_rng_init(&r, w->dropout_seed, li);
    for (size_t i = 0; i < m; i++) {
        mask[i] = at_rng_uniform(&r) < l->s.rate ? 0.0f : keep;
        y[i] = in[i] * mask[i];
    }
}

static void dropout_backward(const at_cnn *net, const cnn_layer *l, size_t li, cnn_work *w, float *din, size_t n,
                             int acc) {
    size_t m = n * l->out_size;
    const float *d = w->delta[li];
    int pass = net->grad_check || l->s.rate <= 0;
    const float *mask = w->mask[li];
    for (size_t i = 0; i < m; i++) {
        float v = pass ? d[i] : d[i] * mask[i];
        din[i] = acc ? din[i] + v : v;
    }
}

static void shortcut_forward(const cnn_layer *l, size_t li, cnn_work *w, const float *in, size_t n) {
    size_t m = n * l->out_size;
    const float *o = w->out[(size_t)((long)li + l->s.from)];
    float *y = w->out[li];
    int act = l->s.act;
#pragma omp parallel for schedule(static) num_threads(w->threads)
    for (size_t i = 0; i < m; i++) {
        float v = in[i] + o[i];
        y[i] = act == ACT_RELU ? (v > 0 ? v : 0) : act == ACT_LEAKY ? (v > 0 ? v : CNN_LEAKY_SLOPE * v) : v;
    }
}

static void shortcut_backward(const cnn_layer *l, size_t li, cnn_work *w, float *din, size_t n, int acc) {
    size_t m = n * l->out_size;
    float *d = w->delta[li];
    act_backward(d, w->out[li], m, l->s.act, w->threads);
    float *dsrc = w->delta[(size_t)((long)li + l->s.from)]; /* always accumulating (see net.c) */
#pragma omp parallel for schedule(static) num_threads(w->threads)
    for (size_t i = 0; i < m; i++) {
        din[i] = acc ? din[i] + d[i] : d[i];
        dsrc[i] += d[i];
    }
}

static void softmax_forward(const cnn_layer *l, size_t li, cnn_work *w, const float *in, size_t n) {
    size_t k = l->out_size;
    float *y = w->out[li];
    for (size_t i = 0; i < n; i++) {
        const float *x = in + i * k;
        float mx = x[0];
        for (size_t c = 1; c < k; c++) mx = x[c] > mx ? x[c] : mx;
        double s = 0;
        for (size_t c = 0; c < k; c++) s += (y[i * k + c] = expf(x[c] - mx));
        for (size_t c = 0; c < k; c++) y[i * k + c] = (float)(y[i * k + c] / s);
    }
}

void cnn_layer_forward(const at_cnn *net, size_t li, cnn_work *w, const float *in, size_t n) {
    const cnn_layer *l = &net->L[li];
    switch (l->s.kind) {
    case L_CONV: cnn_conv_forward(net, l, li, w, in, n); break;
    case L_MAXPOOL: maxpool_forward(l, li, w, in, n); break;
    case L_AVGPOOL: avgpool_forward(l, li, w, in, n); break;
    case L_DENSE: dense_forward(net, l, li, w, in, n); break;
    case L_DROPOUT: dropout_forward(net, l, li, w, in, n); break;
    case L_SHORTCUT: shortcut_forward(l, li, w, in, n); break;
    case L_SOFTMAX: softmax_forward(l, li, w, in, n); break;
    }
}

/* The softmax layer's backward is done by the loss (net.c). */
void cnn_layer_backward(at_cnn *net, size_t li, cnn_work *w, const float *in, float *din, size_t n, int acc) {
    const cnn_layer *l = &net->L[li];
    switch (l->s.kind) {
    case L_CONV: cnn_conv_backward(net, l, li, w, in, din, n, acc); break;
    case L_MAXPOOL:
        if (din) maxpool_backward(l, li, w, din, n, acc);
        break;
    case L_AVGPOOL:
        if (din) avgpool_backward(l, li, w, din, n, acc);
        break;
    case L_DENSE: dense_backward(net, l, li, w, in, din, n, acc); break;
    case L_DROPOUT:
        if (din) dropout_backward(net, l, li, w, din, n, acc);
        break;
    case L_SHORTCUT:
        if (din) shortcut_backward(l, li, w, din, n, acc);
        break;
    case L_SOFTMAX: break;
    }
}
