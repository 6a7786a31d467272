/* images.h - labelled image sets in memory, and where they come from: Galaxy10-layout
 * HDF5 files (read in chunks, resized on load, cached), folders of PNG/JPEG files (one
 * subfolder per class), single images; plus the synthetic Galaxy10 generator, image
 * augmentation and PNG grids for reports.
 *
 * Pixels are uint8, interleaved HWC per image (the layout of Galaxy10's `images`
 * dataset and of PNG/JPEG decoders), images stored one after another (NHWC). */
#ifndef ASTROTRAIN_IMAGES_H
#define ASTROTRAIN_IMAGES_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"
#include "status.h"

typedef struct at_images {
    size_t n, height, width, channels;
    uint8_t *pixels;      /* n * height * width * channels */
    int32_t *y;           /* n labels, or NULL */
    size_t n_classes;
    char **class_names;   /* n_classes (may be NULL when unknown) */
    char **sources;       /* n file names (folders) or NULL */
    double *ra, *dec, *redshift, *pxscale; /* Galaxy10 extras when present, else NULL */
} at_images;

typedef struct at_image_load_options {
    size_t width, height;  /* target size after resizing (0 = keep the source size) */
    double crop;           /* centre crop fraction in (0, 1] applied before resizing (1 = none) */
    size_t channels;       /* 3 (RGB) or 1 (grey); sources are converted. FITS: 1..AT_IMG_MAX_BANDS */
    const char *cache;     /* HDF5 cache of the resized set (NULL = none): reused when it matches */
    size_t max_images;     /* 0 = all */
    /* FITS cutouts (images_fits.c): at_img_scaling applied per band before 8-bit quantisation.
     * A FITS folder's band count (1 to AT_IMG_MAX_BANDS) replaces channels. */
    int scaling;
    /* 1: FITS cutouts must have exactly `channels` bands (predict, serve: the model's input),
     * else an error naming the file; 0: the first cutout's band count sets the channels. */
    int fixed_bands;
} at_image_load_options;

/* Most bands a FITS cutout (and so an image set, a CNN input) may have; PNG/JPEG have 1 or 3. */
#define AT_IMG_MAX_BANDS 64

/* FITS cutout scalings ([data] scaling), each per band to [0, 1]; see README "FITS cutouts". */
typedef enum at_img_scaling { AT_SCALING_ASINH = 0, AT_SCALING_LINEAR = 1, AT_SCALING_ZSCALE = 2 } at_img_scaling;
#define AT_SCALING_CHOICES "asinh|linear|zscale"

/* Scales n values of one band in place to [0, 1] (non-finite values first become the band's
 * median of finite values, or 0 when there is none). Exposed for tests. */
void at_img_scale_band(double *v, size_t n, int scaling);

void at_image_load_options_default(at_image_load_options *o);

/* Galaxy10 DECaLS layout: `images` (N,H,W,3) uint8, `ans` (N) integer labels 0-9, optional
 * `ra`, `dec`, `redshift`, `pxscale` (N). Read in chunks, area-average downsampling. */
at_status at_images_load_galaxy10(const char *path, const at_image_load_options *opt, at_images **out,
                                  at_error *err);
/* A folder with one subfolder per class of .png/.jpg/.jpeg files; class names = subfolder
 * names, sorted. */
at_status at_images_load_folder(const char *dir, const at_image_load_options *opt, at_images **out,
                                at_error *err);
/* Single files (PNG or JPEG, detected by content), unlabelled. */
at_status at_images_load_files(const char *const *paths, size_t n, const at_image_load_options *opt,
                               at_images **out, at_error *err);

at_status at_images_new(size_t n, size_t h, size_t w, size_t c, int labelled, at_images **out, at_error *err);
at_status at_images_subset(const at_images *src, const size_t *idx, size_t m, at_images **out, at_error *err);
void at_images_free(at_images *im);

/* The ten Galaxy10 DECaLS class names, in label order. */
extern const char *const at_galaxy10_classes[10];

/* Writes n synthetic images of size x size with the Galaxy10 layout (see issue: Sersic
 * bulges, exponential discs, bars, spirals, edge-on discs, mergers, noise and PSF). */
at_status at_synth_galaxy10(const char *path, size_t n, size_t size, uint64_t seed, at_error *err);

/* Augmentation of one HWC image in place (scratch: h*w*c bytes): one of the 8 elements of
 * the dihedral group D4 (0 = identity; square images only for the rotations), a shift of
 * (dx, dy) pixels with edge replication, and a brightness factor. */
void at_image_d4(uint8_t *img, uint8_t *scratch, size_t h, size_t w, size_t c, int element);
void at_image_shift(uint8_t *img, uint8_t *scratch, size_t h, size_t w, size_t c, int dx, int dy);
void at_image_brightness(uint8_t *img, size_t h, size_t w, size_t c, double factor);

/* A PNG grid of images (rows x cols tiles, scale-times enlarged) with no text; captions
 * are written beside it by the caller. */
at_status at_png_grid(const char *path, const at_images *im, const size_t *idx, size_t count, size_t cols,
                      size_t scale, at_error *err);
/* Writes one HWC uint8 image as PNG (atomically). */
at_status at_png_write(const char *path, const uint8_t *pixels, size_t h, size_t w, size_t c, at_error *err);

#endif
