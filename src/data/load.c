/* load.c - turns CSV records into datasets: named feature columns parsed as numbers, a
 * label column mapped to class indices, the missing-value policy applied.
 *
 * One row parser serves both the whole-file loader (at_dataset_load_csv) and the chunked
 * reader (at_table_*), so the two can never disagree about a file. The rows come from a CSV
 * file or from a FITS binary table (fits_table.c), told apart by content, behind the same
 * at_table_* interface; in catalogue mode (keep_all_rows) every record stays a row, with its
 * issue and its kept columns on the side. */
#include "astrotrain/csv.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/csv_internal.h"
#include "data/fits_internal.h"

/* More distinct labels than this means the label option names the wrong column (an id,
 * a magnitude); stopping here also keeps per-class tables downstream small. */
#define MAX_CLASSES 10000

void at_load_options_default(at_load_options *o) {
    memset(o, 0, sizeof *o);
    o->missing = AT_MISSING_DROP;
    at_csv_options_default(&o->csv);
}

/* ---- numbers ------------------------------------------------------------------------ */

/* Powers of ten that are exact in a double: m * 10^e is correctly rounded when m < 2^53
 * and |e| <= 22 (Clinger's fast path), which covers catalogue numbers like 18.74547. */
static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int is_space(char c) { return c == ' ' || c == '\t'; }

/* Case-insensitive match of word at p; returns the length matched or 0. */
static size_t match_word(const char *p, const char *word) {
    size_t i = 0;
    for (; word[i]; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != word[i]) return 0;
    }
    return i;
}

int at_parse_number(const char *s, double *out, int *special) {
    const char *p = s;
    *special = 0;
    while (is_space(*p)) p++;
    const char *num = p;
    int neg = 0;
    if (*p == '-' || *p == '+') neg = *p++ == '-';

    uint64_t m = 0;
    int digits = 0, exact = 1;
    long e10 = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (m < 100000000000000000ULL) m = m * 10 + (uint64_t)(*p - '0');
        else exact = 0, e10++; /* more digits than fit: let strtod round them */
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
            if (m < 100000000000000000ULL) m = m * 10 + (uint64_t)(*p - '0'), e10--;
            else exact = 0;
        }
    }
    if (digits == 0) {
        /* Not a decimal number: empty, NaN or Inf, or not a number at all. */
        size_t n = 0;
        int sp = 0;
        if (*p == '\0' && p == num) sp = 1;
        else if ((n = match_word(p, "nan"))) sp = 1;
        else if ((n = match_word(p, "infinity")) || (n = match_word(p, "inf"))) sp = 2;
        else return 0;
        if (sp == 1 && n == 0 && p != num) return 0; /* a lone sign */
        p += n;
        while (is_space(*p)) p++;
        if (*p) return 0;
        *special = sp;
        *out = sp == 1 ? NAN : (neg ? -INFINITY : INFINITY);
        return 1;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        int eneg = 0;
        if (*p == '-' || *p == '+') eneg = *p++ == '-';
        if (!(*p >= '0' && *p <= '9')) return 0;
        long e = 0;
        for (; *p >= '0' && *p <= '9'; p++)
            if (e < 100000) e = e * 10 + (*p - '0');
        e10 += eneg ? -e : e;
    }
    const char *end_num = p;
    while (is_space(*p)) p++;
    if (*p) return 0;

    double v;
    if (exact && m <= (1ULL << 53) && e10 >= -22 && e10 <= 22) {
        v = (double)m;
        v = e10 < 0 ? v / pow10_exact[-e10] : v * pow10_exact[e10];
        if (neg) v = -v;
    } else {
        /* Long mantissas and big exponents: strtod rounds correctly. The syntax has been
         * checked above, so strtod must consume exactly the number. */
        char *end;
        errno = 0;
        v = strtod(num, &end);
        if (end != end_num) return 0;
    }
    if (isinf(v)) *special = 2; /* 1e999 overflows to infinity */
    *out = v;
    return 1;
}

