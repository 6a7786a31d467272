/* csv.c - the streaming CSV record reader: plain or gzip input (zlib tells them apart by
 * the magic bytes), RFC 4180 quoting, LF/CRLF/CR line ends, optional '#' comments.
 *
 * Input is read through zlib in large blocks; each record is unquoted into one reusable
 * buffer whose fields are NUL-separated, so a record costs no allocation. Every size is
 * bounded by max_line, so hostile input cannot make the reader allocate without bound. */
#include "astrotrain/csv.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/csv_internal.h"

#define IN_BLOCK (256u * 1024u) /* bytes per gzread: large blocks keep zlib's loop tight */

/* Character classes for the scanning loops. */
enum { CH_PLAIN = 0, CH_DELIM = 1, CH_LF = 2, CH_CR = 3, CH_NUL = 4 };

struct at_csv_reader {
    char *path;
    at_csv_options opt;
    gzFile gz;           /* NULL once the stream has been closed at its end */
    int is_gzip;
    unsigned char *in;   /* raw input block */
    size_t in_pos, in_len;
    int in_eof;
    unsigned char cls[256];   /* class of each byte outside quotes */
    char *rec;           /* unquoted fields of the current record, NUL-separated */
    size_t rec_cap;
    char **fields;       /* pointers into rec */
    size_t fields_cap, nfields;
    char *header;        /* column names, NUL-separated, owned */
    char **names;
    size_t ncols;
    size_t line;         /* physical line (1-based) of the next unread byte */
    size_t rec_line;     /* line where the current record started */
    int64_t rec_index;   /* data records returned so far, minus one */
    int64_t in_base;     /* stream offset of in[0] (byte ranges) */
};

void at_csv_options_default(at_csv_options *o) {
    o->delimiter = ',';
    o->allow_comments = 0;
    o->max_line = (size_t)1 << 20;
    o->range_begin = o->range_end = 0;
}

long at_utf8_invalid_at(const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (s[i]) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) n = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF) n = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4) n = 3, cp = c & 0x07;
        else return (long)i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return (long)i; /* also stops at the NUL */
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        /* Overlong three/four-byte forms, UTF-16 surrogates and values past U+10FFFF. */
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return (long)i;
        i += n + 1;
    }
    return -1;
}

char *at_csv_quote_for_message(char *dst, size_t cap, const char *s) {
    size_t w = 0, i = 0;
    if (!cap) return dst;
    const size_t room = cap > 8 ? cap - 8 : 0; /* keep space for "..." and the NUL */
    while (s[i] && w < room) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F) {
            dst[w++] = (char)c;
            i++;
            continue;
        }
        if (c >= 0x80) {
            /* Keep a valid multi-byte character whole; escape stray bytes. */
            char one[5] = {0};
            size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            size_t k = 0;
            while (k < n && s[i + k]) one[k] = s[i + k], k++;
            if (k == n && n > 1 && at_utf8_invalid_at(one) < 0 && w + n <= room) {
                memcpy(dst + w, one, n);
                w += n;
                i += n;
                continue;
            }
        }
        if (w + 4 > room) break;
        snprintf(dst + w, 5, "\\x%02X", c);
        w += 4;
        i++;
    }
    if (s[i]) {
        memcpy(dst + w, "...", 3);
        w += 3;
    }
    dst[w] = '\0';
    return dst;
}

/* Reads the next block of input. At the end of the stream closes it and checks zlib's
 * verdict, so a gzip file cut short is reported rather than read as a shorter table. */
static at_status refill(at_csv_reader *r, at_error *err) {
    r->in_base += (int64_t)r->in_len;
    r->in_pos = r->in_len = 0;
    if (r->in_eof) return AT_OK;
    int got = gzread(r->gz, r->in, IN_BLOCK);
    int zerr = Z_OK;
    const char *zmsg = gzerror(r->gz, &zerr);
    if (got < 0 || (got == 0 && zerr != Z_OK)) {
        if (zerr == Z_ERRNO)
            return at_fail(err, AT_ERR_IO, "%s: read error: %s", r->path, strerror(errno));
        if (r->is_gzip || zerr == Z_BUF_ERROR || zerr == Z_DATA_ERROR)
            return at_fail(err, AT_ERR_DATA, "%s: truncated or corrupt gzip data (%s)", r->path,
                           zmsg);
        return at_fail(err, AT_ERR_IO, "%s: read error: %s", r->path, zmsg);
    }
    r->in_len = (size_t)got;
    if (got == 0) {
        r->in_eof = 1;
        int st = gzclose_r(r->gz);
        r->gz = NULL;
        if (st == Z_BUF_ERROR || st == Z_DATA_ERROR)
            return at_fail(err, AT_ERR_DATA, "%s: truncated or corrupt gzip data", r->path);
        if (st != Z_OK)
            return at_fail(err, AT_ERR_IO, "%s: read error while closing (zlib status %d)",
                           r->path, st);
    }
    return AT_OK;
}

