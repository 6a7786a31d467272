/* fuzz_model.c - model files (HDF5): at_bundle_load on arbitrary bytes must return a
 * status and never crash, allocate without bound or leak (beyond libhdf5's own leaks on
 * corrupt metadata, suppressed in fuzz_util.h). A file that loads must then predict a few
 * rows (including NaN and huge values) without reading outside its arrays, so the loader's
 * structural checks (tree links, sizes) are exercised too. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "astrotrain/pipeline.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    at_error err = {0};
    at_bundle *b = NULL;
    at_status s = at_bundle_load(fuzz_write(data, size), &b, &err);
    if (s != AT_OK) {
        if (!err.msg[0] || b) abort();
        return 0;
    }
    if (!b->model || b->d == 0 || b->d > 4096 || b->k == 0 || b->k > 100000) {
        at_bundle_free(b); /* huge but consistent files are legal; just do not predict */
        return 0;
    }
    enum { ROWS = 4 };
    double *X = malloc(ROWS * b->d * sizeof *X), *P = malloc(ROWS * b->k * sizeof *P);
    if (!X || !P) abort();
    static const double probe[] = {0.0, -1e300, 1e300, NAN, 18.5, -3.25, 1e-310, 2.0};
    for (size_t i = 0; i < ROWS * b->d; i++) X[i] = probe[i % 8];
    if (b->scaler) at_scaler_apply(b->scaler, X, ROWS);
    /* Values are not checked: small datasets carry no checksum, so a flipped bit may change
     * a leaf's probabilities; what matters here is memory safety. */
    if (at_model_predict_proba(b->model, X, ROWS, P, 1, &err) != AT_OK && !err.msg[0]) abort();
    free(X);
    free(P);
    at_bundle_free(b);
    return 0;
}
