/* tree_fast.c - a branch-free, 64-rows-at-a-time evaluator for shallow boosting trees (depth
 * <= 6), used by gradient boosting's predict when the CPU has AVX-512 VBMI.
 *
 * Why it is exact: per feature, the distinct split thresholds of all trees are sorted once;
 * a value x gets the code c(x) = #{thresholds < x} (NaN: 255), so x <= thr_j exactly when
 * c(x) <= j. Each tree becomes a complete binary tree of depth 6 in breadth-first order
 * (a leaf above depth 6 is padded with splits that always go left, down to copies of
 * itself), whose 63 split features, threshold codes and NaN directions fit in one 64-byte
 * table each. A block of 64 rows then walks a tree with a byte permute per table and
 * level, and the 64 leaf values are gathered and added to the rows' scores in tree order:
 * every row gets exactly the sums of the generic walker (tree_walk.c), bit for bit. */
#include <stdlib.h>
#include <string.h>

#include "models/tree/tree.h"
#include "models/tree/tree_coded_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TREE_FAST_X86 1
#include <immintrin.h>
#endif

#define FAST_DEPTH 6
#define FAST_ROWS 64

struct tree_fast {
    size_t n_trees, d, groups;
    int any_dl;            /* a real split sends NaN left */
    uint8_t *feat, *thr, *dl; /* n_trees * 64: split tables of the complete trees */
    double *leaf;          /* n_trees * 64: leaf values, left to right */
    double *cuts;          /* every feature's sorted distinct thresholds */
    int64_t *cut_off;      /* d + 1 */
};

void tree_fast_free(tree_fast *f) {
    if (!f) return;
    free(f->feat), free(f->thr), free(f->dl), free(f->leaf), free(f->cuts), free(f->cut_off);
    free(f);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Index of thr among feature f's cuts (it is there by construction). */
static uint8_t cut_index(const tree_fast *f, size_t feat, double thr) {
    const double *c = f->cuts + f->cut_off[feat];
    size_t lo = 0, hi = (size_t)(f->cut_off[feat + 1] - f->cut_off[feat]);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c[mid] < thr) lo = mid + 1;
        else hi = mid;
    }
    return (uint8_t)lo;
}

/* Places node i of tree t (nodes nd, values val) at position pos of the complete tree. */
static void place(tree_fast *f, size_t t, const tree_node *nd, const double *val, int32_t i, size_t pos, int level) {
    if (level == FAST_DEPTH) {
        f->leaf[t * 64 + (pos - 63)] = val[i];
        return;
    }
    uint8_t *ft = f->feat + t * 64, *tt = f->thr + t * 64, *dt = f->dl + t * 64;
    if (tree_node_is_leaf(&nd[i], i)) {
        ft[pos] = 0, tt[pos] = 255, dt[pos] = 1; /* always left, NaN too */
        place(f, t, nd, val, i, 2 * pos + 1, level + 1);
        place(f, t, nd, val, i, 2 * pos + 2, level + 1);
        return;
    }
    ft[pos] = (uint8_t)nd[i].feature;
    tt[pos] = cut_index(f, (size_t)nd[i].feature, nd[i].thr);
    dt[pos] = (uint8_t)(nd[i].dl != 0);
    place(f, t, nd, val, nd[i].left, 2 * pos + 1, level + 1);
    place(f, t, nd, val, nd[i].right, 2 * pos + 2, level + 1);
}

static int cpu_ok(void) {
#ifdef TREE_FAST_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vbmi");
#else
    return 0;
#endif
}

at_status tree_fast_build(const tree_list *L, size_t d, size_t groups, tree_fast **out, at_error *err) {
    *out = NULL;
    if (L->width != 1 || L->n_trees == 0 || d == 0 || d > 64 || groups == 0 || !cpu_ok()) return AT_OK;
    for (size_t t = 0; t < L->n_trees; t++)
        if (L->depth[t] > FAST_DEPTH) return AT_OK;
    tree_fast *f = at_calloc(1, sizeof *f, err);
    if (!f) return AT_ERR_MEMORY;
    f->n_trees = L->n_trees, f->d = d, f->groups = groups;
    size_t nt = L->n_trees;
    f->feat = at_malloc(nt * 64, 1, err), f->thr = at_malloc(nt * 64, 1, err), f->dl = at_malloc(nt * 64, 1, err);
    f->leaf = at_malloc(nt * 64, sizeof *f->leaf, err);
    f->cuts = at_malloc(L->n_nodes + 1, sizeof *f->cuts, err);
    f->cut_off = at_calloc(d + 1, sizeof *f->cut_off, err);
    if (!f->feat || !f->thr || !f->dl || !f->leaf || !f->cuts || !f->cut_off) {
        tree_fast_free(f);
        return AT_ERR_MEMORY;
    }
    /* Sorted distinct thresholds per feature; more than 254 and codes do not fit a byte. */
    size_t w = 0;
    for (size_t j = 0; j < d; j++) {
        size_t start = w;
        for (size_t t = 0; t < nt; t++)
            for (int64_t g = L->off[t]; g < L->off[t + 1]; g++) {
                const tree_node *nd = &L->nodes[g];
                if (!tree_node_is_leaf(nd, (int32_t)(g - L->off[t])) && (size_t)nd->feature == j) {
                    f->cuts[w++] = nd->thr;
                    if (nd->dl) f->any_dl = 1;
                }
            }
        qsort(f->cuts + start, w - start, sizeof *f->cuts, cmp_double);
        size_t u = start;
        for (size_t i = start; i < w; i++)
            if (i == start || f->cuts[i] != f->cuts[u - 1]) f->cuts[u++] = f->cuts[i];
        w = u;
        f->cut_off[j + 1] = (int64_t)w;
        if (w - start > 254) {
            tree_fast_free(f);
            return AT_OK;
        }
    }
    for (size_t t = 0; t < nt; t++) {
        const tree_node *nd = L->nodes + L->off[t];
        place(f, t, nd, L->value + L->off[t], 0, 0, 0);
    }
    *out = f;
    return AT_OK;
}

