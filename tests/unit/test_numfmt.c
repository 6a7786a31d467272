/* test_numfmt.c - the fast "%.9g" formatter against glibc's printf: edge values (powers of
 * ten and their neighbours, the e-XX forms, ties, signs, zero, huge/tiny, NaN/Inf) and many random doubles
 * of every magnitude and of the probability range. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/numfmt.h"
#include "harness.h"

static int mismatches;

static void same(double v) {
    char a[AT_FMT_G9_MAX], b[64];
    size_t n = at_fmt_g9(a, v);
    snprintf(b, sizeof b, "%.9g", v);
    if (strcmp(a, b) != 0 || n != strlen(b)) {
        if (mismatches++ < 10) fprintf(stderr, "  %.17g: fast '%s', printf '%s'\n", v, a, b);
    }
}

static uint64_t state = 0x9E3779B97F4A7C15ULL;
static uint64_t next(void) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return state;
}

static void test_edges(void) {
    mismatches = 0;
    const double e[] = {0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 0.01, 0.99, 1e-4, 1.0001e-4, 9.9999e-5, 1e-5, 123456789.0,
                        999999999.0, 999999999.5, 1e9, 1e8, 99999999.95, 0.000123456789, 0.1234567895,
                        0.12345678949999999, 2.5, 1.5, 1e300, -1e-300, DBL_MIN, DBL_MAX, 4.9e-324, NAN, INFINITY,
                        -INFINITY, 0.3333333333333333, 0.6666666666666666, 18.74547, -9999.0, 0.999999999,
                        0.9999999995, 0.99999999949999996, 1.00000000049999999};
    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++) same(e[i]);
    for (int p = -330; p <= 310; p++) {
        double v = pow(10.0, p);
        same(v), same(nextafter(v, 0)), same(nextafter(v, INFINITY)), same(-v);
        same(v * 0.5), same(v * 9.99999999), same(v * 9.999999995);
    }
    CHECK(mismatches == 0);
}

static void test_random(void) {
    mismatches = 0;
    for (int i = 0; i < 2000000; i++) {
        uint64_t u = next();
        double v;
        switch (i % 4) {
        case 0: memcpy(&v, &u, sizeof v); break;             /* any bit pattern */
        case 1: v = (double)(u >> 11) / 9007199254740992.0; break; /* [0, 1) */
        case 2: v = (double)(u % 1000001) / 1000000.0; break; /* short decimals */
        default: v = ldexp((double)(u >> 11), (int)(next() % 80) - 90); break; /* magnitudes */
        }
        same(v);
    }
    /* The e-XX forms the fast path writes: exponents down to -100. */
    for (int i = 0; i < 300000; i++) same((double)(next() >> 11) / 9007199254740992.0 * pow(10.0, -(double)(next() % 101)));
    /* Exact ninth-digit ties: k + 0.5 units at every position. */
    for (int i = 0; i < 200000; i++) same(((double)(next() % 1000000000) + 0.5) / pow(10.0, (double)(next() % 13)));
    CHECK(mismatches == 0);
}

int main(void) {
    RUN(test_edges);
    RUN(test_random);
    return harness_done();
}
