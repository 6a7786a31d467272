/* forest.c - the random forest as an at_model: parameters, construction, prediction,
 * importances, figures for metrics.json, and the model file (save/load with checks).
 * Growing the trees is in forest_fit.c; the trees, their walker and their file form are the
 * tree core's (models/tree/tree.h). */
#include "astrotrain/forest.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "models/forest_impl.h"

int at_forest_max_features(const char *spec, size_t d, size_t *out) {
    *out = 0;
    if (!spec || d == 0) return 0;
    size_t m;
    if (strcmp(spec, "sqrt") == 0) {
        m = (size_t)floor(sqrt((double)d));
    } else if (strcmp(spec, "log2") == 0) {
        m = (size_t)floor(log2((double)d));
    } else if (strcmp(spec, "all") == 0) {
        m = d;
    } else {
        if (!*spec || isspace((unsigned char)*spec)) return 0;
        char *end;
        errno = 0;
        if (strpbrk(spec, ".eE")) {
            /* A fraction of the features, at least one (as scikit-learn). */
            double v = strtod(spec, &end);
            if (errno || *end || !(v > 0.0 && v <= 1.0)) return 0;
            m = (size_t)floor(v * (double)d);
        } else {
            /* A count; more than there are means all of them. */
            long long v = strtoll(spec, &end, 10);
            if (errno || *end || v < 1) return 0;
            m = (unsigned long long)v > d ? d : (size_t)v;
        }
    }
    *out = m < 1 ? 1 : m;
    return 1;
}

static void forest_clear(at_forest *f) {
    tree_coded_free(f->coded);
    f->coded = NULL;
    tree_list_free(&f->trees);
    free(f->importance);
    f->importance = NULL;
    f->oob = NAN;
}

static at_status check_params(const at_forest_params *p, size_t d, size_t *mtry, at_error *err) {
    if (p->n_trees < 1 || p->n_trees > 100000) /* the bounds of forest_params.c */
        return at_fail(err, AT_ERR_CONFIG, "random forest: n_trees must be 1..100000, not %lld",
                       (long long)p->n_trees);
    if (p->criterion != AT_CRITERION_GINI && p->criterion != AT_CRITERION_ENTROPY)
        return at_fail(err, AT_ERR_CONFIG, "random forest: unknown criterion %d", p->criterion);
    if (p->class_weight != AT_CLASS_WEIGHT_NONE && p->class_weight != AT_CLASS_WEIGHT_BALANCED)
        return at_fail(err, AT_ERR_CONFIG, "random forest: unknown class_weight %d", p->class_weight);
    if (!at_forest_max_features(p->max_features, d, mtry))
        return at_fail(err, AT_ERR_CONFIG,
                       "random forest: max_features '%.32s' is not sqrt, log2, all, a fraction in "
                       "(0, 1] or a positive count",
                       p->max_features);
    if (p->max_depth < 0)
        return at_fail(err, AT_ERR_CONFIG, "random forest: max_depth must be >= 0 (0 = unlimited)");
    if (p->min_samples_split < 2)
        return at_fail(err, AT_ERR_CONFIG, "random forest: min_samples_split must be >= 2");
    if (p->min_samples_leaf < 1)
        return at_fail(err, AT_ERR_CONFIG, "random forest: min_samples_leaf must be >= 1");
    if (p->max_bins < 2 || p->max_bins > 256)
        return at_fail(err, AT_ERR_CONFIG, "random forest: max_bins must be 2..256, not %lld",
                       (long long)p->max_bins);
    return AT_OK;
}

static at_status forest_fit(void *impl, const at_fit_input *in, at_error *err) {
    at_forest *f = impl;
    forest_clear(f);
    at_status s = forest_grow(&f->p, f->mtry, f->k, in, &f->trees, &f->importance, &f->oob, err);
    if (!s && (s = tree_coded_build(&f->trees, f->d, &f->coded, err))) forest_clear(f);
    return s;
}

/* Average of the trees' leaf distributions, by the core walker: each row sums over trees in
 * tree order, so the result does not depend on the thread count. */
