/* test_csv.c - the CSV reader and loader: layout (column order, CRLF, quoting, comments,
 * BOM), error messages with file:line:column, missing-value policies, class discovery and
 * fixed class lists, gzip (including truncated streams), chunked reading, and the shipped
 * SDSS catalogues. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "astrotrain/csv.h"
#include "harness.h"

static char tmpdir[64];
static char made[64][128]; /* files to remove at the end */
static int nmade;

static const char *tmp_path(const char *name) {
    static char path[4][128];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", tmpdir, name);
    if (nmade < 64) snprintf(made[nmade++], sizeof made[0], "%s", path[k]);
    return path[k];
}

static const char *write_plain(const char *name, const char *data, size_t len) {
    const char *p = tmp_path(name);
    FILE *f = fopen(p, "wb");
    if (!f) return p;
    fwrite(data, 1, len, f);
    fclose(f);
    return p;
}

static const char *write_text(const char *name, const char *text) {
    return write_plain(name, text, strlen(text));
}

static const char *write_gz(const char *name, const char *data, size_t len) {
    const char *p = tmp_path(name);
    gzFile g = gzopen(p, "wb");
    if (!g) return p;
    if (len) gzwrite(g, data, (unsigned)len);
    gzclose(g);
    return p;
}

static long file_size(const char *p) {
    FILE *f = fopen(p, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void opts(at_load_options *o, const char *const *feat, size_t d, const char *label) {
    at_load_options_default(o);
    o->features = feat;
    o->n_features = d;
    o->label = label;
}

static const char *const AB[] = {"a", "b"};

static void test_columns_any_order_and_extra(void) {
    const char *p = write_text("order.csv",
                               "id,b,class,a,extra\n"
                               "7,2.5,STAR,1.5,x\n"
                               "8,-3,GALAXY,1e3,y\n");
    at_load_options o;
    opts(&o, AB, 2, "class");
    at_dataset *ds = NULL;
    at_load_report rep;
    at_error err;
    CHECK_OK(at_dataset_load_csv(p, &o, &ds, &rep, &err), &err);
    if (!ds) return;
    CHECK(ds->n == 2 && ds->d == 2);
    CHECK_NEAR(ds->X[0], 1.5, 0);
    CHECK_NEAR(ds->X[1], 2.5, 0);
    CHECK_NEAR(ds->X[2], 1000, 0);
    CHECK_NEAR(ds->X[3], -3, 0);
    CHECK(strcmp(ds->feature_names[0], "a") == 0 && strcmp(ds->feature_names[1], "b") == 0);
    CHECK(ds->n_classes == 2);
    CHECK(strcmp(ds->class_names[0], "GALAXY") == 0 && strcmp(ds->class_names[1], "STAR") == 0);
    CHECK(ds->y[0] == 1 && ds->y[1] == 0);
    CHECK(ds->row[0] == 0 && ds->row[1] == 1);
    CHECK(rep.rows_read == 2 && rep.rows_missing == 0);
    at_dataset_free(ds);
}

/* The same table as LF, CRLF, gzip+CRLF, with a BOM, and with blank lines must load alike. */
static void test_line_ends_bom_blank_gzip(void) {
    const char *lf = "a,b,class\n1,2,X\n3,4,Y\n";
    const char *crlf = "a,b,class\r\n1,2,X\r\n3,4,Y\r\n";
    const char *bom = "\xEF\xBB\xBF" "a,b,class\n1,2,X\n3,4,Y";
    const char *blank = "\n\na,b,class\n\n1,2,X\r\n\r\n\n3,4,Y\n\n\n";
    const char *paths[] = {write_text("lf.csv", lf), write_text("crlf.csv", crlf),
                           write_gz("crlf.csv.gz", crlf, strlen(crlf)),
                           write_gz("lf_gz_named.csv", lf, strlen(lf)), /* content, not name */
                           write_text("bom.csv", bom), write_text("blank.csv", blank)};
    for (size_t k = 0; k < sizeof paths / sizeof *paths; k++) {
        at_load_options o;
        opts(&o, AB, 2, "class");
        at_dataset *ds = NULL;
        at_error err;
        CHECK_OK(at_dataset_load_csv(paths[k], &o, &ds, NULL, &err), &err);
        if (!ds) continue;
        CHECK(ds->n == 2);
        CHECK(ds->X[0] == 1 && ds->X[1] == 2 && ds->X[2] == 3 && ds->X[3] == 4);
        CHECK(ds->n_classes == 2 && strcmp(ds->class_names[1], "Y") == 0);
        CHECK(ds->row[1] == 1);
        at_dataset_free(ds);
    }
    /* Blank lines still count for line numbers in messages. */
    const char *p = write_text("blank_err.csv", "a,b,class\n\n1,2,X\n\n\n3,zz,Y\n");
    at_load_options o;
    opts(&o, AB, 2, "class");
    at_dataset *ds = NULL;
    at_error err;
    CHECK_FAIL(at_dataset_load_csv(p, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "blank_err.csv:6: column 'b': 'zz' is not a number");
}

static void test_quoted_fields(void) {
    const char *p = write_text("quoted.csv",
                               "name,\"a\",class\r\n"
                               "\"x, y\",1,\"GAL\"\"AXY\"\r\n"
                               "\"two\r\nlines\n here\",\" 2 \",QSO\r\n"
                               "plain\"quote,3,\"\"\r\n"
                               "\"\",4,last\n");
    at_csv_reader *r = NULL;
    at_error err;
    CHECK_OK(at_csv_open(p, NULL, &r, &err), &err);
    if (!r) return;
    CHECK(at_csv_ncols(r) == 3);
    CHECK(at_csv_find(r, "a") == 1 && at_csv_find(r, "class") == 2 && at_csv_find(r, "b") == -1);
    char **f;
    size_t nf;
    int eof;
    CHECK_OK(at_csv_next(r, &f, &nf, &eof, &err), &err);
    CHECK(nf == 3 && !eof && at_csv_line(r) == 2 && at_csv_record(r) == 0);
    if (nf == 3) CHECK(strcmp(f[0], "x, y") == 0 && strcmp(f[2], "GAL\"AXY") == 0);
    CHECK_OK(at_csv_next(r, &f, &nf, &eof, &err), &err);
    CHECK(nf == 3 && at_csv_line(r) == 3 && at_csv_record(r) == 1);
    if (nf == 3) CHECK(strcmp(f[0], "two\r\nlines\n here") == 0 && strcmp(f[1], " 2 ") == 0);
    CHECK_OK(at_csv_next(r, &f, &nf, &eof, &err), &err);
    CHECK(nf == 3 && at_csv_line(r) == 6); /* the quoted field spanned lines 3-5 */
    if (nf == 3) CHECK(strcmp(f[0], "plain\"quote") == 0 && strcmp(f[2], "") == 0);
    CHECK_OK(at_csv_next(r, &f, &nf, &eof, &err), &err);
    CHECK(nf == 3 && at_csv_line(r) == 7);
    if (nf == 3) CHECK(strcmp(f[0], "") == 0 && strcmp(f[2], "last") == 0);
    CHECK_OK(at_csv_next(r, &f, &nf, &eof, &err), &err);
    CHECK(eof && nf == 0);
    at_csv_close(r);

    /* Through the loader: the quoted label keeps its comma, the padded number parses. */
    const char *const A[] = {"a"};
    const char *q = write_text("quoted2.csv", "a,class\n\" 1.5\",\"G,H\"\n2,\"G,H\"\n");
    at_load_options o;
    opts(&o, A, 1, "class");
    at_dataset *ds = NULL;
    CHECK_OK(at_dataset_load_csv(q, &o, &ds, NULL, &err), &err);
    if (ds) {
        CHECK(ds->n == 2 && ds->n_classes == 1 && strcmp(ds->class_names[0], "G,H") == 0);
        CHECK_NEAR(ds->X[0], 1.5, 0);
        at_dataset_free(ds);
    }
    const char *open_quote = write_text("openquote.csv", "a,class\n1,X\n2,\"never closed\n3,Y\n");
    CHECK_FAIL(at_dataset_load_csv(open_quote, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "openquote.csv:3: quoted field not closed");
}

static void test_comments(void) {
    const char *const A[] = {"a"};
    const char *p = write_text("comments.csv", "# made by hand\na,class\n1,X\n#2,Y\n3,Z\n");
    at_load_options o;
    opts(&o, A, 1, "class");
    at_dataset *ds = NULL;
    at_error err;
    /* Off by default: '#' starts a header named "# made by hand", so no column 'a'... */
    CHECK_FAIL(at_dataset_load_csv(p, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "no column 'a' (columns are: # made by hand)");
    /* ... and a '#' data line is data. */
    const char *q = write_text("hashdata.csv", "a,class\n1,X\n#2,Y\n");
    CHECK_FAIL(at_dataset_load_csv(q, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "hashdata.csv:3: column 'a': '#2' is not a number");
    o.csv.allow_comments = 1;
    CHECK_OK(at_dataset_load_csv(p, &o, &ds, NULL, &err), &err);
    if (!ds) return;
    CHECK(ds->n == 2 && ds->X[0] == 1 && ds->X[1] == 3);
    CHECK(ds->row[0] == 0 && ds->row[1] == 1); /* comment lines are not data records */
    CHECK(ds->n_classes == 2 && strcmp(ds->class_names[1], "Z") == 0);
    at_dataset_free(ds);
}

static void test_error_messages(void) {
    const char *const UGR[] = {"u", "g", "redshift"};
    const char *p = write_text("bad.csv", "obj_ID,u,g,class\n1,2,3,STAR\n2,abc,3,STAR\n");
    at_load_options o;
    opts(&o, UGR, 2, "class");
    at_dataset *ds = NULL;
    at_error err;
    CHECK_FAIL(at_dataset_load_csv(p, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "bad.csv:3: column 'u': 'abc' is not a number");
    CHECK(ds == NULL);
    o.n_features = 3;
    CHECK_FAIL(at_dataset_load_csv(p, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "bad.csv: no column 'redshift' (columns are: obj_ID, u, g, class)");
    o.n_features = 1;
    o.label = "klass";
    CHECK_FAIL(at_dataset_load_csv(p, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "no column 'klass'");

    const char *wrong = write_text("fields.csv", "u,g,class\n1,2,X\n1,2\n");
    o.label = "class";
    CHECK_FAIL(at_dataset_load_csv(wrong, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "fields.csv:3: expected 3 fields, found 2");
    const char *extra = write_text("fields2.csv", "u,g,class\n1,2,X,4\n");
    CHECK_FAIL(at_dataset_load_csv(extra, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "fields2.csv:2: expected 3 fields, found 4");

    const char *nolabel = write_text("nolabel.csv", "u,class\n1,X\n2,\n");
    CHECK_FAIL(at_dataset_load_csv(nolabel, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "nolabel.csv:3: column 'class' (the label) is empty");

    CHECK_FAIL(at_dataset_load_csv(tmp_path("does_not_exist.csv"), &o, &ds, NULL, &err),
               AT_ERR_IO, &err, "does_not_exist.csv: cannot open");

    /* A repeated column name is an error only when it is asked for. */
    const char *dup = write_text("dup.csv", "u,x,x,class\n1,2,3,A\n");
    CHECK_OK(at_dataset_load_csv(dup, &o, &ds, NULL, &err), &err);
    at_dataset_free(ds);
    const char *const X[] = {"x"};
    o.features = X;
    CHECK_FAIL(at_dataset_load_csv(dup, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "dup.csv: column 'x' appears more than once");
}

static void test_missing_policies(void) {
    const char *p = write_text("missing.csv",
                               "a,b,class\n"
                               "1,2,X\n"
                               ",2,X\n"
                               "3,NaN,Y\n"
                               "4,-inf,Y\n"
                               "5, 6 ,Y\n");
    at_load_options o;
    opts(&o, AB, 2, "class");
    at_dataset *ds = NULL;
    at_load_report rep;
    at_error err;
    o.missing = AT_MISSING_DROP;
    CHECK_OK(at_dataset_load_csv(p, &o, &ds, &rep, &err), &err);
    if (ds) {
        CHECK(ds->n == 2 && rep.rows_read == 5 && rep.rows_missing == 3);
        CHECK(ds->row[0] == 0 && ds->row[1] == 4);
        CHECK(ds->X[2] == 5 && ds->X[3] == 6);
        at_dataset_free(ds);
    }
    o.missing = AT_MISSING_ERROR;
    CHECK_FAIL(at_dataset_load_csv(p, &o, &ds, &rep, &err), AT_ERR_DATA, &err,
               "missing.csv:3: column 'a' is empty/NaN/infinite");
    o.missing = AT_MISSING_KEEP;
    CHECK_OK(at_dataset_load_csv(p, &o, &ds, &rep, &err), &err);
    if (ds) {
        CHECK(ds->n == 5 && rep.rows_missing == 0);
        CHECK(isnan(ds->X[2]) && ds->X[3] == 2);
        CHECK(isnan(ds->X[5]) && isnan(ds->X[7]));
        at_dataset_free(ds);
    }
    /* Only a dropped row carries a class: it must not appear as a class. */
    const char *q = write_text("dropclass.csv", "a,b,class\n1,2,X\nnan,2,ONLY_DROPPED\n");
    o.missing = AT_MISSING_DROP;
    CHECK_OK(at_dataset_load_csv(q, &o, &ds, &rep, &err), &err);
    if (ds) {
        CHECK(ds->n_classes == 1 && strcmp(ds->class_names[0], "X") == 0);
        at_dataset_free(ds);
    }
    const char *all = write_text("alldropped.csv", "a,b,class\n,2,X\n");
    CHECK_FAIL(at_dataset_load_csv(all, &o, &ds, &rep, &err), AT_ERR_DATA, &err,
               "alldropped.csv: no usable rows");
}

static void test_parse_number(void) {
    double v;
    int sp;
    CHECK(at_parse_number("1.23764870457714E+018", &v, &sp) && sp == 0);
    CHECK(v == strtod("1.23764870457714E+018", NULL));
    CHECK(at_parse_number("-5.491128E-05", &v, &sp) && sp == 0 && v == -5.491128E-05);
    CHECK(at_parse_number("  18.74547 ", &v, &sp) && sp == 0 && v == 18.74547);
    CHECK(at_parse_number("-0.000008956", &v, &sp) && v == -0.000008956);
    CHECK(at_parse_number("+.5", &v, &sp) && v == 0.5);
    CHECK(at_parse_number("7.", &v, &sp) && v == 7.0);
    CHECK(at_parse_number("1e999", &v, &sp) && sp == 2 && isinf(v));
    CHECK(at_parse_number("4.9e-324", &v, &sp) && sp == 0 && v > 0);
    const char *nan_like[] = {"", "   ", "nan", "NaN", "NAN", " -nan ", "+NaN"};
    for (size_t k = 0; k < sizeof nan_like / sizeof *nan_like; k++) {
        sp = -1;
        CHECK(at_parse_number(nan_like[k], &v, &sp) == 1 && sp == 1 && isnan(v));
    }
    const char *inf_like[] = {"inf", "Inf", "-inf", "+INF", "Infinity", "-Infinity", " infinity "};
    for (size_t k = 0; k < sizeof inf_like / sizeof *inf_like; k++) {
        sp = -1;
        CHECK(at_parse_number(inf_like[k], &v, &sp) == 1 && sp == 2 && isinf(v));
        CHECK((v < 0) == (strchr(inf_like[k], '-') != NULL));
    }
    const char *bad[] = {"abc", "1.2.3", "12abc", "-", "+", ".", "e5", "1e", "1e+", "--1",
                         "0x10", "1 2", "nan1", "infx", "in", "1,5", "\xff"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        if (at_parse_number(bad[k], &v, &sp)) {
            fprintf(stderr, "  accepted '%s'\n", bad[k]);
            CHECK(0);
        }
    }
    /* The fast path must agree with strtod to the last bit. */
    uint64_t s = 12345;
    int mismatches = 0;
    for (int k = 0; k < 200000; k++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t digits = (s >> 11) % 10000000000000000000ULL;
        int len = 1 + (int)((s >> 3) % 19);
        int point = (int)((s >> 40) % (unsigned)(len + 1));
        int e = (int)((s >> 50) % 61) - 30;
        char buf[64], num[32];
        snprintf(num, sizeof num, "%019llu", (unsigned long long)digits);
        int w = 0;
        if (s & 1) buf[w++] = '-';
        for (int i = 0; i < len; i++) {
            if (i == point) buf[w++] = '.';
            buf[w++] = num[19 - len + i];
        }
        if (s & 2) w += snprintf(buf + w, sizeof buf - (size_t)w, "e%d", e);
        buf[w] = '\0';
        double ref = strtod(buf, NULL);
        if (!at_parse_number(buf, &v, &sp) || memcmp(&v, &ref, sizeof v) != 0) {
            if (mismatches++ < 5) fprintf(stderr, "  '%s': %.17g vs strtod %.17g\n", buf, v, ref);
        }
    }
    CHECK(mismatches == 0);
}

static void test_classes_sorted_and_fixed(void) {
    const char *const A[] = {"a"};
    const char *p =
        write_text("classes.csv", "a,class\n0,STAR\n1,GALAXY\n2,QSO\n3,STAR\n4,GALAXY\n");
    at_load_options o;
    opts(&o, A, 1, "class");
    at_dataset *ds = NULL;
    at_error err;
    CHECK_OK(at_dataset_load_csv(p, &o, &ds, NULL, &err), &err);
    if (ds) {
        CHECK(ds->n_classes == 3);
        CHECK(strcmp(ds->class_names[0], "GALAXY") == 0 && strcmp(ds->class_names[1], "QSO") == 0 &&
              strcmp(ds->class_names[2], "STAR") == 0);
        const int32_t want[] = {2, 0, 1, 2, 0};
        for (size_t i = 0; i < 5; i++) CHECK(ds->y[i] == want[i] && ds->X[i] == (double)i);
        size_t counts[3];
        at_dataset_class_counts(ds, counts);
        CHECK(counts[0] == 2 && counts[1] == 1 && counts[2] == 2);
        at_dataset_free(ds);
    }
    /* A fixed list keeps its order and rejects strangers. */
    const char *const fixed[] = {"STAR", "QSO", "GALAXY"};
    o.class_names = fixed;
    o.n_classes = 3;
    CHECK_OK(at_dataset_load_csv(p, &o, &ds, NULL, &err), &err);
    if (ds) {
        CHECK(ds->n_classes == 3 && strcmp(ds->class_names[0], "STAR") == 0);
        CHECK(ds->y[0] == 0 && ds->y[1] == 2 && ds->y[2] == 1);
        at_dataset_free(ds);
    }
    const char *const known[] = {"GALAXY", "QSO", "STAR"};
    o.class_names = known;
    const char *q = write_text("unknown.csv", "a,class\n0,STAR\n1,FOO\n");
    CHECK_FAIL(at_dataset_load_csv(q, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "unknown.csv:3: class 'FOO' is not known to the model (known: GALAXY, QSO, STAR)");
    at_table_reader *t = NULL;
    CHECK_OK(at_table_open(q, &o, &t, &err), &err);
    at_dataset *chunk = NULL;
    if (t) {
        CHECK_FAIL(at_table_read(t, 10, &chunk, &err), AT_ERR_DATA, &err,
                   "unknown.csv:3: class 'FOO' is not known");
        at_table_close(t);
    }
    /* An id column given as the label stops early instead of making 10001 classes. */
    size_t cap = 200000, n = 0;
    char *many = malloc(cap);
    if (many) {
        n += (size_t)snprintf(many, cap, "a,id\n");
        for (int i = 0; i <= 10000; i++) n += (size_t)snprintf(many + n, cap - n, "1,obj%d\n", i);
        const char *m = write_text("many.csv", many);
        o.class_names = NULL;
        o.n_classes = 0;
        o.label = "id";
        CHECK_FAIL(at_dataset_load_csv(m, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
                   "many.csv:10002: column 'id' has more than 10000 distinct labels");
        o.label = "class";
        free(many);
    }
    /* Chunks cannot discover classes. */
    o.class_names = NULL;
    o.n_classes = 0;
    CHECK_FAIL(at_table_open(q, &o, &t, &err), AT_ERR_USAGE, &err, "class list");
}

static void test_limits_and_hostile_bytes(void) {
    const char *const A[] = {"a"};
    at_load_options o;
    opts(&o, A, 1, "class");
    o.csv.max_line = 64;
    char big[400];
    int w = snprintf(big, sizeof big, "a,class\n1,X\n2,");
    memset(big + w, 'Y', 100);
    snprintf(big + w + 100, sizeof big - (size_t)w - 100, "\n3,X\n");
    const char *p = write_text("long.csv", big);
    at_dataset *ds = NULL;
    at_error err;
    CHECK_FAIL(at_dataset_load_csv(p, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "long.csv:3: record longer than 64 bytes");
    o.csv.max_line = 200;
    CHECK_OK(at_dataset_load_csv(p, &o, &ds, NULL, &err), &err);
    at_dataset_free(ds);
    /* An open quote must not read the whole file into memory. */
    o.csv.max_line = 64;
    char openq[2000] = "a,class\n1,\"";
    memset(openq + strlen(openq), 'z', 1000);
    p = write_text("openq.csv", openq);
    CHECK_FAIL(at_dataset_load_csv(p, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "openq.csv:2: record longer than 64 bytes");
    o.csv.max_line = 0; /* default */

    const char nul_header[] = "a,cl\0ass\n1,X\n";
    p = write_plain("nul.csv", nul_header, sizeof nul_header - 1);
    CHECK_FAIL(at_dataset_load_csv(p, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "nul.csv:1: NUL byte");
    const char nul_data[] = "a,class\n1,X\n2,Y\0\n";
    p = write_plain("nul2.csv", nul_data, sizeof nul_data - 1);
    CHECK_FAIL(at_dataset_load_csv(p, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "nul2.csv:3: NUL byte");
    p = write_text("badutf8.csv", "a,cl\xC3\x28ss\n1,X\n");
    CHECK_FAIL(at_dataset_load_csv(p, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "badutf8.csv:1: header column 2 name is not valid UTF-8");
    p = write_text("badlabel.csv", "a,class\n1,X\n2,GAL\xFF\n");
    CHECK_FAIL(at_dataset_load_csv(p, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "badlabel.csv:3: column 'class': label 'GAL\\xFF' is not valid UTF-8");
    p = write_text("goodutf8.csv", "a,class\n1,\xCE\xA9mega\n");
    CHECK_OK(at_dataset_load_csv(p, &o, &ds, NULL, &err), &err);
    if (ds) {
        CHECK(strcmp(ds->class_names[0], "\xCE\xA9mega") == 0);
        at_dataset_free(ds);
    }

    /* Random bytes, with and without CSV-ish structure: an error or a table, never a crash. */
    uint64_t s = 99;
    char junk[600];
    const char alphabet[] = "ab,\"\r\n#0.5e-xNaN\xEF\xBB\xBF\xFF\x00";
    for (int k = 0; k < 300; k++) {
        size_t n = 0;
        int mode = k % 3;
        if (mode) n = (size_t)snprintf(junk, sizeof junk, "a,class\n");
        size_t len = n + (size_t)((s >> 33) % 500);
        for (; n < len; n++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            junk[n] = mode == 2 ? alphabet[(s >> 33) % (sizeof alphabet - 1)] : (char)(s >> 56);
        }
        p = (k & 1) ? write_gz("junk.gz", junk, n) : write_plain("junk.csv", junk, n);
        o.csv.max_line = 100;
        o.missing = (at_missing_policy)(k % 3);
        at_status st = at_dataset_load_csv(p, &o, &ds, NULL, &err);
        if (st == AT_OK) at_dataset_free(ds);
        else CHECK(st == AT_ERR_DATA && err.msg[0]);
        nmade--; /* the same two names again and again */
    }
}

static void test_gzip_truncated_and_empty(void) {
    /* Enough rows that the compressed stream spans several zlib blocks. */
    size_t cap = 400000, n = 0;
    char *text = malloc(cap);
    if (!text) return;
    n += (size_t)snprintf(text, cap, "a,b,class\n");
    uint64_t s = 7;
    for (int i = 0; i < 10000; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        n += (size_t)snprintf(text + n, cap - n, "%d,%.6f,%s\n", i, (double)(s >> 11) / 9e15,
                              (s >> 60) & 1 ? "STAR" : "GALAXY");
    }
    const char *full = write_gz("full.csv.gz", text, n);
    at_load_options o;
    opts(&o, AB, 2, "class");
    at_dataset *ds = NULL;
    at_error err;
    CHECK_OK(at_dataset_load_csv(full, &o, &ds, NULL, &err), &err);
    if (ds) {
        CHECK(ds->n == 10000 && ds->X[2 * 9999] == 9999);
        at_dataset_free(ds);
    }
    /* Cut in the middle, and cut just the 8-byte trailer (CRC and length). */
    long size = file_size(full);
    FILE *f = fopen(full, "rb");
    char *gz = malloc((size_t)size);
    if (f && gz && fread(gz, 1, (size_t)size, f) == (size_t)size) {
        const char *half = write_plain("half.csv.gz", gz, (size_t)size / 2);
        CHECK_FAIL(at_dataset_load_csv(half, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
                   "half.csv.gz: truncated or corrupt gzip data");
        const char *notrailer = write_plain("notrailer.csv.gz", gz, (size_t)size - 8);
        CHECK_FAIL(at_dataset_load_csv(notrailer, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
                   "notrailer.csv.gz: truncated or corrupt gzip data");
        gz[size / 2] ^= 0x55; /* corrupt, not short */
        const char *bad = write_plain("corrupt.csv.gz", gz, (size_t)size);
        CHECK_FAIL(at_dataset_load_csv(bad, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
                   "corrupt.csv.gz: truncated or corrupt gzip data");
        /* The chunked reader sees the same. */
        const char *const fixed[] = {"GALAXY", "STAR"};
        o.class_names = fixed;
        o.n_classes = 2;
        at_table_reader *t = NULL;
        CHECK_OK(at_table_open(half, &o, &t, &err), &err);
        at_status st = AT_OK;
        at_dataset *chunk = NULL;
        while (t && !st) {
            st = at_table_read(t, 1000, &chunk, &err);
            size_t got = chunk ? chunk->n : 0;
            at_dataset_free(chunk);
            if (!st && got == 0) break;
        }
        CHECK(st == AT_ERR_DATA && strstr(err.msg, "truncated or corrupt gzip data"));
        at_table_close(t);
        o.class_names = NULL;
        o.n_classes = 0;
    } else {
        CHECK(0);
    }
    if (f) fclose(f);
    free(gz);
    free(text);

    const char *empty = write_text("empty.csv", "");
    CHECK_FAIL(at_dataset_load_csv(empty, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "empty.csv: empty file, expected a header row");
    const char *emptygz = write_gz("empty.csv.gz", "", 0);
    CHECK_FAIL(at_dataset_load_csv(emptygz, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "empty.csv.gz: empty file, expected a header row");
    const char *blank = write_text("blank_only.csv", "\r\n\n\n");
    CHECK_FAIL(at_dataset_load_csv(blank, &o, &ds, NULL, &err), AT_ERR_DATA, &err,
               "empty file");
    const char *header = write_text("header.csv", "a,b,class\r\n");
    at_load_report rep = {1, 1};
    CHECK_FAIL(at_dataset_load_csv(header, &o, &ds, &rep, &err), AT_ERR_DATA, &err,
               "header.csv: no data rows");
    CHECK(rep.rows_read == 0);
    /* A header only gives 0 rows to the chunked reader. */
    const char *const fixed[] = {"GALAXY", "STAR"};
    o.class_names = fixed;
    o.n_classes = 2;
    at_table_reader *t = NULL;
    CHECK_OK(at_table_open(header, &o, &t, &err), &err);
    if (t) {
        at_dataset *chunk = NULL;
        CHECK_OK(at_table_read(t, 5, &chunk, &err), &err);
        CHECK(chunk && chunk->n == 0 && chunk->d == 2);
        at_dataset_free(chunk);
        at_table_close(t);
    }
}

/* Chunked reading gives exactly the rows, values and labels of the whole-file load. */
static void test_chunks_match_whole(void) {
    const char *const feat[] = {"r", "u", "z"};
    const char *const fixed[] = {"GALAXY", "QSO", "STAR"};
    const char *path = "tests/fixtures/sdss17_sample10k.csv.gz";
    at_load_options o;
    opts(&o, feat, 3, "class");
    o.class_names = fixed;
    o.n_classes = 3;
    at_dataset *whole = NULL;
    at_error err;
    CHECK_OK(at_dataset_load_csv(path, &o, &whole, NULL, &err), &err);
    if (!whole) return;
    at_table_reader *t = NULL;
    CHECK_OK(at_table_open(path, &o, &t, &err), &err);
    if (!t) {
        at_dataset_free(whole);
        return;
    }
    CHECK(at_table_has_label(t));
    size_t i = 0, chunks = 0;
    int same = 1;
    for (;;) {
        at_dataset *c = NULL;
        at_status st = at_table_read(t, 777, &c, &err);
        CHECK_OK(st, &err);
        if (st || !c) break;
        size_t m = c->n;
        if (m) {
            chunks++;
            CHECK(m <= 777 && c->d == 3 && c->y && c->n_classes == 3);
            CHECK(strcmp(c->feature_names[0], "r") == 0 && strcmp(c->class_names[2], "STAR") == 0);
            for (size_t k = 0; k < m && i + k < whole->n; k++) {
                if (memcmp(c->X + 3 * k, whole->X + 3 * (i + k), 3 * sizeof(double)) ||
                    c->y[k] != whole->y[i + k] || c->row[k] != whole->row[i + k])
                    same = 0;
            }
        }
        i += m;
        at_dataset_free(c);
        if (!m) break;
    }
    CHECK(same && i == whole->n && chunks == 13);
    CHECK(at_table_report(t)->rows_read == 10000);
    at_table_close(t);
    at_dataset_free(whole);

    /* Prediction input without the label column: y is NULL. */
    const char *p = write_text("nolabelcol.csv", "z,u,r\n1,2,3\n4,5,6\n");
    o.label_optional = 1;
    CHECK_OK(at_table_open(p, &o, &t, &err), &err);
    if (t) {
        CHECK(!at_table_has_label(t));
        at_dataset *c = NULL;
        CHECK_OK(at_table_read(t, 100, &c, &err), &err);
        CHECK(c && c->n == 2 && c->y == NULL && c->X[0] == 3 && c->X[1] == 2 && c->X[5] == 4);
        at_dataset_free(c);
        at_table_close(t);
    }
    o.label_optional = 0;
    CHECK_FAIL(at_table_open(p, &o, &t, &err), AT_ERR_DATA, &err, "no column 'class'");
}

static void test_sdss17_fixture(void) {
    const char *const feat[] = {"alpha", "delta", "u", "g", "r", "i", "z", "redshift"};
    at_load_options o;
    opts(&o, feat, 8, "class");
    at_dataset *ds = NULL;
    at_load_report rep;
    at_error err;
    CHECK_OK(at_dataset_load_csv("tests/fixtures/sdss17_sample10k.csv.gz", &o, &ds, &rep, &err),
             &err);
    if (!ds) return;
    size_t counts[3];
    CHECK(ds->n == 10000 && ds->d == 8 && ds->n_classes == 3 && rep.rows_read == 10000);
    at_dataset_class_counts(ds, counts);
    CHECK(counts[0] == 5975 && counts[1] == 1886 && counts[2] == 2139);
    CHECK(strcmp(ds->class_names[0], "GALAXY") == 0);
    /* First row: 15.3429072623888,0.794881721676044,18.74547,... redshift 0.04200241 */
    CHECK(ds->X[0] == 15.3429072623888 && ds->X[2] == 18.74547 && ds->X[7] == 0.04200241);
    CHECK(ds->y[0] == 0 && ds->y[1] == 1 && ds->row[9999] == 9999);
    at_dataset_free(ds);
}

static void test_sdss_dr14(void) {
    const char *candidates[] = {"data/sdss_dr14/skyserver_dr14.csv.gz",
                                "../shared/data/sdss_dr14/skyserver_dr14.csv.gz"};
    const char *path = NULL;
    for (size_t k = 0; k < 2 && !path; k++)
        if (access(candidates[k], R_OK) == 0) path = candidates[k];
    if (!path) SKIP("data/sdss_dr14/skyserver_dr14.csv.gz not found");
    const char *const feat[] = {"u", "g", "r", "i", "z", "redshift"};
    at_load_options o;
    opts(&o, feat, 6, "class");
    at_dataset *ds = NULL;
    at_error err;
    CHECK_OK(at_dataset_load_csv(path, &o, &ds, NULL, &err), &err);
    if (!ds) return;
    size_t counts[3];
    CHECK(ds->n == 10000 && ds->n_classes == 3);
    at_dataset_class_counts(ds, counts);
    CHECK(counts[0] == 4998 && counts[1] == 850 && counts[2] == 4152);
    CHECK(strcmp(ds->class_names[1], "QSO") == 0);
    /* Row 2 (CRLF file): u 18.6628, redshift -5.491128E-05. */
    CHECK(ds->X[6] == 18.6628 && ds->X[11] == -5.491128E-05);
    at_dataset_free(ds);
    /* The ids in exponent form parse as numbers too. */
    const char *const ids[] = {"objid", "specobjid"};
    opts(&o, ids, 2, NULL);
    CHECK_OK(at_dataset_load_csv(path, &o, &ds, NULL, &err), &err);
    if (ds) {
        CHECK(ds->y == NULL && ds->X[0] == 1.23764870457714E+018);
        at_dataset_free(ds);
    }
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_csv_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_columns_any_order_and_extra);
    RUN(test_line_ends_bom_blank_gzip);
    RUN(test_quoted_fields);
    RUN(test_comments);
    RUN(test_error_messages);
    RUN(test_missing_policies);
    RUN(test_parse_number);
    RUN(test_classes_sorted_and_fixed);
    RUN(test_limits_and_hostile_bytes);
    RUN(test_gzip_truncated_and_empty);
    RUN(test_chunks_match_whole);
    RUN(test_sdss17_fixture);
    RUN(test_sdss_dr14);
    for (int k = 0; k < nmade; k++) unlink(made[k]);
    unlink(tmp_path("junk.gz"));
    unlink(tmp_path("junk.csv"));
    rmdir(tmpdir);
    return harness_done();
}
