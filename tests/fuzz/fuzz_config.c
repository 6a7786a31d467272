/* fuzz_config.c - INI experiment files: at_config_load on arbitrary bytes must return a
 * status, never crash; and a configuration that loads must print (at_config_format) as a
 * file that loads again to the same text, since every run re-writes it as config.ini. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/cnn.h"
#include "astrotrain/config_load.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    at_config *c = calloc(1, sizeof *c), *c2 = calloc(1, sizeof *c2);
    if (!c || !c2) abort();
    at_error err = {0};
    const char *path = fuzz_write(data, size);
    at_status s = at_config_load(path, NULL, 0, c, &err);
    if (s == AT_OK && c->net.n) {
        /* Network sections are checked by the network parser: errors, never crashes. */
        at_cnn_spec *spec = NULL;
        at_error e3 = {0};
        if (at_cnn_spec_parse(c->net.rec, c->net.n, path, &spec, &e3) == AT_OK) at_cnn_spec_free(spec);
        else if (!e3.msg[0]) abort();
    }
    if (s == AT_OK) {
        char *text = at_config_format(c);
        if (!text) abort();
        fuzz_write(text, strlen(text));
        at_error err2 = {0};
        if (at_config_load(path, NULL, 0, c2, &err2) != AT_OK) {
            fprintf(stderr, "effective config does not load again: %s\n%s", err2.msg, text);
            abort();
        }
        char *text2 = at_config_format(c2);
        if (!text2 || strcmp(text, text2) != 0) {
            fprintf(stderr, "effective config changes when re-read:\n%s\n---\n%s", text, text2 ? text2 : "");
            abort();
        }
        free(text2);
        free(text);
    } else if (!err.msg[0] || s < AT_ERR_USAGE || s > AT_ERR_INTERNAL) {
        abort(); /* every failure says what went wrong */
    }
    free(c);
    free(c2);
    return 0;
}
