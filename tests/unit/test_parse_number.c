/* test_parse_number.c - the catalogue number parser (at_parse_number, src/data/load.c: an exact
 * fast path for short decimal mantissas with small exponents, strtod for the rest) against
 * glibc's strtod, bit for bit, on 200,000 random decimal strings (signs, leading zeros, up to
 * 20 integer and 20 fraction digits, exponents of either sign and case) and on edge cases
 * (2^53 neighbours, 1e22/1e23, subnormals, the largest double, overflow to infinity, -0). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/csv.h"
#include "harness.h"

static uint64_t rs = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) {
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return rs;
}

/* 1 when at_parse_number reads s as strtod does (bits, so -0 counts; overflow: infinity
 * reported as special 2). */
static int same_as_strtod(const char *s) {
    double v = 0, w = strtod(s, NULL);
    int sp = -1;
    if (!at_parse_number(s, &v, &sp)) return 0;
    if (isinf(w)) return sp == 2 && v == w;
    return sp == 0 && memcmp(&v, &w, sizeof v) == 0;
}

static void random_number(char *buf, size_t cap) {
    size_t w = 0;
    uint64_t u = rnd();
    if (u % 3 == 1) buf[w++] = '-';
    else if (u % 3 == 2) buf[w++] = '+';
    size_t ni = rnd() % 21, nf = rnd() % 21;
    if (ni + nf == 0) ni = 1;
    int zeros = rnd() % 4 == 0; /* leading zeros: 000123.4, 0.000056 */
    for (size_t i = 0; i < ni; i++) buf[w++] = (char)('0' + (zeros && i < ni / 2 ? 0 : rnd() % 10));
    if (nf || rnd() % 2) {
        buf[w++] = '.';
        for (size_t i = 0; i < nf; i++) buf[w++] = (char)('0' + (zeros && i < nf / 2 ? 0 : rnd() % 10));
    }
    if (rnd() % 2) {
        buf[w++] = rnd() % 2 ? 'e' : 'E';
        uint64_t e = rnd();
        if (e % 3 == 1) buf[w++] = '-';
        else if (e % 3 == 2) buf[w++] = '+';
        w += (size_t)snprintf(buf + w, cap - w, "%d", (int)(rnd() % (rnd() % 4 == 0 ? 400 : 30)));
    }
    buf[w] = '\0';
}

static void test_random_against_strtod(void) {
    char buf[96];
    size_t bad = 0;
    for (int i = 0; i < 200000; i++) {
        random_number(buf, sizeof buf);
        if (!same_as_strtod(buf)) {
            if (bad++ < 5) fprintf(stderr, "  differs from strtod: '%s'\n", buf);
        }
    }
    CHECK(bad == 0);
}

/* Catalogue-like numbers: magnitudes with 4-6 decimals, coordinates with up to 15. */
static void test_catalogue_like(void) {
    char buf[64];
    size_t bad = 0;
    for (int i = 0; i < 100000; i++) {
        double x = (double)(rnd() % 4000000) / 1e5 - 10.0;
        snprintf(buf, sizeof buf, "%.*f", (int)(rnd() % 16), x);
        bad += !same_as_strtod(buf);
        snprintf(buf, sizeof buf, "%.*g", (int)(1 + rnd() % 17), x * 1e-3);
        bad += !same_as_strtod(buf);
    }
    CHECK(bad == 0);
}

static void test_edges(void) {
    static const char *const s[] = {
        "0", "-0", "+0", "0.0", "-0.0", ".5", "5.", "-.5e1", "1e0", "1E+0", "1e-0", "007", "0.000",
        "9007199254740992", "9007199254740993", "9007199254740995", "-9007199254740993",
        "90071992547409930", "1e22", "1e23", "-1e-22", "1e-23", "123456789012345678e-22",
        "4.9e-324", "2.4703282292062327e-324", "2.4703282292062328e-324", "2.2250738585072014e-308",
        "2.2250738585072011e-308", "1.7976931348623157e308", "1.7976931348623158e308", "1e308",
        "1e309", "-1e400", "1e-400", "0.1", "0.2", "0.3", "18.74547", "-5.491128E-05", "1.23764870457714E+018",
        "135.6891066036", "32.4946318397087", "0.000000000000000000000000000001",
        "100000000000000000000000", "179769313486231570000000000000000000000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"};
    for (size_t i = 0; i < sizeof s / sizeof *s; i++) {
        if (!same_as_strtod(s[i])) fprintf(stderr, "  differs from strtod: '%s'\n", s[i]);
        CHECK(same_as_strtod(s[i]));
    }
    /* Not numbers: a lone sign or point, a dangling exponent, text after the number. */
    static const char *const no[] = {"-", "+", ".", "-.", "1e", "1e+", "e5", "1.2.3", "1e5x", "--1", "0x10", "1 2"};
    double v;
    int sp;
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) CHECK(at_parse_number(no[i], &v, &sp) == 0);
}

int main(void) {
    RUN(test_random_against_strtod);
    RUN(test_catalogue_like);
    RUN(test_edges);
    return harness_done();
}
