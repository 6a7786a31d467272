/* png_io.c - PNG through libpng: decoding from memory (any bit depth, palette, grey, alpha:
 * reduced to 8-bit grey or RGB) and atomic writing of single images and image grids.
 *
 * libpng reports errors by calling an error function that must not return; ours records
 * the message and longjmp()s back, so a corrupt file is an AT_ERR_DATA, never an abort
 * and never a line on stderr. Warnings (odd ancillary chunks) are ignored. */
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/atomic_file.h"
#include "data/images_internal.h"

typedef struct png_ctx {
    jmp_buf jb;
    char msg[200];
    const uint8_t *buf;
    size_t n, pos;
} png_ctx;

static void on_error(png_structp png, png_const_charp msg) {
    png_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->msg, sizeof ctx->msg, "%s", msg);
    longjmp(ctx->jb, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void on_read(png_structp png, png_bytep out, png_size_t len) {
    png_ctx *ctx = png_get_io_ptr(png);
    if (len > ctx->n - ctx->pos) png_error(png, "file is truncated");
    memcpy(out, ctx->buf + ctx->pos, len);
    ctx->pos += len;
}

/* The decoder's state lives in a struct so that nothing set between setjmp and longjmp
 * needs to be volatile (only fields reached through a pointer are touched). */
typedef struct png_dec {
    png_ctx ctx;
    png_structp png;
    png_infop info;
    uint8_t *px;
    png_bytep *rows;
} png_dec;

at_status at_png_decode(const char *name, const uint8_t *buf, size_t n, at_img_raw *out, at_error *err) {
    memset(out, 0, sizeof *out);
    png_dec *d = at_calloc(1, sizeof *d, err);
    if (!d) return AT_ERR_MEMORY;
    at_status st = AT_OK;
    d->ctx.buf = buf;
    d->ctx.n = n;
    d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &d->ctx, on_error, on_warning);
    if (!d->png || !(d->info = png_create_info_struct(d->png))) {
        st = at_fail(err, AT_ERR_MEMORY, "%s: cannot set up the PNG decoder", name);
        goto done;
    }
    if (setjmp(d->ctx.jb)) {
        st = at_fail(err, AT_ERR_DATA, "%s: corrupt PNG data: %s", name, d->ctx.msg);
        goto done;
    }
    png_set_read_fn(d->png, &d->ctx, on_read);
    png_set_user_limits(d->png, AT_IMG_MAX_SIDE, AT_IMG_MAX_SIDE);
    png_read_info(d->png, d->info);
    png_uint_32 w, h;
    int depth, ctype;
    png_get_IHDR(d->png, d->info, &w, &h, &depth, &ctype, NULL, NULL, NULL);
    if (w == 0 || h == 0 || w > AT_IMG_MAX_SIDE || h > AT_IMG_MAX_SIDE) {
        st = at_fail(err, AT_ERR_DATA, "%s: PNG of %lux%lu pixels (at most %ux%u accepted)", name,
                     (unsigned long)w, (unsigned long)h, AT_IMG_MAX_SIDE, AT_IMG_MAX_SIDE);
        goto done;
    }
    /* Everything to 8-bit grey or RGB without alpha. */
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(d->png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(d->png);
    if (depth == 16) png_set_strip_16(d->png);
    if (ctype & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(d->png);
    /* tRNS (transparency for palette/grey/RGB) would add an alpha channel only if expanded; not asked. */
    if (png_get_interlace_type(d->png, d->info) != PNG_INTERLACE_NONE) png_set_interlace_handling(d->png);
    png_read_update_info(d->png, d->info);
    size_t c = png_get_channels(d->png, d->info);
    if (c != 1 && c != 3) {
        st = at_fail(err, AT_ERR_DATA, "%s: PNG decodes to %zu channels, expected 1 or 3", name, c);
        goto done;
    }
    size_t rowbytes = png_get_rowbytes(d->png, d->info);
    if (rowbytes != (size_t)w * c) {
        st = at_fail(err, AT_ERR_DATA, "%s: unexpected PNG row size %zu", name, rowbytes);
        goto done;
    }
    if (!(d->px = at_malloc((size_t)h * w, c, err)) || !(d->rows = at_malloc(h, sizeof *d->rows, err))) {
        st = AT_ERR_MEMORY;
        goto done;
    }
    for (size_t y = 0; y < h; y++) d->rows[y] = d->px + y * rowbytes;
    png_read_image(d->png, d->rows);
    png_read_end(d->png, NULL);
    out->h = h;
    out->w = w;
    out->c = c;
    out->px = d->px;
    d->px = NULL;
done:
    png_destroy_read_struct(d->png ? &d->png : NULL, d->info ? &d->info : NULL, NULL);
    free(d->px);
    free(d->rows);
    free(d);
    return st;
}

/* ---- writing ------------------------------------------------------------------------------ */

typedef struct png_enc {
    png_ctx ctx;
    png_structp png;
    png_infop info;
} png_enc;

at_status at_png_write(const char *path, const uint8_t *pixels, size_t h, size_t w, size_t c, at_error *err) {
    if (h == 0 || w == 0 || h > AT_IMG_MAX_SIDE * 4 || w > AT_IMG_MAX_SIDE * 4 || (c != 1 && c != 3))
        return at_fail(err, AT_ERR_INTERNAL, "%s: cannot write a %zux%zux%zu PNG", path, h, w, c);
    at_afile *f = at_afile_open(path, err);
    if (!f) return AT_ERR_IO;
    png_enc *e = at_calloc(1, sizeof *e, err);
    if (!e) {
        at_afile_abort(f);
        return AT_ERR_MEMORY;
    }
    at_status st = AT_OK;
    e->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &e->ctx, on_error, on_warning);
    if (!e->png || !(e->info = png_create_info_struct(e->png))) {
        st = at_fail(err, AT_ERR_MEMORY, "%s: cannot set up the PNG encoder", path);
        goto done;
    }
    if (setjmp(e->ctx.jb)) {
        st = at_fail(err, AT_ERR_IO, "%s: cannot write PNG: %s", path, e->ctx.msg);
        goto done;
    }
    png_init_io(e->png, at_afile_stream(f));
    png_set_IHDR(e->png, e->info, (png_uint_32)w, (png_uint_32)h, 8, c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(e->png, e->info);
    for (size_t y = 0; y < h; y++) png_write_row(e->png, pixels + y * w * c);
    png_write_end(e->png, NULL);
done:
    png_destroy_write_struct(e->png ? &e->png : NULL, e->info ? &e->info : NULL);
    free(e);
    if (st) {
        at_afile_abort(f);
        return st;
    }
    return at_afile_commit(f, err);
}

at_status at_png_grid(const char *path, const at_images *im, const size_t *idx, size_t count, size_t cols,
                      size_t scale, at_error *err) {
    if (!im || im->n == 0 || count == 0)
        return at_fail(err, AT_ERR_DATA, "%s: no images for the grid", path);
    if (cols == 0) cols = count < 10 ? count : 10;
    if (scale == 0) scale = 1;
    /* FITS cutouts of 2 or more than 3 bands: the tiles show band 1 as grey (2 bands) or bands
     * 1-3 as RGB (more); c = channels drawn, ic = channels per source pixel */
    size_t rows = (count + cols - 1) / cols, gap = 2, ic = im->channels;
    size_t c = ic == 1 || ic == 3 ? ic : ic == 2 ? 1 : 3;
    size_t th = im->height * scale, tw = im->width * scale;
    size_t H = rows * th + (rows + 1) * gap, W = cols * tw + (cols + 1) * gap;
    if (H > AT_IMG_MAX_SIDE * 4 || W > AT_IMG_MAX_SIDE * 4)
        return at_fail(err, AT_ERR_DATA, "%s: grid of %zux%zu pixels is too large", path, W, H);
    uint8_t *canvas = at_malloc(H * W, c, err);
    if (!canvas) return AT_ERR_MEMORY;
    memset(canvas, 40, H * W * c); /* dark grey frame between tiles */
    size_t per = im->height * im->width * ic;
    for (size_t t = 0; t < count; t++) {
        size_t k = idx ? idx[t] : t;
        if (k >= im->n) {
            free(canvas);
            return at_fail(err, AT_ERR_INTERNAL, "%s: grid index %zu out of range (n = %zu)", path, k, im->n);
        }
        const uint8_t *src = im->pixels + k * per;
        size_t oy = gap + (t / cols) * (th + gap), ox = gap + (t % cols) * (tw + gap);
        for (size_t y = 0; y < th; y++) {
            uint8_t *d = canvas + ((oy + y) * W + ox) * c;
            const uint8_t *s = src + (y / scale) * im->width * ic;
            for (size_t x = 0; x < tw; x++) memcpy(d + x * c, s + (x / scale) * ic, c);
        }
    }
    at_status st = at_png_write(path, canvas, H, W, c, err);
    free(canvas);
    return st;
}