#ifdef TREE_FAST_X86
/* c(x) for the 64 rows of a block, feature-major: codes[j * 64 + r] (rows past m: 0). The
 * ranks come from the coded layout's vector lower bound (CODE_NAN narrows to 255, the NaN
 * code here; every other rank is below 255). */
static void block_codes(const tree_fast *f, const double *X, size_t r0, size_t m, uint8_t *codes) {
    const size_t d = f->d;
    uint32_t rank[FAST_ROWS];
    for (size_t j = 0; j < d; j++) {
        const double *c = f->cuts + f->cut_off[j];
        uint32_t nc = (uint32_t)(f->cut_off[j + 1] - f->cut_off[j]);
        tree_simd_ranks(c, nc, X + r0 * d + j, d, m, rank);
        for (size_t r = 0; r < FAST_ROWS; r++) codes[j * 64 + r] = r < m ? (uint8_t)rank[r] : 0;
    }
}

/* The codes of each lane's node feature: lanes pick codes[nf] from the d feature rows by a
 * tree of blends over nf's bits (depth 3 for d <= 8, where a chain of d - 1 blends would make
 * every level wait on the one before). */
#define FAST_TARGET __attribute__((target("avx512f,avx512bw,avx512vbmi")))
FAST_TARGET static inline __m512i pick8(const __m512i c[8], __m512i nf) {
    __mmask64 b0 = _mm512_test_epi8_mask(nf, _mm512_set1_epi8(1));
    __mmask64 b1 = _mm512_test_epi8_mask(nf, _mm512_set1_epi8(2));
    __mmask64 b2 = _mm512_test_epi8_mask(nf, _mm512_set1_epi8(4));
    __m512i a01 = _mm512_mask_blend_epi8(b0, c[0], c[1]), a23 = _mm512_mask_blend_epi8(b0, c[2], c[3]);
    __m512i a45 = _mm512_mask_blend_epi8(b0, c[4], c[5]), a67 = _mm512_mask_blend_epi8(b0, c[6], c[7]);
    __m512i a03 = _mm512_mask_blend_epi8(b1, a01, a23), a47 = _mm512_mask_blend_epi8(b1, a45, a67);
    return _mm512_mask_blend_epi8(b2, a03, a47);
}

FAST_TARGET static inline __m512i pick_any(const uint8_t *codes, size_t d, __m512i nf) {
    __m512i v = _mm512_loadu_si512(codes);
    for (size_t j = 1; j < d; j++)
        v = _mm512_mask_blend_epi8(_mm512_cmpeq_epi8_mask(nf, _mm512_set1_epi8((char)j)), v,
                                   _mm512_loadu_si512(codes + j * 64));
    return v;
}

/* Adds tree t's leaves of the 64 rows (leaf slots in slot) to acc. */
FAST_TARGET static inline void add_leaves(const tree_fast *f, size_t t, __m512i slot, double *acc) {
    const double *lv = f->leaf + t * 64;
    double *a = acc + (t % f->groups) * FAST_ROWS;
    /* The extract's lane must be a constant (clang at -O1 does not unroll a loop). */
#define FAST_GATHER_ADD(q)                                                                         \
    do {                                                                                           \
        __m512i s32 = _mm512_cvtepu8_epi32(_mm512_extracti32x4_epi32(slot, q));                    \
        __m512d g0 = _mm512_i32gather_pd(_mm512_castsi512_si256(s32), lv, 8);                      \
        __m512d g1 = _mm512_i32gather_pd(_mm512_extracti64x4_epi64(s32, 1), lv, 8);                \
        _mm512_storeu_pd(a + (q) * 16, _mm512_add_pd(_mm512_loadu_pd(a + (q) * 16), g0));          \
        _mm512_storeu_pd(a + (q) * 16 + 8, _mm512_add_pd(_mm512_loadu_pd(a + (q) * 16 + 8), g1));  \
    } while (0)
    FAST_GATHER_ADD(0);
    FAST_GATHER_ADD(1);
    FAST_GATHER_ADD(2);
    FAST_GATHER_ADD(3);
#undef FAST_GATHER_ADD
}

