/* test_images.c - image sets: Galaxy10-layout HDF5 reading (labels, extras, exact area
 * averages, crop, chunk boundaries, the cache), folders of PNG/JPEG files, corrupt files,
 * D4 augmentation, PNG writing, and the shipped star/galaxy cutouts. */
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "astrotrain/images.h"
#include "data/images_internal.h"
#include "harness.h"

static char tmpdir[64];

static const char *tmp(const char *name) {
    static char buf[8][256];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* Known pixels of the Galaxy10 test file. */
static uint8_t pix(size_t i, size_t y, size_t x, size_t c) {
    return (uint8_t)((i * 37 + y * 11 + x * 5 + c * 70 + ((x * y) % 7) * 3) & 0xff);
}

enum { G_OK, G_RANK3, G_CH4, G_ANS_LEN, G_BAD_LABEL, G_NO_ANS };

/* A Galaxy10-layout file of n images of s x s written with the raw HDF5 API. */
static void make_g10(const char *path, size_t n, size_t s, int variant) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    size_t c = variant == G_CH4 ? 4 : 3;
    uint8_t *px = malloc(n * s * s * c);
    for (size_t i = 0; i < n; i++)
        for (size_t y = 0; y < s; y++)
            for (size_t x = 0; x < s; x++)
                for (size_t k = 0; k < c; k++) px[((i * s + y) * s + x) * c + k] = pix(i, y, x, k);
    hsize_t d4[4] = {n, s, s, c}, d3[3] = {n, s, s * c};
    hid_t sp = variant == G_RANK3 ? H5Screate_simple(3, d3, NULL) : H5Screate_simple(4, d4, NULL);
    hid_t d = H5Dcreate2(f, "images", H5T_STD_U8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, px);
    H5Dclose(d);
    H5Sclose(sp);
    free(px);
    if (variant != G_NO_ANS) {
        hsize_t na = variant == G_ANS_LEN ? n - 1 : n;
        uint8_t *ans = malloc(n);
        for (size_t i = 0; i < n; i++) ans[i] = (uint8_t)(i % 10);
        if (variant == G_BAD_LABEL) ans[n / 2] = 12;
        sp = H5Screate_simple(1, &na, NULL);
        d = H5Dcreate2(f, "ans", H5T_STD_U8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, ans);
        H5Dclose(d);
        H5Sclose(sp);
        free(ans);
    }
    hsize_t nn = n;
    double *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = 10.0 + 0.5 * (double)i;
    sp = H5Screate_simple(1, &nn, NULL);
    d = H5Dcreate2(f, "ra", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d);
    d = H5Dcreate2(f, "redshift", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT); /* float32, as published */
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d);
    H5Sclose(sp);
    free(v);
    H5Fclose(f);
}

