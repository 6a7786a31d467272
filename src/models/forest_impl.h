/* forest_impl.h - (private) the fitted random forest, shared by forest.c (parameters, predict,
 * save, load) and the unit test, and the CART learner's entry point (forest_fit.c). Calls go
 * one way: forest.c -> forest_fit.c -> the tree core (models/tree/tree.h). */
#ifndef ASTROTRAIN_MODELS_FOREST_IMPL_H
#define ASTROTRAIN_MODELS_FOREST_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "astrotrain/forest.h"
#include "models/tree/tree.h"

/* The trees are one tree_list of width k: every node's class distribution (normalised). */
typedef struct at_forest {
    at_forest_params p;
    size_t d, k;
    size_t mtry;        /* resolved max_features */
    tree_list trees;    /* n_trees = 0: not fitted */
    double *importance; /* d, sums to 1 (all zero when every tree is a single leaf) */
    double oob;         /* NaN when not computed */
} at_forest;

/* Grows n_trees CART trees on in->train (forest_fit.c) into `trees` (width k, emptied first),
 * with the impurity-decrease importances (d, allocated) and the out-of-bag accuracy (NaN when
 * not computed). On failure nothing is left allocated. */
at_status forest_grow(const at_forest_params *p, size_t mtry, size_t k, const at_fit_input *in,
                      tree_list *trees, double **importance, double *oob, at_error *err);

#endif
