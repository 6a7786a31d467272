/* params.h - (private) every family's key table, defined beside its code in
 * src/models/<family>_params.c and registered with the family in registry.c. */
#ifndef ASTROTRAIN_MODELS_PARAMS_H
#define ASTROTRAIN_MODELS_PARAMS_H

#include "astrotrain/keys.h"

extern const at_key_table at_forest_param_table;
extern const at_key_table at_mlp_param_table;
extern const at_key_table at_gbdt_param_table;
extern const at_key_table at_pca_param_table;
extern const at_key_table at_gmm_param_table;
extern const at_key_table at_ensemble_param_table;
extern const at_key_table at_cnn_param_table;

/* Fills p from the table's defaults; a default that does not parse is a bug (abort). */
void at_params_fill_defaults(const at_key_table *t, void *p);

#endif
