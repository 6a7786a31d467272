/* catalogue_out.c - writes the catalogue output table (catalogue_out.h): CSV through the
 * atomic file and the fast "%.9g" formatter, or a FITS BINTABLE through CFITSIO into a
 * temporary file renamed over the output at the end. FITS column types: row K (int64),
 * true/predicted/status A (text), probabilities/components D (double, NaN where there is no
 * prediction), kept columns K when every value of the first chunk is an integer, D when
 * every one is a number, else text as wide as the first chunk needs (a later, longer value
 * is an error rather than a silently cut one). */
#include "pipeline/catalogue_out.h"

#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "astrotrain/atomic_file.h"
#include "astrotrain/metrics.h"
#include "core/numfmt.h"

enum { KEEP_INT = 1, KEEP_NUM = 2, KEEP_TEXT = 3 };

struct cat_out {
    cat_out_spec spec;
    int fits;
    size_t t_first;    /* the reader's row of this chunk's row 0 (cat_out_row_base) */
    at_afile *af;      /* CSV */
    fitsfile *fp;      /* FITS (opened at the first chunk, when the kept types are known) */
    char *tmp;         /* FITS temp path */
    int *keep_type;    /* per kept column */
    size_t *keep_w;
    size_t label_w;
    long long rows;    /* rows written so far */
    const char *(*kept_fn)(const void *src, size_t i, size_t j); /* cat_out_kept_from */
    const void *kept_src;
};

/* Kept column j of the chunk's row i: from cat_out_kept_from's source, else the reader's chunk. */
static const char *kept_text(const cat_out *o, const at_table_reader *t, size_t i, size_t j) {
    return o->kept_fn ? o->kept_fn(o->kept_src, i, j) : at_table_kept(t, o->t_first + i, j);
}

void cat_out_kept_from(cat_out *o, const char *(*fn)(const void *src, size_t i, size_t j), const void *src) {
    o->kept_fn = fn;
    o->kept_src = src;
}

int cat_out_is_fits(const char *path) {
    size_t n = strlen(path);
    static const char *const ext[] = {".fits", ".fit", ".fts"};
    for (size_t i = 0; i < 3; i++) {
        size_t m = strlen(ext[i]);
        if (n >= m && strcasecmp(path + n - m, ext[i]) == 0) return 1;
    }
    return 0;
}

static void csv_header(cat_out *o) {
    FILE *f = at_afile_stream(o->af);
    fputs("row", f);
    for (size_t j = 0; j < o->spec.n_keep; j++) fprintf(f, ",%s", o->spec.keep[j]);
    if (o->spec.with_true) fputs(",true", f);
    if (o->spec.predict) {
        fputs(",predicted", f);
        for (size_t c = 0; c < o->spec.k; c++) fprintf(f, ",p_%s", o->spec.class_names[c]);
    } else {
        for (size_t c = 0; c < o->spec.k; c++) fprintf(f, ",PC%zu", c + 1);
    }
    if (o->spec.status) fputs(",status", f);
    fputc('\n', f);
}

at_status cat_out_open(const cat_out_spec *spec, cat_out **out, at_error *err) {
    *out = NULL;
    cat_out *o = at_calloc(1, sizeof *o, err);
    if (!o) return AT_ERR_MEMORY;
    o->spec = *spec;
    o->fits = cat_out_is_fits(spec->path);
    o->label_w = 1;
    for (size_t c = 0; c < spec->n_classes; c++)
        if (strlen(spec->class_names[c]) > o->label_w) o->label_w = strlen(spec->class_names[c]);
    if (!o->fits) {
        if (!(o->af = at_afile_open(spec->path, err))) {
            free(o);
            return err ? err->code : AT_ERR_IO;
        }
        if (!spec->no_header) csv_header(o);
    } else {
        size_t n = strlen(spec->path) + 32;
        o->tmp = at_malloc(n, 1, err);
        o->keep_type = at_calloc(spec->n_keep + 1, sizeof *o->keep_type, err);
        o->keep_w = at_calloc(spec->n_keep + 1, sizeof *o->keep_w, err);
        if (!o->tmp || !o->keep_type || !o->keep_w) {
            cat_out_abort(o);
            return AT_ERR_MEMORY;
        }
        snprintf(o->tmp, n, "%s.tmp.%ld", spec->path, (long)getpid());
    }
    *out = o;
    return AT_OK;
}

/* ---- CSV ---- */

