/* images_internal.h - (private) what the image readers, the Galaxy10 reader/writer and the
 * synthetic generator share: decoded images, content sniffing, the area-average resampler
 * and the Galaxy10-layout HDF5 writer. */
#ifndef ASTROTRAIN_IMAGES_INTERNAL_H
#define ASTROTRAIN_IMAGES_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "astrotrain/images.h"

/* Largest width or height a decoder accepts before allocating (a 16384^2 RGB image is 768 MiB). */
#define AT_IMG_MAX_SIDE 16384u
/* Largest image file read into memory. */
#define AT_IMG_MAX_FILE ((size_t)512 << 20)

/* One decoded image, HWC, c = 1 (grey) or 3 (RGB). */
typedef struct at_img_raw {
    size_t h, w, c;
    uint8_t *px;
} at_img_raw;

enum { AT_IMG_UNKNOWN = 0, AT_IMG_PNG = 1, AT_IMG_JPEG = 2, AT_IMG_FITS = 3 };
int at_img_sniff(const uint8_t *buf, size_t n);

/* Decoders from memory; name is only for messages. Alpha is dropped, 16-bit reduced,
 * palettes expanded; the result has 1 or 3 channels. */
at_status at_png_decode(const char *name, const uint8_t *buf, size_t n, at_img_raw *out, at_error *err);
at_status at_jpeg_decode(const char *name, const uint8_t *buf, size_t n, at_img_raw *out, at_error *err);
/* Reads the file and dispatches on its magic bytes. */
at_status at_img_decode_file(const char *path, at_img_raw *out, at_error *err);
/* The whole regular file path (at most AT_IMG_MAX_FILE bytes) into *buf (the caller frees it):
 * one reader for PNG/JPEG and FITS files. as follows "cannot open" in messages (" as a FITS
 * file" or ""), open_code is their status; kind names the file in "... is too large". */
at_status img_read_file(const char *path, const char *as, at_status open_code, const char *kind, uint8_t **buf,
                        size_t *n, at_error *err);

/* FITS cutouts (images_fits.c): 1 when the first bytes are a FITS primary header ("SIMPLE  =")
 * or a gzip stream in a file named *.fits.gz / *.fit.gz / *.fts.gz. */
int at_img_is_fits(const char *path, const uint8_t *head, size_t n);
/* Reads the first image HDU of a FITS file (2-D, or 3-D with NAXIS3 = 1 to AT_IMG_MAX_BANDS bands) through
 * CFITSIO, scales each band (at_img_scaling) to [0, 1] and quantises to uint8 (round(255 v)). */
at_status at_img_fits_decode_file(const char *path, int scaling, at_img_raw *out, at_error *err);
/* The same from a FITS file in memory, plain or gzip'd (the prediction server's uploads); name
 * is for messages. A side over max_side (or more than the value limit, or a gzip stream that
 * inflates past what that limit needs) sets *too_large. */
at_status at_img_fits_decode_mem(const char *name, const uint8_t *buf, size_t n, int scaling, size_t max_side,
                                 at_img_raw *out, int *too_large, at_error *err);

/* gunzip_mem.c: the gzip stream buf[0..n) inflated into *out (malloc'd, *out_n bytes); more
 * than cap bytes is an error that sets *too_large (when given). */
at_status at_gunzip_mem(const char *name, const uint8_t *buf, size_t n, size_t cap, uint8_t **out, size_t *out_n,
                        int *too_large, at_error *err);

/* Checks the options shared by all loaders (name = source, for messages). */
at_status at_img_check_options(const char *name, const at_image_load_options *opt, at_error *err);

/* Centre crop, area-average resize (exact integer weights: a plain box average when the
 * factor is integral) and channel conversion of many images of one source geometry. */
typedef struct at_resampler at_resampler;
/* Output size = dh x dw (0 x 0: the cropped source size). */
at_status at_resampler_new(size_t sh, size_t sw, size_t sc, double crop, size_t dh, size_t dw, size_t dc,
                           at_resampler **out, at_error *err);
void at_resampler_size(const at_resampler *r, size_t *dh, size_t *dw);
void at_resampler_run(at_resampler *r, const uint8_t *src, uint8_t *dst);
void at_resampler_free(at_resampler *r);

/* Channel conversion of n pixels: grey = (299 R + 587 G + 114 B) / 1000 rounded. */
void at_img_convert_channels(const uint8_t *src, size_t sc, uint8_t *dst, size_t dc, size_t npix);

/* Galaxy10-layout writer: datasets images (n,h,w,c) uint8, ans (n) uint8, and ra, dec,
 * redshift, pxscale (n) f64 when given. Writes to "<path>.tmp.<pid>" and renames on close. */
typedef struct at_g10_writer at_g10_writer;
at_status at_g10_writer_open(const char *path, size_t n, size_t h, size_t w, size_t c, int extras,
                             at_g10_writer **out, at_error *err);
/* Images [first, first + m) with their labels and (when extras) the four columns (may be NULL). */
at_status at_g10_writer_put(at_g10_writer *g, size_t first, size_t m, const uint8_t *px, const int32_t *y,
                            const double *ra, const double *dec, const double *redshift,
                            const double *pxscale, at_error *err);
/* String / integer / float root attributes (the cache's provenance). */
at_status at_g10_writer_attr_str(at_g10_writer *g, const char *name, const char *value, at_error *err);
at_status at_g10_writer_attr_i64(at_g10_writer *g, const char *name, int64_t value, at_error *err);
at_status at_g10_writer_attr_f64(at_g10_writer *g, const char *name, double value, at_error *err);
at_status at_g10_writer_commit(at_g10_writer *g, at_error *err); /* frees g */
void at_g10_writer_abort(at_g10_writer *g);                        /* frees g, removes the temp */

#endif
