/* safetensors.c - the safetensors reader (include/astrotrain/safetensors.h): the JSON header
 * parsed with jansson and checked in full (length, dtypes, shapes, offsets, overlaps,
 * duplicates) before any tensor is read; tensors converted to float on request. */
#include "astrotrain/safetensors.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct at_safetensors {
    uint8_t *buf; /* the whole file */
    size_t len;
    const uint8_t *data; /* after the header */
    size_t data_len;
    at_st_tensor *t;
    size_t n;
    char source[512];
};

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
              {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1}};
#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])

const char *at_st_dtype_name(int dtype) {
    return dtype >= 0 && (size_t)dtype < N_DTYPES ? dtypes[dtype].name : "?";
}

void at_safetensors_free(at_safetensors *st) {
    if (!st) return;
    for (size_t i = 0; i < st->n; i++) free(st->t[i].name);
    free(st->t);
    free(st->buf);
    free(st);
}

static int by_begin(const void *a, const void *b) {
    const at_st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* A JSON integer that is a valid size (non-negative). */
static int get_size(json_t *v, size_t *out) {
    if (!json_is_integer(v)) return 0;
    json_int_t x = json_integer_value(v);
    if (x < 0) return 0;
    *out = (size_t)x;
    return 1;
}

/* One entry of the header into t; the message names the tensor. */
static at_status parse_entry(at_safetensors *st, const char *name, json_t *v, at_st_tensor *t, at_error *err) {
    const char *src = st->source;
    if (!json_is_object(v)) return at_fail(err, AT_ERR_DATA, "%s: tensor '%s': header entry is not an object", src, name);
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"), *of = json_object_get(v, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(of))
        return at_fail(err, AT_ERR_DATA, "%s: tensor '%s': needs dtype (string), shape and data_offsets (arrays)", src,
                       name);
    t->dtype = -1;
    for (size_t i = 0; i < N_DTYPES; i++)
        if (strcmp(json_string_value(dt), dtypes[i].name) == 0) t->dtype = (int)i;
    if (t->dtype < 0)
        return at_fail(err, AT_ERR_DATA, "%s: tensor '%s': unknown dtype '%.32s'", src, name, json_string_value(dt));
    t->rank = json_array_size(sh);
    if (t->rank > AT_ST_MAX_RANK)
        return at_fail(err, AT_ERR_DATA, "%s: tensor '%s': rank %zu (at most %d)", src, name, t->rank, AT_ST_MAX_RANK);
    size_t count = 1;
    for (size_t i = 0; i < t->rank; i++) {
        if (!get_size(json_array_get(sh, i), &t->shape[i]))
            return at_fail(err, AT_ERR_DATA, "%s: tensor '%s': shape[%zu] is not a non-negative integer", src, name, i);
        if (t->shape[i] && count > SIZE_MAX / t->shape[i])
            return at_fail(err, AT_ERR_DATA, "%s: tensor '%s': shape overflows", src, name);
        count *= t->shape[i];
    }
    t->count = count;
    if (json_array_size(of) != 2 || !get_size(json_array_get(of, 0), &t->begin) ||
        !get_size(json_array_get(of, 1), &t->end))
        return at_fail(err, AT_ERR_DATA, "%s: tensor '%s': data_offsets must be [begin, end]", src, name);
    if (t->begin > t->end || t->end > st->data_len)
        return at_fail(err, AT_ERR_DATA, "%s: tensor '%s': data_offsets [%zu, %zu] outside the %zu bytes of data", src,
                       name, t->begin, t->end, st->data_len);
    size_t es = dtypes[t->dtype].size;
    if (count > SIZE_MAX / es || count * es != t->end - t->begin)
        return at_fail(err, AT_ERR_DATA, "%s: tensor '%s': %zu values of %s need %zu bytes, data_offsets give %zu", src,
                       name, count, dtypes[t->dtype].name, count <= SIZE_MAX / es ? count * es : SIZE_MAX,
                       t->end - t->begin);
    return AT_OK;
}

static at_status parse_header(at_safetensors *st, at_error *err) {
    const char *src = st->source;
    if (st->len < 8) return at_fail(err, AT_ERR_DATA, "%s: truncated safetensors file (%zu bytes, no header length)", src, st->len);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | st->buf[i];
    if (hl > AT_ST_MAX_HEADER)
        return at_fail(err, AT_ERR_DATA, "%s: safetensors header length %llu is over the format's limit of %u bytes", src,
                       (unsigned long long)hl, AT_ST_MAX_HEADER);
    if (hl > st->len - 8)
        return at_fail(err, AT_ERR_DATA, "%s: truncated safetensors file: header of %llu bytes, %zu in the file", src,
                       (unsigned long long)hl, st->len - 8);
    st->data = st->buf + 8 + hl;
    st->data_len = st->len - 8 - (size_t)hl;
    json_error_t je;
    json_t *root = json_loadb((const char *)st->buf + 8, (size_t)hl, JSON_REJECT_DUPLICATES, &je);
    if (!root) return at_fail(err, AT_ERR_DATA, "%s: bad safetensors header: %s (at byte %d)", src, je.text, je.position);
    at_status s = AT_OK;
    if (!json_is_object(root)) {
        s = at_fail(err, AT_ERR_DATA, "%s: bad safetensors header: not a JSON object", src);
        goto done;
    }
    size_t n = json_object_size(root);
    st->t = calloc(n ? n : 1, sizeof *st->t);
    if (!st->t) {
        s = at_fail(err, AT_ERR_MEMORY, "out of memory");
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) continue;
        at_st_tensor *t = &st->t[st->n];
        if ((s = parse_entry(st, key, v, t, err))) goto done;
        if (!(t->name = strdup(key))) {
            s = at_fail(err, AT_ERR_MEMORY, "out of memory");
            goto done;
        }
        st->n++;
    }
    qsort(st->t, st->n, sizeof *st->t, by_begin);
    for (size_t i = 1; i < st->n; i++)
        if (st->t[i].begin < st->t[i - 1].end) {
            s = at_fail(err, AT_ERR_DATA, "%s: tensors '%s' and '%s' overlap (bytes %zu..%zu and %zu..%zu)", src,
                        st->t[i - 1].name, st->t[i].name, st->t[i - 1].begin, st->t[i - 1].end, st->t[i].begin,
                        st->t[i].end);
            goto done;
        }
done:
    json_decref(root);
    return s;
}

