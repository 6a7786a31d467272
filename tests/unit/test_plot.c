/* test_plot.c - the gnuplot emitters: file contents, label escaping, and (when gnuplot is
 * installed) that every script renders a real PNG beside itself from any folder. */
#include "astrotrain/plot.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static char dir[64];

static char *slurp_file(const char *p) {
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = '\0';
    fclose(f);
    return b;
}

/* Contents of dir/name+ext (caller frees), or NULL. */
static char *read_fig(const char *name, const char *ext) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s%s", dir, name, ext);
    return slurp_file(p);
}

static int has(const char *text, const char *part) { return text && strstr(text, part) != NULL; }

static int count_tmp(void) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static const char *const classes[] = {"GALAXY", "QSO", "STAR_it's"};
static const char *const models[] = {"random_forest", "gbdt^2"};

static void test_escape(void) {
    char out[64];
    at_plot_escape("it's a_b^c@d", out, sizeof out);
    CHECK(strcmp(out, "it''s a_b^c@d") == 0);
    at_plot_escape("two\nlines\t!", out, sizeof out);
    CHECK(strcmp(out, "two lines !") == 0);
    at_plot_escape(NULL, out, sizeof out);
    CHECK(strcmp(out, "") == 0);
    /* A doubled quote is never split by the size limit. */
    at_plot_escape("ab'", out, 4);
    CHECK(strcmp(out, "ab") == 0);
    at_plot_escape("abc", out, 3);
    CHECK(strcmp(out, "ab") == 0);
    /* Nor a UTF-8 character: "aΩ" is 'a' + 2 bytes; with room for 2 bytes only 'a' is kept. */
    at_plot_escape("a\xce\xa9", out, 3);
    CHECK(strcmp(out, "a") == 0);
    at_plot_escape("a\xce\xa9", out, 4);
    CHECK(strcmp(out, "a\xce\xa9") == 0);
}

static void test_bars(void) {
    at_error err = {0};
    double v[6] = {0.95, 0.93, 0.97, 0.91, 0.99, 0.985};
    CHECK_OK(at_plot_bars(dir, "bars", "Accuracy of the 'best' model_1", "class", "recall",
                          classes, 3, models, 2, v, &err),
             &err);
    char *gp = read_fig("bars", ".gp"), *dat = read_fig("bars", ".dat");
    CHECK(has(gp, "$data << EOD\n\"GALAXY\" 0.95 0.93\n"));
    CHECK(has(gp, "\nEOD\n"));
    CHECK(has(gp, "set title 'Accuracy of the ''best'' model_1' noenhanced"));
    CHECK(has(gp, "set xlabel 'class' noenhanced"));
    CHECK(has(gp, "set ylabel 'recall' noenhanced"));
    CHECK(has(gp, "set style histogram clustered"));
    CHECK(has(gp, "xtic(1)"));
    CHECK(has(gp, "set xtics noenhanced"));
    CHECK(has(gp, "title 'random_forest'"));
    CHECK(has(gp, "title 'gbdt^2'"));
    CHECK(has(gp, "with labels")); /* the value over each bar */
    CHECK(has(gp, "set terminal pngcairo size 900,650"));
    CHECK(has(gp, "set output at_dir.'bars.png'"));
    CHECK(has(dat, "# category \"random_forest\" \"gbdt^2\"\n"));
    /* A double quote cannot live inside a data label: it becomes a single one. */
    CHECK(has(dat, "\"STAR_it's\" 0.99 0.985\n"));
    free(gp);
    free(dat);
    CHECK(count_tmp() == 0);
}

