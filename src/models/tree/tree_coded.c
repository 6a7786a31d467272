/* tree_coded.c - a prediction-only copy of a tree list for deep trees (the random forest):
 * built once when a model is fitted or loaded, read by many threads.
 *
 * Every feature's distinct thresholds, over all trees, are sorted once; a row's value x then
 * becomes its code, the number of thresholds below x (NaN: CODE_NAN), and x <= thr_j exactly
 * when code <= j, so the walk compares small integers and gives exactly the plain walker's
 * leaves (no rounding anywhere: the codes come from double comparisons). Nodes are 8 bytes
 * (threshold's code; children adjacent, breadth-first, so one index names both), leaves hold
 * the index of their values. A block of rows is coded once, then passes through one tree at
 * a time with LANES independent walks in flight: a lane that reaches its leaf adds the
 * leaf's values and takes the next row of the block at once (no lane waits for the deepest
 * one). Trees go in order for each row, so each row's sum is added in the same order as
 * tree_predict_add's: the results are bit-identical, whatever the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "models/tree/tree.h"
#include "models/tree/tree_coded_internal.h"

#define LANES 16
/* Left to itself (TREE_CODED_AUTO), a block of fewer rows takes the scalar walkers (walk_few
 * below LANES): the AVX-512 walker's 128 walks in flight would mostly idle (one served row
 * took 25x the scalar walk; the two break even near 64 rows, measured). */
#define SIMD_MIN_ROWS 64
#define BLOCK 16384
#define CODES TREE_CODED_CODES
#define CODE_NAN TREE_CODED_NAN
#define FEAT_LEAF TREE_CODED_LEAF
#define MAX_INDEX ((1u << 23) - 1)

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The number of cuts below x: x <= cuts[j] exactly when the code is <= j. */
static inline uint32_t code_of(const double *cuts, uint32_t m, double x) {
    if (x != x) return CODE_NAN;
    if (m == 0) return 0;
    const double *b = cuts; /* branch-free lower bound: the answer is in [b, b + len] */
    uint32_t len = m;
    while (len > 1) {
        uint32_t half = len >> 1;
        b = b[half - 1] < x ? b + half : b;
        len -= half;
    }
    return (uint32_t)(b - cuts) + (b[0] < x);
}

void tree_coded_free(tree_coded *c) {
    if (!c) return;
    free(c->cut_off);
    free(c->cuts);
    free(c->off);
    free(c->leaf_off);
    free(c->nodes);
    free(c->value);
    free(c);
}

static uint32_t cut_index(const tree_coded *c, size_t f, double thr) {
    const double *a = c->cuts + c->cut_off[f];
    return code_of(a, (uint32_t)(c->cut_off[f + 1] - c->cut_off[f]), thr); /* thr is a cut: its index */
}

