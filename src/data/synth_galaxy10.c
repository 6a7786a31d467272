/* synth_galaxy10.c - synthetic Galaxy10 DECaLS look-alikes, so the CNN pipeline can be run
 * and tested without the 2.5 GB download.
 *
 * Each image is drawn from a small physical model of its class, in units of a 64-pixel
 * image (scaled to the requested size):
 *   0 Disturbed            one disc made lopsided (a second, offset and wider disc), a one-
 *                          sided plume and blue star-forming clumps; one nucleus
 *   1 Merging              a close pair (spheroids or discs, flux ratio 0.4-1) with two
 *                          curved tidal tails
 *   2 Round Smooth         Sersic n 3-5, axis ratio 0.8-1, red
 *   3 In-between Smooth    Sersic n 2-4, axis ratio 0.5-0.75
 *   4 Cigar Shaped Smooth  Sersic n 1-2.5, axis ratio 0.18-0.35
 *   5 Barred Spiral        bulge + Ferrers bar + exponential disc + two arms (pitch 15-25 deg)
 *                          starting at the bar ends, inclination < 50 deg
 *   6 Unbarred Tight       bulge + disc + two tightly wound arms (pitch 7-13 deg)
 *   7 Unbarred Loose       small bulge + disc + two open arms (pitch 25-38 deg) with clumps
 *   8 Edge-on, no Bulge    thin exponential disc at inclination 86-90 deg
 *   9 Edge-on with Bulge   the same with a red bulge (axis ratio 0.6-0.85) and a dust lane
 * Discs are exponential at a random inclination (axis ratio sqrt(cos^2 i + q0^2 sin^2 i))
 * and position angle; arms are two-armed logarithmic spirals in the disc plane. Colours:
 * red bulges and spheroids, white-blue discs, blue arms and clumps. Every image also gets
 * 0-2 foreground stars, a Gaussian PSF (sigma 0.9-1.4 px), an asinh display stretch and
 * Gaussian sky noise, with random sizes, brightness and a centre jittered by ~1.5 px.
 *
 * Classes are balanced: image i has label i % 10, so any prefix of the file is balanced
 * too (the real set is imbalanced, 334 to 2645 per class; balanced makes accuracy on the
 * synthetic set easy to read). Image i is drawn from its own stream at_rng_init(seed, i),
 * so the file depends only on (n, size, seed), not on threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/images_internal.h"

#define BLOCK 256 /* images rendered in memory before they are written */

static const float RED[3] = {1.00f, 0.78f, 0.55f};
static const float WHITE[3] = {0.90f, 0.88f, 0.92f};
static const float BLUE[3] = {0.55f, 0.72f, 1.00f};
static const float STAR[3] = {1.00f, 0.95f, 0.90f};

typedef struct canvas {
    float *p; /* S x S x 3, linear flux */
    size_t S;
    double k; /* image pixels per model unit */
} canvas;

typedef struct geom {
    double cx, cy, cosp, sinp, q; /* centre (model px), position angle, axis ratio */
} geom;

static double U(at_rng *r, double lo, double hi) {
    return lo + (hi - lo) * at_rng_uniform(r);
}

static geom make_geom(double cx, double cy, double pa, double q) {
    geom g = {cx, cy, cos(pa), sin(pa), q};
    return g;
}

/* Model coordinates of pixel (x, y): origin at the image centre. */
static double mx(const canvas *cv, size_t x) {
    return ((double)x + 0.5 - 0.5 * (double)cv->S) / cv->k;
}

static void local(const geom *g, double x, double y, double *u, double *v) {
    double dx = x - g->cx, dy = y - g->cy;
    *u = dx * g->cosp + dy * g->sinp;
    *v = (-dx * g->sinp + dy * g->cosp) / g->q;
}

static void put(canvas *cv, size_t x, size_t y, double I, const float col[3]) {
    float *p = cv->p + (y * cv->S + x) * 3;
    p[0] += (float)(I * col[0]);
    p[1] += (float)(I * col[1]);
    p[2] += (float)(I * col[2]);
}

