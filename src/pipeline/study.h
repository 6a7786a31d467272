/* study.h - (private) what the study runner hands to the report writer. */
#ifndef ASTROTRAIN_PIPELINE_STUDY_H
#define ASTROTRAIN_PIPELINE_STUDY_H

#include "pipeline/prepared.h"
#include "pipeline/run_dir.h"
#include "pipeline/step.h"
#include "pipeline/plots.h"

#define AT_STUDY_MAX_STEPS 32
#define AT_STUDY_MAX_CLASSES 64

typedef struct study_step {
    char name[64];
    char file[AT_PATH_MAX];
    at_step_result r;     /* metrics, probabilities and the trained bundle */
    size_t pca_stage;     /* components of the step's [pca] stage, 0 = none */
    /* A step whose [data] path differs from the data file's (e.g. pretraining on other
     * images) prepares its own data and split; the report lists it apart (study_steps.c). */
    int own_data;
    char data_path[AT_PATH_MAX];
    size_t own_k, own_train, own_valid, own_test;
} study_step;

typedef struct study {
    char path[AT_PATH_MAX];
    char name[128];
    char title[256];
    char output_dir[AT_PATH_MAX];
    char data[AT_PATH_MAX];
    char steps_text[2048];
    char reference_text[512];
    char dir[AT_PATH_MAX + 160];
    size_t n_ref;
    char ref_class[AT_STUDY_MAX_CLASSES][64];
    double ref_value[AT_STUDY_MAX_CLASSES];
    study_step steps[AT_STUDY_MAX_STEPS];
    size_t n_steps;
    const at_prepared *data_base; /* the shared split */
    at_config base_config;
    double seconds;
} study;

/* study_steps.c: a step's own data, when its [data] path differs from the study's. */
at_status at_study_step_data(const study *s, study_step *step, const at_config *c, const at_progress *p,
                             at_prepared **own, at_error *err);
/* study_steps.c: images are read at the size of a network: when the first step on the
 * study's data is an image model, the shared data are prepared with data.ini plus it. */
at_status at_study_image_base(study *s, const char *data_path, const at_study_options *opt, at_error *err);
/* study_steps.c: `[net] init = step:NAME` becomes the model file of the earlier step NAME. */
at_status at_study_resolve_init(const study *s, size_t i, at_config *c, at_error *err);

/* Writes dir/report.md and dir/report.html (figures embedded) and the study-level
 * figures (comparison, reliability diagrams, class balance) into dir/plots. */
at_status at_study_report(study *s, int render, at_error *err);

#endif
