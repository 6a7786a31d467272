/* predict.c - applies a saved bundle to a catalogue of any size: read a chunk, clean,
 * scale, predict, write, repeat, so memory stays flat whatever the input size. */
#include <stdlib.h>
#include <string.h>

#include "astrotrain/atomic_file.h"
#include "astrotrain/csv.h"
#include "astrotrain/metrics.h"
#include "astrotrain/pipeline.h"
#include "pipeline/internal.h"

at_status at_predict_csv(const at_bundle *b, const char *input, const char *output,
                         const at_predict_options *opt, const at_progress *prog,
                         at_predict_report *rep, at_error *err) {
    memset(rep, 0, sizeof *rep);
    at_load_options lo;
    at_load_options_default(&lo);
    lo.features = (const char *const *)b->feature_names;
    lo.n_features = b->d;
    lo.label = b->label && b->label[0] ? b->label : NULL;
    lo.label_optional = 1;
    lo.class_names = (const char *const *)b->class_names;
    lo.n_classes = b->k;
    lo.missing = (at_missing_policy)b->missing;
    lo.csv.allow_comments = opt->comments;
    if (opt->delimiter) lo.csv.delimiter = opt->delimiter;
    at_table_reader *t = NULL;
    at_status s = at_table_open(input, &lo, &t, err);
    if (s) return s;
    rep->has_label = at_table_has_label(t);
    at_afile *af = at_afile_open(output, err);
    if (!af) {
        at_table_close(t);
        return err ? err->code : AT_ERR_IO;
    }
    FILE *f = at_afile_stream(af);
    at_predictions_header(f, (const char *const *)b->class_names, b->k, rep->has_label);
    size_t chunk_rows = opt->chunk_rows ? opt->chunk_rows : 65536;
    double *P = at_malloc(chunk_rows * b->k, sizeof *P, err);
    if (!P) s = AT_ERR_MEMORY;
    while (!s) {
        at_dataset *ds = NULL;
        if ((s = at_table_read(t, chunk_rows, &ds, err))) break;
        if (ds->n == 0) {
            at_dataset_free(ds);
            break;
        }
        size_t before = ds->n, dropped = 0;
        at_clean_rows(ds, b->use_sentinel, b->sentinel, b->missing == AT_MISSING_KEEP, &dropped, err);
        rep->rows_skipped += dropped;
        (void)before;
        at_scaler_apply(b->scaler, ds->X, ds->n);
        if ((s = at_model_predict_proba(b->model, ds->X, ds->n, P, opt->threads, err))) {
            at_dataset_free(ds);
            break;
        }
        at_predictions_rows(f, ds, P, (const char *const *)b->class_names, b->k, rep->has_label);
        if (rep->has_label && ds->y)
            for (size_t i = 0; i < ds->n; i++)
                if ((int32_t)at_argmax(P + i * b->k, b->k) == ds->y[i]) rep->correct++;
        rep->rows_written += ds->n;
        at_progress_update(prog, "predict", at_table_report(t)->rows_read, 0, NULL);
        at_dataset_free(ds);
        if (at_progress_stopped(prog)) s = at_fail(err, AT_ERR_INTERRUPTED, "interrupted; %s not written", output);
    }
    rep->rows_read = at_table_report(t)->rows_read;
    rep->rows_skipped += at_table_report(t)->rows_missing;
    free(P);
    at_table_close(t);
    if (s) {
        at_afile_abort(af);
        return s;
    }
    return at_afile_commit(af, err);
}
