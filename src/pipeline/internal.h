/* internal.h - (private) pieces shared by the experiment runner and `predict`. */
#ifndef ASTROTRAIN_PIPELINE_INTERNAL_H
#define ASTROTRAIN_PIPELINE_INTERNAL_H

#include <stdio.h>

#include "astrotrain/config.h"
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

/* Memory limit of a training run (memory.c). limit in bytes (0 = unknown: no checks);
 * table_bytes bounds the loaded table (at_load_options.max_table_bytes). */
typedef struct at_memory_plan {
    double limit;
    int configured;     /* from [run] memory_limit_mb, not from MemAvailable */
    size_t table_bytes;
} at_memory_plan;

at_status at_memory_limit(const at_config *c, at_memory_plan *plan);
/* Before loading: the table the file would make, estimated from its size. */
at_status at_memory_check_input(const at_memory_plan *plan, const char *path, size_t d, at_error *err);
/* After loading: the table's copies and the model family's own estimate. */
at_status at_memory_check_fit(const at_memory_plan *plan, const at_model_config *mc, size_t n_rows, size_t n_train,
                              size_t d, size_t k, int threads, at_error *err);
/* "needs more than N MB (...), the limit is M MB" for a load stopped by the table bound. */
at_status at_memory_refuse_load(const at_memory_plan *plan, const char *path, at_error *err);

#endif
