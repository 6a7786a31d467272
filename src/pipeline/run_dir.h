/* run_dir.h - (private) the run directory and its files: creating it (fresh, forced or
 * resumed), log.txt through a progress tee, atomic text files, and the safe points where a
 * SIGINT/SIGTERM stops a run. Used by every runner (run.c, step.c, study.c). */
#ifndef ASTROTRAIN_PIPELINE_RUN_DIR_H
#define ASTROTRAIN_PIPELINE_RUN_DIR_H

#include <stdio.h>

#include "astrotrain/config.h"
#include "astrotrain/progress.h"
#include "astrotrain/status.h"

/* <output_dir>/<name> of c, created; an existing one needs force. With resume_dir, that
 * directory instead (it must exist; its log is appended to). checkpoint_hint: the family
 * can resume, so the "already exists" message names --resume. Removes stale temporary
 * files; a fresh run's old log.txt goes. */
at_status at_run_dir_make(const at_config *c, int force, const char *resume_dir, int checkpoint_hint, char *dir,
                          size_t cap, at_error *err);

/* A progress sink that also appends log lines to a file. While open, the log lives under
 * "<path>.tmp.<pid>" (moved there if it exists) and close renames it back, so log.txt, like
 * every file of a run directory, is only ever seen complete. */
typedef struct at_log_tee {
    const at_progress *user;
    FILE *log;
    at_progress progress; /* hand this one down */
    char path[AT_PATH_MAX + 320], tmp[AT_PATH_MAX + 360];
} at_log_tee;
at_status at_log_tee_open(at_log_tee *t, const char *path, const at_progress *user, at_error *err);
void at_log_tee_close(at_log_tee *t);

/* dir/name holding text, written atomically. */
at_status at_write_text_file(const char *dir, const char *name, const char *text, at_error *err);
/* mkdir -p; AT_ERR_IO naming the path on failure. */
at_status at_mkdirs(const char *path, at_error *err);

/* A stop asked by SIGINT/SIGTERM, seen at a safe point between stages: AT_ERR_INTERRUPTED
 * ("stopped after <after>"), else AT_OK. */
at_status at_stop_point(const at_progress *p, const char *after, at_error *err);
/* Rewrites an AT_ERR_INTERRUPTED message to say that no results were written and where the
 * log of the run directory dir is. */
void at_interrupted_message(at_error *err, const char *dir);
/* The same for a run that left a checkpoint: the message names `astrotrain --resume dir`. */
void at_interrupted_resume_message(at_error *err, const char *dir);

#endif
