/* gmm.c - Gaussian mixture by EM (full, diagonal, spherical covariances), k-means++
 * initialisation, BIC/AIC model selection, cluster-to-class matching, and the `gmm`
 * model family around it.
 *
 * Rows are processed in blocks whose boundaries depend only on the data's shape; each
 * block's sums are kept apart and added in block order, so the result is the same for
 * any number of threads. */
#include "astrotrain/gmm.h"

#include <ctype.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/comm.h"
#include "astrotrain/hungarian.h"
#include "astrotrain/rng.h"

/* Across MPI ranks (each holding some of the rows): the sufficient statistics of every E- and
 * M-step (masses, weighted sums, centred second moments, the log-likelihood) and of every Lloyd
 * round are summed across ranks, so every rank holds the same mixture; k-means++ seeds from the
 * rows of global index divisible by ceil(N / GMM_INIT_ROWS), gathered onto every rank (all rows
 * up to GMM_INIT_ROWS: then the seeds are one process's). NULL: one process. */
typedef struct gdist {
    at_comm *comm;
    size_t N;   /* rows of all ranks */
    size_t off; /* this rank's first global row */
} gdist;
#define GMM_INIT_ROWS 65536

#define LOG_2PI 1.8378770664093454836
#define MAX_BLOCKS 64
#define MIN_BLOCK_ROWS 512
#define MAX_PARTIAL 4000000 /* doubles of per-block partial sums, all blocks together */
#define EMPTY_EPS (10 * DBL_EPSILON) /* added to component masses, as scikit-learn does */

static const char *const cov_names[] = {"full", "diag", "spherical"};

/* "3" or "2..8" (spaces allowed around the numbers). */
int at_gmm_components(const char *spec, size_t *k_min, size_t *k_max) {
    if (!spec) return 0;
    char *end;
    while (isspace((unsigned char)*spec)) spec++;
    if (!isdigit((unsigned char)*spec)) return 0;
    unsigned long a = strtoul(spec, &end, 10), b = a;
    while (isspace((unsigned char)*end)) end++;
    if (end[0] == '.' && end[1] == '.') {
        const char *q = end + 2;
        while (isspace((unsigned char)*q)) q++;
        if (!isdigit((unsigned char)*q)) return 0;
        b = strtoul(q, &end, 10);
        while (isspace((unsigned char)*end)) end++;
    }
    if (*end || a < 1 || b < a || b > 1000) return 0;
    *k_min = a;
    *k_max = b;
    return 1;
}

size_t at_gmm_n_parameters(size_t k, size_t d, at_covariance_type type) {
    size_t cov = type == AT_COV_FULL ? k * d * (d + 1) / 2 : type == AT_COV_DIAG ? k * d : k;
    return k * d + cov + (k - 1);
}

static size_t cov_stride(at_covariance_type t, size_t d) {
    return t == AT_COV_FULL ? d * d : t == AT_COV_DIAG ? d : 1;
}

void at_gmm_free(at_gmm *g) {
    if (!g) return;
    free(g->weights);
    free(g->means);
    free(g->covariances);
    free(g->prec_chol);
    free(g->log_det);
    free(g->history);
    free(g->cluster_class);
    free(g);
}

static at_gmm *gmm_alloc(size_t k, size_t d, at_covariance_type t, size_t hist_rows, at_error *err) {
    at_gmm *g = at_calloc(1, sizeof *g, err);
    if (!g) return NULL;
    g->k = k;
    g->d = d;
    g->covariance_type = t;
    g->weights = at_calloc(k, sizeof *g->weights, err);
    g->means = at_calloc(k * d, sizeof *g->means, err);
    g->covariances = at_calloc(k * cov_stride(t, d), sizeof *g->covariances, err);
    g->prec_chol = at_calloc(t == AT_COV_FULL ? k * d * d : 1, sizeof *g->prec_chol, err);
    g->log_det = at_calloc(k, sizeof *g->log_det, err);
    g->history = at_calloc(2 * (hist_rows ? hist_rows : 1), sizeof *g->history, err);
    if (!g->weights || !g->means || !g->covariances || !g->prec_chol || !g->log_det || !g->history) {
        at_gmm_free(g);
        return NULL;
    }
    return g;
}

void at_gmm_covariance(const at_gmm *g, size_t c, double *out) {
    size_t d = g->d;
    const double *cv = g->covariances + c * cov_stride(g->covariance_type, d);
    for (size_t a = 0; a < d; a++)
        for (size_t b = 0; b < d; b++)
            out[a * d + b] = g->covariance_type == AT_COV_FULL ? cv[a * d + b]
                             : a != b                          ? 0
                             : g->covariance_type == AT_COV_DIAG ? cv[a]
                                                                 : cv[0];
}

/* Precision factors and log-determinants from the covariances. AT_ERR_DATA when one is
 * not positive definite. */
static at_status prepare(at_gmm *g, double reg, at_error *err) {
    size_t d = g->d;
    for (size_t c = 0; c < g->k; c++) {
        if (g->covariance_type == AT_COV_FULL) {
            double *L = g->prec_chol + c * d * d;
            memcpy(L, g->covariances + c * d * d, d * d * sizeof *L);
            lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)d, L, (lapack_int)d);
            double ld = 0;
            for (size_t j = 0; info == 0 && j < d; j++) {
                if (!(L[j * d + j] > 0) || !isfinite(L[j * d + j])) info = (lapack_int)j + 1;
                ld += 2 * log(L[j * d + j]);
                for (size_t l = j + 1; l < d; l++) L[j * d + l] = 0; /* keep only the lower part */
            }
            /* L^-1: then |L^-1 (x - mu)|^2 is a product, not a sequential substitution */
            if (info == 0) info = LAPACKE_dtrtri(LAPACK_ROW_MAJOR, 'L', 'N', (lapack_int)d, L, (lapack_int)d);
            if (info != 0 || !isfinite(ld))
                return at_fail(err, AT_ERR_DATA,
                               "gmm: the covariance of component %zu is singular (Cholesky failed at "
                               "column %d) with reg_covar = %g; raise model.reg_covar or remove "
                               "constant or duplicated features",
                               c, (int)info, reg);
            g->log_det[c] = ld;
        } else {
            size_t m = g->covariance_type == AT_COV_DIAG ? d : 1;
            const double *v = g->covariances + c * m;
            double ld = 0;
            for (size_t j = 0; j < m; j++) {
                if (!(v[j] > 0) || !isfinite(v[j]))
                    return at_fail(err, AT_ERR_DATA,
                                   "gmm: component %zu has a zero variance with reg_covar = %g; raise "
                                   "model.reg_covar or remove constant features",
                                   c, reg);
                ld += log(v[j]);
            }
            g->log_det[c] = g->covariance_type == AT_COV_DIAG ? ld : (double)d * ld;
        }
    }
    return AT_OK;
}

/* ---- blocks and tiles of rows ----
 * A block is the unit of parallel work and of partial sums; inside it rows go through in
 * tiles of TILE, copied feature-major so the inner loops run over rows and vectorise. */

#define TILE 256

typedef struct blocks {
    size_t nb, size;
} blocks;

/* per_block: doubles of partial sums one block needs. */
static blocks make_blocks(size_t n, size_t per_block) {
    size_t nb = (n + MIN_BLOCK_ROWS - 1) / MIN_BLOCK_ROWS;
    if (nb > MAX_BLOCKS) nb = MAX_BLOCKS;
    size_t cap = MAX_PARTIAL / (per_block ? per_block : 1);
    if (nb > cap) nb = cap;
    if (nb < 1) nb = 1;
    blocks b = {nb, (n + nb - 1) / nb};
    if (b.size == 0) b.size = 1;
    return b;
}