/* ---- class names -------------------------------------------------------------------- */

/* Class names with an open-addressing hash, so many distinct labels stay linear time. */
typedef struct class_set {
    char **names;
    size_t n, cap;
    int32_t *slots; /* index into names, -1 = empty */
    size_t nslots;  /* power of two */
} class_set;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static long class_find(const class_set *c, const char *s) {
    if (!c->nslots) return -1;
    size_t mask = c->nslots - 1;
    for (size_t i = hash_str(s) & mask;; i = (i + 1) & mask) {
        int32_t k = c->slots[i];
        if (k < 0) return -1;
        if (strcmp(c->names[k], s) == 0) return k;
    }
}

static at_status class_rehash(class_set *c, size_t nslots, at_error *err) {
    int32_t *slots = at_malloc(nslots, sizeof *slots, err);
    if (!slots) return AT_ERR_MEMORY;
    for (size_t i = 0; i < nslots; i++) slots[i] = -1;
    for (size_t k = 0; k < c->n; k++) {
        size_t i = hash_str(c->names[k]) & (nslots - 1);
        while (slots[i] >= 0) i = (i + 1) & (nslots - 1);
        slots[i] = (int32_t)k;
    }
    free(c->slots);
    c->slots = slots;
    c->nslots = nslots;
    return AT_OK;
}

/* Adds s (not yet present) and returns its index in *idx. */
static at_status class_add(class_set *c, const char *s, int32_t *idx, at_error *err) {
    at_status st;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        char **p = realloc(c->names, cap * sizeof *p);
        if (!p) return at_fail(err, AT_ERR_MEMORY, "out of memory adding a class name");
        c->names = p;
        c->cap = cap;
    }
    if ((c->n + 1) * 2 > c->nslots && (st = class_rehash(c, c->nslots ? c->nslots * 2 : 16, err)))
        return st;
    char *name = at_strdup(s, err);
    if (!name) return AT_ERR_MEMORY;
    c->names[c->n] = name;
    size_t i = hash_str(s) & (c->nslots - 1);
    while (c->slots[i] >= 0) i = (i + 1) & (c->nslots - 1);
    c->slots[i] = (int32_t)c->n;
    *idx = (int32_t)c->n++;
    return AT_OK;
}

static void class_free(class_set *c) {
    for (size_t k = 0; k < c->n; k++) free(c->names[k]);
    free(c->names);
    free(c->slots);
    memset(c, 0, sizeof *c);
}

/* "a, b, c" into buf, cut with "..." when it does not fit. */
static void join_names(char *buf, size_t cap, const char *const *names, size_t n) {
    size_t w = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < n; k++) {
        size_t len = strlen(names[k]);
        if (w + len + 6 >= cap) {
            snprintf(buf + w, cap - w, "%s...", k ? ", " : "");
            return;
        }
        w += (size_t)snprintf(buf + w, cap - w, "%s%s", k ? ", " : "", names[k]);
    }
}

/* ---- the table reader --------------------------------------------------------------- */

struct at_table_reader {
    at_csv_reader *csv;
    size_t d;
    long *col;          /* column index of each feature */
    char **feat;        /* requested feature names (copies) */
    char *label;        /* label column name (copy) or NULL */
    long label_col;     /* -1: no labels read */
    int fixed;          /* classes is the caller's fixed list */
    class_set classes;
    at_missing_policy missing;
    at_load_report rep;
    int eof;
    size_t max_bytes;   /* opt->max_table_bytes */
    fits_src *fits;     /* the source when the file is FITS (csv is NULL then) */
    /* Catalogue mode: per row of the last chunk, its issue and the feature it concerns,
     * and the kept columns' text (kept_off: n_keep offsets into kept per row). */
    int keep_all;
    size_t n_keep;
    long *keep_col;
    uint8_t *issue;
    uint32_t *issue_f;
    size_t *kept_off;
    size_t rows_cap;
    char *kept;
    size_t kept_len, kept_cap;
};

