/* forest_impl.h - (private) the fitted random forest as flat node arrays, shared by
 * forest.c (parameters, predict, save, load) and forest_fit.c (growing the trees). */
#ifndef ASTROTRAIN_MODELS_FOREST_IMPL_H
#define ASTROTRAIN_MODELS_FOREST_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "astrotrain/forest.h"

/* Every tree's nodes live in one range [offset[t], offset[t+1]) of the arrays below.
 * Child indices are local to the tree and always greater than the parent's, so a walk
 * from the root always ends (a loaded file is checked for this). A leaf has feature -1.
 * value holds every node's class distribution (normalised), n_classes per node. */
typedef struct at_forest {
    at_forest_params p;
    size_t d, k;
    size_t mtry;      /* resolved max_features */
    size_t n_trees;   /* fitted trees; 0 = not fitted */
    size_t n_nodes;   /* all trees together */
    int64_t *offset;  /* n_trees + 1 */
    int32_t *feature; /* n_nodes */
    double *threshold;
    int32_t *left, *right;
    double *value;      /* n_nodes * k */
    double *importance; /* d, sums to 1 (all zero when every tree is a single leaf) */
    int32_t *depth;     /* n_trees: the deepest leaf of each tree (root = 0) */
    double oob;         /* NaN when not computed */
} at_forest;

/* Grows the forest on in->train (forest_fit.c); replaces any previous fit. */
at_status at_forest_fit_impl(at_forest *f, const at_fit_input *in, at_error *err);

/* Frees the fitted arrays (not the parameters). */
void at_forest_clear(at_forest *f);

#endif