at_status at_safetensors_parse(const uint8_t *buf, size_t len, const char *source, at_safetensors **out,
                               at_error *err) {
    *out = NULL;
    at_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->buf = malloc(len ? len : 1))) {
        free(st);
        return at_fail(err, AT_ERR_MEMORY, "out of memory (%zu bytes of safetensors)", len);
    }
    if (len) memcpy(st->buf, buf, len);
    st->len = len;
    snprintf(st->source, sizeof st->source, "%s", source ? source : "safetensors");
    at_status s = parse_header(st, err);
    if (s) {
        at_safetensors_free(st);
        return s;
    }
    *out = st;
    return AT_OK;
}

at_status at_safetensors_open(const char *path, at_safetensors **out, at_error *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return at_fail(err, AT_ERR_IO, "%s: cannot open", path);
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return at_fail(err, AT_ERR_IO, "%s: not a regular file", path);
    }
    size_t len = (size_t)sb.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        fclose(f);
        return at_fail(err, AT_ERR_MEMORY, "%s: out of memory (%zu bytes)", path, len);
    }
    size_t got = fread(buf, 1, len, f);
    fclose(f);
    if (got != len) {
        free(buf);
        return at_fail(err, AT_ERR_IO, "%s: read error", path);
    }
    at_safetensors *st = calloc(1, sizeof *st);
    if (!st) {
        free(buf);
        return at_fail(err, AT_ERR_MEMORY, "out of memory");
    }
    st->buf = buf, st->len = len;
    snprintf(st->source, sizeof st->source, "%s", path);
    at_status s = parse_header(st, err);
    if (s) {
        at_safetensors_free(st);
        return s;
    }
    *out = st;
    return AT_OK;
}

size_t at_safetensors_count(const at_safetensors *st) { return st->n; }

const at_st_tensor *at_safetensors_tensor(const at_safetensors *st, size_t i) { return i < st->n ? &st->t[i] : NULL; }

const at_st_tensor *at_safetensors_find(const at_safetensors *st, const char *name) {
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->t[i].name, name) == 0) return &st->t[i];
    return NULL;
}

static float half_to_float(uint16_t h) {
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexpf((float)(m | 0x400), e - 25);
    return h & 0x8000 ? -v : v;
}

at_status at_safetensors_read_f32(const at_safetensors *st, const at_st_tensor *t, float *out, at_error *err) {
    const uint8_t *p = st->data + t->begin;
    for (size_t i = 0; i < t->count; i++) {
        switch (t->dtype) {
        case AT_ST_F32: {
            uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                         (uint32_t)p[4 * i + 3] << 24;
            memcpy(&out[i], &u, 4);
            break;
        }
        case AT_ST_F64: {
            uint64_t u = 0;
            for (int b = 7; b >= 0; b--) u = u << 8 | p[8 * i + (size_t)b];
            double d;
            memcpy(&d, &u, 8);
            out[i] = (float)d;
            break;
        }
        case AT_ST_F16: out[i] = half_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8)); break;
        case AT_ST_BF16: {
            uint32_t u = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
            memcpy(&out[i], &u, 4);
            break;
        }
        default:
            return at_fail(err, AT_ERR_DATA, "%s: tensor '%s' has dtype %s, not a floating-point type", st->source,
                           t->name, at_st_dtype_name(t->dtype));
        }
    }
    return AT_OK;
}