/* Next byte without consuming it, or -1 at the end of input. */
static int peek_byte(at_csv_reader *r, at_status *st, at_error *err) {
    if (r->in_pos == r->in_len) {
        *st = refill(r, err);
        if (*st || r->in_len == 0) return -1;
    }
    return r->in[r->in_pos];
}

static at_status nul_byte(const at_csv_reader *r, at_error *err) {
    return at_fail(err, AT_ERR_DATA, "%s:%zu: NUL byte in the data (not a text CSV file?)",
                   r->path, r->line);
}

static at_status too_long(const at_csv_reader *r, at_error *err) {
    return at_fail(err, AT_ERR_DATA,
                   "%s:%zu: record longer than %zu bytes (max_line); a quote left open, or "
                   "not a CSV file?",
                   r->path, r->rec_line, r->opt.max_line);
}

/* Makes room for `more` bytes after the first `used` bytes of rec (bounded by max_line). */
static at_status rec_reserve(at_csv_reader *r, size_t used, size_t more, at_error *err) {
    size_t need = used + more + 1;
    if (need <= r->rec_cap) return AT_OK;
    size_t cap = r->rec_cap ? r->rec_cap : 4096;
    while (cap < need) cap *= 2;
    if (cap > r->opt.max_line + 2) cap = r->opt.max_line + 2;
    if (cap < need) return too_long(r, err);
    char *p = realloc(r->rec, cap);
    if (!p) return at_fail(err, AT_ERR_MEMORY, "out of memory reading %s", r->path);
    r->rec = p;
    r->rec_cap = cap;
    return AT_OK;
}

/* Records that field number nfields starts at offset off in rec (pointers are set once
 * the record is complete, since rec may move while it grows). */
static at_status push_field(at_csv_reader *r, size_t off, at_error *err) {
    if (r->nfields == r->fields_cap) {
        size_t cap = r->fields_cap ? r->fields_cap * 2 : 64;
        char **p = realloc(r->fields, cap * sizeof *p);
        if (!p) return at_fail(err, AT_ERR_MEMORY, "out of memory reading %s", r->path);
        r->fields = p;
        r->fields_cap = cap;
    }
    r->fields[r->nfields++] = (char *)(uintptr_t)off;
    return AT_OK;
}

/* Skips blank lines (and comment lines when allowed). Returns 1 when a record starts at
 * the next byte, 0 at the end of input. */
static int skip_to_record(at_csv_reader *r, at_status *st, at_error *err) {
    for (;;) {
        int c = peek_byte(r, st, err);
        if (c < 0) return 0;
        if (c == '\n') {
            r->in_pos++;
            r->line++;
        } else if (c == '\r') {
            r->in_pos++;
            r->line++;
            if (peek_byte(r, st, err) == '\n') r->in_pos++;
            if (*st) return 0;
        } else if (c == '#' && r->opt.allow_comments) {
            /* A comment runs to the end of the physical line; quotes mean nothing in it. */
            for (;;) {
                if (r->in_pos == r->in_len) {
                    if ((*st = refill(r, err)) || r->in_len == 0) return 0;
                }
                unsigned char *p = r->in + r->in_pos, *e = r->in + r->in_len;
                unsigned char *q = p;
                while (q < e && *q != '\n' && *q != '\r') q++;
                r->in_pos += (size_t)(q - p);
                if (q < e) break;
            }
        } else {
            return 1;
        }
    }
}

