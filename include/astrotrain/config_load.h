/* config_load.h - a whole configuration, read and resolved (pipeline layer).
 *
 * at_config_read (io) keeps model sections raw; loading resolves each against its family's
 * key table (params.h), parses the network's sections, and runs the checks across keys, so
 * a loaded at_config is complete and valid. */
#ifndef ASTROTRAIN_CONFIG_LOAD_H
#define ASTROTRAIN_CONFIG_LOAD_H

#include <stddef.h>

#include "config.h"
#include "params.h"
#include "status.h"

/* Reads path (may be NULL for defaults only), then applies overrides "section.key=value"
 * in order. Errors are AT_ERR_CONFIG with "file:line: ..." or "--set ...: ...". */
at_status at_config_load(const char *path, const char *const *overrides, size_t n_overrides,
                         at_config *c, at_error *err);

/* The same over several files read in order (a study's shared data file, then a step's
 * file): a later file may set a key again; a repeat within one file is an error. */
at_status at_config_load_layers(const char *const *paths, size_t n_paths, const char *const *overrides,
                                size_t n_overrides, at_config *c, at_error *err);

/* Markdown reference of every key of every table (docs/config.md). Caller frees. */
char *at_config_reference(void);

#endif