static int nthreads(int threads) { return threads > 0 ? threads : 1; }

/* xt[j * TILE + i] = X[(lo + i) * d + j] for the m rows from lo. */
static void load_tile(const double *X, size_t d, size_t lo, size_t m, double *xt) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < d; j++) xt[j * TILE + i] = X[(lo + i) * d + j];
}

/* ---- E-step ---- */

/* Per-component constants: logc = log weight - (d log 2 pi + log det) / 2; shift = L^-1 mu
 * (full) or mu; scale = 1 / variances (diag, spherical). */
typedef struct eprep {
    double *logc, *shift, *scale;
} eprep;

/* lp[c * TILE + i] = log(weight_c * density_c(row i)) for the m rows in xt; acc, y: TILE. */
static void tile_logprob(const at_gmm *g, const eprep *e, const double *xt, size_t m, double *lp,
                         double *acc, double *y) {
    size_t d = g->d;
    for (size_t c = 0; c < g->k; c++) {
        for (size_t i = 0; i < m; i++) acc[i] = 0;
        if (g->covariance_type == AT_COV_FULL) {
            const double *P = g->prec_chol + c * d * d, *sh = e->shift + c * d;
            for (size_t j = 0; j < d; j++) {
                const double *Pj = P + j * d;
                for (size_t i = 0; i < m; i++) y[i] = -sh[j];
                for (size_t l = 0; l <= j; l++) {
                    const double pl = Pj[l], *xl = xt + l * TILE;
                    for (size_t i = 0; i < m; i++) y[i] += pl * xl[i];
                }
                for (size_t i = 0; i < m; i++) acc[i] += y[i] * y[i];
            }
        } else {
            const double *mu = e->shift + c * d;
            for (size_t j = 0; j < d; j++) {
                const double mj = mu[j], sj = g->covariance_type == AT_COV_DIAG ? e->scale[c * d + j] : 1.0;
                const double *xj = xt + j * TILE;
                for (size_t i = 0; i < m; i++) {
                    double t = xj[i] - mj;
                    acc[i] += t * t * sj;
                }
            }
            if (g->covariance_type == AT_COV_SPHERICAL)
                for (size_t i = 0; i < m; i++) acc[i] *= e->scale[c];
        }
        double *out = lp + c * TILE;
        for (size_t i = 0; i < m; i++) out[i] = e->logc[c] - 0.5 * acc[i];
    }
}

/* Responsibilities into R (component-major: R[c * n + i]; may be NULL), per-row
 * log-likelihoods into rowll (may be NULL), and the mean log-likelihood into *mean_ll.
 * With stats (k * (1 + d), needs R) it also sums the masses and the weighted rows the
 * M-step needs, saving it a pass over the data. */
static at_status estep(const at_gmm *g, const double *X, size_t n, double *R, double *rowll,
                       double *stats, double *mean_ll, int threads, const gdist *gd, at_error *err) {
    size_t k = g->k, d = g->d, ns = stats ? k * (1 + d) : 0;
    blocks b = make_blocks(n, 1 + ns);
    size_t per = TILE * (d + k + 3); /* scratch per block: tile, lp, acc, y, max */
    eprep e = {at_malloc(k, sizeof(double), err), at_malloc(k * d, sizeof(double), err),
               at_malloc(k * d, sizeof(double), err)};
    double *part = at_calloc((b.nb + 1) * (1 + ns), sizeof *part, err); /* + 1: a rank may hold no rows */
    double *scratch = at_malloc((b.nb + 1) * per, sizeof *scratch, err);
    if (!e.logc || !e.shift || !e.scale || !part || !scratch) {
        free(e.logc), free(e.shift), free(e.scale), free(part), free(scratch);
        return AT_ERR_MEMORY;
    }
    for (size_t c = 0; c < k; c++) {
        /* a weight of exactly 0 gives -inf, which log-sum-exp handles */
        e.logc[c] = log(g->weights[c]) - 0.5 * ((double)d * LOG_2PI + g->log_det[c]);
        const double *mu = g->means + c * d;
        if (g->covariance_type == AT_COV_FULL) {
            const double *P = g->prec_chol + c * d * d;
            for (size_t j = 0; j < d; j++) {
                double t = 0;
                for (size_t l = 0; l <= j; l++) t += P[j * d + l] * mu[l];
                e.shift[c * d + j] = t;
            }
        } else {
            memcpy(e.shift + c * d, mu, d * sizeof *mu);
            if (g->covariance_type == AT_COV_DIAG)
                for (size_t j = 0; j < d; j++) e.scale[c * d + j] = 1.0 / g->covariances[c * d + j];
            else
                e.scale[c] = 1.0 / g->covariances[c];
        }
    }
#pragma omp parallel for num_threads(nthreads(threads)) schedule(dynamic, 1)
    for (size_t bi = 0; bi < b.nb; bi++) {
        double *xt = scratch + bi * per, *lp = xt + d * TILE, *acc = lp + k * TILE, *y = acc + TILE,
               *mx = y + TILE;
        size_t lo = bi * b.size, hi = lo + b.size < n ? lo + b.size : n;
        double sum = 0;
        for (size_t t0 = lo; t0 < hi; t0 += TILE) {
            size_t m = hi - t0 < TILE ? hi - t0 : TILE;
            load_tile(X, d, t0, m, xt);
            tile_logprob(g, &e, xt, m, lp, acc, y);
            /* log-sum-exp over components, row by row */
            for (size_t i = 0; i < m; i++) mx[i] = -INFINITY;
            for (size_t c = 0; c < k; c++)
                for (size_t i = 0; i < m; i++)
                    if (lp[c * TILE + i] > mx[i]) mx[i] = lp[c * TILE + i];
            for (size_t i = 0; i < m; i++) acc[i] = 0;
            for (size_t c = 0; c < k; c++)
                for (size_t i = 0; i < m; i++) {
                    double v = exp(lp[c * TILE + i] - mx[i]);
                    lp[c * TILE + i] = v;
                    acc[i] += v;
                }
            for (size_t i = 0; i < m; i++) {
                double lse = mx[i] + log(acc[i]);
                if (rowll) rowll[t0 + i] = lse;
                sum += lse;
                acc[i] = 1.0 / acc[i];
            }
            if (R)
                for (size_t c = 0; c < k; c++) {
                    double *r = R + c * n + t0;
                    for (size_t i = 0; i < m; i++) r[i] = lp[c * TILE + i] * acc[i];
                    if (!stats) continue;
                    double *pn = part + bi * (1 + ns) + 1, *ps = pn + k + c * d, sr = 0;
#pragma omp simd reduction(+ : sr)
                    for (size_t i = 0; i < m; i++) sr += r[i];
                    pn[c] += sr;
                    for (size_t j = 0; j < d; j++) {
                        const double *xj = xt + j * TILE;
                        double t = 0;
#pragma omp simd reduction(+ : t)
                        for (size_t i = 0; i < m; i++) t += r[i] * xj[i];
                        ps[j] += t;
                    }
                }
        }
        part[bi * (1 + ns)] = sum;
    }
    double tot = 0;
    for (size_t bi = 0; bi < b.nb; bi++) tot += part[bi * (1 + ns)];
    if (stats) {
        memset(stats, 0, ns * sizeof *stats);
        for (size_t bi = 0; bi < b.nb; bi++)
            for (size_t j = 0; j < ns; j++) stats[j] += part[bi * (1 + ns) + 1 + j];
    }
    *mean_ll = tot / (double)n;
    at_status ds = AT_OK;
    if (gd) { /* the log-likelihood and the statistics of all ranks */
        part[0] = tot;
        if (stats) memcpy(part + 1, stats, ns * sizeof *stats);
        if (!(ds = at_comm_sum_f64(gd->comm, part, 1 + ns, err))) {
            *mean_ll = part[0] / (double)gd->N;
            if (stats) memcpy(stats, part + 1, ns * sizeof *stats);
        }
    }
    free(e.logc), free(e.shift), free(e.scale), free(part), free(scratch);
    if (ds) return ds;
    if (!isfinite(*mean_ll))
        return at_fail(err, AT_ERR_DATA,
                       "gmm: the log-likelihood is not finite (a degenerate component); raise "
                       "model.reg_covar or check the features for extreme values");
    return AT_OK;
}

