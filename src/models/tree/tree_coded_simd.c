/* tree_coded_simd.c - the coded forest layout's AVX-512 walker (issue 14's catalogue speed):
 * the same walks as tree_coded.c's scalar one, sixteen in one register.
 *
 * Row codes: 8 values of a feature at once, each through the same branch-free lower bound
 * over the feature's sorted thresholds (gathers), so every code equals the scalar code_of's.
 * Walk: 16 lanes each hold a row and a node; one step gathers the 16 nodes' threshold codes
 * and metas and the 16 rows' codes of the nodes' features, and moves every lane to its
 * child. Lanes that reached a leaf add the leaf's values to their row (scalar, in lane
 * order; every row meets each tree once, so each row's sum still runs over the trees in
 * tree order) and take the block's next rows (an expand), so no lane waits for the
 * deepest. The comparisons are those of the scalar walk: the sums are bit-identical. */
#include <string.h>

#include "models/tree/tree_coded_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

int tree_coded_simd_ok(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
}

#define SIMD_TARGET __attribute__((target("avx512f,avx512vl")))

/* The codes of 8 rows (mask: the real ones) of one feature: the number of cuts below x. */
SIMD_TARGET static inline __m256i codes8(const double *cuts, uint32_t nc, __m512d x) {
    __mmask8 nan = _mm512_cmp_pd_mask(x, x, _CMP_UNORD_Q);
    __m256i b = _mm256_setzero_si256();
    if (nc) {
        uint32_t len = nc;
        while (len > 1) { /* the answer is in [b, b + len] */
            uint32_t half = len >> 1;
            __m512d v = _mm512_i32gather_pd(_mm256_add_epi32(b, _mm256_set1_epi32((int)half - 1)), cuts, 8);
            b = _mm256_mask_add_epi32(b, _mm512_cmp_pd_mask(v, x, _CMP_LT_OQ), b, _mm256_set1_epi32((int)half));
            len -= half;
        }
        __m512d v = _mm512_i32gather_pd(b, cuts, 8);
        b = _mm256_mask_add_epi32(b, _mm512_cmp_pd_mask(v, x, _CMP_LT_OQ), b, _mm256_set1_epi32(1));
    }
    return _mm256_mask_mov_epi32(b, nan, _mm256_set1_epi32((int)TREE_CODED_NAN));
}

SIMD_TARGET void tree_coded_simd_codes(const tree_coded *c, const double *X, size_t m, uint32_t *codes) {
    const size_t d = c->d;
    const __m256i step = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)d));
    for (size_t f = 0; f < d; f++) {
        const double *cuts = c->cuts + c->cut_off[f];
        uint32_t nc = (uint32_t)(c->cut_off[f + 1] - c->cut_off[f]);
        for (size_t i = 0; i < m; i += 8) {
            __mmask8 k = m - i >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (m - i)) - 1);
            __m512d x = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), k, step, X + i * d + f, 8);
            _mm256_mask_i32scatter_epi32(codes + i * d + f, k, step, codes8(cuts, nc, x), 4);
        }
    }
}

SIMD_TARGET void tree_simd_ranks(const double *cuts, uint32_t nc, const double *x, size_t stride, size_t m,
                                 uint32_t *out) {
    const __m256i step = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)stride));
    for (size_t i = 0; i < m; i += 8) {
        __mmask8 k = m - i >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (m - i)) - 1);
        __m512d v = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), k, step, x + i * stride, 8);
        _mm256_mask_storeu_epi32(out + i, k, codes8(cuts, nc, v));
    }
}

/* One tree over the block; HAS_DL (a constant after inlining): some split sends NaN left.
 * GROUPS registers of 16 lanes step together: a step's gathers wait on the previous step's,
 * so independent groups keep the gather units busy meanwhile. */
