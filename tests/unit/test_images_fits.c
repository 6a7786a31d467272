/* test_images_fits.c - FITS cutouts: the three band scalings against hand-computed values
 * (asinh's constants checked with numpy), NaN handling, and the CFITSIO reader's layout
 * (band-major file -> HWC bytes, round(255 v)) and its refusals, on files written here with
 * CFITSIO itself. */
#include <fitsio.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "astrotrain/images.h"
#include "data/images_internal.h"
#include "harness.h"

static void test_linear(void) {
    double v[4] = {1, 2, NAN, 5}; /* median of {1, 2, 5} = 2 replaces the NaN */
    at_img_scale_band(v, 4, AT_SCALING_LINEAR);
    CHECK_NEAR(v[0], 0.0, 1e-15);
    CHECK_NEAR(v[1], 0.25, 1e-15);
    CHECK_NEAR(v[2], 0.25, 1e-15);
    CHECK_NEAR(v[3], 1.0, 1e-15);
}

static void test_asinh(void) {
    /* med 2, MAD 1, soft 1.4826: (asinh((x-2)/1.4826) + A) / 2A, A = asinh(2/1.4826) */
    double v[5] = {0, 1, 2, 3, 4};
    at_img_scale_band(v, 5, AT_SCALING_ASINH);
    CHECK_NEAR(v[0], 0.0, 1e-12);
    CHECK_NEAR(v[1], 0.21495364, 1e-8);
    CHECK_NEAR(v[2], 0.5, 1e-12);
    CHECK_NEAR(v[3], 0.78504636, 1e-8);
    CHECK_NEAR(v[4], 1.0, 1e-12);
    /* MAD 0 (mostly constant): soft = (max - min) / 10 = 1; values 0,0,0,10 -> med 0 */
    double w[4] = {0, 0, 0, 10};
    at_img_scale_band(w, 4, AT_SCALING_ASINH);
    CHECK_NEAR(w[0], 0.0, 1e-12);
    CHECK_NEAR(w[3], 1.0, 1e-12);
}

static void test_zscale(void) {
    /* 0..18 and an outlier 100: the first fit rejects 100 (residual > 2.5 rms), the second
     * fits slope 1 exactly; limits 9.5 -/+ (1 / 0.25) * 20 / 2 = -30.5, 49.5 -> [0, 49.5] */
    double v[20];
    for (int i = 0; i < 19; i++) v[i] = i;
    v[19] = 100;
    at_img_scale_band(v, 20, AT_SCALING_ZSCALE);
    for (int i = 0; i < 19; i++) CHECK_NEAR(v[i], i / 49.5, 1e-12);
    CHECK_NEAR(v[19], 1.0, 0);
}

static void test_flat_and_nan(void) {
    double a[3] = {NAN, NAN, INFINITY};
    at_img_scale_band(a, 3, AT_SCALING_LINEAR);
    CHECK(a[0] == 0 && a[1] == 0 && a[2] == 0);
    double b[3] = {7, 7, 7};
    at_img_scale_band(b, 3, AT_SCALING_ASINH);
    CHECK(b[0] == 0 && b[2] == 0);
    double c[3] = {7, 7, 7};
    at_img_scale_band(c, 3, AT_SCALING_ZSCALE);
    CHECK(c[1] == 0);
}

/* values near the double range: hi - lo overflows to inf, inf / inf is NaN; every scaling
 * must still give numbers in [0, 1] (the uint8 conversion of a NaN is undefined) */
static void test_huge_values(void) {
    for (int how = 0; how < 3; how++) {
        double v[4] = {-DBL_MAX, DBL_MAX, 0.0, DBL_MAX / 2};
        at_img_scale_band(v, 4, how);
        for (int i = 0; i < 4; i++) CHECK(v[i] >= 0.0 && v[i] <= 1.0);
    }
}

static int write_fits(const char *path, int naxis, long *ax, const float *px, long n) {
    fitsfile *f = NULL;
    int st = 0;
    char name[300];
    snprintf(name, sizeof name, "!%s", path);
    fits_create_file(&f, name, &st);
    fits_create_img(f, FLOAT_IMG, naxis, ax, &st);
    if (n) fits_write_img(f, TFLOAT, 1, n, (float *)px, &st);
    fits_close_file(f, &st);
    return st;
}

