/* plot.c - gnuplot figure emitters: NAME.dat (the numbers) and NAME.gp (a self-contained
 * script that renders NAME.png beside itself), plus running gnuplot on them.
 *
 * Script conventions:
 *   - the data are inlined as datablocks ($data << EOD ... EOD), so the .gp alone suffices;
 *   - the PNG goes beside the script whatever the current folder: gnuplot 5.4 sets ARG0 to
 *     the script's path for `gnuplot NAME.gp` (and `gnuplot -c NAME.gp ...`), and the script
 *     takes its folder from it;
 *   - every label is single-quoted (at_plot_escape) and marked `noenhanced`, so '_', '^' and
 *     '@' in class or feature names print as themselves instead of sub/superscripts;
 *   - one fixed palette (Okabe-Ito, readable by colour-blind people) for every figure. */
#include "astrotrain/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "astrotrain/atomic_file.h"

extern char **environ;

#define LABEL_MAX 512             /* escaped label buffer */
#define RENDER_TIMEOUT_S 300      /* gnuplot on a huge scatter is slow, but not this slow */

static const char *const palette[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                      "#CC79A7", "#56B4E9", "#7F7F7F", "#000000"};
#define PALETTE_N (sizeof palette / sizeof *palette)

static const char *colour(size_t i) { return palette[i % PALETTE_N]; }

/* ---- escaping and small writers --------------------------------------------------------- */

void at_plot_escape(const char *in, char *out, size_t cap) {
    if (!out || cap == 0) return;
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)(in ? in : "");
    for (size_t i = 0; s[i]; i++) {
        unsigned char c = s[i];
        if (c == '\'') {
            if (o + 2 >= cap) break; /* never split a doubled quote */
            out[o++] = '\'';
            out[o++] = '\'';
            continue;
        }
        if (c < 0x20 || c == 0x7f) c = ' '; /* a newline would end the script's line */
        if (o + 1 >= cap) break;
        out[o++] = (char)c;
    }
    /* Cut back to a whole UTF-8 character if the buffer ran out in the middle of one. */
    size_t k = o;
    while (k > 0 && ((unsigned char)out[k - 1] & 0xC0) == 0x80) k--;
    if (k > 0 && ((unsigned char)out[k - 1] & 0x80)) {
        unsigned char lead = (unsigned char)out[k - 1];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        if (o - (k - 1) < need) o = k - 1;
    }
    out[o] = '\0';
}

/* A label as a gnuplot single-quoted string. */
static void put_label(FILE *f, const char *s) {
    char buf[LABEL_MAX];
    at_plot_escape(s, buf, sizeof buf);
    fprintf(f, "'%s'", buf);
}

/* A label inside data: double-quoted, with the characters data quoting cannot carry replaced. */
static void put_data_label(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
        fputc(*p == '"' ? '\'' : (*p < 0x20 || *p == 0x7f) ? ' ' : *p, f);
    fputc('"', f);
}

static void put_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, " %.10g", v);
    else fputs(" NaN", f);
}

/* "set title '...' noenhanced" and friends; nothing when s is NULL. */
static void set_text(FILE *f, const char *what, const char *s) {
    if (!s) return;
    fprintf(f, "set %s ", what);
    put_label(f, s);
    fputs(" noenhanced\n", f);
}

static int valid_name(const char *name) {
    if (!name || !*name || name[0] == '.' || strlen(name) > 200) return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.' || *p == '+'))
            return 0;
    return 1;
}

static void file_path(char *out, size_t cap, const char *dir, const char *name, const char *ext) {
    if (dir && *dir) snprintf(out, cap, "%s/%s%s", dir, name, ext);
    else snprintf(out, cap, "%s%s", name, ext);
}

/* ---- one figure = two atomically written files ------------------------------------------ */

typedef struct {
    char dat_path[4096], gp_path[4096];
    at_afile *dat, *gp;
    FILE *d, *g; /* their streams */
    const char *name;
} figure;