/* ---- M-step ---- */

/* Weights, means and covariances from the responsibilities R (component-major, k x n).
 * stats: the masses and weighted sums from the E-step, or NULL to compute them here. */
static at_status mstep(at_gmm *g, const double *X, size_t n, const double *R, const double *stats,
                       double reg, int threads, const gdist *gd, at_error *err) {
    size_t k = g->k, d = g->d, cs = cov_stride(g->covariance_type, d);
    /* full accumulates the upper triangle of d x d; diag and spherical d squares */
    size_t acc = g->covariance_type == AT_COV_FULL ? d * d : d;
    size_t per = k * (1 + d + acc);
    blocks b = make_blocks(n, per);
    size_t sper = TILE * (2 * d + 1); /* scratch: tile, centred tile, weighted column */
    double *part = at_calloc((b.nb + 1) * per, sizeof *part, err);
    double *nk = at_calloc(k, sizeof *nk, err);
    double *scratch = at_malloc((b.nb + 1) * sper, sizeof *scratch, err);
    if (!part || !nk || !scratch) {
        free(part), free(nk), free(scratch);
        return AT_ERR_MEMORY;
    }
    /* pass 1: masses and weighted sums (unless the E-step brought them) */
#pragma omp parallel for num_threads(nthreads(threads)) schedule(dynamic, 1) if (!stats)
    for (size_t bi = 0; bi < (stats ? 0 : b.nb); bi++) {
        double *pn = part + bi * per, *ps = pn + k, *xt = scratch + bi * sper;
        size_t lo = bi * b.size, hi = lo + b.size < n ? lo + b.size : n;
        for (size_t t0 = lo; t0 < hi; t0 += TILE) {
            size_t m = hi - t0 < TILE ? hi - t0 : TILE;
            load_tile(X, d, t0, m, xt);
            for (size_t c = 0; c < k; c++) {
                const double *r = R + c * n + t0;
                double s = 0;
#pragma omp simd reduction(+ : s)
                for (size_t i = 0; i < m; i++) s += r[i];
                pn[c] += s;
                for (size_t j = 0; j < d; j++) {
                    const double *xj = xt + j * TILE;
                    double t = 0;
#pragma omp simd reduction(+ : t)
                    for (size_t i = 0; i < m; i++) t += r[i] * xj[i];
                    ps[c * d + j] += t;
                }
            }
        }
    }
    memset(g->means, 0, k * d * sizeof *g->means);
    for (size_t bi = 0; bi < (stats ? 1 : b.nb); bi++) {
        const double *pn = stats ? stats : part + bi * per, *ps = pn + k;
        for (size_t c = 0; c < k; c++) nk[c] += pn[c];
        for (size_t j = 0; j < k * d; j++) g->means[j] += ps[j];
    }
    if (gd && !stats) { /* the E-step's statistics are summed already */
        at_status ds = at_comm_sum_f64(gd->comm, nk, k, err);
        if (!ds) ds = at_comm_sum_f64(gd->comm, g->means, k * d, err);
        if (ds) {
            free(part), free(nk), free(scratch);
            return ds;
        }
    }
    for (size_t c = 0; c < k; c++) {
        nk[c] += EMPTY_EPS;
        g->weights[c] = nk[c] / (double)(gd ? gd->N : n);
        for (size_t j = 0; j < d; j++) g->means[c * d + j] /= nk[c];
    }
    /* pass 2: centred second moments (more accurate than E[xx] - mu mu) */
    memset(part, 0, b.nb * per * sizeof *part);
#pragma omp parallel for num_threads(nthreads(threads)) schedule(dynamic, 1)
    for (size_t bi = 0; bi < b.nb; bi++) {
        double *pc = part + bi * per + k * (1 + d);
        double *xt = scratch + bi * sper, *ct = xt + d * TILE, *w = ct + d * TILE;
        size_t lo = bi * b.size, hi = lo + b.size < n ? lo + b.size : n;
        for (size_t t0 = lo; t0 < hi; t0 += TILE) {
            size_t m = hi - t0 < TILE ? hi - t0 : TILE;
            load_tile(X, d, t0, m, xt);
            for (size_t c = 0; c < k; c++) {
                const double *r = R + c * n + t0, *mu = g->means + c * d;
                double *S = pc + c * acc;
                for (size_t j = 0; j < d; j++)
                    for (size_t i = 0; i < m; i++) ct[j * TILE + i] = xt[j * TILE + i] - mu[j];
                for (size_t a = 0; a < d; a++) {
                    const double *ca = ct + a * TILE;
                    for (size_t i = 0; i < m; i++) w[i] = r[i] * ca[i];
                    if (g->covariance_type == AT_COV_FULL) {
                        for (size_t bb = a; bb < d; bb++) {
                            const double *cb = ct + bb * TILE;
                            double t = 0;
#pragma omp simd reduction(+ : t)
                            for (size_t i = 0; i < m; i++) t += w[i] * cb[i];
                            S[a * d + bb] += t;
                        }
                    } else {
                        double t = 0;
#pragma omp simd reduction(+ : t)
                        for (size_t i = 0; i < m; i++) t += w[i] * ca[i];
                        S[a] += t;
                    }
                }
            }
        }
    }
    double *sum = part; /* block 0's slot collects the total */
    for (size_t bi = 1; bi < b.nb; bi++)
        for (size_t j = k * (1 + d); j < per; j++) sum[j] += part[bi * per + j];
    if (gd) {
        at_status ds = at_comm_sum_f64(gd->comm, sum + k * (1 + d), per - k * (1 + d), err);
        if (ds) {
            free(part), free(nk), free(scratch);
            return ds;
        }
    }
    for (size_t c = 0; c < k; c++) {
        const double *S = sum + k * (1 + d) + c * acc;
        double *cv = g->covariances + c * cs;
        if (g->covariance_type == AT_COV_FULL) {
            for (size_t a = 0; a < d; a++)
                for (size_t bb = a; bb < d; bb++) {
                    double v = S[a * d + bb] / nk[c] + (a == bb ? reg : 0);
                    cv[a * d + bb] = cv[bb * d + a] = v;
                }
        } else if (g->covariance_type == AT_COV_DIAG) {
            for (size_t j = 0; j < d; j++) cv[j] = S[j] / nk[c] + reg;
        } else {
            double t = 0;
            for (size_t j = 0; j < d; j++) t += S[j];
            cv[0] = t / (nk[c] * (double)d) + reg;
        }
    }
    free(part), free(nk), free(scratch);
    return prepare(g, reg, err);
}

