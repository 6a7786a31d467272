/* forest_rows.c - the random forest data-parallel by rows ([run] distribute = rows). Each rank
 * keeps only its share of the training rows (one process: all of them) and every rank grows
 * every tree, level by level, to the same nodes:
 *   - bootstrap: row i of the global training part is drawn Poisson(1) times, from a hash of
 *     (seed, tree, i) alone, so a row's multiplicity does not depend on which rank holds it;
 *   - bins: the plain forest's quantile cuts of the whole training part (gathered once onto
 *     every rank, binned, freed);
 *   - a large node: per feature and bin, integer multiplicities per class and the count of
 *     distinct in-bag rows, summed across ranks (one MPI_Allreduce per level, the tree core's
 *     `tree_reduce` seam as boosting uses it). Integers summed in double are exact in any order,
 *     so every rank on any number of ranks sees the same histograms, splits, child counts and
 *     gains; the class weights multiply the summed counts;
 *   - a small node (at most `gather` distinct in-bag rows: max(256, the bytes of its histograms
 *     over the bytes of a row), fixed by the data, not the ranks): its rows (global index,
 *     multiplicity, label, features) are gathered onto every rank in global order (one
 *     allgatherv per level) and its whole subtree grows there with exact thresholds between its
 *     own values, as the plain forest's small nodes do; no further traffic for it;
 *   - of two large siblings only the smaller histogram is built and summed; the other is the
 *     parent's minus it (exact on integer counts);
 *   - every node draws its feature order from its own stream (seed, tree, node); trees grow in
 *     batches of ROWS_BATCH, one message per level for the whole batch, threads over the
 *     batch's trees; neither the batch nor the schedule changes the forest.
 * The forest, its importances and out-of-bag accuracy are therefore bit-identical for 1, 2, 3 ...
 * ranks, a single process with distribute = rows included. It is its own forest, not the plain
 * one (Poisson bootstrap, per-node streams). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "astrotrain/comm.h"
#include "astrotrain/rng.h"
#include "models/forest_impl.h"

/* Trees grown together (one message per level for all of them); never changes the forest. */
#define ROWS_BATCH 16

typedef struct rctx {
    const at_forest_params *p;
    size_t d, k, mtry, nl, B; /* local rows, total bins over the features */
    const tree_bins *bins;
    const uint8_t *codes; /* d * nl, feature-major */
    const double *X;      /* nl * d, row-major */
    const uint8_t *y;     /* nl */
    const double *cw;     /* k class weights */
    uint64_t seed, g0;    /* g0: global index of this rank's first training row */
    size_t gather;
    int threads;
    at_comm *comm;
} rctx;

static uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* How many times tree t draws global row g: Poisson(1) by inverse CDF of a hash. */
static unsigned poisson1(uint64_t seed, uint64_t t, uint64_t g) {
    uint64_t h = mix64(mix64(seed ^ mix64(t + 0x51ed27)) ^ g);
    double u = (double)(h >> 11) * 0x1.0p-53, p = exp(-1.0), c = p;
    unsigned m = 0;
    while (u >= c && m < 32) {
        m++;
        p /= m;
        c += p;
    }
    return m;
}

static void node_rng(at_rng *r, uint64_t seed, uint64_t t, int32_t node, uint32_t sub) {
    at_rng_init(r, seed, mix64(mix64(t) ^ ((uint64_t)(uint32_t)node << 32 | sub)));
}

/* Weighted class counts of integer counts cnt (k of them): returns their total. */
static double weigh(const rctx *c, const double *cnt, double *w) {
    double s = 0;
    for (size_t j = 0; j < c->k; j++) s += (w[j] = c->cw[j] * cnt[j]);
    return s;
}

/* Whether a node with counts cnt (k classes + distinct rows) at depth may split; fills its
 * weighted counts and impurity. */
static int splittable(const rctx *c, const double *cnt, int32_t depth, double *wc, double *wtot, double *imp) {
    const at_forest_params *P = c->p;
    size_t k = c->k, nn = (size_t)cnt[k];
    int nonzero = 0;
    for (size_t j = 0; j < k; j++) nonzero += cnt[j] > 0;
    *wtot = weigh(c, cnt, wc);
    if ((P->max_depth > 0 && depth >= P->max_depth) || nn < (size_t)P->min_samples_split ||
        nn < 2 * (size_t)P->min_samples_leaf || nonzero <= 1)
        return 0;
    *imp = forest_impurity(wc, k, *wtot, P->criterion);
    return *imp > DBL_EPSILON;
}

typedef struct rsplit {
    int found;
    int32_t feature;
    int bin;     /* large nodes: rows with bin <= bin go left */
    double thr;  /* x <= thr goes left */
    double proxy;
    double lc[257]; /* left counts: k classes + distinct rows */
} rsplit;

