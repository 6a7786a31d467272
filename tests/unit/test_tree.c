/* test_tree.c - the tree core shared by the forest and boosting: the node layout and its file
 * form (child order, every corrupt index refused), the walker (threshold side, NaN direction,
 * several trees, class-distribution and per-class leaves, rows left out per tree),
 * and the binner's two cut rules against hand-worked bins. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "models/tree/tree.h"

/* Two trees over d = 2 in the file form: tree 0 splits feature 0 at 2.5 (NaN left), its right
 * child splits feature 1 at 0 (NaN right); tree 1 is a single leaf. */
static const int64_t OFF[] = {0, 5, 6};
static const int32_t FE[] = {0, -1, 1, -1, -1, -1};
static const double TH[] = {2.5, 0, 0.0, 0, 0, 0};
static const int32_t LE[] = {1, -1, 3, -1, -1, -1};
static const int32_t RI[] = {2, -1, 4, -1, -1, -1};
static const uint8_t DL[] = {1, 0, 0, 0, 0, 0};
static const double VAL[] = {0, 10, 0, 20, 30, 100};

static void build(tree_list *L) {
    at_error err;
    tree_list_init(L, 1);
    CHECK_OK(tree_list_from_flat(L, 2, 2, OFF, FE, TH, LE, RI, DL, VAL, NULL, &err), &err);
}

static void test_flat_round_trip(void) {
    tree_list L;
    build(&L);
    CHECK(L.n_trees == 2 && L.n_nodes == 6);
    CHECK(L.depth[0] == 2 && L.depth[1] == 0);
    /* In memory a leaf points to itself; a split keeps its children in order. */
    CHECK(tree_node_is_leaf(&L.nodes[1], 1) && L.nodes[1].left == 1 && L.nodes[1].right == 1);
    CHECK(!tree_node_is_leaf(&L.nodes[0], 0) && L.nodes[0].left == 1 && L.nodes[0].right == 2);
    CHECK(tree_node_is_leaf(&L.nodes[5], 0));
    int32_t fe[6], le[6], ri[6];
    double th[6];
    uint8_t dl[6];
    tree_list_to_flat(&L, fe, th, le, ri, dl);
    CHECK(memcmp(fe, FE, sizeof fe) == 0 && memcmp(le, LE, sizeof le) == 0 && memcmp(ri, RI, sizeof ri) == 0);
    CHECK(memcmp(th, TH, sizeof th) == 0 && memcmp(dl, DL, sizeof dl) == 0);
    tree_list_free(&L);
}

/* A tree built node by node (as the learners do) keeps left and right apart. */
static void test_tree_set_split_order(void) {
    tree t;
    at_error err;
    tree_init(&t, 1);
    CHECK_OK(tree_reserve(&t, 3, &err), &err);
    t.n_nodes = 3;
    tree_set_split(&t, 0, 1, 0.5, 0, 1, 2, 7.0);
    tree_set_leaf(&t, 1);
    tree_set_leaf(&t, 2);
    t.value[0] = 0, t.value[1] = -1, t.value[2] = 1;
    t.depth = 1;
    CHECK(t.nodes[0].left == 1 && t.nodes[0].right == 2 && t.nodes[0].feature == 1 && t.gain[0] == 7.0);
    tree_list L;
    tree_list_init(&L, 1);
    CHECK_OK(tree_list_append(&L, &t, &err), &err);
    CHECK_OK(tree_list_append(&L, &t, &err), &err);
    CHECK(L.n_trees == 2 && L.off[2] == 6);
    double X[] = {0, 0.5, 0, 0.6}, out[2] = {0, 0};
    tree_predict_add(&L, 0, 2, 1, X, 2, 2, out, 1, 1);
    CHECK(out[0] == -2 && out[1] == 2);
    tree_list_truncate(&L, 1);
    CHECK(L.n_trees == 1 && L.n_nodes == 3);
    tree_list_free(&L);
    tree_free(&t);
}