static at_status fig_open(figure *fg, const char *dir, const char *name, const char *title,
                          at_error *err) {
    memset(fg, 0, sizeof *fg);
    if (!valid_name(name))
        return at_fail(err, AT_ERR_INTERNAL, "plot: invalid figure name '%s' (letters, digits, "
                       "'_', '-', '.', '+' only)", name ? name : "");
    if (dir && strlen(dir) > 3800) return at_fail(err, AT_ERR_IO, "plot: folder name too long");
    fg->name = name;
    file_path(fg->dat_path, sizeof fg->dat_path, dir, name, ".dat");
    file_path(fg->gp_path, sizeof fg->gp_path, dir, name, ".gp");
    fg->dat = at_afile_open(fg->dat_path, err);
    if (!fg->dat) return err ? err->code : AT_ERR_IO;
    fg->gp = at_afile_open(fg->gp_path, err);
    if (!fg->gp) {
        at_afile_abort(fg->dat);
        fg->dat = NULL;
        return err ? err->code : AT_ERR_IO;
    }
    fg->d = at_afile_stream(fg->dat);
    fg->g = at_afile_stream(fg->gp);
    char t[LABEL_MAX];
    at_plot_escape(title ? title : name, t, sizeof t);
    fprintf(fg->d, "# %s.dat - %s (written by astrotrain; the figure is %s.gp)\n", name, t, name);
    return AT_OK;
}

static at_status fig_commit(figure *fg, at_error *err) {
    at_status s = at_afile_commit(fg->dat, err);
    fg->dat = NULL;
    if (s) {
        at_afile_abort(fg->gp);
        fg->gp = NULL;
        return s;
    }
    s = at_afile_commit(fg->gp, err);
    fg->gp = NULL;
    return s;
}

/* Comment block and the folder the PNG goes to, derived from the script's own path. */
static void script_head(figure *fg, const char *title, const char *what) {
    FILE *g = fg->g;
    char t[LABEL_MAX];
    at_plot_escape(title ? title : fg->name, t, sizeof t);
    fprintf(g,
            "# %s.gp - %s: %s (written by astrotrain).\n"
            "# Self-contained: the data are inlined below (%s.dat holds the same numbers).\n"
            "# Render with `gnuplot %s.gp` from any folder: %s.png is written beside this script.\n"
            "\n"
            "# The script's folder, from its path in ARG0 (gnuplot >= 5.0).\n"
            "at_dir = exists('ARG0') ? ARG0 : ''\n"
            "at_i = strlen(at_dir)\n"
            "while (at_i > 0 && at_dir[at_i:at_i] ne '/') { at_i = at_i - 1 }\n"
            "at_dir = at_i > 0 ? at_dir[1:at_i] : ''\n\n",
            fg->name, what, t, fg->name, fg->name, fg->name);
}

static void png_terminal(FILE *g, const char *name, const char *suffix) {
    fprintf(g,
            "set terminal pngcairo size 900,650 enhanced font 'Sans,11'\n"
            "set output at_dir.'%s%s.png'\n",
            name, suffix);
}

static void common_style(FILE *g) {
    fputs("set border lw 1.2\n"
          "set key noenhanced\n"
          "set tics nomirror out\n"
          "set grid lc rgb '#e0e0e0' lw 1\n",
          g);
}

static void end_block(FILE *g) { fputs("EOD\n\n", g); }

/* Min and max of the finite values (0, 1 when none). */
static void finite_range(const double *v, size_t n, double *lo, double *hi) {
    int any = 0;
    *lo = 0;
    *hi = 1;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        if (!any || v[i] < *lo) *lo = v[i];
        if (!any || v[i] > *hi) *hi = v[i];
        any = 1;
    }
}

/* ---- grouped bars ----------------------------------------------------------------------- */

