/* run_dir.c - the run directory: created fresh, forced or resumed, log.txt through a
 * progress tee, atomic text files, and the safe points where a stop request ends a run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "astrotrain/atomic_file.h"
#include "pipeline/run_dir.h"

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

at_status at_run_dir_make(const at_config *c, int force, const char *resume_dir, int checkpoint_hint, char *dir,
                          size_t cap, at_error *err) {
    if (resume_dir) {
        if (!is_dir(resume_dir)) return at_fail(err, AT_ERR_IO, "%s: no such run directory", resume_dir);
        snprintf(dir, cap, "%s", resume_dir);
        at_remove_stale_temps(dir); /* left by a run killed mid-write */
        return AT_OK;
    }
    if (strchr(c->run.name, '/') || strcmp(c->run.name, "..") == 0 || strcmp(c->run.name, ".") == 0)
        return at_fail(err, AT_ERR_CONFIG, "[run] name '%s' must be a plain folder name", c->run.name);
    int n = snprintf(dir, cap, "%s/%s", c->run.output_dir, c->run.name);
    if (n < 0 || (size_t)n >= cap) return at_fail(err, AT_ERR_CONFIG, "run directory path too long");
    struct stat sb;
    if (stat(dir, &sb) == 0 && !force) {
        if (checkpoint_hint)
            return at_fail(err, AT_ERR_USAGE,
                           "run directory %s already exists (use --force to overwrite it, or --resume %s)", dir, dir);
        return at_fail(err, AT_ERR_USAGE, "run directory %s already exists (use --force to overwrite it)", dir);
    }
    at_status s = at_mkdirs(dir, err);
    if (s) return s;
    at_remove_stale_temps(dir); /* left by a run killed mid-write */
    /* A fresh log for a new or forced run; --resume appends to the old one. */
    char log[AT_PATH_MAX + 200];
    snprintf(log, sizeof log, "%s/log.txt", dir);
    if (unlink(log) != 0 && errno != ENOENT) return at_fail(err, AT_ERR_IO, "%s: %s", log, strerror(errno));
    return AT_OK;
}

static void tee_log(void *ctx, const char *line) {
    at_log_tee *t = ctx;
    if (t->log) {
        time_t now = time(NULL);
        struct tm tm;
        char stamp[32];
        localtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(t->log, "%s  %s\n", stamp, line);
        fflush(t->log);
    }
    at_progress_log(t->user, "%s", line);
}
static void tee_update(void *ctx, const char *stage, size_t done, size_t total, const char *detail) {
    at_log_tee *t = ctx;
    at_progress_update(t->user, stage, done, total, detail);
}

at_status at_log_tee_open(at_log_tee *t, const char *path, const at_progress *user, at_error *err) {
    t->user = user;
    snprintf(t->path, sizeof t->path, "%s", path);
    snprintf(t->tmp, sizeof t->tmp, "%s.tmp.%ld", path, (long)getpid());
    if (rename(path, t->tmp) != 0 && errno != ENOENT) return at_fail(err, AT_ERR_IO, "%s: %s", path, strerror(errno));
    t->log = fopen(t->tmp, "a");
    if (!t->log) return at_fail(err, AT_ERR_IO, "%s: %s", path, strerror(errno));
    t->progress.update = tee_update;
    t->progress.log = tee_log;
    t->progress.ctx = t;
    t->progress.stop = user ? user->stop : NULL;
    return AT_OK;
}

void at_log_tee_close(at_log_tee *t) {
    if (!t->log) return;
    fclose(t->log);
    t->log = NULL;
    rename(t->tmp, t->path); /* a log that cannot be renamed stays under its temporary name */
}

at_status at_stop_point(const at_progress *p, const char *after, at_error *err) {
    if (!at_progress_stopped(p)) return AT_OK;
    return at_fail(err, AT_ERR_INTERRUPTED, "stopped after %s", after);
}

void at_interrupted_message(at_error *err, const char *dir) {
    if (!err || err->code != AT_ERR_INTERRUPTED || strstr(err->msg, "log.txt")) return;
    char what[AT_ERROR_MAX];
    snprintf(what, sizeof what, "%s", err->msg);
    at_fail(err, AT_ERR_INTERRUPTED, "%s%s; no results written (the log is in %s/log.txt)",
            strstr(what, "interrupt") ? "" : "interrupted: ", what, dir);
}

void at_interrupted_resume_message(at_error *err, const char *dir) {
    if (!err || err->code != AT_ERR_INTERRUPTED || strstr(err->msg, "--resume")) return;
    char why[AT_ERROR_MAX];
    memcpy(why, err->msg, sizeof why);
    why[sizeof why - 200] = '\0';
    at_fail(err, AT_ERR_INTERRUPTED, "%s; continue with `astrotrain --resume %s`", why, dir);
}

at_status at_mkdirs(const char *path, at_error *err) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return at_fail(err, AT_ERR_IO, "%s: bad folder name", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char keep = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return at_fail(err, AT_ERR_IO, "%s: cannot create folder: %s", buf, strerror(errno));
        struct stat sb;
        if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return at_fail(err, AT_ERR_IO, "%s: exists and is not a folder", buf);
        buf[i] = keep;
    }
    return AT_OK;
}

at_status at_write_text_file(const char *dir, const char *name, const char *text, at_error *err) {
    char path[AT_PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return at_write_file_atomic(path, text, strlen(text), err);
}