at_status tree_coded_build(const tree_list *L, size_t d, tree_coded **out, at_error *err) {
    *out = NULL;
    size_t nt = L->n_trees, nn = L->n_nodes, w = L->width;
    if (!nt || d == 0 || d >= FEAT_LEAF) return AT_OK;
    for (size_t t = 0; t < nt; t++)
        if (L->off[t + 1] - L->off[t] > (int64_t)MAX_INDEX) return AT_OK;
    tree_coded *c = calloc(1, sizeof *c);
    size_t *cnt = calloc(d + 1, sizeof *cnt);
    int32_t *queue = NULL, *newid = NULL;
    if (!c || !cnt) goto oom;
    c->d = d, c->width = w, c->n_trees = nt;
    c->cut_off = calloc(d + 1, sizeof *c->cut_off);
    c->off = calloc(nt + 1, sizeof *c->off);
    c->leaf_off = calloc(nt + 1, sizeof *c->leaf_off);
    c->nodes = malloc((nn ? nn : 1) * sizeof *c->nodes);
    queue = malloc((nn ? nn : 1) * sizeof *queue);
    newid = malloc((nn ? nn : 1) * sizeof *newid);
    if (!c->cut_off || !c->off || !c->leaf_off || !c->nodes || !queue || !newid) goto oom;
    /* thresholds per feature, sorted, duplicates dropped */
    size_t n_leaves = 0;
    for (size_t t = 0; t < nt; t++)
        for (int64_t i = L->off[t]; i < L->off[t + 1]; i++) {
            const tree_node *nd = &L->nodes[i];
            if (tree_node_is_leaf(nd, (int32_t)(i - L->off[t]))) n_leaves++;
            else cnt[nd->feature]++;
        }
    for (size_t f = 0; f < d; f++) c->cut_off[f + 1] = c->cut_off[f] + (int64_t)cnt[f];
    c->cuts = malloc(((size_t)c->cut_off[d] ? (size_t)c->cut_off[d] : 1) * sizeof *c->cuts);
    c->value = malloc((n_leaves ? n_leaves : 1) * w * sizeof *c->value);
    if (!c->cuts || !c->value) goto oom;
    memset(cnt, 0, (d + 1) * sizeof *cnt);
    for (size_t t = 0; t < nt; t++)
        for (int64_t i = L->off[t]; i < L->off[t + 1]; i++) {
            const tree_node *nd = &L->nodes[i];
            if (!tree_node_is_leaf(nd, (int32_t)(i - L->off[t])))
                c->cuts[c->cut_off[nd->feature] + (int64_t)cnt[nd->feature]++] = nd->thr;
        }
    {
        int64_t o = 0;
        for (size_t f = 0; f < d; f++) {
            double *a = c->cuts + c->cut_off[f];
            size_t m = cnt[f], u = 0;
            qsort(a, m, sizeof *a, cmp_double);
            for (size_t j = 0; j < m; j++)
                if (!u || a[j] != a[u - 1]) a[u++] = a[j];
            if (u > (size_t)UINT32_MAX - 1) goto unfit;
            memmove(c->cuts + o, a, u * sizeof *a);
            c->cut_off[f] = o;
            o += (int64_t)u;
        }
        c->cut_off[d] = o;
    }
    /* breadth-first renumbering, children adjacent */
    size_t leaf_at = 0;
    for (size_t t = 0; t < nt; t++) {
        const tree_node *nd = L->nodes + L->off[t];
        int32_t m = (int32_t)(L->off[t + 1] - L->off[t]);
        cnode *cn = c->nodes + L->off[t];
        c->off[t] = L->off[t];
        c->leaf_off[t] = (int64_t)leaf_at;
        int32_t head = 0, tail = 0, next = 1;
        queue[tail++] = 0;
        newid[0] = 0;
        size_t leaves = 0;
        while (head < tail) {
            int32_t i = queue[head++], me = newid[i];
            if (tree_node_is_leaf(&nd[i], i)) {
                cn[me].code = 0;
                cn[me].meta = FEAT_LEAF | ((uint32_t)leaves << 9);
                memcpy(c->value + (leaf_at + leaves) * w, L->value + ((size_t)L->off[t] + (size_t)i) * w, w * sizeof(double));
                leaves++;
            } else {
                size_t f = (size_t)nd[i].feature;
                cn[me].code = cut_index(c, f, nd[i].thr);
                cn[me].meta = (uint32_t)f | ((nd[i].dl ? 1u : 0u) << 8) | ((uint32_t)next << 9);
                if (nd[i].dl) c->has_dl = 1;
                newid[nd[i].left] = next++;
                newid[nd[i].right] = next++;
                queue[tail++] = nd[i].left;
                queue[tail++] = nd[i].right;
            }
        }
        if (tail != m) goto unfit; /* unreachable nodes: keep the plain walker */
        leaf_at += leaves;
    }
    c->off[nt] = L->off[nt];
    c->leaf_off[nt] = (int64_t)leaf_at;
    free(cnt);
    free(queue);
    free(newid);
    *out = c;
    return AT_OK;
unfit:
    free(cnt);
    free(queue);
    free(newid);
    tree_coded_free(c);
    return AT_OK;
oom:
    free(cnt);
    free(queue);
    free(newid);
    tree_coded_free(c);
    return at_fail(err, AT_ERR_MEMORY, "trees: out of memory building the prediction layout");
}

