/* predict.c - applies a saved bundle to a catalogue of any size (CSV or FITS table): read a
 * chunk, clean, scale, predict (or project), write (CSV or FITS, catalogue_out.c), repeat,
 * so memory stays flat whatever the input size. `predict` writes class probabilities
 * (at_bundle_predict_rows), `transform` the PCA coordinates. Every input row gives one
 * output row with a status ("ok", "missing u", "sentinel g", ...) and empty values when the
 * bundle's cleaning rejects it; with skip_invalid those rows are counted and left out.
 * Under MPI each rank streams its share (predict_shard.h, predict_dist.c). With two threads
 * or more the three stages overlap (chunk_pipe.h): reading and checking chunk k+1, predicting
 * chunk k, writing chunk k-1; the output bytes do not change. */
#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "astrotrain/atomic_file.h"
#include "astrotrain/csv.h"
#include "astrotrain/metrics.h"
#include "astrotrain/pipeline.h"
#include "pipeline/catalogue_out.h"
#include "pipeline/chunk_pipe.h"
#include "pipeline/predict_shard.h"

typedef enum { MODE_PREDICT, MODE_TRANSFORM } stream_mode;

/* Output width of transform: the PCA model's components, else the PCA stage's. */
static const at_pca *transform_of(const at_bundle *b) {
    const at_pca *p = at_pca_of(b->model);
    return p ? p : b->pca;
}

/* The status text of each row of a chunk (catalogue mode): the reader's issue for the
 * first unusable feature, else the first feature equal to the model's sentinel, else "ok".
 * Texts point into buf (n * cap bytes). */
static void chunk_status(const at_bundle *b, const at_table_reader *t, const at_dataset *ds, char *buf, size_t cap,
                         const char **status, size_t *bad) {
    *bad = 0;
    for (size_t i = 0; i < ds->n; i++) {
        size_t f = 0;
        at_row_issue is = at_table_row_issue(t, i, &f);
        char *s = buf + i * cap;
        status[i] = s;
        if (is != AT_ROW_OK) {
            snprintf(s, cap, "%s %s", at_row_issue_name(is), b->feature_names[f]);
            (*bad)++;
            continue;
        }
        const double *x = ds->X + i * ds->d;
        size_t j = 0;
        while (j < ds->d && !(b->use_sentinel && x[j] == b->sentinel)) j++;
        if (j < ds->d) {
            snprintf(s, cap, "sentinel %s", b->feature_names[j]);
            (*bad)++;
            continue;
        }
        if (!at_bundle_row_ok(b, x)) { /* cannot happen: the reader flags NaN/inf */
            snprintf(s, cap, "not predicted");
            (*bad)++;
            continue;
        }
        memcpy(s, "ok", 3); /* cap > 16; no printf for the common case */
    }
}

/* One chunk of transform output values (n * k, NaN rows where status is not ok): the
 * bundle's preprocessing, then the PCA model's projection (for a pca model) — the stage
 * alone otherwise. */
static at_status transform_values(const at_bundle *b, const at_dataset *ds, const char *const *status, double *V,
                                  at_error *err) {
    size_t k = transform_of(b)->k, d = ds->d, m = 0;
    double *X = at_malloc(ds->n * d + 1, sizeof *X, err);
    size_t *idx = at_malloc(ds->n + 1, sizeof *idx, err);
    double *Xm = NULL, *Z = NULL;
    at_status s = !X || !idx ? AT_ERR_MEMORY : AT_OK;
    for (size_t i = 0; !s && i < ds->n; i++) {
        for (size_t c = 0; c < k; c++) V[i * k + c] = NAN;
        if (status ? strcmp(status[i], "ok") != 0 : !at_bundle_row_ok(b, ds->X + i * d)) continue;
        memcpy(X + m * d, ds->X + i * d, d * sizeof *X);
        idx[m++] = i;
    }
    if (!s && m) s = at_bundle_prepare(b, X, m, &Xm, err);
    const at_pca *model_pca = at_pca_of(b->model);
    const double *coords = Xm;
    if (!s && m && model_pca) {
        Z = at_malloc(m * k + 1, sizeof *Z, err);
        if (!Z) s = AT_ERR_MEMORY;
        else s = at_pca_transform(model_pca, Xm, m, Z, err);
        coords = Z;
    }
    for (size_t r = 0; !s && r < m; r++) memcpy(V + idx[r] * k, coords + r * k, k * sizeof *V);
    if (Xm && Xm != X) free(Xm);
    free(X), free(idx), free(Z);
    return s;
}

