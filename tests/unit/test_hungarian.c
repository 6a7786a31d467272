/* test_hungarian.c - the assignment solver against brute force over all permutations. */
#include <stdlib.h>

#include "astrotrain/hungarian.h"
#include "astrotrain/rng.h"
#include "harness.h"

/* Best total over all permutations of 0..n-1 (Heap's algorithm). */
static double brute_best(const double *s, size_t n, int maximise) {
    int perm[8], c[8] = {0};
    for (size_t i = 0; i < n; i++) perm[i] = (int)i;
    double best = 0;
    for (size_t i = 0; i < n; i++) best += s[i * n + (size_t)perm[i]];
    size_t i = 0;
    while (i < n) {
        if (c[i] < (int)i) {
            size_t j = (i % 2 == 0) ? 0 : (size_t)c[i];
            int t = perm[j];
            perm[j] = perm[i];
            perm[i] = t;
            double tot = 0;
            for (size_t r = 0; r < n; r++) tot += s[r * n + (size_t)perm[r]];
            if (maximise ? tot > best : tot < best) best = tot;
            c[i]++;
            i = 0;
        } else {
            c[i] = 0;
            i++;
        }
    }
    return best;
}

static int is_permutation(const int *a, size_t n) {
    int seen[8] = {0};
    for (size_t i = 0; i < n; i++) {
        if (a[i] < 0 || (size_t)a[i] >= n || seen[a[i]]) return 0;
        seen[a[i]] = 1;
    }
    return 1;
}

static void test_against_brute_force(void) {
    at_error err = {0};
    at_rng r;
    at_rng_init(&r, 7, 0);
    for (size_t n = 1; n <= 7; n++) {
        for (int trial = 0; trial < 40; trial++) {
            double s[49];
            /* Half the trials use small integers, so ties are common. */
            for (size_t i = 0; i < n * n; i++)
                s[i] = trial % 2 ? (double)at_rng_below(&r, 4) : at_rng_normal(&r) * 100;
            int a[8];
            CHECK_OK(at_hungarian_max(s, n, a, &err), &err);
            CHECK(is_permutation(a, n));
            double tot = 0;
            for (size_t i = 0; i < n; i++) tot += s[i * n + (size_t)a[i]];
            CHECK_NEAR(tot, brute_best(s, n, 1), 1e-9);
            CHECK_OK(at_hungarian_min(s, n, a, &err), &err);
            CHECK(is_permutation(a, n));
            tot = 0;
            for (size_t i = 0; i < n; i++) tot += s[i * n + (size_t)a[i]];
            CHECK_NEAR(tot, brute_best(s, n, 0), 1e-9);
        }
    }
}

static void test_confusion_matching(void) {
    /* Clusters 0,1,2 hold mostly classes 2,0,1. */
    const double counts[9] = {5, 1, 90, 80, 10, 3, 2, 70, 9};
    int a[3];
    at_error err = {0};
    CHECK_OK(at_hungarian_max(counts, 3, a, &err), &err);
    CHECK(a[0] == 2 && a[1] == 0 && a[2] == 1);
}

static void test_edge_cases(void) {
    at_error err = {0};
    int a[2] = {-5, -5};
    CHECK_OK(at_hungarian_max(NULL, 0, a, &err), &err);
    CHECK(a[0] == -5);
    const double bad[4] = {1, NAN, 0, 2};
    CHECK_FAIL(at_hungarian_max(bad, 2, a, &err), AT_ERR_DATA, &err, "not finite");
    const double big[4] = {1e300, -1e300, 3, 4};
    CHECK_OK(at_hungarian_max(big, 2, a, &err), &err);
    CHECK(a[0] == 0 && a[1] == 1);
}

int main(void) {
    RUN(test_against_brute_force);
    RUN(test_confusion_matching);
    RUN(test_edge_cases);
    return harness_done();
}
