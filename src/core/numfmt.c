/* numfmt.c - "%.9g" without printf for the numbers catalogues are full of (probabilities,
 * coordinates): one multiplication by an exact power of ten and a rounding decide the nine
 * significant digits; a result whose fraction lies within the product's rounding error of
 * one half (where the exact decimal expansion decides) goes to snprintf, as do the forms
 * printf writes with a positive or 3-digit exponent. So the text is always printf's. */
#include "core/numfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const double pow10_tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static size_t slow(char *buf, double v) { return (size_t)snprintf(buf, AT_FMT_G9_MAX, "%.9g", v); }

/* a * 10^s: exact powers up to 10^22, one rounding each, at most 6 for s <= 108; so the
 * relative error stays under 6 * 2^-53 and the absolute error on y < 1e9 under 7e-7. */
static double scale10(double a, int s) {
    while (s > 22) a *= 1e22, s -= 22;
    return a * pow10_tab[s];
}

size_t at_fmt_g_digits(char *buf, int neg, const char *dig, int P, int x) {
    int last = P - 1;
    while (last > 0 && dig[last] == '0') last--; /* %g drops trailing zeros */
    size_t w = 0;
    if (neg) buf[w++] = '-';
    if (x < -4) { /* d.dddde-XX */
        buf[w++] = dig[0];
        if (last > 0) {
            buf[w++] = '.';
            for (int i = 1; i <= last; i++) buf[w++] = dig[i];
        }
        int e = -x;
        buf[w++] = 'e', buf[w++] = '-';
        if (e >= 100) buf[w++] = (char)('0' + e / 100);
        buf[w++] = (char)('0' + e / 10 % 10);
        buf[w++] = (char)('0' + e % 10);
    } else if (x >= 0) {
        for (int i = 0; i <= x; i++) buf[w++] = dig[i];
        if (last > x) {
            buf[w++] = '.';
            for (int i = x + 1; i <= last; i++) buf[w++] = dig[i];
        }
    } else {
        buf[w++] = '0';
        buf[w++] = '.';
        for (int i = 0; i < -x - 1; i++) buf[w++] = '0';
        for (int i = 0; i <= last; i++) buf[w++] = dig[i];
    }
    buf[w] = '\0';
    return w;
}

size_t at_fmt_g9(char *buf, double v) {
    if (v == 0.0) {
        if (signbit(v)) return slow(buf, v);
        buf[0] = '0', buf[1] = '\0';
        return 1;
    }
    double a = fabs(v);
    /* Decimal exponents -100..8 here (the e+ forms and extremes take the slow path). */
    if (!(a >= 1e-100 && a < 9.99e8)) return slow(buf, v);
    int x = (int)floor(log10(a)); /* the decimal exponent, or one off near a power of ten */
    if (x > 8) x = 8;
    if (x < -99) return slow(buf, v);
    uint64_t r;
    for (int tries = 0;; tries++) {
        if (tries > 3) return slow(buf, v);
        double y = scale10(a, 8 - x);
        if (y < 99999999.5) {
            x--;
            continue;
        }
        double fl = floor(y), fr = y - fl;
        if (fabs(fr - 0.5) < 1e-6) return slow(buf, v); /* too close to a tie to tell */
        r = (uint64_t)fl + (fr > 0.5);
        if (r >= 1000000000u) {
            if (x == 8) return slow(buf, v);
            x++;
            continue;
        }
        break;
    }
    /* r has nine digits, the value is r * 10^(x - 8). */
    char dig[9];
    for (int i = 8; i >= 0; i--) dig[i] = (char)('0' + r % 10), r /= 10;
    return at_fmt_g_digits(buf, v < 0, dig, 9, x);
}
