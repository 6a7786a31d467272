/* handlers.c - the request router of the prediction service: a pure function from
 * (method, URL, query, content type, body) to (status, content type, body), with no
 * sockets, so tests and the fuzz target drive it directly. The prediction endpoints
 * themselves are in serve_predict.c, /metrics in serve_metrics.c. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "serve/serve_internal.h"

static const char *const ROUTE_NAMES[AT_R_N] = {"page",    "live",    "ready",   "v2",      "model_metadata",
                                                "model_ready", "infer", "load",   "predict", "example",
                                                "metrics", "openapi", "monitor", "other"};

const char *at_serve_route_name(int route) { return route >= 0 && route < AT_R_N ? ROUTE_NAMES[route] : "other"; }

void at_serve_response_clear(at_serve_response *rs) {
    if (!rs->body_static) free(rs->body);
    rs->body = NULL, rs->body_len = 0;
}

static void set_static(at_serve_response *rs, int status, const char *ctype, const char *body, size_t len) {
    at_serve_response_clear(rs);
    rs->status = status, rs->content_type = ctype;
    rs->body = (char *)(uintptr_t)body, rs->body_len = len, rs->body_static = 1;
}

void at_serve_error(at_serve_response *rs, int status, const char *fmt, ...) {
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' '; /* one line */
    at_serve_response_clear(rs);
    rs->status = status, rs->content_type = "application/json", rs->body_static = 0;
    json_t *j = json_pack("{s:s,s:i}", "error", msg, "status", status);
    if (!j) { /* not UTF-8 (an echoed URL or name): the same message in plain ASCII */
        for (char *p = msg; *p; p++)
            if ((unsigned char)*p >= 0x7f) *p = '?';
        j = json_pack("{s:s,s:i}", "error", msg, "status", status);
    }
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!t) { /* no memory: a fixed line */
        set_static(rs, status, "application/json", "{\"error\":\"out of memory\"}\n", 26);
        return;
    }
    size_t n = strlen(t);
    char *withnl = realloc(t, n + 2);
    if (withnl) withnl[n] = '\n', withnl[n + 1] = 0, t = withnl, n++;
    rs->body = t, rs->body_len = n;
}

void at_serve_json(at_serve_response *rs, int status, at_strbuf *b) {
    char *t = at_strbuf_take(b);
    at_serve_response_clear(rs);
    if (!t) {
        set_static(rs, 500, "application/json", "{\"error\":\"out of memory\"}\n", 26);
        return;
    }
    rs->status = status, rs->content_type = "application/json", rs->body_static = 0;
    rs->body = t, rs->body_len = strlen(t);
}

static void json_answer(at_serve_response *rs, int status, json_t *j) {
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    at_serve_response_clear(rs);
    if (!t) {
        at_serve_error(rs, 500, "out of memory");
        return;
    }
    rs->status = status, rs->content_type = "application/json", rs->body_static = 0;
    rs->body = t, rs->body_len = strlen(t);
}

