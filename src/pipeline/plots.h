/* plots.h - (private) the figures of a finished run (run_plots.c, plots_unsupervised.c)
 * and the image grids of an image run (images.c). A failing gnuplot is a warning. */
#ifndef ASTROTRAIN_PIPELINE_PLOTS_H
#define ASTROTRAIN_PIPELINE_PLOTS_H

#include <stddef.h>
#include <stdint.h>

#include "astrotrain/dataset.h"
#include "astrotrain/images.h"
#include "astrotrain/metrics.h"
#include "astrotrain/model.h"
#include "astrotrain/status.h"

typedef struct at_run_figures {
    const char *const *class_names;
    size_t k;
    const size_t *counts_before, *counts_after; /* k each */
    const at_metrics *test;
    const int32_t *y_test;
    const double *P_test;
    size_t n_test;
    const at_model *model;
    const char *const *feature_names; /* the model's features (PC1.. behind a PCA stage) */
    size_t d;
    const at_dataset *train;          /* for the unsupervised figures (NULL: none) */
} at_run_figures;

/* Figures into plot_dir. Returns how many were written and rendered; a gnuplot failure is
 * reported in warning, not as an error. */
at_status at_run_plots(const char *plot_dir, const at_run_figures *f, int render, size_t *written,
                       size_t *rendered, char *warning, size_t warning_cap, at_error *err);

/* Figures of unsupervised families: PCA scree and 3-D scatter, GMM log-likelihood, BIC and
 * cluster ellipses. Names of the written figures are appended to names (cap entries). */
at_status at_unsupervised_plots(const char *plot_dir, const at_model *m, const at_dataset *train,
                                const char *const *class_names, const char **names, size_t *count,
                                size_t cap, at_error *err);
/* Renders the named figures when asked and gnuplot is there; failures become a warning. */
void at_render_plots(const char *plot_dir, const char *const *names, size_t count, int render, size_t *rendered,
                     char *warning, size_t warning_cap);

/* Image runs: samples.png/.txt (up to 8 images per class of all) and misclassified.png/.txt
 * (test images whose argmax of P_test is wrong; rows = data row of each test image). A
 * failure becomes the warning (when it is still empty). */
void at_image_grids(const char *plot_dir, const at_images *all, const at_images *test, const int64_t *rows,
                    const double *P_test, const char *const *class_names, size_t k, char *warning,
                    size_t warning_cap);

/* plots_class_scores.c: per-class precision/recall/F1 bars of one run (class_scores) and
 * per-class F1 of several models side by side (class_f1, studies). */
at_status at_class_scores_plot(const char *dir, const at_metrics *m, const char *const *class_names, size_t k,
                               at_error *err);
at_status at_class_f1_plot(const char *dir, const char *const *models, const at_metrics *const *m, size_t nm,
                           const char *const *class_names, size_t k, at_error *err);

#endif