/* Sersic profile; amp is the intensity at the effective radius re. */
static void add_sersic(canvas *cv, const geom *g, double re, double n, double amp, const float col[3]) {
    double bn = 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n), inv_n = 1.0 / n;
    for (size_t y = 0; y < cv->S; y++)
        for (size_t x = 0; x < cv->S; x++) {
            double u, v;
            local(g, mx(cv, x), mx(cv, y), &u, &v);
            float r = sqrtf((float)(u * u + v * v) + 0.25f); /* a softened core: no infinite cusp */
            put(cv, x, y, amp * expf((float)-bn * (powf(r / (float)re, (float)inv_n) - 1.0f)), col);
        }
}

typedef struct arms {
    double amp, pitch, r0, phase; /* pitch in radians; arms start near r0 */
    int sharp;                    /* arm profile cos^(2 sharp): larger = narrower arms */
} arms;

typedef struct bar {
    double amp, a, q, angle; /* Ferrers (1 - m^2)^2, half length a, in the disc plane */
} bar;

/* Exponential disc (scale length h, central intensity amp) seen through g (q = the
 * inclination's axis ratio), optionally with spiral arms and a bar in its plane. */
static void add_disc(canvas *cv, const geom *g, double h, double amp, const float col[3], const arms *ar,
                     const bar *br) {
    double cb = br ? cos(br->angle) : 0, sb = br ? sin(br->angle) : 0;
    double cot = ar ? 1.0 / tan(ar->pitch) : 0;
    for (size_t y = 0; y < cv->S; y++)
        for (size_t x = 0; x < cv->S; x++) {
            double X, Y;
            local(g, mx(cv, x), mx(cv, y), &X, &Y);
            float R = sqrtf((float)(X * X + Y * Y)) + 1e-6f;
            put(cv, x, y, amp * expf(-R / (float)h), col);
            if (ar && R < 10 * h) { /* beyond 10 scale lengths an arm is far below the noise */
                float th = atan2f((float)Y, (float)X);
                float psi = 2.0f * (th - (float)ar->phase) - 2.0f * logf(R / (float)ar->r0) * (float)cot;
                float c = 0.5f * (1.0f + cosf(psi)), m = c;
                for (int i = 1; i < ar->sharp; i++) m *= c; /* integer power: sharper arms */
                float rr = R / (float)ar->r0, start = 1.0f - expf(-rr * rr);
                put(cv, x, y, ar->amp * expf(-R / (float)(1.3 * h)) * m * start, BLUE);
            }
            if (br) {
                double bx = (X * cb + Y * sb) / br->a, by = (-X * sb + Y * cb) / (br->a * br->q);
                double m2 = bx * bx + by * by;
                if (m2 < 1.0) put(cv, x, y, br->amp * (1.0 - m2) * (1.0 - m2), RED);
            }
        }
}

static void add_gauss(canvas *cv, double cx, double cy, double sigma, double amp, const float col[3]) {
    double s = sigma * cv->k, px = (cx * cv->k) + 0.5 * (double)cv->S - 0.5, py = (cy * cv->k) + 0.5 * (double)cv->S - 0.5;
    double rad = 3.5 * s + 1.0;
    long x0 = (long)floor(px - rad), x1 = (long)ceil(px + rad), y0 = (long)floor(py - rad), y1 = (long)ceil(py + rad);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > (long)cv->S - 1) x1 = (long)cv->S - 1;
    if (y1 > (long)cv->S - 1) y1 = (long)cv->S - 1;
    double inv = 1.0 / (2.0 * s * s);
    for (long y = y0; y <= y1; y++)
        for (long x = x0; x <= x1; x++) {
            double dx = (double)x - px, dy = (double)y - py;
            put(cv, (size_t)x, (size_t)y, amp * exp(-(dx * dx + dy * dy) * inv), col);
        }
}

/* A tidal tail: blobs along an arc from (x, y), widening and fading. */
static void add_tail(canvas *cv, double x, double y, double angle, double length, double curve, double amp,
                     const float col[3]) {
    const int steps = 24;
    for (int i = 1; i <= steps; i++) {
        double t = (double)i / steps, a = angle + curve * t;
        double px = x + length * t * cos(a), py = y + length * t * sin(a);
        add_gauss(cv, px, py, 1.0 + 2.0 * t, amp * (1.0 - 0.7 * t), col);
    }
}