/* ---- the row source: CSV or FITS ---- */

static size_t src_ncols(const at_table_reader *t) {
    return t->fits ? fits_src_ncols(t->fits) : at_csv_ncols(t->csv);
}
static const char *src_colname(const at_table_reader *t, size_t j) {
    return t->fits ? fits_src_colname(t->fits, j) : at_csv_colname(t->csv, j);
}
static const char *src_path(const at_table_reader *t) {
    return t->fits ? fits_src_path(t->fits) : at_csv_path(t->csv);
}
/* "file:line" (CSV) or "file: row N" (FITS, 1-based) of the current record. */
static const char *src_where(const at_table_reader *t, char *buf, size_t cap) {
    if (t->fits) snprintf(buf, cap, "%s: row %lld", fits_src_path(t->fits), (long long)fits_src_row(t->fits) + 1);
    else snprintf(buf, cap, "%s:%zu", at_csv_path(t->csv), at_csv_line(t->csv));
    return buf;
}
static int64_t src_record(const at_table_reader *t) {
    return t->fits ? fits_src_row(t->fits) : at_csv_record(t->csv);
}

/* Column index of name: a missing column or an ambiguous (repeated) one is an error. */
static at_status find_column(const at_table_reader *r, const char *name, long *col, at_error *err) {
    long found = -1;
    for (size_t j = 0; j < src_ncols(r); j++) {
        if (strcmp(src_colname(r, j), name) != 0) continue;
        if (found >= 0)
            return at_fail(err, AT_ERR_DATA,
                           "%s: column '%s' appears more than once in the header (columns %ld "
                           "and %zu)",
                           src_path(r), name, found + 1, j + 1);
        found = (long)j;
    }
    if (found < 0) {
        char list[600];
        size_t nc = src_ncols(r);
        const char **names = at_malloc(nc + 1, sizeof *names, err);
        if (!names) return AT_ERR_MEMORY;
        for (size_t j = 0; j < nc; j++) names[j] = src_colname(r, j);
        join_names(list, sizeof list, names, nc);
        free(names);
        return at_fail(err, AT_ERR_DATA, "%s: no column '%s' (columns are: %s)", src_path(r),
                       name, list);
    }
    *col = found;
    return AT_OK;
}

void at_table_close(at_table_reader *t) {
    if (!t) return;
    at_csv_close(t->csv);
    fits_src_close(t->fits);
    free(t->keep_col), free(t->issue), free(t->issue_f), free(t->kept_off), free(t->kept);
    if (t->feat)
        for (size_t j = 0; j < t->d; j++) free(t->feat[j]);
    free(t->feat);
    free(t->col);
    free(t->label);
    class_free(&t->classes);
    free(t);
}

/* Opens the file and resolves the columns; allow_discovery lets the whole-file loader
 * collect class names as it meets them. */
