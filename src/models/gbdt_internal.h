/* gbdt_internal.h - (private) the pieces of the gradient-boosting family shared by its files
 * and its unit test: binning, the loss, the tree grower, packed-tree prediction, the model. */
#ifndef ASTROTRAIN_MODELS_GBDT_INTERNAL_H
#define ASTROTRAIN_MODELS_GBDT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "astrotrain/gbdt.h"

#define GBDT_MAX_BIN 255

/* ---- binning (gbdt_bin.c) ----
 * Feature f has n_bins[f] real bins (0 when every value is missing) with upper edges
 * edges[offset[f] .. offset[f] + n_bins[f]); the last edge is +inf. A value x falls in the
 * first bin b with x <= edge[b]; NaN gets the code n_bins[f] (the missing code). */
typedef struct gbdt_bins {
    size_t d;
    int32_t *n_bins; /* d */
    int64_t *offset; /* d + 1 */
    double *edges;   /* offset[d] */
} gbdt_bins;

at_status gbdt_bins_fit(const double *X, size_t n, size_t d, int max_bin, gbdt_bins *b,
                        at_error *err);
void gbdt_bins_free(gbdt_bins *b);
uint8_t gbdt_bin_code(const gbdt_bins *b, size_t f, double x);
/* codes: d * n, feature-major (codes[f * n + i]). */
void gbdt_bins_encode(const gbdt_bins *b, const double *X, size_t n, uint8_t *codes, int threads);

/* ---- loss (gbdt_loss.c) ---- */
typedef struct gbdt_gh {
    double g, h;
} gbdt_gh;

/* Softmax over K scores: p (K probabilities), and for the true class y the gradient
 * g_k = p_k - [k == y] and diagonal hessian h_k = p_k (1 - p_k) of -log p_y. Returns -log p_y. */
double gbdt_softmax_grad(const double *score, size_t K, int32_t y, double *p, gbdt_gh *gh);
/* Logistic loss of one score s for the class-1 indicator y1: p1, g = p1 - y1, h = p1 (1 - p1). */
double gbdt_logistic_grad(double s, int y1, double *p1, gbdt_gh *gh);

/* Over n rows of scores (n x kt, kt = 1 for binary): gradients into gh (kt arrays of n, class-
 * major; NULL to skip), and the mean log-loss and accuracy. Sums reduce in fixed-size chunks in a
 * fixed order, so the figures do not depend on the thread count. */
void gbdt_loss_pass(const double *score, size_t n, size_t kt, const int32_t *y, gbdt_gh *gh,
                    int threads, double *logloss, double *accuracy);

/* ---- packed trees and prediction (gbdt_predict.c) ----
 * A split sends x left when x <= thr, NaN left when dl. A leaf points to itself (left = right =
 * itself, feature 0) and keeps its value in thr, so traversal needs no leaf test: every row
 * steps exactly depth times. */
typedef struct gbdt_pnode {
    double thr;
    int32_t left, right; /* absolute node indices */
    int32_t feature;
    int32_t dl;
} gbdt_pnode;

/* score[i * kt + (t % kt)] += leaf value of tree t for row i, trees [t0, t1). */
void gbdt_predict_add(const gbdt_pnode *nodes, const int64_t *tree_off, const int32_t *depth,
                      size_t t0, size_t t1, size_t kt, const double *X, size_t n, size_t d,
                      double *score, int threads);

/* ---- the model and its trees ---- */
typedef struct gbdt_model {
    at_gbdt_params p;
    size_t d, k, kt; /* features, classes, trees per round (1 when k == 2) */
    int fitted;
    double *base; /* kt initial scores */
    /* Trees: nodes [tree_off[t], tree_off[t+1]); child indices relative to the tree's root. */
    size_t n_trees, n_nodes, cap_trees, cap_nodes;
    int64_t *tree_off;
    int32_t *depth;   /* n_trees: longest root-to-leaf path */
    int32_t *feature; /* -1 for a leaf */
    double *thr;      /* x <= thr goes left */
    int32_t *left, *right;
    uint8_t *default_left;
    double *value; /* leaf value, learning rate included */
    double *gain;  /* split gain (0 for a leaf) */
    gbdt_pnode *packed;
    gbdt_bins bins;
    int64_t best_round, rounds_run;
    /* Learning curves. */
    size_t hist_rows;
    double *hist_values;
    at_history history;
} gbdt_model;

/* Room for `trees` more trees holding up to max_nodes more nodes. */
at_status gbdt_model_reserve(gbdt_model *m, size_t trees, size_t max_nodes, at_error *err);
/* Fills packed[] (and depth) for tree t from the file arrays; checks every index. */
at_status gbdt_model_pack_tree(gbdt_model *m, size_t t, at_error *err);
void gbdt_model_clear(gbdt_model *m);

/* ---- the tree grower (gbdt_grow.c) ---- */
typedef struct gbdt_grow_params {
    double lambda, gamma, min_child_weight, eta;
    int max_depth;  /* 0 = none */
    int max_leaves; /* 0 = none */
    int lossguide;
} gbdt_grow_params;

typedef struct gbdt_grower gbdt_grower;

/* codes: d * n feature-major bin codes of the training rows (kept, not copied). A grower holds
 * one tree at a time; several growers can work on different trees at once. */
at_status gbdt_grower_new(const uint8_t *codes, size_t n, const gbdt_bins *bins,
                          const gbdt_grow_params *gp, gbdt_grower **out, at_error *err);
void gbdt_grower_free(gbdt_grower *g);

/* Grows one tree on rows[0..m) (ascending; all n rows when rows is NULL) over features
 * feats[0..nf) (ascending) with `threads` threads, and adds its leaf values to
 * score[i * stride] for all n training rows. The tree stays in the grower until the next. */
at_status gbdt_grow_tree(gbdt_grower *g, const gbdt_gh *gh, const uint32_t *rows, size_t m,
                         const int32_t *feats, size_t nf, int threads, double *score, size_t stride,
                         at_error *err);
/* Appends the grower's tree to the model (tree index m->n_trees) and packs it. */
at_status gbdt_grower_commit(const gbdt_grower *g, gbdt_model *mdl, at_error *err);

/* ---- save / load (gbdt_io.c) ---- */
at_status gbdt_save(const void *impl, at_store *st, at_error *err);
at_status gbdt_load(void *impl, at_store *st, at_error *err);
/* Sets up the history view after hist_values / hist_rows change. */
void gbdt_history_view(gbdt_model *m);

#endif
