/* serve_rows_json.c - the fast reader of the plain predict body {"rows": [{"u": .., ...}, ...]}:
 * yajl's callback (SAX) parser writes each feature value straight into the row matrix, with
 * no tree of 1000 objects built and freed per request (jansson's json_loadb was two thirds of
 * a 1000-row request's time, the forest included). It reads only the plain form: one top-level
 * "rows" array of flat objects whose features are numbers or null, extra keys with plain
 * values. Anything else, and anything jansson might read differently (duplicate keys,
 * integers beyond 64 bits, overflowing reals, non-ASCII or escaped-looking strings, \v \f
 * whitespace, nesting inside a row, a missing or non-numeric feature, too many rows), makes
 * it decline, and the jansson reader of serve_predict.c decides with its exact answer and
 * error text. Numbers convert exactly as jansson does: integers through strtoll, reals
 * to strtod's bits through at_parse_number (csv.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "astrotrain/csv.h"
#include "serve/serve_internal.h"

enum { S_START, S_TOP, S_ROWS_NEXT, S_ROWS, S_ROW, S_TOP_DONE, S_END };

#define EXTRA_BYTES 512 /* extra keys of one row, remembered to refuse duplicates */

typedef struct reader {
    const char *const *features;
    const size_t *flen;
    size_t d, max_rows;
    int state;
    double *X;
    size_t n, cap; /* rows read, rows of room */
    long cur;      /* feature of the value to come, -1 an extra key */
    long expect;   /* the feature most likely to come next (rows list them in one order) */
    unsigned char *seen;
    size_t n_seen;
    char extra[EXTRA_BYTES];
    size_t extra_len;
    yajl_handle h;
    size_t end; /* the offset just past the top-level object's '}' */
} reader;

/* The double jansson would read from the number text t (yajl checked its grammar); 0 when
 * jansson would refuse it (integer overflow, real overflow) or the text is unusually long.
 * Integers convert as jansson's (strtoll, then to double); reals through at_parse_number,
 * the catalogue reader's exact decimal fast path with strtod behind it (strtod's bits). */
static int number(const char *t, size_t l, double *out) {
    char buf[128];
    if (l >= sizeof buf) return 0;
    memcpy(buf, t, l);
    buf[l] = 0;
    int is_real = 0;
    for (size_t i = 0; i < l; i++) is_real |= t[i] == '.' || t[i] == 'e' || t[i] == 'E';
    if (!is_real) {
        errno = 0;
        long long v = strtoll(buf, NULL, 10);
        if (errno == ERANGE) return 0;
        *out = (double)v;
        return 1;
    }
    int special = 0;
    if (!at_parse_number(buf, out, &special) || special) return 0; /* special: 1e999 overflowed */
    return 1;
}

/* A string jansson reads to the same bytes: printable ASCII without '?' (yajl writes '?' for
 * a lone surrogate escape, which jansson refuses). */
static int plain(const unsigned char *s, size_t l) {
    for (size_t i = 0; i < l; i++)
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '?') return 0;
    return 1;
}

static int on_null(void *ctx) {
    reader *r = ctx;
    if (r->state != S_ROW) return 0;
    if (r->cur >= 0) r->X[(r->n - 1) * r->d + (size_t)r->cur] = NAN;
    return 1;
}

static int on_boolean(void *ctx, int b) {
    (void)b;
    reader *r = ctx;
    return r->state == S_ROW && r->cur < 0; /* a feature that is true/false: jansson's 422 */
}

static int on_number(void *ctx, const char *t, size_t l) {
    reader *r = ctx;
    double v;
    if (r->state != S_ROW || !number(t, l, &v)) return 0;
    if (r->cur >= 0) r->X[(r->n - 1) * r->d + (size_t)r->cur] = v;
    return 1;
}

static int on_string(void *ctx, const unsigned char *s, size_t l) {
    reader *r = ctx;
    return r->state == S_ROW && r->cur < 0 && plain(s, l);
}