/* Split candidates of one feature from the node's summed histogram h (bins x (k + 1)). */
static int scan_hist(const rctx *c, const double *h, size_t f, const double *cnt, rsplit *best) {
    size_t k = c->k, K = k + 1, o = (size_t)c->bins->offset[f], nb = (size_t)c->bins->n_bins[f];
    size_t min_leaf = (size_t)c->p->min_samples_leaf, nn = (size_t)cnt[k];
    int crit = c->p->criterion;
    const double *hf = h + o * K;
    size_t lo = nb, hi = 0;
    for (size_t b = 0; b < nb; b++)
        if (hf[b * K + k] > 0) {
            if (lo == nb) lo = b;
            hi = b;
        }
    if (lo >= hi) return 0;
    double L[257], R[257], wl_[256], wr_[256];
    memset(L, 0, K * sizeof *L);
    int last = -1;
    for (size_t b = lo; b <= hi; b++) {
        const double *hb = hf + b * K;
        if (!(hb[k] > 0)) continue;
        size_t nleft = (size_t)L[k];
        if (last >= 0 && nleft >= min_leaf) {
            if (nn - nleft < min_leaf) break;
            for (size_t j = 0; j < K; j++) R[j] = cnt[j] - L[j];
            double wl = weigh(c, L, wl_), wr = weigh(c, R, wr_);
            if (wl > 0 && wr > 0) {
                double pr = forest_proxy(wl_, k, wl, crit) + forest_proxy(wr_, k, wr, crit);
                if (!best->found || pr > best->proxy) {
                    best->found = 1;
                    best->proxy = pr;
                    best->feature = (int32_t)f;
                    best->bin = last;
                    best->thr = forest_split_threshold(c->bins->hi[o + (size_t)last], c->bins->lo[o + b]);
                    memcpy(best->lc, L, K * sizeof *L);
                }
            }
        }
        for (size_t j = 0; j < K; j++) L[j] += hb[j];
        last = (int)b;
    }
    return 1;
}

/* The impurity decrease of a split of weighted total wtot, impurity imp, into counts L and
 * cnt - L (k classes + rows). */
static double decrease(const rctx *c, const double *cnt, const double *L, double wtot, double imp) {
    size_t k = c->k;
    double R[257], wl_[256], wr_[256];
    for (size_t j = 0; j <= k; j++) R[j] = cnt[j] - L[j];
    double wl = weigh(c, L, wl_), wr = weigh(c, R, wr_);
    int crit = c->p->criterion;
    return wtot * imp - wl * forest_impurity(wl_, k, wl, crit) - wr * forest_impurity(wr_, k, wr, crit);
}

/* ---- a small node's subtree, on its gathered rows -------------------------------------- */

/* A gathered row: global index, multiplicity, label, then d features. */
#define REC(d) (3 + (d))

typedef forest_valrow valpos;

typedef struct sframe {
    size_t a, b;
    int32_t node, depth;
} sframe;

/* Exact candidates of feature f over the node's rows S[a, b), S sorted by (value, position). */
static int scan_exact(const rctx *c, const double *R, const uint32_t *S, size_t a, size_t b, size_t f,
                      const double *cnt, rsplit *best) {
    size_t k = c->k, K = k + 1, nn = b - a, rec = REC(c->d);
    size_t min_leaf = (size_t)c->p->min_samples_leaf;
    int crit = c->p->criterion;
#define XV(q) R[(size_t)S[q] * rec + 3 + f]
    if (XV(a) == XV(b - 1)) return 0;
    double L[257], Rc[257], wl_[256], wr_[256];
    memset(L, 0, K * sizeof *L);
    for (size_t i = 0; i + 1 < nn; i++) {
        const double *r = R + (size_t)S[a + i] * rec;
        L[(size_t)r[2]] += r[1];
        L[k] += 1;
        double v = XV(a + i), vn = XV(a + i + 1);
        if (vn == v) continue;
        size_t nleft = i + 1;
        if (nleft < min_leaf) continue;
        if (nn - nleft < min_leaf) break;
        for (size_t j = 0; j < K; j++) Rc[j] = cnt[j] - L[j];
        double wl = weigh(c, L, wl_), wr = weigh(c, Rc, wr_);
        if (!(wl > 0 && wr > 0)) continue;
        double pr = forest_proxy(wl_, k, wl, crit) + forest_proxy(wr_, k, wr, crit);
        if (!best->found || pr > best->proxy) {
            best->found = 1;
            best->proxy = pr;
            best->feature = (int32_t)f;
            best->thr = forest_split_threshold(v, vn);
            memcpy(best->lc, L, K * sizeof *L);
        }
    }
#undef XV
    return 1;
}

/* Grows the subtree of main node `id` (depth depth0, counts cnt) on its m gathered rows R into
 * s (width k + 1; node 0 = the root), adding its impurity decreases to imp. Each feature's rows
 * are sorted once (by value, then position: a total order) and every split partitions them
 * stably, so a node's rows stay sorted in every feature (presorted CART). */
