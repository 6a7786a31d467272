/* gbdt_predict.c - adding the leaf values of packed trees to row scores.
 *
 * Rows go in blocks (a block's features stay in L1 while every tree passes over it) and in
 * groups of LANES stepping through a tree in lockstep: leaves point to themselves, so each
 * row takes exactly depth steps with a branch-free child choice, and the LANES independent
 * chains hide each other's load latency. Each row's sum runs over the trees in order, so
 * the result does not depend on the thread count. */
#include <math.h>

#include "models/gbdt_internal.h"

#define LANES 8
#define BLOCK 256

/* One step down: arithmetic select, because a branch here mispredicts half the time. */
static inline int32_t step(const gbdt_pnode *nd, const double *x) {
    double v = x[nd->feature];
    int32_t go_right = !((v <= nd->thr) | ((v != v) & nd->dl));
    return nd->left ^ ((nd->left ^ nd->right) & -go_right);
}

void gbdt_predict_add(const gbdt_pnode *nodes, const int64_t *tree_off, const int32_t *depth,
                      size_t t0, size_t t1, size_t kt, const double *X, size_t n, size_t d,
                      double *score, int threads) {
    size_t n_blocks = (n + BLOCK - 1) / BLOCK;
#pragma omp parallel for schedule(static) num_threads(threads > 0 ? threads : 1)
    for (size_t blk = 0; blk < n_blocks; blk++) {
        size_t r0 = blk * BLOCK, r1 = r0 + BLOCK < n ? r0 + BLOCK : n;
        for (size_t t = t0; t < t1; t++) {
            int32_t root = (int32_t)tree_off[t];
            int32_t D = depth[t];
            size_t col = t % kt;
            size_t i = r0;
            for (; i + LANES <= r1; i += LANES) {
                int32_t at[LANES];
                for (int l = 0; l < LANES; l++) at[l] = root;
                for (int32_t s = 0; s < D; s++)
                    for (int l = 0; l < LANES; l++)
                        at[l] = step(&nodes[at[l]], X + (i + (size_t)l) * d);
                for (int l = 0; l < LANES; l++) score[(i + (size_t)l) * kt + col] += nodes[at[l]].thr;
            }
            for (; i < r1; i++) {
                int32_t a = root;
                for (int32_t s = 0; s < D; s++) a = step(&nodes[a], X + i * d);
                score[i * kt + col] += nodes[a].thr;
            }
        }
    }
}
