/* batch.c - monitors one batch: streams it through the model in chunks (the same reader
 * and cleaning as `astrotrain predict`), writes its predictions, and accumulates against
 * the model's training reference per feature the bin counts (PSI), the KS statistic,
 * missing and out-of-range shares; the predicted class counts, the winning probability
 * and, with labels, the confusion matrix. Memory depends on the chunk and the reference,
 * not on the batch size. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "astrotrain/atomic_file.h"
#include "astrotrain/csv.h"
#include "astrotrain/drift.h"
#include "astrotrain/metrics.h"
#include "astrotrain/monitor.h"

static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *jarray(const double *v, size_t n, int integers) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, integers ? json_integer((json_int_t)v[i]) : jnum(v[i]));
    return a;
}

/* FNV-1a 64 of the file's bytes: identifies the model a batch was scored with. */
static at_status file_hash(const char *path, char out[32], at_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return at_fail(err, AT_ERR_IO, "%s: %s", path, strerror(errno));
    uint64_t h = 1469598103934665603ULL;
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < n; i++) h = (h ^ buf[i]) * 1099511628211ULL;
    int bad = ferror(f);
    fclose(f);
    if (bad) return at_fail(err, AT_ERR_IO, "%s: cannot read", path);
    snprintf(out, 32, "fnv1a64:%016llx", (unsigned long long)h);
    return AT_OK;
}

