/* bundle.c - the model file: the model plus everything `predict` needs to treat new
 * data exactly as the training data were treated.
 *
 * Layout (HDF5; see README "Model file"):
 *   /                      attrs format, format_version, astrotrain_version
 *   /meta/model_type       string        /meta/n_features, /meta/n_classes
 *   /meta/feature_names    strings (d)   /meta/class_names  strings (k)
 *   /meta/label            string
 *   /preprocess/sentinel_filter, /preprocess/sentinel, /preprocess/missing
 *   /preprocess/scaler_kind, /preprocess/scaler_shift (d), /preprocess/scaler_scale (d)
 *   /config                the effective configuration (INI text)
 *   /metrics               metrics.json of the training run (text)
 *   /model/...             the family's arrays */
#include <stdlib.h>
#include <string.h>

#include "astrotrain/model_file.h"
#include "astrotrain/pipeline.h"

at_status at_bundle_save(const at_bundle *b, const char *path, at_error *err) {
    at_store *st = NULL;
    at_status s = at_store_create(path, &st, err);
    if (s) return s;
    int64_t kind = b->scaler ? (int64_t)b->scaler->kind : (int64_t)AT_SCALER_NONE;
    if (!(s = at_model_save(b->model, st, err)) &&
        !(s = at_store_put_strs(st, "meta/feature_names", (const char *const *)b->feature_names, b->d, err)) &&
        !(s = at_store_put_strs(st, "meta/class_names", (const char *const *)b->class_names, b->k, err)) &&
        !(s = at_store_put_str(st, "meta/label", b->label ? b->label : "", err)) &&
        !(s = at_store_put_int(st, "preprocess/sentinel_filter", b->use_sentinel, err)) &&
        !(s = at_store_put_real(st, "preprocess/sentinel", b->sentinel, err)) &&
        !(s = at_store_put_int(st, "preprocess/missing", b->missing, err)) &&
        !(s = at_store_put_int(st, "preprocess/scaler_kind", kind, err)) &&
        !(s = at_store_put_str(st, "config", b->config_text ? b->config_text : "", err)) &&
        !(s = at_store_put_str(st, "metrics", b->metrics_json ? b->metrics_json : "{}", err))) {
        if (b->scaler) {
            if (!(s = at_store_put_f64(st, "preprocess/scaler_shift", b->scaler->shift, b->d, err)))
                s = at_store_put_f64(st, "preprocess/scaler_scale", b->scaler->scale, b->d, err);
        }
    }
    if (s) {
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
    free(b->config_text);
    free(b->metrics_json);
    free(b);
}

at_status at_bundle_load(const char *path, at_bundle **out, at_error *err) {
    *out = NULL;
    at_store *st = NULL;
    at_status s = at_store_open(path, &st, err);
    if (s) return s;
    at_bundle *b = at_calloc(1, sizeof *b, err);
    if (!b) {
        at_store_close(st);
        return AT_ERR_MEMORY;
    }
    size_t nf = 0, nc = 0;
    int64_t use_sentinel = 0, missing = 0, kind = 0;
    double *shift = NULL, *scale = NULL;
    size_t nshift = 0, nscale = 0;
    if ((s = at_model_load(st, &b->model, err))) goto done;
    b->d = b->model->n_features;
    b->k = b->model->n_classes;
    if ((s = at_store_get_strs(st, "meta/feature_names", &b->feature_names, &nf, err))) goto done;
    if ((s = at_store_get_strs(st, "meta/class_names", &b->class_names, &nc, err))) goto done;
    if (nf != b->d || nc != b->k) {
        /* Keep the counts that were allocated so that free releases them. */
        size_t d = b->d, k = b->k;
        b->d = nf, b->k = nc;
        s = at_fail(err, AT_ERR_MODEL, "%s: %zu feature names for %zu features, %zu class names for %zu classes",
                    path, nf, d, nc, k);
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
    if ((s = at_store_get_str(st, "config", &b->config_text, err))) goto done;
    if ((s = at_store_get_str(st, "metrics", &b->metrics_json, err))) goto done;
done:
    free(shift);
    free(scale);
    at_store_close(st);
    if (s) {
        at_bundle_free(b);
        return s;
    }
    *out = b;
    return AT_OK;
}