static void test_galaxy10_read(void) {
    const char *p = tmp("g10.h5");
    size_t n = 70, s = 16; /* 70: the 64-image chunks end mid-file */
    make_g10(p, n, s, G_OK);
    at_error err = {0};
    at_images *im = NULL;
    at_image_load_options o;
    at_image_load_options_default(&o);
    CHECK_OK(at_images_load_galaxy10(p, &o, &im, &err), &err);
    if (!im) return;
    CHECK(im->n == n && im->height == s && im->width == s && im->channels == 3);
    CHECK(im->n_classes == 10 && strcmp(im->class_names[2], "Round Smooth") == 0);
    CHECK(strcmp(im->class_names[9], "Edge-on with Bulge") == 0);
    int same = 1;
    for (size_t i = 0; i < n; i++) {
        same &= im->y[i] == (int32_t)(i % 10);
        for (size_t y = 0; y < s; y++)
            for (size_t x = 0; x < s; x++)
                for (size_t c = 0; c < 3; c++) same &= im->pixels[((i * s + y) * s + x) * 3 + c] == pix(i, y, x, c);
    }
    CHECK(same);
    CHECK(im->ra && im->redshift && !im->dec && !im->pxscale);
    if (im->ra) CHECK_NEAR(im->ra[69], 10.0 + 34.5, 1e-12);
    if (im->redshift) CHECK_NEAR(im->redshift[3], 11.5, 1e-6);
    at_images_free(im);

    /* 2x2 box average, exactly (sum + 2) / 4. */
    o.width = o.height = 8;
    CHECK_OK(at_images_load_galaxy10(p, &o, &im, &err), &err);
    if (!im) return;
    CHECK(im->height == 8 && im->width == 8 && im->n == n);
    same = 1;
    for (size_t i = 0; i < n; i++)
        for (size_t y = 0; y < 8; y++)
            for (size_t x = 0; x < 8; x++)
                for (size_t c = 0; c < 3; c++) {
                    unsigned sum = pix(i, 2 * y, 2 * x, c) + pix(i, 2 * y, 2 * x + 1, c) + pix(i, 2 * y + 1, 2 * x, c) +
                                   pix(i, 2 * y + 1, 2 * x + 1, c);
                    same &= im->pixels[((i * 8 + y) * 8 + x) * 3 + c] == (sum + 2) / 4;
                }
    CHECK(same);
    at_images_free(im);

    /* Non-integral factor 16 -> 6: area weights, against a double-precision reference. */
    o.width = o.height = 6;
    CHECK_OK(at_images_load_galaxy10(p, &o, &im, &err), &err);
    if (!im) return;
    double maxdiff = 0;
    for (size_t i = 0; i < 3; i++)
        for (size_t y = 0; y < 6; y++)
            for (size_t x = 0; x < 6; x++)
                for (size_t c = 0; c < 3; c++) {
                    double acc = 0, f = 16.0 / 6.0;
                    for (size_t yy = 0; yy < 16; yy++)
                        for (size_t xx = 0; xx < 16; xx++) {
                            double oy = fmin(yy + 1.0, (y + 1) * f) - fmax((double)yy, y * f);
                            double ox = fmin(xx + 1.0, (x + 1) * f) - fmax((double)xx, x * f);
                            if (oy > 0 && ox > 0) acc += oy * ox * pix(i, yy, xx, c);
                        }
                    double d = fabs(acc / (f * f) - im->pixels[((i * 6 + y) * 6 + x) * 3 + c]);
                    if (d > maxdiff) maxdiff = d;
                }
    CHECK(maxdiff <= 0.5 + 1e-9);
    at_images_free(im);

    /* Centre crop of half the side, no resize; then grey; then max_images. */
    o.width = o.height = 0;
    o.crop = 0.5;
    CHECK_OK(at_images_load_galaxy10(p, &o, &im, &err), &err);
    if (!im) return;
    CHECK(im->height == 8 && im->width == 8);
    CHECK(im->pixels[((5 * 8 + 0) * 8 + 0) * 3 + 1] == pix(5, 4, 4, 1));
    CHECK(im->pixels[((69 * 8 + 7) * 8 + 3) * 3 + 2] == pix(69, 11, 7, 2));
    at_images_free(im);
    o.crop = 1.0;
    o.channels = 1;
    o.max_images = 5;
    CHECK_OK(at_images_load_galaxy10(p, &o, &im, &err), &err);
    if (!im) return;
    CHECK(im->n == 5 && im->channels == 1);
    unsigned g = (299u * pix(4, 3, 2, 0) + 587u * pix(4, 3, 2, 1) + 114u * pix(4, 3, 2, 2) + 500u) / 1000u;
    CHECK(im->pixels[(4 * s + 3) * s + 2] == g);
    at_images_free(im);
}

static void poke_cache(const char *cache, uint8_t v) {
    hid_t f = H5Fopen(cache, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "images", H5P_DEFAULT);
    hid_t fs = H5Dget_space(d);
    hsize_t start[4] = {0, 0, 0, 0}, count[4] = {1, 1, 1, 1};
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t ms = H5Screate_simple(4, count, NULL);
    H5Dwrite(d, H5T_NATIVE_UINT8, ms, fs, H5P_DEFAULT, &v);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    H5Fclose(f);
}