/* Axis ratio of a disc of intrinsic thickness q0 at inclination incl. */
static double disc_q(double incl, double q0) {
    double c = cos(incl), s = sin(incl);
    return sqrt(c * c + q0 * q0 * s * s);
}

/* A random galaxy for a merger: spheroid or disc at (x, y), total scale f. */
static void add_member(canvas *cv, at_rng *r, double x, double y, double f) {
    double pa = U(r, 0, M_PI);
    if (at_rng_uniform(r) < 0.5) {
        geom g = make_geom(x, y, pa, U(r, 0.6, 1.0));
        add_sersic(cv, &g, U(r, 2.0, 3.5), U(r, 2.0, 4.0), 0.15 * f, RED);
    } else {
        geom g = make_geom(x, y, pa, disc_q(U(r, 0, 1.2), 0.12));
        add_disc(cv, &g, U(r, 2.5, 4.0), 0.5 * f, WHITE, NULL, NULL);
        geom b = make_geom(x, y, pa, 0.9);
        add_sersic(cv, &b, 1.2, 2.0, 0.25 * f, RED);
    }
}

static void render(canvas *cv, at_rng *r, int cls) {
    double cx = 1.5 * at_rng_normal(r), cy = 1.5 * at_rng_normal(r);
    double f = exp(0.25 * at_rng_normal(r)); /* brightness */
    double pa = U(r, 0, M_PI);
    switch (cls) {
    case 0: { /* disturbed */
        double incl = U(r, 0, 1.2), h = U(r, 3.5, 6.0), side = U(r, 0, 2 * M_PI);
        geom g = make_geom(cx, cy, pa, disc_q(incl, 0.15));
        add_disc(cv, &g, h, 0.45 * f, WHITE, NULL, NULL);
        double off = U(r, 2.5, 4.5);
        geom g2 = make_geom(cx + off * cos(side), cy + off * sin(side), pa + U(r, -0.6, 0.6), disc_q(incl, 0.2));
        add_disc(cv, &g2, 1.4 * h, 0.2 * f, BLUE, NULL, NULL);
        add_tail(cv, cx, cy, side + U(r, -0.4, 0.4), U(r, 10, 18), U(r, -1.2, 1.2), 0.08 * f, WHITE);
        int clumps = 4 + (int)at_rng_below(r, 7);
        for (int i = 0; i < clumps; i++) {
            double a = side + U(r, -1.3, 1.3), d = U(r, 1.0, 2.0) * h;
            add_gauss(cv, cx + d * cos(a), cy + d * sin(a), U(r, 0.6, 1.1), U(r, 0.15, 0.4) * f, BLUE);
        }
        geom b = make_geom(cx, cy, pa, 0.9);
        add_sersic(cv, &b, 1.0, 2.0, 0.15 * f, RED);
        break;
    }
    case 1: { /* merging */
        double d = U(r, 7, 14), a = U(r, 0, 2 * M_PI), ratio = U(r, 0.4, 1.0);
        double x1 = cx - 0.5 * d * cos(a), y1 = cy - 0.5 * d * sin(a);
        double x2 = cx + 0.5 * d * cos(a), y2 = cy + 0.5 * d * sin(a);
        add_member(cv, r, x1, y1, f);
        add_member(cv, r, x2, y2, f * ratio);
        double curve = U(r, 0.8, 1.8) * (at_rng_uniform(r) < 0.5 ? -1 : 1);
        add_tail(cv, x1, y1, a + M_PI + U(r, -0.5, 0.5), U(r, 10, 20), curve, 0.03 * f, WHITE);
        add_tail(cv, x2, y2, a + U(r, -0.5, 0.5), U(r, 10, 20), curve, 0.03 * f * ratio, WHITE);
        add_gauss(cv, cx, cy, 2.5, 0.03 * f, WHITE); /* the bridge */
        break;
    }
    case 2: { /* round smooth */
        geom g = make_geom(cx, cy, pa, U(r, 0.8, 1.0));
        add_sersic(cv, &g, U(r, 3.0, 6.0), U(r, 3.0, 5.0), U(r, 0.10, 0.16) * f, RED);
        break;
    }
    case 3: { /* in-between round smooth */
        geom g = make_geom(cx, cy, pa, U(r, 0.5, 0.75));
        add_sersic(cv, &g, U(r, 3.0, 6.0), U(r, 2.0, 4.0), U(r, 0.10, 0.16) * f, RED);
        break;
    }
    case 4: { /* cigar */
        geom g = make_geom(cx, cy, pa, U(r, 0.18, 0.35));
        add_sersic(cv, &g, U(r, 4.0, 7.0), U(r, 1.0, 2.5), U(r, 0.14, 0.22) * f, RED);
        break;
    }
    case 5: { /* barred spiral */
        double incl = U(r, 0, 0.87), h = U(r, 4.0, 7.0), a = U(r, 4.5, 8.0), ang = U(r, 0, M_PI);
        geom g = make_geom(cx, cy, pa, disc_q(incl, 0.12));
        arms ar = {U(r, 0.35, 0.6) * f, U(r, 15, 25) * M_PI / 180, a, ang, 3};
        bar br = {U(r, 0.7, 1.1) * f, a, U(r, 0.22, 0.32), ang};
        add_disc(cv, &g, h, 0.25 * f, WHITE, &ar, &br);
        geom b = make_geom(cx, cy, pa, 0.9);
        add_sersic(cv, &b, U(r, 1.0, 2.0), 2.0, 0.3 * f, RED);
        break;
    }
    case 6: { /* unbarred tight spiral */
        double incl = U(r, 0, 1.05), h = U(r, 4.0, 7.0);
        geom g = make_geom(cx, cy, pa, disc_q(incl, 0.12));
        arms ar = {U(r, 0.3, 0.5) * f, U(r, 7, 13) * M_PI / 180, U(r, 1.5, 3.0), U(r, 0, M_PI), 2 + (int)at_rng_below(r, 2)};
        add_disc(cv, &g, h, 0.3 * f, WHITE, &ar, NULL);
        geom b = make_geom(cx, cy, pa, disc_q(incl, 0.7));
        add_sersic(cv, &b, U(r, 1.2, 2.5), U(r, 2.0, 3.0), 0.3 * f, RED);
        break;
    }
    case 7: { /* unbarred loose spiral */
        double incl = U(r, 0, 1.05), h = U(r, 4.0, 8.0), ph = U(r, 0, M_PI), pitch = U(r, 25, 38) * M_PI / 180;
        double r0 = U(r, 2.0, 3.0), q = disc_q(incl, 0.12);
        geom g = make_geom(cx, cy, pa, q);
        arms ar = {U(r, 0.5, 0.8) * f, pitch, r0, ph, 3 + (int)at_rng_below(r, 2)};
        add_disc(cv, &g, h, 0.2 * f, WHITE, &ar, NULL);
        geom b = make_geom(cx, cy, pa, disc_q(incl, 0.7));
        add_sersic(cv, &b, U(r, 0.8, 1.5), 2.0, 0.2 * f, RED);
        int clumps = 4 + (int)at_rng_below(r, 7);
        for (int i = 0; i < clumps; i++) { /* on an arm: theta = phase + ln(R/r0) cot(pitch) (+ pi) */
            double R = U(r, r0, 2.2 * h), th = ph + log(R / r0) / tan(pitch) + (at_rng_uniform(r) < 0.5 ? M_PI : 0);
            double X = R * cos(th), Y = R * sin(th) * q; /* disc plane -> sky */
            add_gauss(cv, cx + X * g.cosp - Y * g.sinp, cy + X * g.sinp + Y * g.cosp, U(r, 0.5, 0.9),
                      U(r, 0.1, 0.3) * f, BLUE);
        }
        break;
    }
    case 8:
    case 9: { /* edge-on, without and with bulge */
        double h = U(r, 6.0, 9.0);
        geom g = make_geom(cx, cy, pa, disc_q(U(r, 1.50, 1.571), U(r, 0.07, 0.12)));
        add_disc(cv, &g, h, U(r, 0.5, 0.8) * f, cls == 8 ? BLUE : WHITE, NULL, NULL);
        if (cls == 9) {
            geom b = make_geom(cx, cy, pa, U(r, 0.6, 0.85));
            add_sersic(cv, &b, U(r, 2.0, 3.5), U(r, 2.0, 4.0), U(r, 0.25, 0.4) * f, RED);
            /* dust lane: dims the midplane where the disc is */
            double depth = U(r, 0.3, 0.6), wd = U(r, 0.5, 0.9);
            for (size_t y = 0; y < cv->S; y++)
                for (size_t x = 0; x < cv->S; x++) {
                    double dx = mx(cv, x) - cx, dy = mx(cv, y) - cy;
                    double u = dx * g.cosp + dy * g.sinp, v = -dx * g.sinp + dy * g.cosp;
                    float keep = (float)(1.0 - depth * exp(-(v / wd) * (v / wd)) * exp(-fabs(u) / (2 * h)));
                    float *p = cv->p + (y * cv->S + x) * 3;
                    p[0] *= keep;
                    p[1] *= keep;
                    p[2] *= keep;
                }
        }
        break;
    }
    }
    int stars = (int)at_rng_below(r, 3); /* foreground stars, anywhere */
    for (int i = 0; i < stars; i++)
        add_gauss(cv, U(r, -30, 30), U(r, -30, 30), 0.3, U(r, 0.3, 2.0), STAR);
}

