/* tree.h - (private) the tree core shared by the random forest and gradient boosting: one node
 * layout for fitted trees, one binner, one walker, and the seam where a data-parallel split
 * search would sum the histograms of several workers.
 *
 * Who calls whom: the families (forest*.c, gbdt*.c) call this core; the core knows no family.
 * A learner (the forest's CART grower, the boosting histogram grower) fills one `tree` and
 * returns it; the family appends it to its `tree_list`, which prediction and the model files
 * read. (LightGBM's shape: learner -> Tree -> the model's list of trees.) */
#ifndef ASTROTRAIN_MODELS_TREE_TREE_H
#define ASTROTRAIN_MODELS_TREE_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "astrotrain/status.h"

/* ---- one node layout (tree.c) ------------------------------------------------------
 * A split sends x left when x <= thr, and NaN left when dl. Children are indices local to
 * the tree and always greater than the parent's. A leaf points to itself (left = right =
 * its own index, feature 0), so a walk needs no leaf test: after `depth` steps every row is
 * at its leaf. Leaf values live beside the nodes, `width` doubles per node: a class
 * distribution (the forest, width k) or one score (boosting, width 1). 24 bytes a node. */
typedef struct tree_node {
    double thr;
    int32_t left, right;
    int32_t feature;
    int32_t dl;
} tree_node;

static inline int tree_node_is_leaf(const tree_node *nd, int32_t i) { return nd->left == i; }

/* One tree as a learner returns it. */
typedef struct tree {
    size_t n_nodes, cap, width;
    tree_node *nodes;
    double *value; /* n_nodes * width: every node's value (inner nodes too) */
    double *gain;  /* n_nodes: the split's gain or impurity decrease, 0 on a leaf */
    int32_t depth; /* the deepest leaf (root = 0) */
} tree;

void tree_init(tree *t, size_t width);
void tree_free(tree *t);
/* Room for at least `n` nodes (keeps the existing ones). */
at_status tree_reserve(tree *t, size_t n, at_error *err);
/* Node i becomes a leaf / a split (children l, r > i already reserved). */
void tree_set_leaf(tree *t, int32_t i);
void tree_set_split(tree *t, int32_t i, int32_t feature, double thr, int dl, int32_t l, int32_t r,
                    double gain);

/* The trees of a model: tree t's nodes are [off[t], off[t+1]) of nodes[] (children local to
 * the tree), its values the same range of value[] times width. */
typedef struct tree_list {
    size_t width, n_trees, n_nodes, cap_trees, cap_nodes;
    int64_t *off;     /* n_trees + 1 */
    int32_t *depth;   /* n_trees */
    tree_node *nodes; /* n_nodes */
    double *value;    /* n_nodes * width */
    double *gain;     /* n_nodes */
} tree_list;

void tree_list_init(tree_list *L, size_t width);
void tree_list_free(tree_list *L); /* frees the arrays; the list stays usable (empty) */
at_status tree_list_append(tree_list *L, const tree *t, at_error *err);
/* Keeps the first n_trees trees. */
void tree_list_truncate(tree_list *L, size_t n_trees);

/* The model-file form: feature -1 on a leaf (children -1 too), children local to the tree.
 * from_flat checks every index (children after the parent, inside the tree, a real feature,
 * a threshold that is not NaN, leaves with no children) and fails with AT_ERR_MODEL on a
 * corrupt array; dl and gain may be NULL (all 0). It replaces L's trees. */
at_status tree_list_from_flat(tree_list *L, size_t d, size_t n_trees, const int64_t *off,
                              const int32_t *feature, const double *thr, const int32_t *left,
                              const int32_t *right, const uint8_t *dl, const double *value,
                              const double *gain, at_error *err);
/* Fills the flat arrays (n_nodes each; dl may be NULL). */
void tree_list_to_flat(const tree_list *L, int32_t *feature, double *thr, int32_t *left,
                       int32_t *right, uint8_t *dl);

/* ---- the walker (tree_walk.c) ----------------------------------------------------------
 * out[i * stride + (t % groups) * width + c] += value of tree t's leaf for row i, c < width,
 * for trees [t0, t1), rows X[0..n) (row-major, d columns). Blocks of rows pass through one
 * tree at a time (its nodes stay in cache), a few rows in lockstep; each row sums over the
 * trees in tree order, so the result does not depend on the thread count.
 * Boosting: width 1, groups = trees per round. Forest: width k, groups 1. */
void tree_predict_add(const tree_list *L, size_t t0, size_t t1, size_t groups, const double *X,
                      size_t n, size_t d, double *out, size_t stride, int threads);
/* The same, leaving out row i of tree t when bit i of except[t] is set (an n-bit map per
 * tree, bit i & 7 of byte i >> 3): the forest's out-of-bag vote. except NULL: every row. */
