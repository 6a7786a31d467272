/* httpd.c - the HTTP front end of the prediction service: libmicrohttpd with a pool of
 * epoll threads, HTTP/1.1 keep-alive, limits on connections (total and per address), idle
 * time and body size, feeding each complete request to at_serve_handle and writing one
 * access-log line per request. Draining: stop accepting, wait for the requests in flight,
 * then stop. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "serve/serve_internal.h"

struct at_httpd {
    struct MHD_Daemon *d;
    at_server *s;
    FILE *log;
    size_t max_body;
    atomic_int inflight;
    unsigned port;
};

/* One request being received. */
typedef struct req_state {
    uint8_t *buf;
    size_t len, cap;
    int too_big;
    struct timespec t0;
} req_state;

void at_httpd_options_default(at_httpd_options *o) {
    memset(o, 0, sizeof *o);
    o->bind = "127.0.0.1";
    o->threads = 2;
    o->max_connections = 1024;
    o->max_per_ip = 256;
    o->timeout = 30;
}

static double since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

static void access_log(at_httpd *h, struct MHD_Connection *c, const char *method, const char *url,
                       const at_serve_response *rs, double secs) {
    if (!h->log) return;
    char ip[INET6_ADDRSTRLEN] = "-";
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        if (ci->client_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr, ip, sizeof ip);
        else if (ci->client_addr->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr, ip, sizeof ip);
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char ts[40];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *model = rs->model >= 0 ? at_server_model_name(h->s, (size_t)rs->model) : NULL;
    /* the URL as received may hold anything: print it without control bytes or quotes */
    char u[256];
    size_t o = 0;
    for (const char *p = url; *p && o + 1 < sizeof u; p++) u[o++] = (*p < 0x20 || *p == '"' || *p == 0x7f) ? '?' : *p;
    u[o] = 0;
    fprintf(h->log, "%s %s \"%s %s\" %d %zu %.6f endpoint=%s model=%s rows=%zu\n", ts, ip, method, u, rs->status,
            rs->body_len, secs, at_serve_route_name(rs->route), model ? model : "-", rs->rows);
}

static enum MHD_Result answer(at_httpd *h, struct MHD_Connection *c, const char *method, const char *url,
                              req_state *st, at_serve_response *rs) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(rs->body_len, rs->body, rs->body_static ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_FREE);
    if (!r) {
        at_serve_response_clear(rs);
        return MHD_NO;
    }
    rs->body_static = 1; /* MHD owns it now */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->content_type ? rs->content_type : "application/json");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)rs->status, r);
    MHD_destroy_response(r);
    double secs = since(&st->t0);
    at_serve_record(h->s, rs, secs);
    access_log(h, c, method, url, rs, secs);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **con_cls) {
    (void)version;
    at_httpd *h = cls;
    req_state *st = *con_cls;
    if (!st) {
        if (!(st = calloc(1, sizeof *st))) return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &st->t0);
        *con_cls = st;
        atomic_fetch_add(&h->inflight, 1);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > h->max_body) st->too_big = 1;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!st->too_big && st->len + *upload_size > h->max_body) st->too_big = 1;
        if (!st->too_big) {
            if (st->len + *upload_size > st->cap) {
                size_t cap = st->cap ? st->cap : 4096;
                while (cap < st->len + *upload_size) cap *= 2;
                if (cap > h->max_body) cap = h->max_body;
                uint8_t *b = realloc(st->buf, cap);
                if (!b) return MHD_NO;
                st->buf = b, st->cap = cap;
            }
            memcpy(st->buf + st->len, upload_data, *upload_size);
            st->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    at_serve_response rs;
    if (st->too_big) {
        memset(&rs, 0, sizeof rs);
        rs.model = -1, rs.route = AT_R_OTHER;
        at_serve_error(&rs, 413, "request body is over the limit of %zu bytes", h->max_body);
        return answer(h, c, method, url, st, &rs);
    }
    char query[48] = "";
    const char *ix = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "index");
    if (ix) snprintf(query, sizeof query, "index=%.30s", ix);
    at_serve_request rq = {
        .method = method,
        .url = url,
        .query = ix ? query : NULL,
        .content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .body = st->buf,
        .body_len = st->len,
    };
    at_serve_handle(h->s, &rq, &rs);
    return answer(h, c, method, url, st, &rs);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)c, (void)toe;
    at_httpd *h = cls;
    req_state *st = *con_cls;
    if (!st) return;
    free(st->buf);
    free(st);
    *con_cls = NULL;
    atomic_fetch_sub(&h->inflight, 1);
}

at_status at_httpd_start(at_server *s, const at_httpd_options *o, at_httpd **out, at_error *err) {
    *out = NULL;
    if (!s->sealed) return at_fail(err, AT_ERR_USAGE, "serve: seal the server (load every model) before starting");
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    if (o->port > 65535) return at_fail(err, AT_ERR_USAGE, "--port %u: use 0-65535", o->port);
    if (inet_pton(AF_INET, o->bind ? o->bind : "127.0.0.1", &sa.sin_addr) != 1)
        return at_fail(err, AT_ERR_USAGE, "--bind %s: not an IPv4 address", o->bind);
    at_httpd *h = at_calloc(1, sizeof *h, err);
    if (!h) return AT_ERR_MEMORY;
    h->s = s, h->log = o->access_log, h->max_body = s->opt.max_body;
    atomic_init(&h->inflight, 0);
    unsigned threads = o->threads ? o->threads : 1;
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_TURBO,
                            (uint16_t)o->port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
                            o->timeout, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_LISTEN_BACKLOG_SIZE,
                            1024, MHD_OPTION_END);
    if (!h->d) {
        free(h);
        return at_fail(err, AT_ERR_IO, "cannot listen on %s:%u (in use, or not an address of this machine)",
                       o->bind ? o->bind : "127.0.0.1", o->port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : o->port;
    *out = h;
    return AT_OK;
}

unsigned at_httpd_port(const at_httpd *h) { return h->port; }

void at_httpd_stop(at_httpd *h, double drain_seconds) {
    if (!h) return;
    MHD_socket fd = MHD_quiesce_daemon(h->d);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (atomic_load(&h->inflight) > 0 && since(&t0) < drain_seconds) {
        struct timespec nap = {0, 10 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    MHD_stop_daemon(h->d);
    free(h);
}