static at_status forest_predict(const void *impl, const double *X, size_t n, double *P, int threads,
                                at_error *err) {
    const at_forest *f = impl;
    size_t nt = f->trees.n_trees, k = f->k;
    if (!nt) return at_fail(err, AT_ERR_INTERNAL, "random forest: predict before fit");
    threads = forest_threads(threads);
    memset(P, 0, n * k * sizeof *P);
    if (f->coded) {
        at_status s = tree_coded_predict_add(f->coded, 1, X, n, P, k, threads, err);
        if (s) return s;
    } else
        tree_predict_add(&f->trees, 0, nt, 1, X, n, f->d, P, k, threads);
    double inv = 1.0 / (double)nt;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t i = 0; i < n * k; i++) P[i] *= inv;
    return AT_OK;
}

static at_status forest_importances(const void *impl, double *out) {
    const at_forest *f = impl;
    if (!f->trees.n_trees) return AT_ERR_INTERNAL;
    memcpy(out, f->importance, f->d * sizeof *out);
    return AT_OK;
}

static void forest_describe(const void *impl, at_json *j) {
    const at_forest *f = impl;
    const tree_list *L = &f->trees;
    double depth = 0;
    for (size_t t = 0; t < L->n_trees; t++) depth += L->depth[t];
    at_json_kv_number(j, "oob_accuracy", f->oob);
    at_json_kv_int(j, "n_trees", (int64_t)L->n_trees);
    at_json_kv_int(j, "total_nodes", (int64_t)L->n_nodes);
    at_json_kv_number(j, "mean_depth", L->n_trees ? depth / (double)L->n_trees : NAN);
}

static void forest_free(void *impl) {
    at_forest *f = impl;
    if (!f) return;
    forest_clear(f);
    free(f);
}

/* ---- model file ------------------------------------------------------------------ */

static at_status forest_save(const void *impl, at_store *st, at_error *err) {
    const at_forest *f = impl;
    const at_forest_params *p = &f->p;
    const tree_list *L = &f->trees;
    if (!L->n_trees) return at_fail(err, AT_ERR_INTERNAL, "random forest: save before fit");
    size_t nn = L->n_nodes;
    int32_t *fe = at_malloc(nn, sizeof *fe, err), *le = at_malloc(nn, sizeof *le, err);
    int32_t *ri = at_malloc(nn, sizeof *ri, err);
    double *th = at_malloc(nn, sizeof *th, err);
    at_status s = AT_OK;
    if (!fe || !le || !ri || !th) {
        s = AT_ERR_MEMORY;
        goto done;
    }
    tree_list_to_flat(L, fe, th, le, ri, NULL);
    if ((s = at_store_put_int(st, "model/params/n_trees", p->n_trees, err)) ||
        (s = at_store_put_int(st, "model/params/criterion", p->criterion, err)) ||
        (s = at_store_put_str(st, "model/params/max_features", p->max_features, err)) ||
        (s = at_store_put_int(st, "model/params/max_depth", p->max_depth, err)) ||
        (s = at_store_put_int(st, "model/params/min_samples_split", p->min_samples_split, err)) ||
        (s = at_store_put_int(st, "model/params/min_samples_leaf", p->min_samples_leaf, err)) ||
        (s = at_store_put_int(st, "model/params/class_weight", p->class_weight, err)) ||
        (s = at_store_put_int(st, "model/params/bootstrap", p->bootstrap, err)) ||
        (s = at_store_put_int(st, "model/params/max_bins", p->max_bins, err)) ||
        (s = at_store_put_int(st, "model/params/oob_score", p->oob_score, err)) ||
        (s = at_store_put_i64(st, "model/tree_offsets", L->off, L->n_trees + 1, err)) ||
        (s = at_store_put_i32(st, "model/feature", fe, nn, err)) ||
        (s = at_store_put_f64(st, "model/threshold", th, nn, err)) ||
        (s = at_store_put_i32(st, "model/left", le, nn, err)) ||
        (s = at_store_put_i32(st, "model/right", ri, nn, err)) ||
        (s = at_store_put_f64_2d(st, "model/value", L->value, nn, f->k, err)) ||
        (s = at_store_put_f64(st, "model/importances", f->importance, f->d, err)) ||
        (s = at_store_put_real(st, "model/oob_accuracy", f->oob, err)))
        goto done;
done:
    free(fe);
    free(le);
    free(ri);
    free(th);
    return s;
}

static at_status bad_file(at_store *st, at_error *err, const char *what) {
    return at_fail(err, AT_ERR_MODEL, "%s: random forest: %s", at_store_path(st), what);
}

