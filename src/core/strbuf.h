/* strbuf.h - (private) a growing text buffer for the texts the library builds (effective
 * configuration, docs, reports). An allocation failure sets `failed` and stops appending,
 * so a caller checks once at the end instead of after every append. */
#ifndef ASTROTRAIN_CORE_STRBUF_H
#define ASTROTRAIN_CORE_STRBUF_H

#include <stddef.h>

typedef struct at_strbuf {
    char *s; /* NUL-terminated once anything was appended; NULL before */
    size_t len, cap;
    int failed;
} at_strbuf;

void at_strbuf_put(at_strbuf *b, const char *s, size_t n);
/* s with <, >, & and " written as HTML entities. */
void at_strbuf_put_html(at_strbuf *b, const char *s);
void at_strbuf_printf(at_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text, handed to the caller (free()); NULL when an allocation failed. Resets b. */
char *at_strbuf_take(at_strbuf *b);

#endif