/* ---- initialisation: greedy k-means++ then Lloyd ---- */

static double sqdist(const double *a, const double *b, size_t d) {
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        double t = a[j] - b[j];
        s += t * t;
    }
    return s;
}

/* Greedy k-means++ (Arthur & Vassilvitskii, with 2 + log k candidates per step, keeping the
 * one that lowers the potential most). */
static at_status kmeanspp(const double *X, size_t n, size_t d, size_t k, at_rng *r, double *centers,
                          at_error *err) {
    double *dist = at_malloc(n, sizeof *dist, err);
    double *cand = at_malloc(n, sizeof *cand, err);
    double *best = at_malloc(n, sizeof *best, err);
    if (!dist || !cand || !best) {
        free(dist), free(cand), free(best);
        return AT_ERR_MEMORY;
    }
    size_t first = (size_t)at_rng_below(r, n);
    memcpy(centers, X + first * d, d * sizeof *centers);
    double pot = 0;
    for (size_t i = 0; i < n; i++) pot += dist[i] = sqdist(X + i * d, centers, d);
    size_t trials = 2 + (size_t)log((double)k);
    for (size_t c = 1; c < k; c++) {
        double best_pot = INFINITY;
        size_t best_idx = 0;
        for (size_t t = 0; t < trials; t++) {
            size_t idx = n - 1;
            if (pot > 0) {
                double u = at_rng_uniform(r) * pot, acc = 0;
                for (size_t i = 0; i < n; i++) {
                    acc += dist[i];
                    if (acc > u) {
                        idx = i;
                        break;
                    }
                }
            } else {
                idx = (size_t)at_rng_below(r, n); /* every point already is a centre */
            }
            double np = 0;
            const double *xc = X + idx * d;
            for (size_t i = 0; i < n; i++) {
                double dd = sqdist(X + i * d, xc, d);
                cand[i] = dd < dist[i] ? dd : dist[i];
                np += cand[i];
            }
            if (np < best_pot) {
                best_pot = np;
                best_idx = idx;
                double *sw = best;
                best = cand;
                cand = sw;
            }
        }
        memcpy(centers + c * d, X + best_idx * d, d * sizeof *centers);
        double *sw = dist;
        dist = best;
        best = sw;
        pot = best_pot;
    }
    free(dist), free(cand), free(best);
    return AT_OK;
}

/* k-means++ then up to iters Lloyd rounds; labels[n] gets the final assignment. */
static at_status kmeans(const double *X, size_t n, size_t d, size_t k, size_t iters, at_rng *r,
                        int threads, int32_t *labels, const gdist *gd, at_error *err) {
    blocks b = make_blocks(n, 1);
    size_t sper = TILE * (d + 3); /* tile, distances, best distance, best label */
    double *centers = at_malloc(k * d, sizeof *centers, err);
    double *sums = at_malloc(k * d, sizeof *sums, err);
    size_t *cnt = at_malloc(k, sizeof *cnt, err);
    double *scratch = at_malloc((b.nb + 1) * sper, sizeof *scratch, err);
    at_status s = AT_OK;
    if (!centers || !sums || !cnt || !scratch) {
        s = AT_ERR_MEMORY;
        goto done;
    }
    if (gd) {
        /* Seeds from the gathered rows of global index divisible by the stride. */
        size_t stride = (gd->N + GMM_INIT_ROWS - 1) / GMM_INIT_ROWS, m = 0;
        double *mine = at_malloc(n * d + 1, sizeof *mine, err);
        void *all = NULL;
        size_t bytes = 0;
        if (!mine) s = AT_ERR_MEMORY;
        for (size_t i = 0; !s && i < n; i++)
            if ((gd->off + i) % stride == 0) memcpy(mine + d * m++, X + i * d, d * sizeof *mine);
        if ((s = at_comm_agree(gd->comm, s, err)) ||
            (s = at_comm_allgatherv(gd->comm, mine, m * d * sizeof *mine, &all, NULL, err))) {
            free(mine);
            goto done;
        }
        free(mine);
        bytes = (gd->N + stride - 1) / stride; /* rows gathered */
        s = bytes >= k ? kmeanspp(all, bytes, d, k, r, centers, err)
                       : at_fail(err, AT_ERR_DATA, "gmm: %zu components need at least %zu rows", k, k);
        free(all);
        if (s) goto done;
    } else if ((s = kmeanspp(X, n, d, k, r, centers, err))) {
        goto done;
    }
    for (size_t i = 0; i < n; i++) labels[i] = -1;
    for (size_t it = 0; it <= iters; it++) {
        size_t changed = 0;
#pragma omp parallel for num_threads(nthreads(threads)) schedule(dynamic, 1) reduction(+ : changed)
        for (size_t bi = 0; bi < b.nb; bi++) {
            double *xt = scratch + bi * sper, *acc = xt + d * TILE, *bd = acc + TILE;
            int32_t *bl = (int32_t *)(bd + TILE);
            size_t lo = bi * b.size, hi = lo + b.size < n ? lo + b.size : n;
            for (size_t t0 = lo; t0 < hi; t0 += TILE) {
                size_t m = hi - t0 < TILE ? hi - t0 : TILE;
                load_tile(X, d, t0, m, xt);
                for (size_t i = 0; i < m; i++) bd[i] = INFINITY, bl[i] = 0;
                for (size_t c = 0; c < k; c++) {
                    for (size_t i = 0; i < m; i++) acc[i] = 0;
                    for (size_t j = 0; j < d; j++) {
                        const double cj = centers[c * d + j], *xj = xt + j * TILE;
                        for (size_t i = 0; i < m; i++) {
                            double t = xj[i] - cj;
                            acc[i] += t * t;
                        }
                    }
                    for (size_t i = 0; i < m; i++)
                        if (acc[i] < bd[i]) bd[i] = acc[i], bl[i] = (int32_t)c; /* first on ties */
                }
                for (size_t i = 0; i < m; i++) {
                    if (labels[t0 + i] != bl[i]) changed++;
                    labels[t0 + i] = bl[i];
                }
            }
        }
        if (gd) {
            int64_t ch = (int64_t)changed;
            if ((s = at_comm_sum_i64(gd->comm, &ch, 1, err))) goto done;
            changed = (size_t)ch;
        }
        if (changed == 0 || it == iters) break;
        memset(sums, 0, k * d * sizeof *sums);
        memset(cnt, 0, k * sizeof *cnt);
        for (size_t i = 0; i < n; i++) {
            size_t c = (size_t)labels[i];
            cnt[c]++;
            for (size_t j = 0; j < d; j++) sums[c * d + j] += X[i * d + j];
        }
        if (gd) { /* every rank's sums and counts (counts exact in double) */
            int64_t *ci = (int64_t *)(void *)cnt;
            for (size_t c = 0; c < k; c++) ci[c] = (int64_t)cnt[c];
            if ((s = at_comm_sum_f64(gd->comm, sums, k * d, err)) || (s = at_comm_sum_i64(gd->comm, ci, k, err)))
                goto done;
            for (size_t c = 0; c < k; c++) cnt[c] = (size_t)ci[c];
        }
        for (size_t c = 0; c < k; c++)
            if (cnt[c]) /* an empty cluster keeps its centre */
                for (size_t j = 0; j < d; j++) centers[c * d + j] = sums[c * d + j] / (double)cnt[c];
    }
done:
    free(centers), free(sums), free(cnt), free(scratch);
    return s;
}

/* ---- fitting ---- */

