/* pca_params.c - PCA's [model] keys: the one place of their defaults, ranges and docs. */
#include <string.h>

#include "astrotrain/pca.h"
#include "models/params.h"

#define P_(f) AT_KEY_FIELD(at_pca_params, f)

static const at_key keys[] = {
    {"model", "n_components", AT_KEY_INT, P_(n_components), "3", 0, 100000, NULL,
     "Principal components kept; 0 = all; more than the features is clipped."},
    {"model", "variance_to_keep", AT_KEY_REAL, P_(variance_to_keep), "0", 0, 1, NULL,
     "When > 0: keep the fewest components whose explained-variance ratios reach this fraction (n_components is then ignored)."},
    {"model", "whiten", AT_KEY_BOOL, P_(whiten), "false", 0, 0, NULL, "Scale each component's scores to unit variance."},
};

const at_key_table at_pca_param_table = {keys, sizeof keys / sizeof keys[0], sizeof(at_pca_params), NULL};

void at_pca_params_default(at_pca_params *p) {
    memset(p, 0, sizeof *p);
    at_params_fill_defaults(&at_pca_param_table, p);
}
