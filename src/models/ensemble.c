/* ensemble.c - a weighted average of member bundles' probabilities, weights chosen by
 * random search over the simplex on the validation part. */
#include "astrotrain/ensemble.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/metrics.h"
#include "astrotrain/bundle.h"
#include "astrotrain/rng.h"

typedef struct ensemble {
    at_ensemble_params params;
    size_t d, k, m;
    at_bundle **members;
    char **names;          /* m */
    char **input_features; /* d */
    int input_kind;        /* at_scaler_kind of the rows the ensemble receives */
    double *input_shift, *input_scale; /* d, when input_kind != NONE */
    double *weights;       /* m */
    double *member_scores; /* m */
    double blend_score;
    size_t n_trials;
    double *trial_weights, *trial_scores;
    int fitted;
    at_ensemble_result result;
} ensemble;

static void ensemble_free(void *impl) {
    ensemble *e = impl;
    if (!e) return;
    for (size_t i = 0; i < e->m; i++) {
        if (e->members) at_bundle_free(e->members[i]);
    }
    free(e->members);
    if (e->names) at_strs_free(e->names, e->m);
    if (e->input_features) at_strs_free(e->input_features, e->d);
    free(e->input_shift);
    free(e->input_scale);
    free(e->weights);
    free(e->member_scores);
    free(e->trial_weights);
    free(e->trial_scores);
    free(e);
}

/* Every member draws its features from the ensemble's input columns (checked when the
 * ensemble is built, so a missing column is a build error, not a predict error). */
static at_status check_features(const ensemble *e, at_error *err) {
    for (size_t i = 0; i < e->m; i++) {
        const at_bundle *b = e->members[i];
        if (b->k != e->k) return at_fail(err, AT_ERR_MODEL, "ensemble member '%s' has %zu classes, not %zu", e->names[i], b->k, e->k);
        for (size_t j = 0; j < b->d; j++) {
            size_t f = 0;
            while (f < e->d && strcmp(e->input_features[f], b->feature_names[j]) != 0) f++;
            if (f == e->d)
                return at_fail(err, AT_ERR_DATA, "ensemble member '%s' needs column '%s', which the data do not have",
                               e->names[i], b->feature_names[j]);
        }
    }
    return AT_OK;
}

static char **copy_strs(const char *const *s, size_t n, at_error *err) {
    char **out = at_calloc(n ? n : 1, sizeof *out, err);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(out[i] = at_strdup(s[i], err))) {
            at_strs_free(out, i);
            return NULL;
        }
    return out;
}

static at_status wrap(ensemble *e, at_model **out, at_error *err) {
    at_model *m = at_calloc(1, sizeof *m, err);
    if (!m) {
        ensemble_free(e);
        return AT_ERR_MEMORY;
    }
    m->ops = &at_ensemble_ops;
    m->impl = e;
    m->n_features = e->d;
    m->n_classes = e->k;
    *out = m;
    return AT_OK;
}

at_status at_ensemble_new(const at_ensemble_params *p, at_bundle **members, const char *const *names,
                          size_t n_members, const at_scaler *input_scaler, const char *const *input_features,
                          size_t d, const char *const *class_names, size_t k, at_model **out, at_error *err) {
    *out = NULL;
    ensemble *e = at_calloc(1, sizeof *e, err);
    if (!e) {
        for (size_t i = 0; i < n_members; i++) at_bundle_free(members[i]);
        return AT_ERR_MEMORY;
    }
    e->params = *p;
    e->d = d;
    e->k = k;
    e->m = n_members;
    e->members = at_calloc(n_members ? n_members : 1, sizeof *e->members, err);
    if (e->members) memcpy(e->members, members, n_members * sizeof *members);
    else
        for (size_t i = 0; i < n_members; i++) at_bundle_free(members[i]);
    at_status s = e->members ? AT_OK : AT_ERR_MEMORY;
    if (!s && n_members < 1) s = at_fail(err, AT_ERR_CONFIG, "an ensemble needs at least one member");
    if (!s && !(e->names = copy_strs(names, n_members, err))) s = AT_ERR_MEMORY;
    if (!s && !(e->input_features = copy_strs(input_features, d, err))) s = AT_ERR_MEMORY;
    for (size_t i = 0; !s && i < n_members; i++)
        for (size_t c = 0; c < k && !s; c++)
            if (strcmp(members[i]->class_names[c], class_names[c]) != 0)
                s = at_fail(err, AT_ERR_DATA, "ensemble member '%s' has class '%s' where the data have '%s'", names[i],
                            members[i]->class_names[c], class_names[c]);
    e->input_kind = input_scaler ? (int)input_scaler->kind : AT_SCALER_NONE;
    if (!s && e->input_kind != AT_SCALER_NONE) {
        e->input_shift = at_malloc(d, sizeof(double), err);
        e->input_scale = at_malloc(d, sizeof(double), err);
        if (!e->input_shift || !e->input_scale) s = AT_ERR_MEMORY;
        else {
            memcpy(e->input_shift, input_scaler->shift, d * sizeof(double));
            memcpy(e->input_scale, input_scaler->scale, d * sizeof(double));
        }
    }
    if (!s) s = check_features(e, err);
    if (s) {
        ensemble_free(e);
        return s;
    }
    return wrap(e, out, err);
}

