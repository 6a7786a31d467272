/* test_catalogue_reader.c - the table reader's catalogue mode (issue 14) on CSV and on FITS
 * tables written here with CFITSIO: every record a row in order, each row's first issue and
 * its feature (empty, NaN, inf, text), kept columns' text per chunk (quoted CSV, TNULL'd and
 * 64-bit FITS integers), the missing policies (keep: NaN is no issue; error: stops), HDU by
 * name and number, and a FITS table read exactly as the CSV of the same values. */
#include <fitsio.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astrotrain/csv.h"
#include "harness.h"

static char dir[64];
static const char *const FEAT[] = {"u", "g", "z"};
static const char *const CLS[] = {"GALAXY", "QSO", "STAR"};

static const char *path_in(const char *name) {
    static char p[4][160];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static void opts(at_load_options *o, const char *const *keep, size_t n_keep) {
    at_load_options_default(o);
    o->features = FEAT;
    o->n_features = 3;
    o->label = "class";
    o->label_optional = 1;
    o->class_names = CLS;
    o->n_classes = 3;
    o->keep_all_rows = 1;
    o->keep = keep;
    o->n_keep = n_keep;
}

/* Reads the whole table in chunks of `chunk`, recording issues, features and kept text. */
typedef struct seen {
    size_t n;
    int issue[32];
    size_t feat[32];
    char kept[32][48];
    double x[32][3];
    int64_t row[32];
    int32_t y[32];
} seen;

static at_status read_all(const char *path, const at_load_options *o, size_t chunk, seen *s, at_error *err) {
    memset(s, 0, sizeof *s);
    at_table_reader *t = NULL;
    at_status st = at_table_open(path, o, &t, err);
    while (!st) {
        at_dataset *c = NULL;
        if ((st = at_table_read(t, chunk, &c, err))) break;
        size_t m = c->n;
        for (size_t i = 0; i < m && s->n < 32; i++, s->n++) {
            s->issue[s->n] = (int)at_table_row_issue(t, i, &s->feat[s->n]);
            snprintf(s->kept[s->n], sizeof s->kept[0], "%s", o->n_keep ? at_table_kept(t, i, 0) : "");
            memcpy(s->x[s->n], c->X + i * 3, sizeof s->x[0]);
            s->row[s->n] = c->row[i];
            s->y[s->n] = c->y ? c->y[i] : -2;
        }
        at_dataset_free(c);
        if (!m) break;
    }
    at_table_close(t);
    return st;
}

static void test_csv_issues_and_kept(void) {
    const char *p = path_in("cat.csv");
    FILE *f = fopen(p, "w");
    fputs("id,u,g,z,class\n"
          "a,1,2,3,GALAXY\n"
          "\"b,1\",,2,3,QSO\n"       /* missing u; the id holds a comma */
          "c,1,x,inf,STAR\n"        /* not a number g (first), inf z */
          "d,1,2,-Inf,STAR\n"       /* infinite z */
          "e,NaN,2,3,GALAXY\n"      /* missing u */
          "f,4,5,6,QSO\n",
          f);
    fclose(f);
    const char *const keep[] = {"id"};
    at_load_options o;
    opts(&o, keep, 1);
    seen s;
    at_error err;
    CHECK_OK(read_all(p, &o, 2, &s, &err), &err);
    CHECK(s.n == 6);
    const int want_issue[] = {AT_ROW_OK, AT_ROW_MISSING, AT_ROW_NOT_NUMBER, AT_ROW_INFINITE, AT_ROW_MISSING, AT_ROW_OK};
    const size_t want_feat[] = {0, 0, 1, 2, 0, 0};
    const char *const want_kept[] = {"a", "b,1", "c", "d", "e", "f"};
    for (size_t i = 0; i < 6 && i < s.n; i++) {
        CHECK(s.issue[i] == want_issue[i]);
        CHECK(s.feat[i] == want_feat[i]);
        CHECK(strcmp(s.kept[i], want_kept[i]) == 0);
        CHECK(s.row[i] == (int64_t)i);
    }
    CHECK(s.x[5][0] == 4 && s.x[5][2] == 6 && isnan(s.x[2][1]) && isnan(s.x[2][2]) && s.y[3] == 2);
    CHECK(strcmp(at_row_issue_name(AT_ROW_NOT_NUMBER), "not a number") == 0);

    /* missing = keep: empty/NaN/inf are NaN values, not issues; text still is one. */
    o.missing = AT_MISSING_KEEP;
    CHECK_OK(read_all(p, &o, 4, &s, &err), &err);
    CHECK(s.n == 6 && s.issue[1] == AT_ROW_OK && s.issue[3] == AT_ROW_OK && s.issue[2] == AT_ROW_NOT_NUMBER);
    /* missing = error: the first empty cell stops, naming file and line. */
    o.missing = AT_MISSING_ERROR;
    CHECK_FAIL(read_all(p, &o, 4, &s, &err), AT_ERR_DATA, &err, "cat.csv:3: column 'u' is empty/NaN/infinite");
    /* Without catalogue mode the old drop: rows 1, 3 and 4 are gone, text is an error. */
    o.missing = AT_MISSING_DROP;
    o.keep_all_rows = 0;
    CHECK_FAIL(read_all(p, &o, 4, &s, &err), AT_ERR_DATA, &err, "cat.csv:4: column 'g': 'x' is not a number");
}

/* A FITS file: HDU 1 a decoy table, HDU 2 "CAT" with u (D), g (E), z (J, TNULL -1),
 * objid (K), class (6A). */
static int write_fits(const char *p) {
    fitsfile *fp;
    int st = 0;
    unlink(p);
    char *dt[] = {"x"}, *df[] = {"E"};
    char *tt[] = {"u", "g", "z", "objid", "class"}, *tf[] = {"D", "E", "J", "K", "6A"};
    fits_create_diskfile(&fp, p, &st);
    fits_create_tbl(fp, BINARY_TBL, 0, 1, dt, df, NULL, "DECOY", &st);
    fits_create_tbl(fp, BINARY_TBL, 0, 5, tt, tf, NULL, "CAT", &st);
    long tnull = -1;
    fits_update_key(fp, TLONG, "TNULL3", &tnull, NULL, &st);
    fits_set_btblnull(fp, 3, -1, &st);
    double u[4] = {18.5, NAN, 1.0, 2.0};
    float g[4] = {17.25f, 1.0f, INFINITY, 3.0f};
    int z[4] = {3, 4, 5, -1};
    long long id[4] = {1237663204920852001LL, 2, 3, 4};
    char *cls[4] = {"GALAXY", "QSO", "STAR", "QSO"};
    fits_write_col(fp, TDOUBLE, 1, 1, 1, 4, u, &st);
    fits_write_col(fp, TFLOAT, 2, 1, 1, 4, g, &st);
    fits_write_col(fp, TINT, 3, 1, 1, 4, z, &st);
    fits_write_col(fp, TLONGLONG, 4, 1, 1, 4, id, &st);
    fits_write_col_str(fp, 5, 1, 1, 4, cls, &st);
    fits_close_file(fp, &st);
    return st;
}

static void test_fits_table(void) {
    const char *p = path_in("cat.fits");
    CHECK(write_fits(p) == 0);
    const char *const keep[] = {"objid"};
    at_load_options o;
    opts(&o, keep, 1);
    seen s;
    at_error err;
    o.hdu = "CAT";
    CHECK_OK(read_all(p, &o, 3, &s, &err), &err);
    CHECK(s.n == 4);
    CHECK(s.issue[0] == AT_ROW_OK && s.x[0][0] == 18.5 && s.x[0][1] == 17.25 && s.x[0][2] == 3);
    CHECK(s.issue[1] == AT_ROW_MISSING && s.feat[1] == 0);
    CHECK(s.issue[2] == AT_ROW_INFINITE && s.feat[2] == 1);
    CHECK(s.issue[3] == AT_ROW_MISSING && s.feat[3] == 2); /* TNULL */
    CHECK(strcmp(s.kept[0], "1237663204920852001") == 0 && strcmp(s.kept[3], "4") == 0);
    CHECK(s.y[0] == 0 && s.y[1] == 1 && s.y[2] == 2 && s.row[3] == 3);
    o.hdu = "2";
    seen s2;
    CHECK_OK(read_all(p, &o, 10, &s2, &err), &err);
    CHECK(s2.n == 4 && memcmp(s2.kept, s.kept, sizeof s.kept) == 0 && s2.issue[3] == s.issue[3]);
    o.hdu = NULL; /* the first table is the decoy */
    CHECK_FAIL(read_all(p, &o, 10, &s2, &err), AT_ERR_DATA, &err, "no column 'u' (columns are: x)");
    o.hdu = "3";
    CHECK_FAIL(read_all(p, &o, 10, &s2, &err), AT_ERR_DATA, &err, "no HDU 3 (the file has HDUs 0 to 2)");
    /* The whole-file loader (training) drops the incomplete rows and discovers classes. */
    at_load_options t;
    at_load_options_default(&t);
    t.features = FEAT;
    t.n_features = 3;
    t.label = "class";
    t.hdu = "CAT";
    at_dataset *ds = NULL;
    at_load_report rep;
    CHECK_OK(at_dataset_load_csv(p, &t, &ds, &rep, &err), &err);
    CHECK(ds && ds->n == 1 && rep.rows_read == 4 && rep.rows_missing == 3 && ds->n_classes == 1);
    at_dataset_free(ds);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/test_catrd_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    RUN(test_csv_issues_and_kept);
    RUN(test_fits_table);
    unlink(path_in("cat.csv"));
    unlink(path_in("cat.fits"));
    rmdir(dir);
    return harness_done();
}
