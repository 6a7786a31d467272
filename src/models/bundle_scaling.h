/* bundle_scaling.h - (private) the FITS cutout scaling a model was trained with, read back
 * from the effective configuration stored in its model file, for predict and serve. */
#ifndef ASTROTRAIN_MODELS_BUNDLE_SCALING_H
#define ASTROTRAIN_MODELS_BUNDLE_SCALING_H

#include "astrotrain/bundle.h"

/* The model's [data] scaling (at_img_scaling); asinh when the stored configuration has none.
 * An unknown value is AT_ERR_MODEL. */
at_status at_bundle_image_scaling(const at_bundle *b, int *scaling, at_error *err);

#endif
