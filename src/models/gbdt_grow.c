/* gbdt_grow.c - the boosting tree learner's growth policy: one regression tree on gradient/
 * hessian histograms, returned as a core tree (the boosting loop appends it to the model).
 *
 * Rows live in one index array; every node owns a contiguous range of it, split in place by a
 * stable partition (gbdt_partition.c). A node's histogram (gbdt_hist.c) holds, per feature and
 * bin, the sums of g and h; for a split node only the smaller child's histogram is built from
 * rows, the larger one is the parent's minus it (computed in the parent's buffer); built
 * histograms pass the reduce seam before any split is searched (gbdt_split.c). Leaves are
 * expanded in batches: a whole level (depthwise) or the best leaf (lossguide). Work inside a
 * batch is split into (node, feature) tasks, each done by one thread in row order, so the tree
 * does not depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/gbdt_grower.h"

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

at_status gbdt_grower_new(const uint8_t *codes, size_t n, const tree_bins *bins,
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
    nd->count = end - begin;
    nd->depth = depth;
    nd->G = G;
    nd->H = H;
    nd->hist = -1;
    nd->left = nd->right = -1;
    nd->feat = -1;
    return (int32_t)g->n_nodes++;
}

/* Histograms and best splits of the root. */
static at_status start_root(gbdt_grower *g, int32_t root, const gbdt_gh *gh, const int32_t *feats,
                            size_t nf, at_error *err) {
    gnode *nd = &g->nodes[root];
    if (!gbdt_can_split(g, nd, 1)) return AT_OK;
    if ((nd->hist = gbdt_hist_get(g, err)) < 0) return AT_ERR_MEMORY;
    gbdt_grower *gc = g;
    int par = (size_t)(nd->end - nd->begin) * nf >= GBDT_PAR_MIN_WORK;
    size_t ng = par ? gbdt_hist_groups(1, nf, g->threads) : 1, per = (nf + ng - 1) / ng;
#pragma omp parallel for schedule(static, 1) num_threads(gc->threads) if (par)
    for (size_t t = 0; t < ng; t++) {
        size_t f0 = t * per, f1 = f0 + per < nf ? f0 + per : nf;
        if (f0 < f1) gbdt_hist_build(gc, &gc->nodes[root], feats + f0, f1 - f0, gh);
    }
    gbdt_hist_reduce(g, nd, feats, nf);
#pragma omp parallel for schedule(dynamic, 1) num_threads(gc->threads) if (par)
    for (size_t j = 0; j < nf; j++)
        gc->cands[j] = gbdt_best_on_feature(gc, &gc->nodes[root], (size_t)feats[j]);
    int32_t kids[1] = {root};
    gbdt_choose_splits(g, kids, 1, feats, nf);
    if (!nd->has_split) gbdt_hist_put(g, &nd->hist);
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
#pragma omp parallel for schedule(dynamic, 1) num_threads(gc->threads) if (rows >= GBDT_PAR_MIN_WORK)
    for (size_t i = 0; i < nb; i++) {
        gnode *p = &gc->nodes[batch[i]];
        int64_t nl = gbdt_partition(gc, p);
        gc->nodes[p->left].end = p->begin + nl;
        gc->nodes[p->right].begin = p->begin + nl;
    }
    /* Row counts of the children over all workers: which child is built and whether a node
     * may split must be decided alike by every worker. One small sum per batch. */
    for (size_t i = 0; i < nb; i++) {
        gnode *p = &g->nodes[batch[i]];
        g->nodes[p->left].count = g->nodes[p->left].end - g->nodes[p->left].begin;
        g->nodes[p->right].count = g->nodes[p->right].end - g->nodes[p->right].begin;
    }
    if (g->gp.reduce.sum) {
        double *cnt = malloc(2 * nb * sizeof *cnt);
        if (!cnt) return at_fail(err, AT_ERR_MEMORY, "out of memory");
        for (size_t i = 0; i < nb; i++) {
            cnt[2 * i] = (double)g->nodes[g->nodes[batch[i]].left].count;
            cnt[2 * i + 1] = (double)g->nodes[g->nodes[batch[i]].right].count;
        }
        g->gp.reduce.sum(g->gp.reduce.ctx, cnt, 2 * nb);
        for (size_t i = 0; i < nb; i++) {
            g->nodes[g->nodes[batch[i]].left].count = (int64_t)cnt[2 * i];
            g->nodes[g->nodes[batch[i]].right].count = (int64_t)cnt[2 * i + 1];
        }
        free(cnt);
    }
    /* Which children go on: the smaller of a pair is built from rows, the larger is the
     * parent's histogram minus it (in the parent's buffer). build[i] = the built child or -1. */
    size_t nk = 0, work = 0;
    for (size_t i = 0; i < nb; i++) {
        gnode *p = &g->nodes[batch[i]];
        gnode *l = &g->nodes[p->left], *r = &g->nodes[p->right];
        int need_l = gbdt_can_split(g, l, *n_leaves), need_r = gbdt_can_split(g, r, *n_leaves);
        g->build[i] = -1;
        if (!need_l && !need_r) {
            gbdt_hist_put(g, &p->hist);
            continue;
        }
        int32_t small = l->count <= r->count ? p->left : p->right;
        int32_t large = small == p->left ? p->right : p->left;
        int32_t hs = gbdt_hist_get(g, err);
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
    int par = work >= GBDT_PAR_MIN_WORK;
    size_t ng = par ? gbdt_hist_groups(n_build, nf, g->threads) : 1, per = (nf + ng - 1) / ng;
#pragma omp parallel for schedule(dynamic, 1) num_threads(gc->threads) if (par)
    for (size_t t = 0; t < nb * ng; t++) {
        size_t i = t / ng, f0 = (t % ng) * per, f1 = f0 + per < nf ? f0 + per : nf;
        if (gc->build[i] >= 0 && f0 < f1)
            gbdt_hist_build(gc, &gc->nodes[gc->build[i]], feats + f0, f1 - f0, gh);
    }
    /* The built histograms are each worker's share: summed before anything reads them. */
    if (g->gp.reduce.sum) {
        size_t m = 0;
        for (size_t i = 0; i < nb; i++)
            if (g->build[i] >= 0) g->build[m++] = g->build[i];
        /* build[] is packed for the reduce, then restored from the pairs below. */
        gbdt_hist_reduce_many(g, g->build, m, feats, nf);
        for (size_t i = nb, j = m; i-- > 0;) {
            const gnode *p = &g->nodes[batch[i]];
            int32_t b = j > 0 ? g->build[j - 1] : -1;
            if (b >= 0 && (b == p->left || b == p->right)) g->build[i] = b, j--;
            else g->build[i] = -1;
        }
    }
    /* Subtract for the larger, then search the splits of the kids that go on. kids[] lists them
     * pair by pair, so the kid index of a pair's children is found by walking. */
    size_t kid_at[nb ? nb : 1];
    for (size_t i = 0, k = 0; i < nb; i++) {
        kid_at[i] = k;
        if (g->build[i] >= 0) {
            const gnode *p = &g->nodes[batch[i]];
            k += (size_t)gbdt_can_split(g, &g->nodes[p->left], *n_leaves) +
                 (size_t)gbdt_can_split(g, &g->nodes[p->right], *n_leaves);
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
        gbdt_hist_subtract(gc, large, small, f);
        size_t k = kid_at[i];
        const int32_t ch[2] = {p->left, p->right};
        for (int c = 0; c < 2; c++)
            if (gbdt_can_split(gc, &gc->nodes[ch[c]], leaves_now))
                gc->cands[(k++) * nf + j] = gbdt_best_on_feature(gc, &gc->nodes[ch[c]], f);
    }
    gbdt_choose_splits(g, g->kids, nk, feats, nf);
    /* Children that will not split need no histogram any more. */
    for (size_t i = 0; i < nb; i++) {
        const gnode *p = &g->nodes[batch[i]];
        gnode *ch[2] = {&g->nodes[p->left], &g->nodes[p->right]};
        for (int c = 0; c < 2; c++)
            if (!ch[c]->has_split) gbdt_hist_put(g, &ch[c]->hist);
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
    double GHN[3] = {G, H, (double)m};
    if (g->gp.reduce.sum) {
        g->gp.reduce.sum(g->gp.reduce.ctx, GHN, 3);
        G = GHN[0];
        H = GHN[1];
    }
    int32_t root = new_node(g, 0, (int64_t)m, 0, G, H, err);
    if (root < 0) return AT_ERR_MEMORY;
    g->nodes[root].count = (int64_t)GHN[2];
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
    for (size_t i = 0; i < g->n_nodes; i++) gbdt_hist_put(g, &g->nodes[i].hist);
    return AT_OK;
}

/* The grown nodes as a core tree: node ids are creation order (the root first, children after
 * their parent), thresholds the bins' upper edges, so prediction needs no binning. */
static at_status to_tree(const gbdt_grower *g, tree *out, at_error *err) {
    tree_free(out);
    tree_init(out, 1);
    at_status s = tree_reserve(out, g->n_nodes, err);
    if (s) return s;
    out->n_nodes = g->n_nodes;
    int32_t maxd = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const gnode *nd = &g->nodes[i];
        out->value[i] = nd->value;
        if (nd->left >= 0)
            tree_set_split(out, (int32_t)i, nd->feat, g->bins->edge[g->bins->offset[nd->feat] + nd->bin],
                           nd->dl, nd->left, nd->right, nd->gain);
        else {
            tree_set_leaf(out, (int32_t)i);
            if (nd->depth > maxd) maxd = nd->depth;
        }
    }
    out->depth = maxd;
    return AT_OK;
}

at_status gbdt_grow_tree(gbdt_grower *g, const gbdt_gh *gh, const uint32_t *rows, size_t m,
                         const int32_t *feats, size_t nf, int threads, double *score, size_t stride,
                         tree *out, at_error *err) {
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
            if (!g->in_sample[i]) score[i * stride] += g->nodes[gbdt_route(g, (uint32_t)i)].value;
    }
    return to_tree(g, out, err);
}
