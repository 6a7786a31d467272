/* test_tree_coded.c - the forest's coded prediction layout (tree_coded.c) against the plain
 * walker (tree_walk.c): random deep, unbalanced trees, widths 1 and 3, several groups, NaN
 * sent left or right (and lists with no NaN-left split, the forest's case), rows with NaN,
 * +-inf, -0.0, values equal to thresholds and their neighbours, row counts below one group of
 * lanes, around it and across several blocks, 1 and 2 threads: the sums must agree bit for
 * bit (the same leaves, added in the same tree order). And the lists it declines. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "models/tree/tree.h"
#include "models/tree/tree_coded_internal.h"

static uint64_t rs = 987654321;
static uint64_t rnd(void) {
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return rs;
}

static const double THR[] = {-1.5, -0.25, 0.0, 0.3, 1.0, 2.75, 10.0, 1e300};
#define NTHR 8
#define CAP 400000

typedef struct flat {
    int64_t off[512];
    int32_t *fe, *le, *ri;
    double *th, *val;
    uint8_t *dl;
    size_t n, w;
} flat;

static int32_t grow(flat *F, int64_t base, int depth, int max_depth, size_t d, int with_dl) {
    int32_t me = (int32_t)(F->n++ - (size_t)base);
    size_t g = (size_t)base + (size_t)me;
    for (size_t c = 0; c < F->w; c++) F->val[g * F->w + c] = (double)(int64_t)(rnd() % 2001 - 1000) / 7.0;
    if (depth == max_depth || F->n + 2 >= CAP || rnd() % 5 == 0) {
        F->fe[g] = -1, F->le[g] = -1, F->ri[g] = -1, F->th[g] = 0, F->dl[g] = 0;
        return me;
    }
    F->fe[g] = (int32_t)(rnd() % d);
    F->th[g] = rnd() % 3 ? THR[rnd() % NTHR] : (double)(int64_t)(rnd() % 4001 - 2000) / 300.0;
    F->dl[g] = with_dl ? (uint8_t)(rnd() % 2) : 0;
    F->le[g] = grow(F, base, depth + 1, max_depth, d, with_dl);
    F->ri[g] = grow(F, base, depth + 1, max_depth, d, with_dl);
    return me;
}

static void make_list(tree_list *L, flat *F, size_t nt, int max_depth, size_t d, size_t w, int with_dl) {
    F->n = 0, F->w = w;
    for (size_t t = 0; t < nt; t++) {
        F->off[t] = (int64_t)F->n;
        grow(F, (int64_t)F->n, 0, max_depth, d, with_dl);
    }
    F->off[nt] = (int64_t)F->n;
    at_error err;
    tree_list_init(L, w);
    CHECK_OK(tree_list_from_flat(L, d, nt, F->off, F->fe, F->th, F->le, F->ri, with_dl ? F->dl : NULL, F->val,
                                 NULL, &err),
             &err);
}

static flat F;

static double value(void) {
    uint64_t u = rnd() % 14;
    double t = THR[rnd() % NTHR];
    switch (u) {
    case 0: return NAN;
    case 1: return nextafter(t, -INFINITY);
    case 2: return nextafter(t, INFINITY);
    case 3: return rnd() % 2 ? INFINITY : -INFINITY;
    case 4: return -0.0;
    case 5:
    case 6: return t;
    default: return (double)(int64_t)(rnd() % 4001 - 2000) / 300.0;
    }
}

/* The plain walker and the coded one (path: scalar or AVX-512) over n rows; 1 when every sum
 * agrees bit for bit. */
static int agree_path(const tree_list *L, const tree_coded *c, size_t groups, size_t d, size_t n, int threads,
                      tree_coded_path path) {
    size_t stride = groups * L->width + 1; /* a column neither walker may touch */
    double *X = malloc((n ? n : 1) * d * sizeof *X), *a = malloc((n ? n : 1) * stride * sizeof *a),
           *b = malloc((n ? n : 1) * stride * sizeof *b);
    for (size_t i = 0; i < n * d; i++) X[i] = value();
    for (size_t i = 0; i < n * stride; i++) a[i] = b[i] = (double)(i % 7) * 0.1;
    at_error err;
    tree_predict_add(L, 0, L->n_trees, groups, X, n, d, a, stride, threads);
    at_status s = tree_coded_predict_path(c, groups, X, n, b, stride, threads, path, &err);
    int ok = s == AT_OK && memcmp(a, b, n * stride * sizeof *a) == 0;
    free(X), free(a), free(b);
    return ok;
}

