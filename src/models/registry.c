/* registry.c - every model family astrotrain knows, by its [model] type name. */
#include "models/registry.h"

#include <assert.h>
#include <stdalign.h>
#include <stddef.h>
#include <string.h>

#include "astrotrain/cnn.h"
#include "astrotrain/ensemble.h"
#include "astrotrain/forest.h"
#include "astrotrain/gbdt.h"
#include "astrotrain/gmm.h"
#include "astrotrain/mlp.h"
#include "astrotrain/params.h"
#include "astrotrain/pca.h"
#include "models/params.h"

static at_status forest_create(const void *params, size_t d, size_t k, at_model **out, at_error *err) {
    return at_forest_new(params, d, k, out, err);
}
static at_status forest_empty(size_t d, size_t k, at_model **out, at_error *err) {
    at_forest_params p;
    at_forest_params_default(&p);
    return at_forest_new(&p, d, k, out, err);
}

/* A network is built from [net] and its layer sections by the image runner
 * (src/pipeline/run_images.c), not from [model] alone. */
static at_status cnn_create(const void *params, size_t d, size_t k, at_model **out, at_error *err) {
    (void)params, (void)d, (void)k;
    *out = NULL;
    return at_fail(err, AT_ERR_CONFIG, "a cnn is trained on images by the image runner ([net] and layer sections)");
}
static at_status cnn_empty(size_t d, size_t k, at_model **out, at_error *err) {
    at_status s = at_cnn_model_wrap(NULL, out, err); /* the network comes with ops->load */
    if (!s) (*out)->n_features = d, (*out)->n_classes = k;
    return s;
}
static at_status mlp_create(const void *params, size_t d, size_t k, at_model **out, at_error *err) {
    return at_mlp_new(params, d, k, out, err);
}
static at_status mlp_empty(size_t d, size_t k, at_model **out, at_error *err) {
    at_mlp_params p;
    at_mlp_params_default(&p);
    return at_mlp_new(&p, d, k, out, err);
}

static at_status gbdt_create(const void *params, size_t d, size_t k, at_model **out, at_error *err) {
    return at_gbdt_new(params, d, k, out, err);
}
static at_status gbdt_empty(size_t d, size_t k, at_model **out, at_error *err) {
    at_gbdt_params p;
    at_gbdt_params_default(&p);
    return at_gbdt_new(&p, d, k, out, err);
}
static at_status pca_create(const void *params, size_t d, size_t k, at_model **out, at_error *err) {
    return at_pca_new(params, d, k, out, err);
}
static at_status pca_empty(size_t d, size_t k, at_model **out, at_error *err) {
    at_pca_params p;
    at_pca_params_default(&p);
    return at_pca_new(&p, d, k, out, err);
}
static at_status gmm_create(const void *params, size_t d, size_t k, at_model **out, at_error *err) {
    return at_gmm_new(params, d, k, out, err);
}
static at_status gmm_empty(size_t d, size_t k, at_model **out, at_error *err) {
    at_gmm_params p;
    at_gmm_params_default(&p);
    return at_gmm_new(&p, d, k, out, err);
}

/* Ensembles are assembled by the pipeline from trained members (src/pipeline/ensemble_build.c). */
static at_status ensemble_create(const void *params, size_t d, size_t k, at_model **out, at_error *err) {
    (void)params, (void)d, (void)k, (void)out;
    return at_fail(err, AT_ERR_INTERNAL, "an ensemble is built from its members by the pipeline");
}

static const at_model_family families[] = {
    {"random_forest", &at_forest_ops, &at_forest_param_table, forest_create, forest_empty, 0, 0},
    {"mlp", &at_mlp_ops, &at_mlp_param_table, mlp_create, mlp_empty, 0, 0},
    {"gradient_boosting", &at_gbdt_ops, &at_gbdt_param_table, gbdt_create, gbdt_empty, 0, 0},
    {"pca", &at_pca_ops, &at_pca_param_table, pca_create, pca_empty, 1, 1},
    {"gmm", &at_gmm_ops, &at_gmm_param_table, gmm_create, gmm_empty, 1, 0},
    {"ensemble", &at_ensemble_ops, &at_ensemble_param_table, ensemble_create, at_ensemble_empty, 0, 0},
    {"cnn", &at_cnn_ops, &at_cnn_param_table, cnn_create, cnn_empty, 0, 0},
};

/* Every family's params fit the configuration's opaque buffer. */
#define FITS(T) static_assert(sizeof(T) <= AT_PARAMS_MAX && alignof(T) <= alignof(max_align_t), #T " fits")
FITS(at_forest_params);
FITS(at_mlp_params);
FITS(at_gbdt_params);
FITS(at_pca_params);
FITS(at_gmm_params);
FITS(at_ensemble_params);
FITS(at_cnn_model_params);
static const char *const family_names[] = {"random_forest", "gradient_boosting", "mlp", "pca", "gmm", "ensemble", "cnn"};

const at_model_family *at_model_family_find(const char *type) {
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (type && strcmp(families[i].type, type) == 0) return &families[i];
    return NULL;
}

size_t at_model_families(const at_model_family **out) {
    *out = families;
    return sizeof families / sizeof families[0];
}

size_t at_model_types(const char *const **names) {
    *names = family_names;
    return sizeof family_names / sizeof family_names[0];
}
