/* csv_internal.h - helpers shared by the CSV reader (csv.c) and the loader (load.c),
 * not part of the public API. */
#ifndef ASTROTRAIN_CSV_INTERNAL_H
#define ASTROTRAIN_CSV_INTERNAL_H

#include <stddef.h>

/* Byte offset of the first byte that breaks UTF-8 in s (NUL-terminated), or -1 when the
 * whole string is valid (overlong forms and surrogates count as invalid). */
long at_utf8_invalid_at(const char *s);

/* Writes s into dst (cap bytes) for an error message: bytes that are not printable
 * ASCII become \xNN, and long text is cut with "...". Returns dst. */
char *at_csv_quote_for_message(char *dst, size_t cap, const char *s);

#endif