static at_status get_small_int(at_store *st, const char *name, int64_t lo, int64_t hi, int64_t *v,
                               at_error *err) {
    at_status s = at_store_get_int(st, name, v, err);
    if (s) return s;
    if (*v < lo || *v > hi)
        return at_fail(err, AT_ERR_MODEL, "%s: %s = %lld is out of range", at_store_path(st), name,
                       (long long)*v);
    return AT_OK;
}

/* The tree structure is checked by the core (tree_list_from_flat); here the forest's own
 * promises: finite class distributions that sum to 1, finite importances. */
static at_status validate(at_forest *f, at_store *st, at_error *err) {
    size_t k = f->k;
    for (size_t g = 0; g < f->trees.n_nodes; g++) {
        const double *v = f->trees.value + g * k;
        double s = 0;
        for (size_t j = 0; j < k; j++) {
            if (!isfinite(v[j]) || v[j] < 0)
                return bad_file(st, err, "a class distribution is not finite and non-negative");
            s += v[j];
        }
        if (fabs(s - 1.0) > 1e-6) return bad_file(st, err, "a class distribution does not sum to 1");
    }
    for (size_t j = 0; j < f->d; j++)
        if (!isfinite(f->importance[j]) || f->importance[j] < 0)
            return bad_file(st, err, "importances are not finite");
    return AT_OK;
}

static at_status forest_load(void *impl, at_store *st, at_error *err) {
    at_forest *f = impl;
    at_forest_params p;
    at_forest_params_default(&p);
    forest_clear(f);
    int64_t v;
    at_status s;
    char *mf = NULL;
#define GET(name, lo, hi, field)                                                     \
    do {                                                                             \
        if ((s = get_small_int(st, "model/params/" name, lo, hi, &v, err))) return s; \
        p.field = v;                                                                 \
    } while (0)
    GET("n_trees", 1, 1000000, n_trees);
    GET("criterion", 0, 1, criterion);
    GET("max_depth", 0, INT32_MAX, max_depth);
    GET("min_samples_split", 2, INT64_MAX, min_samples_split);
    GET("min_samples_leaf", 1, INT64_MAX, min_samples_leaf);
    GET("class_weight", 0, 1, class_weight);
    GET("bootstrap", 0, 1, bootstrap);
    GET("max_bins", 2, 256, max_bins);
    GET("oob_score", 0, 1, oob_score);
#undef GET
    if ((s = at_store_get_str(st, "model/params/max_features", &mf, err))) return s;
    size_t mtry;
    int ok = strlen(mf) < sizeof p.max_features && at_forest_max_features(mf, f->d, &mtry);
    if (ok) strcpy(p.max_features, mf);
    free(mf);
    if (!ok) return bad_file(st, err, "invalid max_features");
    f->p = p;
    f->mtry = mtry;

    size_t n_off = 0, n = 0, rank = 0, dims[2] = {0, 0};
    int64_t *off = NULL;
    int32_t *fe = NULL, *le = NULL, *ri = NULL;
    double *th = NULL, *val = NULL;
    if ((s = at_store_get_i64(st, "model/tree_offsets", &off, &n_off, err))) goto fail;
    if (n_off < 2 || n_off - 1 != (size_t)p.n_trees) {
        s = bad_file(st, err, "tree_offsets does not match n_trees");
        goto fail;
    }
    if ((s = at_store_get_i32(st, "model/feature", &fe, &n, err))) goto fail;
    if (off[n_off - 1] != (int64_t)n) {
        s = bad_file(st, err, "tree offsets do not cover the node arrays");
        goto fail;
    }
    if ((s = at_store_shape(st, "model/value", &rank, dims, err))) goto fail;
    if (rank != 2 || dims[0] != n || dims[1] != f->k) {
        s = bad_file(st, err, "value is not n_nodes x n_classes");
        goto fail;
    }
    th = at_malloc(n, sizeof *th, err);
    le = at_malloc(n, sizeof *le, err);
    ri = at_malloc(n, sizeof *ri, err);
    val = at_malloc(n * f->k, sizeof *val, err);
    f->importance = at_malloc(f->d, sizeof *f->importance, err);
    if (!th || !le || !ri || !val || !f->importance) {
        s = AT_ERR_MEMORY;
        goto fail;
    }
    if ((s = at_store_read_f64(st, "model/threshold", th, n, err)) ||
        (s = at_store_read_i32(st, "model/left", le, n, err)) ||
        (s = at_store_read_i32(st, "model/right", ri, n, err)) ||
        (s = at_store_read_f64(st, "model/value", val, n * f->k, err)) ||
        (s = at_store_read_f64(st, "model/importances", f->importance, f->d, err)) ||
        (s = at_store_get_real(st, "model/oob_accuracy", &f->oob, err)))
        goto fail;
    if ((s = tree_list_from_flat(&f->trees, f->d, n_off - 1, off, fe, th, le, ri, NULL, val, NULL,
                                 err))) {
        at_error_prefix(err, "%s: random forest: ", at_store_path(st));
        goto fail;
    }
    if ((s = validate(f, st, err))) goto fail;
    if ((s = tree_coded_build(&f->trees, f->d, &f->coded, err))) goto fail;
    goto done;
fail:
    forest_clear(f);
done:
    free(off);
    free(fe);
    free(le);
    free(ri);
    free(th);
    free(val);
    return s;
}