static at_status grow_small(const rctx *c, uint64_t ti, int32_t id, int32_t depth0, const double *cnt, const double *R,
                            size_t m, tree *s, double *imp, at_error *err) {
    size_t k = c->k, K = k + 1, d = c->d, rec = REC(d);
    uint32_t *S = malloc((m * d + 1) * sizeof *S), *tmp = malloc((m + 1) * sizeof *tmp);
    valpos *sv = malloc((m + 1) * sizeof *sv), *sv2 = malloc((m + 1) * sizeof *sv2);
    uint8_t *left = malloc(m + 1);
    size_t *perm = malloc((d + 1) * sizeof *perm);
    sframe *stack = malloc((m + 2) * sizeof *stack);
    at_status st = AT_OK;
    tree_init(s, K);
    if (!S || !tmp || !sv || !sv2 || !left || !perm || !stack || tree_reserve(s, 1, NULL)) {
        st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory growing tree %zu", (size_t)ti);
        goto done;
    }
    for (size_t f = 0; f < d; f++) {
        for (size_t i = 0; i < m; i++) sv[i] = (valpos){R[i * rec + 3 + f], (uint32_t)i};
        const valpos *o = forest_sort_vals(sv, sv2, m);
        for (size_t i = 0; i < m; i++) S[f * m + i] = o[i].i;
    }
    memcpy(s->value, cnt, K * sizeof *cnt);
    s->n_nodes = 1;
    s->depth = 0;
    size_t sp = 0;
    stack[sp++] = (sframe){0, m, 0, 0};
    while (sp) {
        sframe fr = stack[--sp];
        if (fr.depth > s->depth) s->depth = fr.depth;
        tree_set_leaf(s, fr.node);
        double wc[256], wtot, im = 0, node_cnt[257];
        memcpy(node_cnt, s->value + (size_t)fr.node * K, K * sizeof *node_cnt);
        if (!splittable(c, node_cnt, depth0 + fr.depth, wc, &wtot, &im)) continue;
        at_rng rng;
        node_rng(&rng, c->seed, ti, id, (uint32_t)fr.node);
        for (size_t j = 0; j < d; j++) perm[j] = j;
        rsplit best;
        best.found = 0;
        size_t visited = 0;
        for (size_t i = 0; i < d; i++) {
            if (visited >= c->mtry && best.found) break;
            size_t j = i + (size_t)at_rng_below(&rng, d - i), f = perm[j];
            perm[j] = perm[i];
            perm[i] = f;
            visited += (size_t)scan_exact(c, R, S + f * m, fr.a, fr.b, f, node_cnt, &best);
        }
        if (!best.found) continue;
        size_t nleft = 0;
        for (size_t q = fr.a; q < fr.b; q++) {
            uint32_t r = S[(size_t)best.feature * m + q];
            left[r] = R[(size_t)r * rec + 3 + (size_t)best.feature] <= best.thr;
            nleft += left[r];
        }
        for (size_t f = 0; f < d; f++) { /* stable partition of every feature's order */
            uint32_t *Sf = S + f * m;
            size_t l = fr.a, r = 0;
            for (size_t q = fr.a; q < fr.b; q++) {
                if (left[Sf[q]])
                    Sf[l++] = Sf[q];
                else
                    tmp[r++] = Sf[q];
            }
            memcpy(Sf + l, tmp, r * sizeof *tmp);
        }
        size_t a = fr.a + nleft;
        if (tree_reserve(s, s->n_nodes + 2, NULL)) {
            st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory growing tree %zu", (size_t)ti);
            goto done;
        }
        int32_t Ln = (int32_t)s->n_nodes, Rn = Ln + 1;
        s->n_nodes += 2;
        double *vl = s->value + (size_t)Ln * K, *vr = s->value + (size_t)Rn * K;
        for (size_t j = 0; j < K; j++) vl[j] = best.lc[j], vr[j] = node_cnt[j] - best.lc[j];
        double dec = decrease(c, node_cnt, best.lc, wtot, im);
        imp[best.feature] += dec;
        tree_set_split(s, fr.node, best.feature, best.thr, 0, Ln, Rn, dec);
        stack[sp++] = (sframe){a, fr.b, Rn, fr.depth + 1};
        stack[sp++] = (sframe){fr.a, a, Ln, fr.depth + 1};
    }
done:
    free(S);
    free(tmp);
    free(sv);
    free(sv2);
    free(left);
    free(perm);
    free(stack);
    if (st) tree_free(s);
    return st;
}

/* Puts subtree s in place of main node id: its root becomes id, its other nodes are appended. */
static at_status graft(tree *t, int32_t id, int32_t depth0, const tree *s, at_error *err) {
    size_t K = t->width, base = t->n_nodes;
    if (tree_reserve(t, base + s->n_nodes - 1, err)) return AT_ERR_MEMORY;
#define MAPN(x) ((x) == 0 ? id : (int32_t)(base + (size_t)(x) - 1))
    for (size_t i = 0; i < s->n_nodes; i++) {
        int32_t to = MAPN((int32_t)i);
        tree_node nd = s->nodes[i];
        nd.left = MAPN(nd.left);
        nd.right = MAPN(nd.right);
        t->nodes[to] = nd;
        memcpy(t->value + (size_t)to * K, s->value + i * K, K * sizeof(double));
        t->gain[to] = s->gain[i];
    }
#undef MAPN
    t->n_nodes = base + s->n_nodes - 1;
    if (depth0 + s->depth > t->depth) t->depth = depth0 + s->depth;
    return AT_OK;
}

/* ---- a batch of trees, level by level ---------------------------------------------------
 * The trees of a batch grow together: each level of every tree of the batch builds its
 * histograms and packs its small nodes' rows (threads over trees), then one allreduce and one
 * allgatherv carry the whole batch's level, then every tree splits, grows its small subtrees
 * and partitions its rows (threads over trees). Trees never share state, so the batch size
 * changes the number of messages, never the forest. */

typedef struct onode {
    int32_t id, depth;
    size_t a, b;     /* this rank's in-bag rows: idx[a, b), in row order */
    int32_t pslot;   /* the parent's histogram in prevH (-1: none) */
    int32_t sib;     /* the sibling's index in the level (-1: none) */
} onode;

