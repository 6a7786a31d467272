/* images.c - the at_images container (new, subset, free), load options and the Galaxy10
 * class names. */
#include <stdlib.h>
#include <string.h>

#include "data/images_internal.h"

const char *const at_galaxy10_classes[10] = {
    "Disturbed",
    "Merging",
    "Round Smooth",
    "In-between Round Smooth",
    "Cigar Shaped Smooth",
    "Barred Spiral",
    "Unbarred Tight Spiral",
    "Unbarred Loose Spiral",
    "Edge-on without Bulge",
    "Edge-on with Bulge",
};

void at_image_load_options_default(at_image_load_options *o) {
    memset(o, 0, sizeof *o);
    o->crop = 1.0;
    o->channels = 3;
}

at_status at_img_check_options(const char *name, const at_image_load_options *opt, at_error *err) {
    if (!opt) return AT_OK;
    if (!(opt->crop > 0.0 && opt->crop <= 1.0)) /* also rejects NaN */
        return at_fail(err, AT_ERR_CONFIG, "%s: crop must be in (0, 1], got %g", name, opt->crop);
    if (opt->channels < 1 || opt->channels > AT_IMG_MAX_BANDS)
        return at_fail(err, AT_ERR_CONFIG, "%s: channels must be 1 or 3 (PNG/JPEG) or a FITS band count up to %d, got %zu",
                       name, AT_IMG_MAX_BANDS, opt->channels);
    if ((opt->width == 0) != (opt->height == 0))
        return at_fail(err, AT_ERR_CONFIG, "%s: set both width and height (or neither), got %zux%zu", name,
                       opt->width, opt->height);
    if (opt->width > AT_IMG_MAX_SIDE || opt->height > AT_IMG_MAX_SIDE)
        return at_fail(err, AT_ERR_CONFIG, "%s: width and height must be at most %u, got %zux%zu", name,
                       AT_IMG_MAX_SIDE, opt->width, opt->height);
    return AT_OK;
}

void at_img_convert_channels(const uint8_t *src, size_t sc, uint8_t *dst, size_t dc, size_t npix) {
    if (sc == dc) {
        memmove(dst, src, npix * sc);
    } else if (sc == 1 && dc == 3) {
        for (size_t i = npix; i-- > 0;) { /* backwards: works in place too */
            uint8_t v = src[i];
            dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = v;
        }
    } else { /* 3 -> 1, forwards: works in place too */
        for (size_t i = 0; i < npix; i++) {
            const uint8_t *p = src + 3 * i;
            dst[i] = (uint8_t)((299u * p[0] + 587u * p[1] + 114u * p[2] + 500u) / 1000u);
        }
    }
}

at_status at_images_new(size_t n, size_t h, size_t w, size_t c, int labelled, at_images **out, at_error *err) {
    *out = NULL;
    if (h == 0 || w == 0 || c < 1 || c > AT_IMG_MAX_BANDS)
        return at_fail(err, AT_ERR_INTERNAL, "at_images_new: bad shape %zux%zux%zu", h, w, c);
    at_images *im = at_calloc(1, sizeof *im, err);
    if (!im) return AT_ERR_MEMORY;
    im->n = n;
    im->height = h;
    im->width = w;
    im->channels = c;
    size_t per = h * w * c;
    im->pixels = at_calloc(n ? n : 1, per, err);
    if (!im->pixels || (labelled && !(im->y = at_calloc(n ? n : 1, sizeof *im->y, err)))) {
        at_images_free(im);
        return AT_ERR_MEMORY;
    }
    *out = im;
    return AT_OK;
}

static char **copy_strings(char *const *s, size_t n, at_error *err) {
    char **d = at_calloc(n ? n : 1, sizeof *d, err);
    if (!d) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!(d[i] = at_strdup(s[i] ? s[i] : "", err))) {
            for (size_t j = 0; j < i; j++) free(d[j]);
            free(d);
            return NULL;
        }
    }
    return d;
}

static double *pick(const double *v, const size_t *idx, size_t m, at_error *err) {
    double *d = at_malloc(m ? m : 1, sizeof *d, err);
    if (d)
        for (size_t i = 0; i < m; i++) d[i] = v[idx[i]];
    return d;
}

at_status at_images_subset(const at_images *src, const size_t *idx, size_t m, at_images **out, at_error *err) {
    *out = NULL;
    for (size_t i = 0; i < m; i++)
        if (idx[i] >= src->n)
            return at_fail(err, AT_ERR_INTERNAL, "at_images_subset: index %zu out of range (n = %zu)", idx[i],
                           src->n);
    at_images *im;
    at_status st = at_images_new(m, src->height, src->width, src->channels, src->y != NULL, &im, err);
    if (st) return st;
    size_t per = src->height * src->width * src->channels;
    for (size_t i = 0; i < m; i++) {
        memcpy(im->pixels + i * per, src->pixels + idx[i] * per, per);
        if (src->y) im->y[i] = src->y[idx[i]];
    }
    im->n_classes = src->n_classes;
    int bad = 0;
    if (src->class_names && !(im->class_names = copy_strings(src->class_names, src->n_classes, err))) bad = 1;
    if (!bad && src->sources) {
        im->sources = at_calloc(m ? m : 1, sizeof *im->sources, err);
        if (!im->sources) bad = 1;
        for (size_t i = 0; !bad && i < m; i++)
            if (!(im->sources[i] = at_strdup(src->sources[idx[i]] ? src->sources[idx[i]] : "", err))) bad = 1;
    }
    if (!bad && src->ra && !(im->ra = pick(src->ra, idx, m, err))) bad = 1;
    if (!bad && src->dec && !(im->dec = pick(src->dec, idx, m, err))) bad = 1;
    if (!bad && src->redshift && !(im->redshift = pick(src->redshift, idx, m, err))) bad = 1;
    if (!bad && src->pxscale && !(im->pxscale = pick(src->pxscale, idx, m, err))) bad = 1;
    if (bad) {
        at_images_free(im);
        return AT_ERR_MEMORY;
    }
    *out = im;
    return AT_OK;
}

void at_images_free(at_images *im) {
    if (!im) return;
    if (im->class_names)
        for (size_t i = 0; i < im->n_classes; i++) free(im->class_names[i]);
    if (im->sources)
        for (size_t i = 0; i < im->n; i++) free(im->sources[i]);
    free(im->class_names);
    free(im->sources);
    free(im->pixels);
    free(im->y);
    free(im->ra);
    free(im->dec);
    free(im->redshift);
    free(im->pxscale);
    free(im);
}
