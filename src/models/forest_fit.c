/* forest_fit.c - growing the random forest: quantile binning of the training features,
 * one CART tree per bootstrap sample (histogram split search over uint8 bins), OpenMP
 * over trees, then out-of-bag accuracy and impurity-decrease importances.
 *
 * Determinism: tree t draws every random number from its own stream (seed, t) and is
 * stored at index t, so the forest does not depend on the thread count or schedule. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "astrotrain/rng.h"
#include "models/forest_impl.h"

/* ---- binning ------------------------------------------------------------------- */

/* Feature f of row i falls into bin[f * n + i]. Bin b of feature f covers the training
 * values lo[f * 256 + b] .. hi[f * 256 + b]; a split "bin <= b" is stored as a real
 * threshold between hi of b and lo of the next non-empty bin, so "x <= threshold" at
 * predict time sends every training row the same way as at train time. */
typedef struct binning {
    size_t n, d;
    uint8_t *bin;
    double *lo, *hi;
    double *xc; /* d * n: the raw values column by column, for exact small-node splits */
} binning;

typedef struct valrow {
    double v;
    uint32_t i;
} valrow;

static int cmp_valrow(const void *a, const void *b) {
    const valrow *x = a, *y = b;
    if (x->v < y->v) return -1;
    if (x->v > y->v) return 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static void binning_free(binning *b) {
    free(b->bin);
    free(b->lo);
    free(b->hi);
    free(b->xc);
}

/* Quantile bins: distinct value j goes to raw bin floor(rows_before_j * max_bins / n);
 * raw bins left empty by heavy ties are skipped, so each feature has <= max_bins bins. */
static at_status binning_build(binning *b, const at_dataset *ds, size_t max_bins, int threads,
                               at_error *err) {
    size_t n = ds->n, d = ds->d;
    b->n = n;
    b->d = d;
    b->bin = at_malloc(n, d, err);
    b->lo = at_malloc(d * 256, sizeof(double), err);
    b->hi = at_malloc(d * 256, sizeof(double), err);
    b->xc = at_malloc(n * d, sizeof(double), err);
    if (!b->bin || !b->lo || !b->hi || !b->xc) return AT_ERR_MEMORY;
    for (size_t i = 0; i < n * d; i++)
        if (isnan(ds->X[i]))
            return at_fail(err, AT_ERR_DATA, "random forest: training row %zu, feature %zu is NaN",
                           i / d, i % d);
    int failed = 0;
#pragma omp parallel for schedule(dynamic) num_threads(threads) reduction(| : failed)
    for (size_t f = 0; f < d; f++) {
        valrow *s = malloc(n * sizeof *s);
        if (!s) {
            failed = 1;
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            s[i] = (valrow){ds->X[i * d + f], (uint32_t)i};
            b->xc[f * n + i] = s[i].v;
        }
        qsort(s, n, sizeof *s, cmp_valrow);
        uint8_t *col = b->bin + f * n;
        double *lo = b->lo + f * 256, *hi = b->hi + f * 256;
        int cur = -1;
        size_t last_raw = SIZE_MAX;
        for (size_t j = 0; j < n; j++) {
            if (j == 0 || s[j].v != s[j - 1].v) {
                size_t raw = (size_t)((unsigned __int128)j * max_bins / n);
                if (raw != last_raw) {
                    cur++;
                    last_raw = raw;
                    lo[cur] = s[j].v;
                }
            }
            hi[cur] = s[j].v;
            col[s[j].i] = (uint8_t)cur;
        }
        free(s);
    }
    if (failed) return at_fail(err, AT_ERR_MEMORY, "random forest: out of memory while binning");
    return AT_OK;
}

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
    const at_forest *f;
    const binning *bins;
    const double *Xc; /* d * n: the training features column by column */
    const uint8_t *y;
    const double *class_w; /* k */
    size_t n;
    uint64_t seed;
} fit_ctx;

typedef struct tree {
    size_t n_nodes, cap;
    int32_t *feature, *left, *right;
    double *threshold, *value; /* value: weighted class counts, normalised at the end */
    double *imp;               /* d: impurity decrease per feature */
    int32_t depth;
    uint8_t *inbag;            /* n/8 bitmap, for the out-of-bag estimate */
} tree;