static void test_galaxy10_cache(void) {
    const char *p = tmp("gc.h5"), *cache = tmp("gc_cache.h5");
    make_g10(p, 12, 32, G_OK);
    at_error err = {0};
    at_images *im = NULL;
    at_image_load_options o;
    at_image_load_options_default(&o);
    o.width = o.height = 16;
    o.cache = cache;
    CHECK_OK(at_images_load_galaxy10(p, &o, &im, &err), &err);
    CHECK(access(cache, F_OK) == 0);
    uint8_t first = im ? im->pixels[0] : 0, marker = (uint8_t)(first ^ 0xff);
    at_images_free(im);
    /* A marker written into the cache shows up: the second load read the cache. */
    poke_cache(cache, marker);
    CHECK_OK(at_images_load_galaxy10(p, &o, &im, &err), &err);
    CHECK(im && im->pixels[0] == marker && im->n == 12 && im->height == 16);
    CHECK(im && im->ra && im->ra[11] == 15.5 && im->y[11] == 1 && im->n_classes == 10);
    at_images_free(im);
    /* Other settings: rebuilt from the source (the marker is gone). */
    o.width = o.height = 8;
    CHECK_OK(at_images_load_galaxy10(p, &o, &im, &err), &err);
    CHECK(im && im->height == 8);
    at_images_free(im);
    o.width = o.height = 16;
    CHECK_OK(at_images_load_galaxy10(p, &o, &im, &err), &err);
    CHECK(im && im->pixels[0] == first);
    at_images_free(im);
    /* A changed source (new mtime) invalidates it too. */
    poke_cache(cache, marker);
    struct timespec ts[2] = {{0, UTIME_OMIT}, {1000000000, 0}};
    CHECK(utimensat(AT_FDCWD, p, ts, 0) == 0);
    CHECK_OK(at_images_load_galaxy10(p, &o, &im, &err), &err);
    CHECK(im && im->pixels[0] == first);
    at_images_free(im);
    /* Grey cache: one channel stored and read back. */
    o.channels = 1;
    CHECK_OK(at_images_load_galaxy10(p, &o, &im, &err), &err);
    uint8_t g = im ? im->pixels[5] : 0;
    at_images_free(im);
    CHECK_OK(at_images_load_galaxy10(p, &o, &im, &err), &err);
    CHECK(im && im->channels == 1 && im->pixels[5] == g);
    at_images_free(im);
    /* An unwritable cache location is an i/o error, not a silent miss. */
    o.cache = tmp("no/such/dir/cache.h5");
    CHECK_FAIL(at_images_load_galaxy10(p, &o, &im, &err), AT_ERR_IO, &err, "cache");
    CHECK(im == NULL);
}

