/* atomic_file.c - whole-or-nothing file writes: temp file, fsync, rename. */
#include "astrotrain/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct at_afile {
    FILE *fp;
    char *path; /* the real name */
    char *tmp;  /* "<path>.tmp.<pid>"; NULL when writing straight to a device or pipe */
};

static void afile_free(at_afile *f) {
    free(f->path);
    free(f->tmp);
    free(f);
}

at_afile *at_afile_open(const char *path, at_error *err) {
    if (!path || !*path) {
        at_fail(err, AT_ERR_IO, "empty output path");
        return NULL;
    }
    at_afile *f = at_calloc(1, sizeof *f, err);
    if (!f) return NULL;
    size_t n = strlen(path) + 32;
    f->path = at_strdup(path, err);
    if (!f->path) {
        afile_free(f);
        return NULL;
    }
    /* A device or pipe (/dev/stdout, /dev/full, a FIFO) cannot be replaced atomically, and
     * renaming a temp file over it would destroy it (as root, /dev/full would become a
     * regular file): such outputs are written in place. */
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
        f->fp = fopen(path, "wb");
        if (!f->fp) {
            at_fail(err, AT_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
            afile_free(f);
            return NULL;
        }
        return f;
    }
    f->tmp = at_malloc(n, 1, err);
    if (!f->tmp) {
        afile_free(f);
        return NULL;
    }
    snprintf(f->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    /* O_EXCL is not used: a temp file with our pid can only be a leftover of a dead process. */
    f->fp = fopen(f->tmp, "wb");
    if (!f->fp) {
        at_fail(err, AT_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        afile_free(f);
        return NULL;
    }
    return f;
}

FILE *at_afile_stream(at_afile *f) { return f ? f->fp : NULL; }

void at_afile_abort(at_afile *f) {
    if (!f) return;
    if (f->fp) fclose(f->fp);
    if (f->tmp) unlink(f->tmp);
    afile_free(f);
}

/* Makes the rename itself durable; failure here is not worth an error (the data are safe). */
static void sync_parent(const char *path) {
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = (size_t)(slash - path);
        if (n == 0) n = 1; /* "/file" */
        if (n >= sizeof dir) return;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

at_status at_afile_commit(at_afile *f, at_error *err) {
    if (!f) return at_fail(err, AT_ERR_INTERNAL, "at_afile_commit: no file");
    int e = 0;
    /* ferror catches a failed write whose error fflush would not report again. */
    if (ferror(f->fp)) e = errno ? errno : EIO;
    if (!e && fflush(f->fp) != 0) e = errno;
    /* fsync is for files; a pipe or terminal says EINVAL, which is no failure. */
    if (!e && fsync(fileno(f->fp)) != 0 && (f->tmp || (errno != EINVAL && errno != EROFS))) e = errno;
    if (fclose(f->fp) != 0 && !e) e = errno;
    f->fp = NULL;
    if (!e && f->tmp && rename(f->tmp, f->path) != 0) e = errno;
    if (e) {
        at_fail(err, AT_ERR_IO, "%s: cannot write: %s", f->path, strerror(e));
        at_afile_abort(f);
        return AT_ERR_IO;
    }
    if (f->tmp) sync_parent(f->path);
    afile_free(f);
    return AT_OK;
}

at_status at_write_file_atomic(const char *path, const void *data, size_t n, at_error *err) {
    at_afile *f = at_afile_open(path, err);
    if (!f) return err ? err->code : AT_ERR_IO;
    if (n && fwrite(data, 1, n, f->fp) != n) {
        int e = errno ? errno : EIO;
        at_afile_abort(f);
        return at_fail(err, AT_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    return at_afile_commit(f, err);
}

void at_remove_stale_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *tag = strstr(e->d_name, ".tmp.");
        if (!tag) continue;
        char *end;
        long pid = strtol(tag + 5, &end, 10);
        if (*end || pid <= 0 || end == tag + 5) continue;
        /* Alive (or not ours to ask about): leave it to its writer. */
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < sizeof path) unlink(path);
    }
    closedir(d);
}