typedef struct tstate {
    size_t ti;
    tree t;          /* width k + 1: integer class counts and distinct rows per node */
    double *imp;     /* d impurity decreases */
    uint8_t *inbag;  /* this rank's rows (borrowed) */
    uint32_t *idx;   /* this rank's in-bag rows, partitioned node by node (stably: each node's
                      * rows stay in row order, so its gathered rows come in global order) */
    uint32_t *tmp;   /* nl: the partition's right side */
    double *mult;    /* nl multiplicities */
    double *prevH;   /* the last level's large-node histograms (nlarge_prev * B * (k + 1)) */
    onode *cur;
    size_t ncur;
    /* this level */
    size_t *large, *small, nlarge, nsmall;
    int32_t *hsrc;   /* per large node: its slot among the built histograms, or -2 - (the large
                      * index of its sibling) when derived as parent - sibling */
    size_t nbuilt;
    size_t hoff, soff, sn; /* slices of the batch's histogram and send buffers (doubles) */
    rsplit *splits;
    double **rows;   /* nsmall: the gathered rows of each small node */
    tree *subs;      /* nsmall subtrees */
    double *subimp;  /* nsmall * d */
    size_t *fill;    /* nsmall: rows gathered so far */
    at_status st;
    at_error err;
} tstate;

static void ts_level_free(tstate *s) {
    if (s->rows)
        for (size_t i = 0; i < s->nsmall; i++) free(s->rows[i]);
    if (s->subs)
        for (size_t i = 0; i < s->nsmall; i++) tree_free(&s->subs[i]);
    free(s->rows), free(s->subs), free(s->subimp), free(s->splits), free(s->large), free(s->small), free(s->fill);
    free(s->hsrc);
    s->rows = NULL, s->subs = NULL, s->subimp = NULL, s->splits = NULL, s->large = NULL, s->small = NULL;
    s->fill = NULL, s->hsrc = NULL;
    s->nbuilt = 0;
    s->nlarge = s->nsmall = 0;
}

static void ts_free(tstate *s) {
    ts_level_free(s);
    tree_free(&s->t);
    free(s->imp), free(s->idx), free(s->tmp), free(s->mult), free(s->cur), free(s->prevH);
    s->imp = NULL, s->idx = NULL, s->tmp = NULL, s->mult = NULL, s->cur = NULL, s->prevH = NULL;
}

static at_status ts_fail(tstate *s) {
    return s->st = at_fail(&s->err, AT_ERR_MEMORY, "random forest: out of memory growing tree %zu", s->ti);
}

/* The bootstrap of this rank's rows and the root's local counts (K doubles into root). */
static void ts_start(const rctx *c, tstate *s, double *root) {
    size_t nl = c->nl, K = c->k + 1;
    tree_init(&s->t, K);
    s->imp = calloc(c->d + 1, sizeof *s->imp);
    s->idx = malloc((nl + 1) * sizeof *s->idx);
    s->tmp = malloc((nl + 1) * sizeof *s->tmp);
    s->mult = malloc((nl + 1) * sizeof *s->mult);
    s->cur = malloc(sizeof *s->cur);
    memset(root, 0, K * sizeof *root);
    if (!s->imp || !s->idx || !s->tmp || !s->mult || !s->cur || tree_reserve(&s->t, 1, NULL)) {
        ts_fail(s);
        return;
    }
    size_t m = 0;
    for (size_t i = 0; i < nl; i++) {
        unsigned mu = c->p->bootstrap ? poisson1(c->seed, s->ti, c->g0 + i) : 1;
        s->mult[i] = mu;
        if (!mu) continue;
        s->inbag[i >> 3] |= (uint8_t)(1u << (i & 7));
        root[c->y[i]] += mu;
        root[c->k] += 1;
        s->idx[m++] = (uint32_t)i;
    }
    s->t.n_nodes = 1;
    s->t.depth = 0;
    s->cur[0] = (onode){0, 0, 0, m, -1, -1};
    s->ncur = 1;
}

/* Leaves, large and small nodes of this level; the sizes of its slices. */
static void ts_classify(const rctx *c, tstate *s, size_t *hn, size_t *sn) {
    size_t K = c->k + 1, rec = REC(c->d);
    *hn = *sn = 0;
    s->large = malloc((s->ncur + 1) * sizeof *s->large);
    s->small = malloc((s->ncur + 1) * sizeof *s->small);
    if (!s->large || !s->small) {
        ts_fail(s);
        return;
    }
    for (size_t i = 0; i < s->ncur; i++) {
        onode *o = &s->cur[i];
        tree_set_leaf(&s->t, o->id);
        if (o->depth > s->t.depth) s->t.depth = o->depth;
        double wc[256], wtot, im;
        const double *cnt = s->t.value + (size_t)o->id * K;
        if (!splittable(c, cnt, o->depth, wc, &wtot, &im)) continue;
        if ((size_t)cnt[c->k] <= c->gather)
            s->small[s->nsmall++] = i;
        else
            s->large[s->nlarge++] = i;
    }
    /* Of two large siblings only the one with fewer rows (ties: the left) is built and summed;
     * the other is its parent's histogram minus it (integer counts: exact). */
    int32_t *lidx = malloc((s->ncur + 1) * sizeof *lidx);
    s->hsrc = malloc((s->nlarge + 1) * sizeof *s->hsrc);
    if (!lidx || !s->hsrc) {
        free(lidx);
        ts_fail(s);
        return;
    }
    for (size_t i = 0; i < s->ncur; i++) lidx[i] = -1;
    for (size_t li = 0; li < s->nlarge; li++) lidx[s->large[li]] = (int32_t)li;
    for (size_t li = 0; li < s->nlarge; li++) {
        size_t i = s->large[li];
        const onode *o = &s->cur[i];
        int32_t j = o->sib;
        s->hsrc[li] = -1;
        if (o->pslot >= 0 && j >= 0 && lidx[j] >= 0) {
            double ni = s->t.value[(size_t)o->id * K + c->k], nj = s->t.value[(size_t)s->cur[j].id * K + c->k];
            if (nj < ni || (nj == ni && (size_t)j < i)) s->hsrc[li] = -2 - lidx[j];
        }
        if (s->hsrc[li] == -1) s->hsrc[li] = (int32_t)s->nbuilt++;
    }
    free(lidx);
    *hn = s->nbuilt * c->B * K;
    *sn = s->nsmall;
    for (size_t i = 0; i < s->nsmall; i++) *sn += (s->cur[s->small[i]].b - s->cur[s->small[i]].a) * rec;
    s->splits = malloc((s->nlarge + 1) * sizeof *s->splits);
    s->rows = calloc(s->nsmall + 1, sizeof *s->rows);
    s->subs = calloc(s->nsmall + 1, sizeof *s->subs);
    s->subimp = calloc(s->nsmall * c->d + 1, sizeof *s->subimp);
    s->fill = calloc(s->nsmall + 1, sizeof *s->fill);
    if (!s->splits || !s->rows || !s->subs || !s->subimp || !s->fill) ts_fail(s);
}

