/* keys.c - the one implementation behind every key table (keys.h): parse a value into its
 * field with type, range and choice errors, format it back, defaults, "did you mean" and
 * the markdown rows of docs/config.md. */
#include "astrotrain/keys.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/strbuf.h"
#include "core/words.h"

const at_key *at_key_find(const at_key *keys, size_t n, const char *section, const char *name) {
    for (size_t i = 0; i < n; i++)
        if ((!section || strcmp(keys[i].section, section) == 0) && (!name || strcmp(keys[i].name, name) == 0))
            return &keys[i];
    return NULL;
}

static int parse_bool(const char *v, int *out) {
    static const char *const t[] = {"true", "yes", "on", "1"}, *const f[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, t[i]) == 0) return *out = 1, 1;
        if (strcasecmp(v, f[i]) == 0) return *out = 0, 1;
    }
    return 0;
}

/* The closed range [min, max] of a number key. */
static int out_of_range(const at_key *k, double x) { return x < k->min || x > k->max; }

static at_status set_int(const at_key *k, void *dst, long long x, at_error *err) {
    if (out_of_range(k, (double)x))
        return at_fail(err, AT_ERR_CONFIG, "[%s] %s = %lld is out of range [%.0f, %.0f]", k->section, k->name, x,
                       k->min, k->max);
    if (k->type == AT_KEY_SIZE) {
        size_t v = (size_t)x;
        memcpy(dst, &v, sizeof v);
    } else if (k->size == sizeof(int)) {
        int v = (int)x;
        memcpy(dst, &v, sizeof v);
    } else {
        int64_t v = x;
        memcpy(dst, &v, sizeof v);
    }
    return AT_OK;
}

at_status at_key_set(const at_key *k, void *base, const char *text, at_error *err) {
    while (isspace((unsigned char)*text)) text++;
    size_t len = strlen(text);
    while (len && isspace((unsigned char)text[len - 1])) len--;
    void *dst = (char *)base + k->offset;
    if (k->type == AT_KEY_STR) {
        if (len >= k->size)
            return at_fail(err, AT_ERR_CONFIG, "[%s] %s: value too long (%zu characters; at most %zu)", k->section,
                           k->name, len, k->size - 1);
        memcpy(dst, text, len);
        ((char *)dst)[len] = '\0';
        return AT_OK;
    }
    char v[256];
    if (len >= sizeof v) len = sizeof v - 1; /* no number or name is that long: reported as bad */
    memcpy(v, text, len);
    v[len] = '\0';
    char *end;
    switch (k->type) {
    case AT_KEY_INT:
    case AT_KEY_SIZE: {
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (!v[0] || *end || errno == ERANGE)
            return at_fail(err, AT_ERR_CONFIG, "[%s] %s: '%s' is not an integer", k->section, k->name, v);
        return set_int(k, dst, x, err);
    }
    case AT_KEY_REAL: {
        double x = strtod(v, &end);
        if (!v[0] || *end || !isfinite(x))
            return at_fail(err, AT_ERR_CONFIG, "[%s] %s: '%s' is not a finite number", k->section, k->name, v);
        if (out_of_range(k, x))
            return at_fail(err, AT_ERR_CONFIG, "[%s] %s = %g is out of range [%g, %g]", k->section, k->name, x,
                           k->min, k->max);
        memcpy(dst, &x, sizeof x);
        return AT_OK;
    }
    case AT_KEY_BOOL: {
        int b;
        if (!parse_bool(v, &b))
            return at_fail(err, AT_ERR_CONFIG, "[%s] %s: '%s' is not a boolean (true/false)", k->section, k->name,
                           v);
        memcpy(dst, &b, sizeof b);
        return AT_OK;
    }
    case AT_KEY_CHOICE: {
        int idx = at_choice_index(k->choices, v);
        if (idx < 0) {
            char list[256];
            snprintf(list, sizeof list, "%s", k->choices);
            for (char *p = list; *p; p++)
                if (*p == '|') *p = '/';
            return at_fail(err, AT_ERR_CONFIG, "[%s] %s: '%s' is not one of %s", k->section, k->name, v, list);
        }
        memcpy(dst, &idx, sizeof idx);
        return AT_OK;
    }
    case AT_KEY_STR: break;
    }
    return at_fail(err, AT_ERR_INTERNAL, "bad key type");
}

/* The integer value of an INT or SIZE field. */
static long long get_int(const at_key *k, const void *src) {
    if (k->type == AT_KEY_SIZE) {
        size_t v;
        memcpy(&v, src, sizeof v);
        return (long long)v;
    }
    if (k->size == sizeof(int)) {
        int v;
        memcpy(&v, src, sizeof v);
        return v;
    }
    int64_t v;
    memcpy(&v, src, sizeof v);
    return (long long)v;
}