at_status at_ensemble_empty(size_t d, size_t k, at_model **out, at_error *err) {
    *out = NULL;
    ensemble *e = at_calloc(1, sizeof *e, err);
    if (!e) return AT_ERR_MEMORY;
    at_ensemble_params_default(&e->params);
    e->d = d;
    e->k = k;
    return wrap(e, out, err);
}

/* P_i (n * k) of every member for rows X (n * d, as the ensemble receives them). */
static at_status member_probs(const ensemble *e, const double *X, size_t n, double **P, int threads, at_error *err) {
    double *raw = at_malloc(n * e->d + 1, sizeof *raw, err);
    if (!raw) return AT_ERR_MEMORY;
    memcpy(raw, X, n * e->d * sizeof *raw);
    if (e->input_kind != AT_SCALER_NONE)
        for (size_t i = 0; i < n; i++)
            for (size_t f = 0; f < e->d; f++) raw[i * e->d + f] = raw[i * e->d + f] * e->input_scale[f] + e->input_shift[f];
    at_status s = AT_OK;
    /* Each member maps the input columns by name and applies its own preprocessing. */
    for (size_t j = 0; j < e->m && !s; j++) {
        s = at_bundle_predict_rows(e->members[j], (const char *const *)e->input_features, e->d, raw, n, P[j], threads,
                                   err);
        if (s) at_error_prefix(err, "ensemble member '%s': ", e->names[j]);
    }
    free(raw);
    return s;
}

static double score_blend(const ensemble *e, double *const *P, const double *w, const int32_t *y, size_t n, double *blend) {
    size_t k = e->k, correct = 0;
    double ll = 0;
    for (size_t i = 0; i < n; i++) {
        double *b = blend + i * k;
        for (size_t c = 0; c < k; c++) {
            double v = 0;
            for (size_t j = 0; j < e->m; j++) v += w[j] * P[j][i * k + c];
            b[c] = v;
        }
        if ((int32_t)at_argmax(b, k) == y[i]) correct++;
        double pt = b[y[i]];
        ll -= log(pt > 1e-15 ? pt : 1e-15);
    }
    return e->params.objective == AT_ENSEMBLE_ACCURACY ? (double)correct / (double)n : ll / (double)n;
}

static int better(int objective, double a, double b) { return objective == AT_ENSEMBLE_ACCURACY ? a > b : a < b; }

static at_status ensemble_fit(void *impl, const at_fit_input *in, at_error *err) {
    ensemble *e = impl;
    const at_dataset *v = in->valid;
    if (!v || v->n == 0)
        return at_fail(err, AT_ERR_CONFIG, "an ensemble chooses its weights on the validation part: set [split] validation > 0");
    size_t n = v->n, k = e->k, m = e->m;
    size_t total = m + (size_t)e->params.n_trials;
    double **P = at_calloc(m, sizeof *P, err);
    double *blend = at_malloc(n * k, sizeof *blend, err), *w = at_malloc(m, sizeof *w, err);
    free(e->trial_weights), free(e->trial_scores), free(e->weights), free(e->member_scores);
    e->trial_weights = at_malloc(total * m, sizeof(double), err);
    e->trial_scores = at_malloc(total, sizeof(double), err);
    e->weights = at_calloc(m, sizeof(double), err);
    e->member_scores = at_malloc(m, sizeof(double), err);
    at_status s = (!P || !blend || !w || !e->trial_weights || !e->trial_scores || !e->weights || !e->member_scores)
                      ? AT_ERR_MEMORY
                      : AT_OK;
    for (size_t j = 0; !s && j < m; j++)
        if (!(P[j] = at_malloc(n * k, sizeof(double), err))) s = AT_ERR_MEMORY;
    if (!s) s = member_probs(e, v->X, n, P, in->threads, err);
    at_rng r;
    at_rng_init(&r, in->seed, 0xE45E);
    size_t best = 0;
    for (size_t t = 0; !s && t < total; t++) {
        if (t < m) {
            for (size_t j = 0; j < m; j++) w[j] = j == t;
        } else {
            at_rng_simplex(&r, w, m);
        }
        double sc = score_blend(e, P, w, v->y, n, blend);
        memcpy(e->trial_weights + t * m, w, m * sizeof *w);
        e->trial_scores[t] = sc;
        if (t < m) e->member_scores[t] = sc;
        if (t == 0 || better(e->params.objective, sc, e->trial_scores[best])) best = t;
        if ((t & 63) == 0) {
            at_progress_update(in->progress, "ensemble weight search", t + 1, total, NULL);
            if (at_progress_stopped(in->progress)) s = at_fail(err, AT_ERR_INTERRUPTED, "interrupted");
        }
    }
    if (!s) {
        at_progress_update(in->progress, "ensemble weight search", total, total, NULL);
        memcpy(e->weights, e->trial_weights + best * m, m * sizeof *w);
        e->blend_score = e->trial_scores[best];
        e->n_trials = total;
        e->fitted = 1;
    }
    if (P)
        for (size_t j = 0; j < m; j++) free(P[j]);
    free(P), free(blend), free(w);
    return s;
}

