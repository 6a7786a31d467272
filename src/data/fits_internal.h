/* fits_internal.h - (private) a FITS binary table (BINTABLE) as a streaming row source for
 * the table reader (load.c), through CFITSIO: the HDU chosen by EXTNAME or number, columns
 * by name, scalar numeric columns read as doubles (TNULL and NaN -> NaN), any scalar column
 * readable as text (labels, kept identifier columns). Rows are read in blocks of columns. */
#ifndef ASTROTRAIN_DATA_FITS_INTERNAL_H
#define ASTROTRAIN_DATA_FITS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "astrotrain/status.h"

typedef struct fits_src fits_src;

/* Whether the file starts like a FITS file ("SIMPLE  =" card; gzip'd files by name:
 * *.fits.gz, *.fit.gz, *.fts.gz). */
int fits_src_is_fits(const char *path);

/* Opens path and moves to the table: hdu = EXTNAME or a number (0 = primary, astropy's
 * count), NULL/"" = the first BINTABLE. Errors name the file and the HDU. */
at_status fits_src_open(const char *path, const char *hdu, fits_src **out, at_error *err);
void fits_src_close(fits_src *f);
const char *fits_src_path(const fits_src *f);
size_t fits_src_ncols(const fits_src *f);
const char *fits_src_colname(const fits_src *f, size_t j);
int64_t fits_src_nrows(const fits_src *f);
/* Declares that column j is read, as a number (numeric scalar columns only: otherwise a
 * clear AT_ERR_DATA naming the column and its TFORM) or as text. */
at_status fits_src_want(fits_src *f, size_t j, int as_text, at_error *err);
/* Advances to the next row (*eof at the end). */
at_status fits_src_next(fits_src *f, int *eof, at_error *err);
/* The current row's value of a wanted column: NaN for a null (TNULL) or NaN cell. */
double fits_src_num(const fits_src *f, size_t j);
const char *fits_src_text(const fits_src *f, size_t j);
/* 0-based index of the current row. */
int64_t fits_src_row(const fits_src *f);

/* MPI row ranges (issue 15): before the first fits_src_next, limit the source to rows
 * [first, end) of the table (0-based; fits_src_row stays the table's row number, fits_src_nrows
 * becomes end). AT_ERR_USAGE when the range is outside the table or reading has begun. */
at_status fits_src_range(fits_src *f, int64_t first, int64_t end, at_error *err);

#endif
