/* fits_table.c - the FITS binary-table row source (fits_internal.h) over CFITSIO: opens the
 * HDU, checks the wanted columns (scalar; numeric where numbers are wanted), and reads them
 * BLOCK rows at a time (fits_read_col with NaN as the null value, so TNULL integers and NaN
 * floats both come back as NaN), handing out one row at a time. */
#include "data/fits_internal.h"

#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define BLOCK 8192
#define TEXT_MAX 71 /* longest text cell kept (FITS string columns are fixed width) */

typedef struct fcol {
    char name[72];
    int typecode;
    long repeat, width;
    int want; /* 0 no, 1 number, 2 text */
    double *num;
    char *text; /* BLOCK * (TEXT_MAX + 1) */
} fcol;

struct fits_src {
    char *path;
    fitsfile *fp;
    int hdu_num; /* 1-based CFITSIO number */
    size_t ncols;
    fcol *col;
    int64_t nrows, next, block0;
    size_t in_block, pos; /* rows held, current index within the block */
};

static at_status fits_fail(at_error *err, at_status code, const char *path, const char *what, int status) {
    char msg[FLEN_STATUS] = "";
    fits_get_errstatus(status, msg);
    fits_clear_errmsg();
    return at_fail(err, code, "%s: %s (CFITSIO: %s)", path, what, msg);
}

int fits_src_is_fits(const char *path) {
    size_t n = strlen(path);
    static const char *const gz[] = {".fits.gz", ".fit.gz", ".fts.gz", ".fits.fz"};
    for (size_t i = 0; i < sizeof gz / sizeof gz[0]; i++) {
        size_t m = strlen(gz[i]);
        if (n >= m && strcasecmp(path + n - m, gz[i]) == 0) return 1;
    }
    /* Only regular files are looked into: reading a pipe would eat the CSV's first bytes. */
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char head[10] = {0};
    size_t got = fread(head, 1, 9, f);
    fclose(f);
    return got == 9 && memcmp(head, "SIMPLE  =", 9) == 0;
}

void fits_src_close(fits_src *f) {
    if (!f) return;
    int st = 0;
    if (f->fp) fits_close_file(f->fp, &st);
    for (size_t j = 0; f->col && j < f->ncols; j++) free(f->col[j].num), free(f->col[j].text);
    free(f->col);
    free(f->path);
    free(f);
}

