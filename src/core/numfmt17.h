/* numfmt17.h - (private) "%.17g" without printf for the server's answers: exact integer
 * arithmetic decides the seventeen significant digits, so the text is byte-identical to
 * glibc's printf (tested against it) and earlier answers compare textually. */
#ifndef ASTROTRAIN_CORE_NUMFMT17_H
#define ASTROTRAIN_CORE_NUMFMT17_H

#include <stddef.h>

/* Room for any "%.17g" text plus the NUL. */
#define AT_FMT_G17_MAX 32

/* Writes v as printf("%.17g", v) would into buf (at least AT_FMT_G17_MAX bytes),
 * NUL-terminated; returns the length. Values from 1e-6 up to 1e17 (probabilities,
 * magnitudes, coordinates) take the exact integer path; others (and -0, NaN, Inf,
 * subnormals) go through snprintf. */
size_t at_fmt_g17(char *buf, double v);

#endif
