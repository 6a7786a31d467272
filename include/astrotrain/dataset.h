/* dataset.h - a labelled table of numeric features in memory.
 *
 * X is row-major double (n rows by d features). y holds class indices into class_names,
 * which are kept sorted so that every model and output agrees on the class order.
 * row[i] is the 0-based index of the data row in the source file (header and comment
 * lines not counted), carried through every stage so predictions can be traced back. */
#ifndef ASTROTRAIN_DATASET_H
#define ASTROTRAIN_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct at_dataset {
    size_t n, d;
    double *X;            /* n * d, row-major */
    int32_t *y;           /* n class indices, or NULL when unlabelled; -1 = unknown */
    int64_t *row;         /* n source row indices */
    size_t n_classes;
    char **class_names;   /* n_classes, sorted (strcmp) */
    char **feature_names; /* d */
} at_dataset;

/* An empty dataset with room for n rows; labelled selects whether y is allocated.
 * Names are copied. class_names may be NULL when n_classes == 0. */
at_status at_dataset_new(size_t n, size_t d, int labelled, const char *const *feature_names,
                         const char *const *class_names, size_t n_classes, at_dataset **out,
                         at_error *err);
void at_dataset_free(at_dataset *ds);

/* A new dataset holding rows idx[0..m) of src, in that order. */
at_status at_dataset_subset(const at_dataset *src, const size_t *idx, size_t m, at_dataset **out,
                            at_error *err);

/* counts[k] = rows of class k (counts has n_classes entries). */
void at_dataset_class_counts(const at_dataset *ds, size_t *counts);

#endif
