/* test_serve_rows_json.c - the fast {"rows": [...]} reader of the server against jansson (the
 * independent reading it stands in for): every body it accepts gives bit for bit the doubles
 * jansson's json_number_value gives (integers, reals, exponents, long significands beyond the
 * exact fast path, underflow, -0, null as NaN, any key order, extra keys); every body jansson
 * would answer differently (duplicates, missing or non-numeric features, nesting, extra
 * top-level keys, integer or real overflow, \v \f white space, comments, lone surrogates, NUL,
 * non-ASCII, too many rows, malformed or trailing text) is declined. And 200,000 random
 * number texts of every shape convert exactly as jansson converts them. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "serve/serve_internal.h"

static const char *const F[3] = {"u", "g", "redshift"};

static int fast(const char *body, size_t max_rows, double **X, size_t *n) {
    return at_serve_rows_json_fast(F, 3, max_rows, (const uint8_t *)body, strlen(body), X, n);
}

/* jansson's reading of an accepted body: rows[i][F[j]] as json_number_value, null as NaN */
static int same_as_jansson(const char *body, const double *X, size_t n) {
    json_error_t je;
    json_t *root = json_loads(body, JSON_REJECT_DUPLICATES, &je), *rows = json_object_get(root, "rows");
    int ok = root && json_is_array(rows) && json_array_size(rows) == n;
    for (size_t i = 0; ok && i < n; i++)
        for (size_t j = 0; ok && j < 3; j++) {
            json_t *x = json_object_get(json_array_get(rows, i), F[j]);
            double want = json_is_null(x) ? NAN : json_number_value(x);
            ok = x && (json_is_null(x) ? isnan(X[i * 3 + j]) : memcmp(&want, &X[i * 3 + j], sizeof want) == 0);
            if (!ok) fprintf(stderr, "  row %zu %s: fast %a, jansson %a\n", i, F[j], X[i * 3 + j], want);
        }
    json_decref(root);
    return ok;
}

static void accepted(const char *body, size_t want_n) {
    double *X = NULL;
    size_t n = 99;
    int r = fast(body, 100, &X, &n);
    if (!r || n != want_n || !same_as_jansson(body, X, n)) {
        fprintf(stderr, "  not read as jansson reads it: %s\n", body);
        CHECK(0);
    }
    free(X);
}

static void declined(const char *body) {
    double *X = (double *)1;
    size_t n = 99;
    if (fast(body, 3, &X, &n) != 0 || X != NULL || n != 0) {
        fprintf(stderr, "  not declined: %s\n", body);
        CHECK(0);
    }
}

static void test_values(void) {
    double *X = NULL;
    size_t n = 0;
    /* hand-known values: any key order, an extra key, null, integers, exponents */
    CHECK(fast("{\"rows\":[{\"g\":2,\"u\":1.5,\"redshift\":null,\"ra\":3},{\"u\":-0,\"g\":1e2,\"redshift\":2.5E-1}]}", 10,
               &X, &n) == 1);
    CHECK(n == 2);
    if (X && n == 2) {
        CHECK(X[0] == 1.5 && X[1] == 2.0 && isnan(X[2]));
        CHECK(X[3] == 0.0 && !signbit(X[3])); /* jansson reads "-0" as the integer 0 */
        CHECK(X[4] == 100.0 && X[5] == 0.25);
    }
    free(X);
    accepted("{\"rows\":[]}", 0);
    accepted(" \t\r\n{ \"rows\" : [ { \"u\" : 23.87882 , \"g\" : 22.2753 , \"redshift\" : 0.6347936 } ] }\n", 1);
    accepted("{\"rows\":[{\"u\":-0.0,\"g\":1e-400,\"redshift\":4.9e-324}]}", 1);
    accepted("{\"rows\":[{\"u\":0.1000000000000000055511151231257827,\"g\":123456789012345678901234567890.0,"
             "\"redshift\":9007199254740993}]}", 1);
    accepted("{\"rows\":[{\"u\":9223372036854775807,\"g\":-9223372036854775808,\"redshift\":1.7976931348623157e308}]}", 1);
    accepted("{\"rows\":[{\"u\":1,\"g\":2,\"redshift\":3,\"name\":\"NGC 1300\",\"ok\":true,\"bad\":false,\"z\":null}]}", 1);
    accepted("{\"rows\":[{\"\\u0075\":1,\"g\":2,\"redshift\":3}]}", 1); /* an escaped key is the same key */
    accepted("{\"rows\":[{\"u\":1,\"g\":2,\"redshift\":3},{\"u\":4,\"g\":5,\"redshift\":6},{\"u\":7,\"g\":8,\"redshift\":9}]}", 3);
}

