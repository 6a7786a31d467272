/* cnn_params.c - the CNN's [model] keys (its network has its own tables in cnn/spec.c). */
#include "astrotrain/forest.h"
#include "astrotrain/params.h"
#include "models/params.h"

static const at_key keys[] = {
    {"model", "class_weight", AT_KEY_CHOICE, AT_KEY_FIELD(at_cnn_model_params, class_weight), "none", 0, 0,
     "none|balanced", "balanced weighs each image's loss by n / (k * count) of its class on the training part."},
};

const at_key_table at_cnn_param_table = {keys, sizeof keys / sizeof keys[0], sizeof(at_cnn_model_params), NULL};
