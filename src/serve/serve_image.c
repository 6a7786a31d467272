/* serve_image.c - image request bodies for the prediction service: the size an uploaded
 * PNG or JPEG claims (read from its header, before any pixel is decoded, so a small file
 * that would decode to gigabytes is refused with 413), decoding and resizing it to the
 * model's input exactly as `predict` does for an image file, and the file part of a
 * multipart/form-data body. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/images_internal.h"
#include "serve/serve_internal.h"

static size_t be16(const uint8_t *p) { return (size_t)p[0] << 8 | p[1]; }
static size_t be32(const uint8_t *p) { return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3]; }

int at_serve_image_size(const uint8_t *buf, size_t n, size_t *w, size_t *h) {
    *w = *h = 0;
    int kind = at_img_sniff(buf, n);
    if (kind == AT_IMG_PNG) {
        /* signature (8), chunk length (4), "IHDR", width (4), height (4) */
        if (n < 24 || memcmp(buf + 12, "IHDR", 4) != 0) return kind;
        *w = be32(buf + 16), *h = be32(buf + 20);
        return kind;
    }
    if (kind == AT_IMG_JPEG) {
        /* walk the marker segments up to the first start-of-frame */
        size_t i = 2;
        while (i + 4 <= n) {
            if (buf[i] != 0xff) return kind;
            uint8_t mk = buf[i + 1];
            if (mk == 0xff) { /* fill byte */
                i++;
                continue;
            }
            if (mk == 0xd8 || mk == 0x01 || (mk >= 0xd0 && mk <= 0xd7)) { /* no length */
                i += 2;
                continue;
            }
            size_t len = be16(buf + i + 2);
            if (mk >= 0xc0 && mk <= 0xcf && mk != 0xc4 && mk != 0xc8 && mk != 0xcc) {
                if (i + 9 <= n) *h = be16(buf + i + 5), *w = be16(buf + i + 7);
                return kind;
            }
            if (len < 2) return kind;
            i += 2 + len;
        }
    }
    return kind;
}

at_status at_serve_decode_image(const at_served *v, const uint8_t *buf, size_t n, size_t max_side, uint8_t *dst,
                                at_error *err, int *http_status) {
    size_t w = 0, h = 0;
    if ((n >= 9 && memcmp(buf, "SIMPLE  =", 9) == 0) || (n >= 2 && buf[0] == 0x1f && buf[1] == 0x8b))
        /* a FITS cutout, plain or gzip'd (serve_fits.c) */
        return at_serve_decode_fits(v, buf, n, max_side, dst, err, http_status);
    int kind = at_serve_image_size(buf, n, &w, &h);
    *http_status = 400;
    if (kind == AT_IMG_UNKNOWN) return at_fail(err, AT_ERR_DATA, "the body is neither a PNG nor a JPEG image (nor FITS)");
    if (v->c != 1 && v->c != 3) /* FITS-trained: more bands than a PNG/JPEG has */
        return at_fail(err, AT_ERR_DATA, "upload: a PNG/JPEG image has 1 or 3 channels but the model takes %zu (send a "
                       "FITS cutout)", v->c);
    if (w > max_side || h > max_side) {
        *http_status = 413;
        return at_fail(err, AT_ERR_DATA, "image of %zux%zu pixels is over the limit of %zu on a side", w, h, max_side);
    }
    at_img_raw raw = {0};
    at_status st = kind == AT_IMG_PNG ? at_png_decode("upload", buf, n, &raw, err)
                                      : at_jpeg_decode("upload", buf, n, &raw, err);
    if (st) return st;
    if (raw.w > max_side || raw.h > max_side) { /* a header the size reader missed */
        free(raw.px);
        *http_status = 413;
        return at_fail(err, AT_ERR_DATA, "image of %zux%zu pixels is over the limit of %zu on a side", raw.w, raw.h,
                       max_side);
    }
    at_resampler *r = NULL;
    st = at_resampler_new(raw.h, raw.w, raw.c, 1.0, v->h, v->w, v->c, &r, err);
    if (!st) at_resampler_run(r, raw.px, dst);
    at_resampler_free(r);
    free(raw.px);
    return st;
}

static const uint8_t *find(const uint8_t *hay, size_t n, const char *needle, size_t m) {
    if (m == 0 || n < m) return NULL;
    for (const uint8_t *p = hay; (p = memchr(p, needle[0], (size_t)(hay + n - p) - m + 1)); p++)
        if (memcmp(p, needle, m) == 0) return p;
    return NULL;
}

int at_serve_multipart_file(const char *content_type, const uint8_t *body, size_t n, const uint8_t **part,
                            size_t *part_len) {
    const char *b = content_type ? strcasestr(content_type, "boundary=") : NULL;
    if (!b) return 0;
    b += 9;
    char delim[200] = "\r\n--";
    size_t bl = 0;
    int quoted = *b == '"';
    b += quoted;
    while (b[bl] && bl < 190 && (quoted ? b[bl] != '"' : (b[bl] != ';' && b[bl] != ' '))) bl++;
    if (!bl) return 0;
    memcpy(delim + 4, b, bl);
    size_t dl = 4 + bl;
    delim[dl] = 0;
    /* the first delimiter may start the body without the CRLF */
    const uint8_t *p = n >= dl - 2 && memcmp(body, delim + 2, dl - 2) == 0 ? body : find(body, n, delim, dl);
    while (p) {
        p += p == body ? dl - 2 : dl;
        const uint8_t *end = body + n;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') return 0; /* closing delimiter */
        const uint8_t *hdr_end = find(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hdr_end) return 0;
        const uint8_t *data = hdr_end + 4;
        const uint8_t *next = find(data, (size_t)(end - data), delim, dl);
        if (!next) return 0;
        /* a file part has a filename in its Content-Disposition */
        if (find(p, (size_t)(hdr_end - p), "filename=", 9)) {
            *part = data, *part_len = (size_t)(next - data);
            return 1;
        }
        p = next;
    }
    return 0;
}
