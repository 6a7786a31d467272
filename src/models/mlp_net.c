/* mlp_net.c - the MLP's numerical core: layout, initialisation, and the batched forward
 * pass, softmax cross-entropy and backward pass on float32 with OpenBLAS sgemm.
 * Bias, activation and dropout are fused into one pass over each layer's output. */
#include <cblas.h>
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

at_status mlp_work_alloc(mlp_work *w, const mlp_net *net, size_t rows, int dropout,
                         int with_grad, at_error *err) {
    memset(w, 0, sizeof *w);
    w->rows = rows;
    for (size_t l = 0; l <= net->n_layers; l++)
        if (!(w->act[l] = at_malloc(rows, net->sizes[l] * sizeof(float), err))) goto fail;
    if (dropout)
        for (size_t l = 1; l < net->n_layers; l++)
            if (!(w->mask[l] = at_malloc(rows, net->sizes[l] * sizeof(float), err))) goto fail;
    for (int i = 0; i < 2; i++)
        if (!(w->delta[i] = at_malloc(rows, net->max_width * sizeof(float), err))) goto fail;
    if (with_grad && !(w->grad = at_malloc(net->n_params, sizeof(float), err))) goto fail;
    if (!(w->y = at_malloc(rows, sizeof(int32_t), err))) goto fail;
    if (!(w->sw = at_malloc(rows, sizeof(float), err))) goto fail;
    return AT_OK;
fail:
    mlp_work_free(w);
    return AT_ERR_MEMORY;
}

void mlp_work_free(mlp_work *w) {
    for (size_t l = 0; l <= MLP_MAX_LAYERS; l++) free(w->act[l]);
    for (size_t l = 0; l < MLP_MAX_LAYERS; l++) free(w->mask[l]);
    free(w->delta[0]);
    free(w->delta[1]);
    free(w->grad);
    free(w->y);
    free(w->sw);
    memset(w, 0, sizeof *w);
}

/* z = z + b, then the activation, row by row; one switch outside the loops so that each
 * inner loop vectorises. */
static void bias_activate(float *Z, size_t rows, size_t cols, const float *b, int act) {
    for (size_t i = 0; i < rows; i++) {
        float *z = Z + i * cols;
        switch (act) {
        case AT_MLP_RELU:
            for (size_t j = 0; j < cols; j++) {
                float v = z[j] + b[j];
                z[j] = v > 0.0f ? v : 0.0f;
            }
            break;
        case AT_MLP_LEAKY_RELU:
            for (size_t j = 0; j < cols; j++) {
                float v = z[j] + b[j];
                z[j] = v > 0.0f ? v : MLP_LEAKY_SLOPE * v;
            }
            break;
        case AT_MLP_TANH:
            for (size_t j = 0; j < cols; j++) z[j] = tanhf(z[j] + b[j]);
            break;
        default: /* sigmoid */
            for (size_t j = 0; j < cols; j++) z[j] = 1.0f / (1.0f + expf(-(z[j] + b[j])));
            break;
        }
    }
}

/* Inverted dropout: each unit survives with probability 1 - rate and is scaled by
 * 1/(1 - rate), so prediction needs no rescaling. 16 random bits per unit. */
static void dropout_apply(float *Z, float *mask, size_t n, float rate, at_rng *rng) {
    uint32_t threshold = (uint32_t)(rate * 65536.0f);
    float keep = 1.0f / (1.0f - rate);
    uint64_t bits = 0;
    for (size_t i = 0; i < n; i++) {
        if ((i & 3) == 0) bits = at_rng_u64(rng);
        float m = (uint32_t)(bits & 0xFFFF) < threshold ? 0.0f : keep;
        bits >>= 16;
        mask[i] = m;
        Z[i] *= m;
    }
}

static void bias_softmax(float *Z, size_t rows, size_t k, const float *b) {
    for (size_t i = 0; i < rows; i++) {
        float *z = Z + i * k;
        float mx = -INFINITY;
        for (size_t j = 0; j < k; j++) {
            z[j] += b[j];
            if (z[j] > mx) mx = z[j];
        }
        float sum = 0.0f;
        for (size_t j = 0; j < k; j++) {
            z[j] = expf(z[j] - mx);
            sum += z[j];
        }
        float inv = 1.0f / sum;
        for (size_t j = 0; j < k; j++) z[j] *= inv;
    }
}

