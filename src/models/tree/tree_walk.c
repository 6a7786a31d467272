/* tree_walk.c - the one tree walker: leaf values of a list of trees added to rows of scores,
 * for the forest and boosting alike (their predict, the boosting validation pass, the
 * forest's out-of-bag vote, which leaves out each tree's in-bag rows).
 *
 * Rows go in blocks (a block's features stay in L1 while every tree passes over it) and in
 * groups of LANES stepping through a tree in lockstep: leaves point to themselves, so each
 * row takes exactly depth steps with a branch-free child choice, and the LANES independent
 * chains hide each other's load latency. Each row's sum runs over the trees in order, so
 * the result does not depend on the thread count. */
#include <math.h>
#include <stdint.h>

#include "models/tree/tree.h"

#define LANES 8
#define BLOCK 256

/* One step down: arithmetic select, because a branch here mispredicts half the time. */
static inline int32_t step(const tree_node *nd, const double *x) {
    double v = x[nd->feature];
    int32_t go_right = !((v <= nd->thr) | ((v != v) & nd->dl));
    return nd->left ^ ((nd->left ^ nd->right) & -go_right);
}

static inline void add(double *o, const double *v, size_t w) {
    if (w == 1) o[0] += v[0];
    else
        for (size_t c = 0; c < w; c++) o[c] += v[c];
}

void tree_predict_add(const tree_list *L, size_t t0, size_t t1, size_t groups, const double *X,
                      size_t n, size_t d, double *out, size_t stride, int threads) {
    tree_predict_add_except(L, t0, t1, groups, X, n, d, out, stride, threads, NULL);
}

void tree_predict_add_except(const tree_list *L, size_t t0, size_t t1, size_t groups,
                             const double *X, size_t n, size_t d, double *out, size_t stride,
                             int threads, const uint8_t *const *except) {
    const size_t w = L->width;
    size_t n_blocks = (n + BLOCK - 1) / BLOCK;
#pragma omp parallel for schedule(static) num_threads(threads > 0 ? threads : 1)
    for (size_t blk = 0; blk < n_blocks; blk++) {
        size_t r0 = blk * BLOCK, r1 = r0 + BLOCK < n ? r0 + BLOCK : n;
        uint32_t rows[BLOCK]; /* the block's rows this tree walks */
        for (size_t t = t0; t < t1; t++) {
            const tree_node *nodes = L->nodes + L->off[t];
            const double *val = L->value + (size_t)L->off[t] * w;
            int32_t D = L->depth[t];
            size_t col = (t % groups) * w, m = 0;
            if (except)
                for (size_t i = r0; i < r1; i++) {
                    if (!(except[t][i >> 3] & (1u << (i & 7)))) rows[m++] = (uint32_t)i;
                }
            else
                for (size_t i = r0; i < r1; i++) rows[m++] = (uint32_t)i;
            size_t j = 0;
            for (; j + LANES <= m; j += LANES) {
                int32_t at[LANES] = {0};
                /* A leaf points to itself: once no lane moves, all LANES rows are at their
                 * leaves (deep forests end most walks well before the deepest leaf). */
                for (int32_t s = 0; s < D; s++) {
                    int32_t moved = 0;
                    for (int l = 0; l < LANES; l++) {
                        int32_t nx = step(&nodes[at[l]], X + (size_t)rows[j + (size_t)l] * d);
                        moved |= nx ^ at[l];
                        at[l] = nx;
                    }
                    if (!moved) break;
                }
                for (int l = 0; l < LANES; l++)
                    add(out + (size_t)rows[j + (size_t)l] * stride + col, val + (size_t)at[l] * w, w);
            }
            for (; j < m; j++) {
                int32_t a = 0;
                for (int32_t s = 0; s < D && !tree_node_is_leaf(&nodes[a], a); s++)
                    a = step(&nodes[a], X + (size_t)rows[j] * d);
                add(out + (size_t)rows[j] * stride + col, val + (size_t)a * w, w);
            }
        }
    }
}