static at_status table_open(const char *path, const at_load_options *opt, int allow_discovery,
                            at_table_reader **out, at_error *err) {
    *out = NULL;
    if (opt->n_features && !opt->features)
        return at_fail(err, AT_ERR_USAGE, "%s: %zu feature columns requested but no names given",
                       path, opt->n_features);
    for (size_t j = 0; j < opt->n_features; j++)
        if (!opt->features[j])
            return at_fail(err, AT_ERR_USAGE, "%s: feature name %zu is missing", path, j + 1);
    if (opt->missing != AT_MISSING_DROP && opt->missing != AT_MISSING_ERROR &&
        opt->missing != AT_MISSING_KEEP)
        return at_fail(err, AT_ERR_USAGE, "%s: unknown missing-value policy %d", path,
                       (int)opt->missing);
    if (opt->n_classes && !opt->class_names)
        return at_fail(err, AT_ERR_USAGE, "%s: %zu classes given but no names", path,
                       opt->n_classes);
    if (opt->n_classes > MAX_CLASSES)
        return at_fail(err, AT_ERR_USAGE, "%s: %zu classes is more than the %d supported", path,
                       opt->n_classes, MAX_CLASSES);

    at_table_reader *t = at_calloc(1, sizeof *t, err);
    if (!t) return AT_ERR_MEMORY;
    t->d = opt->n_features;
    t->missing = opt->missing;
    t->max_bytes = opt->max_table_bytes;
    t->label_col = -1;
    t->keep_all = opt->keep_all_rows;
    t->n_keep = opt->n_keep;
    int fits = fits_src_is_fits(path);
    at_status st = AT_OK;
    if (fits && (opt->csv.range_begin || opt->csv.range_end))
        st = at_fail(err, AT_ERR_USAGE,
                     "%s: a FITS table is not split across MPI ranks yet; run without mpirun, or convert it to CSV",
                     path);
    else
        st = fits ? fits_src_open(path, opt->hdu, &t->fits, err) : at_csv_open(path, &opt->csv, &t->csv, err);
    if (!st && fits && opt->fits_rows) st = fits_src_range(t->fits, opt->fits_row_begin, opt->fits_row_end, err);
    if (st) goto fail;
    t->col = at_malloc(t->d, sizeof *t->col, err);
    t->feat = at_calloc(t->d, sizeof *t->feat, err);
    if (!t->col || !t->feat) {
        st = AT_ERR_MEMORY;
        goto fail;
    }
    for (size_t j = 0; j < t->d; j++) {
        if ((st = find_column(t, opt->features[j], &t->col[j], err))) goto fail;
        if (t->fits && (st = fits_src_want(t->fits, (size_t)t->col[j], 0, err))) goto fail;
        if (!(t->feat[j] = at_strdup(opt->features[j], err))) {
            st = AT_ERR_MEMORY;
            goto fail;
        }
    }
    if (opt->label) {
        long lc = -1;
        for (size_t j = 0; j < src_ncols(t) && lc < 0; j++)
            if (strcmp(src_colname(t, j), opt->label) == 0) lc = (long)j;
        if (opt->label_optional && lc < 0) {
            /* Prediction input without labels: fine, y stays NULL. */
        } else {
            if ((st = find_column(t, opt->label, &t->label_col, err))) goto fail;
            if (t->fits && (st = fits_src_want(t->fits, (size_t)t->label_col, 1, err))) goto fail;
            if (!(t->label = at_strdup(opt->label, err))) {
                st = AT_ERR_MEMORY;
                goto fail;
            }
        }
    }
    if (opt->n_keep) {
        if (!opt->keep) {
            st = at_fail(err, AT_ERR_USAGE, "%s: %zu kept columns requested but no names given", path, opt->n_keep);
            goto fail;
        }
        if (!(t->keep_col = at_malloc(opt->n_keep, sizeof *t->keep_col, err))) {
            st = AT_ERR_MEMORY;
            goto fail;
        }
        for (size_t j = 0; j < opt->n_keep; j++) {
            if ((st = find_column(t, opt->keep[j] ? opt->keep[j] : "", &t->keep_col[j], err))) goto fail;
            if (t->fits && (st = fits_src_want(t->fits, (size_t)t->keep_col[j], 1, err))) goto fail;
        }
    }
    if (opt->class_names) {
        t->fixed = 1;
        for (size_t k = 0; k < opt->n_classes; k++) {
            int32_t idx;
            const char *name = opt->class_names[k] ? opt->class_names[k] : "";
            if (class_find(&t->classes, name) >= 0)
                st = at_fail(err, AT_ERR_USAGE, "%s: class '%s' is listed twice", path, name);
            else st = class_add(&t->classes, name, &idx, err);
            if (st) goto fail;
        }
    } else if (t->label_col >= 0 && !allow_discovery) {
        st = at_fail(err, AT_ERR_USAGE,
                     "%s: reading labels in chunks needs the model's class list", path);
        goto fail;
    }
    *out = t;
    return AT_OK;
fail:
    at_table_close(t);
    return st;
}

