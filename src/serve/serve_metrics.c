/* serve_metrics.c - the prediction service's counters (requests by endpoint, model and
 * status code; a latency histogram per endpoint; rows predicted; predictions per class;
 * model loads) kept with relaxed atomics, and GET /metrics in Prometheus text format. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "serve/serve_internal.h"

static const int CODES[AT_CODES_N - 1] = {200, 400, 404, 405, 413, 415, 422, 500, 503, 429};
static const double BUCKETS[AT_LAT_N - 1] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                             0.025,  0.05,    0.1,    0.25,  1.0,    5.0};

static size_t code_index(int status) {
    for (size_t i = 0; i < AT_CODES_N - 1; i++)
        if (CODES[i] == status) return i;
    return AT_CODES_N - 1;
}

void at_serve_record(at_server *s, const at_serve_response *rs, double seconds) {
    if (!s->requests) return;
    int r = rs->route >= 0 && rs->route < AT_R_N ? rs->route : AT_R_OTHER;
    size_t m = rs->model >= 0 && (size_t)rs->model < s->n_slots ? (size_t)rs->model + 1 : 0;
    size_t at = ((size_t)r * (s->n_slots + 1) + m) * AT_CODES_N + code_index(rs->status);
    atomic_fetch_add_explicit(&s->requests[at], 1, memory_order_relaxed);
    size_t b = 0;
    while (b < AT_LAT_N - 1 && seconds > BUCKETS[b]) b++;
    atomic_fetch_add_explicit(&s->lat[r][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->lat_us[r], (uint64_t)(seconds * 1e6 + 0.5), memory_order_relaxed);
}

void at_serve_metrics(at_server *s, at_serve_response *rs) {
    at_strbuf b = {0};
    at_strbuf_printf(&b, "# HELP astrotrain_requests_total HTTP requests by endpoint, model and status code.\n"
                         "# TYPE astrotrain_requests_total counter\n");
    for (size_t r = 0; r < AT_R_N; r++)
        for (size_t m = 0; m <= s->n_slots; m++)
            for (size_t c = 0; c < AT_CODES_N; c++) {
                uint64_t x = atomic_load_explicit(&s->requests[(r * (s->n_slots + 1) + m) * AT_CODES_N + c],
                                                  memory_order_relaxed);
                if (!x) continue;
                at_strbuf_printf(&b, "astrotrain_requests_total{endpoint=\"%s\",model=\"%s\",code=\"", at_serve_route_name((int)r),
                                 m ? s->slots[m - 1]->name : "");
                if (c < AT_CODES_N - 1) at_strbuf_printf(&b, "%d", CODES[c]);
                else at_strbuf_printf(&b, "other");
                at_strbuf_printf(&b, "\"} %llu\n", (unsigned long long)x);
            }
    at_strbuf_printf(&b, "# HELP astrotrain_request_duration_seconds Time from the request's last byte to its answer.\n"
                         "# TYPE astrotrain_request_duration_seconds histogram\n");
    for (size_t r = 0; r < AT_R_N; r++) {
        uint64_t cum = 0, all = 0;
        for (size_t k = 0; k < AT_LAT_N; k++) all += atomic_load_explicit(&s->lat[r][k], memory_order_relaxed);
        if (!all) continue;
        const char *e = at_serve_route_name((int)r);
        for (size_t k = 0; k < AT_LAT_N; k++) {
            cum += atomic_load_explicit(&s->lat[r][k], memory_order_relaxed);
            if (k < AT_LAT_N - 1)
                at_strbuf_printf(&b, "astrotrain_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n", e,
                                 BUCKETS[k], (unsigned long long)cum);
            else
                at_strbuf_printf(&b, "astrotrain_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n", e,
                                 (unsigned long long)cum);
        }
        at_strbuf_printf(&b, "astrotrain_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n", e,
                         1e-6 * (double)atomic_load_explicit(&s->lat_us[r], memory_order_relaxed));
        at_strbuf_printf(&b, "astrotrain_request_duration_seconds_count{endpoint=\"%s\"} %llu\n", e,
                         (unsigned long long)cum);
    }
    at_strbuf_printf(&b, "# HELP astrotrain_rows_predicted_total Rows (or images) predicted, by model.\n"
                         "# TYPE astrotrain_rows_predicted_total counter\n");
    for (size_t m = 0; m < s->n_slots; m++)
        at_strbuf_printf(&b, "astrotrain_rows_predicted_total{model=\"%s\"} %llu\n", s->slots[m]->name,
                         (unsigned long long)atomic_load(&s->slots[m]->rows));
    at_strbuf_printf(&b, "# HELP astrotrain_predictions_total Predicted class counts since the model's last load.\n"
                         "# TYPE astrotrain_predictions_total counter\n");
    for (size_t m = 0; m < s->n_slots; m++) {
        at_served *v = at_slot_acquire(s->slots[m]);
        for (size_t c = 0; c < v->n_out && !v->transform; c++) {
            /* class names are label text: keep them printable and unquoted-safe */
            char nm[200];
            size_t o = 0;
            for (const char *p = v->b->class_names[c]; *p && o + 1 < sizeof nm; p++)
                nm[o++] = *p == '"' || *p == '\\' || *p == '\n' ? '_' : *p;
            nm[o] = 0;
            at_strbuf_printf(&b, "astrotrain_predictions_total{model=\"%s\",class=\"%s\"} %llu\n", s->slots[m]->name, nm,
                             (unsigned long long)atomic_load(&v->per_class[c]));
        }
        at_served_release(v);
    }
    at_strbuf_printf(&b, "# HELP astrotrain_model_loads_total Successful loads (first load and reloads), by model.\n"
                         "# TYPE astrotrain_model_loads_total counter\n");
    for (size_t m = 0; m < s->n_slots; m++)
        at_strbuf_printf(&b, "astrotrain_model_loads_total{model=\"%s\"} %llu\n", s->slots[m]->name,
                         (unsigned long long)atomic_load(&s->slots[m]->loads));
    at_strbuf_printf(&b, "# HELP astrotrain_model_load_failures_total Reloads that failed (the old version kept serving).\n"
                         "# TYPE astrotrain_model_load_failures_total counter\n");
    for (size_t m = 0; m < s->n_slots; m++)
        at_strbuf_printf(&b, "astrotrain_model_load_failures_total{model=\"%s\"} %llu\n", s->slots[m]->name,
                         (unsigned long long)atomic_load(&s->slots[m]->load_failures));
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    at_strbuf_printf(&b, "# HELP astrotrain_uptime_seconds Seconds since the server started.\n"
                         "# TYPE astrotrain_uptime_seconds gauge\nastrotrain_uptime_seconds %.3f\n",
                     (double)t.tv_sec + 1e-9 * (double)t.tv_nsec - s->started);
    at_serve_json(rs, 200, &b);
    rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