static int all_digits(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

at_status fits_src_open(const char *path, const char *hdu, fits_src **out, at_error *err) {
    *out = NULL;
    fits_src *f = at_calloc(1, sizeof *f, err);
    if (!f) return AT_ERR_MEMORY;
    at_status s = AT_OK;
    int st = 0;
    if (!(f->path = at_strdup(path, err))) {
        s = AT_ERR_MEMORY;
        goto fail;
    }
    /* fits_open_diskfile: no extended-filename syntax, so a path with brackets is a path. */
    if (fits_open_diskfile(&f->fp, path, READONLY, &st)) {
        f->fp = NULL;
        s = fits_fail(err, AT_ERR_DATA, path, "cannot open as a FITS file", st);
        goto fail;
    }
    int nhdu = 0, type = 0;
    fits_get_num_hdus(f->fp, &nhdu, &st);
    if (hdu && *hdu && all_digits(hdu)) {
        long k = atol(hdu);
        if (k < 0 || k >= nhdu) {
            s = at_fail(err, AT_ERR_DATA, "%s: no HDU %ld (the file has HDUs 0 to %d)", path, k, nhdu - 1);
            goto fail;
        }
        if (fits_movabs_hdu(f->fp, (int)k + 1, &type, &st)) {
            s = fits_fail(err, AT_ERR_DATA, path, "cannot read the HDU (truncated or damaged file?)", st);
            goto fail;
        }
        if (type != BINARY_TBL) {
            s = at_fail(err, AT_ERR_DATA, "%s: HDU %ld is %s, not a binary table (BINTABLE)", path, k,
                        type == IMAGE_HDU ? "an image" : "an ASCII table");
            goto fail;
        }
    } else if (hdu && *hdu) {
        if (fits_movnam_hdu(f->fp, BINARY_TBL, (char *)hdu, 0, &st)) {
            s = at_fail(err, AT_ERR_DATA, "%s: no binary table HDU named '%s'", path, hdu);
            fits_clear_errmsg();
            goto fail;
        }
    } else {
        int found = 0;
        for (int k = 1; k <= nhdu && !found; k++) {
            if (fits_movabs_hdu(f->fp, k, &type, &st)) {
                s = fits_fail(err, AT_ERR_DATA, path, "cannot read an HDU (truncated or damaged file?)", st);
                goto fail;
            }
            found = type == BINARY_TBL;
        }
        if (!found) {
            s = at_fail(err, AT_ERR_DATA, "%s: no binary table (BINTABLE) HDU in the file", path);
            goto fail;
        }
    }
    fits_get_hdu_num(f->fp, &f->hdu_num);
    int ncols = 0;
    LONGLONG nrows = 0;
    if (fits_get_num_cols(f->fp, &ncols, &st) || fits_get_num_rowsll(f->fp, &nrows, &st)) {
        s = fits_fail(err, AT_ERR_DATA, path, "cannot read the table header", st);
        goto fail;
    }
    f->ncols = (size_t)ncols;
    f->nrows = nrows;
    f->col = at_calloc(f->ncols ? f->ncols : 1, sizeof *f->col, err);
    if (!f->col) {
        s = AT_ERR_MEMORY;
        goto fail;
    }
    for (int j = 0; j < ncols; j++) {
        char key[FLEN_KEYWORD], val[FLEN_VALUE] = "", comment[FLEN_COMMENT];
        snprintf(key, sizeof key, "TTYPE%d", j + 1);
        int kst = 0;
        if (fits_read_keyword(f->fp, key, val, comment, &kst) == 0) {
            /* The value is quoted: 'name    ' */
            char *p = val, *e;
            if (*p == '\'') p++;
            e = p + strlen(p);
            while (e > p && (e[-1] == '\'' || e[-1] == ' ')) e--;
            *e = '\0';
            snprintf(f->col[j].name, sizeof f->col[j].name, "%s", p);
        } else {
            snprintf(f->col[j].name, sizeof f->col[j].name, "col%d", j + 1);
        }
        if (fits_get_coltype(f->fp, j + 1, &f->col[j].typecode, &f->col[j].repeat, &f->col[j].width, &st)) {
            s = fits_fail(err, AT_ERR_DATA, path, "cannot read a column's TFORM", st);
            goto fail;
        }
    }
    *out = f;
    return AT_OK;
fail:
    fits_src_close(f);
    return s;
}

const char *fits_src_path(const fits_src *f) { return f->path; }
size_t fits_src_ncols(const fits_src *f) { return f->ncols; }
const char *fits_src_colname(const fits_src *f, size_t j) { return j < f->ncols ? f->col[j].name : NULL; }
int64_t fits_src_nrows(const fits_src *f) { return f->nrows; }
int64_t fits_src_row(const fits_src *f) { return f->block0 + (int64_t)f->pos; }

at_status fits_src_want(fits_src *f, size_t j, int as_text, at_error *err) {
    fcol *c = &f->col[j];
    int tc = abs(c->typecode);
    if (tc == TSTRING) {
        if (!as_text)
            return at_fail(err, AT_ERR_DATA, "%s: column '%s' is a text column (%ldA); a feature must be numeric",
                           f->path, c->name, c->repeat);
    } else if (c->repeat != 1 || c->typecode < 0) {
        return at_fail(err, AT_ERR_DATA, "%s: column '%s' is a vector column (%ld values per row); only scalar columns are read",
                       f->path, c->name, c->repeat);
    } else if (tc == TBIT || tc == TCOMPLEX || tc == TDBLCOMPLEX) {
        return at_fail(err, AT_ERR_DATA, "%s: column '%s' is a bit or complex column; only numbers and text are read",
                       f->path, c->name);
    }
    int w = as_text ? 2 : 1;
    if (c->want < w) c->want = w;
    if (!c->num && !(c->num = at_malloc(BLOCK, sizeof *c->num, err))) return AT_ERR_MEMORY;
    if (as_text && !c->text && !(c->text = at_malloc(BLOCK, TEXT_MAX + 1, err))) return AT_ERR_MEMORY;
    return AT_OK;
}

static at_status read_block(fits_src *f, at_error *err) {
    int64_t first = f->next;
    long n = (long)(f->nrows - first < BLOCK ? f->nrows - first : BLOCK);
    for (size_t j = 0; j < f->ncols; j++) {
        fcol *c = &f->col[j];
        if (!c->want) continue;
        int st = 0, anynul = 0;
        int tc = abs(c->typecode);
        if (tc != TSTRING) {
            /* Integers: TNULL -> NaN. Floats unchecked, as stored: CFITSIO's null test on
             * floats also catches infinities, which are a different issue (infinite). */
            double nul = NAN;
            int is_float = tc == TFLOAT || tc == TDOUBLE;
            if (fits_read_col(f->fp, TDOUBLE, (int)j + 1, first + 1, 1, n, is_float ? NULL : &nul, c->num, &anynul,
                              &st)) {
                char what[160];
                snprintf(what, sizeof what, "cannot read column '%s' at rows %lld-%lld (truncated file?)", c->name,
                         (long long)first + 1, (long long)first + n);
                return fits_fail(err, AT_ERR_DATA, f->path, what, st);
            }
        }
        if (c->want == 2) {
            char *ptrs[BLOCK];
            /* CFITSIO writes up to the display width; strings: their width. Keep room. */
            char *tmp = at_malloc((size_t)n, 128, err);
            if (!tmp) return AT_ERR_MEMORY;
            for (long i = 0; i < n; i++) ptrs[i] = tmp + (size_t)i * 128;
            if (tc == TSTRING && c->width > 120) {
                free(tmp);
                return at_fail(err, AT_ERR_DATA, "%s: column '%s' is %ld characters wide; at most 120 are read", f->path,
                               c->name, c->width);
            }
            if (tc == TSTRING) fits_read_col_str(f->fp, (int)j + 1, first + 1, 1, n, "", ptrs, &anynul, &st);
            /* Integer columns as 64-bit integers: identifiers (objid) pass 2^53 exactly. */
            long long *iv = NULL;
            char *isnull = NULL;
            int integer = tc != TSTRING && tc != TFLOAT && tc != TDOUBLE;
            if (integer) {
                iv = at_malloc((size_t)n, sizeof *iv, err);
                isnull = at_malloc((size_t)n, 1, err);
                if (!iv || !isnull) {
                    free(iv), free(isnull), free(tmp);
                    return AT_ERR_MEMORY;
                }
                fits_read_colnull(f->fp, TLONGLONG, (int)j + 1, first + 1, 1, n, iv, isnull, &anynul, &st);
            }
            for (long i = 0; i < n && !st; i++) {
                char *dst = c->text + (size_t)i * (TEXT_MAX + 1);
                if (tc == TSTRING) {
                    const char *p = ptrs[i];
                    while (*p == ' ') p++;
                    snprintf(dst, TEXT_MAX + 1, "%s", p);
                    size_t len = strlen(dst);
                    while (len && dst[len - 1] == ' ') dst[--len] = '\0';
                } else {
                    double v = c->num[i];
                    /* Other numbers in the shortest form that reads back the same. */
                    if (integer) {
                        if (isnull[i]) dst[0] = '\0';
                        else snprintf(dst, TEXT_MAX + 1, "%lld", iv[i]);
                    } else if (v != v) {
                        dst[0] = '\0';
                    } else {
                        snprintf(dst, TEXT_MAX + 1, "%.15g", v);
                        if (strtod(dst, NULL) != v) snprintf(dst, TEXT_MAX + 1, "%.17g", v);
                    }
                }
            }
            free(tmp), free(iv), free(isnull);
            if (st) {
                char what[160];
                snprintf(what, sizeof what, "cannot read column '%s' (truncated file?)", c->name);
                return fits_fail(err, AT_ERR_DATA, f->path, what, st);
            }
        }
    }
    f->block0 = first;
    f->in_block = (size_t)n;
    f->pos = 0;
    f->next = first + n;
    return AT_OK;
}

at_status fits_src_next(fits_src *f, int *eof, at_error *err) {
    *eof = 0;
    if (f->in_block && f->pos + 1 < f->in_block) {
        f->pos++;
        return AT_OK;
    }
    if (f->next >= f->nrows) {
        f->in_block = 0;
        *eof = 1;
        return AT_OK;
    }
    return read_block(f, err);
}

double fits_src_num(const fits_src *f, size_t j) { return f->col[j].num[f->pos]; }

const char *fits_src_text(const fits_src *f, size_t j) { return f->col[j].text + f->pos * (TEXT_MAX + 1); }

/* ---- row ranges for MPI ranks (issue 15) ---- */
at_status fits_src_range(fits_src *f, int64_t first, int64_t end, at_error *err) {
    if (first < 0 || end < first || end > f->nrows)
        return at_fail(err, AT_ERR_USAGE, "%s: rows %lld..%lld are not within the table's %lld rows", f->path,
                       (long long)first, (long long)end, (long long)f->nrows);
    if (f->next || f->in_block)
        return at_fail(err, AT_ERR_USAGE, "%s: a row range is set before the first row is read", f->path);
    f->next = first;
    f->block0 = first;
    f->nrows = end;
    return AT_OK;
}
