/* gbdt_internal.h - (private) the pieces of the gradient-boosting family shared by its files
 * and its unit test: the loss, the row and feature draws, the histogram tree learner's entry
 * points, the model. Trees, binning and prediction are the tree core's (models/tree/tree.h).
 * Calls go one way: gbdt.c (the boosting loop) -> the learner (gbdt_grow*.c) -> the core. */
#ifndef ASTROTRAIN_MODELS_GBDT_INTERNAL_H
#define ASTROTRAIN_MODELS_GBDT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "astrotrain/gbdt.h"
#include "astrotrain/rng.h"
#include "models/tree/tree.h"

#define GBDT_MAX_BIN 255

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

/* ---- row and feature sampling (gbdt_sample.c) ----
 * Rows: each of n kept with probability `subsample` (ascending into rows; *m of them; rows
 * unused and *m = n when subsample >= 1 or nothing was drawn). Features: nf of d drawn without
 * replacement, sorted ascending (all d in order when nf >= d). One stream per tree. */
void gbdt_sample_rows(at_rng *rng, double subsample, size_t n, uint32_t *rows, size_t *m);
void gbdt_sample_features(at_rng *rng, size_t d, size_t nf, int32_t *feats);

/* ---- the model ---- */
typedef struct gbdt_model {
    at_gbdt_params p;
    size_t d, k, kt; /* features, classes, trees per round (1 when k == 2) */
    int fitted;
    double *base;    /* kt initial scores */
    tree_list trees; /* width 1: leaf value, learning rate included; gain per split */
    tree_bins bins;
    tree_fast *fast; /* the shallow-tree fast path over trees, or NULL (tree.h) */
    int64_t best_round, rounds_run;
    /* Learning curves. */
    size_t hist_rows;
    double *hist_values;
    at_history history;
} gbdt_model;

void gbdt_model_clear(gbdt_model *m);

/* ---- the tree learner (gbdt_grow.c and its parts) ---- */
typedef struct gbdt_grow_params {
    double lambda, gamma, min_child_weight, eta;
    int max_depth;  /* 0 = none */
    int max_leaves; /* 0 = none */
    int lossguide;
    tree_reduce reduce; /* sums histograms over workers before splits are chosen (tree.h) */
} gbdt_grow_params;

typedef struct gbdt_grower gbdt_grower;

/* codes: d * n feature-major bin codes of the training rows (kept, not copied). A grower holds
 * one tree at a time; several growers can work on different trees at once. */
at_status gbdt_grower_new(const uint8_t *codes, size_t n, const tree_bins *bins,
                          const gbdt_grow_params *gp, gbdt_grower **out, at_error *err);
void gbdt_grower_free(gbdt_grower *g);

/* Grows one tree on rows[0..m) (ascending; all n rows when rows is NULL) over features
 * feats[0..nf) (ascending) with `threads` threads into *out (a width-1 tree; replaced), and
 * adds its leaf values to score[i * stride] for all n training rows. */
at_status gbdt_grow_tree(gbdt_grower *g, const gbdt_gh *gh, const uint32_t *rows, size_t m,
                         const int32_t *feats, size_t nf, int threads, double *score, size_t stride,
                         tree *out, at_error *err);

/* ---- across MPI ranks (gbdt_dist.c) ---- */
struct at_comm;
typedef struct gbdt_dist {
    struct at_comm *comm;
    uint64_t n_global; /* training rows of all ranks */
    at_status st;      /* the first failed histogram sum */
    at_error err;
} gbdt_dist;
/* The rounding (2^-q) that keeps histogram sums of n_global rows exact, and applying it. */
int gbdt_quant_bits(uint64_t n_global);
void gbdt_quantize(gbdt_gh *gh, size_t n, int q);
/* tree_reduce.sum over the ranks (ctx: gbdt_dist). */
void gbdt_dist_sum(void *ctx, double *buf, size_t n);
/* Every rank's training rows, in global order (for the bin edges); *n = n_global. */
at_status gbdt_dist_gather_X(gbdt_dist *dd, const at_dataset *tr, double **X, size_t *n, at_error *err);
/* Mean loss and accuracy of this rank's n_local rows -> those of all rows. */
at_status gbdt_dist_loss(gbdt_dist *dd, size_t n_local, double *loss, double *acc, at_error *err);

/* ---- save / load (gbdt_io.c) ---- */
at_status gbdt_save(const void *impl, at_store *st, at_error *err);
at_status gbdt_load(void *impl, at_store *st, at_error *err);
/* Sets up the history view after hist_values / hist_rows change. */
void gbdt_history_view(gbdt_model *m);

#endif