static void test_galaxy10_errors(void) {
    at_error err = {0};
    at_images *im = NULL;
    at_image_load_options o;
    at_image_load_options_default(&o);
    CHECK_FAIL(at_images_load_galaxy10(tmp("Galaxy10_DECals.h5"), &o, &im, &err), AT_ERR_IO, &err,
               "https://astronn.readthedocs.io/en/latest/galaxy10.html");
    CHECK(strstr(err.msg, "astrotrain synth galaxy10 --out data/galaxy10_synth.h5 --n 2000 --size 64") != NULL);
    const char *p = tmp("bad.h5");
    make_g10(p, 6, 8, G_RANK3);
    CHECK_FAIL(at_images_load_galaxy10(p, &o, &im, &err), AT_ERR_DATA, &err, "'images' has rank 3");
    CHECK(strstr(err.msg, p) != NULL);
    make_g10(p, 6, 8, G_CH4);
    CHECK_FAIL(at_images_load_galaxy10(p, &o, &im, &err), AT_ERR_DATA, &err, "(6,8,8,4), expected (N,H,W,3)");
    make_g10(p, 6, 8, G_ANS_LEN);
    CHECK_FAIL(at_images_load_galaxy10(p, &o, &im, &err), AT_ERR_DATA, &err, "'ans' has 5 entries but 'images' has 6");
    make_g10(p, 6, 8, G_BAD_LABEL);
    CHECK_FAIL(at_images_load_galaxy10(p, &o, &im, &err), AT_ERR_DATA, &err, "'ans' entry 3 is 12");
    make_g10(p, 6, 8, G_NO_ANS);
    CHECK_FAIL(at_images_load_galaxy10(p, &o, &im, &err), AT_ERR_DATA, &err, "no dataset 'ans'");
    FILE *f = fopen(p, "wb");
    fputs("not hdf5 at all\n", f);
    fclose(f);
    CHECK_FAIL(at_images_load_galaxy10(p, &o, &im, &err), AT_ERR_DATA, &err, "not a readable HDF5 file");
    o.crop = 0;
    CHECK_FAIL(at_images_load_galaxy10(p, &o, &im, &err), AT_ERR_CONFIG, &err, "crop");
    CHECK(im == NULL);
}

/* ---- folders of PNG and JPEG ------------------------------------------------------------ */

static void write_jpeg(const char *path, const uint8_t *px, size_t h, size_t w, size_t c, int quality) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr je;
    ci.err = jpeg_std_error(&je);
    jpeg_create_compress(&ci);
    FILE *f = fopen(path, "wb");
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = (int)c;
    ci.in_color_space = c == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, quality, TRUE);
    jpeg_start_compress(&ci, TRUE);
    for (size_t y = 0; y < h; y++) {
        JSAMPROW row = (JSAMPROW)(px + y * w * c);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(f);
}

static void gradient(uint8_t *px, size_t h, size_t w, size_t c, int seed) {
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++)
            for (size_t k = 0; k < c; k++) px[(y * w + x) * c + k] = (uint8_t)(seed + 4 * x + 2 * y + 40 * k) /* no wrap-around edges for JPEG */;
}

static long file_size(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 ? (long)sb.st_size : -1;
}

static void truncate_copy(const char *src, const char *dst, long keep) {
    FILE *f = fopen(src, "rb"), *g = fopen(dst, "wb");
    for (long i = 0; i < keep; i++) fputc(fgetc(f), g);
    fclose(f);
    fclose(g);
}

