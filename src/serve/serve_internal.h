/* serve_internal.h - (private) what the files of the prediction service share: the model
 * slots with their reference-counted versions, the server's limits and metrics, the
 * embedded page, and the request-body decoders.
 *
 * Model slot states (see SQLite's design notes: one picture per thing with states):
 *
 *   add ──load ok──► SERVING(v1) ──reload ok──► SERVING(v2)   (v1 freed when its last
 *                        │                                     request releases it)
 *                        └──reload fails──► SERVING(v1), last_error set
 *
 * Invariants: slot->cur is never NULL after add; it changes only under slot->mu; every
 * version holds one reference for being current plus one per request using it. */
#ifndef ASTROTRAIN_SERVE_INTERNAL_H
#define ASTROTRAIN_SERVE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "astrotrain/serve.h"
#include "core/strbuf.h"

/* One loaded version of a model. */
typedef struct at_served {
    atomic_size_t refs;
    at_bundle *b;
    int image;             /* an image model: predicts decoded images of h x w x c */
    size_t h, w, c;
    int transform;         /* a PCA model: answers coordinates, not probabilities */
    size_t n_out;          /* k classes, or the PCA components */
    char **out_json;       /* n_out names as JSON strings ("\"STAR\"") */
    at_images *examples;   /* --examples resized to h x w x c, or NULL */
    char *meta;            /* the /v2/models/{name} answer */
    _Atomic uint64_t *per_class; /* predictions per class since this version was loaded */
    double loaded_at;      /* unix time */
} at_served;

typedef struct at_model_slot {
    char *name, *path;     /* path NULL: added as a bundle, nothing to reload */
    pthread_mutex_t mu;
    at_served *cur;
    char last_error[AT_ERROR_MAX];
    _Atomic uint64_t rows, loads, load_failures;
} at_model_slot;

enum {
    AT_R_PAGE, AT_R_LIVE, AT_R_READY, AT_R_V2, AT_R_META, AT_R_MODEL_READY, AT_R_INFER, AT_R_LOAD,
    AT_R_PREDICT, AT_R_EXAMPLE, AT_R_METRICS, AT_R_OPENAPI, AT_R_MONITOR, AT_R_OTHER, AT_R_N
};
#define AT_CODES_N 11
#define AT_LAT_N 14 /* latency buckets, +Inf included */

struct at_server {
    at_serve_options opt;
    char *examples, *history;
    at_model_slot **slots;
    size_t n_slots;
    int sealed;
    atomic_uint_fast64_t example_counter;
    /* metrics: [route][model + 1][code], [route][bucket] */
    _Atomic uint64_t *requests;
    _Atomic uint64_t lat[AT_R_N][AT_LAT_N];
    _Atomic uint64_t lat_us[AT_R_N];
    double started;
};

/* Versions: the current one with a reference taken, and giving it back. */
at_served *at_slot_acquire(at_model_slot *sl);
void at_served_release(at_served *v);
/* Index of the model called name (length n), or -1. */
long at_server_find(const at_server *s, const char *name, size_t n);

/* The embedded files (NUL-terminated). */
extern const char at_serve_page_html[], at_serve_page_html_end[];
extern const char at_serve_openapi_json[], at_serve_openapi_json_end[];

/* An error answer: {"error": "..."} with status. */
void at_serve_error(at_serve_response *rs, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Takes the built text as a JSON answer (500 when the buffer failed). */
void at_serve_json(at_serve_response *rs, int status, at_strbuf *b);

/* The prediction endpoints (serve_predict.c). */
void at_serve_predict(at_server *s, at_served *v, const at_serve_request *rq, at_serve_response *rs);
void at_serve_infer(at_server *s, at_served *v, const at_serve_request *rq, at_serve_response *rs);
void at_serve_example(at_server *s, at_served *v, const at_serve_request *rq, at_serve_response *rs);
/* Prometheus text (serve_metrics.c). */
void at_serve_metrics(at_server *s, at_serve_response *rs);

/* Image bodies (serve_image.c): width and height from a PNG or JPEG header without
 * decoding (0 when not found), and decode + resize to the model's input. */
int at_serve_image_size(const uint8_t *buf, size_t n, size_t *w, size_t *h);
at_status at_serve_decode_image(const at_served *v, const uint8_t *buf, size_t n, size_t max_side, uint8_t *dst,
                                at_error *err, int *http_status);
/* serve_fits.c: a FITS cutout body into dst (h x w x c of v); *http_status 400, 413 or 500
 * on failure. */
at_status at_serve_decode_fits(const at_served *v, const uint8_t *buf, size_t n, size_t max_side, uint8_t *dst,
                               at_error *err, int *http_status);
/* The first file part of a multipart/form-data body (boundary from the content type). */
int at_serve_multipart_file(const char *content_type, const uint8_t *body, size_t n, const uint8_t **part,
                            size_t *part_len);

/* The fast reader of {"rows": [...]} (serve_rows_json.c): yajl callbacks straight into X
 * (n x d, the features' order; the caller frees it). 1 when read; 0 when it declines (any
 * body but plain rows of numbers or null by feature name), and the jansson reader decides
 * with its exact answer or error. */
int at_serve_rows_json_fast(const char *const *features, size_t d, size_t max_rows, const uint8_t *body, size_t len,
                            double **X, size_t *n);

#endif