/* One step from a split node for a row with codes `x`: the child it goes to. HAS_DL: some
 * split sends NaN left (the code of NaN is above every threshold's, so it goes right by
 * itself everywhere else). */
#define STEP(nd, x, HAS_DL)                                                                         \
    (((nd).meta >> 9) +                                                                            \
     (HAS_DL ? (((x)[(nd).meta & 255u] <= (nd).code) |                                             \
                (((x)[(nd).meta & 255u] == CODE_NAN) & ((nd).meta >> 8) & 1u)) ^ 1u                 \
             : (uint32_t)((x)[(nd).meta & 255u] > (nd).code)))

/* Adds the leaf's W values (W a constant where the compiler can see it). */
#define ADD_LEAF(o, v, W)                                                                          \
    do {                                                                                           \
        for (size_t c_ = 0; c_ < (W); c_++) (o)[c_] += (v)[c_];                                    \
    } while (0)

/* Rows [0, m) of a block (codes: m rows of d) through tree t; LANES walks in flight, a lane
 * that reaches its leaf adds it and takes the next row at once. */
#define WALK_TREE(NAME, W_EXPR, HAS_DL)                                                            \
    static void NAME(const tree_coded *c, size_t t, const uint32_t *codes, size_t m, double *out,  \
                     size_t stride, size_t col) {                                                  \
        const cnode *nodes = c->nodes + c->off[t];                                                 \
        const size_t w = (W_EXPR);                                                                 \
        const double *val = c->value + (size_t)c->leaf_off[t] * c->width;                          \
        const size_t d = c->d;                                                                     \
        uint32_t at[LANES], row[LANES];                                                            \
        size_t next = 0, live = m < LANES ? m : LANES;                                             \
        for (size_t l = 0; l < live; l++) at[l] = 0, row[l] = (uint32_t)next++;                    \
        if (live == LANES) {                                                                       \
            while (next < m) {                                                                     \
                for (size_t l = 0; l < LANES; l++) {                                               \
                    cnode nd = nodes[at[l]];                                                       \
                    if ((nd.meta & 255u) == FEAT_LEAF) {                                           \
                        ADD_LEAF(out + (size_t)row[l] * stride + col, val + (size_t)(nd.meta >> 9) * w, w); \
                        at[l] = 0;                                                                 \
                        row[l] = next < m ? (uint32_t)next++ : UINT32_MAX; /* out of rows: parked */ \
                        continue;                                                                  \
                    }                                                                              \
                    at[l] = STEP(nd, codes + (size_t)row[l] * d, HAS_DL);                          \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        for (size_t l = 0; l < live; l++) { /* the last rows, one at a time */                      \
            if (row[l] == UINT32_MAX) continue;                                                    \
            uint32_t a = at[l];                                                                    \
            const uint32_t *x = codes + (size_t)row[l] * d;                                        \
            while ((nodes[a].meta & 255u) != FEAT_LEAF) a = STEP(nodes[a], x, HAS_DL);             \
            ADD_LEAF(out + (size_t)row[l] * stride + col, val + (size_t)(nodes[a].meta >> 9) * w, w); \
        }                                                                                          \
    }

WALK_TREE(walk_w1, 1, 0)
WALK_TREE(walk_w2, 2, 0)
WALK_TREE(walk_w3, 3, 0)
WALK_TREE(walk_wn, c->width, 0)
WALK_TREE(walk_dl, c->width, 1)

/* A block of fewer rows than LANES (a served request of one row): each row walks LANES trees
 * at once instead (independent walks, so their node loads overlap rather than queue one tree
 * after another), notes each tree's leaf, then adds the leaves in tree order: the same sums
 * as the tree-at-a-time walk, bit for bit. (issue 12, serve2) */
static void walk_few(const tree_coded *c, size_t groups, const uint32_t *codes, size_t m, double *out, size_t stride) {
    const size_t T = c->n_trees, d = c->d, w = c->width;
    for (size_t i = 0; i < m; i++) {
        const uint32_t *x = codes + i * d;
        for (size_t t0 = 0; t0 < T; t0 += LANES) {
            const size_t nt = T - t0 < LANES ? T - t0 : LANES;
            const cnode *base[LANES];
            uint32_t at[LANES];
            for (size_t l = 0; l < nt; l++) base[l] = c->nodes + c->off[t0 + l], at[l] = 0;
            for (size_t pending = nt; pending;) {
                pending = 0;
                for (size_t l = 0; l < nt; l++) {
                    cnode nd = base[l][at[l]];
                    if ((nd.meta & 255u) == FEAT_LEAF) continue;
                    at[l] = c->has_dl ? STEP(nd, x, 1) : STEP(nd, x, 0);
                    pending++;
                }
            }
            for (size_t l = 0; l < nt; l++) {
                size_t t = t0 + l;
                const double *v = c->value + ((size_t)c->leaf_off[t] + (size_t)(base[l][at[l]].meta >> 9)) * w;
                ADD_LEAF(out + i * stride + (t % groups) * w, v, w);
            }
        }
    }
}

at_status tree_coded_predict_add(const tree_coded *c, size_t groups, const double *X, size_t n, double *out,
                                 size_t stride, int threads, at_error *err) {
    return tree_coded_predict_path(c, groups, X, n, out, stride, threads, TREE_CODED_AUTO, err);
}

at_status tree_coded_predict_path(const tree_coded *c, size_t groups, const double *X, size_t n, double *out,
                                  size_t stride, int threads, tree_coded_path path, at_error *err) {
    const size_t d = c->d, w = c->width;
    const int simd = path != TREE_CODED_SCALAR && tree_coded_simd_ok();
    size_t rows = CODES / d < BLOCK ? CODES / d : BLOCK; /* d < 255: at least 128 */
    size_t n_blocks = (n + rows - 1) / rows;
    int nth = threads > 0 ? threads : 1;
    if ((size_t)nth > n_blocks) nth = n_blocks ? (int)n_blocks : 1;
    /* Per thread: a block's codes, then its leaves (as many rows as there are: a small request
     * to the server does not page in half a megabyte). */
    const size_t per = (n < rows ? n : rows) * (d + 1) + 1;
    uint32_t *buf = malloc((size_t)nth * per * sizeof *buf);
    if (!buf) return at_fail(err, AT_ERR_MEMORY, "trees: out of memory for the row codes");
    void (*walk)(const tree_coded *, size_t, const uint32_t *, size_t, double *, size_t, size_t) =
        c->has_dl ? walk_dl : w == 1 ? walk_w1 : w == 2 ? walk_w2 : w == 3 ? walk_w3 : walk_wn;
#pragma omp parallel num_threads(nth)
    {
        int me = 0;
#ifdef _OPENMP
        me = omp_get_thread_num();
#endif
        uint32_t *cd = buf + (size_t)me * per;
#pragma omp for schedule(dynamic, 1)
        for (size_t blk = 0; blk < n_blocks; blk++) {
            size_t r0 = blk * rows, m = (r0 + rows < n ? r0 + rows : n) - r0;
            if (simd && (path == TREE_CODED_SIMD || m >= SIMD_MIN_ROWS)) {
                tree_coded_simd_codes(c, X + r0 * d, m, cd);
                for (size_t t = 0; t < c->n_trees; t++)
                    tree_coded_simd_walk(c, t, cd, m, out + r0 * stride, stride, (t % groups) * w, cd + m * d);
                continue;
            }
            for (size_t f = 0; f < d; f++) {
                const double *a = c->cuts + c->cut_off[f];
                uint32_t nc = (uint32_t)(c->cut_off[f + 1] - c->cut_off[f]);
                for (size_t i = 0; i < m; i++) cd[i * d + f] = code_of(a, nc, X[(r0 + i) * d + f]);
            }
            if (m < LANES) walk_few(c, groups, cd, m, out + r0 * stride, stride);
            else
                for (size_t t = 0; t < c->n_trees; t++)
                    walk(c, t, cd, m, out + r0 * stride, stride, (t % groups) * w);
        }
    }
    free(buf);
    return AT_OK;
}
