/* gbdt_loss.c - the boosting objective: softmax cross-entropy (K classes) and logistic loss
 * (two classes), their gradients and diagonal hessians, and the per-round log-loss and
 * accuracy, reduced in a fixed order so they do not depend on the thread count. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "models/gbdt_internal.h"

/* Hessians this small carry no information and would make leaves explode with lambda = 0. */
#define HESS_FLOOR 1e-16
/* As scikit-learn's log_loss: probabilities are clipped away from 0. */
#define PROB_EPS 1e-15
/* Rows per partial sum depend on n only (at least MIN_CHUNK, at most MAX_CHUNKS sums), so the
 * reduction order is the same for every thread count. */
#define MIN_CHUNK 2048
#define MAX_CHUNKS 4096

double gbdt_softmax_grad(const double *score, size_t K, int32_t y, double *p, gbdt_gh *gh) {
    double mx = score[0];
    for (size_t k = 1; k < K; k++) mx = score[k] > mx ? score[k] : mx;
    double sum = 0;
    for (size_t k = 0; k < K; k++) {
        p[k] = exp(score[k] - mx);
        sum += p[k];
    }
    double inv = 1.0 / sum;
    for (size_t k = 0; k < K; k++) {
        p[k] *= inv;
        if (gh) {
            gh[k].g = p[k] - (k == (size_t)y ? 1.0 : 0.0);
            double h = p[k] * (1.0 - p[k]);
            gh[k].h = h > HESS_FLOOR ? h : HESS_FLOOR;
        }
    }
    /* -log p_y computed from the scores, exact even when p_y underflows. */
    double nll = log(sum) - (score[y] - mx);
    double cap = -log(PROB_EPS);
    return nll < cap ? nll : cap;
}

double gbdt_logistic_grad(double s, int y1, double *p1, gbdt_gh *gh) {
    double p = s >= 0 ? 1.0 / (1.0 + exp(-s)) : exp(s) / (1.0 + exp(s));
    *p1 = p;
    if (gh) {
        gh->g = p - (y1 ? 1.0 : 0.0);
        double h = p * (1.0 - p);
        gh->h = h > HESS_FLOOR ? h : HESS_FLOOR;
    }
    /* -log sigmoid(+-s) = log1p(exp(-|s|)) + max(-+s, 0). */
    double t = y1 ? s : -s;
    double nll = log1p(exp(-fabs(t))) + (t < 0 ? -t : 0);
    double cap = -log(PROB_EPS);
    return nll < cap ? nll : cap;
}

/* ---- the per-round pass over all rows ----
 * The softmax of every row every round is most of the work outside the trees, so rows go in
 * blocks of SUB through branch-free exp and log that the compiler vectorises. Both are
 * accurate to a few ulp over the range used (exp of x <= 0, log of a sum in [1, K]). */
#define SUB 64
#define MAX_BLOCK_K 16

static inline double fast_exp(double x) {
    x = x < -708.0 ? -708.0 : x; /* keeps 2^k normal; exp(-708) is 0 for any purpose here */
    const double shift = 0x1.8p52;
    double t = x * 1.4426950408889634 + shift; /* round(x / ln 2) in the low bits */
    double k = t - shift;
    double r = x - k * 6.93147180369123816490e-01 - k * 1.90821492927058770002e-10;
    /* Taylor series to r^12: |r| <= 0.347 leaves an error below 2e-16. */
    double q = 1.0 / 479001600;
    q = q * r + 1.0 / 39916800;
    q = q * r + 1.0 / 3628800;
    q = q * r + 1.0 / 362880;
    q = q * r + 1.0 / 40320;
    q = q * r + 1.0 / 5040;
    q = q * r + 1.0 / 720;
    q = q * r + 1.0 / 120;
    q = q * r + 1.0 / 24;
    q = q * r + 1.0 / 6;
    q = q * r + 0.5;
    q = q * r + 1.0;
    q = q * r + 1.0;
    int64_t ki;
    memcpy(&ki, &t, sizeof ki);
    int64_t bits = ((ki & 0xFFFFFFFF) - ((ki & 0x80000000) << 1) + 1023) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return q * scale;
}

/* log x for x in [1, 2^1000): exponent plus 2 atanh((m - 1) / (m + 1)), m in [0.707, 1.414). */
static inline double fast_log(double x) {
    int64_t bits;
    memcpy(&bits, &x, sizeof bits);
    int64_t e = ((bits >> 52) & 0x7FF) - 1023;
    int64_t mb = (bits & 0xFFFFFFFFFFFFF) | 0x3FF0000000000000;
    double m;
    memcpy(&m, &mb, sizeof m);
    int big = m > 1.4142135623730951;
    m = big ? m * 0.5 : m;
    double ed = (double)(e + big);
    double s = (m - 1.0) / (m + 1.0), s2 = s * s;
    double q = 1.0 / 21;
    q = q * s2 + 1.0 / 19;
    q = q * s2 + 1.0 / 17;
    q = q * s2 + 1.0 / 15;
    q = q * s2 + 1.0 / 13;
    q = q * s2 + 1.0 / 11;
    q = q * s2 + 1.0 / 9;
    q = q * s2 + 1.0 / 7;
    q = q * s2 + 1.0 / 5;
    q = q * s2 + 1.0 / 3;
    q = q * s2 + 1.0;
    return ed * 0.6931471805599453 + 2.0 * s * q;
}

