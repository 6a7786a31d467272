/* predictions.h - (private) the result tables of a run and of `predict`: predictions.csv
 * and split.csv. One writer serves the run and `predict`, so their outputs compare
 * textually. */
#ifndef ASTROTRAIN_PIPELINE_PREDICTIONS_H
#define ASTROTRAIN_PIPELINE_PREDICTIONS_H

#include <stdio.h>

#include "astrotrain/dataset.h"
#include "astrotrain/status.h"

/* predictions.csv: "row,true,predicted,p_<class>..." (the true column only with labels). */
void at_predictions_header(FILE *f, const char *const *class_names, size_t k, int with_true);
void at_predictions_rows(FILE *f, const at_dataset *ds, const double *P, const char *const *class_names,
                         size_t k, int with_true);

/* predictions.csv-format file at path, written atomically. */
at_status at_write_predictions_file(const char *path, const at_dataset *ds, const double *P,
                                    const char *const *class_names, size_t k, int with_true, at_error *err);
/* split.csv at path, written atomically: "row,part", one line per row of the three parts
 * (part = train, validation or test; row = the data row index of the input file, as in
 * predictions.csv), sorted by row, so anyone can recompute the run's figures. */
at_status at_write_split_file(const char *path, const at_dataset *train, const at_dataset *valid,
                              const at_dataset *test, at_error *err);

#endif