/* Separable Gaussian blur of each channel with edge replication. Both passes are written
 * as sums of whole shifted rows so the compiler vectorises them. */
static void blur(canvas *cv, float *tmp, double sigma) {
    size_t S = cv->S, L = 3 * S;
    int rad = (int)ceil(3.0 * sigma);
    if (rad < 1) return;
    if (rad > 31) rad = 31;
    float w[63], pad[(1024 + 62) * 3];
    double sum = 0;
    for (int i = -rad; i <= rad; i++) sum += w[i + rad] = (float)exp(-0.5 * i * i / (sigma * sigma));
    for (int i = 0; i <= 2 * rad; i++) w[i] = (float)(w[i] / sum);
    /* Rows: the row with rad replicated pixels on each side, then shifted sums. */
    for (size_t y = 0; y < S; y++) {
        const float *src = cv->p + y * L;
        for (int i = 0; i < rad; i++) {
            memcpy(pad + 3 * i, src, 3 * sizeof *pad);
            memcpy(pad + 3 * ((size_t)rad + S + (size_t)i), src + L - 3, 3 * sizeof *pad);
        }
        memcpy(pad + 3 * rad, src, L * sizeof *pad);
        float *d = tmp + y * L;
        for (size_t j = 0; j < L; j++) d[j] = 0;
        for (int i = 0; i <= 2 * rad; i++) {
            const float *p = pad + 3 * i;
            float wi = w[i];
            for (size_t j = 0; j < L; j++) d[j] += wi * p[j];
        }
    }
    /* Columns: each output row is a weighted sum of whole rows (clamped at the edges). */
    for (size_t y = 0; y < S; y++) {
        float *d = cv->p + y * L;
        for (size_t j = 0; j < L; j++) d[j] = 0;
        for (int i = -rad; i <= rad; i++) {
            long t = (long)y + i;
            const float *p = tmp + (t < 0 ? 0 : t >= (long)S ? S - 1 : (size_t)t) * L;
            float wi = w[i + rad];
            for (size_t j = 0; j < L; j++) d[j] += wi * p[j];
        }
    }
}

