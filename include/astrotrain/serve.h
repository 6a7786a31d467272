/* serve.h - the prediction service behind `astrotrain serve`, as a library object: a set
 * of named models (model files loaded once, reloadable in place), the request handlers as
 * a pure function of (method, URL, content type, body) -> (status, content type, body), the
 * request metrics, and an HTTP front end (libmicrohttpd) that feeds requests to the
 * handlers from a pool of threads.
 *
 * Threads: once at_server_seal() has run, at_serve_handle, at_serve_record and
 * at_server_reload may be called from any number of threads at once. A reload loads the
 * new file first and then swaps it in under a short lock; requests that already hold the
 * old version finish on it (reference counted), and a file that fails to load leaves the
 * old version serving (the error is kept and reported). */
#ifndef ASTROTRAIN_SERVE_H
#define ASTROTRAIN_SERVE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bundle.h"
#include "status.h"

typedef struct at_serve_options {
    size_t max_body;       /* request body bytes (413 beyond); default 16 MiB */
    size_t max_rows;       /* rows (or images) per request (413 beyond); default 100000 */
    size_t max_image_side; /* width or height of an uploaded image (413 beyond); default 4096 */
    const char *examples;  /* labelled image set (Galaxy10 .h5 or class folders) for the page, or NULL */
    const char *history;   /* folder whose report.html is served at /monitor, or NULL */
    const char *device;    /* image models predict here: "cuda", "cuda:N", "auto"; NULL/"cpu" = CPU (issue 17) */
} at_serve_options;

void at_serve_options_default(at_serve_options *o);

typedef struct at_server at_server;

at_status at_server_new(const at_serve_options *o, at_server **out, at_error *err);
void at_server_free(at_server *s);
/* Loads the model file at path and serves it as name ([A-Za-z0-9_.-], unique). */
at_status at_server_add_model(at_server *s, const char *name, const char *path, at_error *err);
/* Serves an already loaded bundle (taken over, also on failure); such a model has no file
 * to reload from. */
at_status at_server_add_bundle(at_server *s, const char *name, at_bundle *b, at_error *err);
/* Every model is loaded: allocates the metrics and turns /v2/health/ready on. No model may be
 * added afterwards. */
at_status at_server_seal(at_server *s, at_error *err);
size_t at_server_n_models(const at_server *s);
const char *at_server_model_name(const at_server *s, size_t i);
/* Reloads model name (NULL: every model) from its file. On failure the old version keeps
 * serving and err names the model and the reason (the first failure when name is NULL). */
at_status at_server_reload(at_server *s, const char *name, at_error *err);

/* One request as the handlers see it (no sockets). url is the path without the query;
 * query is the raw query string or NULL; content_type may be NULL. */
typedef struct at_serve_request {
    const char *method;
    const char *url;
    const char *query;
    const char *content_type;
    const uint8_t *body;
    size_t body_len;
} at_serve_request;

/* The answer: body is owned by the response (free with at_serve_response_clear) unless
 * body_static. route and model say what to count it under in the metrics. */
typedef struct at_serve_response {
    int status;
    const char *content_type;
    char *body;
    size_t body_len;
    int body_static;
    int route;   /* index into the server's route table */
    int model;   /* model index, or -1 */
    size_t rows; /* rows or images predicted */
} at_serve_response;

void at_serve_handle(at_server *s, const at_serve_request *rq, at_serve_response *rs);
void at_serve_response_clear(at_serve_response *rs);
/* Counts a finished request (status, route, model, latency) in the metrics. */
void at_serve_record(at_server *s, const at_serve_response *rs, double seconds);
/* The route's name for access logs ("predict", "infer", ...). */
const char *at_serve_route_name(int route);

/* ---- HTTP front end ------------------------------------------------------------------------ */
typedef struct at_httpd_options {
    const char *bind;         /* IPv4 address; default 127.0.0.1 */
    unsigned port;            /* 0: any free port (see at_httpd_port) */
    unsigned threads;         /* worker threads; default 2 */
    unsigned max_connections; /* default 1024 */
    unsigned max_per_ip;      /* default 256 (0 = no limit) */
    unsigned timeout;         /* seconds a connection may stay idle; default 30 */
    FILE *access_log;         /* one line per request, or NULL */
} at_httpd_options;

void at_httpd_options_default(at_httpd_options *o);

typedef struct at_httpd at_httpd;
at_status at_httpd_start(at_server *s, const at_httpd_options *o, at_httpd **out, at_error *err);
unsigned at_httpd_port(const at_httpd *h);
/* Stops accepting, waits up to drain_seconds for requests in flight, then stops. */
void at_httpd_stop(at_httpd *h, double drain_seconds);

#endif
