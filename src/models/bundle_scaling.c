/* bundle_scaling.c - the [data] scaling of FITS cutouts kept in a model file: read from the
 * effective configuration text (INI) the bundle stores, so predict and serve scale cutouts
 * exactly as the training run did. */
#include "models/bundle_scaling.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "astrotrain/images.h"

/* "key = value" lines of the [data] section of an INI text. */
at_status at_bundle_image_scaling(const at_bundle *b, int *scaling, at_error *err) {
    *scaling = AT_SCALING_ASINH;
    const char *p = b->config_text;
    int in_data = 0;
    while (p && *p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char line[256];
        if (len >= sizeof line) len = sizeof line - 1;
        memcpy(line, p, len);
        line[len] = '\0';
        char *s = line;
        while (isspace((unsigned char)*s)) s++;
        if (*s == '[') {
            in_data = strncmp(s, "[data]", 6) == 0;
        } else if (in_data && strncmp(s, "scaling", 7) == 0 && (s[7] == '=' || isspace((unsigned char)s[7]))) {
            char *v = strchr(s, '=');
            if (v) {
                v++;
                while (isspace((unsigned char)*v)) v++;
                char *t = v + strlen(v);
                while (t > v && (isspace((unsigned char)t[-1]) || t[-1] == ';' || t[-1] == '#')) *--t = '\0';
                char *cm = strpbrk(v, " \t#;");
                if (cm) *cm = '\0';
                if (!strcmp(v, "asinh")) *scaling = AT_SCALING_ASINH;
                else if (!strcmp(v, "linear")) *scaling = AT_SCALING_LINEAR;
                else if (!strcmp(v, "zscale")) *scaling = AT_SCALING_ZSCALE;
                else return at_fail(err, AT_ERR_MODEL, "model file: unknown [data] scaling '%s'", v);
            }
        }
        p = e ? e + 1 : NULL;
    }
    return AT_OK;
}
