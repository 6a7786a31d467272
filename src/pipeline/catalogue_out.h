/* catalogue_out.h - (private) the output table of `predict` and `transform` on a catalogue:
 * CSV (the predictions.csv layout, plus kept columns and the status column) or a FITS
 * binary table with the same columns (chosen by the output name: *.fits, *.fit, *.fts),
 * written atomically: complete or not at all. */
#ifndef ASTROTRAIN_PIPELINE_CATALOGUE_OUT_H
#define ASTROTRAIN_PIPELINE_CATALOGUE_OUT_H

#include <stddef.h>

#include "astrotrain/csv.h"
#include "astrotrain/dataset.h"
#include "astrotrain/status.h"

typedef struct cat_out_spec {
    const char *path;
    const char *const *keep; /* kept column names (text from at_table_kept) */
    size_t n_keep;
    int with_true;           /* a "true" column (the label) */
    int predict;             /* 1: predicted,p_<class>...; 0: PC1..PCk */
    const char *const *class_names;
    size_t n_classes;        /* class_names entries (the true and predicted columns) */
    size_t k;                /* classes (predict) or components (transform) */
    int status;              /* a last "status" column */
    size_t status_width;     /* longest status text (FITS column width) */
    int skip_unpredicted;    /* leave out rows without values (the --skip-invalid layout) */
    int no_header;           /* CSV: no header line (a later rank's part of one file) */
} cat_out_spec;

typedef struct cat_out cat_out;

/* Whether path names a FITS output. */
int cat_out_is_fits(const char *path);
at_status cat_out_open(const cat_out_spec *spec, cat_out **out, at_error *err);
/* One chunk: V (n * k values; a row whose first value is NaN has no prediction and gets
 * empty fields), status[i] the status text of row i (NULL: no status column). */
at_status cat_out_rows(cat_out *o, const at_dataset *ds, const at_table_reader *t, const double *V,
                       const char *const *status, at_error *err);
/* The next chunk's row i is the reader's row first + i (kept columns; a rank's share
 * that starts inside a chunk). */
void cat_out_row_base(cat_out *o, size_t first);
/* Kept column texts from fn(src, i, j) (row i of the chunk passed to cat_out_rows, column j)
 * instead of the reader's last chunk: a copy taken when the chunk was read, so the reader may
 * already be reading the next one (fn NULL: the reader's again). */
void cat_out_kept_from(cat_out *o, const char *(*fn)(const void *src, size_t i, size_t j), const void *src);
at_status cat_out_commit(cat_out *o, at_error *err); /* frees o */
void cat_out_abort(cat_out *o);                      /* removes the partial file; frees o */

#endif
