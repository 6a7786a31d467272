/* forest_fit.c - the random forest's CART learner: one classification tree per bootstrap
 * sample (histogram split search over the core binner's uint8 codes, exact thresholds in small
 * nodes), OpenMP over trees, then out-of-bag accuracy and impurity-decrease importances. Each
 * tree is built as a core `tree` and appended to the caller's list: no model struct here.
 *
 * Tree-parallel by design: every tree sees all its rows, so a distributed forest splits trees
 * among workers and needs no histogram reduce (that seam is the boosting learner's).
 *
 * Determinism: tree t draws every random number from its own stream (seed, t) and is
 * stored at index t, so the forest does not depend on the thread count or schedule. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>

#include "astrotrain/comm.h"
#endif

#include "astrotrain/rng.h"
#include "models/forest_impl.h"

typedef forest_valrow valrow;

/* A threshold t with a <= t < c, preferring the midpoint (as scikit-learn does). */
static double split_threshold(double a, double c) {
    double t = a * 0.5 + c * 0.5;
    if (!(t >= a && t < c)) t = a;
    return t;
}

/* ---- one tree ------------------------------------------------------------------- */

/* Nodes with at most this many rows search exact thresholds between their own sorted
 * values (as scikit-learn does everywhere): the bins are quantiles of the whole training
 * set and become too coarse deep in a tree, while sorting a small node is cheap. */
#define EXACT_MAX_ROWS 256

typedef struct fit_ctx {
    const at_forest_params *p;
    size_t d, k, mtry;
    const tree_bins *bins;
    const uint8_t *codes; /* d * n bin codes, feature-major */
    const double *Xc;     /* d * n: the training features column by column */
    const uint8_t *y;
    const double *class_w; /* k */
    size_t n;
    uint64_t seed;
} fit_ctx;

/* One grown tree and what the forest needs of it besides (forest_impl.h). */
typedef forest_grown grown;

static void grown_free(grown *g) {
    tree_free(&g->t);
    free(g->imp);
    free(g->inbag);
    g->imp = NULL;
    g->inbag = NULL;
}

/* Impurity of weighted class counts c (total w). */
static double impurity(const double *c, size_t k, double w, int crit) {
    if (w <= 0) return 0;
    double s = 0;
    if (crit == AT_CRITERION_GINI) {
        for (size_t j = 0; j < k; j++) s += c[j] * c[j];
        return 1.0 - s / (w * w);
    }
    for (size_t j = 0; j < k; j++)
        if (c[j] > 0) s -= c[j] / w * log2(c[j] / w);
    return s;
}

/* What the split search maximises: minus the weighted child impurity, up to a
 * constant (for gini sum(c^2)/w, for entropy sum(c log c) - w log w). */
static inline double proxy_part(const double *c, size_t k, double w, int crit) {
    double s = 0;
    if (crit == AT_CRITERION_GINI) {
        for (size_t j = 0; j < k; j++) s += c[j] * c[j];
        return s / w;
    }
    for (size_t j = 0; j < k; j++)
        if (c[j] > 0) s += c[j] * log(c[j]);
    return s - w * log(w);
}

typedef struct split {
    int found;
    int32_t feature;
    int exact;      /* 1: rows with x <= thr go left; 0: rows with bin <= bin go left */
    int bin;
    double thr;
    double proxy;
} split;

typedef struct work {
    uint32_t *idx;  /* in-bag rows, partitioned node by node */
    double *w;      /* n: this tree's row weight (multiplicity x class weight), 0 = out of bag */
    double *hist;   /* 256 * k weighted class counts, kept zero between uses */
    uint32_t *hcnt; /* 256 row counts, kept zero between uses */
    double *cl;     /* k running left counts */
    size_t *perm;   /* d feature order */
    valrow *sv, *tmp; /* EXACT_MAX_ROWS each: a small node's values, sorted */
} work;