static void test_reader(void) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/at_test_fits_%d.fits", (int)getpid());
    /* 2 x 2 pixels, 3 bands: band 0 = 0,1,2,3 (linear -> 0, 85, 170, 255), band 1 constant
     * (-> 0), band 2 = 10, NaN, 20, 30 (NaN -> median 20 -> 0.5 -> 128) */
    float px[12] = {0, 1, 2, 3, 5, 5, 5, 5, 10, NAN, 20, 30};
    long ax[3] = {2, 2, 3};
    CHECK(write_fits(path, 3, ax, px, 12) == 0);
    at_img_raw raw;
    at_error err = {0};
    CHECK_OK(at_img_fits_decode_file(path, AT_SCALING_LINEAR, &raw, &err), &err);
    CHECK(raw.h == 2 && raw.w == 2 && raw.c == 3);
    if (raw.px) {
        static const uint8_t want[12] = {0, 0, 0, 85, 0, 128, 170, 0, 128, 255, 0, 255};
        for (int i = 0; i < 12; i++) CHECK(raw.px[i] == want[i]);
    }
    free(raw.px);
    uint8_t head[16] = "SIMPLE  =      T";
    CHECK(at_img_is_fits(path, head, 16));
    long ax1[1] = {4};
    CHECK(write_fits(path, 1, ax1, px, 4) == 0);
    CHECK_FAIL(at_img_fits_decode_file(path, AT_SCALING_ASINH, &raw, &err), AT_ERR_DATA, &err, "is a 1-D image");
    /* any band count up to AT_IMG_MAX_BANDS: band b is channel b, each scaled on its own */
    long ax2[3] = {2, 2, 2};
    CHECK(write_fits(path, 3, ax2, px, 8) == 0);
    CHECK_OK(at_img_fits_decode_file(path, AT_SCALING_LINEAR, &raw, &err), &err);
    CHECK(raw.c == 2);
    if (raw.px) {
        static const uint8_t want2[8] = {0, 0, 85, 0, 170, 0, 255, 0};
        for (int i = 0; i < 8; i++) CHECK(raw.px[i] == want2[i]);
    }
    free(raw.px);
    /* 5 bands (ugriz): band b = b * 100 + pixel value ramps of different spans */
    float p5[20];
    for (int b = 0; b < 5; b++)
        for (int i = 0; i < 4; i++) p5[b * 4 + i] = (float)(b * 100 + i * (b + 1));
    p5[4 * 4 + 3] = NAN; /* band 4: 400, 405, 410, NaN -> median 405 -> 0, 0.5, 1, 0.5 */
    long ax5[3] = {2, 2, 5};
    CHECK(write_fits(path, 3, ax5, p5, 20) == 0);
    CHECK_OK(at_img_fits_decode_file(path, AT_SCALING_LINEAR, &raw, &err), &err);
    CHECK(raw.h == 2 && raw.w == 2 && raw.c == 5);
    if (raw.px) {
        static const uint8_t want5[20] = {0, 0, 0, 0, 0, 85, 85, 85, 85, 128, 170, 170, 170, 170, 255,
                                          255, 255, 255, 255, 128};
        for (int i = 0; i < 20; i++) CHECK(raw.px[i] == want5[i]);
    }
    free(raw.px);
    /* the same file from memory (the server's uploads) decodes the same */
    FILE *f = fopen(path, "rb");
    uint8_t mem[8 * 2880];
    size_t got = f ? fread(mem, 1, sizeof mem, f) : 0;
    if (f) fclose(f);
    CHECK(got == 2 * 2880);
    int big = 0;
    CHECK_OK(at_img_fits_decode_mem("upload", mem, got, AT_SCALING_LINEAR, 64, &raw, &big, &err), &err);
    CHECK(raw.c == 5 && big == 0);
    if (raw.px) CHECK(raw.px[5] == 85 && raw.px[9] == 128 && raw.px[19] == 128);
    free(raw.px);
    CHECK_FAIL(at_img_fits_decode_mem("upload", mem, got, AT_SCALING_LINEAR, 1, &raw, &big, &err), AT_ERR_DATA, &err,
               "upload: image of 2x2 pixels (1 to 1 per side)");
    CHECK(big == 1);
    CHECK_FAIL(at_img_fits_decode_mem("upload", mem, 2880 + 40, AT_SCALING_LINEAR, 64, &raw, &big, &err), AT_ERR_DATA,
               &err, "upload: cannot read the pixels (truncated");
    CHECK(big == 0);
    CHECK_FAIL(at_img_fits_decode_mem("upload", mem + 1, got - 1, AT_SCALING_LINEAR, 64, &raw, &big, &err), AT_ERR_DATA,
               &err, "upload: not a FITS file");
    /* gzip'd in memory: the same pixels; cut short: one clear error */
    char gzpath[80];
    snprintf(gzpath, sizeof gzpath, "%s.gz", path);
    gzFile gz = gzopen(gzpath, "wb");
    CHECK(gz && gzwrite(gz, mem, (unsigned)got) == (int)got);
    if (gz) gzclose(gz);
    uint8_t zmem[8 * 2880];
    f = fopen(gzpath, "rb");
    size_t zn = f ? fread(zmem, 1, sizeof zmem, f) : 0;
    if (f) fclose(f);
    unlink(gzpath);
    CHECK(zn > 20 && zmem[0] == 0x1f && zmem[1] == 0x8b);
    CHECK_OK(at_img_fits_decode_mem("upload", zmem, zn, AT_SCALING_LINEAR, 64, &raw, &big, &err), &err);
    CHECK(raw.c == 5 && raw.h == 2 && raw.w == 2);
    if (raw.px) CHECK(raw.px[5] == 85 && raw.px[9] == 128 && raw.px[19] == 128);
    free(raw.px);
    CHECK_FAIL(at_img_fits_decode_mem("upload", zmem, zn / 2, AT_SCALING_LINEAR, 64, &raw, &big, &err), AT_ERR_DATA,
               &err, "upload: truncated or corrupt gzip data");
    /* an inflated size over the cap is refused before it is all allocated */
    uint8_t *o = NULL;
    size_t on = 0;
    CHECK_FAIL(at_gunzip_mem("upload", zmem, zn, 1000, &o, &on, &big, &err), AT_ERR_DATA, &err,
               "upload: gzip data inflate to more than 1000 bytes");
    CHECK(big == 1 && o == NULL);
    long ax65[3] = {1, 1, 65};
    float p65[65] = {0};
    CHECK(write_fits(path, 3, ax65, p65, 65) == 0);
    CHECK_FAIL(at_img_fits_decode_file(path, AT_SCALING_ASINH, &raw, &err), AT_ERR_DATA, &err,
               "65 bands (NAXIS3); cutouts have 1 to 64 bands");
    unlink(path);
    CHECK_FAIL(at_img_fits_decode_file(path, AT_SCALING_ASINH, &raw, &err), AT_ERR_DATA, &err, "cannot open");
}

int main(void) {
    RUN(test_linear);
    RUN(test_asinh);
    RUN(test_zscale);
    RUN(test_flat_and_nan);
    RUN(test_reader);
    RUN(test_huge_values);
    return harness_done();
}
