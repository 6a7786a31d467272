/* ensemble_params.c - the ensemble's [model] keys: the one place of their defaults, ranges
 * and docs. */
#include <string.h>

#include "astrotrain/ensemble.h"
#include "models/params.h"

#define E_(f) AT_KEY_FIELD(at_ensemble_params, f)

static const at_key keys[] = {
    {"model", "members", AT_KEY_STR, E_(members), "", 0, 0, NULL,
     "Members besides the [member.NAME] sections: saved model files (runs/rf/model.h5), or in a study the "
     "names of earlier steps; comma-separated."},
    {"model", "n_trials", AT_KEY_INT, E_(n_trials), "1000", 0, 10000000, NULL,
     "Random weight vectors drawn uniformly from the simplex (each member alone is always tried too)."},
    {"model", "objective", AT_KEY_CHOICE, E_(objective), "accuracy", 0, 0, "accuracy|log_loss",
     "Validation score the weight search maximises (accuracy) or minimises (log_loss)."},
};

const at_key_table at_ensemble_param_table = {keys, sizeof keys / sizeof keys[0], sizeof(at_ensemble_params), NULL};

void at_ensemble_params_default(at_ensemble_params *p) {
    memset(p, 0, sizeof *p);
    at_params_fill_defaults(&at_ensemble_param_table, p);
}
