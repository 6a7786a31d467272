/* registry.h - (private) the table of model families. Adding a family: write its ops, its
 * key table (<family>_params.c) and two constructors, then add one row to registry.c. */
#ifndef ASTROTRAIN_MODELS_REGISTRY_H
#define ASTROTRAIN_MODELS_REGISTRY_H

#include "astrotrain/keys.h"
#include "astrotrain/model.h"

typedef struct at_model_family {
    const char *type;
    const at_model_ops *ops;
    const at_key_table *params; /* its [model] keys and params struct */
    /* From the family's params struct (training). */
    at_status (*create)(const void *params, size_t d, size_t k, at_model **out, at_error *err);
    /* Empty, to be filled by ops->load (model files). */
    at_status (*create_empty)(size_t d, size_t k, at_model **out, at_error *err);
    int unsupervised; /* fits without labels (gmm, pca) */
    int transform;    /* gives coordinates, not class probabilities (pca): no test part needed */
} at_model_family;

const at_model_family *at_model_family_find(const char *type);
/* Every family, in the order of the documentation. */
size_t at_model_families(const at_model_family **out);

#endif
