/* internal.h - (private) pieces shared by the experiment runner and `predict`. */
#ifndef ASTROTRAIN_PIPELINE_INTERNAL_H
#define ASTROTRAIN_PIPELINE_INTERNAL_H

#include <stdio.h>

#include "astrotrain/dataset.h"
#include "astrotrain/metrics.h"
#include "astrotrain/model.h"
#include "astrotrain/status.h"

/* predictions.csv: "row,true,predicted,p_<class>..." (the true column only with labels).
 * The same writer serves the run and `predict`, so their outputs compare textually. */
void at_predictions_header(FILE *f, const char *const *class_names, size_t k, int with_true);
void at_predictions_rows(FILE *f, const at_dataset *ds, const double *P, const char *const *class_names,
                         size_t k, int with_true);

/* mkdir -p; AT_ERR_IO naming the path on failure. */
at_status at_mkdirs(const char *path, at_error *err);

/* Figures of a finished run, written into plot_dir. Returns how many were written and
 * rendered; a gnuplot failure is reported in warning, not as an error. */
typedef struct at_run_figures {
    const char *const *class_names;
    size_t k;
    const size_t *counts_before, *counts_after; /* k each */
    const at_metrics *test;
    const int32_t *y_test;
    const double *P_test;
    size_t n_test;
    const at_model *model;
    const char *const *feature_names;
    size_t d;
} at_run_figures;

at_status at_run_plots(const char *plot_dir, const at_run_figures *f, int render, size_t *written,
                       size_t *rendered, char *warning, size_t warning_cap, at_error *err);

#endif