/* Bottom-up merge sort by value (ties by row): small arrays, no comparison callbacks. */
static valrow *sort_vals(valrow *a, valrow *tmp, size_t n) {
    for (size_t i = 1; i < n; i++) { /* insertion sort runs of 8 */
        valrow x = a[i];
        size_t j = i;
        while (j % 8 && (a[j - 1].v > x.v || (a[j - 1].v == x.v && a[j - 1].i > x.i))) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
    for (size_t w = 8; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi)
                tmp[o++] = (a[j].v < a[i].v || (a[j].v == a[i].v && a[j].i < a[i].i)) ? a[j++] : a[i++];
            while (i < mid) tmp[o++] = a[i++];
            while (j < hi) tmp[o++] = a[j++];
        }
        valrow *t = a;
        a = tmp;
        tmp = t;
    }
    return a;
}

/* Exact search for a small node: every threshold between two distinct values. */
static int scan_exact(const fit_ctx *c, work *wk, size_t f, size_t start, size_t end,
                      const double *parent, double wtot, split *best) {
    size_t k = c->k, nn = end - start;
    size_t min_leaf = (size_t)c->p->min_samples_leaf;
    int crit = c->p->criterion;
    const double *x = c->Xc + f * c->n;
    for (size_t i = 0; i < nn; i++) {
        uint32_t r = wk->idx[start + i];
        wk->sv[i] = (valrow){x[r], r};
    }
    valrow *s = sort_vals(wk->sv, wk->tmp, nn);
    if (s[0].v == s[nn - 1].v) return 0;
    double *cl = wk->cl, cr[256], wl = 0;
    memset(cl, 0, k * sizeof *cl);
    const uint8_t *y = c->y;
    const double *w = wk->w;
    for (size_t i = 0; i + 1 < nn; i++) {
        uint32_t r = s[i].i;
        cl[y[r]] += w[r];
        wl += w[r];
        if (s[i + 1].v == s[i].v) continue;
        size_t nl = i + 1;
        if (nl < min_leaf) continue;
        if (nn - nl < min_leaf) break;
        double wr = wtot - wl;
        if (!(wl > 0 && wr > 0)) continue;
        for (size_t j = 0; j < k; j++) cr[j] = parent[j] - cl[j];
        double pr = proxy_part(cl, k, wl, crit) + proxy_part(cr, k, wr, crit);
        if (!best->found || pr > best->proxy) {
            best->found = 1;
            best->proxy = pr;
            best->feature = (int32_t)f;
            best->exact = 1;
            best->thr = split_threshold(s[i].v, s[i + 1].v);
        }
    }
    return 1;
}

/* Best split of rows idx[start, end) on feature f; returns 0 when f is constant there. */
static int scan_feature(const fit_ctx *c, work *wk, size_t f, size_t start, size_t end,
                        const double *parent, double wtot, split *best) {
    size_t k = c->k, nn = end - start;
    size_t min_leaf = (size_t)c->p->min_samples_leaf;
    int crit = c->p->criterion;
    const uint8_t *col = c->codes + f * c->n;
    const uint8_t *y = c->y;
    const double *w = wk->w;
    double *hist = wk->hist;
    uint32_t *hcnt = wk->hcnt;
    unsigned lo = 255, hi = 0;
    for (size_t i = start; i < end; i++) {
        uint32_t r = wk->idx[i];
        unsigned b = col[r];
        hist[b * k + y[r]] += w[r];
        hcnt[b]++;
        if (b < lo) lo = b;
        if (b > hi) hi = b;
    }
    if (lo == hi) {
        memset(hist + lo * k, 0, k * sizeof *hist);
        hcnt[lo] = 0;
        return 0;
    }
    double *cl = wk->cl, cr[256];
    memset(cl, 0, k * sizeof *cl);
    double wl = 0;
    size_t nl = 0;
    int last = -1;
    for (unsigned b = lo; b <= hi; b++) {
        if (!hcnt[b]) continue;
        /* A threshold between the previous non-empty bin and this one. */
        if (last >= 0 && nl >= min_leaf) {
            if (nn - nl < min_leaf) break;
            double wr = wtot - wl;
            if (wl > 0 && wr > 0) {
                for (size_t j = 0; j < k; j++) cr[j] = parent[j] - cl[j];
                double pr = proxy_part(cl, k, wl, crit) + proxy_part(cr, k, wr, crit);
                if (!best->found || pr > best->proxy) {
                    best->found = 1;
                    best->proxy = pr;
                    best->feature = (int32_t)f;
                    best->exact = 0;
                    best->bin = last;
                    size_t o = (size_t)c->bins->offset[f];
                    best->thr = split_threshold(c->bins->hi[o + (size_t)last], c->bins->lo[o + b]);
                }
            }
        }
        const double *h = hist + b * k;
        for (size_t j = 0; j < k; j++) wl += h[j], cl[j] += h[j];
        nl += hcnt[b];
        last = (int)b;
    }
    memset(hist + lo * k, 0, (hi - lo + 1) * k * sizeof *hist);
    memset(hcnt + lo, 0, (hi - lo + 1) * sizeof *hcnt);
    return 1;
}