at_status at_table_open(const char *path, const at_load_options *opt, at_table_reader **out,
                        at_error *err) {
    return table_open(path, opt, 0, out, err);
}

int at_table_has_label(const at_table_reader *t) { return t->label_col >= 0; }

const at_load_report *at_table_report(const at_table_reader *t) { return &t->rep; }

/* Parses one record (CSV fields f, or the FITS source's current row) into x[0..d) and *y.
 * *keep = 0 when the missing-value policy drops it. In catalogue mode nothing is dropped:
 * a cell that cannot be used leaves NaN and the first such cell's issue in *issue / *ifeat.
 * The label is checked even on dropped rows, so a broken file is reported either way, but
 * only kept rows introduce new classes. */
static at_status parse_row(at_table_reader *t, char **f, double *x, int32_t *y, int *keep, uint8_t *issue,
                           uint32_t *ifeat, at_error *err) {
    char where[1200];
    *keep = 1;
    *issue = AT_ROW_OK;
    *ifeat = 0;
    for (size_t j = 0; j < t->d; j++) {
        const char *cell = NULL;
        int special;
        if (t->fits) {
            double v = fits_src_num(t->fits, (size_t)t->col[j]);
            x[j] = v;
            special = v != v ? 1 : isinf(v) ? 2 : 0;
        } else if (!at_parse_number(cell = f[t->col[j]], &x[j], &special)) {
            if (t->keep_all) {
                x[j] = NAN;
                if (!*issue) *issue = AT_ROW_NOT_NUMBER, *ifeat = (uint32_t)j;
                continue;
            }
            char shown[96];
            return at_fail(err, AT_ERR_DATA, "%s: column '%s': '%s' is not a number", src_where(t, where, sizeof where),
                           t->feat[j], at_csv_quote_for_message(shown, sizeof shown, cell));
        }
        if (!special) continue;
        if (t->missing == AT_MISSING_ERROR) {
            char shown[96];
            return at_fail(err, AT_ERR_DATA,
                           "%s: column '%s' is empty/NaN/infinite: '%s' (the missing-value "
                           "policy is error)",
                           src_where(t, where, sizeof where), t->feat[j],
                           cell ? at_csv_quote_for_message(shown, sizeof shown, cell) : special == 1 ? "NaN/null" : "inf");
        }
        if (t->missing == AT_MISSING_DROP) {
            if (t->keep_all) {
                if (!*issue) *issue = (uint8_t)(special == 1 ? AT_ROW_MISSING : AT_ROW_INFINITE), *ifeat = (uint32_t)j;
            } else {
                *keep = 0;
            }
        }
        x[j] = NAN; /* KEEP: empty, NaN and Inf all become NaN */
    }
    if (t->label_col < 0) return AT_OK;
    const char *lab = t->fits ? fits_src_text(t->fits, (size_t)t->label_col) : f[t->label_col];
    if (!*lab)
        return at_fail(err, AT_ERR_DATA, "%s: column '%s' (the label) is empty", src_where(t, where, sizeof where),
                       t->label);
    long bad = at_utf8_invalid_at(lab);
    if (bad >= 0) {
        char shown[96];
        return at_fail(err, AT_ERR_DATA,
                       "%s: column '%s': label '%s' is not valid UTF-8 (byte %ld)", src_where(t, where, sizeof where),
                       t->label, at_csv_quote_for_message(shown, sizeof shown, lab), bad + 1);
    }
    long k = class_find(&t->classes, lab);
    if (k < 0 && t->fixed) {
        char shown[96], known[600];
        join_names(known, sizeof known, (const char *const *)t->classes.names, t->classes.n);
        return at_fail(err, AT_ERR_DATA, "%s: class '%s' is not known to the model (known: %s)",
                       src_where(t, where, sizeof where), at_csv_quote_for_message(shown, sizeof shown, lab), known);
    }
    if (!*keep) return AT_OK;
    if (k < 0) {
        if (t->classes.n >= MAX_CLASSES)
            return at_fail(err, AT_ERR_DATA,
                           "%s: column '%s' has more than %d distinct labels; is it really "
                           "the class column?",
                           src_where(t, where, sizeof where), t->label, MAX_CLASSES);
        int32_t idx;
        at_status st = class_add(&t->classes, lab, &idx, err);
        if (st) return st;
        k = idx;
    }
    *y = (int32_t)k;
    return AT_OK;
}