/* Rows [i0, i0 + cnt) of a softmax with kt <= MAX_BLOCK_K classes: gradients, loss, hits. */
static void softmax_block(const double *score, size_t i0, size_t cnt, size_t n, size_t kt,
                          const int32_t *y, gbdt_gh *gh, double *loss, size_t *hits) {
    double mx[SUB], sum[SUB], sy[SUB], e[MAX_BLOCK_K][SUB];
    const double *s = score + i0 * kt;
    for (size_t j = 0; j < cnt; j++) {
        double m = s[j * kt];
        for (size_t c = 1; c < kt; c++) m = s[j * kt + c] > m ? s[j * kt + c] : m;
        mx[j] = m;
        sum[j] = 0;
        sy[j] = s[j * kt + (size_t)y[i0 + j]];
    }
    for (size_t c = 0; c < kt; c++)
        for (size_t j = 0; j < cnt; j++) {
            e[c][j] = fast_exp(s[j * kt + c] - mx[j]);
            sum[j] += e[c][j];
        }
    if (gh) {
        double inv[SUB];
        for (size_t j = 0; j < cnt; j++) inv[j] = 1.0 / sum[j];
        for (size_t c = 0; c < kt; c++) {
            gbdt_gh *o = gh + c * n + i0;
            for (size_t j = 0; j < cnt; j++) {
                double p = e[c][j] * inv[j];
                double h = p * (1.0 - p);
                o[j].g = p - (y[i0 + j] == (int32_t)c ? 1.0 : 0.0);
                o[j].h = h > HESS_FLOOR ? h : HESS_FLOOR;
            }
        }
    }
    const double cap = 34.538776394910684; /* -log(PROB_EPS) */
    double nll[SUB];
    for (size_t j = 0; j < cnt; j++) { /* vectorised; the sum below keeps row order */
        double v = fast_log(sum[j]) - (sy[j] - mx[j]);
        nll[j] = v < cap ? v : cap;
    }
    double l = 0;
    size_t h = 0;
    for (size_t j = 0; j < cnt; j++) {
        l += nll[j];
        /* right when the true class holds the maximum and no earlier class ties it */
        size_t best = 0;
        for (size_t c = 1; c < kt; c++)
            if (s[j * kt + c] > s[j * kt + best]) best = c;
        h += best == (size_t)y[i0 + j];
    }
    *loss += l;
    *hits += h;
}

void gbdt_loss_pass(const double *score, size_t n, size_t kt, const int32_t *y, gbdt_gh *gh,
                    int threads, double *logloss, double *accuracy) {
    size_t chunk = (n + MAX_CHUNKS - 1) / MAX_CHUNKS;
    if (chunk < MIN_CHUNK) chunk = MIN_CHUNK;
    size_t n_chunks = (n + chunk - 1) / chunk;
    double part_loss[n_chunks ? n_chunks : 1];
    size_t part_hits[n_chunks ? n_chunks : 1];
#pragma omp parallel for schedule(static) num_threads(threads > 0 ? threads : 1)
    for (size_t c = 0; c < n_chunks; c++) {
        size_t i0 = c * chunk, i1 = i0 + chunk < n ? i0 + chunk : n;
        double loss = 0;
        size_t hits = 0;
        if (kt > 1 && kt <= MAX_BLOCK_K) {
            for (size_t i = i0; i < i1; i += SUB)
                softmax_block(score, i, i1 - i < SUB ? i1 - i : SUB, n, kt, y, gh, &loss, &hits);
            part_loss[c] = loss;
            part_hits[c] = hits;
            continue;
        }
        double p[kt > 1 ? kt : 1];
        gbdt_gh g[kt > 1 ? kt : 1];
        for (size_t i = i0; i < i1; i++) {
            if (kt == 1) {
                double p1;
                loss += gbdt_logistic_grad(score[i], y[i] == 1, &p1, gh ? g : NULL);
                hits += (p1 > 0.5) == (y[i] == 1);
                if (gh) gh[i] = g[0];
            } else {
                const double *s = score + i * kt;
                loss += gbdt_softmax_grad(s, kt, y[i], p, gh ? g : NULL);
                /* argmax with the first class winning ties, as prediction does */
                size_t best = 0;
                for (size_t k = 1; k < kt; k++)
                    if (s[k] > s[best]) best = k;
                hits += best == (size_t)y[i];
                if (gh)
                    for (size_t k = 0; k < kt; k++) gh[k * n + i] = g[k];
            }
        }
        part_loss[c] = loss;
        part_hits[c] = hits;
    }
    double loss = 0;
    size_t hits = 0;
    for (size_t c = 0; c < n_chunks; c++) {
        loss += part_loss[c];
        hits += part_hits[c];
    }
    *logloss = n ? loss / (double)n : NAN;
    *accuracy = n ? (double)hits / (double)n : NAN;
}