typedef struct frame {
    size_t start, end;
    int32_t node, depth;
} frame;

static at_status grow_tree(const fit_ctx *c, size_t ti, grown *g, at_error *err) {
    const at_forest_params *P = c->p;
    size_t n = c->n, k = c->k, d = c->d;
    int crit = P->criterion;
    tree *t = &g->t;
    at_rng rng;
    at_rng_init(&rng, c->seed, (uint64_t)ti);
    work wk = {0};
    frame *stack = NULL;
    at_status st = AT_OK;
    tree_init(t, k);
    wk.idx = malloc(n * sizeof *wk.idx);
    wk.w = calloc(n, sizeof *wk.w);
    wk.hist = calloc(256 * k, sizeof *wk.hist);
    wk.hcnt = calloc(256, sizeof *wk.hcnt);
    wk.cl = malloc(k * sizeof *wk.cl);
    wk.perm = malloc(d * sizeof *wk.perm);
    wk.sv = malloc(EXACT_MAX_ROWS * sizeof *wk.sv);
    wk.tmp = malloc(EXACT_MAX_ROWS * sizeof *wk.tmp);
    g->imp = calloc(d, sizeof *g->imp);
    g->inbag = calloc((n + 7) / 8, 1);
    /* Depth-first: at most one pending sibling per level, so depth + 2 frames suffice;
     * depth cannot exceed the number of rows. */
    stack = malloc((n + 2) * sizeof *stack);
    if (!wk.idx || !wk.w || !wk.hist || !wk.hcnt || !wk.cl || !wk.perm || !wk.sv || !wk.tmp || !g->imp ||
        !g->inbag || !stack || tree_reserve(t, 1, NULL)) {
        st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory growing tree %zu", ti);
        goto done;
    }
    for (size_t j = 0; j < d; j++) wk.perm[j] = j;

    /* Bootstrap: n draws with replacement, kept as multiplicities. */
    if (P->bootstrap)
        for (size_t i = 0; i < n; i++) wk.w[at_rng_below(&rng, n)] += 1.0;
    else
        for (size_t i = 0; i < n; i++) wk.w[i] = 1.0;
    size_t m = 0;
    double *root = t->value;
    memset(root, 0, k * sizeof *root);
    for (size_t i = 0; i < n; i++) {
        if (wk.w[i] <= 0) continue;
        g->inbag[i >> 3] |= (uint8_t)(1u << (i & 7));
        wk.w[i] *= c->class_w[c->y[i]];
        root[c->y[i]] += wk.w[i];
        wk.idx[m++] = (uint32_t)i;
    }
    t->n_nodes = 1;
    t->depth = 0;
    size_t sp = 0;
    stack[sp++] = (frame){0, m, 0, 0};
    size_t min_split = (size_t)P->min_samples_split, min_leaf = (size_t)P->min_samples_leaf;
    int64_t max_depth = P->max_depth;
    double cl[256], cr[256]; /* k <= 256 is checked by at_forest_new */
    while (sp) {
        frame fr = stack[--sp];
        int32_t node = fr.node;
        if (fr.depth > t->depth) t->depth = fr.depth;
        tree_set_leaf(t, node);
        const double *cnt = t->value + (size_t)node * k;
        size_t nn = fr.end - fr.start;
        double wtot = 0;
        int nonzero = 0;
        for (size_t j = 0; j < k; j++) wtot += cnt[j], nonzero += cnt[j] > 0;
        if ((max_depth > 0 && fr.depth >= max_depth) || nn < min_split || nn < 2 * min_leaf ||
            nonzero <= 1)
            continue;
        double imp = impurity(cnt, k, wtot, crit);
        if (imp <= DBL_EPSILON) continue;

        /* Features in random order until max_features non-constant ones are seen and a
         * valid split exists among them (scikit-learn's documented rule). */
        split best = {0};
        size_t visited = 0;
        for (size_t i = 0; i < d; i++) {
            if (visited >= c->mtry && best.found) break;
            size_t j = i + (size_t)at_rng_below(&rng, d - i);
            size_t f = wk.perm[j];
            wk.perm[j] = wk.perm[i];
            wk.perm[i] = f;
            visited += (size_t)(nn <= EXACT_MAX_ROWS
                                    ? scan_exact(c, &wk, f, fr.start, fr.end, cnt, wtot, &best)
                                    : scan_feature(c, &wk, f, fr.start, fr.end, cnt, wtot, &best));
        }
        if (!best.found) continue;

        /* Partition in place (the bin test and x <= thr agree on binned splits; the bin
         * column is smaller); child counts summed exactly. */
        const uint8_t *col = c->codes + (size_t)best.feature * n;
        const double *xcol = c->Xc + (size_t)best.feature * n;
        memset(cl, 0, k * sizeof *cl);
        memset(cr, 0, k * sizeof *cr);
        size_t a = fr.start, b = fr.end;
        while (a < b) {
            uint32_t r = wk.idx[a];
            if (best.exact ? xcol[r] <= best.thr : col[r] <= best.bin) {
                cl[c->y[r]] += wk.w[r];
                a++;
            } else {
                cr[c->y[r]] += wk.w[r];
                wk.idx[a] = wk.idx[--b];
                wk.idx[b] = r;
            }
        }
        if (tree_reserve(t, t->n_nodes + 2, NULL)) {
            st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory growing tree %zu", ti);
            goto done;
        }
        int32_t L = (int32_t)t->n_nodes, R = L + 1;
        t->n_nodes += 2;
        memcpy(t->value + (size_t)L * k, cl, k * sizeof *cl);
        memcpy(t->value + (size_t)R * k, cr, k * sizeof *cr);
        double wl = 0, wr = 0;
        for (size_t j = 0; j < k; j++) wl += cl[j], wr += cr[j];
        double dec = wtot * imp - wl * impurity(cl, k, wl, crit) - wr * impurity(cr, k, wr, crit);
        g->imp[best.feature] += dec;
        tree_set_split(t, node, best.feature, best.thr, 0, L, R, dec);
        stack[sp++] = (frame){a, fr.end, R, fr.depth + 1};
        stack[sp++] = (frame){fr.start, a, L, fr.depth + 1};
    }
    /* Leaves carry class distributions, not weights. */
    for (size_t i = 0; i < t->n_nodes; i++) {
        double *v = t->value + i * k, s = 0;
        for (size_t j = 0; j < k; j++) s += v[j];
        for (size_t j = 0; j < k; j++) v[j] = s > 0 ? v[j] / s : 1.0 / (double)k;
    }
done:
    free(wk.idx);
    free(wk.w);
    free(wk.hist);
    free(wk.hcnt);
    free(wk.cl);
    free(wk.perm);
    free(wk.sv);
    free(wk.tmp);
    free(stack);
    return st;
}