static void tree_free(tree *t) {
    free(t->feature);
    free(t->left);
    free(t->right);
    free(t->threshold);
    free(t->value);
    free(t->imp);
    free(t->inbag);
    memset(t, 0, sizeof *t);
}

static int tree_grow(tree *t, size_t k) {
    size_t cap = t->cap ? t->cap * 2 : 256;
    int32_t *fe = realloc(t->feature, cap * sizeof *fe);
    if (fe) t->feature = fe;
    int32_t *l = realloc(t->left, cap * sizeof *l);
    if (l) t->left = l;
    int32_t *r = realloc(t->right, cap * sizeof *r);
    if (r) t->right = r;
    double *th = realloc(t->threshold, cap * sizeof *th);
    if (th) t->threshold = th;
    double *v = realloc(t->value, cap * k * sizeof *v);
    if (v) t->value = v;
    if (!fe || !l || !r || !th || !v) return 0;
    t->cap = cap;
    return 1;
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
    const at_forest *F = c->f;
    size_t k = F->k, nn = end - start;
    size_t min_leaf = (size_t)F->p.min_samples_leaf;
    int crit = F->p.criterion;
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
    const at_forest *F = c->f;
    size_t k = F->k, nn = end - start;
    size_t min_leaf = (size_t)F->p.min_samples_leaf;
    int crit = F->p.criterion;
    const uint8_t *col = c->bins->bin + f * c->n;
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
                    best->thr = split_threshold(c->bins->hi[f * 256 + (size_t)last],
                                                c->bins->lo[f * 256 + b]);
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

static at_status grow_tree(const fit_ctx *c, size_t ti, tree *t, at_error *err) {
    const at_forest *F = c->f;
    size_t n = c->n, k = F->k, d = F->d;
    int crit = F->p.criterion;
    at_rng rng;
    at_rng_init(&rng, c->seed, (uint64_t)ti);
    work wk = {0};
    frame *stack = NULL;
    at_status st = AT_OK;
    wk.idx = malloc(n * sizeof *wk.idx);
    wk.w = calloc(n, sizeof *wk.w);
    wk.hist = calloc(256 * k, sizeof *wk.hist);
    wk.hcnt = calloc(256, sizeof *wk.hcnt);
    wk.cl = malloc(k * sizeof *wk.cl);
    wk.perm = malloc(d * sizeof *wk.perm);
    wk.sv = malloc(EXACT_MAX_ROWS * sizeof *wk.sv);
    wk.tmp = malloc(EXACT_MAX_ROWS * sizeof *wk.tmp);
    t->imp = calloc(d, sizeof *t->imp);
    t->inbag = calloc((n + 7) / 8, 1);
    /* Depth-first: at most one pending sibling per level, so depth + 2 frames suffice;
     * depth cannot exceed the number of rows. */
    stack = malloc((n + 2) * sizeof *stack);
    if (!wk.idx || !wk.w || !wk.hist || !wk.hcnt || !wk.cl || !wk.perm || !wk.sv || !wk.tmp || !t->imp || !t->inbag ||
        !stack || !tree_grow(t, k)) {
        st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory growing tree %zu", ti);
        goto done;
    }
    for (size_t j = 0; j < d; j++) wk.perm[j] = j;

    /* Bootstrap: n draws with replacement, kept as multiplicities. */
    if (F->p.bootstrap)
        for (size_t i = 0; i < n; i++) wk.w[at_rng_below(&rng, n)] += 1.0;
    else
        for (size_t i = 0; i < n; i++) wk.w[i] = 1.0;
    size_t m = 0;
    double *root = t->value;
    memset(root, 0, k * sizeof *root);
    for (size_t i = 0; i < n; i++) {
        if (wk.w[i] <= 0) continue;
        t->inbag[i >> 3] |= (uint8_t)(1u << (i & 7));
        wk.w[i] *= c->class_w[c->y[i]];
        root[c->y[i]] += wk.w[i];
        wk.idx[m++] = (uint32_t)i;
    }
    t->n_nodes = 1;
    t->depth = 0;
    size_t sp = 0;
    stack[sp++] = (frame){0, m, 0, 0};
    size_t min_split = (size_t)F->p.min_samples_split, min_leaf = (size_t)F->p.min_samples_leaf;
    int64_t max_depth = F->p.max_depth;
    double cl[256], cr[256]; /* k <= 256 is checked by at_forest_new */
    while (sp) {
        frame fr = stack[--sp];
        int32_t node = fr.node;
        if (fr.depth > t->depth) t->depth = fr.depth;
        t->feature[node] = -1;
        t->left[node] = t->right[node] = -1;
        t->threshold[node] = 0;
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
            if (visited >= F->mtry && best.found) break;
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
        const uint8_t *col = c->bins->bin + (size_t)best.feature * n;
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
        if (t->n_nodes + 2 > t->cap && !tree_grow(t, k)) {
            st = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory growing tree %zu", ti);
            goto done;
        }
        int32_t L = (int32_t)t->n_nodes, R = L + 1;
        t->n_nodes += 2;
        t->feature[node] = best.feature;
        t->threshold[node] = best.thr;
        t->left[node] = L;
        t->right[node] = R;
        memcpy(t->value + (size_t)L * k, cl, k * sizeof *cl);
        memcpy(t->value + (size_t)R * k, cr, k * sizeof *cr);
        double wl = 0, wr = 0;
        for (size_t j = 0; j < k; j++) wl += cl[j], wr += cr[j];
        t->imp[best.feature] += wtot * imp - wl * impurity(cl, k, wl, crit) -
                                wr * impurity(cr, k, wr, crit);
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

static const double *tree_leaf(const at_forest *f, size_t t, const double *x) {
    size_t base = (size_t)f->offset[t];
    const int32_t *fe = f->feature + base, *l = f->left + base, *r = f->right + base;
    const double *th = f->threshold + base;
    int32_t i = 0;
    while (fe[i] >= 0) i = x[fe[i]] <= th[i] ? l[i] : r[i];
    return f->value + (base + (size_t)i) * f->k;
}

static at_status assemble(at_forest *f, tree *trees, size_t nt, at_error *err) {
    size_t total = 0, k = f->k, d = f->d;
    for (size_t t = 0; t < nt; t++) total += trees[t].n_nodes;
    f->offset = at_malloc(nt + 1, sizeof *f->offset, err);
    f->feature = at_malloc(total, sizeof *f->feature, err);
    f->left = at_malloc(total, sizeof *f->left, err);
    f->right = at_malloc(total, sizeof *f->right, err);
    f->threshold = at_malloc(total, sizeof *f->threshold, err);
    f->value = at_malloc(total * k, sizeof *f->value, err);
    f->importance = at_calloc(d, sizeof *f->importance, err);
    f->depth = at_malloc(nt, sizeof *f->depth, err);
    if (!f->offset || !f->feature || !f->left || !f->right || !f->threshold || !f->value ||
        !f->importance || !f->depth)
        return AT_ERR_MEMORY;
    size_t o = 0, used = 0;
    for (size_t t = 0; t < nt; t++) {
        tree *tr = &trees[t];
        size_t m = tr->n_nodes;
        f->offset[t] = (int64_t)o;
        memcpy(f->feature + o, tr->feature, m * sizeof *f->feature);
        memcpy(f->left + o, tr->left, m * sizeof *f->left);
        memcpy(f->right + o, tr->right, m * sizeof *f->right);
        memcpy(f->threshold + o, tr->threshold, m * sizeof *f->threshold);
        memcpy(f->value + o * k, tr->value, m * k * sizeof *f->value);
        f->depth[t] = tr->depth;
        o += m;
        /* Importances: each tree normalised, then averaged over trees that split. */
        double s = 0;
        for (size_t j = 0; j < d; j++) s += tr->imp[j];
        if (m > 1 && s > 0) {
            for (size_t j = 0; j < d; j++) f->importance[j] += tr->imp[j] / s;
            used++;
        }
    }
    f->offset[nt] = (int64_t)o;
    f->n_nodes = total;
    f->n_trees = nt;
    double s = 0;
    for (size_t j = 0; j < d; j++) s += f->importance[j];
    if (used && s > 0)
        for (size_t j = 0; j < d; j++) f->importance[j] /= s;
    return AT_OK;
}

/* Out-of-bag accuracy: each row voted on by the trees that did not see it, in tree order. */
static double oob_accuracy(const at_forest *f, const at_dataset *ds, const tree *trees,
                           int threads) {
    size_t n = ds->n, k = f->k, correct = 0, counted = 0;
#pragma omp parallel num_threads(threads) reduction(+ : correct, counted)
    {
        double p[256];
#pragma omp for schedule(static)
        for (size_t i = 0; i < n; i++) {
            memset(p, 0, k * sizeof *p);
            int any = 0;
            for (size_t t = 0; t < f->n_trees; t++) {
                if (trees[t].inbag[i >> 3] & (1u << (i & 7))) continue;
                const double *v = tree_leaf(f, t, ds->X + i * f->d);
                for (size_t j = 0; j < k; j++) p[j] += v[j];
                any = 1;
            }
            if (!any) continue;
            size_t best = 0;
            for (size_t j = 1; j < k; j++)
                if (p[j] > p[best]) best = j;
            counted++;
            correct += (int32_t)best == ds->y[i];
        }
    }
    return counted ? (double)correct / (double)counted : NAN;
}

at_status at_forest_fit_impl(at_forest *f, const at_fit_input *in, at_error *err) {
    const at_dataset *ds = in->train;
    size_t n = ds->n, k = f->k, nt = (size_t)f->p.n_trees;
    at_forest_clear(f);
    if (!ds->y) return at_fail(err, AT_ERR_DATA, "random forest: the training data have no labels");
    if (n > UINT32_MAX)
        return at_fail(err, AT_ERR_DATA, "random forest: %zu training rows is more than supported", n);
    int threads = in->threads;
#ifdef _OPENMP
    if (threads <= 0) threads = omp_get_max_threads();
#endif
    if (threads <= 0) threads = 1;

    at_status st = AT_OK;
    binning bins = {0};
    uint8_t *y = malloc(n);
    double *cw = calloc(k, sizeof *cw);
    size_t *counts = calloc(k, sizeof *counts);
    tree *trees = calloc(nt, sizeof *trees);
    at_status *tst = calloc(nt, sizeof *tst);
    at_error *terr = calloc(nt, sizeof *terr);
    if (!y || !cw || !counts || !trees || !tst || !terr) {
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
        cw[j] = f->p.class_weight == AT_CLASS_WEIGHT_BALANCED && counts[j]
                    ? (double)n / ((double)k * (double)counts[j])
                    : 1.0;
    if ((st = binning_build(&bins, ds, (size_t)f->p.max_bins, threads, err))) goto done;

    fit_ctx c = {f, &bins, bins.xc, y, cw, n, in->seed};
    size_t done_trees = 0;
    int stop = 0;
#pragma omp parallel for schedule(dynamic) num_threads(threads)
    for (size_t t = 0; t < nt; t++) {
        int skip;
#pragma omp atomic read
        skip = stop;
        if (skip) continue;
        if (at_progress_stopped(in->progress)) {
#pragma omp atomic write
            stop = 1;
            continue;
        }
        tst[t] = grow_tree(&c, t, &trees[t], &terr[t]);
        if (tst[t]) {
#pragma omp atomic write
            stop = 1;
        }
#pragma omp critical(at_forest_progress)
        {
            done_trees++;
            at_progress_update(in->progress, "fit random_forest", done_trees, nt, NULL);
        }
    }
    for (size_t t = 0; t < nt; t++)
        if (tst[t]) {
            st = tst[t];
            *err = terr[t];
            goto done;
        }
    if (stop || at_progress_stopped(in->progress)) {
        st = at_fail(err, AT_ERR_INTERRUPTED, "random forest: fit interrupted");
        goto done;
    }
    if ((st = assemble(f, trees, nt, err))) goto done;
    f->oob = f->p.bootstrap && f->p.oob_score ? oob_accuracy(f, ds, trees, threads) : NAN;

done:
    if (st) at_forest_clear(f);
    if (trees)
        for (size_t t = 0; t < nt; t++) tree_free(&trees[t]);
    free(trees);
    free(tst);
    free(terr);
    binning_free(&bins);
    free(y);
    free(cw);
    free(counts);
    return st;
}