/* Both coded walkers (the AVX-512 one where the CPU has it: tree_coded_simd.c). */
static int agree(const tree_list *L, const tree_coded *c, size_t groups, size_t d, size_t n, int threads) {
    return agree_path(L, c, groups, d, n, threads, TREE_CODED_SCALAR) &&
           agree_path(L, c, groups, d, n, threads, TREE_CODED_SIMD);
}

static void check_case(size_t nt, int depth, size_t d, size_t w, size_t groups, int with_dl) {
    tree_list L;
    make_list(&L, &F, nt, depth, d, w, with_dl);
    tree_coded *c = NULL;
    at_error err;
    CHECK_OK(tree_coded_build(&L, d, &c, &err), &err);
    CHECK(c != NULL);
    if (c) {
        static const size_t ns[] = {0, 1, 15, 16, 17, 33, 1000, 9000};
        for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
            CHECK(agree(&L, c, groups, d, ns[i], 1));
            CHECK(agree(&L, c, groups, d, ns[i], 2));
        }
    }
    tree_coded_free(c);
    tree_list_free(&L);
}

static void test_forest_like(void) { check_case(60, 14, 6, 3, 1, 0); }     /* width 3, no NaN-left */
static void test_nan_left(void) { check_case(40, 12, 5, 3, 1, 1); }        /* NaN left on some splits */
static void test_width_one_groups(void) { check_case(90, 10, 4, 1, 3, 1); } /* boosting's shape */
static void test_width_two(void) { check_case(30, 14, 3, 2, 1, 0); }
static void test_width_five(void) { check_case(30, 10, 7, 5, 1, 0); }
static void test_many_features(void) { check_case(20, 10, 200, 3, 1, 0); } /* fewer rows per block */

/* Single leaves (a tree that never split) and one split on an exact threshold. */
static void test_tiny(void) {
    tree_list L;
    int64_t off[3] = {0, 1, 4};
    int32_t fe[4] = {-1, 0, -1, -1}, le[4] = {-1, 1, -1, -1}, ri[4] = {-1, 2, -1, -1};
    double th[4] = {0, 0.5, 0, 0}, val[4] = {0.25, 9, 1, 2};
    at_error err;
    tree_list_init(&L, 1);
    CHECK_OK(tree_list_from_flat(&L, 1, 2, off, fe, th, le, ri, NULL, val, NULL, &err), &err);
    tree_coded *c = NULL;
    CHECK_OK(tree_coded_build(&L, 1, &c, &err), &err);
    CHECK(c != NULL);
    if (c) {
        double X[5] = {0.5, nextafter(0.5, 1), -INFINITY, NAN, nextafter(0.5, 0)}, out[5] = {0};
        for (int path = TREE_CODED_SCALAR; path <= TREE_CODED_SIMD; path++) {
            memset(out, 0, sizeof out);
            CHECK_OK(tree_coded_predict_path(c, 1, X, 5, out, 1, 1, (tree_coded_path)path, &err), &err);
            CHECK(out[0] == 1.25 && out[1] == 2.25 && out[2] == 1.25 && out[3] == 2.25 && out[4] == 1.25);
        }
    }
    tree_coded_free(c);
    tree_list_free(&L);
}

static void test_declines(void) {
    tree_list L;
    make_list(&L, &F, 3, 4, 256, 1, 0); /* 256 features: the node has 8 bits for one */
    tree_coded *c = (tree_coded *)&L;
    at_error err;
    CHECK_OK(tree_coded_build(&L, 256, &c, &err), &err);
    CHECK(c == NULL);
    tree_list_free(&L);
}

int main(void) {
    F.fe = malloc(CAP * sizeof *F.fe), F.le = malloc(CAP * sizeof *F.le), F.ri = malloc(CAP * sizeof *F.ri);
    F.th = malloc(CAP * sizeof *F.th), F.val = malloc(CAP * 5 * sizeof *F.val), F.dl = malloc(CAP);
    RUN(test_forest_like);
    RUN(test_nan_left);
    RUN(test_width_one_groups);
    RUN(test_width_two);
    RUN(test_width_five);
    RUN(test_many_features);
    RUN(test_tiny);
    RUN(test_declines);
    free(F.fe), free(F.le), free(F.ri), free(F.th), free(F.val), free(F.dl);
    return harness_done();
}
