/* csv.h - streaming CSV reader (plain or gzip, told apart by content) and the
 * loader that turns named columns into an at_dataset.
 *
 * The reader holds one record at a time, so catalogues larger than memory can be
 * streamed in chunks (at_table_reader). Fields: RFC 4180 quoting, LF or CRLF,
 * optional '#' comment lines, a header row naming the columns. */
#ifndef ASTROTRAIN_CSV_H
#define ASTROTRAIN_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "status.h"

typedef struct at_csv_options {
    char delimiter;       /* ',' by default */
    int allow_comments;   /* skip lines whose first character is '#' (off by default) */
    size_t max_line;      /* longest record accepted, in bytes (default 1 MiB) */
    /* A shard of a plain (not gzip) file for a distributed read: after the header, only the
     * records whose first byte lies in [range_begin, range_end) (file offsets; records are
     * found from the line start at or after range_begin, so a quoted field must not hold a
     * line end). range_end = 0: the whole file (the default). */
    int64_t range_begin, range_end;
} at_csv_options;

void at_csv_options_default(at_csv_options *o);

typedef struct at_csv_reader at_csv_reader;

/* Opens path, reads the header. Errors name the file. */
at_status at_csv_open(const char *path, const at_csv_options *opt, at_csv_reader **out,
                      at_error *err);
void at_csv_close(at_csv_reader *r);

size_t at_csv_ncols(const at_csv_reader *r);
const char *at_csv_colname(const at_csv_reader *r, size_t j);
/* Index of the column with this exact name, or -1. */
long at_csv_find(const at_csv_reader *r, const char *name);
const char *at_csv_path(const at_csv_reader *r);

/* Next data record. On success *fields points at nfields NUL-terminated strings that stay
 * valid until the next call; *eof is set (and nfields 0) after the last record.
 * A record with a different number of fields than the header is an error. */
at_status at_csv_next(at_csv_reader *r, char ***fields, size_t *nfields, int *eof,
                      at_error *err);
/* 1-based physical line number where the last record started (for messages). */
size_t at_csv_line(const at_csv_reader *r);
/* 0-based index of the last record among data records. */
int64_t at_csv_record(const at_csv_reader *r);

/* What to do with an empty cell, NaN or Inf in a feature column. */
typedef enum at_missing_policy {
    AT_MISSING_DROP = 0,  /* drop the row and count it */
    AT_MISSING_ERROR = 1, /* stop with file:line:column */
    AT_MISSING_KEEP = 2   /* keep as NaN (for models that handle missing values) */
} at_missing_policy;

typedef struct at_load_options {
    const char *const *features; /* column names, in model order */
    size_t n_features;
    const char *label;           /* label column; NULL = none */
    int label_optional;          /* predict: read labels only when the column exists */
    /* Fixed class list (prediction): labels are mapped to these, an unknown one is an
     * error. NULL: classes are discovered and sorted. */
    const char *const *class_names;
    size_t n_classes;
    at_missing_policy missing;
    at_csv_options csv;
    /* Whole-file loader: stop with AT_ERR_MEMORY once the table would need more than this
     * many bytes (0 = no bound), so a file larger than estimated cannot exhaust memory. */
    size_t max_table_bytes;
    /* ---- catalogue mode (predict, transform; issue 14) ----
     * keep_all_rows: every record becomes a row of the chunk, in order. A feature cell that
     * is empty/NaN, infinite (unless missing = keep, which keeps them as NaN) or not a number
     * is not dropped or refused: the row gets NaN there and an issue (at_table_row_issue). */
    int keep_all_rows;
    const char *const *keep; /* columns copied per row as text (at_table_kept); any type */
    size_t n_keep;
    /* FITS input: the binary-table HDU by EXTNAME, or by number (0 = primary, as astropy
     * counts); NULL or "" = the first table HDU. Ignored for CSV. */
    const char *hdu;
    /* One rank's share of a distributed read (csv.range_*): a shard with no rows, or none
     * usable, is not an error here; the caller checks the global counts. */
    int shard;
    /* A FITS table's rows [fits_row_begin, fits_row_end) only (MPI ranks; when fits_rows is
     * set; row numbers stay the table's). Ignored for CSV. */
    int fits_rows;
    int64_t fits_row_begin, fits_row_end;
} at_load_options;

/* Whether path is a FITS file, and then its table's row count (hdu as at_load_options.hdu):
 * how MPI ranks share a FITS table (row ranges). */
at_status at_fits_table_rows(const char *path, const char *hdu, int *is_fits, int64_t *nrows, at_error *err);

void at_load_options_default(at_load_options *o);

typedef struct at_load_report {
    size_t rows_read;       /* data records read */
    size_t rows_missing;    /* dropped by the missing-value policy */
} at_load_report;

/* Reads the whole file. With no fixed class list, class names come out sorted. */
at_status at_dataset_load_csv(const char *path, const at_load_options *opt, at_dataset **out,
                              at_load_report *report, at_error *err);

/* Chunked reading for files larger than memory (prediction). Requires a fixed class list
 * when labels are read. */
typedef struct at_table_reader at_table_reader;
at_status at_table_open(const char *path, const at_load_options *opt, at_table_reader **out,
                        at_error *err);
/* Up to max_rows rows; (*chunk)->n == 0 at the end. The caller frees the chunk. */
at_status at_table_read(at_table_reader *t, size_t max_rows, at_dataset **chunk, at_error *err);
/* Whether the label column was found (label_optional). */
int at_table_has_label(const at_table_reader *t);
const at_load_report *at_table_report(const at_table_reader *t);
void at_table_close(at_table_reader *t);

/* ---- catalogue mode accessors (valid for the chunk at_table_read returned last) ---- */
typedef enum at_row_issue {
    AT_ROW_OK = 0,
    AT_ROW_MISSING = 1,     /* empty or NaN cell (FITS: TNULL or NaN) */
    AT_ROW_INFINITE = 2,
    AT_ROW_NOT_NUMBER = 3
} at_row_issue;
/* Why row i of the last chunk has NaN features (keep_all_rows): the first feature (index
 * into opt->features) with an issue in *feature; AT_ROW_OK for a complete row. */
at_row_issue at_table_row_issue(const at_table_reader *t, size_t i, size_t *feature);
/* The text of kept column j (opt->keep[j]) on row i of the last chunk. */
const char *at_table_kept(const at_table_reader *t, size_t i, size_t j);
/* Short name of an issue: "missing", "infinite", "not a number" ("ok" for AT_ROW_OK). */
const char *at_row_issue_name(at_row_issue r);

/* Parses a feature cell: a number, or empty/NaN/Inf (case-insensitive) reported through
 * *special (1 = empty or NaN, 2 = infinite). Returns 0 when the text is not a number. */
int at_parse_number(const char *s, double *out, int *special);

/* Whether the file starts with gzip's magic bytes (0 when it cannot be read). */
int at_file_is_gzip(const char *path);

#endif
