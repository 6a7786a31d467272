/* registry.h - (private) the table of model families. Adding a family: write its ops
 * and two constructors, then add one row to FAMILY_ROWS in registry.c. */
#ifndef ASTROTRAIN_MODELS_REGISTRY_H
#define ASTROTRAIN_MODELS_REGISTRY_H

#include "astrotrain/config.h"
#include "astrotrain/model.h"

/* One family. Rows are written with designated initialisers (registry.c), so a field added
 * here needs no change to the rows that do not set it. */
typedef struct at_model_family {
    const char *type;
    const at_model_ops *ops;
    /* From a configuration section (training). */
    at_status (*create)(const at_model_config *mc, size_t d, size_t k, at_model **out, at_error *err);
    /* Empty, to be filled by ops->load (model files). */
    at_status (*create_empty)(size_t d, size_t k, at_model **out, at_error *err);
    unsigned caps; /* at_model_cap bits (model.h) */
} at_model_family;

const at_model_family *at_model_family_find(const char *type);

#endif
