/* fuzz_image.c - single image files (PNG or JPEG, told apart by content) through
 * at_images_load_files: decoding, grey/RGB conversion, centre crop and resizing. The first
 * byte picks the options (target size, channels, crop); the rest is the file. A status,
 * never a crash, and never an allocation beyond what the (bounded) image size allows. */
#include <stdint.h>
#include <stdlib.h>

#include "astrotrain/images.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t sel = data[0];
    at_image_load_options o;
    at_image_load_options_default(&o);
    static const size_t sizes[4] = {0, 1, 7, 32};
    o.width = o.height = sizes[sel & 3];
    o.channels = (sel >> 2) & 1 ? 1 : 3;
    o.crop = (sel >> 3) & 1 ? 0.5 : 1.0;
    const char *path = fuzz_write(data + 1, size - 1);
    at_error err = {0};
    at_images *im = NULL;
    at_status s = at_images_load_files(&path, 1, &o, &im, &err);
    if (s == AT_OK) {
        if (!im || im->n != 1 || !im->pixels || im->channels != o.channels) abort();
        if (o.width && (im->width != o.width || im->height != o.height)) abort();
        unsigned sum = 0; /* touch every pixel: the sanitizers check the extent */
        for (size_t i = 0; i < im->height * im->width * im->channels; i++) sum += im->pixels[i];
        if (sum == 0xFFFFFFFFu) abort(); /* cannot happen; keeps the loop */
    } else if (!err.msg[0] || im) {
        abort();
    }
    at_images_free(im);
    return 0;
}