/* This rank's histograms of the large nodes into H (zeroed) and the small nodes' rows, in
 * global order, into send: nsmall counts, then the rows. */
static void ts_fill(const rctx *c, tstate *s, double *H, double *send) {
    size_t k = c->k, K = k + 1, d = c->d, nl = c->nl, B = c->B, rec = REC(d);
    for (size_t li = 0; li < s->nlarge; li++) {
        const onode *o = &s->cur[s->large[li]];
        if (s->hsrc[li] < 0) continue; /* derived after the sum */
        for (size_t f = 0; f < d; f++) {
            double *h = H + (size_t)s->hsrc[li] * B * K + (size_t)c->bins->offset[f] * K;
            const uint8_t *col = c->codes + f * nl;
            for (size_t q = o->a; q < o->b; q++) {
                uint32_t r = s->idx[q];
                double *hb = h + (size_t)col[r] * K;
                hb[c->y[r]] += s->mult[r];
                hb[k] += 1;
            }
        }
    }
    double *q = send + s->nsmall;
    for (size_t i = 0; i < s->nsmall; i++) {
        const onode *o = &s->cur[s->small[i]];
        send[i] = (double)(o->b - o->a);
        for (size_t j = o->a; j < o->b; j++) {
            uint32_t r = s->idx[j];
            q[0] = (double)(c->g0 + r), q[1] = s->mult[r], q[2] = c->y[r];
            memcpy(q + 3, c->X + (size_t)r * d, d * sizeof *q);
            q += rec;
        }
    }
}

/* Splits of the large nodes (from the summed histograms H), the small subtrees (from their
 * gathered rows), the children and this rank's partition: the next level. */
static void ts_advance(const rctx *c, tstate *s, const double *H) {
    size_t k = c->k, K = k + 1, d = c->d, nl = c->nl, B = c->B;
    tree *t = &s->t;
    size_t BK = B * K;
    double *Hf = malloc((s->nlarge * BK + 1) * sizeof *Hf);
    if (!Hf) {
        ts_fail(s);
        return;
    }
    for (size_t li = 0; li < s->nlarge; li++)
        if (s->hsrc[li] >= 0) memcpy(Hf + li * BK, H + (size_t)s->hsrc[li] * BK, BK * sizeof *Hf);
    for (size_t li = 0; li < s->nlarge; li++)
        if (s->hsrc[li] < 0) {
            const double *par = s->prevH + (size_t)s->cur[s->large[li]].pslot * BK;
            const double *sib = Hf + (size_t)(-2 - s->hsrc[li]) * BK;
            double *h = Hf + li * BK;
            for (size_t q = 0; q < BK; q++) h[q] = par[q] - sib[q];
        }
    free(s->prevH);
    s->prevH = Hf;
    for (size_t li = 0; li < s->nlarge; li++) {
        const onode *o = &s->cur[s->large[li]];
        const double *cnt = t->value + (size_t)o->id * K;
        rsplit *best = &s->splits[li];
        best->found = 0;
        at_rng rng;
        node_rng(&rng, c->seed, s->ti, o->id, 0);
        size_t perm[256 + 1], *pm = d <= 256 ? perm : NULL, visited = 0;
        size_t *heap = pm ? NULL : malloc(d * sizeof *heap);
        if (!pm) pm = heap;
        if (!pm) {
            ts_fail(s);
            return;
        }
        for (size_t j = 0; j < d; j++) pm[j] = j;
        for (size_t i = 0; i < d; i++) {
            if (visited >= c->mtry && best->found) break;
            size_t j = i + (size_t)at_rng_below(&rng, d - i), f = pm[j];
            pm[j] = pm[i];
            pm[i] = f;
            visited += (size_t)scan_hist(c, Hf + li * BK, f, cnt, best);
        }
        free(heap);
    }
    for (size_t i = 0; i < s->nsmall; i++) {
        const onode *o = &s->cur[s->small[i]];
        const double *cnt = t->value + (size_t)o->id * K;
        if ((s->st = grow_small(c, s->ti, o->id, o->depth, cnt, s->rows[i], (size_t)cnt[k], &s->subs[i],
                                s->subimp + i * d, &s->err)))
            return;
    }
    onode *next = malloc((2 * s->nlarge + 1) * sizeof *next);
    size_t nnext = 0;
    if (!next) {
        ts_fail(s);
        return;
    }
    for (size_t li = 0; li < s->nlarge; li++) {
        const onode *o = &s->cur[s->large[li]];
        const rsplit *sp = &s->splits[li];
        if (!sp->found) continue;
        if (tree_reserve(t, t->n_nodes + 2, NULL)) {
            free(next);
            ts_fail(s);
            return;
        }
        int32_t Ln = (int32_t)t->n_nodes, Rn = Ln + 1;
        t->n_nodes += 2;
        const double *cnt = t->value + (size_t)o->id * K;
        double *vl = t->value + (size_t)Ln * K, *vr = t->value + (size_t)Rn * K;
        for (size_t j = 0; j < K; j++) vl[j] = sp->lc[j], vr[j] = cnt[j] - sp->lc[j];
        double wc[256], wtot = weigh(c, cnt, wc), im = forest_impurity(wc, k, wtot, c->p->criterion);
        double dec = decrease(c, cnt, sp->lc, wtot, im);
        s->imp[sp->feature] += dec;
        tree_set_split(t, o->id, sp->feature, sp->thr, 0, Ln, Rn, dec);
        /* This rank's rows: bin <= bin left (the bin test and x <= thr agree), stably. */
        const uint8_t *col = c->codes + (size_t)sp->feature * nl;
        size_t a = o->a, nr = 0;
        for (size_t q = o->a; q < o->b; q++) {
            uint32_t r = s->idx[q];
            if (col[r] <= sp->bin)
                s->idx[a++] = r;
            else
                s->tmp[nr++] = r;
        }
        memcpy(s->idx + a, s->tmp, nr * sizeof *s->tmp);
        next[nnext] = (onode){Ln, o->depth + 1, o->a, a, (int32_t)li, (int32_t)nnext + 1};
        next[nnext + 1] = (onode){Rn, o->depth + 1, a, o->b, (int32_t)li, (int32_t)nnext};
        nnext += 2;
    }
    for (size_t i = 0; i < s->nsmall && !s->st; i++) {
        const onode *o = &s->cur[s->small[i]];
        s->st = graft(t, o->id, o->depth, &s->subs[i], &s->err);
        for (size_t j = 0; j < d; j++) s->imp[j] += s->subimp[i * d + j];
    }
    ts_level_free(s);
    free(s->cur);
    s->cur = next;
    s->ncur = nnext;
}