at_status at_plot_bars(const char *dir, const char *name, const char *title, const char *xlabel,
                       const char *ylabel, const char *const *categories, size_t n,
                       const char *const *series, size_t s, const double *values, at_error *err) {
    if (n == 0 || s == 0 || !categories || !series || !values)
        return at_fail(err, AT_ERR_INTERNAL, "plot %s: bars need categories and series",
                       name ? name : "");
    figure fg;
    at_status st = fig_open(&fg, dir, name, title, err);
    if (st) return st;
    FILE *d = fg.d, *g = fg.g;

    fputs("# category", d);
    for (size_t j = 0; j < s; j++) fputc(' ', d), put_data_label(d, series[j]);
    fputc('\n', d);
    script_head(&fg, title, "grouped bars");
    fputs("$data << EOD\n", g);
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 2; k++) {
            FILE *f = k ? g : d;
            put_data_label(f, categories[i]);
            for (size_t j = 0; j < s; j++) put_num(f, values[i * s + j]);
            fputc('\n', f);
        }
    }
    end_block(g);

    double lo, hi;
    finite_range(values, n * s, &lo, &hi);
    if (lo > 0) lo = 0;
    if (hi < 0) hi = 0;
    if (hi == lo) hi = lo + 1;
    double pad = (hi - lo) * 0.1;
    int integers = 1;
    size_t longest = 0;
    for (size_t i = 0; i < n * s; i++)
        if (isfinite(values[i]) && (values[i] != floor(values[i]) || fabs(values[i]) >= 1e7))
            integers = 0;
    for (size_t i = 0; i < n; i++)
        if (categories[i] && strlen(categories[i]) > longest) longest = strlen(categories[i]);

    png_terminal(g, name, "");
    common_style(g);
    set_text(g, "title", title);
    set_text(g, "xlabel", xlabel);
    set_text(g, "ylabel", ylabel);
    fprintf(g,
            "set key outside right top vertical\n"
            "set style data histogram\n"
            "set style histogram clustered gap 1\n"
            "set style fill solid 0.85 border rgb '#404040'\n"
            "set boxwidth 0.9\n"
            "set grid noxtics ytics\n"
            "set xtics noenhanced%s\n"
            "set yrange [%.10g:%.10g]\n",
            (n > 6 || longest > 10) ? " rotate by 30 right" : "", lo < 0 ? lo - pad : 0.0,
            hi + pad);
    /* Bar j of cluster i sits at i + (j - (s-1)/2) / (s + gap) with gap 1. */
    fputs("plot ", g);
    for (size_t j = 0; j < s; j++) {
        fprintf(g, "$data using %zu%s title ", j + 2, j == 0 ? ":xtic(1)" : "");
        put_label(g, series[j]);
        fprintf(g, " lc rgb '%s', \\\n     ", colour(j));
    }
    for (size_t j = 0; j < s; j++) {
        fprintf(g,
                "$data using ($0 + (%zu - %.1f) / %zu.0):%zu:(sprintf('%s', $%zu)) with labels "
                "offset 0,0.6 font ',%d' notitle%s",
                j, (double)(s - 1) / 2.0, s + 1, j + 2, integers ? "%.0f" : "%.3g", j + 2,
                n * s > 24 ? 7 : 9, j + 1 < s ? ", \\\n     " : "\n");
    }
    return fig_commit(&fg, err);
}

/* ---- heatmap ---------------------------------------------------------------------------- */

/* One numeric conversion (f, e or g) with optional flags, width and precision. */
static int valid_cell_format(const char *fmt) {
    int conversions = 0;
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') continue;
        if (p[1] == '%') {
            p++;
            continue;
        }
        p++;
        while (*p && strchr("-+ #0", *p)) p++;
        while (*p >= '0' && *p <= '9') p++;
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9') p++;
        }
        if (!*p || !strchr("feEgG", *p)) return 0;
        conversions++;
    }
    return conversions == 1 && strlen(fmt) < 32;
}

