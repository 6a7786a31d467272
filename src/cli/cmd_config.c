/* cmd_config.c - `astrotrain config`: the effective configuration, or the key reference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/config.h"
#include "astrotrain/config_load.h"
#include "cli/cli.h"

int cmd_config(int argc, char **argv) {
    const char *config = NULL;
    const char **sets = calloc((size_t)argc + 1, sizeof *sets);
    size_t n_sets = 0;
    int doc = 0;
    if (!sets) return 7;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            puts("usage: astrotrain config [--config FILE.ini] [--set SECTION.KEY=V]...\n"
                 "       astrotrain config --doc\n\n"
                 "Prints the effective configuration with every default filled in (checking the file\n"
                 "as a run would), or with --doc the reference of every key as markdown.");
            free(sets);
            return 0;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
            sets[n_sets++] = argv[++i];
        } else if (strcmp(argv[i], "--doc") == 0) {
            doc = 1;
        } else {
            free(sets);
            return cli_usage("config: unknown or incomplete option '%s'", argv[i]);
        }
    }
    if (doc) {
        free(sets);
        char *text = at_config_reference();
        if (!text) return 7;
        fputs(text, stdout);
        free(text);
        return 0;
    }
    at_config *c = calloc(1, sizeof *c);
    at_error err = {0};
    at_status s = c ? at_config_load(config, sets, n_sets, c, &err) : AT_ERR_MEMORY;
    free(sets);
    if (s) {
        free(c);
        return cli_fail(&err);
    }
    char *text = at_config_format(c);
    free(c);
    if (!text) return 7;
    fputs(text, stdout);
    free(text);
    return 0;
}