static void test_heatmap(void) {
    at_error err = {0};
    double cm[9] = {950, 20, 30, 40, 900, 60, 5, 0, 995};
    CHECK_OK(at_plot_heatmap(dir, "confusion", "Confusion matrix", "predicted", "true", classes,
                             3, classes, 3, cm, "%.0f", &err),
             &err);
    char *gp = read_fig("confusion", ".gp"), *dat = read_fig("confusion", ".dat");
    CHECK(has(gp, "$matrix << EOD\n 950 20 30\n 40 900 60\n 5 0 995\nEOD"));
    CHECK(has(gp, "0 0 \"950\" 16777215\n")); /* dark cell: white text */
    CHECK(has(gp, "1 0 \"20\" 0\n"));
    CHECK(has(gp, "with image"));
    CHECK(has(gp, "with labels"));
    CHECK(has(gp, "set colorbox"));
    CHECK(has(gp, "set yrange [2.5:-0.5]")); /* first row on top */
    CHECK(has(gp, "set xtics ('GALAXY' 0, 'QSO' 1, 'STAR_it''s' 2)"));
    CHECK(has(dat, "\"QSO\" 40 900 60\n"));
    free(gp);
    free(dat);
    double r[2] = {0.12345, NAN};
    CHECK_OK(at_plot_heatmap(dir, "rates", "Rates", NULL, NULL, classes, 1, classes, 2, r, "%.3f",
                             &err),
             &err);
    gp = read_fig("rates", ".gp");
    CHECK(has(gp, "\"0.123\""));
    CHECK(has(gp, " NaN\n"));
    free(gp);
    CHECK_FAIL(at_plot_heatmap(dir, "bad", "t", NULL, NULL, classes, 1, classes, 2, r, "%s", &err),
               AT_ERR_INTERNAL, &err, "bad cell format");
    CHECK_FAIL(at_plot_heatmap(dir, "bad", "t", NULL, NULL, classes, 1, classes, 2, r, "%f %f",
                               &err),
               AT_ERR_INTERNAL, &err, "bad cell format");
}

static void test_histogram(void) {
    at_error err = {0};
    double a[6] = {0.0, 0.05, 0.3, 0.99, 1.0, 2.0}; /* 2.0 is off the axis */
    double b[3] = {0.5, 0.55, NAN};
    const double *vals[2] = {a, b};
    size_t counts[2] = {6, 3};
    const char *const groups[2] = {"true GALAXY", "true QSO"};
    CHECK_OK(at_plot_histogram(dir, "proba", "P(GALAXY)", "probability", groups, 2, vals, counts,
                               10, 0.0, 1.0, 1, &err),
             &err);
    char *gp = read_fig("proba", ".gp"), *dat = read_fig("proba", ".dat");
    CHECK(has(dat, "# bin_lo bin_hi \"true GALAXY\" \"true QSO\"\n"));
    CHECK(has(dat, " 0 0.1 2 0\n"));   /* 0.0 and 0.05 */
    CHECK(has(dat, " 0.5 0.6 0 2\n")); /* 0.5 and 0.55 */
    CHECK(has(dat, " 0.9 1 2 0\n"));   /* 0.99 and 1.0 (the last bin holds hi) */
    CHECK(has(gp, "$data << EOD\n 0.05 2 0\n"));
    CHECK(has(gp, "set style fill transparent solid 0.4"));
    CHECK(has(gp, "with boxes"));
    CHECK(has(gp, "set logscale y"));
    CHECK(has(gp, "title 'true QSO'"));
    free(gp);
    free(dat);
    CHECK_FAIL(at_plot_histogram(dir, "bad", "t", "x", groups, 2, vals, counts, 10, 1.0, 1.0, 0,
                                 &err),
               AT_ERR_INTERNAL, &err, "lo < hi");
}

static void test_lines(void) {
    at_error err = {0};
    double x[4] = {1, 2, 3, 4};
    double y[8] = {1.0, 1.2, 0.5, 0.9, NAN, 0.7, 0.2, 0.6};
    const char *const series[2] = {"train_loss", "val_loss"};
    CHECK_OK(at_plot_lines(dir, "loss", "Loss per epoch", "epoch", "loss", x, 4, series, 2, y, 0,
                           &err),
             &err);
    char *gp = read_fig("loss", ".gp"), *dat = read_fig("loss", ".dat");
    CHECK(has(gp, "$data << EOD\n 1 1 1.2\n 2 0.5 0.9\n 3 NaN 0.7\n"));
    CHECK(has(gp, "with linespoints"));
    CHECK(has(gp, "title 'train_loss'"));
    CHECK(!has(gp, "set logscale"));
    CHECK(has(dat, "# x \"train_loss\" \"val_loss\"\n"));
    free(gp);
    free(dat);
}

