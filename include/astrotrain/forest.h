/* forest.h - random forest of CART classification trees. */
#ifndef ASTROTRAIN_FOREST_H
#define ASTROTRAIN_FOREST_H

#include <stdint.h>

#include "model.h"

typedef enum at_criterion { AT_CRITERION_GINI = 0, AT_CRITERION_ENTROPY = 1 } at_criterion;
typedef enum at_class_weight { AT_CLASS_WEIGHT_NONE = 0, AT_CLASS_WEIGHT_BALANCED = 1 } at_class_weight;

typedef struct at_forest_params {
    int64_t n_trees;           /* 100 */
    int criterion;             /* at_criterion */
    char max_features[32];     /* "sqrt", "log2", "all", a fraction "0.5" or a count "3" */
    int64_t max_depth;         /* 0 = unlimited */
    int64_t min_samples_split; /* 2 */
    int64_t min_samples_leaf;  /* 1 */
    int class_weight;          /* at_class_weight */
    int bootstrap;             /* 1 */
    int64_t max_bins;          /* 256: quantile bins per feature for the split search */
    int oob_score;             /* 1: out-of-bag accuracy (needs bootstrap) */
} at_forest_params;

void at_forest_params_default(at_forest_params *p);

/* Resolves max_features for d features; 0 and a message when the text is invalid. */
int at_forest_max_features(const char *spec, size_t d, size_t *out);

extern const at_model_ops at_forest_ops;

/* Direct constructor (the registry calls this through at_model_create). */
at_status at_forest_new(const at_forest_params *p, size_t n_features, size_t n_classes,
                        at_model **out, at_error *err);

/* Out-of-bag accuracy of a fitted forest (NaN when not computed). */
double at_forest_oob_accuracy(const at_model *m);

#endif
