/* cmd_serve.c - `astrotrain serve`: load model files, serve them over HTTP until SIGINT or
 * SIGTERM (drain, then exit 0); SIGHUP reloads every model from its file. Signals are
 * blocked in every thread and taken here with sigtimedwait, so no handler state is needed. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "astrotrain/serve.h"
#include "astrotrain/device.h"
#include "cli/cli.h"

static void help(void) {
    puts("usage: astrotrain serve --model MODEL.h5 [--model NAME=MODEL.h5 ...] [--models-dir DIR] [options]\n"
         "\n"
         "Serves the models over HTTP: a web page at /, the KServe V2 protocol under /v2, plain JSON/CSV/image\n"
         "prediction at POST /v1/models/NAME/predict, /metrics (Prometheus) and /openapi.json.\n"
         "A model's name is NAME, else its run folder's name (runs/rf/model.h5 -> rf), else the file name\n"
         "without .h5. SIGHUP (or POST /v2/repository/models/NAME/load) reloads from disk; SIGINT/SIGTERM\n"
         "drain the requests in flight and exit.\n"
         "\n"
         "options:\n"
         "  --model [NAME=]PATH   a model file (repeat for several)\n"
         "  --models-dir DIR      every DIR/*.h5 and DIR/*/model.h5\n"
         "  --port N              TCP port (default 8080; 0 = any free port, see --port-file)\n"
         "  --bind ADDR           IPv4 address to listen on (default 127.0.0.1)\n"
         "  --threads N           HTTP worker threads (default 2)\n"
         "  --examples FILE|DIR   labelled images (Galaxy10 .h5 or class folders) for the page's random example\n"
         "  --history DIR         serve DIR/report.html (astrotrain monitor) at /monitor\n"
         "  --access-log FILE     one line per request to FILE (default stderr; 'off' for none)\n"
         "  --port-file FILE      write the port listened on to FILE once ready\n"
         "  --max-body BYTES      largest request body (default 16777216; 413 beyond)\n"
         "  --max-rows N          rows per request (default 100000; 413 beyond)\n"
         "  --max-image-side N    largest uploaded image width or height (default 4096; 413 beyond)\n"
         "  --max-connections N   open connections (default 1024)\n"
         "  --max-per-ip N        open connections per client address (default 256)\n"
         "  --timeout S           seconds a connection may stay idle (default 30)\n"
         "  --quiet               no start-up and reload lines\n"
         "  --device D            image models (cnn) predict on D: cuda, cuda:N or auto (default cpu)");
}

/* runs/rf/model.h5 -> rf; dir/cnn.h5 -> cnn. */
static void default_name(const char *path, char *out, size_t cap) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strcmp(base, "model.h5") == 0 && base > path + 1) {
        const char *end = base - 1, *start = end;
        while (start > path && start[-1] != '/') start--;
        snprintf(out, cap, "%.*s", (int)(end - start), start);
        return;
    }
    size_t n = strlen(base);
    if (n > 3 && strcmp(base + n - 3, ".h5") == 0) n -= 3;
    snprintf(out, cap, "%.*s", (int)n, base);
}

static int add(at_server *s, const char *spec, int quiet) {
    char name[256];
    const char *eq = strchr(spec, '='), *path = spec;
    if (eq) {
        snprintf(name, sizeof name, "%.*s", (int)(eq - spec), spec);
        path = eq + 1;
    } else {
        default_name(spec, name, sizeof name);
    }
    at_error err = {0};
    if (at_server_add_model(s, name, path, &err)) return cli_fail(&err);
    if (!quiet) fprintf(stderr, "serve: model '%s' from %s\n", name, path);
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int add_dir(at_server *s, const char *dir, int quiet) {
    DIR *d = opendir(dir);
    if (!d) return cli_usage("--models-dir %s: %s", dir, strerror(errno));
    char *found[512];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 512) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        struct stat sb;
        size_t l = strlen(e->d_name);
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode)) {
            snprintf(p, sizeof p, "%s/%s/model.h5", dir, e->d_name);
            if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        } else if (!(S_ISREG(sb.st_mode) && l > 3 && strcmp(e->d_name + l - 3, ".h5") == 0)) {
            continue;
        }
        if (!(found[n] = strdup(p))) break;
        n++;
    }
    closedir(d);
    qsort(found, n, sizeof *found, cmp_str);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (!rc) rc = add(s, found[i], quiet);
        free(found[i]);
    }
    if (!n) return cli_usage("--models-dir %s: no *.h5 or */model.h5 there", dir);
    return rc;
}

static int num(const char *flag, const char *text, long lo, long hi, long *out) {
    if (cli_parse_int(text, lo, hi, out)) return cli_usage("%s: '%s' is not a number from %ld to %ld", flag, text, lo, hi);
    return 0;
}

