/* labels.c - labels later: reads a labels file (key column, label column), joins it to a
 * recorded batch's predictions (DIR/batches/BATCH.csv) by key, and fills in the batch's
 * accuracy figures and alerts in history.jsonl. The labels are held in memory (sorted by
 * key); the predictions are streamed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/csv.h"
#include "astrotrain/monitor.h"

typedef struct keyed {
    double key;
    int32_t cls;
    size_t line;
} keyed;

static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

static long class_index(const char *const *names, size_t k, const char *s) {
    for (size_t c = 0; c < k; c++)
        if (strcmp(names[c], s) == 0) return (long)c;
    return -1;
}

at_status at_monitor_read_labels(const char *path, const char *key_col, const char *label_col,
                                 const char *const *class_names, size_t k, double **keys, int32_t **classes,
                                 size_t *n, at_error *err) {
    *keys = NULL, *classes = NULL, *n = 0;
    at_csv_options co;
    at_csv_options_default(&co);
    at_csv_reader *r = NULL;
    at_status s = at_csv_open(path, &co, &r, err);
    if (s) return s;
    long kc = at_csv_find(r, key_col), lc = at_csv_find(r, label_col);
    int by_row = kc < 0 && strcmp(key_col, "row") == 0; /* key "row": the 0-based data row */
    if ((kc < 0 && !by_row) || lc < 0) {
        s = at_fail(err, AT_ERR_DATA, "%s: no column '%s'", path, kc < 0 ? key_col : label_col);
        at_csv_close(r);
        return s;
    }
    size_t cap = 1024, m = 0;
    keyed *v = at_malloc(cap, sizeof *v, err);
    if (!v) s = AT_ERR_MEMORY;
    while (!s) {
        char **fields;
        size_t nf;
        int eof;
        if ((s = at_csv_next(r, &fields, &nf, &eof, err)) || eof) break;
        double key = (double)at_csv_record(r);
        int special = 0;
        if (!by_row && (!at_parse_number(fields[kc], &key, &special) || special)) {
            s = at_fail(err, AT_ERR_DATA, "%s:%zu: key '%s' in column '%s' is not a number", path, at_csv_line(r),
                        fields[kc], key_col);
            break;
        }
        long c = class_index(class_names, k, fields[lc]);
        if (c < 0) {
            s = at_fail(err, AT_ERR_DATA, "%s:%zu: label '%s' is not a class of the model", path, at_csv_line(r),
                        fields[lc]);
            break;
        }
        if (m == cap) {
            keyed *nv = cap > ((size_t)1 << 40) ? NULL : realloc(v, 2 * cap * sizeof *v);
            if (!nv) {
                s = at_fail(err, AT_ERR_MEMORY, "out of memory reading %s", path);
                break;
            }
            v = nv, cap *= 2;
        }
        v[m++] = (keyed){key, (int32_t)c, at_csv_line(r)};
    }
    at_csv_close(r);
    if (!s) {
        qsort(v, m, sizeof *v, cmp_keyed);
        size_t w = 0; /* drop repeats of the same label; two labels for a key are an error */
        for (size_t i = 0; i < m && !s; i++) {
            if (w && v[w - 1].key == v[i].key) {
                if (v[w - 1].cls != v[i].cls)
                    s = at_fail(err, AT_ERR_DATA, "%s:%zu: key %.17g already has another label (line %zu)", path,
                                v[i].line, v[i].key, v[w - 1].line);
                continue;
            }
            v[w++] = v[i];
        }
        m = w;
    }
    double *ks = s ? NULL : at_malloc(m + 1, sizeof *ks, err);
    int32_t *cs = s ? NULL : at_malloc(m + 1, sizeof *cs, err);
    if (!s && (!ks || !cs)) s = AT_ERR_MEMORY;
    if (s) {
        free(v), free(ks), free(cs);
        return s;
    }
    for (size_t i = 0; i < m; i++) ks[i] = v[i].key, cs[i] = v[i].cls;
    free(v);
    *keys = ks, *classes = cs, *n = m;
    return AT_OK;
}

static long find_key(const double *keys, size_t n, double key) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (keys[mid] < key) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && keys[lo] == key ? (long)lo : -1;
}

