/* images_decode.c - reading one image file and telling PNG from JPEG by its first bytes
 * (never by its name: a .jpg that is really a PNG still loads). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/images_internal.h"

int at_img_sniff(const uint8_t *buf, size_t n) {
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n >= 8 && memcmp(buf, png_sig, 8) == 0) return AT_IMG_PNG;
    if (n >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff) return AT_IMG_JPEG;
    return AT_IMG_UNKNOWN;
}

at_status img_read_file(const char *path, const char *as, at_status open_code, const char *kind, uint8_t **buf,
                        size_t *n, at_error *err) {
    *buf = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return at_fail(err, open_code, "%s: cannot open%s: %s", path, as, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return at_fail(err, open_code, "%s: cannot open%s: not a regular file", path, as);
    }
    if ((uint64_t)sb.st_size > AT_IMG_MAX_FILE) {
        fclose(f);
        return at_fail(err, AT_ERR_DATA, "%s: %s file of %lld bytes is too large", path, kind, (long long)sb.st_size);
    }
    size_t len = (size_t)sb.st_size;
    uint8_t *b = at_malloc(len ? len : 1, 1, err);
    if (!b) {
        fclose(f);
        return AT_ERR_MEMORY;
    }
    size_t got = fread(b, 1, len, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr || got != len) {
        free(b);
        return at_fail(err, AT_ERR_IO, "%s: read error", path);
    }
    *buf = b;
    *n = len;
    return AT_OK;
}

at_status at_img_decode_file(const char *path, at_img_raw *out, at_error *err) {
    memset(out, 0, sizeof *out);
    uint8_t *buf;
    size_t n;
    at_status rs = img_read_file(path, "", AT_ERR_IO, "image", &buf, &n, err);
    if (rs != AT_OK) return rs;
    at_status st;
    switch (at_img_sniff(buf, n)) {
    case AT_IMG_PNG: st = at_png_decode(path, buf, n, out, err); break;
    case AT_IMG_JPEG: st = at_jpeg_decode(path, buf, n, out, err); break;
    default: st = at_fail(err, AT_ERR_DATA, "%s: neither a PNG nor a JPEG file", path); break;
    }
    free(buf);
    return st;
}