static void test_folder(void) {
    at_error err = {0};
    char dir[300];
    snprintf(dir, sizeof dir, "%s/set", tmpdir);
    mkdir(dir, 0755);
    mkdir(tmp("set/zeta"), 0755);
    mkdir(tmp("set/alpha"), 0755);
    uint8_t rgb[16 * 16 * 3], grey[16 * 16];
    gradient(rgb, 16, 16, 3, 1);
    gradient(grey, 16, 16, 1, 7);
    CHECK_OK(at_png_write(tmp("set/zeta/b.png"), rgb, 16, 16, 3, &err), &err);
    CHECK_OK(at_png_write(tmp("set/zeta/a.png"), rgb, 16, 16, 3, &err), &err);
    CHECK_OK(at_png_write(tmp("set/alpha/grey.png"), grey, 16, 16, 1, &err), &err);
    write_jpeg(tmp("set/alpha/photo.jpg"), rgb, 16, 16, 3, 100);
    FILE *f = fopen(tmp("set/alpha/notes.txt"), "w"); /* not an image: skipped */
    fputs("hello\n", f);
    fclose(f);
    at_images *im = NULL;
    at_image_load_options o;
    at_image_load_options_default(&o);
    CHECK_OK(at_images_load_folder(dir, &o, &im, &err), &err);
    if (!im) return;
    CHECK(im->n == 4 && im->n_classes == 2 && im->height == 16 && im->width == 16 && im->channels == 3);
    CHECK(strcmp(im->class_names[0], "alpha") == 0 && strcmp(im->class_names[1], "zeta") == 0);
    CHECK(im->y[0] == 0 && im->y[1] == 0 && im->y[2] == 1 && im->y[3] == 1);
    CHECK(strstr(im->sources[0], "alpha/grey.png") && strstr(im->sources[1], "alpha/photo.jpg"));
    CHECK(strstr(im->sources[2], "zeta/a.png") && strstr(im->sources[3], "zeta/b.png"));
    /* grey -> RGB: the grey value in all three channels */
    int ok = 1;
    for (size_t i = 0; i < 256; i++)
        ok &= im->pixels[3 * i] == grey[i] && im->pixels[3 * i + 1] == grey[i] && im->pixels[3 * i + 2] == grey[i];
    CHECK(ok);
    /* PNG exact, JPEG (quality 100) close */
    CHECK(memcmp(im->pixels + 2 * 768, rgb, 768) == 0);
    int maxd = 0;
    for (size_t i = 0; i < 768; i++) {
        int d = abs((int)im->pixels[768 + i] - (int)rgb[i]);
        if (d > maxd) maxd = d;
    }
    CHECK(maxd <= 4);
    at_images_free(im);

    /* RGB -> grey and resizing */
    o.channels = 1;
    o.width = o.height = 8;
    CHECK_OK(at_images_load_folder(dir, &o, &im, &err), &err);
    if (im) {
        CHECK(im->channels == 1 && im->height == 8 && im->n == 4);
        unsigned s = 0;
        for (int dy = 0; dy < 2; dy++)
            for (int dx = 0; dx < 2; dx++) s += grey[(2 + dy) * 16 + 4 + dx];
        CHECK(im->pixels[1 * 8 + 2] == (s + 2) / 4);
    }
    at_images_free(im);

    /* A differently sized image: an error naming it unless width/height are set. */
    uint8_t big[20 * 24 * 3];
    gradient(big, 20, 24, 3, 3);
    CHECK_OK(at_png_write(tmp("set/zeta/c.png"), big, 20, 24, 3, &err), &err);
    at_image_load_options_default(&o);
    CHECK_FAIL(at_images_load_folder(dir, &o, &im, &err), AT_ERR_DATA, &err, "zeta/c.png: image is 24x20");
    o.width = o.height = 16;
    CHECK_OK(at_images_load_folder(dir, &o, &im, &err), &err);
    CHECK(im && im->n == 5);
    at_images_free(im);

    /* Single files, unlabelled. */
    const char *files[2] = {tmp("set/zeta/a.png"), tmp("set/alpha/photo.jpg")};
    at_image_load_options_default(&o);
    CHECK_OK(at_images_load_files(files, 2, &o, &im, &err), &err);
    CHECK(im && im->n == 2 && im->y == NULL && memcmp(im->pixels, rgb, 768) == 0);
    at_images_free(im);
}