#define GROUPS 8
SIMD_TARGET static inline __attribute__((always_inline)) void walk16(const tree_coded *c, size_t t,
                                                                     const uint32_t *codes, size_t m, double *out,
                                                                     size_t stride, size_t col, uint32_t *leaves,
                                                                     int HAS_DL) {
    if (!m) return;
    const long long *nb = (const long long *)(c->nodes + c->off[t]);
    const size_t w = c->width, d = c->d;
    const double *val = c->value + (size_t)c->leaf_off[t] * w;
    const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1), m255 = _mm512_set1_epi32(255);
    const __m512i nanc = _mm512_set1_epi32((int)TREE_CODED_NAN), dlbit = _mm512_set1_epi32(1 << 8);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i iotad = _mm512_mullo_epi32(iota, _mm512_set1_epi32((int)d));
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, one);
    __mmask16 act[GROUPS];
    __m512i at[GROUPS], row[GROUPS], rowd[GROUPS];
    size_t next = 0;
    for (int g = 0; g < GROUPS; g++) {
        size_t live = m - next < 16 ? m - next : 16;
        act[g] = (__mmask16)((1u << live) - 1);
        at[g] = zero;
        row[g] = _mm512_add_epi32(iota, _mm512_set1_epi32((int)next));
        rowd[g] = _mm512_add_epi32(iotad, _mm512_set1_epi32((int)(next * d)));
        next += live;
    }
    for (;;) {
        __mmask16 leaf[GROUPS], any = 0;
        __m512i child[GROUPS];
        for (int g = 0; g < GROUPS; g++) {
            /* the 16 nodes as two gathers of 8 (code, meta) pairs, split into codes and metas */
            __m512i lo = _mm512_mask_i32gather_epi64(zero, (__mmask8)act[g], _mm512_castsi512_si256(at[g]), nb, 8);
            __m512i hi = _mm512_mask_i32gather_epi64(zero, (__mmask8)(act[g] >> 8), _mm512_extracti64x4_epi64(at[g], 1),
                                                     nb, 8);
            __m512i code = _mm512_permutex2var_epi32(lo, even, hi);
            __m512i meta = _mm512_permutex2var_epi32(lo, odd, hi);
            __m512i feat = _mm512_and_si512(meta, m255);
            leaf[g] = _mm512_mask_cmpeq_epi32_mask(act[g], feat, m255);
            __mmask16 go = act[g] & (__mmask16)~leaf[g];
            __m512i x = _mm512_mask_i32gather_epi32(zero, go, _mm512_add_epi32(rowd[g], feat), (const int *)codes, 4);
            child[g] = _mm512_srli_epi32(meta, 9);
            __mmask16 right;
            if (HAS_DL) {
                __mmask16 left = _mm512_cmple_epu32_mask(x, code) |
                                 (_mm512_cmpeq_epi32_mask(x, nanc) & _mm512_test_epi32_mask(meta, dlbit));
                right = go & (__mmask16)~left;
            } else {
                right = _mm512_mask_cmpgt_epu32_mask(go, x, code);
            }
            at[g] = _mm512_mask_add_epi32(child[g], right, child[g], one);
            any |= act[g];
        }
        if (!any) break;
        for (int g = 0; g < GROUPS; g++) {
            if (!leaf[g]) continue;
            unsigned nl = (unsigned)__builtin_popcount(leaf[g]);
            _mm512_mask_i32scatter_epi32(leaves, leaf[g], row[g], child[g], 4);
            /* The leaf lanes take the next rows; the highest ones park when the block runs out. */
            unsigned fresh = m - next < nl ? (unsigned)(m - next) : nl;
            __mmask16 sel = leaf[g];
            for (unsigned j = nl; j > fresh; j--) sel &= (__mmask16) ~(1u << (31 - __builtin_clz(sel)));
            act[g] &= (__mmask16)~(leaf[g] & (__mmask16)~sel);
            row[g] = _mm512_mask_expand_epi32(row[g], sel, _mm512_add_epi32(iota, _mm512_set1_epi32((int)next)));
            rowd[g] = _mm512_mask_expand_epi32(rowd[g], sel,
                                               _mm512_add_epi32(iotad, _mm512_set1_epi32((int)(next * d))));
            at[g] = _mm512_mask_mov_epi32(at[g], sel, zero);
            next += fresh;
        }
    }
    /* Every row's leaf of this tree is known: add the leaves' values, row by row. */
    if (w == 3) {
        for (size_t i = 0; i < m; i++) {
            double *o = out + i * stride + col;
            const double *v = val + (size_t)leaves[i] * 3;
            o[0] += v[0], o[1] += v[1], o[2] += v[2];
        }
    } else {
        for (size_t i = 0; i < m; i++) {
            double *o = out + i * stride + col;
            const double *v = val + (size_t)leaves[i] * w;
            for (size_t q = 0; q < w; q++) o[q] += v[q];
        }
    }
}

SIMD_TARGET void tree_coded_simd_walk(const tree_coded *c, size_t t, const uint32_t *codes, size_t m, double *out,
                                      size_t stride, size_t col, uint32_t *leaves) {
    if (c->has_dl) walk16(c, t, codes, m, out, stride, col, leaves, 1);
    else walk16(c, t, codes, m, out, stride, col, leaves, 0);
}

#else /* not x86-64: the scalar walker only */

void tree_simd_ranks(const double *cuts, uint32_t nc, const double *x, size_t stride, size_t m, uint32_t *out) {
    (void)cuts, (void)nc, (void)x, (void)stride, (void)m, (void)out;
}

int tree_coded_simd_ok(void) { return 0; }
void tree_coded_simd_codes(const tree_coded *c, const double *X, size_t m, uint32_t *codes) {
    (void)c, (void)X, (void)m, (void)codes;
}
void tree_coded_simd_walk(const tree_coded *c, size_t t, const uint32_t *codes, size_t m, double *out,
                          size_t stride, size_t col, uint32_t *leaves) {
    (void)c, (void)t, (void)codes, (void)m, (void)out, (void)stride, (void)col, (void)leaves;
}

#endif