/* The records of a chunk that belong to this rank's share: [*i0, *i1) (rows ascend). */
static void shard_span(const at_dataset *ds, const stream_shard *sh, size_t *i0, size_t *i1) {
    size_t a = 0, z = ds->n;
    while (a < z && ds->row[a] < sh->keep_from) a++;
    size_t e = a;
    while (e < z && ds->row[e] < sh->keep_to) e++;
    *i0 = a, *i1 = e;
}

/* Keeps rows [i0, i1) of ds (moved to the front) and renumbers them in the whole file. */
static void shard_keep(at_dataset *ds, const stream_shard *sh, size_t i0, size_t i1) {
    if (i0) {
        memmove(ds->X, ds->X + i0 * ds->d, (i1 - i0) * ds->d * sizeof(double));
        if (ds->y) memmove(ds->y, ds->y + i0, (i1 - i0) * sizeof *ds->y);
        memmove(ds->row, ds->row + i0, (i1 - i0) * sizeof *ds->row);
    }
    ds->n = i1 - i0;
    for (size_t i = 0; i < ds->n; i++) ds->row[i] += sh->row_offset;
}

/* Whether output would overwrite input (the same name, or the same file by inode). */
static int same_file(const char *input, const char *output) {
    if (strcmp(input, output) == 0) return 1;
    struct stat a, o;
    return stat(input, &a) == 0 && stat(output, &o) == 0 && a.st_dev == o.st_dev && a.st_ino == o.st_ino;
}

/* The stream's shared state (chunk_pipe.h): each field is read by every stage and written
 * by one, noted beside it. */
typedef struct stream_ctx {
    const at_bundle *b;
    at_table_reader *t; /* read stage */
    cat_out *out;       /* write stage */
    const at_predict_options *opt;
    const at_progress *prog;      /* write stage */
    at_predict_report *rep;       /* write stage: rows written, skipped, correct */
    stream_mode mode;
    const stream_shard *sh;
    const char *output;
    int catalogue;
    size_t k, chunk_rows, status_cap;
    int shard_done; /* read stage: the rest of the file is another rank's */
} stream_ctx;

/* One chunk in flight. */
typedef struct chunk_slot {
    at_dataset *ds;
    const char **status; /* catalogue mode: per row, into status_buf */
    char *status_buf;
    double *P;           /* chunk_rows * k values */
    size_t i0;           /* the reader's row of the chunk's row 0 (a rank's share) */
    size_t rows_read;    /* the reader's count after this chunk (progress) */
    char *kept;          /* --keep: the chunk's kept texts, copied as it is read */
    size_t kept_len, kept_cap;
    size_t *kept_off;    /* rows * n_keep offsets into kept */
    size_t n_keep;
} chunk_slot;

/* The kept texts of a slot's rows (cat_out_kept_from). */
static const char *slot_kept(const void *src, size_t i, size_t j) {
    const chunk_slot *sl = src;
    return sl->kept + sl->kept_off[i * sl->n_keep + j];
}

/* Copies the chunk's kept texts (rows [i0, i0 + n) of the reader's chunk) into the slot. */
static at_status copy_kept(chunk_slot *sl, const at_table_reader *t, size_t i0, size_t n, at_error *err) {
    sl->kept_len = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < sl->n_keep; j++) {
            const char *txt = at_table_kept(t, i0 + i, j);
            size_t len = strlen(txt) + 1;
            if (sl->kept_len + len > sl->kept_cap) {
                size_t cap = sl->kept_cap ? sl->kept_cap * 2 : 65536;
                while (cap < sl->kept_len + len) cap *= 2;
                char *p = realloc(sl->kept, cap);
                if (!p) return at_fail(err, AT_ERR_MEMORY, "out of memory copying the kept columns");
                sl->kept = p, sl->kept_cap = cap;
            }
            memcpy(sl->kept + sl->kept_len, txt, len);
            sl->kept_off[i * sl->n_keep + j] = sl->kept_len;
            sl->kept_len += len;
        }
    return AT_OK;
}