static void test_corrupt(void) {
    at_error err = {0};
    at_images *im = NULL;
    at_image_load_options o;
    at_image_load_options_default(&o);
    uint8_t rgb[32 * 32 * 3];
    gradient(rgb, 32, 32, 3, 5);
    const char *png = tmp("c.png"), *jpg = tmp("c.jpg");
    CHECK_OK(at_png_write(png, rgb, 32, 32, 3, &err), &err);
    write_jpeg(jpg, rgb, 32, 32, 3, 90);
    const char *tp = tmp("trunc.png"), *tj = tmp("trunc.jpg");
    truncate_copy(png, tp, file_size(png) / 2);
    truncate_copy(jpg, tj, file_size(jpg) / 2);
    CHECK_FAIL(at_images_load_files(&tp, 1, &o, &im, &err), AT_ERR_DATA, &err, "trunc.png: corrupt PNG data");
    CHECK_FAIL(at_images_load_files(&tj, 1, &o, &im, &err), AT_ERR_DATA, &err, "trunc.jpg: corrupt JPEG data: ");
    /* Header only, and garbage in the entropy-coded data. */
    truncate_copy(jpg, tj, 200);
    CHECK_FAIL(at_images_load_files(&tj, 1, &o, &im, &err), AT_ERR_DATA, &err, "corrupt JPEG data");
    truncate_copy(jpg, tj, file_size(jpg));
    FILE *f = fopen(tj, "r+b");
    fseek(f, file_size(jpg) - 100, SEEK_SET);
    for (int i = 0; i < 60; i++) fputc(0xff, f); /* markers where data should be */
    fclose(f);
    CHECK_FAIL(at_images_load_files(&tj, 1, &o, &im, &err), AT_ERR_DATA, &err, "corrupt JPEG data");
    /* A flipped byte in the PNG's image data: the CRC catches it. */
    truncate_copy(png, tp, file_size(png));
    f = fopen(tp, "r+b");
    fseek(f, 60, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    CHECK_FAIL(at_images_load_files(&tp, 1, &o, &im, &err), AT_ERR_DATA, &err, "corrupt PNG data");
    /* Named like an image, but is not one. */
    const char *fake = tmp("fake.png");
    f = fopen(fake, "w");
    fputs("GIF89a....", f);
    fclose(f);
    CHECK_FAIL(at_images_load_files(&fake, 1, &o, &im, &err), AT_ERR_DATA, &err, "neither a PNG nor a JPEG");
    /* A PNG claiming to be 100000 pixels wide is refused before any allocation. */
    static const uint8_t hdr[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                  0, 1, 0x86, 0xa0, 0, 0, 0, 16, 8, 2, 0, 0, 0, 0, 0, 0, 0};
    f = fopen(tp, "wb");
    fwrite(hdr, 1, sizeof hdr, f);
    fclose(f);
    CHECK_FAIL(at_images_load_files(&tp, 1, &o, &im, &err), AT_ERR_DATA, &err, "trunc.png");
    CHECK(im == NULL);
    /* In a folder: the error names the file. */
    mkdir(tmp("cset"), 0755);
    mkdir(tmp("cset/k"), 0755);
    truncate_copy(jpg, tmp("cset/k/bad.jpg"), file_size(jpg) / 3);
    CHECK_FAIL(at_images_load_folder(tmp("cset"), &o, &im, &err), AT_ERR_DATA, &err, "cset/k/bad.jpg: corrupt JPEG data");
    CHECK_FAIL(at_images_load_folder(tmp("nowhere"), &o, &im, &err), AT_ERR_IO, &err, "nowhere");
}

/* ---- augmentation and PNG output -------------------------------------------------------- */

static void apply(uint8_t *img, size_t n, int e) {
    uint8_t scratch[64];
    at_image_d4(img, scratch, n, n, 1, e);
}

static void test_d4(void) {
    enum { N = 5 };
    uint8_t base[N * N];
    for (int i = 0; i < N * N; i++) base[i] = (uint8_t)(i * 7 + (i % 3));
    uint8_t el[8][N * N];
    for (int e = 0; e < 8; e++) {
        memcpy(el[e], base, sizeof base);
        apply(el[e], N, e);
    }
    int distinct = 1;
    for (int a = 0; a < 8; a++)
        for (int b = a + 1; b < 8; b++) distinct &= memcmp(el[a], el[b], sizeof base) != 0;
    CHECK(distinct);
    CHECK(memcmp(el[0], base, sizeof base) == 0);
    /* rot90 is counter-clockwise (numpy.rot90): the top-right corner goes to the top left */
    CHECK(el[1][0] == base[N - 1]);
    /* flip mirrors left-right */
    CHECK(el[4][0] == base[N - 1] && el[4][N - 1] == base[0]);
    uint8_t t[N * N];
    memcpy(t, base, sizeof t);
    for (int k = 0; k < 4; k++) apply(t, N, 1);
    CHECK(memcmp(t, base, sizeof t) == 0);
    memcpy(t, base, sizeof t);
    apply(t, N, 1);
    apply(t, N, 1);
    CHECK(memcmp(t, el[2], sizeof t) == 0);
    /* Closure: any two elements compose to an element; every element has an inverse. */
    int closed = 1;
    for (int a = 0; a < 8; a++) {
        int has_inverse = 0;
        for (int b = 0; b < 8; b++) {
            memcpy(t, base, sizeof t);
            apply(t, N, a);
            apply(t, N, b);
            int found = 0;
            for (int e = 0; e < 8; e++) found |= memcmp(t, el[e], sizeof t) == 0;
            closed &= found;
            has_inverse |= memcmp(t, base, sizeof t) == 0;
        }
        closed &= has_inverse;
    }
    CHECK(closed);
    /* RGB pixels move as a whole */
    uint8_t rgb[2 * 2 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, sc[12];
    at_image_d4(rgb, sc, 2, 2, 3, 1);
    CHECK(rgb[0] == 4 && rgb[1] == 5 && rgb[2] == 6 && rgb[9] == 7);
    /* Non-square: odd turns leave the image alone, the up-down mirror works */
    uint8_t r23[6] = {1, 2, 3, 4, 5, 6};
    at_image_d4(r23, sc, 2, 3, 1, 1);
    CHECK(r23[0] == 1 && r23[5] == 6);
    at_image_d4(r23, sc, 2, 3, 1, 6);
    CHECK(r23[0] == 4 && r23[2] == 6 && r23[3] == 1);
}

static void test_shift_brightness(void) {
    uint8_t img[3 * 4] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, sc[12];
    at_image_shift(img, sc, 3, 4, 1, 1, 0); /* right by one: the left column is replicated */
    CHECK(img[0] == 1 && img[1] == 1 && img[2] == 2 && img[3] == 3 && img[4] == 5 && img[7] == 7);
    at_image_shift(img, sc, 3, 4, 1, 0, -2); /* up by two: the bottom row fills */
    CHECK(img[0] == 9 && img[4] == 9 && img[8] == 9 && img[11] == 11);
    uint8_t b[4] = {10, 100, 200, 255};
    at_image_brightness(b, 1, 4, 1, 1.5);
    CHECK(b[0] == 15 && b[1] == 150 && b[2] == 255 && b[3] == 255);
    at_image_brightness(b, 1, 4, 1, -1);
    CHECK(b[0] == 0 && b[3] == 0);
}

static void test_png_grid(void) {
    at_error err = {0};
    at_images *im = NULL;
    CHECK_OK(at_images_new(5, 4, 6, 3, 1, &im, &err), &err);
    if (!im) return;
    for (size_t i = 0; i < im->n * 72; i++) im->pixels[i] = (uint8_t)i;
    size_t idx[3] = {4, 0, 2};
    const char *p = tmp("grid.png");
    CHECK_OK(at_png_grid(p, im, idx, 3, 2, 3, &err), &err);
    at_images *g = NULL;
    at_image_load_options o;
    at_image_load_options_default(&o);
    CHECK_OK(at_images_load_files(&p, 1, &o, &g, &err), &err);
    /* 2 rows x 2 cols of 12x18 tiles with 2-pixel gaps */
    CHECK(g && g->height == 2 * 12 + 3 * 2 && g->width == 2 * 18 + 3 * 2);
    if (g) CHECK(g->pixels[(2 * g->width + 2) * 3] == im->pixels[4 * 72]); /* first tile = image 4 */
    at_images_free(g);
    size_t bad = 9;
    CHECK_FAIL(at_png_grid(p, im, &bad, 1, 1, 1, &err), AT_ERR_INTERNAL, &err, "out of range");
    /* subset keeps labels and order */
    im->y[4] = 7;
    at_images *sub = NULL;
    CHECK_OK(at_images_subset(im, idx, 3, &sub, &err), &err);
    CHECK(sub && sub->n == 3 && sub->y[0] == 7 && sub->pixels[0] == im->pixels[4 * 72]);
    at_images_free(sub);
    CHECK_FAIL(at_png_write(tmp("no/dir/x.png"), im->pixels, 1, 1, 1, &err), AT_ERR_IO, &err, "x.png");
    at_images_free(im);
}

static void test_star_galaxy(void) {
    at_error err = {0};
    at_images *im = NULL;
    at_image_load_options o;
    at_image_load_options_default(&o);
    CHECK_OK(at_images_load_folder("data/star_galaxy_64px", &o, &im, &err), &err);
    if (!im) return;
    CHECK(im->n == 3986 && im->n_classes == 2 && im->height == 64 && im->width == 64 && im->channels == 3);
    CHECK(strcmp(im->class_names[0], "galaxy") == 0 && strcmp(im->class_names[1], "star") == 0);
    size_t count[2] = {0, 0};
    for (size_t i = 0; i < im->n; i++) count[im->y[i]]++;
    CHECK(count[0] == 942 && count[1] == 3044);
    at_images_free(im);
}

/* PNG variants a survey's cutouts come in, written with libpng's own simplified writer and
 * decoded by ours: a palette image gives its colours (not its indices), a 16-bit image gives
 * the high byte of each sample. */
static void test_png_palette_and_16bit(void) {
    at_error err = {0};
    /* 2 x 2 palette image: indices 0 1 / 1 2 over three colours. */
    uint8_t idx[4] = {0, 1, 1, 2}, cmap[9] = {10, 20, 30, 200, 150, 100, 7, 8, 9};
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = im.height = 2;
    im.format = PNG_FORMAT_RGB_COLORMAP;
    im.colormap_entries = 3;
    png_alloc_size_t n = 0;
    CHECK(png_image_write_to_memory(&im, NULL, &n, 0, idx, 0, cmap));
    uint8_t *buf = malloc(n);
    CHECK(buf && png_image_write_to_memory(&im, buf, &n, 0, idx, 0, cmap));
    at_img_raw raw = {0};
    CHECK_OK(at_png_decode("palette.png", buf, n, &raw, &err), &err);
    CHECK(raw.h == 2 && raw.w == 2 && raw.c == 3);
    const uint8_t want[12] = {10, 20, 30, 200, 150, 100, 200, 150, 100, 7, 8, 9};
    if (raw.px) CHECK(memcmp(raw.px, want, sizeof want) == 0);
    free(raw.px);
    free(buf);

    /* 2 x 1 16-bit RGB image: samples 0x1234 0xABCD 0x00FF / 0xFF00 0x8080 0x0102. */
    const uint16_t wide[6] = {0x1234, 0xABCD, 0x00FF, 0xFF00, 0x8080, 0x0102};
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = 2;
    im.height = 1;
    im.format = PNG_FORMAT_LINEAR_RGB;
    n = 0;
    CHECK(png_image_write_to_memory(&im, NULL, &n, 0, wide, 0, NULL));
    buf = malloc(n);
    CHECK(buf && png_image_write_to_memory(&im, buf, &n, 0, wide, 0, NULL));
    memset(&raw, 0, sizeof raw);
    CHECK_OK(at_png_decode("wide.png", buf, n, &raw, &err), &err);
    CHECK(raw.h == 1 && raw.w == 2 && raw.c == 3);
    const uint8_t high[6] = {0x12, 0xAB, 0x00, 0xFF, 0x80, 0x01};
    if (raw.px) CHECK(memcmp(raw.px, high, sizeof high) == 0);
    free(raw.px);
    free(buf);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/at_images_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    RUN(test_galaxy10_read);
    RUN(test_galaxy10_cache);
    RUN(test_galaxy10_errors);
    RUN(test_folder);
    RUN(test_corrupt);
    RUN(test_d4);
    RUN(test_shift_brightness);
    RUN(test_png_grid);
    RUN(test_png_palette_and_16bit);
    RUN(test_star_galaxy);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return harness_done();
}
