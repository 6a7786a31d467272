/* gbdt_split.c - split evaluation of the boosting learner: the best cut of one feature from a
 * node's gradient/hessian histogram (with the missing-value direction), whether a node may
 * split at all, and the best feature of each node (XGBoost's gain, G^2 / (H + lambda) terms). */
#include <math.h>

#include "models/gbdt_grower.h"

static inline double score_of(double G, double H, double lambda) { return G * G / (H + lambda); }

cand gbdt_best_on_feature(const gbdt_grower *g, const gnode *nd, size_t f) {
    cand best = {-INFINITY, 0, 0, -1, 0};
    const double lambda = g->gp.lambda, mcw = g->gp.min_child_weight;
    int32_t nb = g->bins->n_bins[f];
    const gbdt_gh *h = g->pool[nd->hist] + g->hoff[f];
    const gbdt_gh miss = h[nb];
    const int has_missing = miss.h > 0;
    const double G = nd->G, H = nd->H, parent = score_of(G, H, lambda);
    double GL = 0, HL = 0;
    for (int32_t b = 0; b < nb; b++) {
        GL += h[b].g;
        HL += h[b].h;
        if (b == nb - 1 && !has_missing) break; /* nothing would go right */
        for (int dl = 0; dl <= has_missing; dl++) {
            if (dl && b == nb - 1) break; /* nothing would go right */
            double gl = dl ? GL + miss.g : GL, hl = dl ? HL + miss.h : HL;
            double gr = G - gl, hr = H - hl;
            if (!(hl >= mcw && hr >= mcw && hl > 0 && hr > 0)) continue;
            double gain = score_of(gl, hl, lambda) + score_of(gr, hr, lambda) - parent;
            if (gain > best.gain) {
                best.gain = gain;
                best.GL = gl;
                best.HL = hl;
                best.bin = b;
                /* Without missing values in training, NaN follows the heavier child. */
                best.dl = has_missing ? dl : hl >= hr;
            }
        }
    }
    return best;
}

int gbdt_can_split(const gbdt_grower *g, const gnode *nd, size_t n_leaves) {
    if (g->gp.max_depth > 0 && nd->depth >= g->gp.max_depth) return 0;
    if (g->gp.max_leaves > 0 && n_leaves >= (size_t)g->gp.max_leaves) return 0;
    if (nd->count < 2) return 0; /* over all workers: every worker decides alike */
    return nd->H >= 2 * g->gp.min_child_weight;
}

void gbdt_choose_splits(gbdt_grower *g, const int32_t *kids, size_t nk, const int32_t *feats,
                        size_t nf) {
    for (size_t i = 0; i < nk; i++) {
        gnode *nd = &g->nodes[kids[i]];
        const cand *cs = g->cands + i * nf;
        size_t best = nf;
        for (size_t j = 0; j < nf; j++)
            if (cs[j].bin >= 0 && (best == nf || cs[j].gain > cs[best].gain)) best = j;
        if (best < nf && cs[best].gain > g->gp.gamma && cs[best].gain > GBDT_MIN_GAIN) {
            nd->has_split = 1;
            nd->feat = feats[best];
            nd->bin = cs[best].bin;
            nd->dl = cs[best].dl;
            nd->gain = cs[best].gain;
            nd->GL = cs[best].GL;
            nd->HL = cs[best].HL;
        }
    }
}