#define BETA 0.05 /* asinh softening: linear below ~BETA, logarithmic above */
#define WHITE_LEVEL 1.2

/* The asinh stretch v = asinh(I / BETA) / asinh(WHITE_LEVEL / BETA) rounded to 0..255, as
 * the 255 flux thresholds where the rounded value steps up. */
static void stretch_table(float t[256]) {
    double norm = asinh(WHITE_LEVEL / BETA);
    for (int k = 0; k < 255; k++) t[k] = (float)(BETA * sinh((k + 0.5) / 255.0 * norm));
    t[255] = INFINITY; /* a sentinel so the search below needs no bounds check */
}

/* Number of thresholds <= v: a float asinh gives the answer to within one step, the
 * table makes it exact (so the result does not depend on libm's last bits). */
static uint8_t stretch(const float t[256], float inv_step, float v) {
    if (v < t[0]) return 0;
    float x = v * (float)(1.0 / BETA);
    int k = (int)(logf(x + sqrtf(x * x + 1.0f)) * inv_step + 0.5f);
    if (k < 0) k = 0;
    if (k > 255) k = 255;
    while (k < 255 && t[k] <= v) k++;
    while (k > 0 && t[k - 1] > v) k--;
    return (uint8_t)k;
}

/* One image: render, PSF, sky noise, asinh stretch to uint8. */
static void make_image(uint8_t *out, size_t S, uint64_t seed, size_t i, float *buf, float *tmp, const float *table,
                       double *extra) {
    at_rng r;
    at_rng_init(&r, seed, i);
    canvas cv = {buf, S, 1.25 * (double)S / 64.0}; /* galaxies fill about half the frame, as in Galaxy10 */
    memset(buf, 0, S * S * 3 * sizeof *buf);
    render(&cv, &r, (int)(i % 10));
    blur(&cv, tmp, U(&r, 0.9, 1.4) * cv.k);
    /* Gaussian sky noise, Box-Muller in pairs (S * S * 3 is even). */
    float noise = (float)U(&r, 0.008, 0.016), inv_step = (float)(255.0 / asinh(WHITE_LEVEL / BETA));
    for (size_t j = 0; j < S * S * 3; j += 2) {
        float u1 = (float)(1.0 - at_rng_uniform(&r)), u2 = (float)(2.0 * M_PI * at_rng_uniform(&r));
        float rad = noise * sqrtf(-2.0f * logf(u1));
        out[j] = stretch(table, inv_step, buf[j] + rad * cosf(u2));
        out[j + 1] = stretch(table, inv_step, buf[j + 1] + rad * sinf(u2));
    }
    /* Catalogue columns like Galaxy10's: sky position, redshift, arcsec per pixel. */
    extra[0] = U(&r, 0, 360);
    extra[1] = asin(U(&r, sin(-20 * M_PI / 180), sin(80 * M_PI / 180))) * 180 / M_PI;
    extra[2] = 0.08 * exp(0.5 * at_rng_normal(&r));
    extra[3] = 0.262 * 256.0 / (double)S;
}