/* /monitor: DIR/report.html, read whole (monitor's report is small). */
static void monitor_page(at_server *s, at_serve_response *rs) {
    if (!s->history) {
        at_serve_error(rs, 404, "no monitoring history: start the server with --history DIR");
        return;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/report.html", s->history);
    FILE *f = fopen(path, "rb");
    struct stat sb;
    if (!f || fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > (64 << 20)) {
        if (f) fclose(f);
        at_serve_error(rs, 404, "%s/report.html: not there yet (astrotrain monitor writes it)", s->history);
        return;
    }
    size_t n = (size_t)sb.st_size;
    char *t = malloc(n + 1);
    if (!t || fread(t, 1, n, f) != n) {
        free(t);
        fclose(f);
        at_serve_error(rs, 500, "%s/report.html: cannot read it", s->history);
        return;
    }
    fclose(f);
    t[n] = 0;
    at_serve_response_clear(rs);
    rs->status = 200, rs->content_type = "text/html; charset=utf-8", rs->body_static = 0;
    rs->body = t, rs->body_len = n;
}

static void server_info(at_server *s, at_serve_response *rs) {
    json_t *j = json_pack("{s:s,s:s,s:[s,s]}", "name", "astrotrain", "version", AT_VERSION, "extensions",
                          "model_repository", "plain_predict");
    json_t *ms = json_array();
    for (size_t i = 0; i < s->n_slots; i++) json_array_append_new(ms, json_string(s->slots[i]->name));
    json_object_set_new(j, "models", ms);
    json_answer(rs, 200, j);
}

static void load_model(at_server *s, long m, at_serve_response *rs) {
    at_error e = {0};
    at_model_slot *sl = s->slots[m];
    if (at_server_reload(s, sl->name, &e)) {
        /* the file, not the request, is at fault; the old version keeps serving */
        at_serve_error(rs, sl->path ? 500 : 400, "%s", e.msg);
        return;
    }
    json_answer(rs, 200, json_pack("{s:s,s:b,s:I}", "name", sl->name, "loaded", 1, "loads",
                                   (json_int_t)atomic_load(&sl->loads)));
}

static int is(const char *a, const char *b) { return strcmp(a, b) == 0; }

/* Splits "/prefix/{name}/rest" at the model name; returns the model index or -1. */
static long model_of(at_server *s, const char *url, const char *prefix, const char **rest, size_t *name_len) {
    size_t pl = strlen(prefix);
    if (strncmp(url, prefix, pl) != 0) return -2;
    const char *name = url + pl, *slash = strchr(name, '/');
    *name_len = slash ? (size_t)(slash - name) : strlen(name);
    *rest = name + *name_len;
    return at_server_find(s, name, *name_len);
}

static int method_ok(const at_serve_request *rq, const char *want, at_serve_response *rs) {
    if (is(rq->method, want) || (is(want, "GET") && is(rq->method, "HEAD"))) return 1;
    at_serve_error(rs, 405, "%s %s: use %s", rq->method, rq->url, want);
    return 0;
}

void at_serve_handle(at_server *s, const at_serve_request *rq, at_serve_response *rs) {
    memset(rs, 0, sizeof *rs);
    rs->model = -1, rs->route = AT_R_OTHER;
    const char *u = rq->url ? rq->url : "";
    const char *method = rq->method ? rq->method : "";
    at_serve_request r = *rq;
    r.url = u, r.method = method;
    if (!s->sealed) {
        at_serve_error(rs, 503, "the server is still loading its models");
        return;
    }
    if (rq->body_len > s->opt.max_body) {
        at_serve_error(rs, 413, "request body of %zu bytes is over the limit of %zu bytes", rq->body_len,
                       s->opt.max_body);
        return;
    }
    if (is(u, "/") || is(u, "/index.html")) {
        rs->route = AT_R_PAGE;
        if (method_ok(&r, "GET", rs))
            set_static(rs, 200, "text/html; charset=utf-8", at_serve_page_html,
                       (size_t)(at_serve_page_html_end - at_serve_page_html) - 1);
        return;
    }
    if (is(u, "/v2/health/live")) {
        rs->route = AT_R_LIVE;
        if (method_ok(&r, "GET", rs)) set_static(rs, 200, "application/json", "{\"live\":true}\n", 14);
        return;
    }
    if (is(u, "/v2/health/ready")) {
        rs->route = AT_R_READY;
        if (method_ok(&r, "GET", rs)) set_static(rs, 200, "application/json", "{\"ready\":true}\n", 15);
        return;
    }
    if (is(u, "/v2") || is(u, "/v2/")) {
        rs->route = AT_R_V2;
        if (method_ok(&r, "GET", rs)) server_info(s, rs);
        return;
    }
    if (is(u, "/metrics")) {
        rs->route = AT_R_METRICS;
        if (method_ok(&r, "GET", rs)) at_serve_metrics(s, rs);
        return;
    }
    if (is(u, "/openapi.json")) {
        rs->route = AT_R_OPENAPI;
        if (method_ok(&r, "GET", rs))
            set_static(rs, 200, "application/json", at_serve_openapi_json,
                       (size_t)(at_serve_openapi_json_end - at_serve_openapi_json) - 1);
        return;
    }
    if (is(u, "/monitor")) {
        rs->route = AT_R_MONITOR;
        if (method_ok(&r, "GET", rs)) monitor_page(s, rs);
        return;
    }
    const char *rest = NULL;
    size_t nl = 0;
    long m;
    int v1 = 0;
    if ((m = model_of(s, u, "/v2/repository/models/", &rest, &nl)) != -2) {
        rs->route = AT_R_LOAD;
        if (m >= 0 && !is(rest, "/load")) {
            at_serve_error(rs, 404, "no such endpoint: %s (see /openapi.json)", u);
            return;
        }
        if (m < 0) goto unknown;
        rs->model = (int)m;
        if (method_ok(&r, "POST", rs)) load_model(s, m, rs);
        return;
    }
    if ((m = model_of(s, u, "/v2/models/", &rest, &nl)) == -2 && (m = model_of(s, u, "/v1/models/", &rest, &nl)) != -2)
        v1 = 1;
    if (m == -2) {
        at_serve_error(rs, 404, "no such endpoint: %s (see /openapi.json)", u);
        return;
    }
    int route = v1 ? (is(rest, "/predict") ? AT_R_PREDICT : is(rest, "/example") ? AT_R_EXAMPLE : -1)
                   : (is(rest, "") ? AT_R_META : is(rest, "/ready") ? AT_R_MODEL_READY
                                                : is(rest, "/infer") ? AT_R_INFER : -1);
    if (route < 0) {
        at_serve_error(rs, 404, "no such endpoint: %s (see /openapi.json)", u);
        return;
    }
    rs->route = route;
    if (m < 0) goto unknown;
    rs->model = (int)m;
    const char *want = route == AT_R_PREDICT || route == AT_R_INFER ? "POST" : "GET";
    if (!method_ok(&r, want, rs)) return;
    at_served *v = at_slot_acquire(s->slots[m]);
    switch (route) {
    case AT_R_META:
        at_serve_response_clear(rs);
        rs->status = 200, rs->content_type = "application/json";
        if ((rs->body = strdup(v->meta))) rs->body_len = strlen(rs->body);
        else at_serve_error(rs, 500, "out of memory");
        break;
    case AT_R_MODEL_READY:
        json_answer(rs, 200, json_pack("{s:s,s:b}", "name", s->slots[m]->name, "ready", 1));
        break;
    case AT_R_INFER: at_serve_infer(s, v, &r, rs); break;
    case AT_R_PREDICT: at_serve_predict(s, v, &r, rs); break;
    default: at_serve_example(s, v, &r, rs); break;
    }
    at_served_release(v);
    return;
unknown:
    at_serve_error(rs, 404, "unknown model '%.*s' (GET /v2 lists the models)", (int)(nl > 200 ? 200 : nl),
                   rest - nl);
}
