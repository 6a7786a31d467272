/* run_plots.c - the figures every run writes: class balance, confusion matrices,
 * per-class precision/recall/F1 bars, feature importances, winning-probability histogram and, for iterative models, the
 * learning curve. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/plot.h"
#include "pipeline/plots.h"

typedef struct plot_list {
    const char *names[32];
    size_t n;
} plot_list;

static at_status confusion_plots(const char *dir, const at_run_figures *f, plot_list *pl, at_error *err) {
    size_t k = f->k;
    double *v = malloc(k * k * sizeof *v), *vn = malloc(k * k * sizeof *vn);
    if (!v || !vn) {
        free(v), free(vn);
        return at_fail(err, AT_ERR_MEMORY, "out of memory (plots)");
    }
    for (size_t r = 0; r < k; r++) {
        double row = 0;
        for (size_t c = 0; c < k; c++) row += (double)f->test->confusion[r * k + c];
        for (size_t c = 0; c < k; c++) {
            v[r * k + c] = (double)f->test->confusion[r * k + c];
            vn[r * k + c] = row > 0 ? v[r * k + c] / row : 0;
        }
    }
    at_status s = at_plot_heatmap(dir, "confusion", "Confusion matrix, test part (counts)", "predicted class",
                                  "true class", f->class_names, k, f->class_names, k, v, "%.0f", err);
    if (!s) pl->names[pl->n++] = "confusion";
    if (!s) s = at_plot_heatmap(dir, "confusion_normalised", "Confusion matrix, test part (fraction of each true class)",
                                "predicted class", "true class", f->class_names, k, f->class_names, k, vn, "%.3f", err);
    if (!s) pl->names[pl->n++] = "confusion_normalised";
    free(v), free(vn);
    return s;
}

static at_status probability_histogram(const char *dir, const at_run_figures *f, plot_list *pl, at_error *err) {
    size_t n = f->n_test, k = f->k, nc = 0, nw = 0;
    double *right = malloc((n ? n : 1) * sizeof *right), *wrong = malloc((n ? n : 1) * sizeof *wrong);
    if (!right || !wrong) {
        free(right), free(wrong);
        return at_fail(err, AT_ERR_MEMORY, "out of memory (plots)");
    }
    for (size_t i = 0; i < n; i++) {
        const double *p = f->P_test + i * k;
        size_t q = at_argmax(p, k);
        if ((int32_t)q == f->y_test[i]) right[nc++] = p[q];
        else wrong[nw++] = p[q];
    }
    const char *groups[2] = {"correct", "wrong"};
    const double *vals[2] = {right, wrong};
    size_t counts[2] = {nc, nw};
    double lo = 1.0 / (double)k;
    at_status s = at_plot_histogram(dir, "winning_probability",
                                    "Probability of the predicted class, test part", "probability of the winning class",
                                    groups, 2, vals, counts, 40, lo, 1.0, 1, err);
    if (!s) pl->names[pl->n++] = "winning_probability";
    free(right), free(wrong);
    return s;
}

static at_status class_balance(const char *dir, const at_run_figures *f, plot_list *pl, at_error *err) {
    size_t k = f->k;
    double *v = malloc(2 * k * sizeof *v);
    if (!v) return at_fail(err, AT_ERR_MEMORY, "out of memory (plots)");
    for (size_t c = 0; c < k; c++) {
        v[c * 2] = (double)f->counts_before[c];
        v[c * 2 + 1] = (double)f->counts_after[c];
    }
    const char *series[2] = {"before undersampling", "after undersampling"};
    at_status s = at_plot_bars(dir, "class_balance", "Rows per class before and after undersampling", "class",
                               "rows", f->class_names, k, series, 2, v, err);
    if (!s) pl->names[pl->n++] = "class_balance";
    free(v);
    return s;
}

static at_status importances(const char *dir, const at_run_figures *f, plot_list *pl, at_error *err) {
    const at_model_ops *ops = f->model->ops;
    if (!ops->importances) return AT_OK;
    double *imp = malloc(f->d * sizeof *imp);
    if (!imp) return at_fail(err, AT_ERR_MEMORY, "out of memory (plots)");
    at_status s = AT_OK;
    if (ops->importances(f->model->impl, imp) == AT_OK) {
        const char *series[1] = {"importance"};
        char title[128];
        snprintf(title, sizeof title, "Feature importances (%s)", ops->type);
        s = at_plot_bars(dir, "feature_importances", title, "feature", "importance (sum 1)", f->feature_names, f->d,
                         series, 1, imp, err);
        if (!s) pl->names[pl->n++] = "feature_importances";
    }
    free(imp);
    return s;
}

static at_status learning_curve(const char *dir, const at_run_figures *f, plot_list *pl, at_error *err) {
    const at_model_ops *ops = f->model->ops;
    const at_history *h = ops->history ? ops->history(f->model->impl) : NULL;
    if (!h || h->n_rows == 0 || h->n_cols < 2) return AT_OK;
    size_t n = h->n_rows, loss_cols = 0, acc_cols = 0;
    const char *loss_names[8], *acc_names[8];
    size_t loss_idx[8], acc_idx[8];
    for (size_t c = 1; c < h->n_cols; c++) {
        if (strstr(h->names[c], "acc") && acc_cols < 8) acc_idx[acc_cols] = c, acc_names[acc_cols++] = h->names[c];
        else if (loss_cols < 8 && !strstr(h->names[c], "learning_rate"))
            loss_idx[loss_cols] = c, loss_names[loss_cols++] = h->names[c];
    }
    double *x = malloc(n * sizeof *x), *y = malloc(n * 8 * sizeof *y);
    if (!x || !y) {
        free(x), free(y);
        return at_fail(err, AT_ERR_MEMORY, "out of memory (plots)");
    }
    for (size_t r = 0; r < n; r++) x[r] = h->values[r * h->n_cols];
    at_status s = AT_OK;
    if (loss_cols) {
        for (size_t r = 0; r < n; r++)
            for (size_t j = 0; j < loss_cols; j++) y[r * loss_cols + j] = h->values[r * h->n_cols + loss_idx[j]];
        s = at_plot_lines(dir, "learning_curve", "Learning curve: loss", h->names[0], "loss", x, n, loss_names,
                          loss_cols, y, 0, err);
        if (!s) pl->names[pl->n++] = "learning_curve";
    }
    if (!s && acc_cols) {
        for (size_t r = 0; r < n; r++)
            for (size_t j = 0; j < acc_cols; j++) y[r * acc_cols + j] = h->values[r * h->n_cols + acc_idx[j]];
        s = at_plot_lines(dir, "learning_curve_accuracy", "Learning curve: accuracy", h->names[0], "accuracy", x, n,
                          acc_names, acc_cols, y, 0, err);
        if (!s) pl->names[pl->n++] = "learning_curve_accuracy";
    }
    free(x), free(y);
    return s;
}

void at_render_plots(const char *plot_dir, const char *const *names, size_t count, int render, size_t *rendered,
                     char *warning, size_t warning_cap) {
    *rendered = 0;
    if (!render || count == 0) return;
    if (!at_gnuplot_available()) {
        if (!warning[0])
            snprintf(warning, warning_cap, "gnuplot not found: PNGs not rendered (run `gnuplot NAME.gp` later)");
        return;
    }
    for (size_t i = 0; i < count; i++) {
        at_error e;
        if (at_plot_render(plot_dir, names[i], &e) == AT_OK) (*rendered)++;
        else if (!warning[0]) snprintf(warning, warning_cap, "rendering %s failed: %.180s", names[i], e.msg);
    }
}

at_status at_run_plots(const char *plot_dir, const at_run_figures *f, int render, size_t *written,
                       size_t *rendered, char *warning, size_t warning_cap, at_error *err) {
    plot_list pl = {.n = 0};
    *written = *rendered = 0;
    warning[0] = '\0';
    at_status s;
    if ((s = class_balance(plot_dir, f, &pl, err))) return s;
    if (f->test && ((s = confusion_plots(plot_dir, f, &pl, err)) || (s = probability_histogram(plot_dir, f, &pl, err))))
        return s;
    if (f->test && f->test->per_class && f->k) { /* plots_class_scores.c */
        if ((s = at_class_scores_plot(plot_dir, f->test, f->class_names, f->k, err))) return s;
        pl.names[pl.n++] = "class_scores";
    }
    if ((s = importances(plot_dir, f, &pl, err))) return s;
    /* An unsupervised family's history (the GMM's log-likelihood) is drawn by the unsupervised figures. */
    if (!at_model_has(f->model, AT_CAP_UNSUPERVISED) && (s = learning_curve(plot_dir, f, &pl, err))) return s;
    if (f->train && (s = at_unsupervised_plots(plot_dir, f->model, f->train, f->class_names, pl.names, &pl.n,
                                               sizeof pl.names / sizeof pl.names[0], err)))
        return s;
    *written = pl.n;
    at_render_plots(plot_dir, pl.names, pl.n, render, rendered, warning, warning_cap);
    return AT_OK;
}
