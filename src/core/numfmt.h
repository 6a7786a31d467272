/* numfmt.h - (private) fast number text for the catalogue writers: "%.9g" without printf,
 * byte-identical to glibc's printf (tested against it), so predictions written by the fast
 * path compare textually with every earlier output. */
#ifndef ASTROTRAIN_CORE_NUMFMT_H
#define ASTROTRAIN_CORE_NUMFMT_H

#include <stddef.h>

/* Room for any "%.9g" text plus the NUL. */
#define AT_FMT_G9_MAX 32

/* Writes v as printf("%.9g", v) would into buf (at least AT_FMT_G9_MAX bytes), NUL-terminated;
 * returns the length. Values with a positive or three-digit exponent (>= 1e9, < 1e-99), -0,
 * NaN/Inf, and the rare values whose ninth digit sits within rounding error of a tie go
 * through snprintf. */
size_t at_fmt_g9(char *buf, double v);

/* The shared last step of the "%.Pg" writers (at_fmt_g9, at_fmt_g17): the text of the P
 * significant digits dig[0..P-1] of a value dig[0].dig[1]... x 10^x, negative when neg, as
 * printf's %g lays it out for x < P: fixed form, or d.ddde-XX when x < -4; trailing zeros
 * dropped. Returns the length (buf NUL-terminated). */
size_t at_fmt_g_digits(char *buf, int neg, const char *dig, int P, int x);

#endif
