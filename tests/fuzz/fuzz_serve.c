/* fuzz_serve.c - the prediction service's request handlers without sockets: the first byte
 * picks the method and content type, the bytes up to the first newline are the URL, the rest
 * the body (JSON rows, CSV, V2 infer tensors, multipart, images). Served model: the in-memory
 * forest of serve_fixture.h, limits of 64 rows and 64 KiB. Image bodies also go straight
 * through the header reader and the decoder (to an 8x8 RGB input), which the table model
 * never reaches; bodies starting "SIMPLE  =" reach the FITS cutout reader (CFITSIO mem file). Properties: a status from 200 to 599; every non-200 answer is one line of
 * JSON with an "error"; every JSON answer parses; never a crash, leak or hang. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/serve.h"
#include "serve/serve_internal.h"
#include "serve_fixture.h"

static at_server *fuzz_serve_server_;
static at_bundle *fuzz_serve_bundle_; /* the decoder's model (FITS uploads read its scaling) */

static void fuzz_serve_free_(void) {
    at_server_free(fuzz_serve_server_);
    at_bundle_free(fuzz_serve_bundle_);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (!fuzz_serve_server_) {
        at_serve_options o;
        at_serve_options_default(&o);
        o.max_rows = 64, o.max_body = 65536, o.max_image_side = 256;
        at_error err = {0};
        at_bundle *b = sf_bundle();
        if (!b || at_server_new(&o, &fuzz_serve_server_, &err) || at_server_add_bundle(fuzz_serve_server_, "rf", b, &err) ||
            at_server_seal(fuzz_serve_server_, &err) || !(fuzz_serve_bundle_ = sf_bundle()))
            abort();
        atexit(fuzz_serve_free_);
    }
    static const char *const methods[4] = {"GET", "POST", "HEAD", "PUT"};
    static const char *const types[8] = {"application/json", "text/csv", "image/png", "image/jpeg",
                                         "multipart/form-data; boundary=B", NULL, "text/plain", "application/octet-stream"};
    uint8_t sel = data[0];
    const uint8_t *nl = memchr(data + 1, '\n', size - 1);
    size_t ulen = nl ? (size_t)(nl - data - 1) : size - 1;
    char url[256];
    if (ulen > sizeof url - 1) ulen = sizeof url - 1;
    memcpy(url, data + 1, ulen);
    url[ulen] = 0; /* a NUL inside ends it, as in a C string from the HTTP layer */
    const uint8_t *body = nl ? nl + 1 : data + size;
    size_t blen = (size_t)(data + size - body);
    at_serve_request rq = {.method = methods[sel & 3], .url = url, .query = (sel & 0x80) ? "index=1" : NULL,
                           .content_type = types[(sel >> 2) & 7], .body = body, .body_len = blen};
    at_serve_response rs;
    at_serve_handle(fuzz_serve_server_, &rq, &rs);
    if (rs.status < 200 || rs.status > 599 || (!rs.body && rs.body_len)) abort();
    if (rs.content_type && strncmp(rs.content_type, "application/json", 16) == 0) {
        json_error_t je;
        json_t *j = json_loadb(rs.body, rs.body_len, 0, &je);
        if (!j) abort();
        if (rs.status != 200 && (!json_is_string(json_object_get(j, "error")) ||
                                 memchr(rs.body, '\n', rs.body_len) != rs.body + rs.body_len - 1))
            abort();
        json_decref(j);
    } else if (rs.status != 200) {
        abort();
    }
    at_serve_record(fuzz_serve_server_, &rs, 1e-4);
    at_serve_response_clear(&rs);
    /* image bodies straight to the decoder */
    const uint8_t *part = body;
    size_t plen = blen;
    if (((sel >> 2) & 7) == 4) at_serve_multipart_file(types[4], body, blen, &part, &plen);
    at_served v;
    memset(&v, 0, sizeof v);
    v.h = 8, v.w = 8, v.c = 3, v.b = fuzz_serve_bundle_;
    uint8_t px[8 * 8 * 3];
    at_error err = {0};
    int hs = 0;
    if (at_serve_decode_image(&v, part, plen, 256, px, &err, &hs) && (!err.msg[0] || (hs != 400 && hs != 413))) abort();
    return 0;
}
