/* model_file.h - the HDF5 store behind model files (and checkpoints).
 *
 * Names are slash paths ("model/trees/feature"); missing groups are created on write.
 * Writing goes to "<path>.tmp.<pid>" and at_store_commit() renames it into place, so an
 * interrupted write never leaves a half file under the real name. Every read checks the
 * dataset's type, rank and size, so a truncated, bit-flipped or foreign file gives an
 * AT_ERR_MODEL error, never a crash or an unbounded allocation. */
#ifndef ASTROTRAIN_MODEL_FILE_H
#define ASTROTRAIN_MODEL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define AT_MODEL_FORMAT "astrotrain-model"
#define AT_MODEL_FORMAT_VERSION 1

typedef struct at_store at_store;

/* Writing. */
at_status at_store_create(const char *path, at_store **out, at_error *err);
at_status at_store_commit(at_store *st, at_error *err); /* closes, fsyncs, renames */

/* Reading. Checks the HDF5 signature first; a file that is not HDF5 is AT_ERR_MODEL. */
at_status at_store_open(const char *path, at_store **out, at_error *err);

/* Closes; a store being written and not committed is discarded (temp file removed). */
void at_store_close(at_store *st);

/* Makes later names resolve under the group `prefix` ("model/members/0"), so a whole
 * model can be written or read inside another (ensembles). "" or NULL: the root again. */
at_status at_store_set_prefix(at_store *st, const char *prefix, at_error *err);
const char *at_store_path(const at_store *st);

/* 1-D datasets (rank 2 with cols > 0 through the _2d forms). */
at_status at_store_put_f64(at_store *st, const char *name, const double *v, size_t n, at_error *err);
at_status at_store_put_f64_2d(at_store *st, const char *name, const double *v, size_t rows,
                              size_t cols, at_error *err);
at_status at_store_put_f32(at_store *st, const char *name, const float *v, size_t n, at_error *err);
at_status at_store_put_f32_2d(at_store *st, const char *name, const float *v, size_t rows,
                              size_t cols, at_error *err);
at_status at_store_put_i32(at_store *st, const char *name, const int32_t *v, size_t n, at_error *err);
at_status at_store_put_i64(at_store *st, const char *name, const int64_t *v, size_t n, at_error *err);
at_status at_store_put_u8(at_store *st, const char *name, const uint8_t *v, size_t n, at_error *err);
at_status at_store_put_str(at_store *st, const char *name, const char *s, at_error *err);
at_status at_store_put_strs(at_store *st, const char *name, const char *const *s, size_t n,
                            at_error *err);
/* Scalars, stored as 1-element datasets. */
at_status at_store_put_int(at_store *st, const char *name, int64_t v, at_error *err);
at_status at_store_put_real(at_store *st, const char *name, double v, at_error *err);

/* Whether a dataset or group of that name exists. */
int at_store_has(at_store *st, const char *name);

/* Reading allocates (*out, caller frees with free()) and reports the element count.
 * max_n bounds what the caller is prepared to accept (0 = no bound beyond the file's size). */
at_status at_store_get_f64(at_store *st, const char *name, double **out, size_t *n, at_error *err);
at_status at_store_get_f32(at_store *st, const char *name, float **out, size_t *n, at_error *err);
at_status at_store_get_i32(at_store *st, const char *name, int32_t **out, size_t *n, at_error *err);
at_status at_store_get_i64(at_store *st, const char *name, int64_t **out, size_t *n, at_error *err);
at_status at_store_get_u8(at_store *st, const char *name, uint8_t **out, size_t *n, at_error *err);
/* Shape of a dataset: rank (1 or 2) and dims. */
at_status at_store_shape(at_store *st, const char *name, size_t *rank, size_t dims[2], at_error *err);
/* Reads exactly n elements into caller memory; any other size is AT_ERR_MODEL. */
at_status at_store_read_f64(at_store *st, const char *name, double *v, size_t n, at_error *err);
at_status at_store_read_f32(at_store *st, const char *name, float *v, size_t n, at_error *err);
at_status at_store_read_i32(at_store *st, const char *name, int32_t *v, size_t n, at_error *err);
at_status at_store_get_str(at_store *st, const char *name, char **out, at_error *err);
at_status at_store_get_strs(at_store *st, const char *name, char ***out, size_t *n, at_error *err);
at_status at_store_get_int(at_store *st, const char *name, int64_t *v, at_error *err);
at_status at_store_get_real(at_store *st, const char *name, double *v, at_error *err);

/* Frees an array of strings as returned by at_store_get_strs. */
void at_strs_free(char **s, size_t n);

#endif
