/* cnn_util.h - a network from INI text for the CNN tests (test_cnn.c, test_cnn_ref.c). */
#ifndef ASTROTRAIN_TEST_CNN_UTIL_H
#define ASTROTRAIN_TEST_CNN_UTIL_H

#include "astrotrain/cnn.h"
#include "harness.h"

/* Parses text and builds the net for k classes; NULL (with a failed check) on error. */
static inline at_cnn *make_net(const char *text, size_t k, uint64_t seed) {
    at_error err = {0};
    at_cnn_spec *spec = NULL;
    at_cnn *net = NULL;
    CHECK_OK(at_cnn_spec_parse_text(text, "test", &spec, &err), &err);
    if (!spec) return NULL;
    CHECK_OK(at_cnn_new(spec, k, seed, &net, &err), &err);
    at_cnn_spec_free(spec);
    return net;
}

#endif
