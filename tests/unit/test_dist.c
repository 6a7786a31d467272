/* test_dist.c - the single-rank communicator, byte-range CSV reading, the label-only
 * undersampling and split, the exact scaler and boosting's gradient rounding (issue 15: MPI).
 * The multi-rank behaviour is tested end to end under mpirun (tests/e2e/mpi.sh). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astrotrain/comm.h"
#include "astrotrain/csv.h"
#include "astrotrain/preprocess.h"
#include "harness.h"
#include "models/gbdt_internal.h"

static void test_single_comm(void) {
    at_comm *c = NULL;
    at_error e = {0};
    CHECK(at_comm_new_single(&c, &e) == AT_OK);
    CHECK(at_comm_rank(c) == 0 && at_comm_size(c) == 1 && at_comm_is_root(c));
    double v[2] = {1.5, -2};
    CHECK(at_comm_sum_f64(c, v, 2, &e) == AT_OK && v[0] == 1.5 && v[1] == -2);
    uint64_t before = 7;
    CHECK(at_comm_exscan_u64(c, 42, &before, &e) == AT_OK && before == 0);
    int32_t mine[3] = {4, 5, 6};
    void *all = NULL;
    size_t counts[1] = {0};
    CHECK(at_comm_allgatherv(c, mine, sizeof mine, &all, counts, &e) == AT_OK);
    CHECK(counts[0] == sizeof mine && all && memcmp(all, mine, sizeof mine) == 0);
    free(all);
    /* Agreement on one rank: the status and message stay as they are. */
    at_fail(&e, AT_ERR_DATA, "x.csv:3: bad");
    CHECK(at_comm_agree(c, AT_ERR_DATA, &e) == AT_ERR_DATA && strcmp(e.msg, "x.csv:3: bad") == 0);
    CHECK(at_comm_error_agreed(c));
    CHECK(at_comm_agree(c, AT_OK, &e) == AT_OK);
    at_comm_stats st = at_comm_get_stats(c);
    CHECK(st.bytes == 0 && st.calls == 0);
    at_comm_free(c);
    CHECK(at_comm_size(NULL) == 1 && at_comm_rank(NULL) == 0);
}

static void test_mpirun_detection(void) {
    const char *saved = getenv("OMPI_COMM_WORLD_SIZE");
    char keep[64] = "";
    if (saved) snprintf(keep, sizeof keep, "%s", saved);
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMIX_RANK");
    unsetenv("PMI_RANK");
    CHECK(!at_comm_launched_by_mpirun());
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    CHECK(at_comm_launched_by_mpirun());
    unsetenv("OMPI_COMM_WORLD_SIZE");
    setenv("PMIX_RANK", "0", 1);
    CHECK(at_comm_launched_by_mpirun());
    unsetenv("PMIX_RANK");
    if (keep[0]) setenv("OMPI_COMM_WORLD_SIZE", keep, 1);
}

/* Records (first field) of path in [b, e). */
static int read_range(const char *path, int64_t b, int64_t e, int comments, long *got, size_t cap) {
    at_csv_options o;
    at_csv_options_default(&o);
    o.allow_comments = comments;
    o.range_begin = b;
    o.range_end = e;
    at_csv_reader *r = NULL;
    at_error err = {0};
    if (at_csv_open(path, &o, &r, &err)) return -1;
    int n = 0;
    for (int eof = 0;;) {
        char **f;
        size_t nf;
        if (at_csv_next(r, &f, &nf, &eof, &err)) {
            n = -1;
            break;
        }
        if (eof) break;
        if ((size_t)n < cap) got[n] = atol(f[0]);
        n++;
    }
    at_csv_close(r);
    return n;
}

/* Any cut of the file into ranges gives every record exactly once, in order: LF and CRLF
 * line ends, comment and blank lines, a header longer than the first range. */