at_status at_plot_heatmap(const char *dir, const char *name, const char *title, const char *xlabel,
                          const char *ylabel, const char *const *row_labels, size_t rows,
                          const char *const *col_labels, size_t cols, const double *v,
                          const char *cell_format, at_error *err) {
    if (rows == 0 || cols == 0 || !v)
        return at_fail(err, AT_ERR_INTERNAL, "plot %s: empty heatmap", name ? name : "");
    if (!cell_format) cell_format = "%.3g";
    if (!valid_cell_format(cell_format))
        return at_fail(err, AT_ERR_INTERNAL, "plot %s: bad cell format '%s' (one %%f, %%e or %%g)",
                       name ? name : "", cell_format);
    figure fg;
    at_status st = fig_open(&fg, dir, name, title, err);
    if (st) return st;
    FILE *d = fg.d, *g = fg.g;

    fputs("# row", d);
    for (size_t c = 0; c < cols; c++) fputc(' ', d), put_data_label(d, col_labels ? col_labels[c] : "");
    fputc('\n', d);
    for (size_t r = 0; r < rows; r++) {
        put_data_label(d, row_labels ? row_labels[r] : "");
        for (size_t c = 0; c < cols; c++) put_num(d, v[r * cols + c]);
        fputc('\n', d);
    }

    script_head(&fg, title, "heatmap");
    fputs("# The matrix, first row first (drawn at the top).\n$matrix << EOD\n", g);
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) put_num(g, v[r * cols + c]);
        fputc('\n', g);
    }
    end_block(g);
    double lo, hi;
    finite_range(v, rows * cols, &lo, &hi);
    if (hi == lo) hi = lo + 1;
    double mid = lo + 0.55 * (hi - lo);
    /* Cell texts formatted here; white on dark cells, black on light ones. */
    fputs("# Cell labels: column, row, text, text colour.\n$cells << EOD\n", g);
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            double x = v[r * cols + c];
            if (!isfinite(x)) continue;
            char text[64];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
            snprintf(text, sizeof text, cell_format, x); /* checked by valid_cell_format */
#pragma GCC diagnostic pop
            fprintf(g, "%zu %zu ", c, r);
            put_data_label(g, text);
            fprintf(g, " %d\n", x > mid ? 0xffffff : 0x000000);
        }
    }
    end_block(g);

    size_t longest = 0;
    for (size_t c = 0; c < cols && col_labels; c++)
        if (col_labels[c] && strlen(col_labels[c]) > longest) longest = strlen(col_labels[c]);
    png_terminal(g, name, "");
    set_text(g, "title", title);
    set_text(g, "xlabel", xlabel);
    set_text(g, "ylabel", ylabel);
    fputs("set tics out nomirror\nunset key\nset xtics (", g);
    for (size_t c = 0; c < cols; c++) {
        put_label(g, col_labels ? col_labels[c] : "");
        fprintf(g, " %zu%s", c, c + 1 < cols ? ", " : ")\n");
    }
    fputs("set ytics (", g);
    for (size_t r = 0; r < rows; r++) {
        put_label(g, row_labels ? row_labels[r] : "");
        fprintf(g, " %zu%s", r, r + 1 < rows ? ", " : ")\n");
    }
    fprintf(g,
            "set xtics noenhanced%s\n"
            "set ytics noenhanced\n"
            "set xrange [-0.5:%zu.5]\n"
            "set yrange [%zu.5:-0.5]\n"
            "set cbrange [%.10g:%.10g]\n"
            "set palette defined (0 '#f7fbff', 0.35 '#9ecae1', 0.7 '#3182bd', 1 '#08306b')\n"
            "set colorbox\n"
            "plot $matrix matrix with image notitle, \\\n"
            "     $cells using 1:2:3:4 with labels tc rgb variable font ',%d' notitle\n",
            (cols > 6 || longest > 10) ? " rotate by 30 right" : "", cols - 1, rows - 1, lo, hi,
            rows * cols > 144 ? 7 : rows * cols > 49 ? 9 : 11);
    return fig_commit(&fg, err);
}

/* ---- overlaid histograms ---------------------------------------------------------------- */