/* Appends text to a line buffer that grows as needed. */
typedef struct linebuf {
    char *p;
    size_t n, cap;
} linebuf;

static int lb_put(linebuf *l, const char *s, size_t len) {
    if (l->n + len + 1 > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        while (cap < l->n + len + 1) cap *= 2;
        char *q = realloc(l->p, cap);
        if (!q) return -1;
        l->p = q, l->cap = cap;
    }
    memcpy(l->p + l->n, s, len);
    l->n += len;
    return 0;
}

static int lb_str(linebuf *l, const char *s) { return lb_put(l, s, strlen(s)); }

static int lb_int(linebuf *l, long long v) {
    char tmp[24];
    size_t w = sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do tmp[--w] = (char)('0' + u % 10), u /= 10;
    while (u);
    if (v < 0) tmp[--w] = '-';
    return lb_put(l, tmp + w, sizeof tmp - w);
}

/* One line per row, built in memory and written with one fwrite. */
static at_status csv_rows(cat_out *o, const at_dataset *ds, const at_table_reader *t, const double *V,
                          const char *const *status, at_error *err) {
    FILE *f = at_afile_stream(o->af);
    const size_t k = o->spec.k;
    char num[AT_FMT_G9_MAX + 1];
    linebuf l = {0};
    int bad = 0;
    for (size_t i = 0; i < ds->n && !bad; i++) {
        const double *p = V + i * k;
        if (o->spec.skip_unpredicted && k && isnan(p[0])) continue;
        l.n = 0;
        bad |= lb_int(&l, (long long)ds->row[i]);
        for (size_t j = 0; j < o->spec.n_keep; j++) {
            bad |= lb_put(&l, ",", 1);
            const char *s = kept_text(o, t, i, j);
            if (strpbrk(s, ",\"\r\n")) { /* RFC 4180 quoting */
                bad |= lb_put(&l, "\"", 1);
                for (; *s; s++) bad |= *s == '"' ? lb_put(&l, "\"\"", 2) : lb_put(&l, s, 1);
                bad |= lb_put(&l, "\"", 1);
            } else {
                bad |= lb_str(&l, s);
            }
        }
        if (o->spec.with_true) {
            bad |= lb_put(&l, ",", 1);
            if (ds->y && ds->y[i] >= 0) bad |= lb_str(&l, o->spec.class_names[ds->y[i]]);
        }
        int none = k > 0 && isnan(p[0]);
        if (o->spec.predict) {
            bad |= lb_put(&l, ",", 1);
            if (!none) bad |= lb_str(&l, o->spec.class_names[at_argmax(p, k)]);
        }
        for (size_t c = 0; c < k; c++) {
            num[0] = ',';
            size_t len = none ? 0 : at_fmt_g9(num + 1, p[c]);
            bad |= lb_put(&l, num, len + 1);
        }
        if (status) {
            bad |= lb_put(&l, ",", 1);
            bad |= lb_str(&l, status[i]);
        }
        bad |= lb_put(&l, "\n", 1);
        if (!bad) fwrite(l.p, 1, l.n, f);
    }
    free(l.p);
    if (bad) return at_fail(err, AT_ERR_MEMORY, "out of memory writing %s", o->spec.path);
    return AT_OK;
}

/* ---- FITS ---- */

static at_status fits_err(cat_out *o, int st, at_error *err) {
    char msg[FLEN_STATUS] = "";
    fits_get_errstatus(st, msg);
    fits_clear_errmsg();
    return at_fail(err, AT_ERR_IO, "%s: cannot write the FITS table (CFITSIO: %s)", o->spec.path, msg);
}