/* Catalogue mode: room for the side arrays of row i, and the kept text of that row. */
static at_status keep_side(at_table_reader *t, size_t i, char **f, at_error *err) {
    if (i >= t->rows_cap) {
        size_t cap = t->rows_cap ? t->rows_cap * 2 : 4096;
        while (cap <= i) cap *= 2;
        uint8_t *is = realloc(t->issue, cap);
        if (is) t->issue = is;
        uint32_t *isf = realloc(t->issue_f, cap * sizeof *isf);
        if (isf) t->issue_f = isf;
        size_t *ko = realloc(t->kept_off, cap * (t->n_keep ? t->n_keep : 1) * sizeof *ko);
        if (ko) t->kept_off = ko;
        if (!is || !isf || !ko) return at_fail(err, AT_ERR_MEMORY, "out of memory reading %s", src_path(t));
        t->rows_cap = cap;
    }
    for (size_t j = 0; j < t->n_keep; j++) {
        const char *txt = t->fits ? fits_src_text(t->fits, (size_t)t->keep_col[j]) : f[t->keep_col[j]];
        size_t len = strlen(txt) + 1;
        if (t->kept_len + len > t->kept_cap) {
            size_t cap = t->kept_cap ? t->kept_cap * 2 : 65536;
            while (cap < t->kept_len + len) cap *= 2;
            char *p = realloc(t->kept, cap);
            if (!p) return at_fail(err, AT_ERR_MEMORY, "out of memory reading %s", src_path(t));
            t->kept = p;
            t->kept_cap = cap;
        }
        memcpy(t->kept + t->kept_len, txt, len);
        t->kept_off[i * t->n_keep + j] = t->kept_len;
        t->kept_len += len;
    }
    return AT_OK;
}

at_row_issue at_table_row_issue(const at_table_reader *t, size_t i, size_t *feature) {
    if (!t->keep_all || i >= t->rows_cap) {
        if (feature) *feature = 0;
        return AT_ROW_OK;
    }
    if (feature) *feature = t->issue_f[i];
    return (at_row_issue)t->issue[i];
}

const char *at_table_kept(const at_table_reader *t, size_t i, size_t j) {
    if (j >= t->n_keep || i >= t->rows_cap || !t->kept) return "";
    return t->kept + t->kept_off[i * t->n_keep + j];
}

const char *at_row_issue_name(at_row_issue r) {
    switch (r) {
    case AT_ROW_OK: return "ok";
    case AT_ROW_MISSING: return "missing";
    case AT_ROW_INFINITE: return "infinite";
    case AT_ROW_NOT_NUMBER: return "not a number";
    }
    return "?";
}

/* Growable row storage, handed over to a dataset when full. */
typedef struct rowbuf {
    double *X;
    int32_t *y;
    int64_t *row;
    size_t n, cap;
} rowbuf;

