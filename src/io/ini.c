/* ini.c - libinih driven with a line-counting reader (see ini.h for why). */
#include "io/ini.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader_state {
    FILE *f;
    const char *path;
    size_t line;
    const at_ini_callbacks *cb;
    at_error *err;
    at_status status; /* first failure; parsing stops */
    char *buf;
    size_t cap;
} reader_state;

size_t at_ini_max_line(void) { return INI_MAX_LINE - 2; }

static int valid_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t extra;
        if (c < 0x80) extra = 0;
        else if ((c & 0xE0) == 0xC0) extra = 1;
        else if ((c & 0xF0) == 0xE0) extra = 2;
        else if ((c & 0xF8) == 0xF0) extra = 3;
        else return 0;
        if (extra > n - i - 1) return 0;
        for (size_t k = 1; k <= extra; k++)
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        i += extra + 1;
    }
    return 1;
}

/* fgets-like reader handed to ini_parse_stream: one physical line per call. */
static char *read_line(char *str, int num, void *stream) {
    reader_state *rs = stream;
    if (rs->status) return NULL;
    ssize_t len = getline(&rs->buf, &rs->cap, rs->f);
    if (len < 0) return NULL;
    rs->line++;
    if (memchr(rs->buf, '\0', (size_t)len)) {
        rs->status = at_fail(rs->err, AT_ERR_CONFIG, "%s:%zu: NUL byte in the file (is it an INI text file?)",
                             rs->path, rs->line);
        return NULL;
    }
    if (!valid_utf8((const unsigned char *)rs->buf, (size_t)len)) {
        rs->status = at_fail(rs->err, AT_ERR_CONFIG, "%s:%zu: the line is not valid UTF-8 text",
                             rs->path, rs->line);
        return NULL;
    }
    char *p = rs->buf;
    while (*p == ' ' || *p == '\t') p++;
    size_t n = strlen(p);
    while (n && (p[n - 1] == '\n' || p[n - 1] == '\r')) p[--n] = '\0';
    if (n + 2 > (size_t)num) {
        rs->status = at_fail(rs->err, AT_ERR_CONFIG, "%s:%zu: line too long (%zu characters; at most %zu)",
                             rs->path, rs->line, n, (size_t)num - 2);
        return NULL;
    }
    if (p[0] == '[' && rs->cb->section) {
        char *end = strchr(p, ']');
        if (!end) {
            rs->status = at_fail(rs->err, AT_ERR_CONFIG, "%s:%zu: section header without ']'", rs->path,
                                 rs->line);
            return NULL;
        }
        char name[256];
        size_t m = (size_t)(end - p - 1);
        if (m >= sizeof name) m = sizeof name - 1;
        memcpy(name, p + 1, m);
        name[m] = '\0';
        /* trim like inih does */
        char *s = name;
        while (*s == ' ' || *s == '\t') s++;
        size_t sl = strlen(s);
        while (sl && (s[sl - 1] == ' ' || s[sl - 1] == '\t')) s[--sl] = '\0';
        /* libinih keeps at most 49 characters of a section name (its MAX_SECTION) and would
         * silently file later keys under the shortened name. */
        if (strlen(s) > 49) {
            rs->status = at_fail(rs->err, AT_ERR_CONFIG, "%s:%zu: section name too long (%zu characters; at most 49)",
                                 rs->path, rs->line, strlen(s));
            return NULL;
        }
        at_status st = rs->cb->section(rs->cb->user, s, rs->line, rs->err);
        if (st) {
            at_error_prefix(rs->err, "%s:%zu: ", rs->path, rs->line);
            rs->status = st;
            return NULL;
        }
    }
    memcpy(str, p, n);
    str[n] = '\n';
    str[n + 1] = '\0';
    return str;
}

static int on_entry(void *user, const char *section, const char *name, const char *value) {
    reader_state *rs = user;
    if (rs->status) return 0;
    if (!name[0]) {
        rs->status = at_fail(rs->err, AT_ERR_CONFIG, "%s:%zu: a key name is missing before '='", rs->path, rs->line);
        return 0;
    }
    /* "key =;x" reaches us as ";x", but written back as "key = ;x" it would read as a
     * comment: refuse the ambiguity instead of changing meaning between runs. */
    if (value[0] == ';' || value[0] == '#') {
        rs->status = at_fail(rs->err, AT_ERR_CONFIG, "%s:%zu: the value of '%s' starts with a comment character '%c'",
                             rs->path, rs->line, name, value[0]);
        return 0;
    }
    at_status st = rs->cb->entry(rs->cb->user, section, name, value, rs->line, rs->err);
    if (st) {
        at_error_prefix(rs->err, "%s:%zu: ", rs->path, rs->line);
        rs->status = st;
        return 0;
    }
    return 1;
}

at_status at_ini_parse(const char *path, const at_ini_callbacks *cb, at_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return at_fail(err, AT_ERR_IO, "%s: %s", path, strerror(errno));
    reader_state rs = {.f = f, .path = path, .cb = cb, .err = err};
    /* The state is both the stream (for the reader) and the user (for the handler). */
    int rc = ini_parse_stream(read_line, &rs, on_entry, &rs);
    int read_failed = ferror(f);
    fclose(f);
    free(rs.buf);
    if (rs.status) return rs.status;
    if (read_failed) return at_fail(err, AT_ERR_IO, "%s: read error", path);
    if (rc > 0)
        return at_fail(err, AT_ERR_CONFIG, "%s:%d: expected 'key = value' or '[section]'", path, rc);
    if (rc < 0) return at_fail(err, AT_ERR_MEMORY, "%s: out of memory while parsing", path);
    return AT_OK;
}