static void test_csv_ranges(void) {
    char path[] = "/tmp/at-test-dist-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    FILE *f = fdopen(fd, "w");
    fputs("id,a_rather_long_header_name\r\n", f);
    for (int i = 0; i < 40; i++) {
        if (i % 7 == 3) fputs("# comment, with a comma\r\n", f);
        if (i % 11 == 5) fputs("\r\n", f);
        fprintf(f, "%d,%d\r\n", i, i * i);
    }
    fclose(f);
    FILE *g = fopen(path, "rb");
    fseek(g, 0, SEEK_END);
    long size = ftell(g);
    fclose(g);
    for (int parts = 1; parts <= 7; parts++) {
        long got[64], all = 0;
        int ok = 1;
        for (int p = 0; p < parts; p++) {
            int64_t b = size * p / parts, e = p == parts - 1 ? INT64_MAX : size * (p + 1) / parts;
            if (e <= b) e = b + 1;
            int n = read_range(path, b, e, 1, got + all, 64 - (size_t)all);
            if (n < 0) ok = 0;
            else all += n;
        }
        CHECK(ok && all == 40);
        for (long i = 0; ok && i < all && i < 40; i++) CHECK(got[i] == i);
    }
    /* Every single cut point, two ranges. */
    for (long cut = 1; cut < size; cut++) {
        long got[64];
        int a = read_range(path, 0, cut, 1, got, 64);
        int b = read_range(path, cut, INT64_MAX, 1, got + (a > 0 ? a : 0), 64 - (size_t)(a > 0 ? a : 0));
        CHECK(a >= 0 && b >= 0 && a + b == 40);
        if (a >= 0 && b >= 0 && a + b == 40)
            for (int i = 0; i < 40; i++)
                if (got[i] != i) {
                    CHECK(got[i] == i);
                    break;
                }
    }
    remove(path);
}

/* The label-only forms pick the same rows as the dataset forms (which call them). */
static void test_labels_split(void) {
    size_t n = 1000, k = 3;
    int32_t *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) y[i] = (int32_t)(i % 7 == 0 ? 2 : i % 3 == 0 ? 1 : 0);
    size_t *keep = malloc(n * sizeof *keep), m = 0;
    at_error e = {0};
    CHECK(at_undersample_labels(y, n, k, AT_UNDERSAMPLE_MINORITY, 0, 42, keep, &m, &e) == AT_OK);
    size_t cnt[3] = {0, 0, 0};
    for (size_t i = 0; i < m; i++) cnt[y[keep[i]]]++;
    CHECK(cnt[0] == cnt[1] && cnt[1] == cnt[2] && cnt[2] == 143); /* class 2: every 7th of 1000 */
    for (size_t i = 1; i < m; i++) CHECK(keep[i - 1] < keep[i]);
    size_t *parts[3], counts[3];
    for (int p = 0; p < 3; p++) parts[p] = malloc(n * sizeof(size_t));
    CHECK(at_split_labels(y, n, k, 0.7, 0.15, 0.15, 9, parts, counts, &e) == AT_OK);
    CHECK(counts[0] + counts[1] + counts[2] == n);
    /* per class: round(n_c * 0.7) train */
    size_t nc[3] = {0, 0, 0}, tr[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++) nc[y[i]]++;
    for (size_t i = 0; i < counts[0]; i++) tr[y[parts[0][i]]]++;
    for (size_t c = 0; c < k; c++) CHECK(tr[c] == (size_t)llround((double)nc[c] * 0.7));
    CHECK(at_split_labels(y, n, k, 0.7, 0.2, 0.2, 9, parts, counts, &e) == AT_ERR_CONFIG);
    for (int p = 0; p < 3; p++) free(parts[p]);
    free(keep);
    free(y);
}