static at_status rowbuf_grow(rowbuf *b, size_t d, int labelled, size_t cap, size_t max_bytes,
                             at_error *err) {
    if (d && cap > SIZE_MAX / sizeof(double) / d)
        return at_fail(err, AT_ERR_MEMORY, "table too large: %zu rows of %zu features", cap, d);
    size_t row_bytes = (d ? d : 1) * sizeof(double) + sizeof(int64_t) + (labelled ? sizeof(int32_t) : 0);
    if (max_bytes && cap > max_bytes / row_bytes) {
        /* Doubling stops at the bound; past it, the table really does not fit. */
        if (b->cap >= max_bytes / row_bytes)
            return at_fail(err, AT_ERR_MEMORY, "the table outgrows %.1f MB after %zu rows",
                           (double)max_bytes / 1048576.0, b->n);
        cap = max_bytes / row_bytes;
    }
    double *X = realloc(b->X, cap * (d ? d : 1) * sizeof *X);
    if (X) b->X = X;
    int64_t *row = realloc(b->row, cap * sizeof *row);
    if (row) b->row = row;
    int32_t *y = labelled ? realloc(b->y, cap * sizeof *y) : NULL;
    if (y) b->y = y;
    if (!X || !row || (labelled && !y))
        return at_fail(err, AT_ERR_MEMORY, "out of memory growing the table to %zu rows", cap);
    b->cap = cap;
    return AT_OK;
}

static void rowbuf_free(rowbuf *b) {
    free(b->X);
    free(b->y);
    free(b->row);
    memset(b, 0, sizeof *b);
}

/* Appends up to max_rows more rows to b, growing it geometrically. */
static at_status fill(at_table_reader *t, rowbuf *b, size_t max_rows, at_error *err) {
    const int labelled = t->label_col >= 0;
    const size_t d = t->d;
    at_status st;
    while (b->n < max_rows && !t->eof) {
        char **f = NULL;
        size_t nf;
        int eof;
        if ((st = t->fits ? fits_src_next(t->fits, &eof, err) : at_csv_next(t->csv, &f, &nf, &eof, err))) return st;
        if (eof) {
            t->eof = 1;
            break;
        }
        t->rep.rows_read++;
        if (b->n == b->cap) {
            size_t cap = b->cap ? b->cap * 2 : 4096;
            if (cap > max_rows) cap = max_rows;
            if ((st = rowbuf_grow(b, d, labelled, cap, t->max_bytes, err))) return st;
        }
        int keep;
        uint8_t issue;
        uint32_t ifeat;
        int32_t yy = -1;
        if ((st = parse_row(t, f, b->X + b->n * d, &yy, &keep, &issue, &ifeat, err))) return st;
        if (labelled) b->y[b->n] = yy;
        if (!keep) {
            t->rep.rows_missing++;
            continue;
        }
        if (t->keep_all || t->n_keep) {
            if ((st = keep_side(t, b->n, f, err))) return st;
            t->issue[b->n] = issue;
            t->issue_f[b->n] = ifeat;
        }
        b->row[b->n++] = src_record(t);
    }
    return AT_OK;
}

/* A dataset that takes over b's arrays (b is emptied). */
static at_status make_dataset(at_table_reader *t, rowbuf *b, const char *const *class_names,
                              at_dataset **out, at_error *err) {
    const int labelled = t->label_col >= 0;
    size_t nc = labelled ? t->classes.n : 0;
    at_dataset *ds;
    at_status st = at_dataset_new(0, t->d, labelled, (const char *const *)t->feat,
                                  labelled ? class_names : NULL, nc, &ds, err);
    if (st) return st;
    if (b->n) {
        /* Give back the slack of the last doubling; shrinking cannot fail in practice,
         * and if it does the larger block is still valid. */
        double *X = realloc(b->X, b->n * (t->d ? t->d : 1) * sizeof *X);
        if (X) b->X = X;
        free(ds->X);
        free(ds->y);
        free(ds->row);
        ds->X = b->X;
        ds->y = labelled ? b->y : NULL;
        ds->row = b->row;
        ds->n = b->n;
        if (!labelled) free(b->y);
        memset(b, 0, sizeof *b);
    }
    *out = ds;
    return AT_OK;
}

