/* status.h - error codes and the error record every public function fills.
 *
 * Every public function returns an at_status (AT_OK == 0) and, on failure, fills an
 * at_error with one line of text that names the file, line and key where it can.
 * The numeric values double as the CLI's exit codes, so they are stable. */
#ifndef ASTROTRAIN_STATUS_H
#define ASTROTRAIN_STATUS_H

#include <stddef.h>

typedef enum at_status {
    AT_OK = 0,
    AT_ERR_USAGE = 2,       /* bad command line */
    AT_ERR_CONFIG = 3,      /* bad configuration (INI file or --set) */
    AT_ERR_DATA = 4,        /* bad input data (CSV, images) */
    AT_ERR_IO = 5,          /* file system: missing file, unwritable folder, full disk */
    AT_ERR_MODEL = 6,       /* model file truncated, corrupt, foreign or too new */
    AT_ERR_MEMORY = 7,      /* allocation failed or the memory limit would be exceeded */
    AT_ERR_INTERRUPTED = 8, /* stopped by a signal at a safe point */
    AT_ERR_INTERNAL = 9     /* a bug: please report */
} at_status;

#define AT_ERROR_MAX 1024

typedef struct at_error {
    at_status code;
    char msg[AT_ERROR_MAX];
} at_error;

/* Fills err (when not NULL) and returns code, so callers can write
 * `return at_fail(err, AT_ERR_DATA, "%s:%zu: ...", path, line);` */
at_status at_fail(at_error *err, at_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends context ("while loading model.h5: ") to an error already set; returns its code. */
at_status at_error_prefix(at_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void at_error_clear(at_error *err);

/* "config error", "data error", ... for messages and docs. */
const char *at_status_name(at_status code);

/* Allocation helpers that fill err with AT_ERR_MEMORY on failure (size overflow checked). */
void *at_malloc(size_t n, size_t size, at_error *err);
void *at_calloc(size_t n, size_t size, at_error *err);
char *at_strdup(const char *s, at_error *err);

#endif
