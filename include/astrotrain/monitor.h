/* monitor.h - monitoring a model on new batches (`astrotrain monitor`): each batch is
 * predicted, compared with the training reference stored in the model file (reference.h),
 * recorded as one line of DIR/history.jsonl, and scored when its labels arrive.
 *
 * Records are jansson objects (fields: README "astrotrain monitor"). history.jsonl is only
 * ever replaced whole (temporary file + rename, under a lock on DIR/.history.lock), so a
 * reader never sees half a line. */
#ifndef ASTROTRAIN_MONITOR_H
#define ASTROTRAIN_MONITOR_H

#include <jansson.h>
#include <stddef.h>

#include "bundle.h"
#include "progress.h"
#include "status.h"

/* Alert thresholds (documented in the README). */
#define AT_MON_PSI_WATCH 0.10
#define AT_MON_PSI_ALERT 0.25
#define AT_MON_CHI2_P 0.001 /* class mix: chi-square p below this (with PSI above the watch level) */
#define AT_MON_KS_P 0.01    /* KS: Bonferroni-corrected p below this marks a feature "ks_significant" */
#define AT_MON_KS_D 0.05    /* ... and with D at least this, the feature alerts (a shift PSI's deciles miss) */

typedef struct at_monitor_options {
    const char *model_path; /* for the record (path and content hash) */
    const char *input;      /* CSV or CSV.gz batch, or a FITS binary table */
    const char *history;    /* the history folder */
    const char *batch;      /* batch name; NULL = UTC time stamp */
    const char *key;        /* key column copied into the predictions (labels later); NULL = row */
    int labels;             /* read the label column and score the batch */
    size_t chunk_rows;      /* 0 = 65536 */
    int threads;
    int comments;
    const char *hdu;        /* FITS batch: table HDU name or number (NULL: the first table) */
} at_monitor_options;

/* Predicts one batch in chunks and builds its record (alerts included); writes the batch's
 * predictions to DIR/batches/<batch>.csv. The record is not yet in the history. */
at_status at_monitor_batch(const at_bundle *b, const at_monitor_options *opt, const at_progress *prog,
                           json_t **record, at_error *err);

/* Fills rec["alerts"] and rec["status"] ("ok", "watch" or "alert") from its figures. */
void at_monitor_alerts(json_t *rec);
/* rec["labels"] from a k x k confusion matrix (rows true, columns predicted). */
void at_monitor_set_labels(json_t *rec, const double *confusion, size_t k, const char *source);

/* history.jsonl: parse (each non-empty line one JSON object with a string "batch";
 * errors name path:line), load (a missing file is an empty history), append one record
 * (a batch name already recorded is AT_ERR_USAGE), replace the record of the same batch. */
at_status at_history_parse(const char *text, size_t len, const char *path, json_t **records, at_error *err);
at_status at_history_load(const char *dir, json_t **records, at_error *err);
at_status at_history_append(const char *dir, json_t *record, at_error *err);
at_status at_history_replace(const char *dir, json_t *record, at_error *err);
/* The record of batch in records (borrowed), or NULL. */
json_t *at_history_find(json_t *records, const char *batch);

/* Labels later: joins labels_path's label column (named label_col, NULL = the record's
 * label) to the batch's predictions by key_col (NULL = the key the batch was recorded with),
 * fills the record's labels and alerts, and replaces it in the history. *matched = rows
 * joined. */
at_status at_monitor_labels_for(const char *dir, const char *batch, const char *labels_path, const char *key_col,
                                const char *label_col, size_t *matched, at_error *err);

/* Labels file parsing for labels later (and its fuzz target): reads a CSV (plain or gzip)
 * with columns key_col and label_col (key_col "row" absent from the file: the 0-based data
 * row); keys are numbers; classes index class_names[k]. An
 * unknown class, a key that is not a number or a key given twice with two labels is
 * AT_ERR_DATA naming file:line. *keys / *classes sorted by key (caller frees). */
at_status at_monitor_read_labels(const char *path, const char *key_col, const char *label_col,
                                 const char *const *class_names, size_t k, double **keys, int32_t **classes,
                                 size_t *n, at_error *err);

/* Rewrites DIR/report.html (self-contained: figures inlined) and DIR/plots/ from the
 * history; render = 0 skips gnuplot (the report then has tables only). */
at_status at_monitor_report(const char *dir, int render, at_error *err);

#endif
