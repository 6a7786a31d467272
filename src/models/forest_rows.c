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
 *   - every node draws its feature order from its own stream (seed, tree, node), so small
 *     subtrees grow in parallel (threads) and the result does not depend on the schedule.
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

/* ---- one tree, level by level ---------------------------------------------------------- */

typedef struct onode {
    int32_t id, depth;
    size_t a, b; /* this rank's in-bag rows: idx[a, b) */
} onode;

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

typedef struct level {
    onode *cur, *next;
    size_t ncur, nnext;
    size_t *large, *small;
    rsplit *splits;
    double *H;
    double *send;
    void *recv;
    size_t *counts;
    double **rows;  /* per small node: its gathered rows */
    tree *subs;
    double *subimp;
    at_status *sst;
    at_error *serr;
    size_t nsm; /* small nodes whose rows/subs are allocated */
} level;

static void level_clear(level *lv) {
    size_t nsmall = lv->nsm;
    lv->nsm = 0;
    free(lv->H), free(lv->send), free(lv->recv), free(lv->splits), free(lv->sst), free(lv->serr);
    if (lv->rows)
        for (size_t i = 0; i < nsmall; i++) free(lv->rows[i]);
    free(lv->rows);
    if (lv->subs)
        for (size_t i = 0; i < nsmall; i++) tree_free(&lv->subs[i]);
    free(lv->subs), free(lv->subimp);
    lv->H = NULL, lv->send = NULL, lv->recv = NULL, lv->splits = NULL, lv->rows = NULL, lv->subs = NULL;
    lv->subimp = NULL, lv->sst = NULL, lv->serr = NULL;
}

/* Grows tree ti (counts of width k + 1 in t) with its impurity decreases (imp, d) and this
 * rank's in-bag map (inbag, nl bits). Every rank calls it for every tree, in the same order. */
