/* ini.h - (private) INI reading on top of libinih with file:line context.
 *
 * Debian's libinih is built without line numbers in the handler and without a callback
 * on section headers, and joins indented lines to the previous value. We drive it with
 * ini_parse_stream and a reader of our own that counts lines, strips leading blanks (so
 * an indented line is never a silent continuation), rejects over-long lines instead of
 * letting inih cut them, and reports every [section] header with its line. */
#ifndef ASTROTRAIN_IO_INI_H
#define ASTROTRAIN_IO_INI_H

#include <stddef.h>

#include "astrotrain/status.h"

typedef struct at_ini_callbacks {
    /* A [section] header at line. */
    at_status (*section)(void *user, const char *section, size_t line, at_error *err);
    /* key = value inside section (section is "" before the first header). */
    at_status (*entry)(void *user, const char *section, const char *key, const char *value,
                       size_t line, at_error *err);
    void *user;
} at_ini_callbacks;

/* Parses path; the first error (a callback's, a syntax error, a long line) stops it and
 * comes back as AT_ERR_CONFIG "path:line: ..." (callbacks write their own message, which
 * is prefixed with "path:line: "). A missing file is AT_ERR_IO. */
at_status at_ini_parse(const char *path, const at_ini_callbacks *cb, at_error *err);

/* Longest line libinih accepts (its INI_MAX_LINE, less the newline). */
size_t at_ini_max_line(void);

#endif
