/* gunzip_mem.c - a gzip stream in memory inflated into a new buffer of at most cap bytes (the
 * prediction server's gzip'd FITS uploads): the output is bounded before it is allocated, so a
 * small body that would inflate to gigabytes is refused, not decompressed. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/images_internal.h"

at_status at_gunzip_mem(const char *name, const uint8_t *buf, size_t n, size_t cap, uint8_t **out, size_t *out_n,
                        int *too_large, at_error *err) {
    *out = NULL, *out_n = 0;
    if (too_large) *too_large = 0;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK) return at_fail(err, AT_ERR_MEMORY, "%s: cannot start zlib", name);
    size_t size = n < cap / 4 ? 4 * n : cap, used = 0;
    if (size < 4096) size = cap < 4096 ? cap : 4096;
    uint8_t *o = at_malloc(size ? size : 1, 1, err);
    at_status st = o ? AT_OK : AT_ERR_MEMORY;
    const uint8_t *in = buf;
    size_t left = n;
    int zr = Z_OK;
    while (!st && zr != Z_STREAM_END) {
        if (used == size) {
            if (size >= cap) {
                if (too_large) *too_large = 1;
                st = at_fail(err, AT_ERR_DATA, "%s: gzip data inflate to more than %zu bytes", name, cap);
                break;
            }
            size_t ns = size > cap / 2 ? cap : 2 * size;
            uint8_t *g = realloc(o, ns);
            if (!g) {
                st = at_fail(err, AT_ERR_MEMORY, "%s: out of memory inflating gzip data", name);
                break;
            }
            o = g, size = ns;
        }
        uInt chunk_in = left > (1u << 30) ? (1u << 30) : (uInt)left;
        size_t room = size - used;
        z.next_in = (Bytef *)(uintptr_t)in, z.avail_in = chunk_in;
        z.next_out = o + used, z.avail_out = room > (1u << 30) ? (1u << 30) : (uInt)room;
        uInt before_in = z.avail_in, before_out = z.avail_out;
        zr = inflate(&z, Z_NO_FLUSH);
        in += before_in - z.avail_in, left -= before_in - z.avail_in;
        used += before_out - z.avail_out;
        if (zr == Z_STREAM_END) break;
        if (zr != Z_OK && !(zr == Z_BUF_ERROR && z.avail_out == 0))
            st = at_fail(err, AT_ERR_DATA, "%s: truncated or corrupt gzip data", name);
        else if (left == 0 && z.avail_out != 0)
            st = at_fail(err, AT_ERR_DATA, "%s: truncated or corrupt gzip data", name);
    }
    inflateEnd(&z);
    if (st) {
        free(o);
        return st;
    }
    *out = o, *out_n = used;
    return AT_OK;
}
