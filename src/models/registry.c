/* registry.c - every model family astrotrain knows, by its [model] type name. */
#include "models/registry.h"

#include <string.h>

#include "astrotrain/cnn.h"
#include "astrotrain/forest.h"

static at_status forest_create(const at_model_config *mc, size_t d, size_t k, at_model **out,
                               at_error *err) {
    return at_forest_new(&mc->forest, d, k, out, err);
}
static at_status forest_empty(size_t d, size_t k, at_model **out, at_error *err) {
    at_forest_params p;
    at_forest_params_default(&p);
    return at_forest_new(&p, d, k, out, err);
}

/* A network is built from [net] and its layer sections by the image runner
 * (src/pipeline/run_images.c), not from [model] alone. */
static at_status cnn_create(const at_model_config *mc, size_t d, size_t k, at_model **out, at_error *err) {
    (void)mc, (void)d, (void)k;
    *out = NULL;
    return at_fail(err, AT_ERR_CONFIG, "a cnn is trained on images by the image runner ([net] and layer sections)");
}
static at_status cnn_empty(size_t d, size_t k, at_model **out, at_error *err) {
    (void)d, (void)k;
    return at_cnn_model_wrap(NULL, out, err);
}

static const at_model_family families[] = {
    {"random_forest", &at_forest_ops, forest_create, forest_empty, 0},
    {"cnn", &at_cnn_ops, cnn_create, cnn_empty, 0},
};
static const char *const family_names[] = {"random_forest", "cnn"};

const at_model_family *at_model_family_find(const char *type) {
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (type && strcmp(families[i].type, type) == 0) return &families[i];
    return NULL;
}

size_t at_model_types(const char *const **names) {
    *names = family_names;
    return sizeof family_names / sizeof family_names[0];
}
