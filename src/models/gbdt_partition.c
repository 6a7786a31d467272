/* gbdt_partition.c - row partitioning of the boosting learner: a node's rows (a contiguous
 * range of one index array) split in place, stably, by the node's split on bin codes; and
 * routing one training row to its leaf (for the rows a subsampled tree did not see). */
#include <string.h>

#include "models/gbdt_grower.h"

int64_t gbdt_partition(gbdt_grower *g, const gnode *nd) {
    const uint8_t *c = g->codes + (size_t)nd->feat * g->n;
    const uint8_t miss = (uint8_t)g->bins->n_bins[nd->feat];
    const uint8_t bin = (uint8_t)nd->bin;
    const int dl = nd->dl;
    uint32_t *p = g->part, *t = g->tmp;
    int64_t l = nd->begin, r = nd->begin;
    for (int64_t j = nd->begin; j < nd->end; j++) {
        uint32_t row = p[j];
        uint8_t v = c[row];
        int left = v == miss ? dl : v <= bin;
        /* Write both ways and advance one: no branch to mispredict. */
        p[l] = row;
        t[r] = row;
        l += left;
        r += !left;
    }
    memcpy(p + l, t + nd->begin, (size_t)(r - nd->begin) * sizeof *p);
    return l - nd->begin;
}

int32_t gbdt_route(const gbdt_grower *g, uint32_t row) {
    int32_t i = 0;
    while (g->nodes[i].left >= 0) {
        const gnode *nd = &g->nodes[i];
        uint8_t v = g->codes[(size_t)nd->feat * g->n + row];
        int left = v == (uint8_t)g->bins->n_bins[nd->feat] ? nd->dl : v <= (uint8_t)nd->bin;
        i = left ? nd->left : nd->right;
    }
    return i;
}