static void test_declined(void) {
    const char *bad[] = {
        "", "{", "[]", "{\"rows\":[{\"u\":1,\"g\":2,\"redshift\":3}]} x", "{\"rows\":5}", "{\"data\":[]}",
        "{\"rows\":[],\"rows\":[]}", "{\"rows\":[],\"other\":1}", "{\"rows\":[1]}", "{\"rows\":[[1,2,3]]}",
        "{\"rows\":[{\"u\":1,\"g\":2}]}",                                  /* missing feature */
        "{\"rows\":[{\"u\":1,\"g\":2,\"redshift\":\"3\"}]}",                 /* a string feature */
        "{\"rows\":[{\"u\":1,\"g\":2,\"redshift\":true}]}",                  /* a boolean feature */
        "{\"rows\":[{\"u\":1,\"g\":2,\"redshift\":3,\"u\":4}]}",             /* duplicate feature */
        "{\"rows\":[{\"u\":1,\"u\":2,\"redshift\":3}]}", /* a duplicate in place of a missing one */
        "{\"rows\":[{\"u\":1,\"g\":2,\"redshift\":3,\"a\":1,\"a\":2}]}",     /* duplicate extra key */
        "{\"rows\":[{\"u\":1,\"g\":2,\"redshift\":3,\"m\":{\"a\":1}}]}",     /* nesting in a row */
        "{\"rows\":[{\"u\":1,\"g\":2,\"redshift\":3,\"m\":[1]}]}",
        "{\"rows\":[{\"u\":9223372036854775808,\"g\":2,\"redshift\":3}]}",  /* jansson: too big integer */
        "{\"rows\":[{\"u\":1e400,\"g\":2,\"redshift\":3}]}",                /* jansson: real overflow */
        "{\"rows\":[{\"u\":1,\"g\":2,\"redshift\":3,\"n\":-1e999}]}",
        "{\"rows\":[{\"u\":1,\"g\":2,\"redshift\":3}]}\f", "{\"rows\":\v[]}", /* yajl's extra white space */
        "{\"rows\":[]}\":[]", "{\"rows\":[]}\"}", "{\"rows\":[]} \"", /* unfinished tokens after the object */
        "{\"rows\":[/* c */]}", "{\"rows\":[{\"u\":01,\"g\":2,\"redshift\":3}]}", "{\"rows\":[{\"u\":1.,\"g\":2,\"redshift\":3}]}",
        "{\"rows\":[{\"u\":1,\"g\":2,\"redshift\":3,\"s\":\"\\ud800\"}]}",   /* lone surrogate */
        "{\"rows\":[{\"u\":1,\"g\":2,\"redshift\":3,\"\\udc00\":1}]}",
        "{\"rows\":[{\"u\":1,\"g\":2,\"redshift\":3,\"s\":\"a\\u0000b\"}]}", /* NUL in a string */
        "{\"rows\":[{\"u\":1,\"g\":2,\"redshift\":3,\"s\":\"\xc3\xa9\"}]}",  /* non-ASCII */
        "{\"rows\":[{\"u\":1,\"g\":2,\"redshift\":3,\"s\":\"\xff\"}]}",      /* invalid UTF-8 */
        "{\"rows\":[{\"u\":NaN,\"g\":2,\"redshift\":3}]}", "{\"rows\":[{\"u\":Infinity,\"g\":2,\"redshift\":3}]}",
        "{\"rows\":[{\"u\":1,\"g\":2,\"redshift\":3},{\"u\":1,\"g\":2,\"redshift\":3},{\"u\":1,\"g\":2,\"redshift\":3},"
        "{\"u\":1,\"g\":2,\"redshift\":3}]}", /* 4 rows over the limit of 3 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) declined(bad[i]);
    /* NUL inside the body (not a C string) */
    double *X = NULL;
    size_t n = 0;
    static const char nul[] = "{\"rows\":[{\"u\":1,\"g\":2,\"redshift\":3}]}\0";
    CHECK(at_serve_rows_json_fast(F, 3, 10, (const uint8_t *)nul, sizeof nul, &X, &n) == 0 && !X);
}

static uint64_t state = 0x2545F4914F6CDD1DULL;
static uint64_t next(void) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return state;
}

/* Random number texts of every shape: integer or decimal significands of 1-25 digits, leading
 * zeros after the point, exponents -340..340, signs; each converts exactly as jansson does. */
static void test_random_numbers(void) {
    int bad = 0;
    char body[400], num[3][96];
    for (int it = 0; it < 200000 && bad < 5; it++) {
        for (int j = 0; j < 3; j++) {
            char *p = num[j];
            if (next() % 2) *p++ = '-';
            int id = 1 + (int)(next() % (it % 3 ? 17 : 25)), fd = (int)(next() % 20);
            *p++ = (char)('1' + next() % 9);
            for (int k = 1; k < id; k++) *p++ = (char)('0' + next() % 10);
            if (next() % 4) {
                *p++ = '.';
                for (int k = 0; k < fd + 1; k++) *p++ = (char)('0' + next() % 10);
            }
            if (next() % 3 == 0) p += sprintf(p, "e%d", (int)(next() % 681) - 340);
            *p = 0;
            if (next() % 16 == 0) strcpy(num[j], "0.000001"); /* and some short ones */
        }
        snprintf(body, sizeof body, "{\"rows\":[{\"u\":%s,\"g\":%s,\"redshift\":%s}]}", num[0], num[1], num[2]);
        double *X = NULL;
        size_t n = 0;
        if (fast(body, 10, &X, &n)) {
            if (!same_as_jansson(body, X, n)) bad++;
        } else { /* declined: only when jansson refuses it too (overflow) */
            json_error_t je;
            json_t *root = json_loads(body, JSON_REJECT_DUPLICATES, &je);
            if (root) fprintf(stderr, "  declined a body jansson reads: %s\n", body), bad++;
            json_decref(root);
        }
        free(X);
    }
    CHECK(bad == 0);
}

int main(void) {
    RUN(test_values);
    RUN(test_declined);
    RUN(test_random_numbers);
    return harness_done();
}
