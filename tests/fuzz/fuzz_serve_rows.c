/* fuzz_serve_rows.c - the server's fast {"rows": [...]} reader (yajl callbacks) against
 * jansson, differentially: the input is the body; whenever the fast reader accepts it,
 * jansson (JSON_REJECT_DUPLICATES, as the server's own fallback reads) must read it too, as
 * an object whose "rows" array holds the same number of rows, each with every feature, and
 * each value bit for bit json_number_value's (null: NaN). Rows stay within the limit (8).
 * Never a crash, leak or hang. A declined body is always fine: jansson then decides. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const feats[3] = {"u", "g", "redshift"};
    double *X = NULL;
    size_t n = 0;
    if (!at_serve_rows_json_fast(feats, 3, 8, data, size, &X, &n)) {
        if (X || n) abort();
        return 0;
    }
    if (!X || n > 8) abort();
    json_error_t je;
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    json_t *rows = json_object_get(root, "rows");
    if (!root || !json_is_object(root) || json_object_size(root) != 1 || !json_is_array(rows) ||
        json_array_size(rows) != n)
        abort();
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(rows, i);
        if (!json_is_object(r)) abort();
        for (size_t j = 0; j < 3; j++) {
            json_t *x = json_object_get(r, feats[j]);
            if (!x) abort();
            if (json_is_null(x)) {
                if (!isnan(X[i * 3 + j])) abort();
                continue;
            }
            if (!json_is_number(x)) abort();
            double want = json_number_value(x);
            if (memcmp(&want, &X[i * 3 + j], sizeof want) != 0) abort();
        }
    }
    json_decref(root);
    free(X);
    return 0;
}
