/* keys.h - key tables: the one description of a settings struct that every INI section uses.
 *
 * A key names one field of a struct (offset, size), its type, default text, closed range or
 * allowed values, and one line of documentation. From a table the library derives defaults,
 * parsing "key = value" text with range and choice errors, "did you mean" for misspellings,
 * the effective settings as INI text, and the markdown reference (docs/config.md). The
 * configuration's own sections ([run], [data], ...), every model family's [model] keys
 * (src/models/ *_params.c) and the CNN's [net] and layer sections are all such tables. */
#ifndef ASTROTRAIN_KEYS_H
#define ASTROTRAIN_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Room for any params struct that a table fills and its holder keeps opaque (a model
 * section's family params in at_model_config; registry.c asserts each family fits). */
#define AT_PARAMS_MAX 1152

/* One raw `key = value` of a section kept for a later parser (the CNN's [net] and layer
 * sections, collected by the configuration); key "" marks the section header itself. */
typedef struct at_net_record {
    char section[16];
    char key[32];
    char value[64];
    uint32_t line;  /* 0 = --set */
    uint32_t index; /* which section, in file order (0, 1, ...) */
} at_net_record;

typedef enum at_key_type {
    AT_KEY_INT,    /* int (size 4) or int64_t (size 8) */
    AT_KEY_SIZE,   /* size_t */
    AT_KEY_REAL,   /* double */
    AT_KEY_BOOL,   /* int 0/1; true/yes/on/1, false/no/off/0 */
    AT_KEY_STR,    /* char[size] */
    AT_KEY_CHOICE  /* int: the index in choices "a|b|c" */
} at_key_type;

typedef struct at_key {
    const char *section; /* "run", "model", "net", "conv", ... */
    const char *name;
    at_key_type type;
    size_t offset, size; /* of the field in its struct (AT_KEY_FIELD) */
    const char *def;     /* default as text; NULL = required (no default) */
    double min, max;     /* closed range (INT, SIZE, REAL); an INT max >= AT_KEY_BIG prints as ">= min" */
    const char *choices; /* CHOICE: "a|b|c" */
    const char *doc;
} at_key;

#define AT_KEY_FIELD(type, field) offsetof(type, field), sizeof(((type *)0)->field)
#define AT_KEY_BIG 9.2e18

/* A family's (or section's) whole table and the struct it fills. */
typedef struct at_key_table {
    const at_key *keys;
    size_t n_keys;
    size_t size; /* of the struct */
    /* Checks that need several keys or parse a text key (NULL: none). The message names
     * the key ("warmup = 5 must be less than epochs = 3"); callers prefix where. */
    at_status (*check)(const void *params, at_error *err);
} at_key_table;

/* The key named name of section (NULL section: any section; NULL name: any key), or NULL. */
const at_key *at_key_find(const at_key *keys, size_t n, const char *section, const char *name);

/* Parses text (trimmed) into base's field. Errors are AT_ERR_CONFIG "[section] name: 'x' is not
 * an integer", "[section] name = 5 is out of range [1, 4]", "... is not one of a/b/c". */
at_status at_key_set(const at_key *k, void *base, const char *text, at_error *err);

/* The field's value as INI text (shortest round-trip text for reals). */
void at_key_format(const at_key *k, const void *base, char *out, size_t cap);

/* Sets every key of section (NULL: all) that has a default; zeroes nothing else. A default
 * that does not parse is a bug in the table (AT_ERR_INTERNAL). */
at_status at_keys_defaults(const at_key *keys, size_t n, const char *section, void *base, at_error *err);

/* A filled struct within the table's ranges and choices (for params built in code). */
at_status at_keys_check(const at_key *keys, size_t n, const char *section, const void *base, at_error *err);

/* The name of section's keys closest to word when close enough to be a typo, else NULL. */
const char *at_keys_nearest(const at_key *keys, size_t n, const char *section, const char *word);

/* One markdown table row ("| `name` | integer | `3` | 1 .. 8 | doc |") per key of section,
 * doc followed by suffix (may be NULL). Caller frees; NULL when out of memory. */
char *at_keys_doc_rows(const at_key *keys, size_t n, const char *section, const char *suffix);

#endif
