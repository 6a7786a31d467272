/* test_tree_fast.c - the 64-row shallow-tree evaluator against the generic walker: random
 * trees of depth 0..6 (unbalanced, NaN sent left or right), rows with NaN, values equal to
 * thresholds and their neighbours, several trees per round: the scores must agree bit for
 * bit; and the lists it must decline (too deep, too many thresholds, width > 1). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "models/tree/tree.h"

static uint64_t rs = 12345;
static uint64_t rnd(void) {
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return rs;
}

static const double THR[] = {-1.5, -0.25, 0.0, 0.3, 1.0, 2.75, 10.0};
#define NTHR 7

typedef struct flat {
    int64_t off[2000];
    int32_t fe[60000], le[60000], ri[60000];
    double th[60000], val[60000];
    uint8_t dl[60000];
    size_t n;
} flat;

/* A random subtree rooted at node index n (nodes appended in preorder, children after parent). */
static int32_t grow(flat *F, int64_t base, int depth, int max_depth, size_t d, int many_thr) {
    int32_t me = (int32_t)(F->n++ - (size_t)base);
    size_t g = (size_t)base + (size_t)me;
    F->val[g] = (double)(int64_t)(rnd() % 2001 - 1000) / 7.0;
    if (depth == max_depth || rnd() % 4 == 0) {
        F->fe[g] = -1, F->le[g] = -1, F->ri[g] = -1, F->th[g] = 0, F->dl[g] = 0;
        return me;
    }
    F->fe[g] = (int32_t)(rnd() % d);
    F->th[g] = many_thr ? (double)(rnd() % 100000) / 3.0 : THR[rnd() % NTHR];
    F->dl[g] = (uint8_t)(rnd() % 2);
    F->le[g] = grow(F, base, depth + 1, max_depth, d, many_thr);
    F->ri[g] = grow(F, base, depth + 1, max_depth, d, many_thr);
    return me;
}

static void make_list(tree_list *L, flat *F, size_t nt, int max_depth, size_t d, int many_thr) {
    F->n = 0;
    for (size_t t = 0; t < nt; t++) {
        F->off[t] = (int64_t)F->n;
        grow(F, (int64_t)F->n, 0, max_depth, d, many_thr);
    }
    F->off[nt] = (int64_t)F->n;
    at_error err;
    tree_list_init(L, 1);
    CHECK_OK(tree_list_from_flat(L, d, nt, F->off, F->fe, F->th, F->le, F->ri, F->dl, F->val, NULL, &err), &err);
}

static flat F;

static void test_matches_walker(void) {
    const size_t d = 5, groups = 3, nt = 300, n = 1000 + 37;
    tree_list L;
    make_list(&L, &F, nt, 6, d, 0);
    tree_fast *fast = NULL;
    at_error err;
    CHECK_OK(tree_fast_build(&L, d, groups, &fast, &err), &err);
    if (!fast) {
        tree_list_free(&L);
        SKIP("no AVX-512 VBMI on this CPU: the fast path is off");
    }
    double *X = malloc(n * d * sizeof *X), *a = malloc(n * groups * sizeof *a), *b = malloc(n * groups * sizeof *b);
    for (size_t i = 0; i < n * d; i++) {
        uint64_t u = rnd() % 10;
        double t = THR[rnd() % NTHR];
        X[i] = u == 0 ? NAN : u == 1 ? nextafter(t, -INFINITY) : u == 2 ? nextafter(t, INFINITY) : u < 5 ? t
                                                                  : (double)(int64_t)(rnd() % 4001 - 2000) / 300.0;
    }
    for (size_t i = 0; i < n * groups; i++) a[i] = b[i] = (double)(i % 5) * 0.1;
    tree_predict_add(&L, 0, nt, groups, X, n, d, a, groups, 2);
    tree_fast_predict_add(fast, X, n, b, groups, 2);
    CHECK(memcmp(a, b, n * groups * sizeof *a) == 0);
    /* A single row and an odd tail take the same path. */
    double one_a[3] = {0}, one_b[3] = {0};
    tree_predict_add(&L, 0, nt, groups, X + 5 * d, 1, d, one_a, groups, 1);
    tree_fast_predict_add(fast, X + 5 * d, 1, one_b, groups, 1);
    CHECK(memcmp(one_a, one_b, sizeof one_a) == 0);
    free(X), free(a), free(b);
    tree_fast_free(fast);
    tree_list_free(&L);
}

