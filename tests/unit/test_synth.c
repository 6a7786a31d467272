/* test_synth.c - the synthetic Galaxy10 generator: layout, determinism, balance, and that
 * the classes differ the way their models say (shape from second moments, colour). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "astrotrain/images.h"
#include "harness.h"

static char tmpdir[64];

static const char *tmp(const char *name) {
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static int same_file(const char *a, const char *b) {
    FILE *f = fopen(a, "rb"), *g = fopen(b, "rb");
    int same = f && g;
    while (same) {
        int x = fgetc(f), y = fgetc(g);
        if (x != y) same = 0;
        if (x == EOF || y == EOF) break;
    }
    if (f) fclose(f);
    if (g) fclose(g);
    return same;
}

/* Axis ratio (minor/major) and flux of the galaxy light: second moments of the grey image
 * above the sky (median of the border) plus a margin, around the brightest pixel's region. */
static void shape(const uint8_t *px, size_t s, double *axis_ratio, double *red_blue) {
    double border = 0;
    size_t nb = 0;
    for (size_t i = 0; i < s; i++) {
        const size_t pts[4][2] = {{0, i}, {s - 1, i}, {i, 0}, {i, s - 1}};
        for (int k = 0; k < 4; k++) {
            const uint8_t *p = px + (pts[k][0] * s + pts[k][1]) * 3;
            border += (p[0] + p[1] + p[2]) / 3.0;
            nb++;
        }
    }
    border /= (double)nb;
    double sw = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, r = 0, b = 0;
    for (size_t y = 0; y < s; y++)
        for (size_t x = 0; x < s; x++) {
            const uint8_t *p = px + (y * s + x) * 3;
            double w = (p[0] + p[1] + p[2]) / 3.0 - border - 25.0;
            if (w <= 0) continue;
            sw += w;
            sx += w * (double)x;
            sy += w * (double)y;
            sxx += w * (double)x * (double)x;
            syy += w * (double)y * (double)y;
            sxy += w * (double)x * (double)y;
            r += p[0];
            b += p[2];
        }
    if (sw <= 0) {
        *axis_ratio = 1;
        *red_blue = 1;
        return;
    }
    double mx = sx / sw, my = sy / sw;
    double cxx = sxx / sw - mx * mx, cyy = syy / sw - my * my, cxy = sxy / sw - mx * my;
    double tr = cxx + cyy, det = cxx * cyy - cxy * cxy, disc = sqrt(fmax(0, tr * tr / 4 - det));
    double l1 = tr / 2 + disc, l2 = tr / 2 - disc;
    *axis_ratio = l1 > 0 ? sqrt(fmax(l2, 0) / l1) : 1;
    *red_blue = b > 0 ? r / b : 1;
}

static void test_layout_and_determinism(void) {
    at_error err = {0};
    const char *a = tmp("a.h5"), *b = tmp("b.h5"), *c = tmp("c.h5");
    CHECK_OK(at_synth_galaxy10(a, 53, 32, 7, &err), &err);
    CHECK_OK(at_synth_galaxy10(b, 53, 32, 7, &err), &err);
    CHECK_OK(at_synth_galaxy10(c, 53, 32, 8, &err), &err);
    CHECK(same_file(a, b));
    CHECK(!same_file(a, c));
    at_images *im = NULL;
    at_image_load_options o;
    at_image_load_options_default(&o);
    CHECK_OK(at_images_load_galaxy10(a, &o, &im, &err), &err);
    if (!im) return;
    CHECK(im->n == 53 && im->height == 32 && im->width == 32 && im->channels == 3 && im->n_classes == 10);
    CHECK(im->ra && im->dec && im->redshift && im->pxscale);
    int labels = 1, extras = 1;
    for (size_t i = 0; i < im->n; i++) {
        labels &= im->y[i] == (int32_t)(i % 10);
        extras &= im->ra[i] >= 0 && im->ra[i] < 360 && im->dec[i] >= -20 && im->dec[i] <= 80 && im->redshift[i] > 0;
        extras &= fabs(im->pxscale[i] - 0.262 * 8) < 1e-12;
    }
    CHECK(labels && extras);
    /* A prefix of a longer file is the same images: image i depends on (seed, i) only. */
    at_images *shorter = NULL;
    CHECK_OK(at_synth_galaxy10(b, 20, 32, 7, &err), &err);
    CHECK_OK(at_images_load_galaxy10(b, &o, &shorter, &err), &err);
    CHECK(shorter && memcmp(shorter->pixels, im->pixels, 20 * 32 * 32 * 3) == 0);
    at_images_free(shorter);
    at_images_free(im);
    CHECK_FAIL(at_synth_galaxy10(a, 0, 32, 7, &err), AT_ERR_USAGE, &err, "n must be");
    CHECK_FAIL(at_synth_galaxy10(a, 10, 4, 7, &err), AT_ERR_USAGE, &err, "size must be");
    CHECK_FAIL(at_synth_galaxy10(tmp("no/dir/x.h5"), 10, 32, 7, &err), AT_ERR_IO, &err, "x.h5");
}

static void test_classes_differ(void) {
    at_error err = {0};
    const char *p = tmp("s.h5");
    size_t n = 600, s = 64;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_OK(at_synth_galaxy10(p, n, s, 42, &err), &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "  synth: %zu images of %zux%zu in %.3f s\n", n, s, s,
            (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    at_images *im = NULL;
    at_image_load_options o;
    at_image_load_options_default(&o);
    CHECK_OK(at_images_load_galaxy10(p, &o, &im, &err), &err);
    if (!im) return;
    double q[10] = {0}, rb[10] = {0};
    size_t count[10] = {0};
    for (size_t i = 0; i < im->n; i++) {
        double a, c;
        shape(im->pixels + i * s * s * 3, s, &a, &c);
        q[im->y[i]] += a;
        rb[im->y[i]] += c;
        count[im->y[i]]++;
    }
    for (int k = 0; k < 10; k++) {
        CHECK(count[k] == n / 10); /* balanced */
        q[k] /= (double)count[k];
        rb[k] /= (double)count[k];
        fprintf(stderr, "  class %d %-24s axis ratio %.2f  red/blue %.2f\n", k, at_galaxy10_classes[k], q[k], rb[k]);
    }
    /* Shape: round > in-between > cigar; edge-on discs are the thinnest. */
    CHECK(q[2] > 0.7); /* PSF, pixels and foreground stars round the measured value down from 0.8-1 */
    CHECK(q[2] > q[3] + 0.1 && q[3] > q[4] + 0.1);
    CHECK(q[8] < 0.3 && q[9] < 0.45);
    CHECK(q[8] < q[4] && q[8] < q[3]);
    /* Colour: smooth spheroids red, bulgeless edge-on discs and loose spirals blue. */
    CHECK(rb[2] > 1.2 && rb[8] < 1.0 && rb[7] < 1.0);
    CHECK(rb[9] > rb[8]);
    at_images_free(im);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/at_synth_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    RUN(test_layout_and_determinism);
    RUN(test_classes_differ);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return harness_done();
}
