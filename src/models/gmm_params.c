/* gmm_params.c - the Gaussian mixture's [model] keys: the one place of their defaults,
 * ranges and docs, and the check of the components text. */
#include <math.h>
#include <string.h>

#include "astrotrain/gmm.h"
#include "models/params.h"

#define G_(f) AT_KEY_FIELD(at_gmm_params, f)

static const at_key keys[] = {
    {"model", "components", AT_KEY_STR, G_(components), "3", 0, 0, NULL,
     "Mixture components: a count (3), or a range (2..8) to fit each and keep the lowest BIC."},
    {"model", "covariance_type", AT_KEY_CHOICE, G_(covariance_type), "full", 0, 0, "full|diag|spherical",
     "Covariance per component: a full matrix, a diagonal, or one variance."},
    {"model", "max_iter", AT_KEY_INT, G_(max_iter), "100", 1, 100000, NULL, "Most EM iterations per initialisation."},
    {"model", "tol", AT_KEY_REAL, G_(tol), "1e-3", 0, INFINITY, NULL,
     "EM stops when the mean log-likelihood per row changes by less than this."},
    {"model", "reg_covar", AT_KEY_REAL, G_(reg_covar), "1e-6", 0, INFINITY, NULL,
     "Added to every variance so covariances stay invertible (constant or duplicated features)."},
    {"model", "n_init", AT_KEY_INT, G_(n_init), "1", 1, 1000, NULL,
     "Initialisations (k-means++ then Lloyd, each seeded); the best final log-likelihood is kept."},
    {"model", "kmeans_iter", AT_KEY_INT, G_(kmeans_iter), "100", 0, 100000, NULL,
     "Most Lloyd (k-means) iterations after k-means++, stopping early when assignments settle."},
};

static at_status check(const void *params, at_error *err) {
    const at_gmm_params *p = params;
    size_t lo, hi;
    if (!at_gmm_components(p->components, &lo, &hi))
        return at_fail(err, AT_ERR_CONFIG, "components = '%s': expected a count (3) or a range (2..8) within 1..1000",
                       p->components);
    return AT_OK;
}

const at_key_table at_gmm_param_table = {keys, sizeof keys / sizeof keys[0], sizeof(at_gmm_params), check};

void at_gmm_params_default(at_gmm_params *p) {
    memset(p, 0, sizeof *p);
    at_params_fill_defaults(&at_gmm_param_table, p);
}