at_status at_plot_histogram(const char *dir, const char *name, const char *title,
                            const char *xlabel, const char *const *groups, size_t g_n,
                            const double *const *values, const size_t *counts, size_t bins,
                            double lo, double hi, int log_y, at_error *err) {
    if (g_n == 0 || bins == 0 || !values || !counts || !(lo < hi) || !isfinite(lo) ||
        !isfinite(hi))
        return at_fail(err, AT_ERR_INTERNAL, "plot %s: histogram needs groups, bins and lo < hi",
                       name ? name : "");
    size_t *h = at_calloc(bins * g_n, sizeof *h, err);
    if (!h) return AT_ERR_MEMORY;
    double w = (hi - lo) / (double)bins;
    for (size_t k = 0; k < g_n; k++) {
        for (size_t i = 0; i < counts[k]; i++) {
            double x = values[k][i];
            if (!isfinite(x) || x < lo || x > hi) continue; /* outside the axis: not drawn */
            size_t b = (size_t)((x - lo) / w);
            if (b >= bins) b = bins - 1; /* x == hi */
            h[b * g_n + k]++;
        }
    }
    figure fg;
    at_status st = fig_open(&fg, dir, name, title, err);
    if (st) {
        free(h);
        return st;
    }
    FILE *d = fg.d, *g = fg.g;
    fputs("# bin_lo bin_hi", d);
    for (size_t k = 0; k < g_n; k++) fputc(' ', d), put_data_label(d, groups ? groups[k] : "");
    fputc('\n', d);
    script_head(&fg, title, "histogram");
    fputs("# Bin centre, then the count of each group.\n$data << EOD\n", g);
    for (size_t b = 0; b < bins; b++) {
        double a = lo + w * (double)b;
        put_num(d, a);
        put_num(d, b + 1 == bins ? hi : a + w);
        put_num(g, a + w / 2);
        for (size_t k = 0; k < g_n; k++) {
            fprintf(d, " %zu", h[b * g_n + k]);
            fprintf(g, " %zu", h[b * g_n + k]);
        }
        fputc('\n', d);
        fputc('\n', g);
    }
    end_block(g);
    free(h);
    png_terminal(g, name, "");
    common_style(g);
    set_text(g, "title", title);
    set_text(g, "xlabel", xlabel);
    fprintf(g,
            "set ylabel 'count'\n"
            "set key top center\n"
            "set style fill transparent solid 0.4 border\n"
            "set boxwidth %.10g absolute\n"
            "set xrange [%.10g:%.10g]\n"
            "%s",
            w, lo, hi,
            log_y ? "set logscale y\nset yrange [0.8:*]\n" : "set yrange [0:*]\n");
    fputs("plot ", g);
    for (size_t k = 0; k < g_n; k++) {
        /* Empty bins have no bar on a log axis (log 0 is undefined). */
        if (log_y) fprintf(g, "$data using 1:($%zu > 0 ? $%zu : 1/0)", k + 2, k + 2);
        else fprintf(g, "$data using 1:%zu", k + 2);
        fprintf(g, " with boxes lc rgb '%s' title ", colour(k));
        if (groups) put_label(g, groups[k]);
        else fprintf(g, "'group %zu'", k + 1);
        fputs(k + 1 < g_n ? ", \\\n     " : "\n", g);
    }
    return fig_commit(&fg, err);
}

/* ---- curves ----------------------------------------------------------------------------- */

