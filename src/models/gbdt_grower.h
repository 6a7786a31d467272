/* gbdt_grower.h - (private) the state of the boosting tree learner, shared by its parts:
 * gbdt_hist.c (histogram buffers, building, the reduce seam), gbdt_split.c (split evaluation),
 * gbdt_partition.c (row partitioning and routing) and gbdt_grow.c (the growth policy). */
#ifndef ASTROTRAIN_MODELS_GBDT_GROWER_H
#define ASTROTRAIN_MODELS_GBDT_GROWER_H

#include "models/gbdt_internal.h"

/* XGBoost's kRtEps: a split must gain at least this much. */
#define GBDT_MIN_GAIN 1e-6
/* Below this many row-feature updates a batch runs on one thread (a parallel region costs more). */
#define GBDT_PAR_MIN_WORK 16384

typedef struct gnode {
    int64_t begin, end; /* rows part[begin .. end) */
    int64_t count;      /* rows of the node over all workers (end - begin for one) */
    int32_t depth;
    double G, H;
    int32_t hist; /* histogram slot or -1 */
    int32_t left, right;
    /* best split found (valid when has_split) */
    int has_split;
    int32_t feat, bin, dl;
    double gain, GL, HL;
    double value; /* leaf value (learning rate included), set when the tree is done */
} gnode;

typedef struct cand {
    double gain, GL, HL;
    int32_t bin, dl;
} cand;

struct gbdt_grower {
    const uint8_t *codes;
    size_t n, d;
    const tree_bins *bins;
    gbdt_grow_params gp;
    int threads;
    int64_t *hoff; /* d + 1: first histogram slot of each feature (n_bins + 1 slots each) */
    size_t slots;
    uint32_t *part, *tmp;
    uint8_t *in_sample;
    /* histogram buffers */
    gbdt_gh **pool;
    int32_t *free_slots;
    size_t pool_n, n_free;
    /* nodes of the tree being grown */
    gnode *nodes;
    size_t n_nodes, cap_nodes;
    /* scratch for batches */
    int32_t *open, *batch, *build, *kids;
    size_t cap_open;
    cand *cands;
    size_t cap_cands;
};

/* gbdt_hist.c */
int32_t gbdt_hist_get(gbdt_grower *g, at_error *err);
void gbdt_hist_put(gbdt_grower *g, int32_t *slot);
void gbdt_hist_build(const gbdt_grower *g, const gnode *nd, const int32_t *feats, size_t nf,
                     const gbdt_gh *gh);
/* Feature groups per node: enough tasks for the threads, as few passes as that allows. */
size_t gbdt_hist_groups(size_t nodes, size_t nf, int threads);
/* The reduce seam: sums node nd's histogram of features feats[0..nf) (ascending) over the
 * workers; nothing without a reduce. */
void gbdt_hist_reduce(const gbdt_grower *g, const gnode *nd, const int32_t *feats, size_t nf);
int gbdt_hist_reduce_many(const gbdt_grower *g, const int32_t *nodes, size_t m, const int32_t *feats, size_t nf);
/* large -= small, bin by bin, for feature f. */
void gbdt_hist_subtract(const gbdt_grower *g, int32_t large, int32_t small, size_t f);

/* gbdt_split.c */
cand gbdt_best_on_feature(const gbdt_grower *g, const gnode *nd, size_t f);
int gbdt_can_split(const gbdt_grower *g, const gnode *nd, size_t n_leaves);
/* Picks the best split of each kid over the features, from cands[kid][feature]. */
void gbdt_choose_splits(gbdt_grower *g, const int32_t *kids, size_t nk, const int32_t *feats,
                        size_t nf);

/* gbdt_partition.c */
/* Stable partition of a node's rows by its split; returns the left count. */
int64_t gbdt_partition(gbdt_grower *g, const gnode *nd);
/* Leaf of a training row, walking the grown tree on bin codes. */
int32_t gbdt_route(const gbdt_grower *g, uint32_t row);

#endif