static at_status check_params(const at_gmm_params *p, at_error *err) {
    if (p->covariance_type < AT_COV_FULL || p->covariance_type > AT_COV_SPHERICAL)
        return at_fail(err, AT_ERR_CONFIG, "gmm: unknown covariance type %d", p->covariance_type);
    if (p->max_iter < 1) return at_fail(err, AT_ERR_CONFIG, "gmm: max_iter must be >= 1");
    if (!(p->tol >= 0)) return at_fail(err, AT_ERR_CONFIG, "gmm: tol must be >= 0");
    if (!(p->reg_covar >= 0) || !isfinite(p->reg_covar))
        return at_fail(err, AT_ERR_CONFIG, "gmm: reg_covar must be >= 0");
    if (p->n_init < 1) return at_fail(err, AT_ERR_CONFIG, "gmm: n_init must be >= 1");
    if (p->kmeans_iter < 0) return at_fail(err, AT_ERR_CONFIG, "gmm: kmeans_iter must be >= 0");
    return AT_OK;
}

/* One EM run from one initialisation into g (allocated by the caller). */
static at_status em_run(const at_gmm_params *p, at_gmm *g, const double *X, size_t n, at_rng *r,
                        int threads, const at_progress *progress, size_t init, double *R,
                        int32_t *labels, const gdist *gd, at_error *err) {
    size_t k = g->k;
    /* masses and weighted sums, carried from each E-step to the M-step after it */
    double *stats = at_malloc(k * (1 + g->d), sizeof *stats, err);
    if (!stats) return AT_ERR_MEMORY;
    at_status s = kmeans(X, n, g->d, k, (size_t)p->kmeans_iter, r, threads, labels, gd, err);
    if (s) goto done;
    memset(R, 0, n * k * sizeof *R);
    for (size_t i = 0; i < n; i++) R[(size_t)labels[i] * n + i] = 1;
    if ((s = mstep(g, X, n, R, NULL, p->reg_covar, threads, gd, err))) goto done;
    double prev = -INFINITY, ll = 0;
    g->converged = 0;
    g->n_iter = 0;
    for (size_t it = 1; it <= (size_t)p->max_iter; it++) {
        s = at_progress_stopped(progress) ? at_fail(err, AT_ERR_INTERRUPTED, "gmm: interrupted at iteration %zu", it)
                                          : AT_OK;
        if (gd) s = at_comm_agree(gd->comm, s, err); /* every rank stops at the same iteration */
        if (s) goto done;
        if ((s = estep(g, X, n, R, NULL, stats, &ll, threads, gd, err))) goto done;
        g->history[2 * (it - 1)] = (double)it;
        g->history[2 * (it - 1) + 1] = ll;
        g->n_iter = it;
        if ((s = mstep(g, X, n, R, stats, p->reg_covar, threads, gd, err))) goto done;
        char detail[128];
        snprintf(detail, sizeof detail, "k %zu, init %zu/%lld, mean log-likelihood %.6f", k, init + 1,
                 (long long)p->n_init, ll);
        at_progress_update(progress, "fit gmm", it, (size_t)p->max_iter, detail);
        if (fabs(ll - prev) < p->tol) {
            g->converged = 1;
            break;
        }
        prev = ll;
    }
    /* the likelihood of the parameters actually kept (BIC, choosing among restarts) */
    s = estep(g, X, n, NULL, NULL, NULL, &g->mean_log_likelihood, threads, gd, err);
done:
    free(stats);
    return s;
}

static at_status copy_gmm(const at_gmm *src, at_gmm *dst) {
    size_t k = src->k, d = src->d, cs = cov_stride(src->covariance_type, d);
    memcpy(dst->weights, src->weights, k * sizeof *dst->weights);
    memcpy(dst->means, src->means, k * d * sizeof *dst->means);
    memcpy(dst->covariances, src->covariances, k * cs * sizeof *dst->covariances);
    if (src->covariance_type == AT_COV_FULL) memcpy(dst->prec_chol, src->prec_chol, k * d * d * sizeof *dst->prec_chol);
    memcpy(dst->log_det, src->log_det, k * sizeof *dst->log_det);
    memcpy(dst->history, src->history, 2 * src->n_iter * sizeof *dst->history);
    dst->n_iter = src->n_iter;
    dst->converged = src->converged;
    dst->mean_log_likelihood = src->mean_log_likelihood;
    return AT_OK;
}

static at_status gmm_fit_dist(const at_gmm_params *p, size_t k, const double *X, size_t n, size_t d,
                              uint64_t seed, int threads, const at_progress *progress, const gdist *gd,
                              at_gmm **out, at_error *err) {
    *out = NULL;
    size_t N = gd ? gd->N : n;
    at_status s = check_params(p, err);
    if (!s && k < 1) s = at_fail(err, AT_ERR_CONFIG, "gmm: needs at least one component");
    if (!s && d == 0) s = at_fail(err, AT_ERR_DATA, "gmm: the data have no features");
    if (!s && (N < k || N < 2))
        s = at_fail(err, AT_ERR_DATA, "gmm: %zu components need at least %zu rows, the data have %zu", k,
                    k > 2 ? k : 2, N);
    for (size_t i = 0; !s && i < n * d; i++)
        if (!isfinite(X[i]))
            s = at_fail(err, AT_ERR_DATA, "gmm: row %zu, feature %zu is not finite", i / d, i % d);
    if (gd) s = at_comm_agree(gd->comm, s, err);
    if (s) return s;
    at_covariance_type t = (at_covariance_type)p->covariance_type;
    size_t hist = (size_t)p->max_iter;
    at_gmm *best = gmm_alloc(k, d, t, hist, err);
    at_gmm *cur = p->n_init > 1 ? gmm_alloc(k, d, t, hist, err) : NULL;
    double *R = at_malloc(n * k + 1, sizeof *R, err);
    int32_t *labels = at_malloc(n + 1, sizeof *labels, err);
    if (!best || (p->n_init > 1 && !cur) || !R || !labels) s = AT_ERR_MEMORY;
    if (gd) s = at_comm_agree(gd->comm, s, err);
    if (s) goto done;
    for (size_t init = 0; init < (size_t)p->n_init; init++) {
        at_rng r;
        at_rng_init(&r, seed, init); /* one stream per restart */
        at_gmm *g = init == 0 ? best : cur;
        if ((s = em_run(p, g, X, n, &r, threads, progress, init, R, labels, gd, err))) goto done;
        if (init > 0 && cur->mean_log_likelihood > best->mean_log_likelihood) copy_gmm(cur, best);
    }
    best->n_samples = N;
    size_t np = at_gmm_n_parameters(k, d, t);
    best->bic = -2.0 * best->mean_log_likelihood * (double)N + (double)np * log((double)N);
    best->aic = -2.0 * best->mean_log_likelihood * (double)N + 2.0 * (double)np;
    *out = best;
    best = NULL;
done:
    at_gmm_free(best);
    at_gmm_free(cur);
    free(R);
    free(labels);
    return s;
}

at_status at_gmm_fit(const at_gmm_params *p, size_t k, const double *X, size_t n, size_t d,
                     uint64_t seed, int threads, const at_progress *progress, at_gmm **out,
                     at_error *err) {
    return gmm_fit_dist(p, k, X, n, d, seed, threads, progress, NULL, out, err);
}

