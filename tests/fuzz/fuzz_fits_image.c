/* fuzz_fits_image.c - FITS image cutouts (images_fits.c, through CFITSIO) via
 * at_images_load_files, as predict reads single files: header parsing, HDU search, the
 * 2-D/3-D and band checks, pixel reading (BLANK, NaN), the three band scalings and
 * resizing. The first byte picks the scaling and the target size; the rest is the file
 * (seeds: cutouts written by astropy, tests/fuzz/corpus/fits_image/). Properties: no crash,
 * an error always has a message, a loaded cutout has 1 to AT_IMG_MAX_BANDS channels and the
 * asked size. The same bytes also go through the in-memory reader (CFITSIO mem file, the
 * prediction server's uploads; the file reader reads the file and calls it): a FITS file
 * decodes there exactly as from disk; a gzip stream is inflated there first. */
#include <stdint.h>
#include <stdlib.h>

#include <string.h>

#include "astrotrain/images.h"
#include "data/images_internal.h"
#include "fuzz_util.h"

#ifndef AT_FUZZ_NO_ASAN_OPTIONS
/* CFITSIO sizes allocations from header values (see fuzz_fits.c). */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t sel = data[0];
    at_image_load_options o;
    at_image_load_options_default(&o);
    o.scaling = sel % 3;
    o.width = o.height = (sel >> 2) & 1 ? 5 : 0;
    const char *path = fuzz_write(data + 1, size - 1);
    at_error err = {0};
    at_images *im = NULL;
    at_status s = at_images_load_files(&path, 1, &o, &im, &err);
    if (s == AT_OK) {
        if (!im || im->n != 1 || !im->pixels || im->channels < 1 || im->channels > AT_IMG_MAX_BANDS) abort();
        if (o.width && (im->width != o.width || im->height != o.height)) abort();
        unsigned sum = 0;
        for (size_t i = 0; i < im->height * im->width * im->channels; i++) sum += im->pixels[i];
        if (sum == 0xFFFFFFFFu) abort();
    } else if (!err.msg[0] || im) {
        abort();
    }
    at_images_free(im);
    /* the in-memory reader against the file reader on the same bytes */
    at_img_raw fm = {0}, fd = {0};
    at_error e1 = {0}, e2 = {0};
    int big = 0;
    at_status sm = at_img_fits_decode_mem("upload", data + 1, size - 1, o.scaling, AT_IMG_MAX_SIDE, &fm, &big, &e1);
    if (sm && (!e1.msg[0] || fm.px)) abort();
    if (size > 10 && memcmp(data + 1, "SIMPLE  =", 9) == 0) {
        at_status sd = at_img_fits_decode_file(path, o.scaling, &fd, &e2);
        if ((sm == AT_OK) != (sd == AT_OK)) abort();
        if (sm == AT_OK && (fm.h != fd.h || fm.w != fd.w || fm.c != fd.c ||
                            memcmp(fm.px, fd.px, fm.h * fm.w * fm.c) != 0))
            abort();
    } else if (sm == AT_OK && !(size > 3 && data[1] == 0x1f && data[2] == 0x8b)) {
        abort(); /* neither FITS nor gzip in memory: always refused */
    }
    free(fm.px), free(fd.px);
    return 0;
}
