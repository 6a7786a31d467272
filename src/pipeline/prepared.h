/* prepared.h - (private) the data of an experiment, prepared once (prepare.c) and shared
 * by every step that uses the same [data]/[clean]/[undersample]/[split]/[normalise]/[pca]
 * sections: a table, or an image set (images.c) split the same way. */
#ifndef ASTROTRAIN_PIPELINE_PREPARED_H
#define ASTROTRAIN_PIPELINE_PREPARED_H

#include "astrotrain/config.h"
#include "astrotrain/dataset.h"
#include "astrotrain/images.h"
#include "astrotrain/pca.h"
#include "astrotrain/preprocess.h"
#include "astrotrain/progress.h"
#include "astrotrain/reference.h"
#include "astrotrain/status.h"

typedef struct at_prepared {
    /* Tables: the rows, scaled, and projected when the PCA stage is on. Image sets: a
     * one-column table of image indices ("image") carrying each image's label and data
     * row, so the balancing, split, predictions.csv and split.csv are the tabular ones. */
    at_dataset *train, *valid, *test;
    at_scaler *scaler;                /* NULL when [normalise] method = none */
    at_pca *pca;                      /* the PCA stage, or NULL */
    char **features;                  /* input columns (image sets: pixel names y<i>_x<j>_c<c>) */
    size_t n_features;
    size_t k;
    char **class_names;
    char *label;                      /* the label column ("class" for image sets) */
    size_t *counts_before, *counts_after;
    size_t rows_read, rows_dropped, rows_missing, rows_unphysical, rows_after_undersampling;
    double *class_weight;             /* k, [model] class_weight = balanced on the training part; else NULL */
    /* Image sets only (NULL for tables): every image, and the three parts. */
    at_images *images, *images_train, *images_valid, *images_test;
    /* Tables only (NULL for image sets): the training part's raw values summarised before
     * scaling, for the model file's monitoring reference (reference.h). */
    at_reference *reference;
    /* Distributed runs (more than one rank, prepare_dist.c): train holds this rank's share of
     * the training rows only; valid and test are whole on every rank. NULL/0 otherwise. */
    struct at_comm *comm;
    size_t train_global;              /* training rows of all ranks */
    int64_t *train_rows_global;       /* their data-row numbers, ascending (split.csv) */
    uint64_t *train_per_rank;         /* training rows of each rank (metrics.json) */
} at_prepared;

/* Tables or images by the family's capability flags (AT_CAP_IMAGES). */
at_status at_prepare_data(const at_config *c, const at_progress *p, at_prepared **out, at_error *err);
/* The same across the ranks of comm (NULL or one rank: at_prepare_data); every rank returns
 * the same status. */
at_status at_prepare_data_comm(const at_config *c, struct at_comm *comm, const at_progress *p, at_prepared **out,
                               at_error *err);

/* prepare_dist.c: the table of c->data read, cleaned, balanced, split and scaled across the
 * ranks of comm (more than one), into d. */
at_status at_prepare_table_dist(const at_config *c, struct at_comm *comm, const at_progress *p, at_prepared *d,
                                at_error *err);
void at_prepared_free(at_prepared *d);
/* A copy of prepared data (same split, same scaling) with a PCA stage fitted on its
 * training part: study steps with their own [pca] section share the split this way. */
at_status at_prepared_with_pca(const at_prepared *base, int64_t components, int whiten, const at_progress *p,
                               at_prepared **out, at_error *err);

/* images.c: the image set of [data] path (Galaxy10 HDF5 or class folders) at the size of
 * the [net] section, into d (images, class names, the index table `all`, label). */
at_status at_prepare_images(const at_config *c, const at_progress *p, at_prepared *d, at_dataset **all,
                            at_error *err);
/* The three image parts of d from its split index tables. */
at_status at_prepared_split_images(at_prepared *d, at_error *err);

/* prepare.c: the scaler and the [pca] stage fitted on d's training part (sums across the ranks
 * of comm; NULL: one process) and applied to its three parts. */
at_status at_prepared_fit_stages(const at_config *c, struct at_comm *comm, const at_progress *p, at_prepared *d,
                                 at_error *err);
/* A part's features replaced by their PCA projection (PC1..PCk). */
at_status at_prepared_project(const at_pca *pca, at_dataset **part, at_error *err);

#endif
