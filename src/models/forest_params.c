/* forest_params.c - the random forest's [model] keys: the one place of their defaults,
 * ranges and docs (config parsing, at_forest_params_default, docs/config.md). */
#include <string.h>

#include "astrotrain/forest.h"
#include "models/params.h"

#define F_(f) AT_KEY_FIELD(at_forest_params, f)

static const at_key keys[] = {
    {"model", "n_trees", AT_KEY_INT, F_(n_trees), "100", 1, 100000, NULL, "Number of trees."},
    {"model", "criterion", AT_KEY_CHOICE, F_(criterion), "gini", 0, 0, "gini|entropy", "Split quality measure."},
    {"model", "max_features", AT_KEY_STR, F_(max_features), "sqrt", 0, 0, NULL,
     "Features tried per split: sqrt, log2, all, a fraction (0.5) or a count (3)."},
    {"model", "max_depth", AT_KEY_INT, F_(max_depth), "0", 0, 1000, NULL,
     "Maximum tree depth; 0 = grow until leaves are pure or too small."},
    {"model", "min_samples_split", AT_KEY_INT, F_(min_samples_split), "2", 2, AT_KEY_BIG, NULL,
     "Smallest node (in-bag rows) that may be split."},
    {"model", "min_samples_leaf", AT_KEY_INT, F_(min_samples_leaf), "1", 1, AT_KEY_BIG, NULL,
     "Smallest number of in-bag rows in a leaf."},
    {"model", "class_weight", AT_KEY_CHOICE, F_(class_weight), "none", 0, 0, "none|balanced",
     "balanced weighs classes by n / (k * count) on the training part."},
    {"model", "bootstrap", AT_KEY_BOOL, F_(bootstrap), "true", 0, 0, NULL,
     "Draw each tree's rows with replacement (false: every tree sees all rows)."},
    {"model", "max_bins", AT_KEY_INT, F_(max_bins), "256", 2, 256, NULL,
     "Quantile bins per feature for the split search (speed; 256 is near-exact)."},
    {"model", "oob_score", AT_KEY_BOOL, F_(oob_score), "true", 0, 0, NULL,
     "Compute the out-of-bag accuracy (needs bootstrap)."},
};

static at_status check(const void *params, at_error *err) {
    const at_forest_params *p = params;
    size_t mf;
    if (!at_forest_max_features(p->max_features, 1u << 20, &mf))
        return at_fail(err, AT_ERR_CONFIG, "max_features = '%s': expected sqrt, log2, all, a fraction or a count",
                       p->max_features);
    return AT_OK;
}

const at_key_table at_forest_param_table = {keys, sizeof keys / sizeof keys[0], sizeof(at_forest_params), check};

void at_forest_params_default(at_forest_params *p) {
    memset(p, 0, sizeof *p);
    at_params_fill_defaults(&at_forest_param_table, p);
}