at_status at_plot_lines(const char *dir, const char *name, const char *title, const char *xlabel,
                        const char *ylabel, const double *x, size_t n, const char *const *series,
                        size_t s, const double *y, int log_y, at_error *err) {
    if (n == 0 || s == 0 || !x || !y)
        return at_fail(err, AT_ERR_INTERNAL, "plot %s: lines need points and series",
                       name ? name : "");
    figure fg;
    at_status st = fig_open(&fg, dir, name, title, err);
    if (st) return st;
    FILE *d = fg.d, *g = fg.g;
    fputs("# x", d);
    for (size_t j = 0; j < s; j++) fputc(' ', d), put_data_label(d, series ? series[j] : "");
    fputc('\n', d);
    script_head(&fg, title, "curves");
    fputs("$data << EOD\n", g);
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 2; k++) {
            FILE *f = k ? g : d;
            put_num(f, x[i]);
            for (size_t j = 0; j < s; j++) put_num(f, y[i * s + j]);
            fputc('\n', f);
        }
    }
    end_block(g);
    png_terminal(g, name, "");
    common_style(g);
    set_text(g, "title", title);
    set_text(g, "xlabel", xlabel);
    set_text(g, "ylabel", ylabel);
    /* A margin so points on the extremes are not drawn on the frame. */
    fputs("set key outside right top vertical\nset offsets graph 0.02, 0.02, 0.05, 0.05\n", g);
    if (log_y) fputs("set logscale y\n", g);
    /* About 25 markers per curve however long it is. */
    size_t every = n > 25 ? (n + 24) / 25 : 1;
    fputs("plot ", g);
    for (size_t j = 0; j < s; j++) {
        /* ($k) rather than k: a NaN then breaks the line instead of being skipped over. */
        fprintf(g, "$data using 1:($%zu) with linespoints lw 2 pt 7 ps 0.7 pi %zu lc rgb '%s' title ",
                j + 2, every, colour(j));
        if (series) put_label(g, series[j]);
        else fprintf(g, "'series %zu'", j + 1);
        fputs(j + 1 < s ? ", \\\n     " : "\n", g);
    }
    return fig_commit(&fg, err);
}

/* ---- scatter ---------------------------------------------------------------------------- */

static void scatter_plot_cmd(FILE *g, size_t dim, const size_t *sizes, const char *const *groups,
                             size_t g_n, double ps) {
    fputs(dim == 3 ? "splot " : "plot ", g);
    int first = 1;
    for (size_t k = 0; k < g_n; k++) {
        if (!sizes[k]) continue; /* an empty datablock is an error to gnuplot */
        if (!first) fputs(", \\\n     ", g);
        first = 0;
        fprintf(g, "$g%zu using 1:2%s with points pt 7 ps %.2f lc rgb '%s' title ", k,
                dim == 3 ? ":3" : "", ps, colour(k));
        if (groups) put_label(g, groups[k]);
        else fprintf(g, "'group %zu'", k + 1);
    }
    fputc('\n', g);
}