int cmd_serve(int argc, char **argv, volatile int *stop) {
    at_serve_options so;
    at_serve_options_default(&so);
    at_httpd_options ho;
    at_httpd_options_default(&ho);
    ho.port = 8080;
    const char *access = NULL, *port_file = NULL;
    int quiet = 0, rc = 0;
    long v;
    /* first pass: options; second: models (they need --examples) */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help();
            return 0;
        } else if ((strcmp(a, "--model") == 0 || strcmp(a, "--models-dir") == 0) && has) {
            i++;
        } else if (strcmp(a, "--port") == 0 && has) {
            if ((rc = num(a, argv[++i], 0, 65535, &v))) return rc;
            ho.port = (unsigned)v;
        } else if (strcmp(a, "--bind") == 0 && has) {
            ho.bind = argv[++i];
        } else if (strcmp(a, "--threads") == 0 && has) {
            if ((rc = num(a, argv[++i], 1, 256, &v))) return rc;
            ho.threads = (unsigned)v;
        } else if (strcmp(a, "--examples") == 0 && has) {
            so.examples = argv[++i];
        } else if (strcmp(a, "--history") == 0 && has) {
            so.history = argv[++i];
        } else if (strcmp(a, "--access-log") == 0 && has) {
            access = argv[++i];
        } else if (strcmp(a, "--port-file") == 0 && has) {
            port_file = argv[++i];
        } else if (strcmp(a, "--max-body") == 0 && has) {
            if ((rc = num(a, argv[++i], 1, 1L << 34, &v))) return rc;
            so.max_body = (size_t)v;
        } else if (strcmp(a, "--max-rows") == 0 && has) {
            if ((rc = num(a, argv[++i], 1, 100000000, &v))) return rc;
            so.max_rows = (size_t)v;
        } else if (strcmp(a, "--max-image-side") == 0 && has) {
            if ((rc = num(a, argv[++i], 1, 16384, &v))) return rc;
            so.max_image_side = (size_t)v;
        } else if (strcmp(a, "--max-connections") == 0 && has) {
            if ((rc = num(a, argv[++i], 1, 100000, &v))) return rc;
            ho.max_connections = (unsigned)v;
        } else if (strcmp(a, "--max-per-ip") == 0 && has) {
            if ((rc = num(a, argv[++i], 0, 100000, &v))) return rc;
            ho.max_per_ip = (unsigned)v;
        } else if (strcmp(a, "--timeout") == 0 && has) {
            if ((rc = num(a, argv[++i], 1, 86400, &v))) return rc;
            ho.timeout = (unsigned)v;
        } else if (strcmp(a, "--device") == 0 && has) { /* issue 17 */
            so.device = argv[++i];
            at_device_kind dk;
            int di;
            at_error de = {0};
            if (at_device_parse(so.device, &dk, &di, &de)) return cli_usage("--device: %s", de.msg);
            if (dk == AT_DEVICE_CUDA && !at_device_has_cuda())
                return cli_usage("--device %s: this astrotrain was built without CUDA: rebuild with make CUDA=1",
                                 so.device);
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else {
            return cli_usage("serve: unknown option '%s' (see astrotrain serve --help)", a);
        }
    }
    /* parallelism comes from the HTTP threads: one thread per prediction */
    cli_set_threads(1);
    FILE *log = stderr;
    if (access && strcmp(access, "off") == 0) log = NULL;
    else if (access && strcmp(access, "-") != 0 && !(log = fopen(access, "a")))
        return cli_usage("--access-log %s: %s", access, strerror(errno));
    if (log) setvbuf(log, NULL, _IOLBF, 0);
    ho.access_log = log;
    /* from here on SIGINT/SIGTERM/SIGHUP wait for the loop below (a SIGHUP while the models
     * load must not kill us); every thread started later inherits the blocked set */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT), sigaddset(&set, SIGTERM), sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    at_error err = {0};
    at_server *s = NULL;
    if (at_server_new(&so, &s, &err)) {
        rc = cli_fail(&err);
        goto out;
    }
    for (int i = 1; i < argc && !rc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) rc = add(s, argv[++i], quiet);
        else if (strcmp(argv[i], "--models-dir") == 0 && i + 1 < argc) rc = add_dir(s, argv[++i], quiet);
    }
    if (rc) goto out;
    if (!at_server_n_models(s)) {
        rc = cli_usage("serve: give at least one --model or --models-dir");
        goto out;
    }
    if (at_server_seal(s, &err)) {
        rc = cli_fail(&err);
        goto out;
    }
    at_httpd *h = NULL;
    if (at_httpd_start(s, &ho, &h, &err)) {
        rc = cli_fail(&err);
        goto out;
    }
    if (port_file) {
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
        FILE *pf = fopen(tmp, "w");
        if (!pf || fprintf(pf, "%u\n", at_httpd_port(h)) < 0 || fclose(pf) != 0 || rename(tmp, port_file) != 0)
            fprintf(stderr, "astrotrain: --port-file %s: cannot write it\n", port_file);
    }
    if (!quiet) fprintf(stderr, "serve: listening on http://%s:%u/\n", ho.bind, at_httpd_port(h));
    while (!*stop) {
        struct timespec tick = {0, 200 * 1000 * 1000};
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM) break;
        if (sig == SIGHUP) {
            at_error e = {0};
            if (at_server_reload(s, NULL, &e)) fprintf(stderr, "serve: reload: %s\n", e.msg);
            else if (!quiet) fprintf(stderr, "serve: reloaded every model\n");
        }
    }
    if (!quiet) fprintf(stderr, "serve: draining and stopping\n");
    at_httpd_stop(h, 10.0);
out:
    at_server_free(s);
    if (log && log != stderr) fclose(log);
    return rc;
}
