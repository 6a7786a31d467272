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

/* A network is built from [net] and its layer sections by the pipeline (AT_CAP_BUILT_FROM_NET),
 * not from [model] alone. */
static at_status cnn_create(const void *params, size_t d, size_t k, at_model **out, at_error *err) {
    (void)params, (void)d, (void)k;
    *out = NULL;
    return at_fail(err, AT_ERR_CONFIG, "a cnn is built from its [net] and layer sections");
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

/* The single list of families, in the order they are listed to users ("expected one of
 * ..."). One row per family: the type name, then designated initialisers of the rest of
 * at_model_family (add a field by appending ", .field = value" to the rows that set it). */
#define FAMILY_ROWS(X)                                                                                         \
    X("random_forest", .ops = &at_forest_ops, .params = &at_forest_param_table, .create = forest_create,      \
      .create_empty = forest_empty, .caps = AT_CAP_TABLES | AT_CAP_DISTRIBUTED)                                \
    X("gradient_boosting", .ops = &at_gbdt_ops, .params = &at_gbdt_param_table, .create = gbdt_create,        \
      .create_empty = gbdt_empty, .caps = AT_CAP_TABLES | AT_CAP_HISTORY | AT_CAP_DISTRIBUTED)                 \
    X("mlp", .ops = &at_mlp_ops, .params = &at_mlp_param_table, .create = mlp_create,                         \
      .create_empty = mlp_empty, .caps = AT_CAP_TABLES | AT_CAP_HISTORY | AT_CAP_DISTRIBUTED)                  \
    X("pca", .ops = &at_pca_ops, .params = &at_pca_param_table, .create = pca_create,                         \
      .create_empty = pca_empty, .caps = AT_CAP_TABLES | AT_CAP_UNSUPERVISED | AT_CAP_TRANSFORM | AT_CAP_DISTRIBUTED) \
    X("gmm", .ops = &at_gmm_ops, .params = &at_gmm_param_table, .create = gmm_create,                         \
      .create_empty = gmm_empty, .caps = AT_CAP_TABLES | AT_CAP_UNSUPERVISED | AT_CAP_HISTORY | AT_CAP_DISTRIBUTED)                 \
    X("ensemble", .ops = &at_ensemble_ops, .params = &at_ensemble_param_table, .create = ensemble_create,     \
      .create_empty = at_ensemble_empty, .caps = AT_CAP_TABLES | AT_CAP_BUILT_FROM_MEMBERS | AT_CAP_DISTRIBUTED) \
    X("cnn", .ops = &at_cnn_ops, .params = &at_cnn_param_table, .create = cnn_create,                         \
      .create_empty = cnn_empty, .caps = AT_CAP_IMAGES | AT_CAP_BUILT_FROM_NET | AT_CAP_HISTORY | AT_CAP_CHECKPOINT)

#define FAMILY_ENTRY(name, ...) {.type = name, __VA_ARGS__},
#define FAMILY_NAME(name, ...) name,
static const at_model_family families[] = {FAMILY_ROWS(FAMILY_ENTRY)};
static const char *const family_names[] = {FAMILY_ROWS(FAMILY_NAME)};

/* Every family's params fit the configuration's opaque buffer. */
#define FITS(T) static_assert(sizeof(T) <= AT_PARAMS_MAX && alignof(T) <= alignof(max_align_t), #T " fits")
FITS(at_forest_params);
FITS(at_mlp_params);
FITS(at_gbdt_params);
FITS(at_pca_params);
FITS(at_gmm_params);
FITS(at_ensemble_params);
FITS(at_cnn_model_params);

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
