/* cmd_info.c - `astrotrain info`: describe a model file. */
#include <stdio.h>
#include <string.h>

#include "astrotrain/pipeline.h"
#include "cli/cli.h"

int cmd_info(int argc, char **argv) {
    const char *model = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            puts("usage: astrotrain info --model MODEL.h5\n\n"
                 "Prints the model type, features, classes, preprocessing, the training configuration\n"
                 "and the metrics of the run that made it.");
            return 0;
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model = argv[++i];
        } else {
            return cli_usage("info: unknown or incomplete option '%s'", argv[i]);
        }
    }
    if (!model) return cli_usage("info needs --model MODEL.h5");
    at_error err = {0};
    at_bundle *b = NULL;
    if (at_bundle_load(model, &b, &err)) return cli_fail(&err);
    printf("model file   %s\n", model);
    printf("model type   %s\n", b->model->ops->type);
    printf("features     ");
    for (size_t j = 0; j < b->d; j++) printf("%s%s", j ? ", " : "", b->feature_names[j]);
    printf("\nclasses      ");
    for (size_t c = 0; c < b->k; c++) printf("%s%s", c ? ", " : "", b->class_names[c]);
    printf("\nlabel column %s\n", b->label);
    printf("cleaning     %s, missing values: %s\n",
           b->use_sentinel ? "drop rows with the sentinel value" : "no sentinel filter",
           b->missing == 0 ? "drop row" : b->missing == 1 ? "error" : "kept as NaN");
    if (b->use_sentinel) printf("sentinel     %g\n", b->sentinel);
    printf("scaling      %s\n", !b->scaler ? "none" : b->scaler->kind == AT_SCALER_STANDARD ? "standard" : "minmax");
    printf("\n--- training configuration ---\n%s", b->config_text);
    printf("\n--- training metrics (metrics.json) ---\n%s\n", b->metrics_json);
    at_bundle_free(b);
    return 0;
}