/* Reads one record into rec/fields. *got = 0 at the end of input. */
static at_status read_record(at_csv_reader *r, int *got, at_error *err) {
    at_status st = AT_OK;
    *got = 0;
    r->nfields = 0;
    if (!skip_to_record(r, &st, err)) return st;
    if (r->opt.range_end > 0 && r->header && r->in_base + (int64_t)r->in_pos >= r->opt.range_end) return AT_OK;
    r->rec_line = r->line;
    enum { START, UNQUOTED, QUOTED, QUOTE_SEEN } state = START;
    size_t w = 0;      /* bytes written to rec */
    size_t raw = 0;    /* bytes of input the record has used, for max_line */
    const size_t max = r->opt.max_line;
    const unsigned char *cls = r->cls;
    if ((st = push_field(r, 0, err))) return st;
    int ended = 0;
    while (!ended) {
        if (r->in_pos == r->in_len) {
            if ((st = refill(r, err))) return st;
            if (r->in_len == 0) break; /* end of input ends the record */
        }
        const unsigned char *p = r->in + r->in_pos, *e = r->in + r->in_len;
        if (state == START) {
            if (*p == '"') {
                state = QUOTED;
                r->in_pos++;
                if (++raw > max) return too_long(r, err);
                continue;
            }
            state = UNQUOTED;
        }
        if (state == UNQUOTED) {
            const unsigned char *q = p;
            while (q < e && cls[*q] == CH_PLAIN) q++;
            size_t n = (size_t)(q - p);
            if (n) {
                if (raw + n > max) return too_long(r, err);
                if ((st = rec_reserve(r, w, n, err))) return st;
                memcpy(r->rec + w, p, n);
                w += n;
                raw += n;
                r->in_pos += n;
            }
            if (q == e) continue;
            switch (cls[*q]) {
            case CH_DELIM:
                if ((st = rec_reserve(r, w, 1, err))) return st;
                r->rec[w++] = '\0';
                if ((st = push_field(r, w, err))) return st;
                state = START;
                break;
            case CH_LF:
                r->line++;
                ended = 1;
                break;
            case CH_CR:
                r->line++;
                ended = 2; /* swallow a following LF below */
                break;
            case CH_NUL:
                return nul_byte(r, err);
            }
            r->in_pos++;
            if (!ended && ++raw > max) return too_long(r, err);
            continue;
        }
        if (state == QUOTED) {
            /* Copy up to the next quote; newlines inside quotes are data (but count lines). */
            const unsigned char *q = p;
            while (q < e && *q != '"' && *q != '\0') {
                if (*q == '\n') r->line++;
                q++;
            }
            size_t n = (size_t)(q - p);
            if (n) {
                if (raw + n > max) return too_long(r, err);
                if ((st = rec_reserve(r, w, n, err))) return st;
                memcpy(r->rec + w, p, n);
                w += n;
                raw += n;
                r->in_pos += n;
            }
            if (q == e) continue;
            if (*q == '\0')
                return nul_byte(r, err);
            state = QUOTE_SEEN;
            r->in_pos++;
            if (++raw > max) return too_long(r, err);
            continue;
        }
        /* QUOTE_SEEN: "" is a literal quote; anything else closes the quoted part, and
         * text after it is kept as in most readers ("a"b -> ab). */
        if (*p == '"') {
            if ((st = rec_reserve(r, w, 1, err))) return st;
            r->rec[w++] = '"';
            r->in_pos++;
            if (++raw > max) return too_long(r, err);
            state = QUOTED;
        } else {
            state = UNQUOTED;
        }
    }
    if (state == QUOTED)
        return at_fail(err, AT_ERR_DATA,
                       "%s:%zu: quoted field not closed before the end of the file", r->path,
                       r->rec_line);
    if (ended == 2) {
        int c = peek_byte(r, &st, err);
        if (st) return st;
        if (c == '\n') r->in_pos++;
    }
    if ((st = rec_reserve(r, w, 0, err))) return st;
    r->rec[w] = '\0';
    for (size_t j = 0; j < r->nfields; j++) r->fields[j] = r->rec + (uintptr_t)r->fields[j];
    *got = 1;
    return AT_OK;
}

/* Byte ranges: moves to the first line start at or after range_begin (the header already
 * read). A range that starts inside the header starts right after it. */
static at_status seek_range(at_csv_reader *r, at_error *err) {
    if (r->is_gzip)
        return at_fail(err, AT_ERR_USAGE, "%s: a gzip file cannot be read in byte ranges", r->path);
    int64_t begin = r->opt.range_begin;
    if (begin <= r->in_base + (int64_t)r->in_pos) return AT_OK;
    if (gzseek(r->gz, (z_off_t)(begin - 1), SEEK_SET) < 0)
        return at_fail(err, AT_ERR_IO, "%s: cannot seek to byte %lld", r->path, (long long)(begin - 1));
    r->in_pos = r->in_len = 0;
    r->in_base = begin - 1;
    at_status st = AT_OK;
    /* The byte before the range: a line end means a line starts at range_begin. */
    for (;;) {
        int c = peek_byte(r, &st, err);
        if (c < 0) return st;
        r->in_pos++;
        if (c == '\n' || c == '\r') break;
    }
    return AT_OK;
}

