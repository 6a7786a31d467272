/* predict.c - applies a saved bundle to a catalogue of any size: read a chunk, clean,
 * scale, predict (or project), write, repeat, so memory stays flat whatever the input
 * size. `predict` writes class probabilities (at_bundle_predict_rows; the rows the
 * bundle's cleaning rejects are counted as skipped and not written), `transform` the PCA
 * coordinates. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/atomic_file.h"
#include "astrotrain/csv.h"
#include "astrotrain/metrics.h"
#include "astrotrain/pipeline.h"
#include "pipeline/predict_shard.h"
#include "pipeline/predictions.h"

typedef enum { MODE_PREDICT, MODE_TRANSFORM } stream_mode;

/* Output width of transform: the PCA model's components, else the PCA stage's. */
static const at_pca *transform_of(const at_bundle *b) {
    const at_pca *p = at_pca_of(b->model);
    return p ? p : b->pca;
}

static void transform_header(FILE *f, size_t k, int with_true) {
    fputs(with_true ? "row,true" : "row", f);
    for (size_t c = 0; c < k; c++) fprintf(f, ",PC%zu", c + 1);
    fputc('\n', f);
}

/* One chunk of transform output: the bundle's preprocessing, then the PCA model's
 * projection (for a pca model) — the stage alone otherwise. */
static at_status transform_chunk(const at_bundle *b, at_dataset *ds, FILE *f, int with_true, at_error *err) {
    double *Xm = NULL, *Z = NULL;
    at_status s = at_bundle_prepare(b, ds->X, ds->n, &Xm, err);
    if (s) return s;
    const at_pca *model_pca = at_pca_of(b->model);
    const double *coords = Xm;
    size_t k = transform_of(b)->k;
    if (model_pca) {
        Z = at_malloc(ds->n * k + 1, sizeof *Z, err);
        if (!Z) s = AT_ERR_MEMORY;
        else s = at_pca_transform(model_pca, Xm, ds->n, Z, err);
        coords = Z;
    }
    for (size_t i = 0; !s && i < ds->n; i++) {
        fprintf(f, "%lld", (long long)ds->row[i]);
        if (with_true) fprintf(f, ",%s", ds->y && ds->y[i] >= 0 ? b->class_names[ds->y[i]] : "");
        for (size_t c = 0; c < k; c++) fprintf(f, ",%.9g", coords[i * k + c]);
        fputc('\n', f);
    }
    if (Xm != ds->X) free(Xm);
    free(Z);
    return s;
}


/* Keeps the rows of ds with keep_from <= row < keep_to, then shifts their numbers. */
static void shard_rows(at_dataset *ds, const stream_shard *sh) {
    size_t w = 0;
    for (size_t i = 0; i < ds->n; i++) {
        if (ds->row[i] < sh->keep_from || ds->row[i] >= sh->keep_to) continue;
        if (w != i) {
            memmove(ds->X + w * ds->d, ds->X + i * ds->d, ds->d * sizeof(double));
            if (ds->y) ds->y[w] = ds->y[i];
        }
        ds->row[w++] = ds->row[i] + sh->row_offset;
    }
    ds->n = w;
}

static at_status stream(const at_bundle *b, const char *input, const char *output, const at_predict_options *opt,
                        const at_progress *prog, at_predict_report *rep, stream_mode mode, const stream_shard *sh,
                        at_error *err) {
    memset(rep, 0, sizeof *rep);
    if (mode == MODE_TRANSFORM && !transform_of(b))
        return at_fail(err, AT_ERR_USAGE, "the model is a %s without a PCA stage: nothing to transform (use predict)",
                       b->model->ops->type);
    if (mode == MODE_PREDICT && at_model_has(b->model, AT_CAP_TRANSFORM))
        return at_fail(err, AT_ERR_USAGE, "a %s model has no class probabilities; use `astrotrain transform`",
                       b->model->ops->type);
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
    if (sh) lo.csv.range_begin = sh->range_begin, lo.csv.range_end = sh->range_end;
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
    if (sh && !sh->header) {
        /* a later part of one output file: no header */
    } else if (mode == MODE_PREDICT) {
        at_predictions_header(f, (const char *const *)b->class_names, b->k, rep->has_label);
    } else {
        transform_header(f, transform_of(b)->k, rep->has_label);
    }
    size_t chunk_rows = opt->chunk_rows ? opt->chunk_rows : 65536;
    double *P = mode == MODE_PREDICT ? at_malloc(chunk_rows * b->k, sizeof *P, err) : NULL;
    if (mode == MODE_PREDICT && !P) s = AT_ERR_MEMORY;
    while (!s) {
        at_dataset *ds = NULL;
        if ((s = at_table_read(t, chunk_rows, &ds, err))) break;
        if (ds->n == 0) {
            at_dataset_free(ds);
            break;
        }
        int64_t last = ds->row[ds->n - 1];
        if (sh) shard_rows(ds, sh);
        size_t dropped = 0;
        at_clean_rows(ds, b->use_sentinel, b->sentinel, b->missing == AT_MISSING_KEEP, &dropped, err);
        rep->rows_skipped += dropped;
        if (mode == MODE_TRANSFORM) {
            s = transform_chunk(b, ds, f, rep->has_label, err);
        } else if (!(s = at_bundle_predict_rows(b, (const char *const *)ds->feature_names, ds->d, ds->X, ds->n, P,
                                                opt->threads, err))) {
            at_predictions_rows(f, ds, P, (const char *const *)b->class_names, b->k, rep->has_label);
            if (rep->has_label && ds->y)
                for (size_t i = 0; i < ds->n; i++)
                    if ((int32_t)at_argmax(P + i * b->k, b->k) == ds->y[i]) rep->correct++;
        }
        if (!s) rep->rows_written += ds->n;
        at_dataset_free(ds);
        /* errno still holds the failed write's reason (ENOSPC on a full disk). */
        if (!s && ferror(f)) s = at_fail(err, AT_ERR_IO, "%s: cannot write: %s", output, strerror(errno ? errno : EIO));
        at_progress_update(prog, mode == MODE_PREDICT ? "predict" : "transform", at_table_report(t)->rows_read, 0, NULL);
        if (!s && at_progress_stopped(prog)) s = at_fail(err, AT_ERR_INTERRUPTED, "interrupted; %s not written", output);
        if (sh && last + 1 >= sh->keep_to) break; /* the rest is another rank's */
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

at_status at_predict_csv(const at_bundle *b, const char *input, const char *output, const at_predict_options *opt,
                         const at_progress *prog, at_predict_report *rep, at_error *err) {
    return stream(b, input, output, opt, prog, rep, MODE_PREDICT, NULL, err);
}

at_status at_transform_csv(const at_bundle *b, const char *input, const char *output, const at_predict_options *opt,
                           const at_progress *prog, at_predict_report *rep, at_error *err) {
    return stream(b, input, output, opt, prog, rep, MODE_TRANSFORM, NULL, err);
}

at_status at_predict_stream_shard(const at_bundle *b, const char *input, const char *output,
                                  const at_predict_options *opt, const at_progress *prog, at_predict_report *rep,
                                  int transform, const stream_shard *sh, at_error *err) {
    return stream(b, input, output, opt, prog, rep, transform ? MODE_TRANSFORM : MODE_PREDICT, sh, err);
}
