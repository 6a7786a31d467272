/* model.c - the family-independent half of at_model: creation through the registry,
 * argument checks, and the common part of the model file (meta/). */
#include "astrotrain/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/comm.h"
#include "astrotrain/params.h"
#include "models/registry.h"

at_status at_model_create(const char *type, const void *params, size_t n_features, size_t n_classes,
                          at_model **out, at_error *err) {
    *out = NULL;
    const at_model_family *f = at_model_family_find(type);
    if (!f) return at_fail(err, AT_ERR_CONFIG, "unknown model type '%s'", type);
    if (n_features == 0) return at_fail(err, AT_ERR_CONFIG, "a model needs at least one feature");
    if (n_classes < 2 && !(f->caps & AT_CAP_UNSUPERVISED))
        return at_fail(err, AT_ERR_DATA, "a classifier needs at least two classes, the data have %zu",
                       n_classes);
    at_status s = at_model_params_check(type, params, err);
    if (s) return at_error_prefix(err, "%s: ", type);
    return f->create(params, n_features, n_classes, out, err);
}

at_status at_model_fit(at_model *m, const at_fit_input *in, at_error *err) {
    const at_model_family *f = at_model_family_find(m->ops->type);
    unsigned caps = f ? f->caps : AT_CAP_TABLES;
    if (in->train_images) {
        if (!(caps & AT_CAP_IMAGES))
            return at_fail(err, AT_ERR_CONFIG, "a %s model trains on tables, not on images", m->ops->type);
        if (in->train_images->n == 0) return at_fail(err, AT_ERR_DATA, "fit: the training part is empty");
        return m->ops->fit(m->impl, in, err);
    }
    if (!(caps & AT_CAP_TABLES))
        return at_fail(err, AT_ERR_CONFIG, "a %s model trains on images: give [data] path an image folder or HDF5 file",
                       m->ops->type);
    if (!in->train || in->train->d != m->n_features)
        return at_fail(err, AT_ERR_INTERNAL, "fit: training data do not match the model's features");
    if (at_comm_size(in->comm) > 1) {
        if (!(caps & AT_CAP_DISTRIBUTED))
            return at_fail(err, AT_ERR_CONFIG,
                           "[model] type %s does not train across MPI ranks yet (run it without mpirun, or with -np 1)",
                           m->ops->type);
        return m->ops->fit(m->impl, in, err); /* a rank may hold no training rows */
    }
    if (in->train->n == 0) return at_fail(err, AT_ERR_DATA, "fit: the training part is empty");
    return m->ops->fit(m->impl, in, err);
}

at_status at_model_predict_proba(const at_model *m, const double *X, size_t n, double *P,
                                 int threads, at_error *err) {
    if (n == 0) return AT_OK;
    return m->ops->predict_proba(m->impl, X, n, P, threads, err);
}

at_status at_model_predict_images(const at_model *m, const at_images *im, double *P, int threads, at_error *err) {
    if (!at_model_has(m, AT_CAP_IMAGES) || !m->ops->predict_images)
        return at_fail(err, AT_ERR_USAGE, "a %s model does not classify images", m->ops->type);
    if (im->n == 0) return AT_OK;
    return m->ops->predict_images(m->impl, im, P, threads, err);
}

at_status at_model_save(const at_model *m, at_store *st, at_error *err) {
    at_status s;
    if ((s = at_store_put_str(st, "meta/model_type", m->ops->type, err))) return s;
    if ((s = at_store_put_int(st, "meta/n_features", (int64_t)m->n_features, err))) return s;
    if ((s = at_store_put_int(st, "meta/n_classes", (int64_t)m->n_classes, err))) return s;
    return m->ops->save(m->impl, st, err);
}

at_status at_model_load(at_store *st, at_model **out, at_error *err) {
    *out = NULL;
    char *type = NULL;
    int64_t d = 0, k = 0;
    at_status s;
    if ((s = at_store_get_str(st, "meta/model_type", &type, err))) return s;
    if ((s = at_store_get_int(st, "meta/n_features", &d, err)) ||
        (s = at_store_get_int(st, "meta/n_classes", &k, err))) {
        free(type);
        return s;
    }
    const at_model_family *f = at_model_family_find(type);
    if (!f) {
        s = at_fail(err, AT_ERR_MODEL, "%s: unknown model type '%s' (made by a newer astrotrain?)",
                    at_store_path(st), type);
        free(type);
        return s;
    }
    free(type);
    if (d <= 0 || d > 1000000 || k < 0 || k > 100000)
        return at_fail(err, AT_ERR_MODEL, "%s: implausible model shape (%lld features, %lld classes)",
                       at_store_path(st), (long long)d, (long long)k);
    at_model *m = NULL;
    if ((s = f->create_empty((size_t)d, (size_t)k, &m, err))) return s;
    if ((s = m->ops->load(m->impl, st, err))) {
        at_model_free(m);
        return s;
    }
    *out = m;
    return AT_OK;
}

at_status at_model_save_file(const at_model *m, const char *path, at_error *err) {
    at_store *st = NULL;
    at_status s = at_store_create(path, &st, err);
    if (s) return s;
    if ((s = at_model_save(m, st, err))) {
        at_store_close(st); /* discards the temporary file */
        return s;
    }
    return at_store_commit(st, err); /* closes st whatever happens */
}

at_status at_model_load_file(const char *path, at_model **out, at_error *err) {
    *out = NULL;
    at_store *st = NULL;
    at_status s = at_store_open(path, &st, err);
    if (s) return s;
    s = at_model_load(st, out, err);
    at_store_close(st);
    return s;
}

void at_model_free(at_model *m) {
    if (!m) return;
    if (m->ops && m->impl) m->ops->free(m->impl);
    free(m);
}

unsigned at_model_type_caps(const char *type) {
    const at_model_family *f = at_model_family_find(type);
    return f ? f->caps : 0;
}

int at_model_type_has(const char *type, unsigned caps) { return (at_model_type_caps(type) & caps) == caps; }

int at_model_has(const at_model *m, unsigned caps) { return m && m->ops && at_model_type_has(m->ops->type, caps); }

int at_model_type_is_transform(const char *type) { return at_model_type_has(type, AT_CAP_TRANSFORM); }

const at_model_ops *at_model_ops_find(const char *type) {
    const at_model_family *f = at_model_family_find(type);
    return f ? f->ops : NULL;
}