at_status at_plot_scatter(const char *dir, const char *name, const char *title,
                          const char *const *axis_labels, size_t dim, const double *pts, size_t n,
                          const int *group, const char *const *groups, size_t g_n,
                          const double *views, size_t n_views, at_error *err) {
    if ((dim != 2 && dim != 3) || n == 0 || !pts || !group || g_n == 0)
        return at_fail(err, AT_ERR_INTERNAL, "plot %s: scatter needs 2-D or 3-D points and groups",
                       name ? name : "");
    size_t *sizes = at_calloc(g_n, sizeof *sizes, err);
    if (!sizes) return AT_ERR_MEMORY;
    for (size_t i = 0; i < n; i++) {
        if (group[i] < 0 || (size_t)group[i] >= g_n) {
            free(sizes);
            return at_fail(err, AT_ERR_INTERNAL, "plot %s: point %zu has group %d, not in [0, %zu)",
                           name, i, group[i], g_n);
        }
        sizes[group[i]]++;
    }
    figure fg;
    at_status st = fig_open(&fg, dir, name, title, err);
    if (st) {
        free(sizes);
        return st;
    }
    FILE *d = fg.d, *g = fg.g;
    const char *axes[3] = {"x", "y", "z"};
    fputs("#", d);
    for (size_t c = 0; c < dim; c++)
        fputc(' ', d), put_data_label(d, axis_labels && axis_labels[c] ? axis_labels[c] : axes[c]);
    fputs(" group \"group name\"\n", d);
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < dim; c++) put_num(d, pts[i * dim + c]);
        fprintf(d, " %d ", group[i]);
        if (groups) put_data_label(d, groups[group[i]]);
        else fprintf(d, "\"group %d\"", group[i] + 1);
        fputc('\n', d);
    }

    script_head(&fg, title, dim == 3 ? "3-D scatter" : "scatter");
    fputs("# One datablock per group.\n", g);
    for (size_t k = 0; k < g_n; k++) {
        if (!sizes[k]) continue;
        fprintf(g, "$g%zu << EOD\n", k);
        for (size_t i = 0; i < n; i++) {
            if ((size_t)group[i] != k) continue;
            for (size_t c = 0; c < dim; c++) put_num(g, pts[i * dim + c]);
            fputc('\n', g);
        }
        end_block(g);
    }
    double ps = n > 20000 ? 0.25 : n > 2000 ? 0.4 : 0.6;

    if (dim == 2) {
        png_terminal(g, name, "");
        common_style(g);
    } else {
        fputs("# Interactive or PNG. Opened with `gnuplot -p NAME.gp` where gnuplot has an\n"
              "# interactive terminal (qt, wxt, x11, aqua, windows) and a display, the plot\n"
              "# opens for rotation with the mouse (close the window to end). Otherwise (no\n"
              "# display, a terminal-less gnuplot such as gnuplot-nox, or `gnuplot -c NAME.gp png`)\n"
              "# the PNG views are rendered beside this script.\n"
              "at_term = GPVAL_TERM\n"
              "at_gui = at_term eq 'qt' || at_term eq 'wxt' || at_term eq 'x11' || "
              "at_term eq 'aqua' || at_term eq 'windows'\n"
              "# (&& and || short-circuit: the shell is asked for $DISPLAY only when it matters.)\n"
              "at_interactive = ARG1 ne 'png' && at_gui && (at_term eq 'aqua' || "
              "at_term eq 'windows' || \\\n"
              "    strlen(system('printf %s \"$DISPLAY$WAYLAND_DISPLAY\" 2>/dev/null')) > 0)\n\n",
              g);
        fputs("set border lw 1.2\nset key noenhanced\nset grid lc rgb '#e0e0e0'\n"
              "set xyplane relative 0\n",
              g);
    }
    set_text(g, "title", title);
    for (size_t c = 0; c < dim; c++) {
        static const char *const which[3] = {"xlabel", "ylabel", "zlabel"};
        if (axis_labels && axis_labels[c]) set_text(g, which[c], axis_labels[c]);
    }
    fputs("set key outside right top vertical\n", g);
    if (dim == 2) {
        fputs("set offsets graph 0.03, 0.03, 0.03, 0.03\n", g);
        scatter_plot_cmd(g, dim, sizes, groups, g_n, ps);
    } else {
        static const double default_view[2] = {60, 30};
        if (!views || n_views == 0) {
            views = default_view;
            n_views = 1;
        }
        fprintf(g, "if (at_interactive) {\n    set view %.6g, %.6g\n    ", views[0], views[1]);
        scatter_plot_cmd(g, dim, sizes, groups, g_n, ps);
        fputs("    pause mouse close\n} else {\n", g);
        for (size_t v = 0; v < n_views; v++) {
            char suffix[32] = "";
            if (v) snprintf(suffix, sizeof suffix, "_%zu", v + 1);
            if (v == 0)
                fprintf(g, "    set terminal pngcairo size 900,650 enhanced font 'Sans,11'\n");
            fprintf(g, "    set output at_dir.'%s%s.png'\n    set view %.6g, %.6g\n    ", name,
                    suffix, views[2 * v], views[2 * v + 1]);
            if (v == 0) scatter_plot_cmd(g, dim, sizes, groups, g_n, ps);
            else fputs("replot\n", g);
        }
        fputs("    unset output\n}\n", g);
    }
    free(sizes);
    return fig_commit(&fg, err);
}

/* ---- running gnuplot -------------------------------------------------------------------- */

