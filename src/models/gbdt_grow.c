/* gbdt_grow.c - growing one regression tree on gradient/hessian histograms.
 *
 * Rows live in one index array; every node owns a contiguous range of it, split in place by a
 * stable partition. A node's histogram holds, per feature and bin, the sums of g and h; for a
 * split node only the smaller child's histogram is built from rows, the larger one is the
 * parent's minus it (computed in the parent's buffer). Leaves are expanded in batches: a whole
 * level (depthwise) or the best leaf (lossguide). Work inside a batch is split into (node,
 * feature) tasks, each done by one thread in row order, so the tree does not depend on the
 * thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/gbdt_internal.h"

/* XGBoost's kRtEps: a split must gain at least this much. */
#define MIN_GAIN 1e-6
/* Below this many row-feature updates a batch runs on one thread (a parallel region costs more). */
#define PAR_MIN_WORK 16384

typedef struct gnode {
    int64_t begin, end; /* rows part[begin .. end) */
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
    const gbdt_bins *bins;
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

static void *grow_array(void *p, size_t *cap, size_t need, size_t elem, at_error *err) {
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *q = realloc(p, c * elem);
    if (!q) {
        at_fail(err, AT_ERR_MEMORY, "out of memory growing a tree (%zu entries)", c);
        return NULL;
    }
    *cap = c;
    return q;
}

at_status gbdt_grower_new(const uint8_t *codes, size_t n, const gbdt_bins *bins,
                          const gbdt_grow_params *gp, gbdt_grower **out, at_error *err) {
    *out = NULL;
    if (n > UINT32_MAX)
        return at_fail(err, AT_ERR_DATA, "gradient boosting takes at most %u training rows",
                       UINT32_MAX);
    gbdt_grower *g = at_calloc(1, sizeof *g, err);
    if (!g) return AT_ERR_MEMORY;
    g->codes = codes;
    g->n = n;
    g->d = bins->d;
    g->bins = bins;
    g->gp = *gp;
    g->threads = 1;
    g->hoff = at_malloc(g->d + 1, sizeof *g->hoff, err);
    g->part = at_malloc(n, sizeof *g->part, err);
    g->tmp = at_malloc(n, sizeof *g->tmp, err);
    g->in_sample = at_malloc(n, 1, err);
    if (!g->hoff || !g->part || !g->tmp || !g->in_sample) {
        gbdt_grower_free(g);
        return AT_ERR_MEMORY;
    }
    g->hoff[0] = 0;
    for (size_t f = 0; f < g->d; f++) g->hoff[f + 1] = g->hoff[f] + bins->n_bins[f] + 1;
    g->slots = (size_t)g->hoff[g->d];
    *out = g;
    return AT_OK;
}

void gbdt_grower_free(gbdt_grower *g) {
    if (!g) return;
    for (size_t i = 0; i < g->pool_n; i++) free(g->pool[i]);
    free(g->pool);
    free(g->free_slots);
    free(g->hoff);
    free(g->part);
    free(g->tmp);
    free(g->in_sample);
    free(g->nodes);
    free(g->open);
    free(g->batch);
    free(g->build);
    free(g->kids);
    free(g->cands);
    free(g);
}

/* ---- histogram buffers ---- */

static int32_t hist_get(gbdt_grower *g, at_error *err) {
    if (g->n_free) return g->free_slots[--g->n_free];
    gbdt_gh **pool = realloc(g->pool, (g->pool_n + 1) * sizeof *pool);
    int32_t *fs = realloc(g->free_slots, (g->pool_n + 1) * sizeof *fs);
    if (pool) g->pool = pool;
    if (fs) g->free_slots = fs;
    gbdt_gh *h = pool && fs ? malloc(g->slots * sizeof *h) : NULL;
    if (!h) {
        at_fail(err, AT_ERR_MEMORY, "out of memory for a histogram (%zu bins)", g->slots);
        return -1;
    }
    g->pool[g->pool_n] = h;
    return (int32_t)g->pool_n++;
}

static void hist_put(gbdt_grower *g, int32_t *slot) {
    if (*slot >= 0) g->free_slots[g->n_free++] = *slot;
    *slot = -1;
}

/* Histograms of features feats[0..nf) of a node, one pass over its rows. Several features per
 * pass matter: consecutive rows of a deep node often share a bin, and the update of one bin
 * must wait for the previous one to it, while updates to other features' bins in between
 * keep the core busy. Each feature's sums still run in row order, so how features are grouped
 * (which depends on the thread count) does not change a bit of the result. */
#define GROUP_MAX 8
static void hist_build(const gbdt_grower *g, const gnode *nd, const int32_t *feats, size_t nf,
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

/* Feature groups per node: enough tasks for the threads, as few passes as that allows. */
static size_t groups_for(size_t nodes, size_t nf, int threads) {
    size_t want = nodes >= (size_t)threads ? 1 : ((size_t)threads + nodes - 1) / nodes;
    return want < nf ? want : nf;
}

/* ---- split search ---- */

static inline double score_of(double G, double H, double lambda) { return G * G / (H + lambda); }

/* The best split of node nd on feature f, from its histogram. */
static cand best_on_feature(const gbdt_grower *g, const gnode *nd, size_t f) {
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

static int can_split(const gbdt_grower *g, const gnode *nd, size_t n_leaves) {
    if (g->gp.max_depth > 0 && nd->depth >= g->gp.max_depth) return 0;
    if (g->gp.max_leaves > 0 && n_leaves >= (size_t)g->gp.max_leaves) return 0;
    if (nd->end - nd->begin < 2) return 0;
    return nd->H >= 2 * g->gp.min_child_weight;
}

/* ---- tree growth ---- */

static int32_t new_node(gbdt_grower *g, int64_t begin, int64_t end, int32_t depth, double G,
                        double H, at_error *err) {
    gnode *nodes = grow_array(g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *nodes, err);
    if (!nodes) return -1;
    g->nodes = nodes;
    gnode *nd = &nodes[g->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->begin = begin;
    nd->end = end;
    nd->depth = depth;
    nd->G = G;
    nd->H = H;
    nd->hist = -1;
    nd->left = nd->right = -1;
    nd->feat = -1;
    return (int32_t)g->n_nodes++;
}

/* Stable partition of a node's rows by its split; returns the left count. */
static int64_t partition(gbdt_grower *g, const gnode *nd) {
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

/* Picks the best split of each kid over the features, from cands[kid][feature]. */
static void choose_splits(gbdt_grower *g, const int32_t *kids, size_t nk, const int32_t *feats,
                          size_t nf) {
    for (size_t i = 0; i < nk; i++) {
        gnode *nd = &g->nodes[kids[i]];
        const cand *cs = g->cands + i * nf;
        size_t best = nf;
        for (size_t j = 0; j < nf; j++)
            if (cs[j].bin >= 0 && (best == nf || cs[j].gain > cs[best].gain)) best = j;
        if (best < nf && cs[best].gain > g->gp.gamma && cs[best].gain > MIN_GAIN) {
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

/* Histograms and best splits of the root. */
static at_status start_root(gbdt_grower *g, int32_t root, const gbdt_gh *gh, const int32_t *feats,
                            size_t nf, at_error *err) {
    gnode *nd = &g->nodes[root];
    if (!can_split(g, nd, 1)) return AT_OK;
    if ((nd->hist = hist_get(g, err)) < 0) return AT_ERR_MEMORY;
    gbdt_grower *gc = g;
    int par = (size_t)(nd->end - nd->begin) * nf >= PAR_MIN_WORK;
    size_t ng = par ? groups_for(1, nf, g->threads) : 1, per = (nf + ng - 1) / ng;
#pragma omp parallel for schedule(static, 1) num_threads(gc->threads) if (par)
    for (size_t t = 0; t < ng; t++) {
        size_t f0 = t * per, f1 = f0 + per < nf ? f0 + per : nf;
        if (f0 < f1) hist_build(gc, &gc->nodes[root], feats + f0, f1 - f0, gh);
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(gc->threads) if (par)
    for (size_t j = 0; j < nf; j++)
        gc->cands[j] = best_on_feature(gc, &gc->nodes[root], (size_t)feats[j]);
    int32_t kids[1] = {root};
    choose_splits(g, kids, 1, feats, nf);
    if (!nd->has_split) hist_put(g, &nd->hist);
    return AT_OK;
}

/* Splits every node of batch[0..nb): partitions, child histograms, child splits. */
static at_status expand(gbdt_grower *g, const int32_t *batch, size_t nb, const gbdt_gh *gh,
                        const int32_t *feats, size_t nf, size_t *n_leaves, at_error *err) {
    /* Children and partitions. */
    for (size_t i = 0; i < nb; i++) {
        gnode *p = &g->nodes[batch[i]];
        double GL = p->GL, HL = p->HL, GR = p->G - p->GL, HR = p->H - p->HL;
        int32_t depth = p->depth + 1;
        int64_t b = p->begin, e = p->end;
        int32_t l = new_node(g, b, b, depth, GL, HL, err);
        int32_t r = l >= 0 ? new_node(g, b, e, depth, GR, HR, err) : -1;
        if (r < 0) return AT_ERR_MEMORY;
        g->nodes[batch[i]].left = l;
        g->nodes[batch[i]].right = r;
    }
    *n_leaves += nb;
    gbdt_grower *gc = g;
    size_t rows = 0;
    for (size_t i = 0; i < nb; i++) rows += (size_t)(g->nodes[batch[i]].end - g->nodes[batch[i]].begin);
#pragma omp parallel for schedule(dynamic, 1) num_threads(gc->threads) if (rows >= PAR_MIN_WORK)
    for (size_t i = 0; i < nb; i++) {
        gnode *p = &gc->nodes[batch[i]];
        int64_t nl = partition(gc, p);
        gc->nodes[p->left].end = p->begin + nl;
        gc->nodes[p->right].begin = p->begin + nl;
    }
    /* Which children go on: the smaller of a pair is built from rows, the larger is the
     * parent's histogram minus it (in the parent's buffer). build[i] = the built child or -1. */
    size_t nk = 0, work = 0;
    for (size_t i = 0; i < nb; i++) {
        gnode *p = &g->nodes[batch[i]];
        gnode *l = &g->nodes[p->left], *r = &g->nodes[p->right];
        int need_l = can_split(g, l, *n_leaves), need_r = can_split(g, r, *n_leaves);
        g->build[i] = -1;
        if (!need_l && !need_r) {
            hist_put(g, &p->hist);
            continue;
        }
        int32_t small = l->end - l->begin <= r->end - r->begin ? p->left : p->right;
        int32_t large = small == p->left ? p->right : p->left;
        int32_t hs = hist_get(g, err);
        if (hs < 0) return AT_ERR_MEMORY;
        g->nodes[small].hist = hs;
        g->nodes[large].hist = g->nodes[batch[i]].hist;
        g->nodes[batch[i]].hist = -1;
        g->build[i] = small;
        work += (size_t)(g->nodes[small].end - g->nodes[small].begin);
        if (need_l) g->kids[nk++] = p->left;
        if (need_r) g->kids[nk++] = p->right;
    }
    if (nk == 0) return AT_OK;
    work *= nf;
    /* Build the smaller children's histograms. */
    size_t n_build = 0;
    for (size_t i = 0; i < nb; i++) n_build += g->build[i] >= 0;
    int par = work >= PAR_MIN_WORK;
    size_t ng = par ? groups_for(n_build, nf, g->threads) : 1, per = (nf + ng - 1) / ng;
#pragma omp parallel for schedule(dynamic, 1) num_threads(gc->threads) if (par)
    for (size_t t = 0; t < nb * ng; t++) {
        size_t i = t / ng, f0 = (t % ng) * per, f1 = f0 + per < nf ? f0 + per : nf;
        if (gc->build[i] >= 0 && f0 < f1)
            hist_build(gc, &gc->nodes[gc->build[i]], feats + f0, f1 - f0, gh);
    }
    /* Subtract for the larger, then search the splits of the kids that go on. kids[] lists them
     * pair by pair, so the kid index of a pair's children is found by walking. */
    size_t kid_at[nb ? nb : 1];
    for (size_t i = 0, k = 0; i < nb; i++) {
        kid_at[i] = k;
        if (g->build[i] >= 0) {
            const gnode *p = &g->nodes[batch[i]];
            k += (size_t)can_split(g, &g->nodes[p->left], *n_leaves) +
                 (size_t)can_split(g, &g->nodes[p->right], *n_leaves);
        }
    }
    size_t leaves_now = *n_leaves;
#pragma omp parallel for schedule(dynamic, 1) num_threads(gc->threads) if (par)
    for (size_t t = 0; t < nb * nf; t++) {
        size_t i = t / nf, j = t % nf;
        if (gc->build[i] < 0) continue;
        const gnode *p = &gc->nodes[batch[i]];
        int32_t small = gc->build[i], large = small == p->left ? p->right : p->left;
        size_t f = (size_t)feats[j];
        int32_t nbin = gc->bins->n_bins[f] + 1;
        gbdt_gh *hl = gc->pool[gc->nodes[large].hist] + gc->hoff[f];
        const gbdt_gh *hs = gc->pool[gc->nodes[small].hist] + gc->hoff[f];
        for (int32_t b = 0; b < nbin; b++) {
            hl[b].g -= hs[b].g;
            hl[b].h -= hs[b].h;
        }
        size_t k = kid_at[i];
        const int32_t ch[2] = {p->left, p->right};
        for (int c = 0; c < 2; c++)
            if (can_split(gc, &gc->nodes[ch[c]], leaves_now))
                gc->cands[(k++) * nf + j] = best_on_feature(gc, &gc->nodes[ch[c]], f);
    }
    choose_splits(g, g->kids, nk, feats, nf);
    /* Children that will not split need no histogram any more. */
    for (size_t i = 0; i < nb; i++) {
        const gnode *p = &g->nodes[batch[i]];
        gnode *ch[2] = {&g->nodes[p->left], &g->nodes[p->right]};
        for (int c = 0; c < 2; c++)
            if (!ch[c]->has_split) hist_put(g, &ch[c]->hist);
    }
    return AT_OK;
}

static at_status reserve_scratch(gbdt_grower *g, size_t nf, at_error *err) {
    /* Open leaves, a batch and its builds are at most the nodes; kids at most twice that. */
    size_t need = g->n_nodes + 2;
    if (need > g->cap_open) {
        size_t c = g->cap_open ? g->cap_open : 64;
        while (c < need) c *= 2;
        int32_t *a = realloc(g->open, c * sizeof *a);
        if (a) g->open = a;
        int32_t *b = a ? realloc(g->batch, c * sizeof *b) : NULL;
        if (b) g->batch = b;
        int32_t *bu = b ? realloc(g->build, c * sizeof *bu) : NULL;
        if (bu) g->build = bu;
        int32_t *k = bu ? realloc(g->kids, 2 * c * sizeof *k) : NULL;
        if (!k) return at_fail(err, AT_ERR_MEMORY, "out of memory growing a tree (%zu nodes)", c);
        g->kids = k;
        g->cap_open = c;
    }
    cand *cs = grow_array(g->cands, &g->cap_cands, 2 * need * (nf ? nf : 1), sizeof *cs, err);
    if (!cs) return AT_ERR_MEMORY;
    g->cands = cs;
    return AT_OK;
}

static at_status grow(gbdt_grower *g, const gbdt_gh *gh, const int32_t *feats, size_t nf,
                      size_t m, at_error *err) {
    at_status s;
    g->n_nodes = 0;
    double G = 0, H = 0;
    for (size_t j = 0; j < m; j++) {
        G += gh[g->part[j]].g;
        H += gh[g->part[j]].h;
    }
    int32_t root = new_node(g, 0, (int64_t)m, 0, G, H, err);
    if (root < 0) return AT_ERR_MEMORY;
    if ((s = reserve_scratch(g, nf, err))) return s;
    if ((s = start_root(g, root, gh, feats, nf, err))) return s;
    size_t n_leaves = 1, n_open = 0;
    if (g->nodes[root].has_split) g->open[n_open++] = root;
    while (n_open > 0) {
        size_t nb = 0;
        if (!g->gp.lossguide) {
            /* The whole level, in node order, as far as max_leaves allows. */
            for (size_t i = 0; i < n_open; i++) {
                if (g->gp.max_leaves > 0 && n_leaves + nb >= (size_t)g->gp.max_leaves) break;
                g->batch[nb++] = g->open[i];
            }
            n_open = 0;
        } else {
            /* The leaf with the best gain (the oldest on ties). */
            size_t best = 0;
            for (size_t i = 1; i < n_open; i++)
                if (g->nodes[g->open[i]].gain > g->nodes[g->open[best]].gain) best = i;
            if (g->gp.max_leaves > 0 && n_leaves >= (size_t)g->gp.max_leaves) break;
            g->batch[nb++] = g->open[best];
            memmove(g->open + best, g->open + best + 1, (n_open - best - 1) * sizeof *g->open);
            n_open--;
        }
        if (nb == 0) break;
        /* Nodes not taken (max_leaves reached) keep their histograms until the end. */
        if ((s = reserve_scratch(g, nf, err))) return s;
        if ((s = expand(g, g->batch, nb, gh, feats, nf, &n_leaves, err))) return s;
        if ((s = reserve_scratch(g, nf, err))) return s;
        for (size_t i = 0; i < nb; i++) {
            const gnode *p = &g->nodes[g->batch[i]];
            if (g->nodes[p->left].has_split) g->open[n_open++] = p->left;
            if (g->nodes[p->right].has_split) g->open[n_open++] = p->right;
        }
    }
    /* Release what is left (open leaves cut off by max_leaves). */
    for (size_t i = 0; i < g->n_nodes; i++) hist_put(g, &g->nodes[i].hist);
    return AT_OK;
}

/* Leaf of a training row, walking the grown tree on bin codes. */
static int32_t route(const gbdt_grower *g, uint32_t row) {
    int32_t i = 0;
    while (g->nodes[i].left >= 0) {
        const gnode *nd = &g->nodes[i];
        uint8_t v = g->codes[(size_t)nd->feat * g->n + row];
        int left = v == (uint8_t)g->bins->n_bins[nd->feat] ? nd->dl : v <= (uint8_t)nd->bin;
        i = left ? nd->left : nd->right;
    }
    return i;
}

at_status gbdt_grow_tree(gbdt_grower *g, const gbdt_gh *gh, const uint32_t *rows, size_t m,
                         const int32_t *feats, size_t nf, int threads, double *score, size_t stride,
                         at_error *err) {
    at_status s;
    g->threads = threads > 0 ? threads : 1;
    if (rows) {
        memcpy(g->part, rows, m * sizeof *rows);
    } else {
        m = g->n;
        for (size_t i = 0; i < m; i++) g->part[i] = (uint32_t)i;
    }
    if ((s = grow(g, gh, feats, nf, m, err))) return s;
    /* Leaf values, and the training rows of each leaf straight from its range. */
    const double lambda = g->gp.lambda, eta = g->gp.eta;
    for (size_t i = 0; i < g->n_nodes; i++) {
        gnode *nd = &g->nodes[i];
        nd->value = -nd->G / (nd->H + lambda) * eta;
        if (nd->left < 0)
            for (int64_t j = nd->begin; j < nd->end; j++) score[(size_t)g->part[j] * stride] += nd->value;
    }
    /* Rows left out by subsampling still need the tree's value. */
    if (rows && m < g->n) {
        memset(g->in_sample, 0, g->n);
        for (size_t j = 0; j < m; j++) g->in_sample[rows[j]] = 1;
        for (size_t i = 0; i < g->n; i++)
            if (!g->in_sample[i]) score[i * stride] += g->nodes[route(g, (uint32_t)i)].value;
    }
    return AT_OK;
}

at_status gbdt_grower_commit(const gbdt_grower *g, gbdt_model *mdl, at_error *err) {
    at_status s;
    /* Node ids are creation order, the root first. */
    if ((s = gbdt_model_reserve(mdl, 1, g->n_nodes, err))) return s;
    size_t t = mdl->n_trees, base = mdl->n_nodes;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const gnode *nd = &g->nodes[i];
        size_t o = base + i;
        mdl->value[o] = nd->value;
        if (nd->left >= 0) {
            mdl->feature[o] = nd->feat;
            mdl->thr[o] = g->bins->edges[g->bins->offset[nd->feat] + nd->bin];
            mdl->left[o] = nd->left;
            mdl->right[o] = nd->right;
            mdl->default_left[o] = (uint8_t)nd->dl;
            mdl->gain[o] = nd->gain;
        } else {
            mdl->feature[o] = -1;
            mdl->thr[o] = 0;
            mdl->left[o] = mdl->right[o] = -1;
            mdl->default_left[o] = 0;
            mdl->gain[o] = 0;
        }
    }
    mdl->n_nodes = base + g->n_nodes;
    mdl->tree_off[t + 1] = (int64_t)mdl->n_nodes;
    mdl->n_trees = t + 1;
    return gbdt_model_pack_tree(mdl, t, err);
}
