/* test_conventions.c - the documented conventions at boundaries, where a bug changes a
 * result only on exact ties: which assignment wins a tie, which side of a tree a value equal to
 * a cut goes, how a crop fraction rounds, and how CRLF blank lines count in messages. Each
 * expected value is worked out by hand in the comment beside it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astrotrain/csv.h"
#include "astrotrain/gbdt.h"
#include "astrotrain/hungarian.h"
#include "astrotrain/model.h"
#include "data/images_internal.h"
#include "harness.h"

/* The solver promises "the first column wins ties": with every cost equal, row i gets column
 * i; with two equal optima it takes the one that gives row 0 the lower column. */
static void test_hungarian_ties_go_to_the_first_column(void) {
    at_error err = {0};
    double flat[9] = {0};
    int a[3] = {-1, -1, -1};
    CHECK_OK(at_hungarian_min(flat, 3, a, &err), &err);
    CHECK(a[0] == 0 && a[1] == 1 && a[2] == 2);
    CHECK_OK(at_hungarian_max(flat, 3, a, &err), &err);
    CHECK(a[0] == 0 && a[1] == 1 && a[2] == 2);
    /* Costs 1 on the diagonal, 1 on the anti-diagonal, 5 elsewhere: both {0->0,1->1} and
     * {0->1,1->0} cost 2; the first column wins, so row 0 takes column 0. */
    double two[4] = {1, 1, 1, 1};
    CHECK_OK(at_hungarian_min(two, 2, a, &err), &err);
    CHECK(a[0] == 0 && a[1] == 1);
}

/* Boosting bins put a value equal to a cut on the left (a <= cut < b), so prediction must do
 * the same. One feature, x in {1, 2} with class a at 1 and class b at 2: the one cut is the
 * midpoint 1.5, and x = 1.5 must predict like x = 1. */
static void test_gbdt_value_at_a_cut_goes_left(void) {
    static const char *const cls[] = {"a", "b"};
    const size_t n = 40;
    at_error err = {0};
    at_dataset *ds = NULL;
    CHECK_OK(at_dataset_new(n, 1, 1, NULL, cls, 2, &ds, &err), &err);
    if (!ds) return;
    for (size_t i = 0; i < n; i++) {
        ds->y[i] = (int32_t)(i % 2);
        ds->X[i] = ds->y[i] ? 2.0 : 1.0;
        ds->row[i] = (int64_t)i;
    }
    at_gbdt_params p;
    at_gbdt_params_default(&p);
    p.n_rounds = 5;
    p.max_depth = 1;
    at_model *m = NULL;
    CHECK_OK(at_gbdt_new(&p, 1, 2, &m, &err), &err);
    if (!m) {
        at_dataset_free(ds);
        return;
    }
    at_fit_input in = {.train = ds, .valid = NULL, .threads = 1, .seed = 1, .progress = NULL};
    CHECK_OK(m->ops->fit(m->impl, &in, &err), &err);
    double X[3] = {1.0, 1.5, 2.0}, P[6];
    CHECK_OK(m->ops->predict_proba(m->impl, X, 3, P, 1, &err), &err);
    CHECK(P[0] > 0.5 && P[5] > 0.5);      /* the training values are learned */
    CHECK(P[2] == P[0] && P[3] == P[1]); /* the cut itself goes left, with x = 1 */
    at_model_free(m);
    at_dataset_free(ds);

    /* The same with a cut that is a data value: adjacent doubles a < b, whose midpoint rounds
     * to one of them; the cut is then a itself, and x = a goes left. */
    double a = 1.0, b = nextafter(1.0, 2.0);
    CHECK_OK(at_dataset_new(n, 1, 1, NULL, cls, 2, &ds, &err), &err);
    if (!ds) return;
    for (size_t i = 0; i < n; i++) {
        ds->y[i] = (int32_t)(i % 2);
        ds->X[i] = ds->y[i] ? b : a;
        ds->row[i] = (int64_t)i;
    }
    CHECK_OK(at_gbdt_new(&p, 1, 2, &m, &err), &err);
    if (m) {
        at_fit_input in2 = {.train = ds, .threads = 1, .seed = 1};
        CHECK_OK(m->ops->fit(m->impl, &in2, &err), &err);
        double X2[2] = {a, b}, P2[4];
        CHECK_OK(m->ops->predict_proba(m->impl, X2, 2, P2, 1, &err), &err);
        CHECK(P2[0] > 0.5 && P2[3] > 0.5);
        at_model_free(m);
    }
    at_dataset_free(ds);
}

/* Crop box: round(fraction x side), centred, odd leftovers to the far side. 16 x 0.3 = 4.8
 * rounds to 5 (truncation would give 4); 10 x 0.25 = 2.5 rounds to 3; 7 x 0.5 = 3.5 -> 4. */
static void test_crop_fraction_rounds_to_nearest(void) {
    at_error err = {0};
    const struct { size_t sh, sw; double crop; size_t h, w; } cases[] = {
        {16, 16, 0.3, 5, 5}, {10, 7, 0.25, 3, 2}, {7, 9, 0.5, 4, 5}, {3, 3, 0.01, 1, 1}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        at_resampler *r = NULL;
        CHECK_OK(at_resampler_new(cases[k].sh, cases[k].sw, 1, cases[k].crop, 0, 0, 1, &r, &err), &err);
        if (!r) continue;
        size_t h = 0, w = 0;
        at_resampler_size(r, &h, &w);
        CHECK(h == cases[k].h && w == cases[k].w);
        at_resampler_free(r);
    }
    /* 5 x 5 ramp (value 10 y + x), crop 0.6 -> 3 x 3 from offset (1, 1): the centre block. */
    uint8_t src[25], dst[9];
    for (size_t i = 0; i < 25; i++) src[i] = (uint8_t)(10 * (i / 5) + i % 5);
    at_resampler *r = NULL;
    CHECK_OK(at_resampler_new(5, 5, 1, 0.6, 0, 0, 1, &r, &err), &err);
    if (!r) return;
    at_resampler_run(r, src, dst);
    const uint8_t want[9] = {11, 12, 13, 21, 22, 23, 31, 32, 33};
    CHECK(memcmp(dst, want, 9) == 0);
    at_resampler_free(r);
}

/* Line numbers in messages count physical lines, CRLF or LF alike: the bad cell below sits on
 * line 6 (header 1, blank 2, row 3, blank 4, blank 5, row 6). */
static void test_crlf_blank_lines_count_once(void) {
    char path[] = "/tmp/astrotrain-conv-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    const char *text = "a,b,class\r\n\r\n1,2,X\r\n\r\n\r\n3,zz,Y\r\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    static const char *const AB[] = {"a", "b"};
    at_load_options o;
    at_load_options_default(&o);
    o.features = AB;
    o.n_features = 2;
    o.label = "class";
    at_dataset *ds = NULL;
    at_error err = {0};
    char want[128];
    snprintf(want, sizeof want, "%s:6: column 'b': 'zz' is not a number", path);
    CHECK_FAIL(at_dataset_load_csv(path, &o, &ds, NULL, &err), AT_ERR_DATA, &err, want);
    at_dataset_free(ds);
    unlink(path);
}

int main(void) {
    RUN(test_hungarian_ties_go_to_the_first_column);
    RUN(test_gbdt_value_at_a_cut_goes_left);
    RUN(test_crop_fraction_rounds_to_nearest);
    RUN(test_crlf_blank_lines_count_once);
    return harness_done();
}