/* A batch name may become a file name: letters, digits, '.', '_', '-' only. */
static int name_ok(const char *s) {
    if (!s[0] || s[0] == '.' || strlen(s) > 200) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

typedef struct acc {
    size_t d, k;
    double *bins;      /* d * AT_REF_BINS */
    double *missing;   /* d: NaN/inf values among the rows read */
    double *oor;       /* d: finite values outside the training [lo, hi] */
    double *counted;   /* d: values counted in bins */
    at_ks_accum *ks;   /* d */
    double *pred;      /* k */
    double *conf;      /* k * k */
    double winprob[AT_REF_PBINS], win_sum;
    size_t predicted, cleaned, rows_seen;
} acc;

static void acc_free(acc *a) {
    free(a->bins), free(a->missing), free(a->oor), free(a->counted), free(a->pred), free(a->conf);
    if (a->ks)
        for (size_t j = 0; j < a->d; j++) at_ks_accum_free(&a->ks[j]);
    free(a->ks);
}

static at_status acc_init(acc *a, const at_reference *r, at_error *err) {
    memset(a, 0, sizeof *a);
    a->d = r->d, a->k = r->k;
    a->bins = at_calloc(r->d * AT_REF_BINS + 1, sizeof *a->bins, err);
    a->missing = at_calloc(r->d + 1, sizeof *a->missing, err);
    a->oor = at_calloc(r->d + 1, sizeof *a->oor, err);
    a->counted = at_calloc(r->d + 1, sizeof *a->counted, err);
    a->ks = at_calloc(r->d + 1, sizeof *a->ks, err);
    a->pred = at_calloc(r->k + 1, sizeof *a->pred, err);
    a->conf = at_calloc(r->k * r->k + 1, sizeof *a->conf, err);
    at_status s = !a->bins || !a->missing || !a->oor || !a->counted || !a->ks || !a->pred || !a->conf ? AT_ERR_MEMORY
                                                                                                       : AT_OK;
    for (size_t j = 0; !s && j < r->d; j++) {
        const double *smp = r->sample + j * r->n_sample;
        size_t m = 0;
        while (m < r->n_sample && isfinite(smp[m])) m++; /* NaNs sort last */
        s = at_ks_accum_init(&a->ks[j], smp, m, err);
    }
    if (s) acc_free(a);
    return s;
}

/* One chunk's statistics; col[j] = the chunk column of the bundle's feature j. */
static void acc_chunk(acc *a, const at_reference *r, const at_dataset *ds, const size_t *col, const double *P) {
    size_t d = a->d, k = a->k;
    a->rows_seen += ds->n;
    for (size_t i = 0; i < ds->n; i++) {
        const double *x = ds->X + i * ds->d, *p = P + i * k;
        for (size_t j = 0; j < d; j++)
            if (!isfinite(x[col[j]])) a->missing[j] += 1;
        if (isnan(p[0])) { /* the model's cleaning rejected the row */
            a->cleaned++;
            continue;
        }
        a->predicted++;
        for (size_t j = 0; j < d; j++) {
            double v = x[col[j]];
            if (!isfinite(v)) continue;
            a->bins[j * AT_REF_BINS + at_reference_bin_of(r, j, v)] += 1;
            a->counted[j] += 1;
            if (v < r->lo[j] || v > r->hi[j]) a->oor[j] += 1;
            at_ks_accum_add(&a->ks[j], v);
        }
        size_t c = at_argmax(p, k);
        a->pred[c] += 1;
        a->win_sum += p[c];
        size_t b = p[c] >= 1 ? AT_REF_PBINS - 1 : p[c] <= 0 ? 0 : (size_t)(p[c] * AT_REF_PBINS);
        a->winprob[b] += 1;
        if (ds->y && ds->y[i] >= 0 && (size_t)ds->y[i] < k) a->conf[(size_t)ds->y[i] * k + c] += 1;
    }
}

static void write_rows(FILE *f, const at_dataset *ds, size_t key_col, int has_key, const double *P, size_t k,
                       const at_bundle *b, int labels) {
    for (size_t i = 0; i < ds->n; i++) {
        const double *p = P + i * k;
        if (isnan(p[0])) continue;
        fprintf(f, "%lld", (long long)ds->row[i]);
        if (has_key) fprintf(f, ",%.17g", ds->X[i * ds->d + key_col]);
        if (labels) fprintf(f, ",%s", ds->y && ds->y[i] >= 0 ? b->class_names[ds->y[i]] : "");
        fprintf(f, ",%s", b->class_names[at_argmax(p, k)]);
        for (size_t c = 0; c < k; c++) fprintf(f, ",%.9g", p[c]); /* as predict */
        fputc('\n', f);
    }
}

/* The record from the accumulated figures. */
static json_t *build_record(const at_bundle *b, const at_monitor_options *opt, const char *batch, const char *hash,
                            const char *pred_rel, const acc *a, size_t rows_read, size_t rows_missing) {
    const at_reference *r = b->reference;
    size_t d = b->d, k = b->k;
    json_t *rec = json_object();
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(rec, "batch", json_string(batch));
    json_object_set_new(rec, "time", json_string(stamp));
    json_object_set_new(rec, "input", json_string(opt->input));
    json_t *model = json_object();
    json_object_set_new(model, "path", json_string(opt->model_path ? opt->model_path : ""));
    json_object_set_new(model, "hash", json_string(hash));
    json_object_set_new(model, "type", json_string(b->model->ops->type));
    json_object_set_new(rec, "model", model);
    json_t *rows = json_object(), *skipped = json_object();
    json_object_set_new(rows, "read", json_integer((json_int_t)rows_read));
    json_object_set_new(rows, "predicted", json_integer((json_int_t)a->predicted));
    json_object_set_new(skipped, "missing", json_integer((json_int_t)rows_missing));
    json_object_set_new(skipped, "cleaning", json_integer((json_int_t)a->cleaned));
    json_object_set_new(rows, "skipped", skipped);
    json_object_set_new(rec, "rows", rows);
    json_object_set_new(rec, "predictions", json_string(pred_rel));
    json_object_set_new(rec, "key", opt->key ? json_string(opt->key) : json_string("row"));
    json_object_set_new(rec, "label", json_string(b->label ? b->label : ""));
    json_t *classes = json_array();
    for (size_t c = 0; c < k; c++) json_array_append_new(classes, json_string(b->class_names[c]));
    json_object_set_new(rec, "classes", classes);
    json_object_set_new(rec, "predicted_counts", jarray(a->pred, k, 1));
    double shares[256], ref_shares[256], tot = 0, rtot = 0;
    const double *ref_mix = r->class_pred;
    for (size_t c = 0; c < k; c++) rtot += r->class_pred[c];
    if (rtot <= 0) ref_mix = r->class_train; /* a reference without a test outcome */
    rtot = 0;
    for (size_t c = 0; c < k; c++) tot += a->pred[c], rtot += ref_mix[c];
    for (size_t c = 0; c < k && c < 256; c++) {
        shares[c] = tot > 0 ? a->pred[c] / tot : 0;
        ref_shares[c] = rtot > 0 ? ref_mix[c] / rtot : 0;
    }
    json_object_set_new(rec, "predicted_shares", jarray(shares, k < 256 ? k : 256, 0));
    json_t *mix = json_object();
    double chi2 = 0;
    size_t df = 0;
    double p = at_chisq_gof(a->pred, ref_mix, k, &chi2, &df);
    json_object_set_new(mix, "psi", jnum(at_psi(ref_mix, a->pred, k, AT_PSI_EPS)));
    json_object_set_new(mix, "chi2", jnum(chi2));
    json_object_set_new(mix, "chi2_df", json_integer((json_int_t)df));
    json_object_set_new(mix, "chi2_p", jnum(p));
    json_object_set_new(mix, "reference_shares", jarray(ref_shares, k < 256 ? k : 256, 0));
    json_object_set_new(rec, "class_mix", mix);
    json_object_set_new(rec, "mean_winning_probability", a->predicted ? jnum(a->win_sum / (double)a->predicted)
                                                                      : json_null());
    json_object_set_new(rec, "winning_probability_hist", jarray(a->winprob, AT_REF_PBINS, 1));
    json_t *feats = json_array();
    for (size_t j = 0; j < d; j++) {
        json_t *f = json_object();
        size_t nb = at_reference_bins(r, j);
        const double *rc = r->counts + j * AT_REF_BINS, *bc = a->bins + j * AT_REF_BINS;
        double ks = at_ks_accum_stat(&a->ks[j]);
        double ksp = at_ks_pvalue(ks, a->ks[j].m, (size_t)a->ks[j].n);
        double rsum = 0;
        for (size_t i = 0; i < nb; i++) rsum += rc[i];
        double rsh[AT_REF_BINS];
        for (size_t i = 0; i < nb; i++) rsh[i] = rsum > 0 ? rc[i] / rsum : 0;
        json_object_set_new(f, "name", json_string(b->feature_names[j]));
        json_object_set_new(f, "psi", jnum(at_psi(rc, bc, nb, AT_PSI_EPS)));
        json_object_set_new(f, "ks", jnum(ks));
        json_object_set_new(f, "ks_p", jnum(ksp));
        json_object_set_new(f, "ks_p_bonferroni", jnum(at_bonferroni(ksp, d)));
        json_object_set_new(f, "ks_significant", json_boolean(at_bonferroni(ksp, d) < AT_MON_KS_P));
        json_object_set_new(f, "ks_reference_n", json_integer((json_int_t)a->ks[j].m));
        json_object_set_new(f, "missing_share", rows_read ? jnum(a->missing[j] / (double)a->rows_seen) : json_null());
        json_object_set_new(f, "out_of_range_share", a->counted[j] > 0 ? jnum(a->oor[j] / a->counted[j]) : json_null());
        json_object_set_new(f, "edges", jarray(r->edges + j * (AT_REF_BINS - 1), nb - 1, 0));
        json_object_set_new(f, "bins", jarray(bc, nb, 1));
        json_object_set_new(f, "reference_shares", jarray(rsh, nb, 0));
        json_array_append_new(feats, f);
    }
    json_object_set_new(rec, "features", feats);
    json_t *ref = json_object();
    json_object_set_new(ref, "n_train", json_integer((json_int_t)r->n_train));
    json_object_set_new(ref, "test_accuracy", jnum(r->test_accuracy));
    json_object_set_new(ref, "test_n", json_integer((json_int_t)r->test_n));
    json_object_set_new(rec, "reference", ref);
    json_object_set_new(rec, "labels", json_null());
    return rec;
}

at_status at_monitor_batch(const at_bundle *b, const at_monitor_options *opt, const at_progress *prog,
                           json_t **record, at_error *err) {
    *record = NULL;
    if (!b->reference)
        return at_fail(err, AT_ERR_MODEL,
                       "%s has no training reference (written by astrotrain before monitoring existed, or an image "
                       "model): re-train it with this version of astrotrain to monitor it",
                       opt->model_path ? opt->model_path : "the model");
    if (at_model_has(b->model, AT_CAP_TRANSFORM))
        return at_fail(err, AT_ERR_USAGE, "a %s model has no class probabilities to monitor", b->model->ops->type);
    if (b->k > 256) return at_fail(err, AT_ERR_USAGE, "monitor supports at most 256 classes");
    char batch[64];
    if (opt->batch) {
        if (!name_ok(opt->batch))
            return at_fail(err, AT_ERR_USAGE,
                           "--batch '%s': use letters, digits, '.', '_' and '-' only (it names a file)", opt->batch);
    } else {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(batch, sizeof batch, "%Y%m%dT%H%M%SZ", &tm);
    }
    const char *name = opt->batch ? opt->batch : batch;
    char hash[32];
    at_status s = opt->model_path ? file_hash(opt->model_path, hash, err) : (snprintf(hash, sizeof hash, "-"), AT_OK);
    if (s) return s;
    char path[4096], rel[300];
    snprintf(path, sizeof path, "%s/batches", opt->history);
    if (mkdir(opt->history, 0755) != 0 && errno != EEXIST)
        return at_fail(err, AT_ERR_IO, "%s: cannot create: %s", opt->history, strerror(errno));
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return at_fail(err, AT_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    json_t *hist = NULL;
    if ((s = at_history_load(opt->history, &hist, err))) return s;
    int dup = at_history_find(hist, name) != NULL;
    json_decref(hist);
    if (dup)
        return at_fail(err, AT_ERR_USAGE, "%s/history.jsonl: batch '%s' is already recorded (give another --batch name)",
                       opt->history, name);
    snprintf(rel, sizeof rel, "batches/%s.csv", name);
    snprintf(path, sizeof path, "%s/%s", opt->history, rel);

    /* The reader: the bundle's features (and the key column), labels when asked. */
    const char *cols[1025];
    size_t nc = 0;
    if (b->d > 1023) return at_fail(err, AT_ERR_USAGE, "monitor supports at most 1023 features");
    for (size_t j = 0; j < b->d; j++) cols[nc++] = b->feature_names[j];
    int has_key = opt->key && strcmp(opt->key, "row") != 0;
    size_t key_col = 0;
    if (has_key) {
        size_t j = 0;
        while (j < nc && strcmp(cols[j], opt->key) != 0) j++;
        if (j == nc) cols[nc++] = opt->key;
        key_col = j;
    }
    at_load_options lo;
    at_load_options_default(&lo);
    lo.features = cols;
    lo.n_features = nc;
    lo.label = opt->labels ? (b->label && b->label[0] ? b->label : "class") : NULL;
    lo.label_optional = 0;
    lo.class_names = (const char *const *)b->class_names;
    lo.n_classes = b->k;
    lo.missing = (at_missing_policy)b->missing;
    lo.csv.allow_comments = opt->comments;
    lo.hdu = opt->hdu; /* FITS batches: the same at_table_* reader as CSV */
    at_table_reader *t = NULL;
    if ((s = at_table_open(opt->input, &lo, &t, err))) return s;
    acc a;
    if ((s = acc_init(&a, b->reference, err))) {
        at_table_close(t);
        return s;
    }
    at_afile *af = at_afile_open(path, err);
    size_t chunk = opt->chunk_rows ? opt->chunk_rows : 65536;
    double *P = at_malloc(chunk * b->k + 1, sizeof *P, err);
    size_t col[1024];
    if (!af || !P) s = err->code ? err->code : AT_ERR_MEMORY;
    FILE *f = af ? at_afile_stream(af) : NULL;
    if (f) {
        fputs("row", f);
        if (has_key) fprintf(f, ",%s", opt->key);
        if (opt->labels) fputs(",true", f);
        fputs(",predicted", f);
        for (size_t c = 0; c < b->k; c++) fprintf(f, ",p_%s", b->class_names[c]);
        fputc('\n', f);
    }
    int mapped = 0;
    while (!s) {
        at_dataset *ds = NULL;
        if ((s = at_table_read(t, chunk, &ds, err))) break;
        if (ds->n == 0) {
            at_dataset_free(ds);
            break;
        }
        if (!mapped) { /* where each bundle feature sits in the chunk */
            for (size_t j = 0; j < b->d; j++) {
                col[j] = 0;
                while (col[j] < ds->d && strcmp(ds->feature_names[col[j]], b->feature_names[j]) != 0) col[j]++;
            }
            mapped = 1;
        }
        s = at_bundle_predict_rows(b, (const char *const *)ds->feature_names, ds->d, ds->X, ds->n, P, opt->threads,
                                   err);
        if (!s) {
            acc_chunk(&a, b->reference, ds, col, P);
            write_rows(f, ds, key_col, has_key, P, b->k, b, opt->labels);
            if (ferror(f)) s = at_fail(err, AT_ERR_IO, "%s: cannot write: %s", path, strerror(errno ? errno : EIO));
        }
        at_dataset_free(ds);
        at_progress_update(prog, "monitor", at_table_report(t)->rows_read, 0, NULL);
        if (!s && at_progress_stopped(prog)) s = at_fail(err, AT_ERR_INTERRUPTED, "interrupted; nothing recorded");
    }
    size_t rows_read = at_table_report(t)->rows_read, rows_missing = at_table_report(t)->rows_missing;
    at_table_close(t);
    free(P);
    if (!s && rows_read == 0) s = at_fail(err, AT_ERR_DATA, "%s: no data rows", opt->input);
    if (s) {
        if (af) at_afile_abort(af);
        acc_free(&a);
        return s;
    }
    if ((s = at_afile_commit(af, err))) {
        acc_free(&a);
        return s;
    }
    json_t *rec = build_record(b, opt, name, hash, rel, &a, rows_read, rows_missing);
    if (opt->labels) at_monitor_set_labels(rec, a.conf, b->k, "column");
    at_monitor_alerts(rec);
    acc_free(&a);
    *record = rec;
    return AT_OK;
}