/* ---- the forest ----------------------------------------------------------------- */

/* Appends the trees in order; importances: each tree normalised, then averaged over the trees
 * that split. */
static at_status assemble(tree_list *L, double *importance, size_t d, grown *trees, size_t nt,
                          at_error *err) {
    size_t used = 0;
    for (size_t t = 0; t < nt; t++) {
        at_status s = tree_list_append(L, &trees[t].t, err);
        if (s) return s;
        double sum = 0;
        for (size_t j = 0; j < d; j++) sum += trees[t].imp[j];
        if (trees[t].t.n_nodes > 1 && sum > 0) {
            for (size_t j = 0; j < d; j++) importance[j] += trees[t].imp[j] / sum;
            used++;
        }
    }
    if (L->n_nodes > (size_t)INT32_MAX)
        return at_fail(err, AT_ERR_MEMORY, "random forest: %zu nodes is more than supported", L->n_nodes);
    double s = 0;
    for (size_t j = 0; j < d; j++) s += importance[j];
    if (used && s > 0)
        for (size_t j = 0; j < d; j++) importance[j] /= s;
    return AT_OK;
}

void forest_oob_votes(const double *p, const uint8_t *const *bags, size_t nt, size_t n, size_t k, const int32_t *y,
                      int threads, size_t *correct, size_t *counted) {
    size_t c = 0, m = 0;
#pragma omp parallel for schedule(static) num_threads(threads) reduction(+ : c, m)
    for (size_t i = 0; i < n; i++) {
        size_t t = 0;
        while (t < nt && (bags[t][i >> 3] & (1u << (i & 7)))) t++;
        if (t == nt) continue;
        const double *pi = p + i * k;
        size_t best = 0;
        for (size_t j = 1; j < k; j++)
            if (pi[j] > pi[best]) best = j;
        m++;
        c += (int32_t)best == y[i];
    }
    *correct = c;
    *counted = m;
}

