/* images_resize.c - centre crop, area-average resizing and channel conversion.
 *
 * Area averaging with exact integer weights: along one axis, input pixel i covers
 * [i*dst, (i+1)*dst) and output pixel o covers [o*src, (o+1)*src) in units of 1/(src*dst)
 * of the axis, so every weight is an integer overlap and the weights of one output add up
 * to src. An output value is sum(wy * wx * p) / (src_h * src_w), rounded half up. For an
 * integral factor f this is exactly the f x f box average; other factors get fractional
 * area weights; enlarging gives nearest-neighbour blocks. Separable: rows first (sums fit
 * in uint32), then columns (uint64). The tables are built once per geometry, so the
 * Galaxy10 reader pays for them once, not per image. */
#include <stdlib.h>
#include <string.h>

#include "data/images_internal.h"

typedef struct axis {
    size_t *first, *count, *off; /* per output: first input index, how many, where the weights start */
    uint32_t *w;
} axis;

struct at_resampler {
    size_t sh, sw, sc, dh, dw, dc, y0, x0, ch, cw;
    int identity;
    axis ax, ay;
    uint32_t *rows; /* ch x dw x sc row sums */
    uint8_t *tmp;   /* dh x dw x sc before channel conversion */
};

static void axis_free(axis *a) {
    free(a->first);
    free(a->count);
    free(a->off);
    free(a->w);
}

static at_status axis_build(axis *a, size_t src, size_t dst, at_error *err) {
    /* Each output touches at most src/dst + 2 inputs. */
    size_t cap = dst * (src / dst + 2);
    a->first = at_malloc(dst, sizeof *a->first, err);
    a->count = at_malloc(dst, sizeof *a->count, err);
    a->off = at_malloc(dst, sizeof *a->off, err);
    a->w = at_malloc(cap, sizeof *a->w, err);
    if (!a->first || !a->count || !a->off || !a->w) return AT_ERR_MEMORY;
    size_t k = 0;
    for (size_t o = 0; o < dst; o++) {
        uint64_t lo = (uint64_t)o * src, hi = lo + src; /* output span */
        size_t i0 = (size_t)(lo / dst), i1 = (size_t)((hi + dst - 1) / dst);
        if (i1 > src) i1 = src;
        a->first[o] = i0;
        a->off[o] = k;
        for (size_t i = i0; i < i1; i++) {
            uint64_t a0 = (uint64_t)i * dst, a1 = a0 + dst;
            uint64_t s = a0 > lo ? a0 : lo, e = a1 < hi ? a1 : hi;
            a->w[k++] = (uint32_t)(e - s);
        }
        a->count[o] = i1 - i0;
    }
    return AT_OK;
}

at_status at_resampler_new(size_t sh, size_t sw, size_t sc, double crop, size_t dh, size_t dw, size_t dc,
                           at_resampler **out, at_error *err) {
    *out = NULL;
    if (sc != dc && !((sc == 1 && dc == 3) || (sc == 3 && dc == 1))) /* only grey <-> RGB converts */
        return at_fail(err, AT_ERR_DATA, "an image of %zu channel(s) cannot become %zu channels", sc, dc);
    at_resampler *r = at_calloc(1, sizeof *r, err);
    if (!r) return AT_ERR_MEMORY;
    r->sh = sh;
    r->sw = sw;
    r->sc = sc;
    r->dc = dc;
    /* Crop box: the rounded fraction of each side, centred (odd leftovers go to the far side). */
    r->ch = (size_t)(crop * (double)sh + 0.5);
    r->cw = (size_t)(crop * (double)sw + 0.5);
    if (r->ch < 1) r->ch = 1;
    if (r->cw < 1) r->cw = 1;
    if (r->ch > sh) r->ch = sh;
    if (r->cw > sw) r->cw = sw;
    r->y0 = (sh - r->ch) / 2;
    r->x0 = (sw - r->cw) / 2;
    r->dh = dh ? dh : r->ch;
    r->dw = dw ? dw : r->cw;
    r->identity = r->ch == sh && r->cw == sw && r->dh == sh && r->dw == sw;
    if (!r->identity) {
        if (axis_build(&r->ax, r->cw, r->dw, err) || axis_build(&r->ay, r->ch, r->dh, err) ||
            !(r->rows = at_malloc(r->ch * r->dw, sc * sizeof *r->rows, err))) {
            at_resampler_free(r);
            return AT_ERR_MEMORY;
        }
    }
    if (sc != dc && !(r->tmp = at_malloc(r->dh * r->dw, sc, err))) {
        at_resampler_free(r);
        return AT_ERR_MEMORY;
    }
    *out = r;
    return AT_OK;
}

void at_resampler_size(const at_resampler *r, size_t *dh, size_t *dw) {
    *dh = r->dh;
    *dw = r->dw;
}

void at_resampler_run(at_resampler *r, const uint8_t *src, uint8_t *dst) {
    size_t sc = r->sc, npix = r->dh * r->dw;
    uint8_t *res = r->sc == r->dc ? dst : r->tmp;
    if (r->identity) {
        if (res == dst) {
            memcpy(dst, src, npix * sc);
            return;
        }
        at_img_convert_channels(src, sc, dst, r->dc, npix);
        return;
    }
    /* Rows: horizontal weighted sums of the cropped rows. */
    for (size_t y = 0; y < r->ch; y++) {
        const uint8_t *row = src + ((r->y0 + y) * r->sw + r->x0) * sc;
        uint32_t *acc = r->rows + y * r->dw * sc;
        for (size_t o = 0; o < r->dw; o++) {
            const uint32_t *w = r->ax.w + r->ax.off[o];
            const uint8_t *p = row + r->ax.first[o] * sc;
            for (size_t c = 0; c < sc; c++) {
                uint32_t s = 0;
                for (size_t k = 0; k < r->ax.count[o]; k++) s += w[k] * p[k * sc + c];
                acc[o * sc + c] = s;
            }
        }
    }
    /* Columns: vertical weighted sums, then the exact rounded division. */
    uint64_t total = (uint64_t)r->ch * r->cw;
    size_t rowlen = r->dw * sc;
    for (size_t o = 0; o < r->dh; o++) {
        const uint32_t *w = r->ay.w + r->ay.off[o];
        const uint32_t *base = r->rows + r->ay.first[o] * rowlen;
        uint8_t *d = res + o * rowlen;
        for (size_t j = 0; j < rowlen; j++) {
            uint64_t s = 0;
            for (size_t k = 0; k < r->ay.count[o]; k++) s += (uint64_t)w[k] * base[k * rowlen + j];
            d[j] = (uint8_t)((s + total / 2) / total);
        }
    }
    if (res != dst) at_img_convert_channels(res, sc, dst, r->dc, npix);
}

void at_resampler_free(at_resampler *r) {
    if (!r) return;
    axis_free(&r->ax);
    axis_free(&r->ay);
    free(r->rows);
    free(r->tmp);
    free(r);
}
