/* mlp_optim.c - the MLP's optimisers (Adam; SGD with momentum and Nesterov) and its
 * learning-rate schedule. The step runs once per mini-batch over every parameter, so it is
 * written in blocks that the compiler vectorises; the square root goes through SIMD
 * intrinsics because GCC will not vectorise sqrtf while it must set errno. IEEE square
 * roots are correctly rounded, so vector and scalar paths give the same bits. */
#include <math.h>
#include <string.h>
#if defined(__AVX512F__) || defined(__AVX__) || defined(__SSE2__)
#include <immintrin.h>
#endif

#include "models/mlp_internal.h"

#define MLP_ADAM_EPS 1e-8f
#define BLOCK 512

double mlp_epoch_lr(const at_mlp_params *p, int64_t e) {
    double lr = p->learning_rate;
    if (e < p->warmup) return lr * (double)(e + 1) / (double)(p->warmup + 1);
    int64_t t = e - p->warmup, T = p->epochs - p->warmup;
    switch (p->schedule) {
    case AT_MLP_SCHEDULE_STEP: return lr * pow(p->gamma, (double)(t / p->step_size));
    case AT_MLP_SCHEDULE_COSINE: return lr * 0.5 * (1.0 + cos(M_PI * (double)t / (double)T));
    default: return lr;
    }
}

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

void mlp_opt_step(const mlp_opt *o, float *params, float *m1, float *m2, float *const *grads,
                  size_t n_grads, size_t n_params, size_t n_weights, int64_t step, double lr) {
    float g[BLOCK], den[BLOCK];
    /* Adam's bias corrections folded into two scalars: p -= a * m1 / (sqrt(m2) * c + eps). */
    float a = (float)(lr / (1.0 - pow(o->b1, (double)step)));
    float c = (float)(1.0 / sqrt(1.0 - pow(o->b2, (double)step)));
    float flr = (float)lr, b1 = o->b1, b2 = o->b2, mu = o->mu;
    for (size_t lo = 0; lo < n_params; lo += BLOCK) {
        size_t n = n_params - lo < BLOCK ? n_params - lo : BLOCK;
        float *p = params + lo, *v1 = m1 + lo;
        /* The gradient: shards summed in shard order, plus L2 on weights only. */
        memcpy(g, grads[0] + lo, n * sizeof(float));
        for (size_t s = 1; s < n_grads; s++) {
            const float *gs = grads[s] + lo;
            for (size_t i = 0; i < n; i++) g[i] += gs[i];
        }
        if (o->wd > 0.0f)
            for (size_t i = 0; i < n && lo + i < n_weights; i++) g[i] += o->wd * p[i];
        if (o->kind == AT_MLP_ADAM) {
            float *v2 = m2 + lo;
            for (size_t i = 0; i < n; i++) {
                v1[i] = b1 * v1[i] + (1.0f - b1) * g[i];
                v2[i] = b2 * v2[i] + (1.0f - b2) * g[i] * g[i];
                den[i] = v2[i];
            }
            sqrt_block(den, n);
            for (size_t i = 0; i < n; i++) p[i] -= a * v1[i] / (den[i] * c + MLP_ADAM_EPS);
        } else if (o->nesterov) {
            for (size_t i = 0; i < n; i++) {
                v1[i] = mu * v1[i] + g[i];
                p[i] -= flr * (g[i] + mu * v1[i]);
            }
        } else {
            for (size_t i = 0; i < n; i++) {
                v1[i] = mu * v1[i] + g[i];
                p[i] -= flr * v1[i];
            }
        }
    }
}