/* The first failure among the batch's trees (in tree order), or AT_OK. */
static at_status batch_status(tstate *ts, size_t nb, at_error *err) {
    for (size_t b = 0; b < nb; b++)
        if (ts[b].st) {
            *err = ts[b].err;
            return ts[b].st;
        }
    return AT_OK;
}

/* Grows trees ts[0..nb) (ti and inbag set) to the end. Every rank calls it for the same trees. */
static at_status grow_batch(const rctx *c, tstate *ts, size_t nb, at_error *err) {
    size_t K = c->k + 1;
    int P = at_comm_size(c->comm);
    at_status st = AT_OK;
    double *root = calloc(nb * K + 1, sizeof *root), *H = NULL, *send = NULL;
    size_t *hn = calloc(nb + 1, sizeof *hn), *sn = calloc(nb + 1, sizeof *sn);
    size_t *counts = calloc((size_t)P, sizeof *counts);
    void *recv = NULL;
    if (!root || !hn || !sn || !counts) st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory");
    if (!st) {
#pragma omp parallel for schedule(dynamic) num_threads(c->threads) if (nb > 1)
        for (size_t b = 0; b < nb; b++) ts_start(c, &ts[b], root + b * K);
        st = batch_status(ts, nb, err);
    }
    if ((st = at_comm_agree(c->comm, st, err)) || (st = at_comm_sum_f64(c->comm, root, nb * K, err))) goto done;
    for (size_t b = 0; b < nb; b++) memcpy(ts[b].t.value, root + b * K, K * sizeof *root);
    for (;;) {
        size_t open = 0, htot = 0, stot = 0;
        for (size_t b = 0; b < nb; b++) open += ts[b].ncur;
        if (!open) break;
#pragma omp parallel for schedule(dynamic) num_threads(c->threads) if (nb > 1)
        for (size_t b = 0; b < nb; b++) ts_classify(c, &ts[b], &hn[b], &sn[b]);
        st = batch_status(ts, nb, err);
        for (size_t b = 0; b < nb; b++) {
            ts[b].hoff = htot, ts[b].soff = stot, ts[b].sn = sn[b];
            htot += hn[b], stot += sn[b];
        }
        if (!st) {
            H = calloc(htot + 1, sizeof *H);
            send = malloc((stot + 1) * sizeof *send);
            if (!H || !send) st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory for a level's buffers");
        }
        if ((st = at_comm_agree(c->comm, st, err))) goto done;
#pragma omp parallel for schedule(dynamic) num_threads(c->threads) if (nb > 1)
        for (size_t b = 0; b < nb; b++) ts_fill(c, &ts[b], H + ts[b].hoff, send + ts[b].soff);
        if ((st = at_comm_sum_f64(c->comm, H, htot, err))) goto done;
        if ((st = at_comm_allgatherv(c->comm, send, stot * sizeof *send, &recv, counts, err))) goto done;
        /* Every rank's block: the batch's trees in order, each its counts then its rows; blocks in
         * rank order = global row order. */
        for (size_t b = 0; b < nb && !st; b++)
            for (size_t i = 0; i < ts[b].nsmall && !st; i++) {
                size_t rows = (size_t)ts[b].t.value[(size_t)ts[b].cur[ts[b].small[i]].id * K + c->k];
                if (!(ts[b].rows[i] = malloc((rows * REC(c->d) + 1) * sizeof(double))))
                    st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory");
            }
        const double *blk = recv;
        for (int r = 0; r < P && !st; r++) {
            const double *q = blk;
            for (size_t b = 0; b < nb && !st; b++) {
                tstate *s = &ts[b];
                const double *rq = q + s->nsmall;
                for (size_t i = 0; i < s->nsmall; i++) {
                    size_t n = (size_t)q[i], rows = (size_t)s->t.value[(size_t)s->cur[s->small[i]].id * K + c->k];
                    size_t have = s->fill[i];
                    if (have + n > rows) {
                        st = at_fail(err, AT_ERR_INTERNAL, "random forest: gathered rows disagree with node counts");
                        break;
                    }
                    memcpy(s->rows[i] + have * REC(c->d), rq, n * REC(c->d) * sizeof *rq);
                    s->fill[i] = have + n;
                    rq += n * REC(c->d);
                }
                q = rq;
            }
            blk += counts[r] / sizeof(double);
        }
        for (size_t b = 0; b < nb && !st; b++)
            for (size_t i = 0; i < ts[b].nsmall && !st; i++)
                if (ts[b].fill[i] != (size_t)ts[b].t.value[(size_t)ts[b].cur[ts[b].small[i]].id * K + c->k])
                    st = at_fail(err, AT_ERR_INTERNAL, "random forest: gathered rows disagree with node counts");
        free(send), free(recv);
        send = NULL, recv = NULL;
        if (st) goto done; /* the same data on every rank: every rank fails alike */
#pragma omp parallel for schedule(dynamic) num_threads(c->threads) if (nb > 1)
        for (size_t b = 0; b < nb; b++) ts_advance(c, &ts[b], H + ts[b].hoff);
        free(H);
        H = NULL;
        st = batch_status(ts, nb, err);
        if ((st = at_comm_agree(c->comm, st, err))) goto done;
    }
done:
    free(root), free(hn), free(sn), free(counts), free(H), free(send), free(recv);
    return st;
}

