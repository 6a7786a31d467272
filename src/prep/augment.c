/* augment.c - image augmentation for training the CNN: the eight symmetries of the square
 * (a galaxy has no preferred orientation or handedness on the sky), small shifts with edge
 * replication (no black borders the network could learn from) and brightness scaling. */
#include <math.h>
#include <string.h>

#include "astrotrain/images.h"

/* Element e = r + 4 f: r quarter turns counter-clockwise, then a left-right mirror when f.
 * So 0 identity, 1 rot90, 2 rot180, 3 rot270, 4 flip, 5 flip∘rot90, 6 flip∘rot180 (the
 * up-down mirror), 7 flip∘rot270 (the transpose). Odd turns need a square image; on other
 * images they leave the image as it is (the shape could not be kept). */
void at_image_d4(uint8_t *img, uint8_t *scratch, size_t h, size_t w, size_t c, int element) {
    element &= 7;
    int r = element & 3, f = element >> 2;
    if (element == 0 || ((r & 1) && h != w)) return;
    memcpy(scratch, img, h * w * c);
    for (size_t y = 0; y < h; y++) {
        for (size_t x = 0; x < w; x++) {
            /* Output (y, x) after the mirror comes from (y, xm) of the rotated image. */
            size_t xm = f ? w - 1 - x : x, sy, sx;
            switch (r) {
            case 0: sy = y; sx = xm; break;
            case 1: sy = xm; sx = w - 1 - y; break;         /* rot90: out(i,j) = in(j, n-1-i) */
            case 2: sy = h - 1 - y; sx = w - 1 - xm; break;
            default: sy = h - 1 - xm; sx = y; break;         /* rot270: out(i,j) = in(n-1-j, i) */
            }
            memcpy(img + (y * w + x) * c, scratch + (sy * w + sx) * c, c);
        }
    }
}

static size_t clampi(long v, size_t n) {
    return v < 0 ? 0 : (size_t)v >= n ? n - 1 : (size_t)v;
}

/* Content moves by (dx, dy): right and down for positive values. */
void at_image_shift(uint8_t *img, uint8_t *scratch, size_t h, size_t w, size_t c, int dx, int dy) {
    if (dx == 0 && dy == 0) return;
    memcpy(scratch, img, h * w * c);
    for (size_t y = 0; y < h; y++) {
        size_t sy = clampi((long)y - dy, h);
        for (size_t x = 0; x < w; x++) {
            size_t sx = clampi((long)x - dx, w);
            memcpy(img + (y * w + x) * c, scratch + (sy * w + sx) * c, c);
        }
    }
}

void at_image_brightness(uint8_t *img, size_t h, size_t w, size_t c, double factor) {
    if (!(factor >= 0)) factor = 0; /* negative or NaN: black */
    size_t n = h * w * c;
    for (size_t i = 0; i < n; i++) {
        double v = img[i] * factor + 0.5;
        img[i] = v >= 255.0 ? 255 : (uint8_t)v;
    }
}
