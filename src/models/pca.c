/* pca.c - principal component analysis: blocked covariance (cblas_dsyrk), symmetric
 * eigendecomposition (LAPACKE_dsyevr), and the `pca` model family around it. */
#include "astrotrain/pca.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/comm.h"

#define PCA_BLOCK 4096 /* rows centred at a time: bounds the copy, keeps dsyrk efficient */

void at_pca_free(at_pca *pca) {
    if (!pca) return;
    free(pca->mean);
    free(pca->components);
    free(pca->explained_variance);
    free(pca->explained_variance_ratio);
    free(pca->eigenvalues);
    free(pca);
}

static at_pca *pca_alloc(size_t d, size_t k, at_error *err) {
    at_pca *p = at_calloc(1, sizeof *p, err);
    if (!p) return NULL;
    p->d = d;
    p->k = k;
    p->mean = at_calloc(d, sizeof *p->mean, err);
    p->components = at_calloc(k * d, sizeof *p->components, err);
    p->explained_variance = at_calloc(k, sizeof *p->explained_variance, err);
    p->explained_variance_ratio = at_calloc(k, sizeof *p->explained_variance_ratio, err);
    p->eigenvalues = at_calloc(d, sizeof *p->eigenvalues, err);
    if (!p->mean || !p->components || !p->explained_variance || !p->explained_variance_ratio ||
        !p->eigenvalues) {
        at_pca_free(p);
        return NULL;
    }
    return p;
}

at_status at_pca_copy(const at_pca *src, at_pca **out, at_error *err) {
    *out = NULL;
    at_pca *p = pca_alloc(src->d, src->k, err);
    if (!p) return AT_ERR_MEMORY;
    p->whiten = src->whiten;
    p->n_samples = src->n_samples;
    p->total_variance = src->total_variance;
    memcpy(p->mean, src->mean, src->d * sizeof *p->mean);
    memcpy(p->components, src->components, src->k * src->d * sizeof *p->components);
    memcpy(p->explained_variance, src->explained_variance, src->k * sizeof *p->explained_variance);
    memcpy(p->explained_variance_ratio, src->explained_variance_ratio, src->k * sizeof *p->explained_variance_ratio);
    memcpy(p->eigenvalues, src->eigenvalues, src->d * sizeof *p->eigenvalues);
    *out = p;
    return AT_OK;
}

static at_status check_params(const at_pca_params *p, at_error *err) {
    if (p->n_components < 0)
        return at_fail(err, AT_ERR_CONFIG, "pca: n_components must be >= 0, not %lld",
                       (long long)p->n_components);
    if (!(p->variance_to_keep >= 0 && p->variance_to_keep <= 1))
        return at_fail(err, AT_ERR_CONFIG, "pca: variance_to_keep must be in (0, 1], not %g",
                       p->variance_to_keep);
    return AT_OK;
}

/* Flips v so that its entry of largest magnitude (the first such) is positive. */
static void fix_sign(double *v, size_t d) {
    size_t arg = 0;
    for (size_t j = 1; j < d; j++)
        if (fabs(v[j]) > fabs(v[arg])) arg = j;
    if (v[arg] < 0)
        for (size_t j = 0; j < d; j++) v[j] = -v[j];
}

/* Across MPI ranks (comm with more than one rank; NULL: this process alone) each rank holds
 * rows X of the data: the sums of the mean and of the centred cross-products are summed
 * across ranks (sufficient statistics: d + 1 and d x d doubles), and every rank then finds the
 * same components. In double, summed in rank order, so within rounding of one process's. */
