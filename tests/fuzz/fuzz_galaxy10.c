/* fuzz_galaxy10.c - Galaxy10-layout HDF5 image sets (images (N,H,W,3) uint8, ans (N), optional
 * ra/dec/redshift/pxscale) through at_images_load_galaxy10 with resizing; arbitrary bytes
 * (mostly damaged copies of a small synthetic set) give a status, never a crash. */
#include <stdint.h>
#include <stdlib.h>

#include "astrotrain/images.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    at_image_load_options o;
    at_image_load_options_default(&o);
    o.width = o.height = 4;
    o.max_images = 64;
    at_error err = {0};
    at_images *im = NULL;
    at_status s = at_images_load_galaxy10(fuzz_write(data, size), &o, &im, &err);
    if (s == AT_OK) {
        if (!im || !im->pixels || im->width != 4 || im->height != 4) abort();
        for (size_t i = 0; im->y && i < im->n; i++)
            if (im->y[i] < 0 || (size_t)im->y[i] >= (im->n_classes ? im->n_classes : 10)) abort();
    } else if (!err.msg[0] || im) {
        abort();
    }
    at_images_free(im);
    return 0;
}