static at_status ensemble_predict(const void *impl, const double *X, size_t n, double *out, int threads, at_error *err) {
    const ensemble *e = impl;
    if (!e->fitted) return at_fail(err, AT_ERR_INTERNAL, "ensemble: predict before fit");
    size_t k = e->k;
    double **P = at_calloc(e->m, sizeof *P, err);
    at_status s = P ? AT_OK : AT_ERR_MEMORY;
    for (size_t j = 0; !s && j < e->m; j++)
        if (!(P[j] = at_malloc(n * k, sizeof(double), err))) s = AT_ERR_MEMORY;
    if (!s) s = member_probs(e, X, n, P, threads, err);
    for (size_t i = 0; !s && i < n * k; i++) {
        double v = 0;
        for (size_t j = 0; j < e->m; j++) v += e->weights[j] * P[j][i];
        out[i] = v;
    }
    if (P)
        for (size_t j = 0; j < e->m; j++) free(P[j]);
    free(P);
    return s;
}

static at_status ensemble_save(const void *impl, at_store *st, at_error *err) {
    const ensemble *e = impl;
    at_status s;
    if ((s = at_store_put_int(st, "model/n_members", (int64_t)e->m, err)) ||
        (s = at_store_put_int(st, "model/objective", e->params.objective, err)) ||
        (s = at_store_put_int(st, "model/n_trials", e->params.n_trials, err)) ||
        (s = at_store_put_strs(st, "model/member_names", (const char *const *)e->names, e->m, err)) ||
        (s = at_store_put_strs(st, "model/input_features", (const char *const *)e->input_features, e->d, err)) ||
        (s = at_store_put_int(st, "model/input_scaler_kind", e->input_kind, err)) ||
        (s = at_store_put_f64(st, "model/weights", e->weights, e->m, err)) ||
        (s = at_store_put_f64(st, "model/member_scores", e->member_scores, e->m, err)) ||
        (s = at_store_put_real(st, "model/blend_score", e->blend_score, err)) ||
        (s = at_store_put_f64_2d(st, "model/trial_weights", e->trial_weights, e->n_trials, e->m, err)) ||
        (s = at_store_put_f64(st, "model/trial_scores", e->trial_scores, e->n_trials, err)))
        return s;
    if (e->input_kind != AT_SCALER_NONE &&
        ((s = at_store_put_f64(st, "model/input_shift", e->input_shift, e->d, err)) ||
         (s = at_store_put_f64(st, "model/input_scale", e->input_scale, e->d, err))))
        return s;
    for (size_t j = 0; j < e->m && !s; j++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "model/members/%zu", j);
        if (!(s = at_store_set_prefix(st, prefix, err))) s = at_bundle_write(e->members[j], st, err);
        at_error e2;
        at_store_set_prefix(st, "", &e2);
    }
    return s;
}

static at_status read_exact(at_store *st, const char *name, double **out, size_t want, at_error *err) {
    size_t n = 0;
    at_status s = at_store_get_f64(st, name, out, &n, err);
    if (!s && n != want) s = at_fail(err, AT_ERR_MODEL, "%s: '%s' has %zu values, expected %zu", at_store_path(st), name, n, want);
    return s;
}