static at_status fit_core(const at_pca_params *p, const double *X, size_t n, size_t d, at_comm *comm,
                          at_pca **out, at_error *err) {
    *out = NULL;
    const int dist = at_comm_size(comm) > 1;
    at_status s = check_params(p, err);
    if (!s && d == 0) s = at_fail(err, AT_ERR_DATA, "pca: the data have no features");
    if (!s && d > 100000) s = at_fail(err, AT_ERR_DATA, "pca: %zu features is too many for a dense covariance", d);
    for (size_t i = 0; !s && i < n * d; i++)
        if (!isfinite(X[i])) s = at_fail(err, AT_ERR_DATA, "pca: row %zu, feature %zu is not finite", i / d, i % d);
    if (dist) s = at_comm_agree(comm, s, err);
    if (s) return s;
    size_t n_all = n;
    if (dist) {
        int64_t ng = (int64_t)n;
        if ((s = at_comm_sum_i64(comm, &ng, 1, err))) return s;
        n_all = (size_t)ng;
    }
    if (n_all < 2) return at_fail(err, AT_ERR_DATA, "pca: needs at least 2 rows, the data have %zu", n_all);

    double *mean = at_calloc(d, sizeof *mean, err);
    double *cov = at_calloc(d * d, sizeof *cov, err);
    double *w = at_malloc(d, sizeof *w, err);
    double *z = at_malloc(d * d, sizeof *z, err);
    int *isuppz = at_malloc(2 * d, sizeof *isuppz, err);
    size_t bn = n < PCA_BLOCK ? n : PCA_BLOCK;
    double *blk = at_malloc(bn * d, sizeof *blk, err);
    at_pca *pca = NULL;
    if (!mean || !cov || !w || !z || !isuppz || !blk) {
        s = AT_ERR_MEMORY;
        goto done;
    }
    /* Two passes: the mean first, then the centred cross-products, which is far more
     * accurate than sum(x x^T) - n mean mean^T when the mean is large. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) mean[j] += X[i * d + j];
    if (dist && (s = at_comm_sum_f64(comm, mean, d, err))) goto done;
    for (size_t j = 0; j < d; j++) mean[j] /= (double)n_all;
    for (size_t i0 = 0; i0 < n; i0 += bn) {
        size_t m = n - i0 < bn ? n - i0 : bn;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < d; j++) blk[i * d + j] = X[(i0 + i) * d + j] - mean[j];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)m, 1.0 / (double)(n_all - 1),
                    blk, (int)d, 1.0, cov, (int)d);
    }
    if (dist && (s = at_comm_sum_f64(comm, cov, d * d, err))) goto done;

    lapack_int found = 0;
    lapack_int info = LAPACKE_dsyevr(LAPACK_ROW_MAJOR, 'V', 'A', 'U', (lapack_int)d, cov,
                                     (lapack_int)d, 0, 0, 0, 0, 0.0, &found, w, z, (lapack_int)d,
                                     isuppz);
    if (info != 0 || (size_t)found != d) {
        s = at_fail(err, AT_ERR_DATA, "pca: the eigendecomposition failed (LAPACK info %d)", (int)info);
        goto done;
    }
    /* Eigenvalues come ascending; rounding can make the zero ones slightly negative. */
    double total = 0;
    for (size_t j = 0; j < d; j++) {
        if (w[j] < 0) w[j] = 0;
        total += w[j];
    }
    size_t k = d;
    if (p->variance_to_keep > 0 && total > 0) {
        double cum = 0;
        for (k = 1; k <= d; k++) {
            cum += w[d - k] / total;
            /* The tolerance keeps variance_to_keep = 1 from asking for more than d. */
            if (cum >= p->variance_to_keep - 1e-12) break;
        }
        if (k > d) k = d;
    } else if (p->n_components > 0 && (size_t)p->n_components < d) {
        k = (size_t)p->n_components;
    }
    pca = pca_alloc(d, k, err);
    if (!pca) {
        s = AT_ERR_MEMORY;
        goto done;
    }
    pca->whiten = p->whiten ? 1 : 0;
    pca->n_samples = n;
    pca->total_variance = total;
    memcpy(pca->mean, mean, d * sizeof *mean);
    for (size_t c = 0; c < d; c++) pca->eigenvalues[c] = w[d - 1 - c];
    for (size_t c = 0; c < k; c++) {
        size_t col = d - 1 - c; /* z holds the eigenvectors as columns */
        double *v = pca->components + c * d;
        for (size_t j = 0; j < d; j++) v[j] = z[j * d + col];
        fix_sign(v, d);
        pca->explained_variance[c] = w[col];
        pca->explained_variance_ratio[c] = total > 0 ? w[col] / total : 0;
    }
    *out = pca;
done:
    free(mean);
    free(cov);
    free(w);
    free(z);
    free(isuppz);
    free(blk);
    return s;
}

at_status at_pca_fit_matrix(const at_pca_params *p, const double *X, size_t n, size_t d, at_pca **out,
                            at_error *err) {
    return fit_core(p, X, n, d, NULL, out, err);
}

at_status at_pca_fit(const at_pca_params *p, const at_dataset *ds, at_pca **out, at_error *err) {
    return at_pca_fit_matrix(p, ds->X, ds->n, ds->d, out, err);
}

at_status at_pca_fit_comm(const at_pca_params *p, const at_dataset *ds, struct at_comm *comm, at_pca **out,
                          at_error *err) {
    return fit_core(p, ds->X, ds->n, ds->d, comm, out, err);
}

