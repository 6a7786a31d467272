/* plot.h - gnuplot figure emitters.
 *
 * Each figure is NAME.dat (the numbers, for other tools) and NAME.gp, a self-contained
 * script: the data are inlined as a datablock and the PNG is written beside the script
 * (NAME.png), so `gnuplot NAME.gp` works from any folder. Files are written atomically.
 * at_plot_render() runs gnuplot when it is on the PATH. */
#ifndef ASTROTRAIN_PLOT_H
#define ASTROTRAIN_PLOT_H

#include <stddef.h>

#include "status.h"

/* Grouped bars: n categories on x, s series; values[i * s + j] = category i, series j. */
at_status at_plot_bars(const char *dir, const char *name, const char *title, const char *xlabel,
                       const char *ylabel, const char *const *categories, size_t n,
                       const char *const *series, size_t s, const double *values, at_error *err);

/* Heatmap of a rows x cols matrix with each cell's value printed (cell_format, e.g. "%.0f"
 * or "%.3f"); row labels on y (first row at the top), column labels on x. */
at_status at_plot_heatmap(const char *dir, const char *name, const char *title, const char *xlabel,
                          const char *ylabel, const char *const *row_labels, size_t rows,
                          const char *const *col_labels, size_t cols, const double *v,
                          const char *cell_format, at_error *err);

/* Overlaid histograms of g groups over `bins` equal bins on [lo, hi]. */
at_status at_plot_histogram(const char *dir, const char *name, const char *title,
                            const char *xlabel, const char *const *groups, size_t g,
                            const double *const *values, const size_t *counts, size_t bins,
                            double lo, double hi, int log_y, at_error *err);

/* Curves: x[n], y[i * s + j] = series j at x[i]; NaN leaves a gap. */
at_status at_plot_lines(const char *dir, const char *name, const char *title, const char *xlabel,
                        const char *ylabel, const double *x, size_t n, const char *const *series,
                        size_t s, const double *y, int log_y, at_error *err);

/* Scatter points coloured by group: pts[i * dim + c], group[i] in [0, g), dim 2 or 3.
 * A 3-D scatter's script opened with `gnuplot -p` is interactive (mouse rotation); the
 * PNG is rendered from each (rot_x, rot_z) view pair given (n_views >= 1), named
 * NAME.png, NAME_2.png, ... */
at_status at_plot_scatter(const char *dir, const char *name, const char *title,
                          const char *const *axis_labels, size_t dim, const double *pts, size_t n,
                          const int *group, const char *const *groups, size_t g,
                          const double *views, size_t n_views, at_error *err);

/* 1 when a gnuplot executable is on the PATH. */
int at_gnuplot_available(void);

/* Runs gnuplot on dir/NAME.gp (output beside it). An error carries gnuplot's first line
 * of complaint. */
at_status at_plot_render(const char *dir, const char *name, at_error *err);

/* Escapes a label for a gnuplot single-quoted string into out (size cap). */
void at_plot_escape(const char *in, char *out, size_t cap);

#endif