int at_gnuplot_available(void) {
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    char buf[4096];
    while (1) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (len == 0) snprintf(buf, sizeof buf, "gnuplot"); /* empty entry = current folder */
        else snprintf(buf, sizeof buf, "%.*s/gnuplot", (int)len, path);
        struct stat sb;
        if (stat(buf, &sb) == 0 && S_ISREG(sb.st_mode) && access(buf, X_OK) == 0) return 1;
        if (!end) return 0;
        path = end + 1;
    }
}

/* The line of gnuplot's output that says what went wrong: the one with "line N:" if any. */
static void first_complaint(const char *out, char *msg, size_t cap) {
    const char *best = NULL, *fallback = NULL;
    for (const char *p = out; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *q = p;
        while (q < p + len && (*q == ' ' || *q == '\t' || *q == '^')) q++;
        int blank = q == p + len;
        if (!blank && !best) {
            const char *l = strstr(p, " line ");
            if (l && l < p + len && memchr(l, ':', (size_t)(p + len - l)) &&
                !strstr(p, "warning:"))
                best = p;
            else if (!fallback && strncmp(q, "warning", 7) != 0)
                fallback = p;
        }
        if (!e) break;
        p = e + 1;
    }
    const char *pick = best ? best : fallback;
    if (!pick) {
        msg[0] = '\0';
        return;
    }
    size_t len = strcspn(pick, "\n");
    if (len >= cap) len = cap - 1;
    memcpy(msg, pick, len);
    msg[len] = '\0';
}

at_status at_plot_render(const char *dir, const char *name, at_error *err) {
    if (!valid_name(name))
        return at_fail(err, AT_ERR_INTERNAL, "plot: invalid figure name '%s'", name ? name : "");
    char gp[4096], png[4096];
    file_path(gp, sizeof gp, dir, name, ".gp");
    file_path(png, sizeof png, dir, name, ".png");
    if (access(gp, R_OK) != 0) return at_fail(err, AT_ERR_IO, "%s: %s", gp, strerror(errno));

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return at_fail(err, AT_ERR_IO, "gnuplot: cannot create a pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    /* "png" as ARG1: render PNGs even where an interactive view could open. posix_spawnp
     * rather than fork+exec: safe in a program that runs OpenMP threads. */
    char *argv[] = {"gnuplot", "-c", gp, "png", NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return at_fail(err, AT_ERR_IO, "gnuplot: cannot run: %s%s", strerror(rc),
                       rc == ENOENT ? " (is gnuplot installed and on the PATH?)" : "");
    }

    /* Collect the output (the first 64 KiB is plenty for a message), with a time limit. */
    size_t cap = 64 * 1024, len = 0;
    char *out = malloc(cap + 1);
    char sink[4096];
    time_t start = time(NULL);
    int timed_out = 0;
    while (1) {
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int pr = poll(&pfd, 1, 1000);
        if (pr < 0 && errno == EINTR) continue;
        if (pr < 0) break;
        if (time(NULL) - start > RENDER_TIMEOUT_S) {
            timed_out = 1;
            kill(pid, SIGKILL);
            break;
        }
        if (pr == 0) continue;
        ssize_t got;
        if (out && len < cap) got = read(fds[0], out + len, cap - len);
        else got = read(fds[0], sink, sizeof sink);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        if (out && len < cap) len += (size_t)got;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (out) out[len] = '\0';

    at_status s = AT_OK;
    if (timed_out) {
        s = at_fail(err, AT_ERR_IO, "gnuplot %s: no result after %d s (killed)", gp,
                    RENDER_TIMEOUT_S);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char line[512];
        first_complaint(out ? out : "", line, sizeof line);
        if (!line[0])
            snprintf(line, sizeof line, "exit status %d",
                     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        s = at_fail(err, AT_ERR_IO, "gnuplot %s: %s", gp, line);
    } else if (access(png, F_OK) != 0) {
        s = at_fail(err, AT_ERR_IO, "gnuplot %s: wrote no %s", gp, png);
    }
    free(out);
    return s;
}