/* Read stage: the next chunk, its rows' status, this rank's share of it. */
static at_status stage_read(void *vctx, void *vslot, int *eof, at_error *err) {
    stream_ctx *c = vctx;
    chunk_slot *sl = vslot;
    at_dataset_free(sl->ds);
    sl->ds = NULL;
    if (c->shard_done) {
        *eof = 1;
        return AT_OK;
    }
    at_dataset *ds = NULL;
    at_status s = at_table_read(c->t, c->chunk_rows, &ds, err);
    if (s) return s;
    if (ds->n == 0) {
        at_dataset_free(ds);
        *eof = 1;
        return AT_OK;
    }
    int64_t last = ds->row[ds->n - 1];
    size_t bad = 0, i0 = 0, i1 = ds->n;
    if (c->catalogue) chunk_status(c->b, c->t, ds, sl->status_buf, c->status_cap, sl->status, &bad);
    if (c->sh) {
        shard_span(ds, c->sh, &i0, &i1);
        shard_keep(ds, c->sh, i0, i1);
        if (c->catalogue) memmove(sl->status, sl->status + i0, ds->n * sizeof *sl->status);
        if (last + 1 >= c->sh->keep_to) c->shard_done = 1;
    }
    sl->ds = ds;
    sl->i0 = i0;
    if (sl->n_keep && (s = copy_kept(sl, c->t, i0, ds->n, err))) return s;
    sl->rows_read = at_table_report(c->t)->rows_read;
    return AT_OK;
}

/* Work stage: the chunk's probabilities (or PCA coordinates). */
static at_status stage_work(void *vctx, void *vslot, at_error *err) {
    stream_ctx *c = vctx;
    chunk_slot *sl = vslot;
    const at_dataset *ds = sl->ds;
    if (c->mode == MODE_TRANSFORM) return transform_values(c->b, ds, c->catalogue ? sl->status : NULL, sl->P, err);
    return at_bundle_predict_rows(c->b, (const char *const *)ds->feature_names, ds->d, ds->X, ds->n, sl->P,
                                  c->opt->threads, err);
}

/* Write stage: the chunk's output lines, the counts, progress and the stop request. */
static at_status stage_write(void *vctx, void *vslot, at_error *err) {
    stream_ctx *c = vctx;
    chunk_slot *sl = vslot;
    const at_dataset *ds = sl->ds;
    at_predict_report *rep = c->rep;
    const size_t k = c->k;
    cat_out_row_base(c->out, sl->i0);
    if (sl->n_keep) cat_out_kept_from(c->out, slot_kept, sl);
    /* Rows the cleaning rejects have NaN values: empty fields, or (--skip-invalid) no line. */
    at_status s = cat_out_rows(c->out, ds, c->t, sl->P, c->catalogue ? sl->status : NULL, err);
    for (size_t i = 0; !s && i < ds->n; i++) {
        const double *p = sl->P + i * k;
        if (k && isnan(p[0])) {
            rep->rows_skipped++;
            continue;
        }
        rep->rows_written++;
        if (c->mode == MODE_PREDICT && rep->has_label && ds->y && (int32_t)at_argmax(p, k) == ds->y[i])
            rep->correct++;
    }
    at_dataset_free(sl->ds);
    sl->ds = NULL;
    at_progress_update(c->prog, c->mode == MODE_PREDICT ? "predict" : "transform", sl->rows_read, 0, NULL);
    if (!s && at_progress_stopped(c->prog)) s = at_fail(err, AT_ERR_INTERRUPTED, "interrupted; %s not written", c->output);
    return s;
}

/* After the last chunk, on the writing thread: the output file completed and renamed into
 * place (a failed write's errno belongs to that thread). */
static at_status stage_finish(void *vctx, at_error *err) {
    stream_ctx *c = vctx;
    cat_out *out = c->out;
    c->out = NULL; /* commit frees it, whatever happens */
    return cat_out_commit(out, err);
}

/* Slots in flight: three (read, work, write at once) when the run has two threads or more;
 * FITS on either side needs a thread-safe CFITSIO. (Kept columns travel in the slots.) */