/* Mean and population standard deviation of 1, 2, 4, 8 (NaN skipped): 3.75 and sqrt(7.1875). */
static void test_exact_scaler(void) {
    const char *const feats[] = {"x"};
    const char *const cls[] = {"A"};
    at_dataset *ds = NULL;
    at_error e = {0};
    CHECK(at_dataset_new(5, 1, 1, feats, cls, 1, &ds, &e) == AT_OK);
    double v[5] = {1, 2, NAN, 4, 8};
    for (int i = 0; i < 5; i++) ds->X[i] = v[i], ds->y[i] = 0, ds->row[i] = i;
    at_scaler *s = NULL;
    CHECK(at_scaler_fit_global(AT_SCALER_STANDARD, ds, NULL, &s, &e) == AT_OK);
    CHECK(s && s->shift[0] == 3.75 && s->scale[0] == sqrt(7.1875));
    at_scaler_free(s);
    /* Order does not matter, to the bit: the same values reversed. */
    at_scaler *r = NULL;
    for (int i = 0; i < 5; i++) ds->X[i] = v[4 - i] * 0.1;
    CHECK(at_scaler_fit_global(AT_SCALER_STANDARD, ds, NULL, &r, &e) == AT_OK);
    double fwd_mean = r->shift[0];
    at_scaler_free(r);
    for (int i = 0; i < 5; i++) ds->X[i] = v[i] * 0.1;
    CHECK(at_scaler_fit_global(AT_SCALER_STANDARD, ds, NULL, &r, &e) == AT_OK);
    CHECK(r->shift[0] == fwd_mean);
    CHECK_NEAR(r->shift[0], 0.375, 1e-15);
    at_scaler_free(r);
    at_dataset_free(ds);
    /* Against the classic two-pass fit on 500 values of several magnitudes: equal to 1e-15. */
    CHECK(at_dataset_new(500, 1, 1, feats, cls, 1, &ds, &e) == AT_OK);
    for (int i = 0; i < 500; i++) ds->X[i] = 1000.0 * sin(i * 0.7) * (1 + i % 5), ds->y[i] = 0, ds->row[i] = i;
    at_scaler *classic = NULL;
    CHECK(at_scaler_fit(AT_SCALER_STANDARD, ds, &classic, &e) == AT_OK);
    CHECK(at_scaler_fit_global(AT_SCALER_STANDARD, ds, NULL, &r, &e) == AT_OK);
    CHECK(fabs(r->shift[0] - classic->shift[0]) <= 1e-15 * 1000);
    CHECK(fabs(r->scale[0] - classic->scale[0]) <= 1e-15 * classic->scale[0]);
    at_scaler_free(classic);
    at_scaler_free(r);
    for (int i = 0; i < 5; i++) ds->X[i] = v[i] * 0.1;
    ds->n = 5;
    CHECK(at_scaler_fit_global(AT_SCALER_MINMAX, ds, NULL, &r, &e) == AT_OK);
    CHECK(r->shift[0] == 0.1 && r->scale[0] == 0.8 - 0.1);
    at_scaler_free(r);
    at_dataset_free(ds);
}

/* Boosting's rounding: multiples of 2^-q with q such that n_global rows cannot reach 2^52
 * units, so sums in any order are exact. */
static void test_gradient_rounding(void) {
    CHECK(gbdt_quant_bits(1) == 50);
    CHECK(gbdt_quant_bits(100000) == 34); /* 2^17 > 1e5 */
    gbdt_gh gh[3] = {{0.1, 0.25}, {-1.0 / 3, 0.09}, {0.7, 0.21}};
    gbdt_quantize(gh, 3, 34);
    for (int i = 0; i < 3; i++) {
        CHECK(ldexp(gh[i].g, 34) == nearbyint(ldexp(gh[i].g, 34)));
        CHECK(fabs(gh[i].g - (i == 0 ? 0.1 : i == 1 ? -1.0 / 3 : 0.7)) <= ldexp(1, -35));
    }
    /* Exactness: the sum in two orders is the same bits. */
    double a = (gh[0].g + gh[1].g) + gh[2].g, b = gh[0].g + (gh[1].g + gh[2].g);
    CHECK(a == b);
}

int main(void) {
    RUN(test_single_comm);
    RUN(test_mpirun_detection);
    RUN(test_csv_ranges);
    RUN(test_labels_split);
    RUN(test_exact_scaler);
    RUN(test_gradient_rounding);
    return harness_done();
}
