/* jpeg_io.c - JPEG decoding through libjpeg (the libjpeg62 API of libjpeg-turbo).
 *
 * libjpeg's default error manager prints and calls exit(); ours formats the message and
 * longjmp()s back. Warnings are treated as errors too: libjpeg "recovers" from a truncated
 * file or corrupt entropy data by inventing grey pixels, and a training set should not
 * silently contain such images. */
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h> /* before jpeglib.h, which needs FILE and size_t */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "data/images_internal.h"

typedef struct jerr {
    struct jpeg_error_mgr pub; /* first, so the cinfo's err pointer is ours */
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jerr;

static void on_error_exit(j_common_ptr cinfo) {
    jerr *e = (jerr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jb, 1);
}

static void on_emit(j_common_ptr cinfo, int level) {
    if (level < 0) on_error_exit(cinfo); /* a warning: corrupt data */
}

static void on_output(j_common_ptr cinfo) {
    (void)cinfo; /* library code never prints */
}

typedef struct jpeg_dec {
    struct jpeg_decompress_struct cinfo;
    jerr err;
    int created;
    uint8_t *px;
} jpeg_dec;

at_status at_jpeg_decode(const char *name, const uint8_t *buf, size_t n, at_img_raw *out, at_error *err) {
    memset(out, 0, sizeof *out);
    if (n > (size_t)0xffffffffu) return at_fail(err, AT_ERR_DATA, "%s: JPEG file too large", name);
    jpeg_dec *d = at_calloc(1, sizeof *d, err);
    if (!d) return AT_ERR_MEMORY;
    at_status st = AT_OK;
    d->cinfo.err = jpeg_std_error(&d->err.pub);
    d->err.pub.error_exit = on_error_exit;
    d->err.pub.emit_message = on_emit;
    d->err.pub.output_message = on_output;
    if (setjmp(d->err.jb)) {
        st = at_fail(err, AT_ERR_DATA, "%s: corrupt JPEG data: %s", name, d->err.msg);
        goto done;
    }
    jpeg_create_decompress(&d->cinfo);
    d->created = 1;
    jpeg_mem_src(&d->cinfo, buf, (unsigned long)n);
    jpeg_read_header(&d->cinfo, TRUE);
    size_t w = d->cinfo.image_width, h = d->cinfo.image_height;
    if (w == 0 || h == 0 || w > AT_IMG_MAX_SIDE || h > AT_IMG_MAX_SIDE) {
        st = at_fail(err, AT_ERR_DATA, "%s: JPEG of %zux%zu pixels (at most %ux%u accepted)", name, w, h,
                     AT_IMG_MAX_SIDE, AT_IMG_MAX_SIDE);
        goto done;
    }
    /* Grey stays grey; everything else (YCbCr, RGB, CMYK/YCCK) becomes RGB where libjpeg can. */
    d->cinfo.out_color_space = d->cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
    if (d->cinfo.jpeg_color_space == JCS_CMYK || d->cinfo.jpeg_color_space == JCS_YCCK) {
        st = at_fail(err, AT_ERR_DATA, "%s: CMYK JPEG images are not supported", name);
        goto done;
    }
    jpeg_start_decompress(&d->cinfo);
    size_t c = (size_t)d->cinfo.output_components;
    if ((c != 1 && c != 3) || d->cinfo.output_width != w || d->cinfo.output_height != h) {
        st = at_fail(err, AT_ERR_DATA, "%s: JPEG decodes to an unexpected %ux%ux%zu layout", name,
                     d->cinfo.output_width, d->cinfo.output_height, c);
        goto done;
    }
    if (!(d->px = at_malloc(h * w, c, err))) {
        st = AT_ERR_MEMORY;
        goto done;
    }
    while (d->cinfo.output_scanline < d->cinfo.output_height) {
        JSAMPROW row = d->px + (size_t)d->cinfo.output_scanline * w * c;
        jpeg_read_scanlines(&d->cinfo, &row, 1);
    }
    jpeg_finish_decompress(&d->cinfo);
    out->h = h;
    out->w = w;
    out->c = c;
    out->px = d->px;
    d->px = NULL;
done:
    if (d->created) jpeg_destroy_decompress(&d->cinfo);
    free(d->px);
    free(d);
    return st;
}
