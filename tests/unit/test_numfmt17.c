/* test_numfmt17.c - the exact "%.17g" formatter of the server's answers against glibc's
 * printf: edge values (powers of ten and their neighbours, both ends of the exact range, the
 * e-05/e-06 forms, exact ties at the seventeenth digit, signs, zero, NaN/Inf, subnormals) and
 * millions of random doubles of every magnitude, of the probability range and of forest
 * vote fractions. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/numfmt17.h"
#include "harness.h"

static int mismatches;

static void same(double v) {
    char a[AT_FMT_G17_MAX], b[64];
    size_t n = at_fmt_g17(a, v);
    snprintf(b, sizeof b, "%.17g", v);
    if (strcmp(a, b) != 0 || n != strlen(b)) {
        if (mismatches++ < 10) fprintf(stderr, "  %a: fast '%s', printf '%s'\n", v, a, b);
    }
}

static uint64_t state = 0x9E3779B97F4A7C15ULL;
static uint64_t next(void) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return state;
}

static void test_hand_values(void) {
    /* values whose text is known by hand, not only by printf */
    char b[AT_FMT_G17_MAX];
    at_fmt_g17(b, 0.35);
    CHECK(strcmp(b, "0.34999999999999998") == 0);
    at_fmt_g17(b, 1.0);
    CHECK(strcmp(b, "1") == 0);
    at_fmt_g17(b, 0.0);
    CHECK(strcmp(b, "0") == 0);
    at_fmt_g17(b, 0.5);
    CHECK(strcmp(b, "0.5") == 0);
    at_fmt_g17(b, 0.01);
    CHECK(strcmp(b, "0.01") == 0);
    at_fmt_g17(b, 0.07);
    CHECK(strcmp(b, "0.070000000000000007") == 0);
    at_fmt_g17(b, 1.5e-5);
    CHECK(strcmp(b, "1.5e-05") == 0);
    at_fmt_g17(b, 1000000000000000.25); /* a tie at the 17th digit: half to even */
    CHECK(strcmp(b, "1000000000000000.2") == 0);
    at_fmt_g17(b, 1000000000000000.75);
    CHECK(strcmp(b, "1000000000000000.8") == 0);
    at_fmt_g17(b, -2.0 / 3.0);
    CHECK(strcmp(b, "-0.66666666666666663") == 0);
    at_fmt_g17(b, 23.87882);
    CHECK(strcmp(b, "23.878820000000001") == 0);
    at_fmt_g17(b, 1e16);
    CHECK(strcmp(b, "10000000000000000") == 0);
}

static void test_edges(void) {
    mismatches = 0;
    const double e[] = {0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 0.01, 0.99, 1e-4, 1e-5, 1e-6, 1e-7, 9.9999999999999995e-7,
                        1e16, 1e17, 9.9999999999999998e16, 2.5, 1.5, 1e300, -1e-300, DBL_MIN, DBL_MAX, 4.9e-324, NAN,
                        INFINITY, -INFINITY, 0.3333333333333333, 0.6666666666666666, 18.74547, -9999.0,
                        9007199254740992.0, 9007199254740993.0, 18014398509481986.0, 0.99999999999999989};
    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++) same(e[i]);
    for (int p = -330; p <= 310; p++) {
        double v = pow(10.0, p);
        same(v), same(nextafter(v, 0)), same(nextafter(v, INFINITY)), same(-v);
        same(v * 0.5), same(v * 9.9999999999999999), same(v * 9.99999999999999995);
    }
    CHECK(mismatches == 0);
}

static void test_random(void) {
    mismatches = 0;
    for (int i = 0; i < 1000000; i++) {
        uint64_t u = next();
        double v;
        switch (i % 5) {
        case 0: memcpy(&v, &u, sizeof v); break;                                    /* any bit pattern */
        case 1: v = (double)(u >> 11) / 9007199254740992.0; break;                  /* [0, 1) */
        case 2: v = (double)(u % 1001) / (double)(1 + next() % 1000); break;       /* vote fractions */
        case 3: v = ldexp((double)(u >> 11), (int)(next() % 120) - 130); break;    /* magnitudes */
        default: v = (double)(u >> 11) / 9007199254740992.0 * pow(10.0, (double)(next() % 26) - 8); break;
        }
        same(v), same(-v);
    }
    /* exact ties at the seventeenth digit (18 significant digits ending in 5, half to even):
     * 16-digit integers + .25/.75 and 15-digit integers + .125/.375/.625/.875 */
    for (int i = 0; i < 200000; i++) {
        double n16 = 1e15 + (double)(next() % 1200000000000000ULL), n15 = 1e14 + (double)(next() % 1000000000000000ULL);
        same(n16 + 0.25), same(n16 + 0.75), same(-(n16 + 0.25));
        same(n15 + 0.125 + 0.25 * (double)(next() % 4));
        same(ldexp((double)(next() >> 11), -(int)(next() % 20)));
    }
    CHECK(mismatches == 0);
}

int main(void) {
    RUN(test_hand_values);
    RUN(test_edges);
    RUN(test_random);
    return harness_done();
}
