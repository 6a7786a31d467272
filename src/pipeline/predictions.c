/* predictions.c - the predictions.csv and split.csv formats, shared by runs and `predict`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "astrotrain/atomic_file.h"
#include "astrotrain/metrics.h"
#include "astrotrain/config.h"
#include "core/numfmt.h"
#include "pipeline/predictions.h"

void at_predictions_header(FILE *f, const char *const *class_names, size_t k, int with_true) {
    fputs(with_true ? "row,true,predicted" : "row,predicted", f);
    for (size_t c = 0; c < k; c++) fprintf(f, ",p_%s", class_names[c]);
    fputc('\n', f);
}

void at_predictions_rows(FILE *f, const at_dataset *ds, const double *P, const char *const *class_names,
                         size_t k, int with_true) {
    for (size_t i = 0; i < ds->n; i++) {
        const double *p = P + i * k;
        fprintf(f, "%lld", (long long)ds->row[i]);
        if (with_true) {
            fputc(',', f);
            if (ds->y && ds->y[i] >= 0) fputs(class_names[ds->y[i]], f);
        }
        fputc(',', f);
        fputs(class_names[at_argmax(p, k)], f);
        /* "%.9g" text (beyond float precision, identical for identical doubles), written
         * by the fast formatter, which matches printf byte for byte. */
        char num[AT_FMT_G9_MAX + 1];
        for (size_t c = 0; c < k; c++) {
            num[0] = ',';
            size_t len = at_fmt_g9(num + 1, p[c]);
            fwrite(num, 1, len + 1, f);
        }
        fputc('\n', f);
    }
}

at_status at_write_predictions_file(const char *path, const at_dataset *ds, const double *P,
                                    const char *const *class_names, size_t k, int with_true, at_error *err) {
    at_afile *af = at_afile_open(path, err);
    if (!af) return err ? err->code : AT_ERR_IO;
    FILE *f = at_afile_stream(af);
    at_predictions_header(f, class_names, k, with_true);
    at_predictions_rows(f, ds, P, class_names, k, with_true);
    return at_afile_commit(af, err);
}

typedef struct split_entry {
    int64_t row;
    int part;
} split_entry;

static int split_entry_cmp(const void *a, const void *b) {
    const split_entry *x = a, *y = b;
    if (x->row != y->row) return x->row < y->row ? -1 : 1;
    return (x->part > y->part) - (x->part < y->part);
}

at_status at_write_split_file(const char *path, const at_dataset *train, const at_dataset *valid,
                              const at_dataset *test, at_error *err) {
    static const char *const part_names[3] = {"train", "validation", "test"};
    const at_dataset *parts[3] = {train, valid, test};
    size_t n = 0;
    for (int p = 0; p < 3; p++) n += parts[p] ? parts[p]->n : 0;
    split_entry *e = at_malloc(n + 1, sizeof *e, err);
    if (!e) return AT_ERR_MEMORY;
    size_t m = 0;
    for (int p = 0; p < 3; p++)
        for (size_t i = 0; parts[p] && i < parts[p]->n; i++) e[m++] = (split_entry){parts[p]->row[i], p};
    qsort(e, n, sizeof *e, split_entry_cmp);
    at_afile *af = at_afile_open(path, err);
    if (!af) {
        free(e);
        return err ? err->code : AT_ERR_IO;
    }
    FILE *f = at_afile_stream(af);
    fputs("row,part\n", f);
    for (size_t i = 0; i < n; i++) fprintf(f, "%lld,%s\n", (long long)e[i].row, part_names[e[i].part]);
    free(e);
    return at_afile_commit(af, err);
}
