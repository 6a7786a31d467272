/* json.h - a small streaming JSON writer into a growing buffer (metrics.json). */
#ifndef ASTROTRAIN_JSON_H
#define ASTROTRAIN_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef struct at_json {
    char *buf;
    size_t len, cap;
    int depth;
    int need_comma[64];
    int failed; /* allocation failed: the text is incomplete */
} at_json;

void at_json_init(at_json *j);
void at_json_free(at_json *j);
void at_json_begin_object(at_json *j);
void at_json_end_object(at_json *j);
void at_json_begin_array(at_json *j);
void at_json_end_array(at_json *j);
void at_json_key(at_json *j, const char *key);
void at_json_string(at_json *j, const char *s);
void at_json_number(at_json *j, double v); /* non-finite -> null; %.17g */
void at_json_int(at_json *j, int64_t v);
void at_json_bool(at_json *j, int v);
void at_json_null(at_json *j);
/* key + value shorthands */
void at_json_kv_string(at_json *j, const char *key, const char *s);
void at_json_kv_number(at_json *j, const char *key, double v);
void at_json_kv_int(at_json *j, const char *key, int64_t v);

#endif