static int is_int_text(const char *s) {
    if (*s == '-' || *s == '+') s++;
    if (!*s || strlen(s) > 18) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

/* Creates the file: kept column types from the first chunk (t may be NULL: no rows). */
static at_status fits_create(cat_out *o, const at_dataset *ds, const at_table_reader *t, at_error *err) {
    const cat_out_spec *sp = &o->spec;
    for (size_t j = 0; j < sp->n_keep; j++) {
        int all_int = 1, all_num = 1;
        size_t w = 16;
        for (size_t i = 0; t && i < ds->n; i++) {
            const char *s = kept_text(o, t, i, j);
            double v;
            int special;
            if (!is_int_text(s)) all_int = 0;
            if (!at_parse_number(s, &v, &special)) all_num = 0;
            if (strlen(s) > w) w = strlen(s);
        }
        if (!t || !ds->n) all_int = all_num = 0;
        o->keep_type[j] = all_int ? KEEP_INT : all_num ? KEEP_NUM : KEEP_TEXT;
        o->keep_w[j] = (w + 7) / 8 * 8;
    }
    size_t nc = 1 + sp->n_keep + (sp->with_true ? 1 : 0) + (sp->predict ? 1 : 0) + sp->k + (sp->status ? 1 : 0);
    char **ttype = at_calloc(nc, sizeof *ttype, err), **tform = at_calloc(nc, sizeof *tform, err);
    char *names = at_calloc(nc, 160, err);
    at_status s = !ttype || !tform || !names ? AT_ERR_MEMORY : AT_OK;
    size_t c = 0;
#define COL(name_fmt, name_arg, form_fmt, form_arg)                                              \
    do {                                                                                       \
        ttype[c] = names + c * 160, tform[c] = names + c * 160 + 120;                          \
        snprintf(ttype[c], 120, name_fmt, name_arg);                                           \
        snprintf(tform[c], 40, form_fmt, form_arg);                                            \
        c++;                                                                                   \
    } while (0)
    if (!s) {
        COL("%s", "row", "%s", "K");
        for (size_t j = 0; j < sp->n_keep; j++) {
            if (o->keep_type[j] == KEEP_INT) COL("%s", sp->keep[j], "%s", "K");
            else if (o->keep_type[j] == KEEP_NUM) COL("%s", sp->keep[j], "%s", "D");
            else COL("%s", sp->keep[j], "%zuA", o->keep_w[j]);
        }
        if (sp->with_true) COL("%s", "true", "%zuA", o->label_w);
        if (sp->predict) COL("%s", "predicted", "%zuA", o->label_w);
        for (size_t q = 0; q < sp->k; q++) {
            if (sp->predict) COL("p_%s", sp->class_names[q], "%s", "D");
            else COL("PC%zu", q + 1, "%s", "D");
        }
        if (sp->status) COL("%s", "status", "%zuA", sp->status_width ? sp->status_width : 8);
    }
#undef COL
    int st = 0;
    if (!s) {
        unlink(o->tmp);
        if (fits_create_diskfile(&o->fp, o->tmp, &st)) {
            o->fp = NULL;
            s = fits_err(o, st, err);
        } else if (fits_create_tbl(o->fp, BINARY_TBL, 0, (int)nc, ttype, tform, NULL, "PREDICTIONS", &st)) {
            s = fits_err(o, st, err);
        }
    }
    free(ttype), free(tform), free(names);
    return s;
}

static at_status fits_rows(cat_out *o, const at_dataset *ds, const at_table_reader *t, const double *V,
                           const char *const *status, at_error *err) {
    at_status s;
    if (!o->fp && (s = fits_create(o, ds, t, err))) return s;
    const cat_out_spec *sp = &o->spec;
    size_t n = 0, k = sp->k;
    long long *iv = at_malloc(ds->n + 1, sizeof *iv, err);
    double *dv = at_malloc(ds->n + 1, sizeof *dv, err);
    char **sv = at_malloc(ds->n + 1, sizeof *sv, err);
    size_t *sel = at_malloc(ds->n + 1, sizeof *sel, err); /* the rows written */
    if (!iv || !dv || !sv || !sel) {
        free(iv), free(dv), free(sv), free(sel);
        return AT_ERR_MEMORY;
    }
    for (size_t i = 0; i < ds->n; i++)
        if (!(sp->skip_unpredicted && k && isnan(V[i * k]))) sel[n++] = i;
    if (!n) {
        free(iv), free(dv), free(sv), free(sel);
        return AT_OK;
    }
    int st = 0, col = 1;
    LONGLONG first = o->rows + 1;
    s = AT_OK;
    for (size_t i = 0; i < n; i++) iv[i] = ds->row[sel[i]];
    fits_write_col(o->fp, TLONGLONG, col++, first, 1, (LONGLONG)n, iv, &st);
    for (size_t j = 0; j < sp->n_keep && !st && !s; j++, col++) {
        for (size_t i = 0; i < n && !s; i++) {
            const char *txt = kept_text(o, t, sel[i], j);
            int special;
            if (o->keep_type[j] == KEEP_INT) {
                if (!is_int_text(txt))
                    s = at_fail(err, AT_ERR_DATA,
                                "%s: kept column '%s': '%.40s' (row %lld) is not an integer like the first rows; "
                                "write CSV output for mixed columns",
                                sp->path, sp->keep[j], txt, (long long)ds->row[sel[i]]);
                else iv[i] = strtoll(txt, NULL, 10);
            } else if (o->keep_type[j] == KEEP_NUM) {
                if (!at_parse_number(txt, &dv[i], &special))
                    s = at_fail(err, AT_ERR_DATA,
                                "%s: kept column '%s': '%.40s' (row %lld) is not a number like the first rows; "
                                "write CSV output for mixed columns",
                                sp->path, sp->keep[j], txt, (long long)ds->row[sel[i]]);
            } else {
                if (strlen(txt) > o->keep_w[j])
                    s = at_fail(err, AT_ERR_DATA,
                                "%s: kept column '%s': '%.40s...' (row %lld) is longer than the %zu characters of "
                                "the first rows; write CSV output",
                                sp->path, sp->keep[j], txt, (long long)ds->row[sel[i]], o->keep_w[j]);
                sv[i] = (char *)txt;
            }
        }
        if (s) break;
        if (o->keep_type[j] == KEEP_INT) fits_write_col(o->fp, TLONGLONG, col, first, 1, (LONGLONG)n, iv, &st);
        else if (o->keep_type[j] == KEEP_NUM) fits_write_col(o->fp, TDOUBLE, col, first, 1, (LONGLONG)n, dv, &st);
        else fits_write_col_str(o->fp, col, first, 1, (LONGLONG)n, sv, &st);
    }
    if (!s && !st && sp->with_true) {
        for (size_t i = 0; i < n; i++) sv[i] = (char *)(ds->y && ds->y[sel[i]] >= 0 ? sp->class_names[ds->y[sel[i]]] : "");
        fits_write_col_str(o->fp, col++, first, 1, (LONGLONG)n, sv, &st);
    }
    if (!s && !st && sp->predict) {
        for (size_t i = 0; i < n; i++)
            sv[i] = (char *)(k && isnan(V[sel[i] * k]) ? "" : sp->class_names[at_argmax(V + sel[i] * k, k)]);
        fits_write_col_str(o->fp, col++, first, 1, (LONGLONG)n, sv, &st);
    }
    for (size_t q = 0; !s && !st && q < k; q++, col++) {
        for (size_t i = 0; i < n; i++) dv[i] = isnan(V[sel[i] * k]) ? NAN : V[sel[i] * k + q];
        fits_write_col(o->fp, TDOUBLE, col, first, 1, (LONGLONG)n, dv, &st);
    }
    if (!s && !st && status) {
        for (size_t i = 0; i < n; i++) sv[i] = (char *)status[sel[i]];
        fits_write_col_str(o->fp, col++, first, 1, (LONGLONG)n, sv, &st);
    }
    free(iv), free(dv), free(sv), free(sel);
    if (s) return s;
    if (st) return fits_err(o, st, err);
    o->rows += (long long)n;
    return AT_OK;
}

void cat_out_row_base(cat_out *o, size_t first) { o->t_first = first; }

at_status cat_out_rows(cat_out *o, const at_dataset *ds, const at_table_reader *t, const double *V,
                       const char *const *status, at_error *err) {
    return o->fits ? fits_rows(o, ds, t, V, status, err) : csv_rows(o, ds, t, V, status, err);
}

at_status cat_out_commit(cat_out *o, at_error *err) {
    if (!o->fits) {
        at_status s = at_afile_commit(o->af, err);
        o->af = NULL;
        cat_out_abort(o);
        return s;
    }
    at_status s = AT_OK;
    if (!o->fp) {
        at_dataset empty = {0};
        s = fits_create(o, &empty, NULL, err);
    }
    int st = 0;
    if (!s && o->fp) {
        fits_close_file(o->fp, &st);
        o->fp = NULL;
        if (st) s = fits_err(o, st, err);
    }
    if (!s && rename(o->tmp, o->spec.path) != 0)
        s = at_fail(err, AT_ERR_IO, "%s: cannot rename the finished file into place: %s", o->spec.path, strerror(errno));
    cat_out_abort(o);
    return s;
}

void cat_out_abort(cat_out *o) {
    if (!o) return;
    if (o->af) at_afile_abort(o->af);
    if (o->fp) {
        int st = 0;
        fits_close_file(o->fp, &st);
        fits_clear_errmsg();
    }
    if (o->tmp) unlink(o->tmp); /* after a commit's rename there is nothing left to remove */
    free(o->tmp), free(o->keep_type), free(o->keep_w);
    free(o);
}
