/* image_fits.c - FITS cutouts in the image run and in predict (image_fits.h): the network's
 * input channels follow the cutouts' band count, and predict scales cutouts with the
 * [data] scaling of the training run, read from the configuration text in the model file. */
#include "pipeline/image_fits.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/images.h"

at_status at_net_records_with_channels(const at_config *c, size_t channels, at_net_record **out, size_t *n,
                                       at_error *err) {
    *out = NULL;
    *n = 0;
    at_net_record *r = at_calloc(c->net.n + 1, sizeof *r, err);
    if (!r) return AT_ERR_MEMORY;
    memcpy(r, c->net.rec, c->net.n * sizeof *r);
    size_t m = c->net.n;
    int done = 0, have_net = 0;
    uint32_t net_index = 0;
    for (size_t i = 0; i < m; i++) {
        if (strcmp(r[i].section, "net") != 0) continue;
        if (!r[i].key[0]) have_net = 1, net_index = r[i].index;
        if (strcmp(r[i].key, "channels") == 0) {
            snprintf(r[i].value, sizeof r[i].value, "%zu", channels);
            done = 1;
        }
    }
    if (!done && have_net) {
        at_net_record *a = &r[m++];
        snprintf(a->section, sizeof a->section, "net");
        snprintf(a->key, sizeof a->key, "channels");
        snprintf(a->value, sizeof a->value, "%zu", channels);
        a->line = 0;
        a->index = net_index;
    }
    *out = r;
    *n = m;
    return AT_OK;
}

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
