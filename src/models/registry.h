/* registry.h - (private) the table of model families. Adding a family: write its ops, its
 * key table (<family>_params.c) and two constructors, then add one row to FAMILY_ROWS in
 * registry.c. */
#ifndef ASTROTRAIN_MODELS_REGISTRY_H
#define ASTROTRAIN_MODELS_REGISTRY_H

#include "astrotrain/keys.h"
#include "astrotrain/model.h"

/* One family. Rows are written with designated initialisers (registry.c), so a field added
 * here needs no change to the rows that do not set it. */
typedef struct at_model_family {
    const char *type;
    const at_model_ops *ops;
    const at_key_table *params; /* its [model] keys and params struct */
    /* From the family's params struct (training). */
    at_status (*create)(const void *params, size_t d, size_t k, at_model **out, at_error *err);
    /* Empty, to be filled by ops->load (model files). */
    at_status (*create_empty)(size_t d, size_t k, at_model **out, at_error *err);
    unsigned caps; /* at_model_cap bits (model.h) */
} at_model_family;

const at_model_family *at_model_family_find(const char *type);
/* Every family, in the order of the documentation. */
size_t at_model_families(const at_model_family **out);

#endif