static size_t stream_slots(const char *input, const char *output, const at_predict_options *opt) {
    if (opt->threads < 2) return 1;
    if ((cat_out_is_fits(input) || cat_out_is_fits(output)) && !fits_is_reentrant()) return 1;
    return 3;
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
    if (same_file(input, output))
        return at_fail(err, AT_ERR_USAGE, "%s: the output is the input file; choose another --output", output);
    const int catalogue = !opt->skip_invalid;
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
    lo.keep_all_rows = catalogue;
    lo.keep = opt->keep;
    lo.n_keep = opt->n_keep;
    lo.hdu = opt->hdu;
    if (sh) lo.csv.range_begin = sh->range_begin, lo.csv.range_end = sh->range_end;
    if (sh && sh->fits) lo.fits_rows = 1, lo.fits_row_begin = sh->fits_begin, lo.fits_row_end = sh->fits_end;
    at_table_reader *t = NULL;
    at_status s = at_table_open(input, &lo, &t, err);
    if (s) return s;
    rep->has_label = at_table_has_label(t);
    size_t k = mode == MODE_PREDICT ? b->k : transform_of(b)->k;
    size_t name_w = 1;
    for (size_t j = 0; j < b->d; j++)
        if (strlen(b->feature_names[j]) > name_w) name_w = strlen(b->feature_names[j]);
    const size_t status_cap = name_w + 16; /* "not a number " + name + NUL */
    cat_out_spec spec = {.path = output,
                         .keep = opt->keep,
                         .n_keep = opt->n_keep,
                         .with_true = rep->has_label,
                         .predict = mode == MODE_PREDICT,
                         .class_names = (const char *const *)b->class_names,
                         .n_classes = b->k,
                         .k = k,
                         .status = catalogue,
                         .skip_unpredicted = !catalogue,
                         .status_width = status_cap - 1,
                         .no_header = sh && !sh->header};
    cat_out *out = NULL;
    if ((s = cat_out_open(&spec, &out, err))) {
        at_table_close(t);
        return s;
    }
    stream_ctx ctx = {.b = b,
                      .t = t,
                      .out = out,
                      .opt = opt,
                      .prog = prog,
                      .rep = rep,
                      .mode = mode,
                      .sh = sh,
                      .output = output,
                      .catalogue = catalogue,
                      .k = k,
                      .chunk_rows = opt->chunk_rows ? opt->chunk_rows : 65536,
                      .status_cap = status_cap};
    chunk_slot slot[3];
    void *slots[3];
    size_t n_slots = stream_slots(input, output, opt);
    memset(slot, 0, sizeof slot);
    for (size_t i = 0; !s && i < n_slots; i++) {
        chunk_slot *sl = &slot[i];
        slots[i] = sl;
        sl->P = at_malloc(ctx.chunk_rows * k + 1, sizeof *sl->P, err);
        if (catalogue) {
            sl->status = at_malloc(ctx.chunk_rows + 1, sizeof *sl->status, err);
            sl->status_buf = at_malloc(ctx.chunk_rows + 1, status_cap, err);
        }
        sl->n_keep = opt->n_keep;
        if (sl->n_keep) sl->kept_off = at_malloc(ctx.chunk_rows * sl->n_keep + 1, sizeof *sl->kept_off, err);
        if (!sl->P || (catalogue && (!sl->status || !sl->status_buf)) || (sl->n_keep && !sl->kept_off))
            s = AT_ERR_MEMORY;
    }
    static const chunk_pipe_stages stages = {stage_read, stage_work, stage_write, stage_finish};
    if (!s) s = chunk_pipe_run(&ctx, slots, n_slots, &stages, err);
    rep->rows_read = at_table_report(t)->rows_read;
    rep->rows_skipped += at_table_report(t)->rows_missing;
    for (size_t i = 0; i < n_slots; i++) {
        at_dataset_free(slot[i].ds);
        free(slot[i].P), free(slot[i].status), free(slot[i].status_buf), free(slot[i].kept), free(slot[i].kept_off);
    }
    at_table_close(t);
    if (s && ctx.out) cat_out_abort(ctx.out);
    return s;
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
