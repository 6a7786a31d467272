/* atomic_file.h - write a file so that it appears complete or not at all.
 *
 * Everything goes to "<path>.tmp.<pid>" in the same folder; on success the data are
 * flushed, fsync()ed and rename()d over path. On any failure the temp file is removed and
 * the error (AT_ERR_IO) names the path and the system's reason ("No space left on device").
 *
 *   at_afile *f = at_afile_open("out.csv", &err);    // NULL on failure, err filled
 *   fprintf(at_afile_stream(f), "...");
 *   if (at_afile_commit(f, &err)) ...                 // frees f whatever happens
 */
#ifndef ASTROTRAIN_ATOMIC_FILE_H
#define ASTROTRAIN_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "status.h"

typedef struct at_afile at_afile;

/* One-shot form: n bytes of data become the whole of path. */
at_status at_write_file_atomic(const char *path, const void *data, size_t n, at_error *err);

/* Streaming form for big outputs. */
at_afile *at_afile_open(const char *path, at_error *err);
FILE *at_afile_stream(at_afile *f);                   /* buffered; write with stdio */
at_status at_afile_commit(at_afile *f, at_error *err); /* checks every step; frees f */
void at_afile_abort(at_afile *f);                      /* removes the temp file; frees f */

/* Removes the "NAME.tmp.<pid>" files in dir whose writer process no longer exists (a run
 * killed with SIGKILL mid-write), so a forced or resumed run leaves no partial file. */
void at_remove_stale_temps(const char *dir);

#endif