void at_key_format(const at_key *k, const void *base, char *out, size_t cap) {
    const void *src = (const char *)base + k->offset;
    int iv;
    switch (k->type) {
    case AT_KEY_INT: snprintf(out, cap, "%lld", get_int(k, src)); break;
    case AT_KEY_SIZE: snprintf(out, cap, "%zu", (size_t)get_int(k, src)); break;
    case AT_KEY_REAL: {
        double x;
        memcpy(&x, src, sizeof x);
        snprintf(out, cap, "%.17g", x);
        for (int p = 1; p < 17; p++) { /* shortest round-trip text */
            char t[64];
            snprintf(t, sizeof t, "%.*g", p, x);
            if (strtod(t, NULL) == x) {
                snprintf(out, cap, "%s", t);
                break;
            }
        }
        break;
    }
    case AT_KEY_BOOL:
        memcpy(&iv, src, sizeof iv);
        snprintf(out, cap, "%s", iv ? "true" : "false");
        break;
    case AT_KEY_CHOICE:
        memcpy(&iv, src, sizeof iv);
        at_choice_name(k->choices, iv, out, cap);
        break;
    case AT_KEY_STR: snprintf(out, cap, "%s", (const char *)src); break;
    }
}

at_status at_keys_defaults(const at_key *keys, size_t n, const char *section, void *base, at_error *err) {
    for (size_t i = 0; i < n; i++) {
        if ((section && strcmp(keys[i].section, section) != 0) || !keys[i].def) continue;
        if (at_key_set(&keys[i], base, keys[i].def, err))
            return at_fail(err, AT_ERR_INTERNAL, "the default of [%s] %s does not parse: %s", keys[i].section,
                           keys[i].name, err ? err->msg : "");
    }
    return AT_OK;
}

at_status at_keys_check(const at_key *keys, size_t n, const char *section, const void *base, at_error *err) {
    for (size_t i = 0; i < n; i++) {
        const at_key *k = &keys[i];
        if (section && strcmp(k->section, section) != 0) continue;
        const void *src = (const char *)base + k->offset;
        char text[64];
        switch (k->type) {
        case AT_KEY_INT:
        case AT_KEY_SIZE: {
            long long x = get_int(k, src);
            if (out_of_range(k, (double)x))
                return at_fail(err, AT_ERR_CONFIG, "[%s] %s = %lld is out of range [%.0f, %.0f]", k->section,
                               k->name, x, k->min, k->max);
            break;
        }
        case AT_KEY_REAL: {
            double x;
            memcpy(&x, src, sizeof x);
            if (!isfinite(x) || out_of_range(k, x))
                return at_fail(err, AT_ERR_CONFIG, "[%s] %s = %g is out of range [%g, %g]", k->section, k->name, x,
                               k->min, k->max);
            break;
        }
        case AT_KEY_BOOL:
        case AT_KEY_CHOICE: {
            int v;
            memcpy(&v, src, sizeof v);
            at_key_format(k, base, text, sizeof text);
            if (v < 0 || (k->type == AT_KEY_BOOL && v > 1) || (k->type == AT_KEY_CHOICE && strcmp(text, "?") == 0))
                return at_fail(err, AT_ERR_CONFIG, "[%s] %s = %d is not an allowed value", k->section, k->name, v);
            break;
        }
        case AT_KEY_STR:
            if (!memchr(src, '\0', k->size))
                return at_fail(err, AT_ERR_CONFIG, "[%s] %s: value not terminated", k->section, k->name);
            break;
        }
    }
    return AT_OK;
}

const char *at_keys_nearest(const at_key *keys, size_t n, const char *section, const char *word) {
    const char *best = NULL;
    size_t bd = 99;
    for (size_t i = 0; i < n; i++) {
        if (section && strcmp(keys[i].section, section) != 0) continue;
        size_t d = at_edit_distance(word, keys[i].name);
        if (d < bd) bd = d, best = keys[i].name;
    }
    return best && at_nearest_word(word, &best, 1) ? best : NULL;
}

char *at_keys_doc_rows(const at_key *keys, size_t n, const char *section, const char *suffix) {
    at_strbuf b = {0};
    at_strbuf_put(&b, "", 0);
    for (size_t i = 0; i < n; i++) {
        const at_key *k = &keys[i];
        if (section && strcmp(k->section, section) != 0) continue;
        char allowed[256] = "";
        const char *type = "";
        switch (k->type) {
        case AT_KEY_INT:
        case AT_KEY_SIZE:
            type = "integer";
            if (k->max >= AT_KEY_BIG) snprintf(allowed, sizeof allowed, ">= %.0f", k->min);
            else snprintf(allowed, sizeof allowed, "%.0f .. %.0f", k->min, k->max);
            break;
        case AT_KEY_REAL:
            type = "real";
            if (isfinite(k->min)) snprintf(allowed, sizeof allowed, "%g .. %g", k->min, k->max);
            else snprintf(allowed, sizeof allowed, "any");
            break;
        case AT_KEY_BOOL: type = "boolean"; snprintf(allowed, sizeof allowed, "true, false"); break;
        case AT_KEY_CHOICE:
            type = "choice";
            snprintf(allowed, sizeof allowed, "%s", k->choices);
            for (char *p = allowed; *p; p++)
                if (*p == '|') *p = ',';
            break;
        case AT_KEY_STR: type = "text"; break;
        }
        if (!k->def) at_strbuf_printf(&b, "| `%s` | %s | required | %s | %s%s |\n", k->name, type, allowed, k->doc,
                                      suffix ? suffix : "");
        else at_strbuf_printf(&b, "| `%s` | %s | `%s` | %s | %s%s |\n", k->name, type, k->def[0] ? k->def : "\"\"",
                              allowed, k->doc, suffix ? suffix : "");
    }
    return at_strbuf_take(&b);
}