/* Three clusters of points, in 2-D or 3-D. */
static void cloud(double *pts, int *grp, size_t n, size_t dim) {
    unsigned x = 12345;
    for (size_t i = 0; i < n; i++) {
        grp[i] = (int)(i % 3);
        for (size_t c = 0; c < dim; c++) {
            x = x * 1103515245u + 12345u;
            pts[i * dim + c] = 3.0 * grp[i] * (c == 0 ? 1 : c == 1 ? -1 : 0.5) +
                               ((double)(x >> 8) / (double)(1u << 24) - 0.5) * 2.0;
        }
    }
}

static void test_scatter(void) {
    at_error err = {0};
    size_t n = 300;
    double pts[900];
    int grp[300];
    const char *const axes[3] = {"PC_1", "PC_2", "PC_3"};
    cloud(pts, grp, n, 2);
    CHECK_OK(at_plot_scatter(dir, "pca2", "PCA of the photometry", axes, 2, pts, n, grp, classes,
                             3, NULL, 0, &err),
             &err);
    char *gp = read_fig("pca2", ".gp"), *dat = read_fig("pca2", ".dat");
    CHECK(has(gp, "$g0 << EOD\n"));
    CHECK(has(gp, "$g2 << EOD\n"));
    CHECK(has(gp, "plot $g0 using 1:2 with points"));
    CHECK(has(gp, "set xlabel 'PC_1' noenhanced"));
    CHECK(has(gp, "title 'STAR_it''s'"));
    CHECK(has(dat, "# \"PC_1\" \"PC_2\" group \"group name\"\n"));
    CHECK(has(dat, " 1 \"QSO\"\n"));
    free(gp);
    free(dat);

    cloud(pts, grp, n, 3);
    grp[0] = grp[3] = 0; /* keep group 0 non-empty; make group 1 empty below */
    for (size_t i = 0; i < n; i++)
        if (grp[i] == 1) grp[i] = 2;
    double views[4] = {60, 30, 80, 120};
    CHECK_OK(at_plot_scatter(dir, "pca3", "PCA 3-D", axes, 3, pts, n, grp, classes, 3, views, 2,
                             &err),
             &err);
    gp = read_fig("pca3", ".gp");
    CHECK(has(gp, "splot $g0 using 1:2:3"));
    CHECK(!has(gp, "$g1 << EOD")); /* an empty group has no datablock and no plot */
    CHECK(has(gp, "pause mouse close"));
    CHECK(has(gp, "if (at_interactive) {"));
    CHECK(has(gp, "ARG1 ne 'png'"));
    CHECK(has(gp, "set output at_dir.'pca3.png'\n    set view 60, 30"));
    CHECK(has(gp, "set output at_dir.'pca3_2.png'\n    set view 80, 120\n    replot"));
    CHECK(has(gp, "set zlabel 'PC_3' noenhanced"));
    free(gp);

    grp[5] = 3;
    CHECK_FAIL(at_plot_scatter(dir, "badgrp", "t", axes, 3, pts, n, grp, classes, 3, views, 2,
                               &err),
               AT_ERR_INTERNAL, &err, "point 5 has group 3");
}

static void test_errors(void) {
    at_error err = {0};
    double v[1] = {1};
    CHECK_FAIL(at_plot_bars(dir, "../escape", "t", "x", "y", classes, 1, models, 1, v, &err),
               AT_ERR_INTERNAL, &err, "invalid figure name");
    CHECK_FAIL(at_plot_bars(dir, "a b", "t", "x", "y", classes, 1, models, 1, v, &err),
               AT_ERR_INTERNAL, &err, "invalid figure name");
    CHECK_FAIL(at_plot_bars("/nonexistent-astrotrain/plots", "b", "t", "x", "y", classes, 1,
                            models, 1, v, &err),
               AT_ERR_IO, &err, "/nonexistent-astrotrain/plots/b.dat: cannot write: No such file");
    CHECK(count_tmp() == 0);
}