at_status at_table_read(at_table_reader *t, size_t max_rows, at_dataset **chunk, at_error *err) {
    *chunk = NULL;
    if (max_rows == 0)
        return at_fail(err, AT_ERR_USAGE, "%s: chunk size must be at least one row",
                       src_path(t));
    t->kept_len = 0;
    rowbuf b = {0};
    at_status st = fill(t, &b, max_rows, err);
    if (!st) st = make_dataset(t, &b, (const char *const *)t->classes.names, chunk, err);
    rowbuf_free(&b);
    return st;
}

/* ---- the whole-file loader ---------------------------------------------------------- */

typedef struct named_index {
    const char *name;
    int32_t old;
} named_index;

static int cmp_named(const void *a, const void *b) {
    return strcmp(((const named_index *)a)->name, ((const named_index *)b)->name);
}

/* Sorts the discovered class names and renumbers y to match, so every model and output
 * agrees on the class order whatever order the file met them in. */
static at_status sort_classes(class_set *c, int32_t *y, size_t n, const char ***sorted,
                              at_error *err) {
    *sorted = NULL;
    named_index *ix = at_malloc(c->n, sizeof *ix, err);
    int32_t *newidx = at_malloc(c->n, sizeof *newidx, err);
    const char **names = at_malloc(c->n, sizeof *names, err);
    if (!ix || !newidx || !names) {
        free(ix);
        free(newidx);
        free(names);
        return AT_ERR_MEMORY;
    }
    for (size_t k = 0; k < c->n; k++) ix[k] = (named_index){c->names[k], (int32_t)k};
    qsort(ix, c->n, sizeof *ix, cmp_named);
    for (size_t k = 0; k < c->n; k++) {
        newidx[ix[k].old] = (int32_t)k;
        names[k] = ix[k].name;
    }
    for (size_t i = 0; i < n; i++) y[i] = newidx[y[i]];
    free(ix);
    free(newidx);
    *sorted = names;
    return AT_OK;
}

at_status at_dataset_load_csv(const char *path, const at_load_options *opt, at_dataset **out,
                              at_load_report *report, at_error *err) {
    *out = NULL;
    if (report) memset(report, 0, sizeof *report);
    at_table_reader *t;
    at_status st = table_open(path, opt, 1, &t, err);
    if (st) return st;
    rowbuf b = {0};
    const char **sorted = NULL;
    if ((st = fill(t, &b, SIZE_MAX, err))) goto done;
    if (report) *report = t->rep;
    if (t->rep.rows_read == 0 && !opt->shard) {
        st = at_fail(err, AT_ERR_DATA, "%s: no data rows", path);
        goto done;
    }
    if (b.n == 0 && !opt->shard) {
        st = at_fail(err, AT_ERR_DATA,
                     "%s: no usable rows: all %zu rows have empty, NaN or infinite features "
                     "(missing = drop)",
                     path, t->rep.rows_read);
        goto done;
    }
    const char *const *names = (const char *const *)t->classes.names;
    if (t->label_col >= 0 && !t->fixed) {
        if ((st = sort_classes(&t->classes, b.y, b.n, &sorted, err))) goto done;
        names = sorted;
    }
    st = make_dataset(t, &b, names, out, err);
done:
    free(sorted);
    rowbuf_free(&b);
    at_table_close(t);
    return st;
}

/* ---- MPI: a FITS table's row count, for row ranges (issue 15) ---- */
at_status at_fits_table_rows(const char *path, const char *hdu, int *is_fits, int64_t *nrows, at_error *err) {
    *nrows = 0;
    if (!(*is_fits = fits_src_is_fits(path))) return AT_OK;
    fits_src *f = NULL;
    at_status s = fits_src_open(path, hdu, &f, err);
    if (!s) *nrows = fits_src_nrows(f);
    fits_src_close(f);
    return s;
}