static at_status gmm_select_dist(const at_gmm_params *p, size_t k_min, size_t k_max, const double *X,
                                 size_t n, size_t d, uint64_t seed, int threads,
                                 const at_progress *progress, double *bic, double *aic, at_gmm **best,
                                 const gdist *gd, at_error *err) {
    if (best) *best = NULL;
    if (k_min < 1 || k_max < k_min)
        return at_fail(err, AT_ERR_CONFIG, "gmm: bad component range %zu..%zu", k_min, k_max);
    at_gmm *keep = NULL;
    for (size_t k = k_min; k <= k_max; k++) {
        at_gmm *g = NULL;
        at_status s = gmm_fit_dist(p, k, X, n, d, seed, threads, progress, gd, &g, err);
        if (s) {
            at_gmm_free(keep);
            return at_error_prefix(err, "with %zu components: ", k);
        }
        bic[k - k_min] = g->bic;
        if (aic) aic[k - k_min] = g->aic;
        at_progress_log(progress, "gmm: %zu components, BIC %.2f, AIC %.2f", k, g->bic, g->aic);
        if (best && (!keep || g->bic < keep->bic)) {
            at_gmm_free(keep);
            keep = g;
        } else {
            at_gmm_free(g);
        }
    }
    if (best) *best = keep;
    return AT_OK;
}

at_status at_gmm_select(const at_gmm_params *p, size_t k_min, size_t k_max, const double *X,
                        size_t n, size_t d, uint64_t seed, int threads,
                        const at_progress *progress, double *bic, double *aic, at_gmm **best,
                        at_error *err) {
    return gmm_select_dist(p, k_min, k_max, X, n, d, seed, threads, progress, bic, aic, best, NULL, err);
}

/* ---- prediction ---- */

at_status at_gmm_responsibilities(const at_gmm *g, const double *X, size_t n, double *R,
                                  double *log_lik, int threads, at_error *err) {
    if (!g) return at_fail(err, AT_ERR_INTERNAL, "gmm: used before fit");
    if (n == 0) return AT_OK;
    double ll, *Rc = NULL;
    if (R && !(Rc = at_malloc(n * g->k, sizeof *Rc, err))) return AT_ERR_MEMORY;
    at_status s = estep(g, X, n, Rc, log_lik, NULL, &ll, threads, NULL, err);
    for (size_t i = 0; !s && R && i < n; i++)
        for (size_t c = 0; c < g->k; c++) R[i * g->k + c] = Rc[c * n + i];
    free(Rc);
    return s;
}

at_status at_gmm_predict(const at_gmm *g, const double *X, size_t n, int32_t *cluster,
                         int threads, at_error *err) {
    if (!g) return at_fail(err, AT_ERR_INTERNAL, "gmm: used before fit");
    if (n == 0) return AT_OK;
    double ll, *Rc = at_malloc(n * g->k, sizeof *Rc, err);
    if (!Rc) return AT_ERR_MEMORY;
    at_status s = estep(g, X, n, Rc, NULL, NULL, &ll, threads, NULL, err);
    for (size_t i = 0; !s && i < n; i++) {
        size_t b = 0;
        for (size_t c = 1; c < g->k; c++)
            if (Rc[c * n + i] > Rc[b * n + i]) b = c;
        cluster[i] = (int32_t)b;
    }
    free(Rc);
    return s;
}

static at_status match_labels_dist(at_gmm *g, const double *X, const int32_t *y, size_t n,
                                   size_t n_classes, int threads, const gdist *gd, at_error *err) {
    if (!g) return at_fail(err, AT_ERR_INTERNAL, "gmm: used before fit");
    if (n_classes == 0) return at_fail(err, AT_ERR_DATA, "gmm: no classes to match clusters to");
    size_t k = g->k, sq = k > n_classes ? k : n_classes;
    int32_t *cl = at_malloc(n + 1, sizeof *cl, err);
    double *counts = at_calloc(sq * sq, sizeof *counts, err); /* cluster x class */
    int32_t *map = at_malloc(k, sizeof *map, err);
    int *assign = at_malloc(sq, sizeof *assign, err);
    at_status s = AT_OK;
    if (!cl || !counts || !map || !assign) {
        s = AT_ERR_MEMORY;
        goto done;
    }
    if ((s = at_gmm_predict(g, X, n, cl, threads, err))) goto done;
    for (size_t i = 0; i < n; i++)
        if (y[i] >= 0 && (size_t)y[i] < n_classes) counts[(size_t)cl[i] * sq + (size_t)y[i]] += 1;
    if (gd && (s = at_comm_sum_f64(gd->comm, counts, sq * sq, err))) goto done; /* integers: exact */
    if (k <= n_classes) {
        /* square problem (padded with empty clusters when k < n_classes): each class at
         * most one cluster, the most agreement overall */
        if ((s = at_hungarian_max(counts, sq, assign, err))) goto done;
        for (size_t c = 0; c < k; c++) map[c] = assign[c];
    } else {
        for (size_t c = 0; c < k; c++) {
            size_t b = 0;
            for (size_t j = 1; j < n_classes; j++)
                if (counts[c * sq + j] > counts[c * sq + b]) b = j;
            map[c] = (int32_t)b;
        }
    }
    free(g->cluster_class);
    g->cluster_class = map;
    map = NULL;
    g->n_classes = n_classes;
done:
    free(cl), free(counts), free(map), free(assign);
    return s;
}

at_status at_gmm_match_labels(at_gmm *g, const double *X, const int32_t *y, size_t n,
                              size_t n_classes, int threads, at_error *err) {
    return match_labels_dist(g, X, y, n, n_classes, threads, NULL, err);
}

at_status at_gmm_predict_proba(const at_gmm *g, const double *X, size_t n, double *P,
                               int threads, at_error *err) {
    if (!g) return at_fail(err, AT_ERR_INTERNAL, "gmm: used before fit");
    if (!g->cluster_class || g->n_classes == 0)
        return at_fail(err, AT_ERR_DATA,
                       "gmm: clusters are not matched to classes (the training part had no labels)");
    if (n == 0) return AT_OK;
    size_t k = g->k, nc = g->n_classes;
    double ll, *Rc = at_malloc(n * k, sizeof *Rc, err);
    if (!Rc) return AT_ERR_MEMORY;
    at_status s = estep(g, X, n, Rc, NULL, NULL, &ll, threads, NULL, err);
    for (size_t i = 0; !s && i < n; i++) {
        double *p = P + i * nc;
        for (size_t j = 0; j < nc; j++) p[j] = 0;
        for (size_t c = 0; c < k; c++)
            if (g->cluster_class[c] >= 0) p[g->cluster_class[c]] += Rc[c * n + i];
    }
    free(Rc);
    return s;
}

/* ---- storage ---- */

#define KEY(name) (snprintf(key, sizeof key, "%s%s", prefix, name), key)

at_status at_gmm_save(const at_gmm *g, at_store *st, const char *prefix, at_error *err) {
    char key[256];
    size_t k = g->k, d = g->d, cs = cov_stride(g->covariance_type, d);
    at_status s;
    if ((s = at_store_put_str(st, KEY("covariance_type"), cov_names[g->covariance_type], err)) ||
        (s = at_store_put_f64(st, KEY("weights"), g->weights, k, err)) ||
        (s = at_store_put_f64_2d(st, KEY("means"), g->means, k, d, err)) ||
        (s = at_store_put_f64_2d(st, KEY("covariances"), g->covariances, k, cs, err)) ||
        (s = at_store_put_f64_2d(st, KEY("history"), g->history, g->n_iter, 2, err)) ||
        (s = at_store_put_real(st, KEY("mean_log_likelihood"), g->mean_log_likelihood, err)) ||
        (s = at_store_put_real(st, KEY("bic"), g->bic, err)) ||
        (s = at_store_put_real(st, KEY("aic"), g->aic, err)) ||
        (s = at_store_put_int(st, KEY("converged"), g->converged, err)) ||
        (s = at_store_put_int(st, KEY("n_samples"), (int64_t)g->n_samples, err)) ||
        (s = at_store_put_int(st, KEY("n_classes"), (int64_t)g->n_classes, err)))
        return s;
    if (g->cluster_class) return at_store_put_i32(st, KEY("cluster_class"), g->cluster_class, k, err);
    return AT_OK;
}