/* x equal to the threshold goes left; NaN follows dl; both walkers agree. */
static void test_walk_threshold_and_nan(void) {
    tree_list L;
    build(&L);
    /* rows: (2.5, 5) -> leaf 1; (2.6, 0) -> leaf 3 (0 <= 0); (2.6, 1e-300) -> leaf 4;
     * (NaN, 9) -> leaf 1 (dl); (3, NaN) -> leaf 4 (no dl). 11 rows to use the lanes and the tail. */
    const double rows[5][2] = {{2.5, 5}, {2.6, 0}, {2.6, 1e-300}, {NAN, 9}, {3, NAN}};
    const double want[5] = {10, 20, 30, 10, 30};
    size_t n = 11;
    double X[22], out[22];
    for (size_t i = 0; i < n; i++) {
        X[2 * i] = rows[i % 5][0];
        X[2 * i + 1] = rows[i % 5][1];
    }
    /* groups 2: tree t adds to column t % 2. */
    memset(out, 0, sizeof out);
    tree_predict_add(&L, 0, 2, 2, X, n, 2, out, 2, 2);
    for (size_t i = 0; i < n; i++) {
        CHECK(out[2 * i] == want[i % 5]);
        CHECK(out[2 * i + 1] == 100);
    }
    /* Leaving out rows: tree 0 skips rows 1 and 9, tree 1 skips row 2 (and the tail row 10). */
    uint8_t bag0[2] = {0x02, 0x02}, bag1[2] = {0x04, 0x04};
    const uint8_t *bags[2] = {bag0, bag1};
    memset(out, 0, sizeof out);
    tree_predict_add_except(&L, 0, 2, 1, X, n, 2, out, 1, 2, bags);
    for (size_t i = 0; i < n; i++)
        CHECK(out[i] == (i == 1 || i == 9 ? 0 : want[i % 5]) + (i == 2 || i == 10 ? 0 : 100));
    /* groups 1: both trees into one column; only trees [0, 1) */
    memset(out, 0, sizeof out);
    tree_predict_add(&L, 0, 1, 1, X, n, 2, out, 1, 1);
    for (size_t i = 0; i < n; i++) CHECK(out[i] == want[i % 5]);
    tree_list_free(&L);
}

/* Width k: a class distribution per leaf, summed over trees in order. */
static void test_walk_width(void) {
    at_error err;
    tree_list L;
    tree_list_init(&L, 2);
    const int64_t off[] = {0, 3, 6};
    const int32_t fe[] = {0, -1, -1, 1, -1, -1}, le[] = {1, -1, -1, 1, -1, -1}, ri[] = {2, -1, -1, 2, -1, -1};
    const double th[] = {0, 0, 0, 1, 0, 0};
    const double val[] = {.5, .5, 1, 0, 0, 1, .5, .5, .25, .75, .75, .25};
    CHECK_OK(tree_list_from_flat(&L, 2, 2, off, fe, th, le, ri, NULL, val, NULL, &err), &err);
    double X[] = {-1, 1, 1, 2}, out[4] = {0};
    tree_predict_add(&L, 0, 2, 1, X, 2, 2, out, 2, 1);
    CHECK(out[0] == 1.25 && out[1] == 0.75 && out[2] == 0.75 && out[3] == 1.25);
    tree_list_free(&L);
}