at_status at_pca_transform(const at_pca *pca, const double *X, size_t n, double *out,
                           at_error *err) {
    if (!pca) return at_fail(err, AT_ERR_INTERNAL, "pca: transform before fit");
    size_t d = pca->d, k = pca->k;
    double *scale = at_malloc(k, sizeof *scale, err);
    double *blk = at_malloc((n < PCA_BLOCK ? n : PCA_BLOCK) * d + 1, sizeof *blk, err);
    if (!scale || !blk) {
        free(scale);
        free(blk);
        return AT_ERR_MEMORY;
    }
    for (size_t c = 0; c < k; c++) {
        double ev = pca->explained_variance[c];
        /* A zero-variance direction whitens to 0 rather than to inf/NaN. */
        scale[c] = !pca->whiten ? 1.0 : ev > 0 ? 1.0 / sqrt(ev) : 0.0;
    }
    for (size_t i0 = 0; i0 < n; i0 += PCA_BLOCK) {
        size_t m = n - i0 < PCA_BLOCK ? n - i0 : PCA_BLOCK;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < d; j++) blk[i * d + j] = X[(i0 + i) * d + j] - pca->mean[j];
        /* out block (m x k) = centred block (m x d) times components^T (d x k) */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)k, (int)d, 1.0, blk,
                    (int)d, pca->components, (int)d, 0.0, out + i0 * k, (int)k);
        for (size_t i = 0; i < m; i++)
            for (size_t c = 0; c < k; c++) out[(i0 + i) * k + c] *= scale[c];
    }
    free(scale);
    free(blk);
    return AT_OK;
}

/* ---- storage ---- */

static void key(char *buf, size_t cap, const char *prefix, const char *name) {
    snprintf(buf, cap, "%s%s", prefix, name);
}

at_status at_pca_save(const at_pca *pca, at_store *st, const char *prefix, at_error *err) {
    char k[256];
    at_status s;
    key(k, sizeof k, prefix, "mean");
    if ((s = at_store_put_f64(st, k, pca->mean, pca->d, err))) return s;
    key(k, sizeof k, prefix, "components");
    if ((s = at_store_put_f64_2d(st, k, pca->components, pca->k, pca->d, err))) return s;
    key(k, sizeof k, prefix, "explained_variance");
    if ((s = at_store_put_f64(st, k, pca->explained_variance, pca->k, err))) return s;
    key(k, sizeof k, prefix, "explained_variance_ratio");
    if ((s = at_store_put_f64(st, k, pca->explained_variance_ratio, pca->k, err))) return s;
    key(k, sizeof k, prefix, "eigenvalues");
    if ((s = at_store_put_f64(st, k, pca->eigenvalues, pca->d, err))) return s;
    key(k, sizeof k, prefix, "total_variance");
    if ((s = at_store_put_real(st, k, pca->total_variance, err))) return s;
    key(k, sizeof k, prefix, "whiten");
    if ((s = at_store_put_int(st, k, pca->whiten, err))) return s;
    key(k, sizeof k, prefix, "n_samples");
    return at_store_put_int(st, k, (int64_t)pca->n_samples, err);
}

at_status at_pca_load(at_store *st, const char *prefix, size_t d, at_pca **out, at_error *err) {
    *out = NULL;
    char k[256];
    size_t rank = 0, dims[2] = {0, 0};
    at_status s;
    key(k, sizeof k, prefix, "components");
    if ((s = at_store_shape(st, k, &rank, dims, err))) return s;
    if (rank != 2 || dims[1] != d || dims[0] == 0 || dims[0] > d)
        return at_fail(err, AT_ERR_MODEL, "%s: %s has shape %zu x %zu, expected k x %zu with 1 <= k <= %zu",
                       at_store_path(st), k, dims[0], rank == 2 ? dims[1] : 0, d, d);
    at_pca *pca = pca_alloc(d, dims[0], err);
    if (!pca) return AT_ERR_MEMORY;
    int64_t whiten = 0, ns = 0;
    if ((s = at_store_read_f64(st, k, pca->components, pca->k * d, err))) goto fail;
    key(k, sizeof k, prefix, "mean");
    if ((s = at_store_read_f64(st, k, pca->mean, d, err))) goto fail;
    key(k, sizeof k, prefix, "explained_variance");
    if ((s = at_store_read_f64(st, k, pca->explained_variance, pca->k, err))) goto fail;
    key(k, sizeof k, prefix, "explained_variance_ratio");
    if ((s = at_store_read_f64(st, k, pca->explained_variance_ratio, pca->k, err))) goto fail;
    key(k, sizeof k, prefix, "eigenvalues");
    if ((s = at_store_read_f64(st, k, pca->eigenvalues, d, err))) goto fail;
    key(k, sizeof k, prefix, "total_variance");
    if ((s = at_store_get_real(st, k, &pca->total_variance, err))) goto fail;
    key(k, sizeof k, prefix, "whiten");
    if ((s = at_store_get_int(st, k, &whiten, err))) goto fail;
    key(k, sizeof k, prefix, "n_samples");
    if ((s = at_store_get_int(st, k, &ns, err))) goto fail;
    pca->whiten = whiten != 0;
    pca->n_samples = ns > 0 ? (size_t)ns : 0;
    for (size_t i = 0; i < pca->k * d; i++)
        if (!isfinite(pca->components[i])) {
            s = at_fail(err, AT_ERR_MODEL, "%s: pca components are not finite", at_store_path(st));
            goto fail;
        }
    for (size_t i = 0; i < d; i++)
        if (!isfinite(pca->mean[i])) {
            s = at_fail(err, AT_ERR_MODEL, "%s: pca mean is not finite", at_store_path(st));
            goto fail;
        }
    for (size_t c = 0; c < pca->k; c++)
        if (!(pca->explained_variance[c] >= 0) || !isfinite(pca->explained_variance[c])) {
            s = at_fail(err, AT_ERR_MODEL, "%s: pca explained variance is invalid", at_store_path(st));
            goto fail;
        }
    *out = pca;
    return AT_OK;
fail:
    at_pca_free(pca);
    return s;
}