static int on_start_map(void *ctx) {
    reader *r = ctx;
    if (r->state == S_START) {
        r->state = S_TOP;
        return 1;
    }
    if (r->state != S_ROWS) return 0;
    if (r->n >= r->max_rows) return 0;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        double *X = realloc(r->X, (cap * r->d + 1) * sizeof *X);
        if (!X) return 0;
        r->X = X, r->cap = cap;
    }
    r->n++;
    memset(r->seen, 0, r->d);
    r->n_seen = 0, r->extra_len = 0, r->expect = 0;
    r->state = S_ROW;
    return 1;
}

static int on_map_key(void *ctx, const unsigned char *k, size_t l) {
    reader *r = ctx;
    if (r->state == S_TOP) { /* the one key "rows" */
        if (l != 4 || memcmp(k, "rows", 4) != 0) return 0;
        r->state = S_ROWS_NEXT;
        return 1;
    }
    if (r->state != S_ROW) return 0;
    size_t d = r->d, j = (size_t)r->expect < d ? (size_t)r->expect : 0;
    for (size_t t = 0; t < d; t++, j = j + 1 == d ? 0 : j + 1)
        if (r->flen[j] == l && memcmp(r->features[j], k, l) == 0) {
            if (r->seen[j] || !plain(k, l)) return 0; /* a duplicate key: jansson refuses the body */
            r->seen[j] = 1, r->n_seen++;
            r->cur = (long)j, r->expect = (long)j + 1;
            return 1;
        }
    /* an extra key: remembered (NUL-separated) to refuse a duplicate as jansson does */
    if (!plain(k, l) || r->extra_len + l + 1 > EXTRA_BYTES) return 0;
    for (size_t o = 0; o < r->extra_len; o += strlen(r->extra + o) + 1)
        if (strlen(r->extra + o) == l && memcmp(r->extra + o, k, l) == 0) return 0;
    memcpy(r->extra + r->extra_len, k, l);
    r->extra[r->extra_len + l] = 0;
    r->extra_len += l + 1;
    r->cur = -1;
    return 1;
}

static int on_end_map(void *ctx) {
    reader *r = ctx;
    if (r->state == S_ROW) {
        if (r->n_seen != r->d) return 0; /* a missing feature: jansson's 422 */
        r->state = S_ROWS;
        return 1;
    }
    if (r->state != S_TOP_DONE) return 0;
    r->state = S_END;
    r->end = yajl_get_bytes_consumed(r->h);
    return 1;
}

static int on_start_array(void *ctx) {
    reader *r = ctx;
    if (r->state != S_ROWS_NEXT) return 0;
    r->state = S_ROWS;
    return 1;
}

static int on_end_array(void *ctx) {
    reader *r = ctx;
    if (r->state != S_ROWS) return 0;
    r->state = S_TOP_DONE;
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end_array,
};

int at_serve_rows_json_fast(const char *const *features, size_t d, size_t max_rows, const uint8_t *body, size_t len,
                            double **X, size_t *n) {
    *X = NULL, *n = 0;
    /* yajl also takes \v and \f as white space; jansson does not */
    if (!d || !len || memchr(body, '\v', len) || memchr(body, '\f', len)) return 0;
    size_t *flen = malloc(d * sizeof *flen);
    unsigned char *seen = malloc(d);
    if (!flen || !seen) {
        free(flen), free(seen);
        return 0;
    }
    for (size_t j = 0; j < d; j++) flen[j] = strlen(features[j]);
    reader r = {.features = features, .flen = flen, .d = d, .max_rows = max_rows, .seen = seen, .state = S_START};
    yajl_handle h = r.h = yajl_alloc(&callbacks, NULL, &r);
    int ok = h && yajl_parse(h, body, len) == yajl_status_ok && yajl_complete_parse(h) == yajl_status_ok &&
             r.state == S_END;
    /* yajl lets an unfinished token (a lone '"') trail the object: only white space may */
    for (size_t i = r.end; ok && i < len; i++)
        ok = body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r';
    if (h) yajl_free(h);
    free(flen), free(seen);
    if (!ok) {
        free(r.X);
        return 0;
    }
    if (!r.X && !(r.X = malloc(sizeof *r.X))) return 0; /* no rows: an empty matrix */
    *X = r.X, *n = r.n;
    return 1;
}
