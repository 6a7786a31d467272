/* numfmt17.c - "%.17g" without printf: v = m * 2^e exactly (m the 53-bit significand), so
 * m * 10^p fits 128 bits for the decimal exponents -6..16, and a shift by -e gives the
 * seventeen digits with the exact remainder; the remainder rounds half to even as glibc does.
 * No floating-point rounding anywhere, so the text is always printf's. Outside that range
 * (and for -0, NaN, Inf, subnormals) snprintf writes it. */
#include "core/numfmt17.h"

#include "core/numfmt.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static size_t slow(char *buf, double v) { return (size_t)snprintf(buf, AT_FMT_G17_MAX, "%.17g", v); }

typedef unsigned __int128 u128;

/* 10^p for p = 0..22 (10^22 < 2^74: with m < 2^53 the product stays under 2^127). */
static u128 pow10_u128(int p) {
    u128 r = 1;
    while (p-- > 0) r *= 10;
    return r;
}

/* The 17-digit integer q with v ~ q * 10^(x - 16), rounded half to even, for a decimal exponent
 * guess x; 0 when the guess does not fit the exact range. */
static uint64_t digits17(uint64_t m, int e, int x) {
    int p = 16 - x;
    if (p < 0 || p > 22) return 0;
    u128 a = (u128)m * pow10_u128(p);
    if (e >= 0) return e > 10 ? 0 : (uint64_t)(a << e); /* m * 10^p * 2^e < 2^127 */
    int s = -e;
    if (s >= 127) return 0;
    u128 q = a >> s, rem = a & (((u128)1 << s) - 1), half = (u128)1 << (s - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    return (uint64_t)q;
}

size_t at_fmt_g17(char *buf, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int neg = (int)(bits >> 63);
    unsigned eb = (unsigned)(bits >> 52) & 0x7ff;
    uint64_t frac = bits & ((UINT64_C(1) << 52) - 1);
    if (eb == 0 && frac == 0 && !neg) {
        buf[0] = '0', buf[1] = '\0';
        return 1;
    }
    if (eb == 0 || eb == 0x7ff) return slow(buf, v); /* -0, subnormals, NaN, Inf */
    uint64_t m = frac | (UINT64_C(1) << 52);
    int e = (int)eb - 1075; /* |v| = m * 2^e */
    /* decimal exponent guess from the binary one (log10(2) ~ 0.30103), corrected below */
    int x = (int)((e + 52) * 30103L / 100000L) - ((e + 52) < 0);
    uint64_t q = 0;
    for (int tries = 0; tries < 4; tries++) {
        q = digits17(m, e, x);
        if (!q) return slow(buf, v);
        if (q < UINT64_C(10000000000000000)) x--;
        else if (q >= UINT64_C(100000000000000000)) x++;
        else break;
    }
    if (q < UINT64_C(10000000000000000) || q >= UINT64_C(100000000000000000)) return slow(buf, v);
    if (x < -6 || x > 16) return slow(buf, v); /* outside what the exact path covers */
    char dig[17];
    for (int i = 16; i >= 0; i--) dig[i] = (char)('0' + q % 10), q /= 10;
    return at_fmt_g_digits(buf, neg, dig, 17, x);
}