static at_status grow_tree_rows(const rctx *c, size_t ti, tree *t, double *imp, uint8_t *inbag, at_error *err) {
    const at_forest_params *P = c->p;
    size_t nl = c->nl, k = c->k, K = k + 1, d = c->d, B = c->B, rec = REC(d);
    int P_ = at_comm_size(c->comm);
    uint32_t *idx = malloc((nl + 1) * sizeof *idx);
    double *mult = malloc((nl + 1) * sizeof *mult);
    level lv = {0};
    at_status st = AT_OK;
    tree_init(t, K);
    lv.cur = malloc(sizeof *lv.cur), lv.ncur = 0;
    lv.counts = malloc((size_t)P_ * sizeof *lv.counts);
    if (!idx || !mult || !lv.cur || !lv.counts || tree_reserve(t, 1, NULL)) {
        st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory growing tree %zu", ti);
    }
    if ((st = at_comm_agree(c->comm, st, err))) goto done;
    size_t m = 0;
    double *root = t->value;
    memset(root, 0, K * sizeof *root);
    for (size_t i = 0; i < nl; i++) {
        unsigned mu = P->bootstrap ? poisson1(c->seed, ti, c->g0 + i) : 1;
        mult[i] = mu;
        if (!mu) continue;
        inbag[i >> 3] |= (uint8_t)(1u << (i & 7));
        root[c->y[i]] += mu;
        root[k] += 1;
        idx[m++] = (uint32_t)i;
    }
    if ((st = at_comm_sum_f64(c->comm, root, K, err))) goto done;
    t->n_nodes = 1;
    t->depth = 0;
    lv.cur[0] = (onode){0, 0, 0, m};
    lv.ncur = 1;
    while (lv.ncur) {
        size_t ncur = lv.ncur, nlarge = 0, nsmall = 0;
        lv.large = malloc(ncur * sizeof *lv.large);
        lv.small = malloc(ncur * sizeof *lv.small);
        lv.next = malloc(2 * ncur * sizeof *lv.next);
        if (!lv.large || !lv.small || !lv.next) st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory");
        for (size_t i = 0; i < ncur && !st; i++) {
            onode *o = &lv.cur[i];
            tree_set_leaf(t, o->id);
            if (o->depth > t->depth) t->depth = o->depth;
            double wc[256], wtot, im;
            const double *cnt = t->value + (size_t)o->id * K;
            if (!splittable(c, cnt, o->depth, wc, &wtot, &im)) continue;
            if ((size_t)cnt[k] <= c->gather)
                lv.small[nsmall++] = i;
            else
                lv.large[nlarge++] = i;
        }
        /* This level's buffers: the large nodes' histograms, the small nodes' rows to send. */
        size_t hn = nlarge * B * K, nsend = nsmall;
        for (size_t s = 0; s < nsmall; s++) nsend += (lv.cur[lv.small[s]].b - lv.cur[lv.small[s]].a) * rec;
        if (!st) {
            lv.H = calloc(hn + 1, sizeof *lv.H);
            lv.send = malloc((nsend + 1) * sizeof *lv.send);
            lv.splits = malloc((nlarge + 1) * sizeof *lv.splits);
            lv.rows = calloc(nsmall + 1, sizeof *lv.rows);
            lv.nsm = nsmall;
            lv.subs = calloc(nsmall + 1, sizeof *lv.subs);
            lv.subimp = calloc(nsmall * d + 1, sizeof *lv.subimp);
            lv.sst = calloc(nsmall + 1, sizeof *lv.sst);
            lv.serr = calloc(nsmall + 1, sizeof *lv.serr);
            if (!lv.H || !lv.send || !lv.splits || !lv.rows || !lv.subs || !lv.subimp || !lv.sst || !lv.serr)
                st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory for tree %zu's level buffers", ti);
        }
        if ((st = at_comm_agree(c->comm, st, err))) goto done;

        /* Large nodes: local histograms, then summed across ranks. */
        if (nlarge) {
            size_t work = 0; /* rows x features: threads only where they pay */
            for (size_t li = 0; li < nlarge; li++) work += (lv.cur[lv.large[li]].b - lv.cur[lv.large[li]].a) * d;
#pragma omp parallel for schedule(dynamic) num_threads(c->threads) if (work > 65536)
            for (size_t w = 0; w < nlarge * d; w++) {
                size_t li = w / d, f = w % d;
                const onode *o = &lv.cur[lv.large[li]];
                double *h = lv.H + li * B * K + (size_t)c->bins->offset[f] * K;
                const uint8_t *col = c->codes + f * nl;
                for (size_t q = o->a; q < o->b; q++) {
                    uint32_t r = idx[q];
                    double *hb = h + (size_t)col[r] * K;
                    hb[c->y[r]] += mult[r];
                    hb[k] += 1;
                }
            }
            if ((st = at_comm_sum_f64(c->comm, lv.H, hn, err))) goto done;
        }
        /* Small nodes: this rank's rows in global order, gathered onto every rank. */
        if (nsmall) {
            double *q = lv.send + nsmall;
            for (size_t s = 0; s < nsmall; s++) {
                onode *o = &lv.cur[lv.small[s]];
                qsort(idx + o->a, o->b - o->a, sizeof *idx, cmp_u32);
                lv.send[s] = (double)(o->b - o->a);
                for (size_t i = o->a; i < o->b; i++) {
                    uint32_t r = idx[i];
                    q[0] = (double)(c->g0 + r), q[1] = mult[r], q[2] = c->y[r];
                    memcpy(q + 3, c->X + (size_t)r * d, d * sizeof *q);
                    q += rec;
                }
            }
            if ((st = at_comm_allgatherv(c->comm, lv.send, nsend * sizeof *lv.send, &lv.recv, lv.counts, err))) goto done;
            size_t *fill = calloc(nsmall + 1, sizeof *fill);
            if (!fill) st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory");
            for (size_t s = 0; s < nsmall && !st; s++) {
                size_t rows = (size_t)t->value[(size_t)lv.cur[lv.small[s]].id * K + k];
                if (!(lv.rows[s] = malloc((rows * rec + 1) * sizeof(double))))
                    st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory");
            }
            /* Rank blocks in rank order = global row order; each block: counts, then rows. */
            const double *blk = lv.recv;
            for (int r = 0; r < P_ && !st; r++) {
                const double *rq = blk + nsmall;
                for (size_t s = 0; s < nsmall; s++) {
                    size_t cntr = (size_t)blk[s], rows = (size_t)t->value[(size_t)lv.cur[lv.small[s]].id * K + k];
                    if (fill[s] + cntr > rows) {
                        st = at_fail(err, AT_ERR_INTERNAL, "random forest: gathered rows disagree with node counts");
                        break;
                    }
                    memcpy(lv.rows[s] + fill[s] * rec, rq, cntr * rec * sizeof *rq);
                    fill[s] += cntr;
                    rq += cntr * rec;
                }
                blk += lv.counts[r] / sizeof(double);
            }
            free(fill);
            if (st) goto done; /* the same data on every rank: every rank fails alike */
        }

        /* Split searches (pure functions of the summed histograms and the node's stream). */
#pragma omp parallel for schedule(dynamic) num_threads(c->threads) if (nlarge > 8)
        for (size_t li = 0; li < nlarge; li++) {
            const onode *o = &lv.cur[lv.large[li]];
            const double *cnt = t->value + (size_t)o->id * K;
            rsplit *best = &lv.splits[li];
            best->found = 0;
            at_rng rng;
            node_rng(&rng, c->seed, ti, o->id, 0);
            size_t perm[256 + 1], *pm = d <= 256 ? perm : NULL, visited = 0;
            size_t *heap = pm ? NULL : malloc(d * sizeof *heap);
            if (!pm) pm = heap;
            if (!pm) continue;
            for (size_t j = 0; j < d; j++) pm[j] = j;
            for (size_t i = 0; i < d; i++) {
                if (visited >= c->mtry && best->found) break;
                size_t j = i + (size_t)at_rng_below(&rng, d - i), f = pm[j];
                pm[j] = pm[i];
                pm[i] = f;
                visited += (size_t)scan_hist(c, lv.H + li * B * K, f, cnt, best);
            }
            free(heap);
        }
        /* Small subtrees (each on its own rows and streams: in parallel). */
#pragma omp parallel for schedule(dynamic) num_threads(c->threads) if (nsmall > 1)
        for (size_t s = 0; s < nsmall; s++) {
            const onode *o = &lv.cur[lv.small[s]];
            const double *cnt = t->value + (size_t)o->id * K;
            lv.sst[s] = grow_small(c, ti, o->id, o->depth, cnt, lv.rows[s], (size_t)cnt[k], &lv.subs[s],
                                   lv.subimp + s * d, &lv.serr[s]);
        }
        for (size_t s = 0; s < nsmall && !st; s++)
            if (lv.sst[s]) st = lv.sst[s], *err = lv.serr[s];
        /* Children of the large nodes in node order, then the small subtrees grafted. */
        lv.nnext = 0;
        for (size_t li = 0; li < nlarge && !st; li++) {
            onode *o = &lv.cur[lv.large[li]];
            rsplit *sp = &lv.splits[li];
            if (!sp->found) continue;
            if (tree_reserve(t, t->n_nodes + 2, err)) {
                st = AT_ERR_MEMORY;
                break;
            }
            const double *cnt = t->value + (size_t)o->id * K;
            int32_t Ln = (int32_t)t->n_nodes, Rn = Ln + 1;
            t->n_nodes += 2;
            cnt = t->value + (size_t)o->id * K; /* reserve may have moved it */
            double *vl = t->value + (size_t)Ln * K, *vr = t->value + (size_t)Rn * K;
            for (size_t j = 0; j < K; j++) vl[j] = sp->lc[j], vr[j] = cnt[j] - sp->lc[j];
            double wc[256], wtot = weigh(c, cnt, wc), im = forest_impurity(wc, k, wtot, P->criterion);
            double dec = decrease(c, cnt, sp->lc, wtot, im);
            imp[sp->feature] += dec;
            tree_set_split(t, o->id, sp->feature, sp->thr, 0, Ln, Rn, dec);
            /* This rank's rows: bin <= bin left. */
            const uint8_t *col = c->codes + (size_t)sp->feature * nl;
            size_t a = o->a, b = o->b;
            while (a < b) {
                uint32_t r = idx[a];
                if (col[r] <= sp->bin) {
                    a++;
                } else {
                    idx[a] = idx[--b];
                    idx[b] = r;
                }
            }
            lv.next[lv.nnext++] = (onode){Ln, o->depth + 1, o->a, a};
            lv.next[lv.nnext++] = (onode){Rn, o->depth + 1, a, o->b};
        }
        for (size_t s = 0; s < nsmall && !st; s++) {
            const onode *o = &lv.cur[lv.small[s]];
            st = graft(t, o->id, o->depth, &lv.subs[s], err);
            for (size_t j = 0; j < d; j++) imp[j] += lv.subimp[s * d + j];
        }
        level_clear(&lv);
        free(lv.large), free(lv.small), free(lv.cur);
        lv.large = lv.small = NULL;
        lv.cur = lv.next, lv.ncur = lv.nnext, lv.next = NULL;
        if (st) goto done;
    }
done:
    level_clear(&lv);
    free(lv.large), free(lv.small), free(lv.cur), free(lv.next), free(lv.counts);
    free(idx), free(mult);
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
    int threads = in->threads;
#ifdef _OPENMP
    if (threads <= 0) threads = omp_get_max_threads();
#endif
    if (threads <= 0) threads = 1;
    at_status st = AT_OK;
    tree_bins bins = {0};
    int64_t ng = (int64_t)nl, *counts = calloc(k, sizeof *counts);
    uint64_t g0 = 0;
    uint8_t *y = malloc(nl + 1), *codes = malloc(nl * d + 1), **bags = calloc(nt + 1, sizeof *bags);
    double *cw = calloc(k, sizeof *cw), *imp = calloc(d + 1, sizeof *imp), *timp = calloc(d + 1, sizeof *timp);
    void *Xall = NULL;
    tree g = {0}, out = {0};
    tree_init(&g, k + 1);
    tree_init(&out, k);
    if (!counts || !y || !codes || !bags || !cw || !imp || !timp)
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
    size_t used = 0;
    for (size_t t = 0; t < nt; t++) {
        st = at_progress_stopped(in->progress) ? at_fail(err, AT_ERR_INTERRUPTED, "random forest: fit interrupted") : AT_OK;
        if (!st && !(bags[t] = calloc((nl + 7) / 8 + 1, 1)))
            st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory");
        if ((st = at_comm_agree(comm, st, err))) goto done;
        memset(timp, 0, d * sizeof *timp);
        if ((st = grow_tree_rows(&c, t, &g, timp, bags[t], err))) goto done;
        if ((st = finish_tree(&c, &g, &out, err)) || (st = tree_list_append(L, &out, err))) goto done;
        tree_free(&g), tree_free(&out);
        double sum = 0;
        for (size_t j = 0; j < d; j++) sum += timp[j];
        if (L->off[t + 1] - L->off[t] > 1 && sum > 0) {
            for (size_t j = 0; j < d; j++) imp[j] += timp[j] / sum;
            used++;
        }
        at_progress_update(in->progress, "fit random_forest", t + 1, nt, NULL);
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
            for (size_t i = 0; i < nl; i++) {
                size_t t = 0;
                while (t < nt && (bags[t][i >> 3] & (1u << (i & 7)))) t++;
                if (t == nt) continue;
                const double *pi = pv + i * k;
                size_t best = 0;
                for (size_t j = 1; j < k; j++)
                    if (pi[j] > pi[best]) best = j;
                cc[1]++;
                cc[0] += (int32_t)best == ds->y[i];
            }
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
    tree_free(&g);
    tree_free(&out);
    tree_bins_free(&bins);
    if (bags)
        for (size_t t = 0; t < nt; t++) free(bags[t]);
    free(bags), free(counts), free(y), free(codes), free(cw), free(imp), free(timp), free(Xall);
    return st;
}
