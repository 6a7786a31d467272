/* strbuf.c - growing text buffer. */
#include "core/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(at_strbuf *b, size_t extra) {
    if (b->failed) return 0;
    if (b->len + extra + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->failed = 1;
        return 0;
    }
    b->s = s;
    b->cap = cap;
    return 1;
}

void at_strbuf_put(at_strbuf *b, const char *s, size_t n) {
    if (!reserve(b, n)) return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void at_strbuf_printf(at_strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if (!reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *at_strbuf_take(at_strbuf *b) {
    char *s = b->failed ? NULL : b->s;
    if (b->failed) free(b->s);
    if (s == NULL && !b->failed) s = calloc(1, 1); /* nothing appended: an empty text */
    memset(b, 0, sizeof *b);
    return s;
}

void at_strbuf_put_html(at_strbuf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': at_strbuf_put(b, "&lt;", 4); break;
        case '>': at_strbuf_put(b, "&gt;", 4); break;
        case '&': at_strbuf_put(b, "&amp;", 5); break;
        case '"': at_strbuf_put(b, "&quot;", 6); break;
        default: at_strbuf_put(b, s, 1);
        }
    }
}