/* NB blocks of 64 rows (codes[b], acc[b]) through every tree, the blocks' walks interleaved
 * so that one block's level does not wait on the other's. */
FAST_TARGET static inline __attribute__((always_inline)) void block_walk_n(const tree_fast *f, const uint8_t *const *codes,
                                                                            double *const *acc, int NB) {
    const size_t d = f->d;
    const __m512i one = _mm512_set1_epi8(1), nanc = _mm512_set1_epi8((char)255), base = _mm512_set1_epi8(63);
    __m512i c8[2][8];
    if (d <= 8)
        for (int b = 0; b < NB; b++)
            for (size_t j = 0; j < 8; j++) c8[b][j] = j < d ? _mm512_loadu_si512(codes[b] + j * 64) : _mm512_setzero_si512();
    for (size_t t = 0; t < f->n_trees; t++) {
        const __m512i tf = _mm512_loadu_si512(f->feat + t * 64), tt = _mm512_loadu_si512(f->thr + t * 64);
        const __m512i td = _mm512_loadu_si512(f->dl + t * 64);
        __m512i idx[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
        for (int level = 0; level < FAST_DEPTH; level++) {
            for (int b = 0; b < NB; b++) {
                __m512i nf = _mm512_permutexvar_epi8(idx[b], tf);
                __m512i nthr = _mm512_permutexvar_epi8(idx[b], tt);
                __m512i v = d <= 8 ? pick8(c8[b], nf) : pick_any(codes[b], d, nf);
                __mmask64 left = _mm512_cmple_epu8_mask(v, nthr);
                if (f->any_dl)
                    left |= _mm512_cmpeq_epi8_mask(v, nanc) & _mm512_test_epi8_mask(_mm512_permutexvar_epi8(idx[b], td), one);
                idx[b] = _mm512_add_epi8(_mm512_add_epi8(idx[b], idx[b]), one);
                idx[b] = _mm512_mask_add_epi8(idx[b], ~left, idx[b], one);
            }
        }
        for (int b = 0; b < NB; b++) add_leaves(f, t, _mm512_sub_epi8(idx[b], base), acc[b]);
    }
}

FAST_TARGET static void block_walk(const tree_fast *f, const uint8_t *codes, double *acc) {
    block_walk_n(f, &codes, &acc, 1);
}

FAST_TARGET static void block_walk2(const tree_fast *f, const uint8_t *codes0, double *acc0, const uint8_t *codes1,
                                    double *acc1) {
    const uint8_t *c[2] = {codes0, codes1};
    double *a[2] = {acc0, acc1};
    block_walk_n(f, c, a, 2);
}
#endif

void tree_fast_predict_add(const tree_fast *f, const double *X, size_t n, double *out, size_t stride, int threads) {
#ifdef TREE_FAST_X86
    const size_t g = f->groups, n_blocks = (n + FAST_ROWS - 1) / FAST_ROWS;
#pragma omp parallel num_threads(threads > 0 ? threads : 1)
    {
        uint8_t codes[2][64 * FAST_ROWS];
        double *acc = malloc(2 * g * FAST_ROWS * sizeof *acc);
        const size_t n_pairs = (n_blocks + 1) / 2;
        /* Pairs of blocks (the last may be single); dynamic, so a thread the OS lends to the
         * catalogue reader for a while does not hold the others up at the end. */
#pragma omp for schedule(dynamic, 8)
        for (size_t pair = 0; pair < n_pairs; pair++) {
            if (!acc) continue; /* cannot happen in practice; the rows keep their scores */
            size_t nb = 2 * pair + 1 < n_blocks ? 2 : 1;
            for (size_t b = 0; b < nb; b++) {
                size_t r0 = (2 * pair + b) * FAST_ROWS, m = n - r0 < FAST_ROWS ? n - r0 : FAST_ROWS;
                double *ab = acc + b * g * FAST_ROWS;
                block_codes(f, X, r0, m, codes[b]);
                for (size_t c = 0; c < g; c++)
                    for (size_t r = 0; r < FAST_ROWS; r++) ab[c * FAST_ROWS + r] = r < m ? out[(r0 + r) * stride + c] : 0;
            }
            if (nb == 2) block_walk2(f, codes[0], acc, codes[1], acc + g * FAST_ROWS);
            else block_walk(f, codes[0], acc);
            for (size_t b = 0; b < nb; b++) {
                size_t r0 = (2 * pair + b) * FAST_ROWS, m = n - r0 < FAST_ROWS ? n - r0 : FAST_ROWS;
                const double *ab = acc + b * g * FAST_ROWS;
                for (size_t c = 0; c < g; c++)
                    for (size_t r = 0; r < m; r++) out[(r0 + r) * stride + c] = ab[c * FAST_ROWS + r];
            }
        }
        free(acc);
    }
#else
    (void)f, (void)X, (void)n, (void)out, (void)stride, (void)threads;
#endif
}