at_status at_csv_open(const char *path, const at_csv_options *opt, at_csv_reader **out,
                      at_error *err) {
    *out = NULL;
    at_csv_options o;
    if (opt) o = *opt;
    else at_csv_options_default(&o);
    if (o.max_line == 0) o.max_line = (size_t)1 << 20;
    if (o.max_line > ((size_t)1 << 40)) o.max_line = (size_t)1 << 40;
    if (o.delimiter == '"' || o.delimiter == '\n' || o.delimiter == '\r' || o.delimiter == '\0')
        return at_fail(err, AT_ERR_USAGE,
                       "%s: the CSV delimiter cannot be a quote, NUL or line end", path);
    at_csv_reader *r = at_calloc(1, sizeof *r, err);
    if (!r) return AT_ERR_MEMORY;
    r->opt = o;
    r->line = 1;
    r->rec_index = -1;
    r->path = at_strdup(path, err);
    r->in = at_malloc(IN_BLOCK, 1, err);
    at_status st = AT_OK;
    if (!r->path || !r->in) {
        st = AT_ERR_MEMORY;
        goto fail;
    }
    r->cls[(unsigned char)o.delimiter] = CH_DELIM;
    r->cls['\n'] = CH_LF;
    r->cls['\r'] = CH_CR;
    r->cls[0] = CH_NUL;
    errno = 0;
    r->gz = gzopen(path, "rb");
    if (!r->gz) {
        st = at_fail(err, errno == ENOMEM ? AT_ERR_MEMORY : AT_ERR_IO, "%s: cannot open: %s", path,
                     errno ? strerror(errno) : "zlib could not open it");
        goto fail;
    }
    gzbuffer(r->gz, IN_BLOCK);
    if ((st = refill(r, err))) goto fail;
    r->is_gzip = r->gz && !gzdirect(r->gz);
    if (r->in_len >= 3 && r->in[0] == 0xEF && r->in[1] == 0xBB && r->in[2] == 0xBF) r->in_pos = 3;

    int got;
    if ((st = read_record(r, &got, err))) goto fail;
    if (!got) {
        st = at_fail(err, AT_ERR_DATA, "%s: empty file, expected a header row", path);
        goto fail;
    }
    /* Keep the header apart: rec is reused by every record. */
    size_t bytes = 0;
    for (size_t j = 0; j < r->nfields; j++) bytes += strlen(r->fields[j]) + 1;
    r->header = at_malloc(bytes, 1, err);
    r->names = at_malloc(r->nfields, sizeof *r->names, err);
    if (!r->header || !r->names) {
        st = AT_ERR_MEMORY;
        goto fail;
    }
    memcpy(r->header, r->rec, bytes);
    r->ncols = r->nfields;
    for (size_t j = 0, off = 0; j < r->ncols; j++) {
        r->names[j] = r->header + off;
        off += strlen(r->names[j]) + 1;
        long bad = at_utf8_invalid_at(r->names[j]);
        if (bad >= 0) {
            char shown[128];
            st = at_fail(err, AT_ERR_DATA,
                         "%s:%zu: header column %zu name is not valid UTF-8 (byte %ld): '%s' "
                         "(not a text CSV file?)",
                         path,
                         r->rec_line, j + 1, bad + 1,
                         at_csv_quote_for_message(shown, sizeof shown, r->names[j]));
            goto fail;
        }
    }
    if (o.range_end > 0 && (st = seek_range(r, err))) goto fail;
    *out = r;
    return AT_OK;
fail:
    at_csv_close(r);
    return st;
}

void at_csv_close(at_csv_reader *r) {
    if (!r) return;
    if (r->gz) gzclose_r(r->gz);
    free(r->path);
    free(r->in);
    free(r->rec);
    free(r->fields);
    free(r->header);
    free(r->names);
    free(r);
}

size_t at_csv_ncols(const at_csv_reader *r) { return r->ncols; }

const char *at_csv_colname(const at_csv_reader *r, size_t j) {
    return j < r->ncols ? r->names[j] : NULL;
}

long at_csv_find(const at_csv_reader *r, const char *name) {
    for (size_t j = 0; j < r->ncols; j++)
        if (strcmp(r->names[j], name) == 0) return (long)j;
    return -1;
}

const char *at_csv_path(const at_csv_reader *r) { return r->path; }

at_status at_csv_next(at_csv_reader *r, char ***fields, size_t *nfields, int *eof, at_error *err) {
    int got;
    *fields = NULL;
    *nfields = 0;
    *eof = 0;
    at_status st = read_record(r, &got, err);
    if (st) return st;
    if (!got) {
        *eof = 1;
        return AT_OK;
    }
    r->rec_index++;
    if (r->nfields != r->ncols)
        return at_fail(err, AT_ERR_DATA, "%s:%zu: expected %zu fields, found %zu", r->path,
                       r->rec_line, r->ncols, r->nfields);
    *fields = r->fields;
    *nfields = r->nfields;
    return AT_OK;
}

size_t at_csv_line(const at_csv_reader *r) { return r->rec_line; }

int64_t at_csv_record(const at_csv_reader *r) { return r->rec_index; }

int at_file_is_gzip(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char m[2] = {0, 0};
    size_t got = fread(m, 1, 2, f);
    fclose(f);
    return got == 2 && m[0] == 0x1f && m[1] == 0x8b;
}
