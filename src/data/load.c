/* load.c - turns CSV records into datasets: named feature columns parsed as numbers, a
 * label column mapped to class indices, the missing-value policy applied.
 *
 * One row parser serves both the whole-file loader (at_dataset_load_csv) and the chunked
 * reader (at_table_*), so the two can never disagree about a file. */
#include "astrotrain/csv.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/csv_internal.h"

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
};

/* Column index of name: a missing column or an ambiguous (repeated) one is an error. */
static at_status find_column(at_csv_reader *r, const char *name, long *col, at_error *err) {
    long found = -1;
    for (size_t j = 0; j < at_csv_ncols(r); j++) {
        if (strcmp(at_csv_colname(r, j), name) != 0) continue;
        if (found >= 0)
            return at_fail(err, AT_ERR_DATA,
                           "%s: column '%s' appears more than once in the header (columns %ld "
                           "and %zu)",
                           at_csv_path(r), name, found + 1, j + 1);
        found = (long)j;
    }
    if (found < 0) {
        char list[600];
        size_t nc = at_csv_ncols(r);
        const char **names = at_malloc(nc, sizeof *names, err);
        if (!names) return AT_ERR_MEMORY;
        for (size_t j = 0; j < nc; j++) names[j] = at_csv_colname(r, j);
        join_names(list, sizeof list, names, nc);
        free(names);
        return at_fail(err, AT_ERR_DATA, "%s: no column '%s' (columns are: %s)", at_csv_path(r),
                       name, list);
    }
    *col = found;
    return AT_OK;
}

void at_table_close(at_table_reader *t) {
    if (!t) return;
    at_csv_close(t->csv);
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
    at_status st = at_csv_open(path, &opt->csv, &t->csv, err);
    if (st) goto fail;
    t->col = at_malloc(t->d, sizeof *t->col, err);
    t->feat = at_calloc(t->d, sizeof *t->feat, err);
    if (!t->col || !t->feat) {
        st = AT_ERR_MEMORY;
        goto fail;
    }
    for (size_t j = 0; j < t->d; j++) {
        if ((st = find_column(t->csv, opt->features[j], &t->col[j], err))) goto fail;
        if (!(t->feat[j] = at_strdup(opt->features[j], err))) {
            st = AT_ERR_MEMORY;
            goto fail;
        }
    }
    if (opt->label) {
        if (opt->label_optional && at_csv_find(t->csv, opt->label) < 0) {
            /* Prediction input without labels: fine, y stays NULL. */
        } else {
            if ((st = find_column(t->csv, opt->label, &t->label_col, err))) goto fail;
            if (!(t->label = at_strdup(opt->label, err))) {
                st = AT_ERR_MEMORY;
                goto fail;
            }
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

/* Parses one record into x[0..d) and *y. *keep = 0 when the missing-value policy drops it.
 * The label is checked even on dropped rows, so a broken file is reported either way, but
 * only kept rows introduce new classes. */
static at_status parse_row(at_table_reader *t, char **f, double *x, int32_t *y, int *keep,
                           at_error *err) {
    const char *path = at_csv_path(t->csv);
    *keep = 1;
    for (size_t j = 0; j < t->d; j++) {
        const char *cell = f[t->col[j]];
        int special;
        if (!at_parse_number(cell, &x[j], &special)) {
            char shown[96];
            return at_fail(err, AT_ERR_DATA, "%s:%zu: column '%s': '%s' is not a number", path,
                           at_csv_line(t->csv), t->feat[j],
                           at_csv_quote_for_message(shown, sizeof shown, cell));
        }
        if (!special) continue;
        if (t->missing == AT_MISSING_ERROR) {
            char shown[96];
            return at_fail(err, AT_ERR_DATA,
                           "%s:%zu: column '%s' is empty/NaN/infinite: '%s' (the missing-value "
                           "policy is error)",
                           path, at_csv_line(t->csv), t->feat[j],
                           at_csv_quote_for_message(shown, sizeof shown, cell));
        }
        if (t->missing == AT_MISSING_DROP) *keep = 0;
        x[j] = NAN; /* KEEP: empty, NaN and Inf all become NaN */
    }
    if (t->label_col < 0) return AT_OK;
    const char *lab = f[t->label_col];
    if (!*lab)
        return at_fail(err, AT_ERR_DATA, "%s:%zu: column '%s' (the label) is empty", path,
                       at_csv_line(t->csv), t->label);
    long bad = at_utf8_invalid_at(lab);
    if (bad >= 0) {
        char shown[96];
        return at_fail(err, AT_ERR_DATA,
                       "%s:%zu: column '%s': label '%s' is not valid UTF-8 (byte %ld)", path,
                       at_csv_line(t->csv), t->label,
                       at_csv_quote_for_message(shown, sizeof shown, lab), bad + 1);
    }
    long k = class_find(&t->classes, lab);
    if (k < 0 && t->fixed) {
        char shown[96], known[600];
        join_names(known, sizeof known, (const char *const *)t->classes.names, t->classes.n);
        return at_fail(err, AT_ERR_DATA, "%s:%zu: class '%s' is not known to the model (known: %s)",
                       path, at_csv_line(t->csv),
                       at_csv_quote_for_message(shown, sizeof shown, lab), known);
    }
    if (!*keep) return AT_OK;
    if (k < 0) {
        if (t->classes.n >= MAX_CLASSES)
            return at_fail(err, AT_ERR_DATA,
                           "%s:%zu: column '%s' has more than %d distinct labels; is it really "
                           "the class column?",
                           path, at_csv_line(t->csv), t->label, MAX_CLASSES);
        int32_t idx;
        at_status st = class_add(&t->classes, lab, &idx, err);
        if (st) return st;
        k = idx;
    }
    *y = (int32_t)k;
    return AT_OK;
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
        char **f;
        size_t nf;
        int eof;
        if ((st = at_csv_next(t->csv, &f, &nf, &eof, err))) return st;
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
        if ((st = parse_row(t, f, b->X + b->n * d, labelled ? b->y + b->n : NULL, &keep, err)))
            return st;
        if (!keep) {
            t->rep.rows_missing++;
            continue;
        }
        b->row[b->n++] = at_csv_record(t->csv);
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
                       at_csv_path(t->csv));
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