void tree_predict_add_except(const tree_list *L, size_t t0, size_t t1, size_t groups,
                             const double *X, size_t n, size_t d, double *out, size_t stride,
                             int threads, const uint8_t *const *except);

/* ---- the binner (tree_bins.c) ----------------------------------------------------------
 * Feature f has n_bins[f] bins over its non-missing training values, cut between distinct
 * values; bin b of f is [offset[f] + b]: its upper edge `edge` (the cut to the next bin; the
 * last is +inf) and its smallest and largest training value lo, hi. A value x falls in the
 * first bin with x <= edge; NaN gets the code n_bins[f] (the missing code). Codes are uint8:
 * up to 255 bins with a missing code, 256 when the data have no NaN (allow_missing = 0).
 *
 * Where the cuts go is the family's choice (each keeps its own, so its trees stay as they
 * were): RANK puts distinct value j in quantile bin floor(rank_j * max_bin / m) and merges
 * the bins ties leave empty (the forest); GREEDY gives every distinct value a bin when they
 * fit, else closes equal-count bins greedily over runs of ties (boosting, as XGBoost). */
typedef enum tree_cut_rule { TREE_CUTS_RANK = 0, TREE_CUTS_GREEDY = 1 } tree_cut_rule;

typedef struct tree_bins {
    size_t d;
    int32_t *n_bins; /* d */
    int64_t *offset; /* d + 1 */
    double *edge, *lo, *hi; /* offset[d] each */
} tree_bins;

/* allow_missing = 0: max_bin up to 256, and a NaN in X is AT_ERR_DATA. */
at_status tree_bins_fit(const double *X, size_t n, size_t d, int max_bin, tree_cut_rule rule,
                        int allow_missing, int threads, tree_bins *b, at_error *err);
void tree_bins_free(tree_bins *b);
uint8_t tree_bin_code(const tree_bins *b, size_t f, double x);
/* codes: d * n, feature-major (codes[f * n + i]). */
void tree_bins_encode(const tree_bins *b, const double *X, size_t n, uint8_t *codes, int threads);

/* ---- the histogram reduce seam ----------------------------------------------------------
 * A data-parallel split search (each worker holds some of the rows) must sum the workers'
 * histograms, and their node totals, before it chooses splits. A learner calls sum() on
 * every histogram it builds from rows and on the root's totals, before it reads them; the
 * buffer is doubles, summed element by element across the workers in place (for MPI:
 * MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, comm)). Histograms derived by
 * subtraction (parent minus sibling) need no sum. sum = NULL: one process, nothing to do.
 * Everything downstream (splits, partitions of each worker's own rows, leaf values) then
 * agrees across workers. */
typedef struct tree_reduce {
    void (*sum)(void *ctx, double *buf, size_t n);
    void *ctx;
} tree_reduce;


/* ---- the shallow-tree fast path (tree_fast.c) --------------------------------------------
 * For width-1 lists (boosting) whose trees are at most 6 deep, with at most 254 distinct
 * thresholds per feature and d <= 64, on a CPU with AVX-512 VBMI: 64 rows walk a tree at
 * once. Results are bit-identical to tree_predict_add over all trees (groups as there).
 * build sets *out = NULL (and returns AT_OK) when the list or the CPU does not qualify. */
typedef struct tree_fast tree_fast;
at_status tree_fast_build(const tree_list *L, size_t d, size_t groups, tree_fast **out, at_error *err);
void tree_fast_free(tree_fast *f);
/* out[i * stride + (t % groups)] += leaf of tree t for row i, all trees, in tree order. */
void tree_fast_predict_add(const tree_fast *f, const double *X, size_t n, double *out, size_t stride, int threads);

/* ---- the coded layout for deep trees (tree_coded.c) ----------------------------------------
 * A prediction-only copy of a list (the forest's): each feature's thresholds sorted once, rows
 * coded to threshold ranks, 8-byte breadth-first nodes, blocks of rows through one tree at a
 * time with independent walks in flight. Bit-identical to tree_predict_add over all trees
 * (groups as there), on any CPU. build sets *out = NULL (and returns AT_OK) when the list
 * does not fit the layout (d >= 255, a tree over 8 million nodes, an unreachable node). */
typedef struct tree_coded tree_coded;
at_status tree_coded_build(const tree_list *L, size_t d, tree_coded **out, at_error *err);
void tree_coded_free(tree_coded *c);
/* Fails only when the row codes' buffers cannot be allocated (AT_ERR_MEMORY, out untouched). */
at_status tree_coded_predict_add(const tree_coded *c, size_t groups, const double *X, size_t n, double *out,
                                 size_t stride, int threads, at_error *err);

#endif