/* Fitting: the binned copy of the data (1 byte per cell) and the sorted values (8), each
 * thread's row indices and sort buffers, and the trees. A tree has at most 2 * leaves nodes,
 * a leaf holding at least min_samples_leaf of the distinct in-bag rows (about 63% of the rows
 * with bootstrap), max_depth permitting. Real catalogues make far fewer (SDSS17: 1/20 of that
 * bound, as classes are mostly separable), so a quarter of the bound is taken: it still
 * covers heavy label noise. Nodes are kept per tree while growing and packed at the end,
 * hence twice. */
static size_t forest_memory_estimate(const void *params, size_t n, size_t d, size_t k, int threads) {
    const at_forest_params *p = params;
    double rows = p->bootstrap ? 0.632 * (double)n : (double)n;
    double leaves = rows / (double)(p->min_samples_leaf > 0 ? p->min_samples_leaf : 1);
    if (p->max_depth > 0 && p->max_depth < 60 && leaves > ldexp(1.0, (int)p->max_depth))
        leaves = ldexp(1.0, (int)p->max_depth);
    double node_bytes = 32.0 + 8.0 * (double)k; /* tree_node (24) + gain (8) + k leaf values */
    double trees = 2.0 * (double)p->n_trees * (0.25 * 2.0 * leaves + 1.0) * node_bytes;
    double data = (double)n * (double)d * 9.0 + (double)(threads > 0 ? threads : 1) * (double)n * 32.0;
    double total = trees + data;
    return total >= (double)SIZE_MAX ? SIZE_MAX : (size_t)total;
}

const at_model_ops at_forest_ops = {
    .type = "random_forest",
    .fit = forest_fit,
    .predict_proba = forest_predict,
    .save = forest_save,
    .load = forest_load,
    .free = forest_free,
    .importances = forest_importances,
    .history = NULL,
    .describe = forest_describe,
    .memory_estimate = forest_memory_estimate,
};

at_status at_forest_new(const at_forest_params *p, size_t n_features, size_t n_classes,
                        at_model **out, at_error *err) {
    *out = NULL;
    size_t mtry;
    at_status s = check_params(p, n_features, &mtry, err);
    if (s) return s;
    if (n_classes < 1 || n_classes > 256)
        return at_fail(err, AT_ERR_DATA, "random forest: %zu classes (supported: 1..256)", n_classes);
    at_model *m = at_calloc(1, sizeof *m, err);
    at_forest *f = at_calloc(1, sizeof *f, err);
    if (!m || !f) {
        free(m);
        free(f);
        return AT_ERR_MEMORY;
    }
    f->p = *p;
    f->p.max_features[sizeof f->p.max_features - 1] = '\0';
    f->d = n_features;
    f->k = n_classes;
    f->mtry = mtry;
    f->oob = NAN;
    tree_list_init(&f->trees, n_classes);
    m->ops = &at_forest_ops;
    m->impl = f;
    m->n_features = n_features;
    m->n_classes = n_classes;
    *out = m;
    return AT_OK;
}

double at_forest_oob_accuracy(const at_model *m) {
    if (!m || m->ops != &at_forest_ops || !m->impl) return NAN;
    return ((const at_forest *)m->impl)->oob;
}