static at_status ensemble_load(void *impl, at_store *st, at_error *err) {
    ensemble *e = impl;
    const char *path = at_store_path(st);
    int64_t m = 0, obj = 0, trials = 0, kind = 0;
    size_t nn = 0, nf = 0, rank = 0, dims[2] = {0, 0};
    at_status s;
    if ((s = at_store_get_int(st, "model/n_members", &m, err)) || (s = at_store_get_int(st, "model/objective", &obj, err)) ||
        (s = at_store_get_int(st, "model/n_trials", &trials, err)) ||
        (s = at_store_get_int(st, "model/input_scaler_kind", &kind, err)))
        return s;
    if (m < 1 || m > 64 || obj < 0 || obj > 1 || trials < 0 || kind < 0 || kind > 2)
        return at_fail(err, AT_ERR_MODEL, "%s: implausible ensemble settings (corrupt file?)", path);
    e->params.objective = (int)obj;
    e->params.n_trials = trials;
    e->input_kind = (int)kind;
    if ((s = at_store_get_strs(st, "model/member_names", &e->names, &nn, err))) return s;
    e->m = nn; /* what was allocated, for freeing */
    if (nn != (size_t)m) return at_fail(err, AT_ERR_MODEL, "%s: %zu member names for %lld members", path, nn, (long long)m);
    char **feats = NULL;
    if ((s = at_store_get_strs(st, "model/input_features", &feats, &nf, err))) return s;
    if (nf != e->d) {
        at_strs_free(feats, nf);
        return at_fail(err, AT_ERR_MODEL, "%s: %zu ensemble input columns, expected %zu", path, nf, e->d);
    }
    e->input_features = feats;
    if ((s = read_exact(st, "model/weights", &e->weights, e->m, err)) ||
        (s = read_exact(st, "model/member_scores", &e->member_scores, e->m, err)) ||
        (s = at_store_get_real(st, "model/blend_score", &e->blend_score, err)) ||
        (s = at_store_shape(st, "model/trial_weights", &rank, dims, err)))
        return s;
    if (rank != 2 || dims[1] != e->m) return at_fail(err, AT_ERR_MODEL, "%s: bad ensemble trial table", path);
    e->n_trials = dims[0];
    if ((s = read_exact(st, "model/trial_weights", &e->trial_weights, e->n_trials * e->m, err)) ||
        (s = read_exact(st, "model/trial_scores", &e->trial_scores, e->n_trials, err)))
        return s;
    double wsum = 0;
    for (size_t j = 0; j < e->m; j++) {
        if (!(e->weights[j] >= 0 && e->weights[j] <= 1)) return at_fail(err, AT_ERR_MODEL, "%s: invalid ensemble weight", path);
        wsum += e->weights[j];
    }
    if (fabs(wsum - 1) > 1e-6) return at_fail(err, AT_ERR_MODEL, "%s: ensemble weights sum to %g", path, wsum);
    if (e->input_kind != AT_SCALER_NONE &&
        ((s = read_exact(st, "model/input_shift", &e->input_shift, e->d, err)) ||
         (s = read_exact(st, "model/input_scale", &e->input_scale, e->d, err))))
        return s;
    e->members = at_calloc(e->m, sizeof *e->members, err);
    if (!e->members) return AT_ERR_MEMORY;
    for (size_t j = 0; j < e->m && !s; j++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "model/members/%zu", j);
        if (!(s = at_store_set_prefix(st, prefix, err))) s = at_bundle_read(st, &e->members[j], err);
        at_error e2;
        at_store_set_prefix(st, "", &e2);
    }
    if (!s) s = check_features(e, err);
    if (!s) e->fitted = 1;
    return s;
}

static void ensemble_describe(const void *impl, at_json *j) {
    const ensemble *e = impl;
    at_json_kv_string(j, "objective", e->params.objective == AT_ENSEMBLE_ACCURACY ? "accuracy" : "log_loss");
    at_json_kv_int(j, "trials", (int64_t)e->n_trials);
    at_json_key(j, "weights");
    at_json_begin_object(j);
    for (size_t i = 0; i < e->m; i++) at_json_kv_number(j, e->names[i], e->weights ? e->weights[i] : NAN);
    at_json_end_object(j);
    at_json_key(j, "member_validation_score");
    at_json_begin_object(j);
    for (size_t i = 0; i < e->m; i++) at_json_kv_number(j, e->names[i], e->member_scores ? e->member_scores[i] : NAN);
    at_json_end_object(j);
    at_json_kv_number(j, "blend_validation_score", e->blend_score);
    at_json_key(j, "member_types");
    at_json_begin_object(j);
    for (size_t i = 0; i < e->m; i++) at_json_kv_string(j, e->names[i], e->members[i]->model->ops->type);
    at_json_end_object(j);
}

const at_ensemble_result *at_ensemble_result_of(const at_model *m) {
    if (!m || m->ops != &at_ensemble_ops) return NULL;
    ensemble *e = m->impl;
    if (!e->fitted) return NULL;
    e->result = (at_ensemble_result){e->m,          e->n_trials,         (const char *const *)e->names,
                                     e->weights,    e->member_scores,    e->blend_score,
                                     e->params.objective, e->trial_weights, e->trial_scores};
    return &e->result;
}

const at_model_ops at_ensemble_ops = {
    .type = "ensemble",
    .fit = ensemble_fit,
    .predict_proba = ensemble_predict,
    .save = ensemble_save,
    .load = ensemble_load,
    .free = ensemble_free,
    .describe = ensemble_describe,
};
