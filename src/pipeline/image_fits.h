/* image_fits.h - (private) what FITS cutouts add to the image run: the [net] records with the
 * cutouts' band count as input channels. */
#ifndef ASTROTRAIN_PIPELINE_IMAGE_FITS_H
#define ASTROTRAIN_PIPELINE_IMAGE_FITS_H

#include <stddef.h>

#include "astrotrain/config.h"

/* A copy of c's [net]/layer records (caller frees) with [net] channels = channels. */
at_status at_net_records_with_channels(const at_config *c, size_t channels, at_net_record **out, size_t *n,
                                       at_error *err);

#endif