/* ---- the model family ---- */

typedef struct pca_model {
    at_pca_params params;
    size_t d;
    at_pca *pca;
} pca_model;

static at_status pm_fit(void *impl, const at_fit_input *in, at_error *err) {
    pca_model *m = impl;
    at_pca *pca = NULL;
    at_status s = at_pca_fit_comm(&m->params, in->train, in->comm, &pca, err);
    if (s) return s;
    at_pca_free(m->pca);
    m->pca = pca;
    double kept = 0;
    for (size_t c = 0; c < pca->k; c++) kept += pca->explained_variance_ratio[c];
    at_progress_log(in->progress, "pca: %zu components keep %.4f of the variance", pca->k, kept);
    return AT_OK;
}

static at_status pm_predict(const void *impl, const double *X, size_t n, double *P, int threads,
                            at_error *err) {
    (void)impl, (void)X, (void)n, (void)P, (void)threads;
    return at_fail(err, AT_ERR_CONFIG,
                   "a pca model has no class probabilities; use `astrotrain transform`");
}

static at_status pm_save(const void *impl, at_store *st, at_error *err) {
    const pca_model *m = impl;
    if (!m->pca) return at_fail(err, AT_ERR_INTERNAL, "pca: save before fit");
    return at_pca_save(m->pca, st, "model/", err);
}

static at_status pm_load(void *impl, at_store *st, at_error *err) {
    pca_model *m = impl;
    at_pca *pca = NULL;
    at_status s = at_pca_load(st, "model/", m->d, &pca, err);
    if (s) return s;
    at_pca_free(m->pca);
    m->pca = pca;
    m->params.n_components = (int64_t)pca->k;
    m->params.whiten = pca->whiten;
    return AT_OK;
}

static void pm_free(void *impl) {
    pca_model *m = impl;
    at_pca_free(m->pca);
    free(m);
}

static void pm_describe(const void *impl, at_json *j) {
    const pca_model *m = impl;
    if (!m->pca) return;
    const at_pca *p = m->pca;
    at_json_kv_int(j, "n_components", (int64_t)p->k);
    at_json_key(j, "explained_variance");
    at_json_begin_array(j);
    for (size_t c = 0; c < p->k; c++) at_json_number(j, p->explained_variance[c]);
    at_json_end_array(j);
    at_json_key(j, "explained_variance_ratio");
    at_json_begin_array(j);
    for (size_t c = 0; c < p->k; c++) at_json_number(j, p->explained_variance_ratio[c]);
    at_json_end_array(j);
    at_json_key(j, "whiten");
    at_json_bool(j, p->whiten);
}

const at_model_ops at_pca_ops = {
    .type = "pca",
    .fit = pm_fit,
    .predict_proba = pm_predict,
    .save = pm_save,
    .load = pm_load,
    .free = pm_free,
    .importances = NULL,
    .history = NULL,
    .describe = pm_describe,
};

at_status at_pca_new(const at_pca_params *p, size_t n_features, size_t n_classes, at_model **out,
                     at_error *err) {
    *out = NULL;
    at_status s = check_params(p, err);
    if (s) return s;
    at_model *m = at_calloc(1, sizeof *m, err);
    pca_model *pm = at_calloc(1, sizeof *pm, err);
    if (!m || !pm) {
        free(m);
        free(pm);
        return AT_ERR_MEMORY;
    }
    pm->params = *p;
    pm->d = n_features;
    m->ops = &at_pca_ops;
    m->impl = pm;
    m->n_features = n_features;
    m->n_classes = n_classes;
    *out = m;
    return AT_OK;
}

const at_pca *at_pca_of(const at_model *m) {
    if (!m || m->ops != &at_pca_ops || !m->impl) return NULL;
    return ((const pca_model *)m->impl)->pca;
}
