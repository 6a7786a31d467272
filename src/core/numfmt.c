/* numfmt.c - "%.9g" without printf for the numbers catalogues are full of (probabilities,
 * coordinates): one multiplication by an exact power of ten and a rounding decide the nine
 * significant digits; a result whose fraction lies within the product's rounding error of
 * one half (where the exact decimal expansion decides) goes to snprintf, as do the forms
 * printf writes with an exponent. So the text is always printf's. */
#include "core/numfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const double pow10_tab[13] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12};

static size_t slow(char *buf, double v) { return (size_t)snprintf(buf, AT_FMT_G9_MAX, "%.9g", v); }

size_t at_fmt_g9(char *buf, double v) {
    if (v == 0.0) {
        if (signbit(v)) return slow(buf, v);
        buf[0] = '0', buf[1] = '\0';
        return 1;
    }
    double a = fabs(v);
    /* %g's fixed form covers decimal exponents -4..8; 9.9999999995e8 and up, or below
     * 1e-4 (with margin for the rounding up to 1e-4), take the slow path. */
    if (!(a >= 1.0001e-4 && a < 9.99e8)) return slow(buf, v);
    int x = (int)floor(log10(a)); /* the decimal exponent, or one off near a power of ten */
    if (x < -4) x = -4;
    if (x > 8) x = 8;
    uint64_t r;
    for (;;) {
        /* y = a * 10^(8 - x): exact power (8 - x <= 12), one rounding, so |error| <=
         * 2^-24 for y < 2^30; a fraction within 1e-6 of one half could round either way. */
        double y = a * pow10_tab[8 - x];
        if (y < 99999999.5 && x > -4) {
            x--;
            continue;
        }
        double fl = floor(y), fr = y - fl;
        if (fabs(fr - 0.5) < 1e-6) return slow(buf, v);
        r = (uint64_t)fl + (fr > 0.5);
        if (r >= 1000000000u) {
            if (x == 8) return slow(buf, v);
            x++;
            continue;
        }
        if (r < 100000000u) return slow(buf, v); /* below 1e-4 after all */
        break;
    }
    /* r has nine digits, the value is r * 10^(x - 8); fixed form with 8 - x decimals,
     * trailing zeros (and a bare point) removed. */
    char dig[9];
    for (int i = 8; i >= 0; i--) dig[i] = (char)('0' + r % 10), r /= 10;
    int last = 8;
    while (last > 0 && dig[last] == '0') last--;
    size_t w = 0;
    if (v < 0) buf[w++] = '-';
    if (x >= 0) {
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
