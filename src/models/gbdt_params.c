/* gbdt_params.c - gradient boosting's [model] keys: the one place of their defaults,
 * ranges and docs (config parsing, at_gbdt_params_default, docs/config.md). */
#include <string.h>

#include "astrotrain/gbdt.h"
#include "models/params.h"

#define G_(f) AT_KEY_FIELD(at_gbdt_params, f)

static const at_key keys[] = {
    {"model", "n_rounds", AT_KEY_INT, G_(n_rounds), "300", 1, 1000000, NULL,
     "Boosting rounds: one tree per class each (one tree for two classes)."},
    {"model", "learning_rate", AT_KEY_REAL, G_(learning_rate), "0.1", 1e-6, 1, NULL,
     "Shrinkage of every leaf value (XGBoost's eta)."},
    {"model", "max_depth", AT_KEY_INT, G_(max_depth), "6", 0, 64, NULL,
     "Maximum tree depth; 0 = no limit (then max_leaves must be set)."},
    {"model", "max_leaves", AT_KEY_INT, G_(max_leaves), "0", 0, 16777216, NULL,
     "Maximum leaves per tree (at least 2); 0 = no limit."},
    {"model", "grow_policy", AT_KEY_CHOICE, G_(grow_policy), "depthwise", 0, 0, "depthwise|lossguide",
     "Grow level by level, or best leaf first (lossguide, usually with max_leaves)."},
    {"model", "lambda", AT_KEY_REAL, G_(lambda), "1", 0, 1e6, NULL,
     "L2 penalty on leaf values: leaf = -G / (H + lambda) * learning_rate."},
    {"model", "gamma", AT_KEY_REAL, G_(gamma), "0", 0, 1e12, NULL,
     "Minimum gain for a split, on XGBoost's scale (its min_split_loss)."},
    {"model", "min_child_weight", AT_KEY_REAL, G_(min_child_weight), "1", 0, 1e12, NULL,
     "Minimum hessian sum in each child of a split."},
    {"model", "max_bin", AT_KEY_INT, G_(max_bin), "255", 2, 255, NULL,
     "Quantile bins per feature, fitted on the training part (one more code marks missing values)."},
    {"model", "subsample", AT_KEY_REAL, G_(subsample), "1", 1e-6, 1, NULL,
     "Fraction of training rows drawn (seeded) for each tree."},
    {"model", "colsample", AT_KEY_REAL, G_(colsample), "1", 1e-6, 1, NULL,
     "Fraction of features drawn (seeded) for each tree."},
    {"model", "early_stopping_rounds", AT_KEY_INT, G_(early_stopping_rounds), "0", 0, 1000000, NULL,
     "Stop when validation log-loss has not improved for this many rounds, keep the best; 0 = off."},
};

const at_key_table at_gbdt_param_table = {keys, sizeof keys / sizeof keys[0], sizeof(at_gbdt_params), NULL};

void at_gbdt_params_default(at_gbdt_params *p) {
    memset(p, 0, sizeof *p);
    at_params_fill_defaults(&at_gbdt_param_table, p);
}
