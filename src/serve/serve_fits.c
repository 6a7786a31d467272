/* serve_fits.c - FITS cutout uploads for image models (Content-Type application/fits, or any
 * image body that starts with "SIMPLE  ="): read from memory through CFITSIO, scaled per band
 * by the model's stored [data] scaling, resized to the model's input as `predict` does for a
 * FITS file. The band count must be the model's input channels; damaged bodies are 400, a
 * cutout over the side limit 413. */
#include <stdlib.h>

#include "data/images_internal.h"
#include "models/bundle_scaling.h"
#include "serve/serve_internal.h"

at_status at_serve_decode_fits(const at_served *v, const uint8_t *buf, size_t n, size_t max_side, uint8_t *dst,
                               at_error *err, int *http_status) {
    *http_status = 400;
    int scaling = 0, too_large = 0;
    at_status st = at_bundle_image_scaling(v->b, &scaling, err);
    if (st) {
        *http_status = 500;
        return st;
    }
    at_img_raw raw = {0};
    if ((st = at_img_fits_decode_mem("upload", buf, n, scaling, max_side, &raw, &too_large, err))) {
        if (too_large) *http_status = 413;
        return st;
    }
    if (raw.c != v->c) {
        free(raw.px);
        return at_fail(err, AT_ERR_DATA, "upload: FITS cutout has %zu band(s) but the model takes %zu", raw.c, v->c);
    }
    at_resampler *r = NULL;
    st = at_resampler_new(raw.h, raw.w, raw.c, 1.0, v->h, v->w, v->c, &r, err);
    if (!st) at_resampler_run(r, raw.px, dst);
    else *http_status = 500;
    at_resampler_free(r);
    free(raw.px);
    return st;
}
