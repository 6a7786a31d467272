/* clean.c - drops unphysical rows: a feature equal to the sentinel (SDSS writes -9999
 * for a failed magnitude) or, unless missing values are kept for the model, not finite. */
#include <math.h>
#include <string.h>

#include "astrotrain/preprocess.h"

at_status at_clean_rows(at_dataset *ds, int use_sentinel, double sentinel, int keep_nan,
                        size_t *dropped, at_error *err) {
    (void)err;
    size_t d = ds->d, w = 0;
    for (size_t i = 0; i < ds->n; i++) {
        const double *x = ds->X + i * d;
        int bad = 0;
        for (size_t j = 0; j < d && !bad; j++) {
            if (use_sentinel && x[j] == sentinel) bad = 1;
            else if (!keep_nan && !isfinite(x[j])) bad = 1;
        }
        if (bad) continue;
        if (w != i) {
            memmove(ds->X + w * d, x, d * sizeof(double));
            ds->row[w] = ds->row[i];
            if (ds->y) ds->y[w] = ds->y[i];
        }
        w++;
    }
    *dropped = ds->n - w;
    ds->n = w;
    return AT_OK;
}
