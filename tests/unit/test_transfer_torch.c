/* test_transfer_torch.c - configs/resnet18.ini and resnet50.ini against PyTorch: torchvision's
 * resnet18 and resnet50 with random weights and randomised batch-norm statistics in eval mode,
 * written as safetensors by torch_resnet.py with two random 64x64 images and PyTorch's logits;
 * astrotrain loads the file through init_names = torchvision_resnet and must give the same
 * logits (max difference <= 1e-4 of the largest logit) and torchvision's parameter counts.
 * Skipped without python3-torch and python3-torchvision. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astrotrain/cnn.h"
#include "cnn_util.h"
#include "harness.h"
#include "models/cnn/cnn_internal.h"

static char tmpdir[256];

static const char *tmp_path(const char *leaf) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, leaf);
    return buf[k];
}

/* ---- the PyTorch comparison -------------------------------------------------------------- */

static const char *torch_python(void) {
    if (system("/usr/bin/python3 -c 'import torch, torchvision' >/dev/null 2>&1") == 0) return "/usr/bin/python3";
    if (system("python3 -c 'import torch, torchvision' >/dev/null 2>&1") == 0) return "python3";
    return NULL;
}

static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (b) b[n] = '\0';
    fclose(f);
    if (len) *len = (size_t)n;
    return b;
}

/* configs/NAME.ini's network part with units and init replaced. */
static at_cnn *config_net(const char *name, size_t k, const char *init) {
    char path[512];
    const char *root = getenv("AT_ROOT");
    snprintf(path, sizeof path, "%s/configs/%s.ini", root && *root ? root : ".", name);
    char *text = read_text(path, NULL);
    CHECK(text != NULL);
    if (!text) return NULL;
    char *net = strstr(text, "\n[net]");
    CHECK(net != NULL);
    size_t cap = strlen(net) + 1024;
    char *t = malloc(cap);
    /* rewrite the two lines */
    char *u = strstr(net, "units = 2"), *i = strstr(net, "init = uniform");
    CHECK(u && i && i < u);
    snprintf(t, cap, "%.*sinit = %s%.*sunits = %zu%s", (int)(i - net), net, init, (int)(u - (i + 14)), i + 14, k, u + 9);
    at_cnn *n = make_net(t, k, 7);
    free(t), free(text);
    return n;
}

/* torchvision's parameter counts (11,689,512 and 25,557,032 with 1000 classes) with a
 * 5-class head: minus 512 * 995 + 995 and 2048 * 995 + 995. */
static void resnet_matches_pytorch(const char *arch, size_t params) {
    const char *py = torch_python();
    if (!py) SKIP("python3-torch / python3-torchvision not installed");
    char cmd[1024];
    const char *root = getenv("AT_ROOT");
    snprintf(cmd, sizeof cmd, "%s %s/tests/unit/torch_resnet.py %s %s 5", py, root && *root ? root : ".", tmpdir, arch);
    CHECK(system(cmd) == 0);
    at_cnn *net = config_net(arch, 5, tmp_path("weights.safetensors"));
    if (!net) return;
    CHECK(net->nn.np == params);
    at_error err = {0};
    CHECK_OK(cnn_init_from_file(net, NULL, &err), &err);
    size_t n = 0;
    float *x = (float *)read_text(tmp_path("x.f32"), &n), *want = (float *)read_text(tmp_path("logits.f32"), NULL);
    CHECK(x && want && n == 2 * 64 * 64 * 3 * sizeof(float));
    if (x && want) {
        nn_work *w = NULL;
        CHECK_OK(nn_work_new(&net->nn, 2, 2, 0, &w, &err), &err);
        nn_forward(&net->nn, w, x, 2);
        const float *got = w->out[net->nn.nl - 2]; /* the fc layer: logits */
        double mx = 0, diff = 0;
        for (size_t j = 0; j < 10; j++) {
            if (fabs(want[j]) > mx) mx = fabs(want[j]);
            if (fabs(got[j] - want[j]) > diff) diff = fabs(got[j] - want[j]);
        }
        fprintf(stderr, "  %s vs PyTorch: max |logit| %.4g, max difference %.3g (relative %.3g)\n", arch, mx, diff,
                diff / mx);
        CHECK(mx > 0.1);
        CHECK(diff <= 1e-4 * mx);
        nn_work_free(w);
    }
    free(x), free(want);
    at_cnn_free(net);
}

static void test_resnet18_matches_pytorch(void) { resnet_matches_pytorch("resnet18", 11689512 - 512 * 995 - 995); }
static void test_resnet50_matches_pytorch(void) { resnet_matches_pytorch("resnet50", 25557032 - 2048 * 995 - 995); }

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "%s/at-transfer-torch-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) return 1;
    RUN(test_resnet18_matches_pytorch);
    RUN(test_resnet50_matches_pytorch);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return harness_done();
}
