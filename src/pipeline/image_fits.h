/* image_fits.h - (private) what FITS cutouts add to the image run and to predict: the [net]
 * records with the cutouts' band count as input channels, and the scaling a model was
 * trained with (read back from the effective configuration stored in the model file). */
#ifndef ASTROTRAIN_PIPELINE_IMAGE_FITS_H
#define ASTROTRAIN_PIPELINE_IMAGE_FITS_H

#include <stddef.h>

#include "astrotrain/bundle.h"
#include "astrotrain/config.h"

/* A copy of c's [net]/layer records (caller frees) with [net] channels = channels. */
at_status at_net_records_with_channels(const at_config *c, size_t channels, at_net_record **out, size_t *n,
                                       at_error *err);
/* The model's [data] scaling (at_img_scaling); asinh when the stored configuration has none.
 * An unknown value is AT_ERR_MODEL. */
at_status at_bundle_image_scaling(const at_bundle *b, int *scaling, at_error *err);

#endif
