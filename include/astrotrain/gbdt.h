/* gbdt.h - histogram gradient boosting of regression trees (softmax / logistic loss).
 *
 * Features are quantile-binned once on the training part (at most 255 bins, one more code for
 * missing values); trees grow on per-node gradient/hessian histograms, depth-wise or best-first,
 * and split on real thresholds so prediction needs no binning. K classes give K trees per
 * round (softmax); two classes give one tree per round (logistic). */
#ifndef ASTROTRAIN_GBDT_H
#define ASTROTRAIN_GBDT_H

#include <stdint.h>

#include "model.h"

typedef enum at_grow_policy { AT_GROW_DEPTHWISE = 0, AT_GROW_LOSSGUIDE = 1 } at_grow_policy;

typedef struct at_gbdt_params {
    int64_t n_rounds;              /* 300: boosting rounds (before early stopping) */
    double learning_rate;          /* 0.1: shrinkage of every leaf value */
    int64_t max_depth;             /* 6; 0 = no limit (then max_leaves must be > 0) */
    int64_t max_leaves;            /* 0 = no limit */
    int grow_policy;               /* at_grow_policy */
    double lambda;                 /* 1: L2 penalty on leaf values */
    double gamma;                  /* 0: minimum split gain (XGBoost's scale: G^2/(H+lambda) terms) */
    double min_child_weight;       /* 1: minimum hessian sum in a child */
    int64_t max_bin;               /* 255: quantile bins per feature, 2..255 */
    double subsample;              /* 1: fraction of rows drawn for each tree */
    double colsample;              /* 1: fraction of features drawn for each tree */
    int64_t early_stopping_rounds; /* 0 = off; else stop when validation log-loss has not
                                      improved for this many rounds and keep the best round */
} at_gbdt_params;

void at_gbdt_params_default(at_gbdt_params *p);

/* Checks ranges and combinations; AT_ERR_CONFIG with the key's name on a bad value. */
at_status at_gbdt_params_check(const at_gbdt_params *p, at_error *err);

extern const at_model_ops at_gbdt_ops;

/* Direct constructor (the registry calls this through at_model_create). */
at_status at_gbdt_new(const at_gbdt_params *p, size_t n_features, size_t n_classes, at_model **out,
                      at_error *err);

/* The 0-based round kept after early stopping (the last round without it); -1 unfitted.
 * describe's model_info.best_round counts from 1, like the history's round column. */
int64_t at_gbdt_best_round(const at_model *m);

#endif