at_status at_synth_galaxy10(const char *path, size_t n, size_t size, uint64_t seed, at_error *err) {
    if (n == 0 || n > ((size_t)1 << 31)) return at_fail(err, AT_ERR_USAGE, "synth: n must be 1 to 2^31, got %zu", n);
    if (size < 8 || size > 1024) return at_fail(err, AT_ERR_USAGE, "synth: size must be 8 to 1024, got %zu", size);
    size_t per = size * size * 3, block = n < BLOCK ? n : BLOCK;
    uint8_t *px = at_malloc(block, per, err);
    int32_t *y = at_malloc(block, sizeof *y, err);
    double *ex = at_malloc(block, 4 * sizeof *ex, err), *col = at_malloc(block, 4 * sizeof *col, err);
    at_g10_writer *g = NULL;
    at_status st = AT_OK;
    float table[256];
    stretch_table(table);
    if (!px || !y || !ex || !col) st = AT_ERR_MEMORY;
    if (!st) st = at_g10_writer_open(path, n, size, size, 3, 1, &g, err);
    for (size_t i0 = 0; i0 < n && !st; i0 += block) {
        size_t m = n - i0 < block ? n - i0 : block;
        int failed = 0;
#pragma omp parallel reduction(| : failed)
        {
            float *buf = malloc(per * sizeof *buf), *tmp = malloc(per * sizeof *tmp);
            if (!buf || !tmp) failed = 1;
#pragma omp for schedule(dynamic, 8)
            for (size_t j = 0; j < m; j++)
                if (buf && tmp) make_image(px + j * per, size, seed, i0 + j, buf, tmp, table, ex + 4 * j);
            free(buf);
            free(tmp);
        }
        if (failed) {
            st = at_fail(err, AT_ERR_MEMORY, "synth: out of memory rendering %zux%zu images", size, size);
            break;
        }
        for (size_t j = 0; j < m; j++) {
            y[j] = (int32_t)((i0 + j) % 10);
            for (int k = 0; k < 4; k++) col[k * block + j] = ex[4 * j + k];
        }
        st = at_g10_writer_put(g, i0, m, px, y, col, col + block, col + 2 * block, col + 3 * block, err);
    }
    if (g) {
        if (st) at_g10_writer_abort(g);
        else st = at_g10_writer_commit(g, err);
    }
    free(px);
    free(y);
    free(ex);
    free(col);
    return st;
}
