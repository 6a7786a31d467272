/* bundle.c - the model file: the model plus everything `predict` needs to treat new
 * data exactly as the training data were treated, and prediction from memory on rows
 * (named columns) or images. It sits in the models layer, below eval and the pipeline,
 * because the ensemble (a model family) is made of bundles.
 *
 * Layout (HDF5; see README "Model file"), relative to the store's prefix:
 *   meta/model_type (string), meta/n_features, meta/n_classes
 *   meta/feature_names (d input columns), meta/class_names (k), meta/label
 *   preprocess/sentinel_filter, preprocess/sentinel, preprocess/missing
 *   preprocess/scaler_kind, preprocess/scaler_shift (d), preprocess/scaler_scale (d)
 *   preprocess/pca/...     the PCA stage, when there is one
 *   config                 the effective configuration (INI text)
 *   metrics                metrics.json of the training run (text)
 *   model/...              the family's arrays
 *   reference/...          the training reference for monitoring (optional; reference_io.c) */
#include "astrotrain/bundle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/csv.h"
#include "astrotrain/model_file.h"

at_status at_bundle_write(const at_bundle *b, at_store *st, at_error *err) {
    at_status s;
    int64_t kind = b->scaler ? (int64_t)b->scaler->kind : (int64_t)AT_SCALER_NONE;
    if ((s = at_model_save(b->model, st, err)) ||
        (s = at_store_put_strs(st, "meta/feature_names", (const char *const *)b->feature_names, b->d, err)) ||
        (s = at_store_put_strs(st, "meta/class_names", (const char *const *)b->class_names, b->k, err)) ||
        (s = at_store_put_str(st, "meta/label", b->label ? b->label : "", err)) ||
        (s = at_store_put_int(st, "preprocess/sentinel_filter", b->use_sentinel, err)) ||
        (s = at_store_put_real(st, "preprocess/sentinel", b->sentinel, err)) ||
        (s = at_store_put_int(st, "preprocess/missing", b->missing, err)) ||
        (s = at_store_put_int(st, "preprocess/scaler_kind", kind, err)) ||
        (s = at_store_put_str(st, "config", b->config_text ? b->config_text : "", err)) ||
        (s = at_store_put_str(st, "metrics", b->metrics_json ? b->metrics_json : "{}", err)))
        return s;
    if (b->scaler && ((s = at_store_put_f64(st, "preprocess/scaler_shift", b->scaler->shift, b->d, err)) ||
                      (s = at_store_put_f64(st, "preprocess/scaler_scale", b->scaler->scale, b->d, err))))
        return s;
    if (b->pca && (s = at_pca_save(b->pca, st, "preprocess/pca/", err))) return s;
    if (b->reference && (s = at_reference_write(b->reference, st, err))) return s;
    return AT_OK;
}

at_status at_bundle_save(const at_bundle *b, const char *path, at_error *err) {
    at_store *st = NULL;
    at_status s = at_store_create(path, &st, err);
    if (s) return s;
    if ((s = at_bundle_write(b, st, err))) {
        at_store_close(st); /* discards the temporary file */
        return s;
    }
    return at_store_commit(st, err); /* closes st whatever happens */
}

void at_bundle_free(at_bundle *b) {
    if (!b) return;
    at_model_free(b->model);
    if (b->feature_names) at_strs_free(b->feature_names, b->d);
    if (b->class_names) at_strs_free(b->class_names, b->k);
    free(b->label);
    at_scaler_free(b->scaler);
    at_pca_free(b->pca);
    free(b->config_text);
    free(b->metrics_json);
    at_reference_free(b->reference);
    free(b);
}

at_status at_bundle_read(at_store *st, at_bundle **out, at_error *err) {
    *out = NULL;
    const char *path = at_store_path(st);
    at_bundle *b = at_calloc(1, sizeof *b, err);
    if (!b) return AT_ERR_MEMORY;
    size_t nf = 0, nc = 0, nshift = 0, nscale = 0;
    int64_t use_sentinel = 0, missing = 0, kind = 0;
    double *shift = NULL, *scale = NULL;
    at_status s;
    if ((s = at_model_load(st, &b->model, err))) goto done;
    if ((s = at_store_get_strs(st, "meta/feature_names", &b->feature_names, &nf, err))) goto done;
    b->d = nf;
    if ((s = at_store_get_strs(st, "meta/class_names", &b->class_names, &nc, err))) goto done;
    b->k = nc;
    if (nf == 0 || nc != b->model->n_classes) {
        s = at_fail(err, AT_ERR_MODEL, "%s: %zu feature names, %zu class names for a model of %zu classes", path, nf,
                    nc, b->model->n_classes);
        goto done;
    }
    if ((s = at_store_get_str(st, "meta/label", &b->label, err))) goto done;
    if ((s = at_store_get_int(st, "preprocess/sentinel_filter", &use_sentinel, err))) goto done;
    if ((s = at_store_get_real(st, "preprocess/sentinel", &b->sentinel, err))) goto done;
    if ((s = at_store_get_int(st, "preprocess/missing", &missing, err))) goto done;
    if ((s = at_store_get_int(st, "preprocess/scaler_kind", &kind, err))) goto done;
    if (missing < 0 || missing > 2 || kind < 0 || kind > 2) {
        s = at_fail(err, AT_ERR_MODEL, "%s: invalid preprocessing settings (corrupt file?)", path);
        goto done;
    }
    b->use_sentinel = use_sentinel != 0;
    b->missing = (int)missing;
    if (kind != AT_SCALER_NONE) {
        if ((s = at_store_get_f64(st, "preprocess/scaler_shift", &shift, &nshift, err))) goto done;
        if ((s = at_store_get_f64(st, "preprocess/scaler_scale", &scale, &nscale, err))) goto done;
        if (nshift != b->d || nscale != b->d) {
            s = at_fail(err, AT_ERR_MODEL, "%s: scaler has %zu/%zu values for %zu features", path, nshift, nscale, b->d);
            goto done;
        }
        if ((s = at_scaler_new((at_scaler_kind)kind, b->d, shift, scale, &b->scaler, err))) {
            at_error_prefix(err, "%s: ", path);
            goto done;
        }
    }
    if (at_store_has(st, "preprocess/pca")) {
        if ((s = at_pca_load(st, "preprocess/pca/", b->d, &b->pca, err))) goto done;
    }
    size_t model_d = b->pca ? b->pca->k : b->d;
    if (model_d != b->model->n_features) {
        s = at_fail(err, AT_ERR_MODEL, "%s: the model expects %zu features, the preprocessing gives %zu", path,
                    b->model->n_features, model_d);
        goto done;
    }
    if ((s = at_store_get_str(st, "config", &b->config_text, err))) goto done;
    if ((s = at_store_get_str(st, "metrics", &b->metrics_json, err))) goto done;
    if (at_store_has(st, "reference") && (s = at_reference_read(st, b->d, b->k, &b->reference, err))) goto done;
done:
    free(shift);
    free(scale);
    if (s) {
        at_bundle_free(b);
        return s;
    }
    *out = b;
    return AT_OK;
}