at_status at_gmm_load(at_store *st, const char *prefix, size_t d, at_gmm **out, at_error *err) {
    *out = NULL;
    char key[256];
    const char *path = at_store_path(st);
    char *type = NULL;
    at_status s = at_store_get_str(st, KEY("covariance_type"), &type, err);
    if (s) return s;
    int t = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(type, cov_names[i]) == 0) t = i;
    free(type);
    if (t < 0) return at_fail(err, AT_ERR_MODEL, "%s: unknown gmm covariance type", path);
    size_t rank = 0, dims[2] = {0, 0}, hdims[2] = {0, 0}, hrank = 0;
    if ((s = at_store_shape(st, KEY("means"), &rank, dims, err))) return s;
    size_t k = dims[0];
    if (rank != 2 || dims[1] != d || k < 1 || k > 100000)
        return at_fail(err, AT_ERR_MODEL, "%s: gmm means have the wrong shape", path);
    if ((s = at_store_shape(st, KEY("history"), &hrank, hdims, err))) return s;
    if (hrank != 2 || hdims[1] != 2 || hdims[0] > 1000000)
        return at_fail(err, AT_ERR_MODEL, "%s: gmm history has the wrong shape", path);
    at_gmm *g = gmm_alloc(k, d, (at_covariance_type)t, hdims[0], err);
    if (!g) return AT_ERR_MEMORY;
    g->n_iter = hdims[0];
    int64_t conv = 0, ns = 0, nc = 0;
    if ((s = at_store_read_f64(st, KEY("means"), g->means, k * d, err)) ||
        (s = at_store_read_f64(st, KEY("weights"), g->weights, k, err)) ||
        (s = at_store_read_f64(st, KEY("covariances"), g->covariances, k * cov_stride(g->covariance_type, d),
                               err)) ||
        (s = at_store_read_f64(st, KEY("history"), g->history, 2 * g->n_iter, err)) ||
        (s = at_store_get_real(st, KEY("mean_log_likelihood"), &g->mean_log_likelihood, err)) ||
        (s = at_store_get_real(st, KEY("bic"), &g->bic, err)) ||
        (s = at_store_get_real(st, KEY("aic"), &g->aic, err)) ||
        (s = at_store_get_int(st, KEY("converged"), &conv, err)) ||
        (s = at_store_get_int(st, KEY("n_samples"), &ns, err)) ||
        (s = at_store_get_int(st, KEY("n_classes"), &nc, err)))
        goto fail;
    g->converged = conv != 0;
    g->n_samples = ns > 0 ? (size_t)ns : 0;
    if (nc < 0 || nc > 100000) {
        s = at_fail(err, AT_ERR_MODEL, "%s: implausible gmm class count", path);
        goto fail;
    }
    g->n_classes = (size_t)nc;
    double wsum = 0;
    for (size_t c = 0; c < k; c++) {
        if (!(g->weights[c] >= 0) || !isfinite(g->weights[c])) wsum = NAN;
        wsum += g->weights[c];
    }
    for (size_t j = 0; j < k * d; j++)
        if (!isfinite(g->means[j])) wsum = NAN;
    if (!(fabs(wsum - 1) < 1e-6)) {
        s = at_fail(err, AT_ERR_MODEL, "%s: gmm weights or means are invalid", path);
        goto fail;
    }
    if (g->n_classes > 0 && at_store_has(st, KEY("cluster_class"))) {
        g->cluster_class = at_malloc(k, sizeof *g->cluster_class, err);
        if (!g->cluster_class) {
            s = AT_ERR_MEMORY;
            goto fail;
        }
        if ((s = at_store_read_i32(st, KEY("cluster_class"), g->cluster_class, k, err))) goto fail;
        for (size_t c = 0; c < k; c++)
            if (g->cluster_class[c] < -1 || g->cluster_class[c] >= (int32_t)g->n_classes) {
                s = at_fail(err, AT_ERR_MODEL, "%s: gmm cluster_class out of range", path);
                goto fail;
            }
    }
    if ((s = prepare(g, 0, err))) {
        s = at_fail(err, AT_ERR_MODEL, "%s: a gmm covariance is not positive definite", path);
        goto fail;
    }
    *out = g;
    return AT_OK;
fail:
    at_gmm_free(g);
    return s;
}
#undef KEY

/* ---- the model family ---- */

static const char *const hist_names[] = {"iteration", "mean_log_likelihood"};

typedef struct gmm_model {
    at_gmm_params params;
    size_t d, n_classes;
    at_gmm *g;
    at_history hist;
    size_t sel_kmin, sel_n; /* model selection over a range of components */
    double *sel_bic, *sel_aic;
} gmm_model;

/* Points the history table at the mixture's log-likelihood trace. */
static void gm_set(gmm_model *m, at_gmm *g) {
    at_gmm_free(m->g);
    m->g = g;
    m->hist.n_rows = g->n_iter;
    m->hist.n_cols = 2;
    m->hist.names = hist_names;
    m->hist.values = g->history;
}

static void gm_clear_selection(gmm_model *m) {
    free(m->sel_bic), free(m->sel_aic);
    m->sel_bic = m->sel_aic = NULL;
    m->sel_n = m->sel_kmin = 0;
}

static at_status gm_fit(void *impl, const at_fit_input *in, at_error *err) {
    gmm_model *m = impl;
    const at_dataset *tr = in->train;
    size_t lo, hi;
    if (!at_gmm_components(m->params.components, &lo, &hi))
        return at_fail(err, AT_ERR_CONFIG, "gmm: components = '%s': expected a count (3) or a range (2..8)",
                       m->params.components);
    at_gmm *g = NULL;
    at_status s;
    gm_clear_selection(m);
    /* Across MPI ranks: this rank's rows, the statistics summed (gdist). */
    gdist gdv = {in->comm, tr->n, 0}, *gd = at_comm_size(in->comm) > 1 ? &gdv : NULL;
    if (gd) {
        int64_t N = (int64_t)tr->n;
        uint64_t off = 0;
        if ((s = at_comm_sum_i64(in->comm, &N, 1, err)) || (s = at_comm_exscan_u64(in->comm, tr->n, &off, err)))
            return s;
        gdv.N = (size_t)N;
        gdv.off = (size_t)off;
    }
    if (lo == hi) {
        s = gmm_fit_dist(&m->params, lo, tr->X, tr->n, tr->d, in->seed, in->threads, in->progress, gd, &g, err);
    } else {
        size_t cnt = hi - lo + 1;
        m->sel_bic = at_malloc(cnt, sizeof *m->sel_bic, err);
        m->sel_aic = at_malloc(cnt, sizeof *m->sel_aic, err);
        if (!m->sel_bic || !m->sel_aic) {
            gm_clear_selection(m);
            return AT_ERR_MEMORY;
        }
        s = gmm_select_dist(&m->params, lo, hi, tr->X, tr->n, tr->d, in->seed, in->threads, in->progress,
                            m->sel_bic, m->sel_aic, &g, gd, err);
        if (s) {
            gm_clear_selection(m);
        } else {
            m->sel_kmin = lo;
            m->sel_n = cnt;
        }
    }
    if (s) return s;
    if (tr->y && m->n_classes > 0 &&
        (s = match_labels_dist(g, tr->X, tr->y, tr->n, m->n_classes, in->threads, gd, err))) {
        at_gmm_free(g);
        return s;
    }
    gm_set(m, g);
    at_progress_log(in->progress, "gmm: %zu %s components, %zu iterations%s, mean log-likelihood %.6f, BIC %.2f",
                    g->k, cov_names[g->covariance_type], g->n_iter, g->converged ? "" : " (not converged)",
                    g->mean_log_likelihood, g->bic);
    return AT_OK;
}

