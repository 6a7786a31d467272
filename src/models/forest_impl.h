/* forest_impl.h - (private) the fitted random forest, shared by forest.c (parameters, predict,
 * save, load) and the unit test, and the CART learner's entry point (forest_fit.c). Calls go
 * one way: forest.c -> forest_fit.c -> the tree core (models/tree/tree.h). */
#ifndef ASTROTRAIN_MODELS_FOREST_IMPL_H
#define ASTROTRAIN_MODELS_FOREST_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "astrotrain/dataset.h"
#include "astrotrain/forest.h"
#include "models/tree/tree.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* The trees are one tree_list of width k: every node's class distribution (normalised). */
typedef struct at_forest {
    at_forest_params p;
    size_t d, k;
    size_t mtry;        /* resolved max_features */
    tree_list trees;    /* n_trees = 0: not fitted */
    double *importance; /* d, sums to 1 (all zero when every tree is a single leaf) */
    double oob;         /* NaN when not computed */
    tree_coded *coded;  /* the prediction layout of trees (NULL: the plain walker) */
} at_forest;

/* One grown tree (values: weighted class counts, normalised at the end) and what the forest
 * needs of it besides (forest_fit.c grows them, forest_dist.c passes them between ranks). */
typedef struct forest_grown {
    tree t;
    double *imp;    /* d: impurity decrease per feature */
    uint8_t *inbag; /* n/8 bitmap, for the out-of-bag estimate */
} forest_grown;

/* ---- across MPI ranks (forest_dist.c): trees split between ranks, every rank holding every
 * training row ---- */
struct at_comm;
/* Every rank's training rows, in rank order (= global row order), onto every rank. */
at_status forest_dist_gather_train(struct at_comm *comm, const at_dataset *local, at_dataset **all, at_error *err);
/* The trees [t0, t1) this rank grows of nt. */
void forest_dist_block(const struct at_comm *comm, size_t nt, size_t *t0, size_t *t1);
/* Every rank's block of grown trees (n training rows, d features, width k) onto every rank:
 * afterwards trees[0..nt) are all filled. */
at_status forest_dist_exchange(struct at_comm *comm, forest_grown *trees, size_t nt, size_t n, size_t d, size_t k,
                               at_error *err);

/* Grows n_trees CART trees on in->train (forest_fit.c) into `trees` (width k, emptied first),
 * with the impurity-decrease importances (d, allocated) and the out-of-bag accuracy (NaN when
 * not computed). On failure nothing is left allocated. */
at_status forest_grow(const at_forest_params *p, size_t mtry, size_t k, const at_fit_input *in,
                      tree_list *trees, double **importance, double *oob, at_error *err);

/* ---- data-parallel by rows (forest_rows.c, [run] distribute = rows): each rank keeps its own
 * training rows; the same contract and ownership as forest_grow, and the same forest for any
 * number of ranks (one process included). ---- */
at_status forest_grow_rows(const at_forest_params *p, size_t mtry, size_t k, const at_fit_input *in,
                           tree_list *trees, double **importance, double *oob, at_error *err);
/* forest_fit.c's split arithmetic, shared: impurity and split proxy of weighted class counts c
 * (total w), and the threshold between two adjacent values a < c. */
double forest_impurity(const double *c, size_t k, double w, int crit);
double forest_proxy(const double *c, size_t k, double w, int crit);
double forest_split_threshold(double a, double c);
/* A value and its row; sorted by value, ties by row (a merge sort without callbacks): returns
 * the sorted array, a or tmp (n each). */
typedef struct forest_valrow {
    double v;
    uint32_t i;
} forest_valrow;
forest_valrow *forest_sort_vals(forest_valrow *a, forest_valrow *tmp, size_t n);

/* The out-of-bag vote over the summed leaf distributions p (n x k) of nt trees whose in-bag
 * bitmaps are bags: a row every tree saw is not counted; the argmax (ties to the lower class)
 * against y. correct / counted is the OOB accuracy (forest_fit.c; forest_rows.c per rank). */
void forest_oob_votes(const double *p, const uint8_t *const *bags, size_t nt, size_t n, size_t k, const int32_t *y,
                      int threads, size_t *correct, size_t *counted);

/* The thread count the forest uses: threads, or OpenMP's default when 0 or less (1 without
 * OpenMP). */
static inline int forest_threads(int threads) {
#ifdef _OPENMP
    if (threads <= 0) threads = omp_get_max_threads();
#endif
    return threads > 0 ? threads : 1;
}

#endif