at_status at_bundle_load(const char *path, at_bundle **out, at_error *err) {
    at_store *st = NULL;
    at_status s = at_store_open(path, &st, err);
    if (s) return s;
    s = at_bundle_read(st, out, err);
    at_store_close(st);
    return s;
}

at_status at_bundle_prepare(const at_bundle *b, double *X, size_t n, double **Xm, at_error *err) {
    at_scaler_apply(b->scaler, X, n);
    *Xm = X;
    if (!b->pca || n == 0) return AT_OK;
    double *out = at_malloc(n * b->pca->k, sizeof *out, err);
    if (!out) return AT_ERR_MEMORY;
    at_status s = at_pca_transform(b->pca, X, n, out, err);
    if (s) {
        free(out);
        return s;
    }
    *Xm = out;
    return AT_OK;
}

at_status at_bundle_predict(const at_bundle *b, double *X, size_t n, double *P, int threads, at_error *err) {
    double *Xm;
    at_status s = at_bundle_prepare(b, X, n, &Xm, err);
    if (s) return s;
    s = at_model_predict_proba(b->model, Xm, n, P, threads, err);
    if (Xm != X) free(Xm);
    return s;
}

int at_bundle_row_ok(const at_bundle *b, const double *x) {
    int keep_nan = b->missing == AT_MISSING_KEEP;
    for (size_t j = 0; j < b->d; j++) {
        if (b->use_sentinel && x[j] == b->sentinel) return 0;
        if (!keep_nan && !isfinite(x[j])) return 0;
    }
    return 1;
}

at_status at_bundle_predict_rows(const at_bundle *b, const char *const *columns, size_t n_columns, const double *X,
                                 size_t n, double *P, int threads, at_error *err) {
    if (at_model_has(b->model, AT_CAP_TRANSFORM))
        return at_fail(err, AT_ERR_USAGE, "a %s model has no class probabilities", b->model->ops->type);
    size_t d = b->d, k = b->k;
    size_t *col = at_malloc(d ? d : 1, sizeof *col, err);
    if (!col) return AT_ERR_MEMORY;
    /* Where each of the bundle's features sits among the caller's columns. */
    for (size_t j = 0; j < d; j++) {
        size_t f = 0;
        while (f < n_columns && strcmp(columns[f], b->feature_names[j]) != 0) f++;
        if (f == n_columns) {
            free(col);
            return at_fail(err, AT_ERR_DATA, "the model needs column '%s', which the input does not have",
                           b->feature_names[j]);
        }
        col[j] = f;
    }
    /* Per-call scratch: the rows that pass the cleaning, in the bundle's order. */
    double *Xg = at_malloc(n * d + 1, sizeof *Xg, err), *Pg = at_malloc(n * k + 1, sizeof *Pg, err);
    size_t *rows = at_malloc(n + 1, sizeof *rows, err);
    at_status s = !Xg || !Pg || !rows ? AT_ERR_MEMORY : AT_OK;
    size_t m = 0;
    for (size_t i = 0; !s && i < n; i++) {
        double *x = Xg + m * d;
        for (size_t j = 0; j < d; j++) x[j] = X[i * n_columns + col[j]];
        if (at_bundle_row_ok(b, x)) rows[m++] = i;
        else
            for (size_t c = 0; c < k; c++) P[i * k + c] = NAN;
    }
    if (!s && m) s = at_bundle_predict(b, Xg, m, Pg, threads, err);
    for (size_t r = 0; !s && r < m; r++) memcpy(P + rows[r] * k, Pg + r * k, k * sizeof *P);
    free(col), free(Xg), free(Pg), free(rows);
    return s;
}

at_status at_bundle_predict_images(const at_bundle *b, const at_images *im, double *P, int threads, at_error *err) {
    return at_model_predict_images(b->model, im, P, threads, err);
}