static at_status gm_predict(const void *impl, const double *X, size_t n, double *P, int threads,
                            at_error *err) {
    const gmm_model *m = impl;
    if (!m->g) return at_fail(err, AT_ERR_INTERNAL, "gmm: predict before fit");
    if (m->g->n_classes != m->n_classes)
        return at_fail(err, AT_ERR_DATA,
                       "gmm: clusters are not matched to the %zu classes (the training part had no labels)",
                       m->n_classes);
    return at_gmm_predict_proba(m->g, X, n, P, threads, err);
}

static at_status gm_save(const void *impl, at_store *st, at_error *err) {
    const gmm_model *m = impl;
    if (!m->g) return at_fail(err, AT_ERR_INTERNAL, "gmm: save before fit");
    at_status s = at_gmm_save(m->g, st, "model/", err);
    if (s || !m->sel_n) return s;
    if ((s = at_store_put_int(st, "model/selection_k_min", (int64_t)m->sel_kmin, err)) ||
        (s = at_store_put_f64(st, "model/selection_bic", m->sel_bic, m->sel_n, err)))
        return s;
    return at_store_put_f64(st, "model/selection_aic", m->sel_aic, m->sel_n, err);
}

static at_status gm_load(void *impl, at_store *st, at_error *err) {
    gmm_model *m = impl;
    at_gmm *g = NULL;
    at_status s = at_gmm_load(st, "model/", m->d, &g, err);
    if (s) return s;
    if (g->n_classes != 0 && g->n_classes != m->n_classes) {
        at_gmm_free(g);
        return at_fail(err, AT_ERR_MODEL, "%s: gmm class count disagrees with meta/n_classes",
                       at_store_path(st));
    }
    gm_set(m, g);
    gm_clear_selection(m);
    m->params.covariance_type = g->covariance_type;
    snprintf(m->params.components, sizeof m->params.components, "%zu", g->k);
    if (at_store_has(st, "model/selection_bic")) {
        int64_t k0 = 0;
        size_t nb = 0, na = 0;
        if ((s = at_store_get_int(st, "model/selection_k_min", &k0, err)) ||
            (s = at_store_get_f64(st, "model/selection_bic", &m->sel_bic, &nb, err)) ||
            (s = at_store_get_f64(st, "model/selection_aic", &m->sel_aic, &na, err))) {
            gm_clear_selection(m);
            return s;
        }
        if (k0 < 1 || nb != na || nb == 0) {
            gm_clear_selection(m);
            return at_fail(err, AT_ERR_MODEL, "%s: gmm model selection arrays are inconsistent",
                           at_store_path(st));
        }
        m->sel_kmin = (size_t)k0;
        m->sel_n = nb;
    }
    return AT_OK;
}

static void gm_free(void *impl) {
    gmm_model *m = impl;
    at_gmm_free(m->g);
    gm_clear_selection(m);
    free(m);
}

static const at_history *gm_history(const void *impl) {
    const gmm_model *m = impl;
    return m->g ? &m->hist : NULL;
}

static void json_array(at_json *j, const char *key, const double *v, size_t n) {
    at_json_key(j, key);
    at_json_begin_array(j);
    for (size_t i = 0; i < n; i++) at_json_number(j, v[i]);
    at_json_end_array(j);
}

static void gm_describe(const void *impl, at_json *j) {
    const gmm_model *m = impl;
    const at_gmm *g = m->g;
    if (!g) return;
    at_json_kv_int(j, "n_components", (int64_t)g->k);
    at_json_kv_string(j, "covariance_type", cov_names[g->covariance_type]);
    at_json_kv_int(j, "n_iter", (int64_t)g->n_iter);
    at_json_key(j, "converged");
    at_json_bool(j, g->converged);
    at_json_kv_number(j, "mean_log_likelihood", g->mean_log_likelihood);
    at_json_kv_number(j, "bic", g->bic);
    at_json_kv_number(j, "aic", g->aic);
    json_array(j, "weights", g->weights, g->k);
    if (g->cluster_class) {
        at_json_key(j, "cluster_class");
        at_json_begin_array(j);
        for (size_t c = 0; c < g->k; c++) at_json_int(j, g->cluster_class[c]);
        at_json_end_array(j);
    }
    if (m->sel_n) {
        at_json_key(j, "selection");
        at_json_begin_object(j);
        at_json_key(j, "components");
        at_json_begin_array(j);
        for (size_t i = 0; i < m->sel_n; i++) at_json_int(j, (int64_t)(m->sel_kmin + i));
        at_json_end_array(j);
        json_array(j, "bic", m->sel_bic, m->sel_n);
        json_array(j, "aic", m->sel_aic, m->sel_n);
        at_json_end_object(j);
    }
}

const at_model_ops at_gmm_ops = {
    .type = "gmm",
    .fit = gm_fit,
    .predict_proba = gm_predict,
    .save = gm_save,
    .load = gm_load,
    .free = gm_free,
    .importances = NULL,
    .history = gm_history,
    .describe = gm_describe,
};

at_status at_gmm_new(const at_gmm_params *p, size_t n_features, size_t n_classes, at_model **out,
                     at_error *err) {
    *out = NULL;
    at_status s = check_params(p, err);
    if (s) return s;
    size_t lo, hi;
    if (!at_gmm_components(p->components, &lo, &hi))
        return at_fail(err, AT_ERR_CONFIG, "gmm: components = '%s': expected a count (3) or a range (2..8)",
                       p->components);
    at_model *m = at_calloc(1, sizeof *m, err);
    gmm_model *gm = at_calloc(1, sizeof *gm, err);
    if (!m || !gm) {
        free(m), free(gm);
        return AT_ERR_MEMORY;
    }
    gm->params = *p;
    gm->d = n_features;
    gm->n_classes = n_classes;
    m->ops = &at_gmm_ops;
    m->impl = gm;
    m->n_features = n_features;
    m->n_classes = n_classes;
    *out = m;
    return AT_OK;
}

const at_gmm *at_gmm_of(const at_model *m) {
    if (!m || m->ops != &at_gmm_ops || !m->impl) return NULL;
    return ((const gmm_model *)m->impl)->g;
}

int at_gmm_selection(const at_model *m, size_t *k_min, size_t *count, const double **bic,
                     const double **aic) {
    if (!m || m->ops != &at_gmm_ops || !m->impl) return 0;
    const gmm_model *gm = m->impl;
    if (!gm->sel_n) return 0;
    *k_min = gm->sel_kmin;
    *count = gm->sel_n;
    if (bic) *bic = gm->sel_bic;
    if (aic) *aic = gm->sel_aic;
    return 1;
}
