/* image_fits.c - FITS cutouts in the image run and in predict (image_fits.h): the network's
 * input channels follow the cutouts' band count (predict's scaling: models/bundle_scaling.c). */
#include "pipeline/image_fits.h"

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