at_status at_monitor_labels_for(const char *dir, const char *batch, const char *labels_path, const char *key_col,
                                const char *label_col, size_t *matched, at_error *err) {
    *matched = 0;
    json_t *hist = NULL;
    at_status s = at_history_load(dir, &hist, err);
    if (s) return s;
    json_t *rec = at_history_find(hist, batch);
    if (!rec) {
        json_decref(hist);
        return at_fail(err, AT_ERR_USAGE, "%s/history.jsonl: no batch '%s'", dir, batch);
    }
    rec = json_deep_copy(rec);
    json_decref(hist);
    if (!rec) return at_fail(err, AT_ERR_MEMORY, "out of memory");
    const char *rkey = json_string_value(json_object_get(rec, "key"));
    const char *pred = json_string_value(json_object_get(rec, "predictions"));
    const char *rlabel = json_string_value(json_object_get(rec, "label"));
    json_t *jclasses = json_object_get(rec, "classes");
    size_t k = json_array_size(jclasses);
    if (!rkey || !pred || !k || strstr(pred, "..")) {
        json_decref(rec);
        return at_fail(err, AT_ERR_DATA, "%s/history.jsonl: the record of batch '%s' lacks key/predictions/classes", dir,
                       batch);
    }
    if (key_col && strcmp(key_col, rkey) != 0) {
        json_decref(rec);
        return at_fail(err, AT_ERR_USAGE,
                       "batch '%s' was recorded with key '%s', not '%s' (record it with --key %s to join on it)", batch,
                       rkey, key_col, key_col);
    }
    const char *names[256];
    for (size_t c = 0; c < k && c < 256; c++) names[c] = json_string_value(json_array_get(jclasses, c));
    for (size_t c = 0; c < k; c++)
        if (c >= 256 || !names[c]) {
            json_decref(rec);
            return at_fail(err, AT_ERR_DATA, "%s/history.jsonl: batch '%s' has bad class names", dir, batch);
        }
    const char *lcol = label_col ? label_col : rlabel && rlabel[0] ? rlabel : "class";
    double *keys = NULL;
    int32_t *cls = NULL;
    size_t nl = 0;
    if ((s = at_monitor_read_labels(labels_path, rkey, lcol, names, k, &keys, &cls, &nl, err))) {
        json_decref(rec);
        return s;
    }
    /* Stream the batch's predictions: key (or row) and predicted class. */
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, pred);
    at_csv_options co;
    at_csv_options_default(&co);
    at_csv_reader *r = NULL;
    double *conf = at_calloc(k * k, sizeof *conf, err);
    if (!conf) s = AT_ERR_MEMORY;
    if (!s) s = at_csv_open(path, &co, &r, err);
    long kc = -1, pc = -1;
    if (!s) {
        kc = at_csv_find(r, rkey), pc = at_csv_find(r, "predicted");
        if (kc < 0 || pc < 0) s = at_fail(err, AT_ERR_DATA, "%s: no column '%s'", path, kc < 0 ? rkey : "predicted");
    }
    while (!s) {
        char **fields;
        size_t nf;
        int eof;
        if ((s = at_csv_next(r, &fields, &nf, &eof, err)) || eof) break;
        double key;
        int special = 0;
        if (!at_parse_number(fields[kc], &key, &special) || special) continue;
        long q = class_index(names, k, fields[pc]);
        if (q < 0) {
            s = at_fail(err, AT_ERR_DATA, "%s:%zu: unknown class '%s'", path, at_csv_line(r), fields[pc]);
            break;
        }
        long i = find_key(keys, nl, key);
        if (i < 0) continue;
        conf[(size_t)cls[i] * k + (size_t)q] += 1;
        (*matched)++;
    }
    if (r) at_csv_close(r);
    free(keys), free(cls);
    if (!s && *matched == 0)
        s = at_fail(err, AT_ERR_DATA, "%s: no key of column '%s' matches a row of batch '%s'", labels_path, rkey, batch);
    if (!s) {
        at_monitor_set_labels(rec, conf, k, labels_path);
        at_monitor_alerts(rec);
        s = at_history_replace(dir, rec, err);
    }
    free(conf);
    json_decref(rec);
    return s;
}