/* PNG signature and a size that means something was drawn. */
static int good_png(const char *name) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s.png", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) {
        fprintf(stderr, "  %s missing\n", p);
        return 0;
    }
    unsigned char sig[8] = {0};
    size_t got = fread(sig, 1, 8, f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    int ok = got == 8 && memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0 && size > 5000;
    if (!ok) fprintf(stderr, "  %s: not a PNG or too small (%ld bytes)\n", p, size);
    return ok;
}

static void test_render(void) {
    if (!at_gnuplot_available()) SKIP("gnuplot not on PATH");
    at_error err = {0};
    static const char *const figs[] = {"bars", "confusion", "rates", "proba", "loss", "pca2", "pca3"};
    for (size_t i = 0; i < sizeof figs / sizeof *figs; i++) {
        CHECK_OK(at_plot_render(dir, figs[i], &err), &err);
        CHECK(good_png(figs[i]));
    }
    CHECK(good_png("pca3_2")); /* the second view */

    /* A broken script: the error carries gnuplot's complaint. */
    char p[256];
    snprintf(p, sizeof p, "%s/broken.gp", dir);
    FILE *f = fopen(p, "w");
    fputs("set terminal dumb\nset output\nplot no_such_variable_xyz\n", f);
    fclose(f);
    CHECK_FAIL(at_plot_render(dir, "broken", &err), AT_ERR_IO, &err, "undefined variable");
    CHECK(has(err.msg, "line 3"));
    CHECK_FAIL(at_plot_render(dir, "never_written", &err), AT_ERR_IO, &err, "never_written.gp");
}

/* `gnuplot /abs/NAME.gp` and `gnuplot rel/NAME.gp` from another folder: PNG beside the script. */
static void test_run_from_elsewhere(void) {
    if (!at_gnuplot_available()) SKIP("gnuplot not on PATH");
    at_error err = {0};
    char name[64], png[256], stray[256], cmd[512];
    snprintf(name, sizeof name, "elsewhere_%ld", (long)getpid());
    double x[3] = {1, 2, 3}, y[3] = {3, 1, 2};
    CHECK_OK(at_plot_lines(dir, name, "From elsewhere", "x", "y", x, 3, NULL, 1, y, 0, &err), &err);
    snprintf(png, sizeof png, "%s/%s.png", dir, name);
    snprintf(stray, sizeof stray, "/tmp/%s.png", name);
    snprintf(cmd, sizeof cmd, "cd /tmp && gnuplot '%s/%s.gp' 2>/dev/null", dir, name);
    CHECK(system(cmd) == 0);
    CHECK(good_png(name));
    CHECK(access(stray, F_OK) != 0);
    unlink(png);
    /* Relative path: dir is /tmp/at_plot_XXXXXX, so from /tmp it is at_plot_XXXXXX/NAME.gp. */
    snprintf(cmd, sizeof cmd, "cd /tmp && gnuplot '%s/%s.gp' 2>/dev/null", dir + 5, name);
    CHECK(system(cmd) == 0);
    CHECK(good_png(name));
    CHECK(access(stray, F_OK) != 0);
    unlink(stray);
}

static void test_gnuplot_available(void) {
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    setenv("PATH", "/nonexistent-astrotrain", 1);
    CHECK(at_gnuplot_available() == 0);
    at_error err = {0};
    CHECK_FAIL(at_plot_render(dir, "bars", &err), AT_ERR_IO, &err, "gnuplot");
    if (saved) setenv("PATH", saved, 1);
    else unsetenv("PATH");
    free(saved);
    CHECK(at_gnuplot_available() == (system("command -v gnuplot >/dev/null 2>&1") == 0));
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/at_plot_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_escape);
    RUN(test_bars);
    RUN(test_heatmap);
    RUN(test_histogram);
    RUN(test_lines);
    RUN(test_scatter);
    RUN(test_errors);
    RUN(test_render);
    RUN(test_run_from_elsewhere);
    RUN(test_gnuplot_available);
    /* KEEP_PLOTS=1 leaves the figures for a look. */
    if (!getenv("KEEP_PLOTS")) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    } else {
        fprintf(stderr, "figures kept in %s\n", dir);
    }
    return harness_done();
}