void mlp_forward(const mlp_net *net, const float *params, mlp_work *w, size_t rows,
                 float drop_rate, at_rng *rng) {
    size_t L = net->n_layers;
    for (size_t l = 0; l < L; l++) {
        size_t in = net->sizes[l], out = net->sizes[l + 1];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)out, (int)in, 1.0f,
                    w->act[l], (int)in, params + net->w_off[l], (int)out, 0.0f, w->act[l + 1],
                    (int)out);
        const float *b = params + net->b_off[l];
        if (l + 1 < L) {
            bias_activate(w->act[l + 1], rows, out, b, net->activation);
            if (drop_rate > 0.0f && rng && w->mask[l + 1])
                dropout_apply(w->act[l + 1], w->mask[l + 1], rows * out, drop_rate, rng);
        } else {
            bias_softmax(w->act[l + 1], rows, out, b);
        }
    }
}

double mlp_loss(const mlp_net *net, mlp_work *w, size_t rows, float scale, size_t *n_correct) {
    size_t k = net->sizes[net->n_layers];
    const float *P = w->act[net->n_layers];
    double loss = 0.0;
    size_t correct = 0;
    for (size_t i = 0; i < rows; i++) {
        const float *p = P + i * k;
        size_t y = (size_t)w->y[i], best = 0;
        for (size_t j = 1; j < k; j++)
            if (p[j] > p[best]) best = j;
        correct += best == y;
        float py = p[y] > 1e-30f ? p[y] : 1e-30f; /* a saturated softmax must not give inf */
        loss -= (double)w->sw[i] * log((double)py);
        if (scale > 0.0f) {
            float *d = w->delta[0] + i * k, s = scale * w->sw[i];
            for (size_t j = 0; j < k; j++) d[j] = s * p[j];
            d[y] -= s;
        }
    }
    if (n_correct) *n_correct = correct;
    return loss;
}

/* da *= f'(z), with f' written in terms of the layer's output a = f(z) * m (m the dropout
 * scale, 1 without dropout): the forward pass keeps no pre-activation copy. */
static void activation_backward(float *da, const float *a, const float *mask, size_t n, int act) {
    if (!mask) {
        switch (act) {
        case AT_MLP_RELU:
            for (size_t i = 0; i < n; i++) da[i] = a[i] > 0.0f ? da[i] : 0.0f;
            break;
        case AT_MLP_LEAKY_RELU:
            for (size_t i = 0; i < n; i++) da[i] *= a[i] > 0.0f ? 1.0f : MLP_LEAKY_SLOPE;
            break;
        case AT_MLP_TANH:
            for (size_t i = 0; i < n; i++) da[i] *= 1.0f - a[i] * a[i];
            break;
        default:
            for (size_t i = 0; i < n; i++) da[i] *= a[i] * (1.0f - a[i]);
            break;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float m = mask[i];
        if (m == 0.0f) {
            da[i] = 0.0f;
            continue;
        }
        float f = a[i] / m, d;
        switch (act) {
        case AT_MLP_RELU: d = f > 0.0f ? 1.0f : 0.0f; break;
        case AT_MLP_LEAKY_RELU: d = f > 0.0f ? 1.0f : MLP_LEAKY_SLOPE; break;
        case AT_MLP_TANH: d = 1.0f - f * f; break;
        default: d = f * (1.0f - f); break;
        }
        da[i] *= m * d;
    }
}

void mlp_backward(const mlp_net *net, const float *params, mlp_work *w, size_t rows) {
    size_t L = net->n_layers;
    int cur = 0;
    for (size_t l = L; l-- > 0;) {
        size_t in = net->sizes[l], out = net->sizes[l + 1];
        const float *dz = w->delta[cur];
        /* dW = A^T dZ; db = column sums of dZ. */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)in, (int)out, (int)rows, 1.0f,
                    w->act[l], (int)in, dz, (int)out, 0.0f, w->grad + net->w_off[l], (int)out);
        float *db = w->grad + net->b_off[l];
        memset(db, 0, out * sizeof(float));
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < out; j++) db[j] += dz[i * out + j];
        if (l == 0) break; /* no gradient for the inputs */
        /* dA = dZ W^T, then through the previous layer's activation and dropout. */
        float *da = w->delta[1 - cur];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)in, (int)out, 1.0f, dz,
                    (int)out, params + net->w_off[l], (int)out, 0.0f, da, (int)in);
        activation_backward(da, w->act[l], w->mask[l], rows * in, net->activation);
        cur = 1 - cur;
    }
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
