/* gbdt_hist.c - the boosting learner's gradient/hessian histograms: a pool of buffers (one per
 * node that still needs one), building a node's histograms from its rows, the parent-minus-
 * sibling subtraction, and the reduce seam where the histograms of several workers would be
 * summed before splits are chosen (tree.h: tree_reduce). */
#include <stdlib.h>
#include <string.h>

#include "models/gbdt_grower.h"

int32_t gbdt_hist_get(gbdt_grower *g, at_error *err) {
    if (g->n_free) return g->free_slots[--g->n_free];
    gbdt_gh **pool = realloc(g->pool, (g->pool_n + 1) * sizeof *pool);
    int32_t *fs = realloc(g->free_slots, (g->pool_n + 1) * sizeof *fs);
    if (pool) g->pool = pool;
    if (fs) g->free_slots = fs;
    /* Zeroed: a reduce reads the gaps of features a tree does not use. */
    gbdt_gh *h = pool && fs ? calloc(g->slots ? g->slots : 1, sizeof *h) : NULL;
    if (!h) {
        at_fail(err, AT_ERR_MEMORY, "out of memory for a histogram (%zu bins)", g->slots);
        return -1;
    }
    g->pool[g->pool_n] = h;
    return (int32_t)g->pool_n++;
}

void gbdt_hist_put(gbdt_grower *g, int32_t *slot) {
    if (*slot >= 0) g->free_slots[g->n_free++] = *slot;
    *slot = -1;
}

/* Histograms of features feats[0..nf) of a node, one pass over its rows. Several features per
 * pass matter: consecutive rows of a deep node often share a bin, and the update of one bin
 * must wait for the previous one to it, while updates to other features' bins in between
 * keep the core busy. Each feature's sums still run in row order, so how features are grouped
 * (which depends on the thread count) does not change a bit of the result. */
#define GROUP_MAX 8
void gbdt_hist_build(const gbdt_grower *g, const gnode *nd, const int32_t *feats, size_t nf,
                     const gbdt_gh *gh) {
    const uint32_t *p = g->part;
    for (size_t f0 = 0; f0 < nf; f0 += GROUP_MAX) {
        size_t m = nf - f0 < GROUP_MAX ? nf - f0 : GROUP_MAX;
        gbdt_gh *h[GROUP_MAX];
        const uint8_t *c[GROUP_MAX];
        for (size_t k = 0; k < m; k++) {
            size_t f = (size_t)feats[f0 + k];
            h[k] = g->pool[nd->hist] + g->hoff[f];
            c[k] = g->codes + f * g->n;
            memset(h[k], 0, (size_t)(g->bins->n_bins[f] + 1) * sizeof *h[k]);
        }
        for (int64_t j = nd->begin; j < nd->end; j++) {
            uint32_t r = p[j];
            const gbdt_gh v = gh[r];
            for (size_t k = 0; k < m; k++) {
                gbdt_gh *b = &h[k][c[k][r]];
                b->g += v.g;
                b->h += v.h;
            }
        }
    }
}

size_t gbdt_hist_groups(size_t nodes, size_t nf, int threads) {
    size_t want = nodes >= (size_t)threads ? 1 : ((size_t)threads + nodes - 1) / nodes;
    return want < nf ? want : nf;
}

/* One contiguous range from the first used feature's slots to the last's: one message per
 * node for a reduce like MPI_Allreduce. */
void gbdt_hist_reduce(const gbdt_grower *g, const gnode *nd, const int32_t *feats, size_t nf) {
    if (!g->gp.reduce.sum || nf == 0) return;
    int64_t a = g->hoff[feats[0]], b = g->hoff[feats[nf - 1] + 1];
    g->gp.reduce.sum(g->gp.reduce.ctx, (double *)(g->pool[nd->hist] + a), 2 * (size_t)(b - a));
}

/* Several nodes' histograms in one reduce (one message per tree level, not per node): the
 * same range of each packed into one buffer, summed, unpacked. Returns 0, or -1 when out of
 * memory (then reduced one by one). */
int gbdt_hist_reduce_many(const gbdt_grower *g, const int32_t *nodes, size_t m, const int32_t *feats, size_t nf) {
    if (!g->gp.reduce.sum || nf == 0 || m == 0) return 0;
    if (m == 1) {
        gbdt_hist_reduce(g, &g->nodes[nodes[0]], feats, nf);
        return 0;
    }
    int64_t a = g->hoff[feats[0]], b = g->hoff[feats[nf - 1] + 1];
    size_t len = 2 * (size_t)(b - a);
    double *buf = malloc(m * len * sizeof *buf);
    if (!buf) {
        for (size_t i = 0; i < m; i++) gbdt_hist_reduce(g, &g->nodes[nodes[i]], feats, nf);
        return -1;
    }
    for (size_t i = 0; i < m; i++) memcpy(buf + i * len, g->pool[g->nodes[nodes[i]].hist] + a, len * sizeof *buf);
    g->gp.reduce.sum(g->gp.reduce.ctx, buf, m * len);
    for (size_t i = 0; i < m; i++) memcpy(g->pool[g->nodes[nodes[i]].hist] + a, buf + i * len, len * sizeof *buf);
    free(buf);
    return 0;
}

void gbdt_hist_subtract(const gbdt_grower *g, int32_t large, int32_t small, size_t f) {
    int32_t nbin = g->bins->n_bins[f] + 1;
    gbdt_gh *hl = g->pool[g->nodes[large].hist] + g->hoff[f];
    const gbdt_gh *hs = g->pool[g->nodes[small].hist] + g->hoff[f];
    for (int32_t b = 0; b < nbin; b++) {
        hl[b].g -= hs[b].g;
        hl[b].h -= hs[b].h;
    }
}
