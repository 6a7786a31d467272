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

#endif