/* The fast path against the walker for d features over each row count (block pairs, a single
 * last block, partial blocks), 1 and 2 threads; values also +-inf. 1 when all agree. */
static int agree_d(size_t d, size_t nt) {
    const size_t groups = 3;
    static const size_t ns[] = {1, 63, 64, 65, 127, 128, 129, 300};
    tree_list L;
    make_list(&L, &F, nt, 6, d, 0);
    tree_fast *fast = NULL;
    at_error err;
    int ok = 1;
    CHECK_OK(tree_fast_build(&L, d, groups, &fast, &err), &err);
    for (size_t k = 0; fast && k < sizeof ns / sizeof *ns; k++) {
        size_t n = ns[k];
        double *X = malloc(n * d * sizeof *X), *a = malloc(n * groups * sizeof *a), *b = malloc(n * groups * sizeof *b);
        for (size_t i = 0; i < n * d; i++) {
            uint64_t u = rnd() % 12;
            double t = THR[rnd() % NTHR];
            X[i] = u == 0 ? NAN : u == 1 ? nextafter(t, -INFINITY) : u == 2 ? nextafter(t, INFINITY) : u < 5 ? t
                 : u == 5 ? (rnd() % 2 ? INFINITY : -INFINITY) : (double)(int64_t)(rnd() % 4001 - 2000) / 300.0;
        }
        for (int threads = 1; threads <= 2; threads++) {
            for (size_t i = 0; i < n * groups; i++) a[i] = b[i] = (double)(i % 5) * 0.1;
            tree_predict_add(&L, 0, nt, groups, X, n, d, a, groups, threads);
            tree_fast_predict_add(fast, X, n, b, groups, threads);
            ok &= memcmp(a, b, n * groups * sizeof *a) == 0;
        }
        free(X), free(a), free(b);
    }
    tree_fast_free(fast);
    tree_list_free(&L);
    return ok;
}

/* Feature counts on both sides of the 8-feature blend tree (1, 8: the tree; 9, 40: the chain). */
static void test_feature_counts(void) {
    tree_list L;
    tree_fast *fast = NULL;
    at_error err;
    make_list(&L, &F, 1, 1, 1, 0);
    CHECK_OK(tree_fast_build(&L, 1, 1, &fast, &err), &err);
    tree_list_free(&L);
    if (!fast) SKIP("no AVX-512 VBMI on this CPU: the fast path is off");
    tree_fast_free(fast);
    static const size_t ds[] = {1, 2, 7, 8, 9, 40};
    for (size_t k = 0; k < sizeof ds / sizeof *ds; k++) CHECK(agree_d(ds[k], 90));
}

static void test_declines(void) {
    at_error err;
    tree_list L;
    tree_fast *fast = (tree_fast *)&err;
    make_list(&L, &F, 20, 9, 3, 0); /* deeper than 6 (some trees) */
    int deep = 0;
    for (size_t t = 0; t < L.n_trees; t++) deep |= L.depth[t] > 6;
    CHECK_OK(tree_fast_build(&L, 3, 1, &fast, &err), &err);
    if (deep) CHECK(fast == NULL);
    tree_fast_free(fast);
    tree_list_free(&L);
    fast = (tree_fast *)&err;
    make_list(&L, &F, 400, 6, 1, 1); /* > 254 distinct thresholds on feature 0 */
    CHECK_OK(tree_fast_build(&L, 1, 1, &fast, &err), &err);
    CHECK(fast == NULL);
    tree_list_free(&L);
}

int main(void) {
    RUN(test_matches_walker);
    RUN(test_feature_counts);
    RUN(test_declines);
    return harness_done();
}