/* Out-of-bag accuracy: each row voted on by the trees that did not see it (their leaf
 * distributions summed in tree order by the core walker, leaving out each tree's in-bag rows),
 * argmax with ties to the lower class; rows every tree saw are not counted. NaN when no row
 * is counted (or out of memory: the figure is optional). */
static double oob_accuracy(const tree_list *L, const at_dataset *ds, const grown *trees, size_t k,
                           int threads) {
    size_t n = ds->n, nt = L->n_trees, correct = 0, counted = 0;
    double *p = calloc(n * k + 1, sizeof *p);
    const uint8_t **bags = malloc((nt + 1) * sizeof *bags);
    if (!p || !bags) {
        free(p);
        free(bags);
        return NAN;
    }
    for (size_t t = 0; t < nt; t++) bags[t] = trees[t].inbag;
    tree_predict_add_except(L, 0, nt, 1, ds->X, n, ds->d, p, k, threads, bags);
    forest_oob_votes(p, bags, nt, n, k, ds->y, threads, &correct, &counted);
    free(p);
    free(bags);
    return counted ? (double)correct / (double)counted : NAN;
}

at_status forest_grow(const at_forest_params *p, size_t mtry, size_t k, const at_fit_input *in,
                      tree_list *L, double **importance, double *oob, at_error *err) {
    const at_dataset *ds = in->train;
    tree_list_free(L);
    *importance = NULL;
    *oob = NAN;
    /* [run] distribute = rows: the data-parallel variant (forest_rows.c). */
    if (in->distribute_rows) return forest_grow_rows(p, mtry, k, in, L, importance, oob, err);
    /* Across MPI ranks (forest_dist.c): every rank gathers the training part and grows its
     * block of trees [t0, t1); the blocks are exchanged before the forest is assembled. */
    const int dist = at_comm_size(in->comm) > 1;
    at_dataset *gathered = NULL;
    if (!ds->y) return at_fail(err, AT_ERR_DATA, "random forest: the training data have no labels");
    if (dist) {
        at_status gs = forest_dist_gather_train(in->comm, in->train, &gathered, err);
        if (gs) return gs;
        ds = gathered;
    }
    size_t n = ds->n, d = ds->d, nt = (size_t)p->n_trees, t0 = 0, t1 = nt;
    if (dist) forest_dist_block(in->comm, nt, &t0, &t1);
    if (n > UINT32_MAX) {
        at_dataset_free(gathered);
        return at_fail(err, AT_ERR_DATA, "random forest: %zu training rows is more than supported", n);
    }
    int threads = forest_threads(in->threads);

    at_status st = AT_OK;
    tree_bins bins = {0};
    uint8_t *y = malloc(n);
    uint8_t *codes = malloc(n * d + 1);
    double *xc = malloc((n * d + 1) * sizeof *xc);
    double *cw = calloc(k, sizeof *cw);
    size_t *counts = calloc(k, sizeof *counts);
    grown *trees = calloc(nt, sizeof *trees);
    at_status *tst = calloc(nt, sizeof *tst);
    at_error *terr = calloc(nt, sizeof *terr);
    double *imp = calloc(d ? d : 1, sizeof *imp);
    if (!y || !codes || !xc || !cw || !counts || !trees || !tst || !terr || !imp) {
        st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (ds->y[i] < 0 || (size_t)ds->y[i] >= k) {
            st = at_fail(err, AT_ERR_DATA, "random forest: training row %zu has label %d, not in 0..%zu",
                         i, (int)ds->y[i], k - 1);
            goto done;
        }
        y[i] = (uint8_t)ds->y[i];
        counts[y[i]]++;
    }
    /* balanced: n / (k * count_c), as scikit-learn, for the classes present. */
    for (size_t j = 0; j < k; j++)
        cw[j] = p->class_weight == AT_CLASS_WEIGHT_BALANCED && counts[j]
                    ? (double)n / ((double)k * (double)counts[j])
                    : 1.0;
    if ((st = tree_bins_fit(ds->X, n, d, (int)p->max_bins, TREE_CUTS_RANK, 0, threads, &bins, err))) {
        at_error_prefix(err, "random forest: ");
        goto done;
    }
    tree_bins_encode(&bins, ds->X, n, codes, threads);
    for (size_t f = 0; f < d; f++)
        for (size_t i = 0; i < n; i++) xc[f * n + i] = ds->X[i * d + f];

    fit_ctx c = {p, d, k, mtry, &bins, codes, xc, y, cw, n, in->seed};
    size_t done_trees = 0, next_tree = t0;
    int stop = 0;
    /* Each thread takes the next tree until none is left or the fit stops. (Not an omp for:
     * after a stop its threads would still step through every remaining iteration, 100,000
     * of them in the interrupt test, which under valgrind took minutes.) Every tree has its
     * own random stream, so which thread grows it does not change the forest. */
#pragma omp parallel num_threads(threads)
    for (;;) {
        size_t t;
#pragma omp atomic capture
        t = next_tree++;
        int skip;
#pragma omp atomic read
        skip = stop;
        if (t >= t1 || skip) break;
        if (at_progress_stopped(in->progress)) {
#pragma omp atomic write
            stop = 1;
            break;
        }
        tst[t] = grow_tree(&c, t, &trees[t], &terr[t]);
        if (tst[t]) {
#pragma omp atomic write
            stop = 1;
        }
#pragma omp critical(at_forest_progress)
        {
            done_trees++;
            at_progress_update(in->progress, "fit random_forest", done_trees, t1 - t0, NULL);
        }
    }
    for (size_t t = 0; t < nt; t++)
        if (tst[t]) {
            st = tst[t];
            *err = terr[t];
            goto done;
        }
    if (stop || at_progress_stopped(in->progress)) st = at_fail(err, AT_ERR_INTERRUPTED, "random forest: fit interrupted");
    /* Every rank leaves together: one failed or interrupted rank stops all before the exchange. */
    if (dist && !(st = at_comm_agree(in->comm, st, err))) st = forest_dist_exchange(in->comm, trees, nt, n, d, k, err);
    if (st) goto done;
    if ((st = assemble(L, imp, d, trees, nt, err))) goto done;
    *oob = p->bootstrap && p->oob_score ? oob_accuracy(L, ds, trees, k, threads) : NAN;
    *importance = imp;
    imp = NULL;

done:
    if (st) tree_list_free(L);
    if (trees)
        for (size_t t = 0; t < nt; t++) grown_free(&trees[t]);
    free(trees);
    free(tst);
    free(terr);
    tree_bins_free(&bins);
    free(codes);
    free(xc);
    free(y);
    free(cw);
    free(counts);
    free(imp);
    at_dataset_free(gathered);
    return st;
}

/* ---- shared with the data-parallel learner (forest_rows.c) ---- */
double forest_impurity(const double *c, size_t k, double w, int crit) { return impurity(c, k, w, crit); }
double forest_proxy(const double *c, size_t k, double w, int crit) { return proxy_part(c, k, w, crit); }
double forest_split_threshold(double a, double c) { return split_threshold(a, c); }
forest_valrow *forest_sort_vals(forest_valrow *a, forest_valrow *tmp, size_t n) { return sort_vals(a, tmp, n); }
