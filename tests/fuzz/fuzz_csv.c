/* fuzz_csv.c - plain CSV catalogues through both readers: the whole-file loader
 * (training) and the chunked table reader (predict). The first byte picks the options
 * (missing-value policy, comments, delimiter, chunk size); the rest is the file. Both
 * readers share the row parser, so on the same file they must agree on the rows read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/csv.h"
#include "fuzz_util.h"

static const char *const csv_features_[] = {"u", "g", "redshift"};
static const char *const csv_classes_[] = {"GALAXY", "QSO", "STAR"};

/* Runs both readers on the file at path with the options chosen by sel. */
static void csv_both_readers(const char *path, uint8_t sel) {
    at_load_options lo;
    at_load_options_default(&lo);
    lo.features = csv_features_;
    lo.n_features = 3;
    lo.label = "class";
    lo.missing = (at_missing_policy)(sel % 3);
    lo.csv.allow_comments = (sel >> 2) & 1;
    lo.csv.delimiter = (sel >> 3) & 1 ? ';' : ',';
    lo.csv.max_line = 4096; /* small, so the fuzzer reaches the limit */
    at_error err = {0};
    at_dataset *ds = NULL;
    at_load_report rep = {0};
    at_status s1 = at_dataset_load_csv(path, &lo, &ds, &rep, &err);
    if (s1 == AT_OK) {
        if (!ds || ds->n == 0 || ds->n > rep.rows_read || ds->d != 3) abort();
        for (size_t i = 0; i < ds->n; i++)
            if (ds->y[i] < 0 || (size_t)ds->y[i] >= ds->n_classes) abort();
        for (size_t k = 1; k < ds->n_classes; k++)
            if (strcmp(ds->class_names[k - 1], ds->class_names[k]) >= 0) abort();
    } else if (!err.msg[0]) {
        abort();
    }
    at_dataset_free(ds);

    /* The chunked reader, as predict drives it: fixed classes, optional label. */
    lo.class_names = csv_classes_;
    lo.n_classes = 3;
    lo.label_optional = (sel >> 4) & 1;
    at_table_reader *t = NULL;
    size_t chunk = 1 + (size_t)(sel >> 5);
    at_status s2 = at_table_open(path, &lo, &t, &err);
    size_t rows = 0;
    while (s2 == AT_OK) {
        at_dataset *part = NULL;
        s2 = at_table_read(t, chunk, &part, &err);
        if (s2 == AT_OK) {
            if (part->n > chunk) abort();
            for (size_t i = 0; part->y && i < part->n; i++)
                if (part->y[i] < 0 || part->y[i] >= 3) abort();
            rows += part->n;
        }
        size_t n = part ? part->n : 0;
        at_dataset_free(part);
        if (s2 == AT_OK && n == 0) break;
    }
    if (s2 != AT_OK && !err.msg[0]) abort();
    if (t && s2 == AT_OK && rows != at_table_report(t)->rows_read - at_table_report(t)->rows_missing) abort();
    at_table_close(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    csv_both_readers(fuzz_write(data + 1, size - 1), data[0]);
    return 0;
}