/* Every corrupt index is refused. */
static void test_flat_corrupt(void) {
    at_error err;
    for (int c = 0; c < 7; c++) {
        int64_t off[3];
        int32_t fe[6], le[6], ri[6];
        double th[6];
        memcpy(off, OFF, sizeof off);
        memcpy(fe, FE, sizeof fe);
        memcpy(le, LE, sizeof le);
        memcpy(ri, RI, sizeof ri);
        memcpy(th, TH, sizeof th);
        if (c == 0) ri[0] = 0;   /* a cycle */
        if (c == 1) le[0] = 5;   /* outside the tree */
        if (c == 2) fe[2] = 2;   /* no such feature */
        if (c == 3) th[0] = NAN; /* no threshold */
        if (c == 4) le[1] = 2;   /* a leaf with a child */
        if (c == 5) off[1] = 0;  /* an empty tree */
        if (c == 6) le[0] = 2;   /* both children the same */
        tree_list L;
        tree_list_init(&L, 1);
        CHECK_FAIL(tree_list_from_flat(&L, 2, 2, off, fe, th, le, ri, NULL, VAL, NULL, &err),
                   AT_ERR_MODEL, &err, "");
        tree_list_free(&L);
    }
}

/* RANK: value at sorted position j goes to raw bin floor(j * max_bin / m), ties kept together. */
static void test_bins_rank(void) {
    at_error err;
    tree_bins b;
    double X[10];
    for (int i = 0; i < 10; i++) X[i] = (double)(9 - i);
    CHECK_OK(tree_bins_fit(X, 10, 1, 4, TREE_CUTS_RANK, 0, 1, &b, &err), &err);
    /* positions 0-2 | 3-4 | 5-7 | 8-9 */
    CHECK(b.n_bins[0] == 4);
    CHECK(b.edge[0] == 2.5 && b.edge[1] == 4.5 && b.edge[2] == 7.5 && isinf(b.edge[3]));
    CHECK(b.lo[0] == 0 && b.hi[0] == 2 && b.lo[1] == 3 && b.hi[1] == 4 && b.lo[3] == 8 && b.hi[3] == 9);
    CHECK(tree_bin_code(&b, 0, 2.5) == 0 && tree_bin_code(&b, 0, 2.6) == 1 && tree_bin_code(&b, 0, 99) == 3);
    uint8_t codes[10];
    tree_bins_encode(&b, X, 10, codes, 2);
    CHECK(codes[0] == 3 && codes[9] == 0 && codes[5] == 1);
    tree_bins_free(&b);
    /* Ties: 0 0 0 0 0 0 1 2 3 4 with 5 bins: the zeros take positions 0-5 (raw bins 0-2). */
    for (int i = 0; i < 10; i++) X[i] = i < 6 ? 0 : (double)(i - 5);
    CHECK_OK(tree_bins_fit(X, 10, 1, 5, TREE_CUTS_RANK, 0, 1, &b, &err), &err);
    CHECK(b.n_bins[0] == 3); /* {0} {1, 2} {3, 4}: raw bins 3, 3, 4, 4 for 1..4 */
    CHECK(b.edge[0] == 0.5 && b.edge[1] == 2.5 && b.hi[0] == 0 && b.lo[1] == 1 && b.hi[1] == 2 &&
          b.lo[2] == 3 && b.hi[2] == 4);
    tree_bins_free(&b);
    /* 256 bins without missing values; NaN refused then. */
    CHECK_OK(tree_bins_fit(X, 10, 1, 256, TREE_CUTS_RANK, 0, 1, &b, &err), &err);
    CHECK(b.n_bins[0] == 5);
    tree_bins_free(&b);
    X[3] = NAN;
    CHECK_FAIL(tree_bins_fit(X, 10, 1, 8, TREE_CUTS_RANK, 0, 1, &b, &err), AT_ERR_DATA, &err, "NaN");
    CHECK_FAIL(tree_bins_fit(X, 10, 1, 256, TREE_CUTS_GREEDY, 1, 1, &b, &err), AT_ERR_CONFIG, &err, "max_bin");
}

int main(void) {
    RUN(test_flat_round_trip);
    RUN(test_tree_set_split_order);
    RUN(test_walk_threshold_and_nan);
    RUN(test_walk_width);
    RUN(test_flat_corrupt);
    RUN(test_bins_rank);
    return harness_done();
}