/* ---- the forest ------------------------------------------------------------------------- */

/* Counts of width k + 1 -> normalised class distributions of width k. */
static at_status finish_tree(const rctx *c, const tree *g, tree *out, at_error *err) {
    size_t k = c->k;
    tree_init(out, k);
    if (tree_reserve(out, g->n_nodes, err)) return AT_ERR_MEMORY;
    memcpy(out->nodes, g->nodes, g->n_nodes * sizeof *g->nodes);
    memcpy(out->gain, g->gain, g->n_nodes * sizeof *g->gain);
    out->n_nodes = g->n_nodes;
    out->depth = g->depth;
    for (size_t i = 0; i < g->n_nodes; i++) {
        double *v = out->value + i * k, s = weigh(c, g->value + i * (k + 1), v);
        for (size_t j = 0; j < k; j++) v[j] = s > 0 ? v[j] / s : 1.0 / (double)k;
    }
    return AT_OK;
}

at_status forest_grow_rows(const at_forest_params *p, size_t mtry, size_t k, const at_fit_input *in, tree_list *L,
                           double **importance, double *oob, at_error *err) {
    const at_dataset *ds = in->train;
    at_comm *comm = in->comm;
    size_t nl = ds->n, d = ds->d, nt = (size_t)p->n_trees;
    if (!ds->y) return at_fail(err, AT_ERR_DATA, "random forest: the training data have no labels");
    int threads = forest_threads(in->threads);
    at_status st = AT_OK;
    tree_bins bins = {0};
    int64_t ng = (int64_t)nl, *counts = calloc(k, sizeof *counts);
    uint64_t g0 = 0;
    uint8_t *y = malloc(nl + 1), *codes = malloc(nl * d + 1), **bags = calloc(nt + 1, sizeof *bags);
    double *cw = calloc(k, sizeof *cw), *imp = calloc(d + 1, sizeof *imp);
    void *Xall = NULL;
    tree out = {0};
    tstate *ts = NULL;
    tree_init(&out, k);
    if (!counts || !y || !codes || !bags || !cw || !imp)
        st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory");
    if (!st && nl > UINT32_MAX) st = at_fail(err, AT_ERR_DATA, "random forest: %zu training rows on one rank is more than supported", nl);
    for (size_t i = 0; i < nl && !st; i++) {
        if (ds->y[i] < 0 || (size_t)ds->y[i] >= k) {
            st = at_fail(err, AT_ERR_DATA, "random forest: training row %zu has label %d, not in 0..%zu", i,
                         (int)ds->y[i], k - 1);
            break;
        }
        y[i] = (uint8_t)ds->y[i];
        counts[y[i]]++;
    }
    if ((st = at_comm_agree(comm, st, err))) goto done;
    if ((st = at_comm_sum_i64(comm, &ng, 1, err)) || (st = at_comm_sum_i64(comm, counts, k, err)) ||
        (st = at_comm_exscan_u64(comm, nl, &g0, err)))
        goto done;
    for (size_t j = 0; j < k; j++)
        cw[j] = p->class_weight == AT_CLASS_WEIGHT_BALANCED && counts[j]
                    ? (double)ng / ((double)k * (double)counts[j])
                    : 1.0;
    /* The plain forest's bins, from the whole training part (held for this moment only). */
    const double *Xb = ds->X;
    if (at_comm_size(comm) > 1) {
        if ((st = at_comm_allgatherv(comm, ds->X, nl * d * sizeof(double), &Xall, NULL, err))) goto done;
        Xb = Xall;
    }
    st = tree_bins_fit(Xb, (size_t)ng, d, (int)p->max_bins, TREE_CUTS_RANK, 0, threads, &bins, err);
    if (st) at_error_prefix(err, "random forest: ");
    free(Xall);
    Xall = NULL;
    if (st) goto done; /* the same data on every rank: every rank fails alike */
    tree_bins_encode(&bins, ds->X, nl, codes, threads);

    rctx c = {p, d, k, mtry, nl, (size_t)bins.offset[d], &bins, codes, ds->X, y, cw, in->seed, g0, 256, threads, comm};
    size_t by_bytes = c.B * (k + 1) / REC(d);
    if (by_bytes > c.gather) c.gather = by_bytes;
    tree_list_init(L, k);
    size_t used = 0, batch = nt < ROWS_BATCH ? nt : ROWS_BATCH;
    if (!(ts = calloc(batch + 1, sizeof *ts))) st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory");
    if ((st = at_comm_agree(comm, st, err))) goto done;
    for (size_t t0 = 0; t0 < nt; t0 += batch) {
        size_t nb = nt - t0 < batch ? nt - t0 : batch;
        st = at_progress_stopped(in->progress) ? at_fail(err, AT_ERR_INTERRUPTED, "random forest: fit interrupted") : AT_OK;
        for (size_t b = 0; b < nb && !st; b++) {
            memset(&ts[b], 0, sizeof ts[b]);
            ts[b].ti = t0 + b;
            if (!(ts[b].inbag = bags[t0 + b] = calloc((nl + 7) / 8 + 1, 1)))
                st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory");
        }
        if ((st = at_comm_agree(comm, st, err))) goto done;
        if (at_comm_size(comm) > 1) {
            st = grow_batch(&c, ts, nb, err);
        } else {
            /* One rank: no messages to share, so each thread grows whole trees (no barrier per
             * level); the same trees. */
            rctx c1 = c;
            c1.comm = NULL;
            c1.threads = 1;
            at_status *bs = calloc(nb, sizeof *bs);
            at_error *be = calloc(nb, sizeof *be);
            if (!bs || !be) st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory");
            if (!st) {
#pragma omp parallel for schedule(dynamic) num_threads(threads)
                for (size_t b = 0; b < nb; b++) bs[b] = grow_batch(&c1, &ts[b], 1, &be[b]);
                for (size_t b = 0; b < nb && !st; b++)
                    if (bs[b]) st = bs[b], *err = be[b];
            }
            free(bs), free(be);
        }
        for (size_t b = 0; b < nb && !st; b++) {
            tstate *s = &ts[b];
            if ((st = finish_tree(&c, &s->t, &out, err)) || (st = tree_list_append(L, &out, err))) break;
            tree_free(&out);
            double sum = 0;
            for (size_t j = 0; j < d; j++) sum += s->imp[j];
            if (s->t.n_nodes > 1 && sum > 0) {
                for (size_t j = 0; j < d; j++) imp[j] += s->imp[j] / sum;
                used++;
            }
        }
        for (size_t b = 0; b < nb; b++) ts_free(&ts[b]);
        if (st) goto done;
        at_progress_update(in->progress, "fit random_forest", t0 + nb, nt, NULL);
    }
    if (L->n_nodes > (size_t)INT32_MAX) {
        st = at_fail(err, AT_ERR_MEMORY, "random forest: %zu nodes is more than supported", L->n_nodes);
        goto done;
    }
    double s = 0;
    for (size_t j = 0; j < d; j++) s += imp[j];
    if (used && s > 0)
        for (size_t j = 0; j < d; j++) imp[j] /= s;
    /* Out-of-bag accuracy: each rank votes on its own rows; the counts are summed. */
    *oob = NAN;
    if (p->bootstrap && p->oob_score) {
        double *pv = calloc(nl * k + 1, sizeof *pv);
        int64_t cc[2] = {0, 0};
        if (pv) {
            tree_predict_add_except(L, 0, nt, 1, ds->X, nl, d, pv, k, threads, (const uint8_t *const *)bags);
            size_t correct, counted;
            forest_oob_votes(pv, (const uint8_t *const *)bags, nt, nl, k, ds->y, threads, &correct, &counted);
            cc[0] = (int64_t)correct;
            cc[1] = (int64_t)counted;
        } else {
            cc[1] = -((int64_t)1 << 40); /* out of memory here: no figure anywhere */
        }
        free(pv);
        if ((st = at_comm_sum_i64(comm, cc, 2, err))) goto done;
        *oob = cc[1] > 0 ? (double)cc[0] / (double)cc[1] : NAN;
    }
    *importance = imp;
    imp = NULL;
done:
    if (st) tree_list_free(L);
    if (ts)
        for (size_t b = 0; b < ROWS_BATCH && b < nt; b++) ts_free(&ts[b]);
    free(ts);
    tree_free(&out);
    tree_bins_free(&bins);
    if (bags)
        for (size_t t = 0; t < nt; t++) free(bags[t]);
    free(bags), free(counts), free(y), free(codes), free(cw), free(imp), free(Xall);
    return st;
}
