/* test_transfer.c - transfer learning: the safetensors reader (valid and hostile headers),
 * the torchvision name mapping, loading weights into a network (missing tensor, wrong shape,
 * re-head), frozen layers that do not change,
 * per-block learning rates, a re-headed network that trains, and the resume of a
 * fine-tuning run. The PyTorch comparison is test_transfer_torch.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astrotrain/cnn.h"
#include "astrotrain/model_file.h"
#include "astrotrain/safetensors.h"
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

/* A safetensors file of the given header text and data bytes. */
static size_t make_st(uint8_t *out, const char *header, const void *data, size_t data_len) {
    uint64_t hl = strlen(header);
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)(hl >> (8 * i));
    memcpy(out + 8, header, hl);
    if (data_len) memcpy(out + 8 + hl, data, data_len);
    return 8 + hl + data_len;
}

static void write_file(const char *path, const uint8_t *b, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(b, 1, n, f) == n);
    fclose(f);
}

static void test_safetensors_valid(void) {
    uint8_t buf[512];
    float d[3] = {1.5f, -2.0f, 0.25f};
    uint8_t data[12 + 2];
    memcpy(data, d, 12);
    data[12] = 0x00, data[13] = 0x3c; /* F16 1.0 */
    size_t n = make_st(buf,
                       "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[12,14]},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}",
                       data, sizeof data);
    at_error err = {0};
    at_safetensors *st = NULL;
    CHECK_OK(at_safetensors_parse(buf, n, "t", &st, &err), &err);
    if (!st) return;
    CHECK(at_safetensors_count(st) == 2);
    const at_st_tensor *a = at_safetensors_find(st, "a"), *b = at_safetensors_find(st, "b");
    CHECK(a && b && a->rank == 1 && a->shape[0] == 3 && a->count == 3);
    float v[3] = {0};
    if (a) CHECK_OK(at_safetensors_read_f32(st, a, v, &err), &err);
    CHECK(v[0] == 1.5f && v[1] == -2.0f && v[2] == 0.25f);
    if (b) CHECK_OK(at_safetensors_read_f32(st, b, v, &err), &err);
    CHECK(v[0] == 1.0f);
    CHECK(at_safetensors_find(st, "__metadata__") == NULL);
    at_safetensors_free(st);
}

static void expect_bad(const uint8_t *buf, size_t n, const char *text) {
    at_error err = {0};
    at_safetensors *st = NULL;
    CHECK_FAIL(at_safetensors_parse(buf, n, "bad.safetensors", &st, &err), AT_ERR_DATA, &err, text);
    CHECK(st == NULL);
    CHECK(strstr(err.msg, "bad.safetensors") != NULL);
}

static void test_safetensors_hostile(void) {
    uint8_t buf[512], z[64] = {0};
    /* a huge header length */
    memset(buf, 0xff, 8);
    expect_bad(buf, 16, "over the format's limit");
    /* shorter than the length field */
    expect_bad(buf, 5, "truncated");
    /* header longer than the file */
    size_t n = make_st(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", z, 4);
    expect_bad(buf, 30, "truncated safetensors file");
    /* data cut short: offsets past the end */
    expect_bad(buf, n - 2, "outside the 2 bytes of data");
    /* cut inside the header's last 8 bytes */
    expect_bad(buf, n - 4 - 5, "truncated safetensors file");
    n = make_st(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", z, 12);
    expect_bad(buf, n, "overlap");
    n = make_st(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", z, 8);
    expect_bad(buf, n, "need 12 bytes");
    n = make_st(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", z, 8);
    expect_bad(buf, n, "need 4 bytes, data_offsets give 8");
    n = make_st(buf, "{\"a\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,1]}}", z, 1);
    expect_bad(buf, n, "unknown dtype");
    n = make_st(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", z, 4);
    expect_bad(buf, n, "shape[0]");
    n = make_st(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", z, 4);
    expect_bad(buf, n, "overflows");
    n = make_st(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", z, 8);
    expect_bad(buf, n, "outside");
    n = make_st(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
                     "\"data_offsets\":[4,8]}}", z, 8);
    expect_bad(buf, n, "bad safetensors header");
    n = make_st(buf, "[1,2]", z, 0);
    expect_bad(buf, n, "not a JSON object");
    n = make_st(buf, "{\"a\":", z, 0);
    expect_bad(buf, n, "bad safetensors header");
    /* a valid integer tensor cannot be read as weights */
    n = make_st(buf, "{\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}}", z, 8);
    at_error err = {0};
    at_safetensors *st = NULL;
    CHECK_OK(at_safetensors_parse(buf, n, "t", &st, &err), &err);
    if (st) {
        float v;
        CHECK_FAIL(at_safetensors_read_f32(st, at_safetensors_find(st, "n"), &v, &err), AT_ERR_DATA, &err,
                   "dtype I64, not a floating-point type");
        at_safetensors_free(st);
    }
    CHECK_FAIL(at_safetensors_open(tmp_path("does-not-exist.safetensors"), &st, &err), AT_ERR_IO, &err, "cannot open");
}

static void test_torchvision_names(void) {
    static const char *const cases[][2] = {
        {"conv1.weight", "conv1.weight"},
        {"bn1.running_var", "conv1.bn.running_var"},
        {"layer1.0.conv2.weight", "layer1.0.conv2.weight"},
        {"layer3.1.bn2.bias", "layer3.1.conv2.bn.bias"},
        {"layer2.0.downsample.0.weight", "layer2.0.downsample.weight"},
        {"layer4.0.downsample.1.running_mean", "layer4.0.downsample.bn.running_mean"},
        {"layer1.0.bn3.weight", "layer1.0.conv3.bn.weight"},
        {"fc.weight", "fc.weight"},
        {"fc.bias", "fc.bias"},
    };
    char out[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(cnn_map_torchvision_name(cases[i][0], out, sizeof out) == 1);
        if (strcmp(out, cases[i][1]) != 0) fprintf(stderr, "  %s -> %s (want %s)\n", cases[i][0], out, cases[i][1]);
        CHECK(strcmp(out, cases[i][1]) == 0);
    }
    CHECK(cnn_map_torchvision_name("layer1.0.bn1.num_batches_tracked", out, sizeof out) == 0);
    CHECK(cnn_map_torchvision_name("bn1.num_batches_tracked", out, sizeof out) == 0);
}

/* ---- loading into a small network ------------------------------------------------------- */

#define SMALL                                                                                                  \
    "[net]\nwidth = 8\nheight = 8\nchannels = 3\nbatch = 8\nepochs = %d\nlearning_rate = 0.01\nweight_decay = 0.01\ninit = %s\n"       \
    "freeze = %s\nfreeze_bn = %s\nunfreeze_after = %d\n"                                                          \
    "[conv]\nname = c1\nfilters = 4\nsize = 3\nbatch_normalize = true\n"                                           \
    "[maxpool]\nsize = 2\n"                                                                                      \
    "[conv]\nname = c2\nfilters = 4\nsize = 3\n"                                                                 \
    "[avgpool]\n[dense]\nname = fc\nunits = %zu\n[softmax]\n"

static at_cnn *small_net(size_t k, const char *init, const char *freeze, int freeze_bn, int epochs, int unfreeze,
                         uint64_t seed) {
    char text[2048];
    snprintf(text, sizeof text, SMALL, epochs, init, freeze, freeze_bn ? "true" : "false", unfreeze, k);
    return make_net(text, k, seed);
}

static void save_model(at_cnn *net, const char *path) {
    at_error err = {0};
    at_store *st = NULL;
    CHECK_OK(at_store_create(path, &st, &err), &err);
    if (!st) return;
    CHECK_OK(at_cnn_save(net, st, "model/", &err), &err);
    CHECK_OK(at_store_commit(st, &err), &err);
}

static void random_images(at_images *im, size_t n, size_t k, uint64_t seed) {
    memset(im, 0, sizeof *im);
    im->n = n, im->height = im->width = 8, im->channels = 3, im->n_classes = k;
    im->pixels = malloc(n * 8 * 8 * 3);
    im->y = malloc(n * sizeof *im->y);
    at_rng r;
    at_rng_init(&r, seed, 0);
    for (size_t i = 0; i < n; i++) {
        im->y[i] = (int32_t)(i % k);
        for (size_t p = 0; p < 192; p++) /* learnable: class sets the brightness of channel 0 */
            im->pixels[i * 192 + p] = (uint8_t)(p % 3 == 0 ? 40 + 80 * (size_t)im->y[i] + at_rng_below(&r, 40)
                                                           : at_rng_below(&r, 256));
    }
}

static void free_images(at_images *im) { free(im->pixels), free(im->y); }

/* A file in astrotrain's own names (NAME.weight ...) with one tensor changed. */
static size_t small_st(uint8_t *buf, const char *c1_shape, int drop_c2) {
    static float z[4096];
    char h[2048];
    snprintf(h, sizeof h,
             "{\"c1.weight\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[0,432]},"
             "\"c1.bn.weight\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[432,448]},"
             "\"c1.bn.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[448,464]},"
             "\"c1.bn.running_mean\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[464,480]},"
             "\"c1.bn.running_var\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[480,496]}%s}",
             c1_shape,
             drop_c2 ? "" : ",\"c2.weight\":{\"dtype\":\"F32\",\"shape\":[4,4,3,3],\"data_offsets\":[496,1072]},"
                            "\"c2.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[1072,1088]}");
    for (size_t i = 0; i < 272; i++) z[i] = 0.01f * (float)(i % 17) + (i >= 120 && i < 124 ? 1.0f : 0.0f);
    return make_st(buf, h, z, 1088);
}

static void test_load_errors(void) {
    static uint8_t buf[8192];
    at_error err = {0};
    /* a valid file, strict: the head is missing from the file -> error naming it */
    write_file(tmp_path("ok.safetensors"), buf, small_st(buf, "[4,3,3,3]", 0));
    at_cnn *net = small_net(2, tmp_path("ok.safetensors"), "0", 0, 1, 0, 1);
    if (net) CHECK_FAIL(cnn_init_from_file(net, NULL, &err), AT_ERR_DATA, &err, "no tensor for fc.weight");
    at_cnn_free(net);
    /* a missing tensor in the middle */
    write_file(tmp_path("miss.safetensors"), buf, small_st(buf, "[4,3,3,3]", 1));
    net = small_net(2, tmp_path("miss.safetensors"), "0", 0, 1, 0, 1);
    if (net) CHECK_FAIL(cnn_init_from_file(net, NULL, &err), AT_ERR_DATA, &err, "no tensor for c2.weight (layer 2 'c2'");
    at_cnn_free(net);
    /* a wrong shape names the layer and both shapes */
    write_file(tmp_path("shape.safetensors"), buf, small_st(buf, "[4,3,1,9]", 0));
    net = small_net(2, tmp_path("shape.safetensors"), "0", 0, 1, 0, 1);
    if (net)
        CHECK_FAIL(cnn_init_from_file(net, NULL, &err), AT_ERR_DATA, &err,
                   "layer 0 'c1' (line 13): tensor c1.weight has shape [4, 3, 1, 9] in the file, the network needs [4, 3, 3, 3]");
    at_cnn_free(net);
    /* a truncated file */
    size_t n = small_st(buf, "[4,3,3,3]", 0);
    write_file(tmp_path("trunc.safetensors"), buf, n - 100);
    net = small_net(2, tmp_path("trunc.safetensors"), "0", 0, 1, 0, 1);
    if (net) CHECK_FAIL(cnn_init_from_file(net, NULL, &err), AT_ERR_DATA, &err, "outside the");
    at_cnn_free(net);
}

static void log_line(void *ctx, const char *line) {
    FILE *f = ctx;
    fprintf(f, "%s\n", line);
}

/* Loaded values land where PyTorch's layout says; non-strict leaves the head random and
 * lists every tensor. */
static void test_load_values_and_log(void) {
    static uint8_t buf[8192];
    at_error err = {0};
    write_file(tmp_path("ok.safetensors"), buf, small_st(buf, "[4,3,3,3]", 0));
    char text[2048];
    snprintf(text, sizeof text, SMALL, 1, tmp_path("ok.safetensors"), "0", "false", 0, (size_t)2);
    char *p = strstr(text, "freeze =");
    memmove(p + 20, p, strlen(p) + 1);
    memcpy(p, "init_strict = false\n", 20);
    at_cnn *net = make_net(text, 2, 1);
    if (!net) return;
    FILE *logf = tmpfile();
    at_progress prog = {.log = log_line, .ctx = logf};
    CHECK_OK(cnn_init_from_file(net, &prog, &err), &err);
    /* c1.weight[co][ci][kh][kw] = 0.01 * (t % 17), t = ((co*3 + ci)*3 + kh)*3 + kw */
    const nn_layer *l = &net->nn.L[0];
    size_t co = 2, ci = 1, kh = 0, kw = 2, t = ((co * 3 + ci) * 3 + kh) * 3 + kw;
    CHECK_NEAR(net->nn.params[l->w_off + ((kh * 3 + kw) * 3 + ci) * 4 + co], 0.01 * (double)(t % 17), 1e-7);
    /* running var (offset 480/4 = 120) */
    CHECK_NEAR(net->nn.stats[l->rs_off + 4 + 0], 1.0 + 0.01 * (120 % 17), 1e-6);
    rewind(logf);
    char all[8192] = {0};
    CHECK(fread(all, 1, sizeof all - 1, logf) > 0);
    fclose(logf);
    CHECK(strstr(all, "loaded  c1.weight") != NULL);
    CHECK(strstr(all, "loaded  c1.bn.running_var") != NULL);
    CHECK(strstr(all, "random  fc.weight") != NULL);
    CHECK(strstr(all, "7 tensors loaded, 0 skipped, 2 left random") != NULL);
    at_cnn_free(net);
}

/* An astrotrain model with 3 classes starts a 2-class net: everything but the head loaded. */
static void test_rehead_trains(void) {
    at_error err = {0};
    at_cnn *src = small_net(3, "uniform", "0", 0, 1, 0, 11);
    if (!src) return;
    for (size_t i = 0; i < src->nn.ns; i++) src->nn.stats[i] = 0.5f + 0.001f * (float)i;
    save_model(src, tmp_path("src.h5"));
    at_cnn *net = small_net(2, tmp_path("src.h5"), "0", 0, 6, 0, 12);
    if (!net) {
        at_cnn_free(src);
        return;
    }
    at_cnn *fresh = small_net(2, "uniform", "0", 0, 6, 0, 12);
    CHECK_OK(cnn_init_from_file(net, NULL, &err), &err);
    const nn_layer *fc = &net->nn.L[net->nn.nl - 2];
    CHECK(memcmp(net->nn.params, src->nn.params, fc->w_off * sizeof(float)) == 0);
    CHECK(memcmp(net->nn.stats, src->nn.stats, net->nn.ns * sizeof(float)) == 0);
    /* the head: the fresh network's own random weights */
    CHECK(memcmp(net->nn.params + fc->w_off, fresh->nn.params + fc->w_off, (fc->w_n + fc->b_n) * sizeof(float)) == 0);
    at_images im;
    random_images(&im, 64, 2, 5);
    at_cnn_fit_standardisation(net, &im);
    at_cnn_train_options o = {.threads = 1, .seed = 3};
    CHECK_OK(at_cnn_train(net, &im, NULL, &o, &err), &err);
    const at_history *h = at_cnn_history(net);
    CHECK(h->n_rows == 6);
    if (h->n_rows == 6) CHECK(h->values[5 * 6 + 1] < 0.8 * h->values[0 * 6 + 1]);
    free_images(&im);
    at_cnn_free(fresh), at_cnn_free(net), at_cnn_free(src);
}

static void test_freeze(void) {
    at_error err = {0};
    at_images im;
    random_images(&im, 32, 2, 6);
    for (int fbn = 0; fbn < 2; fbn++) {
        at_cnn *net = small_net(2, "uniform", "c1", fbn, 2, 0, 4);
        if (!net) break;
        CHECK(net->spec->freeze_n == 1);
        at_cnn_fit_standardisation(net, &im);
        const nn_layer *c2 = &net->nn.L[2];
        size_t nf = c2->w_off; /* c1's weights, gamma, beta */
        float *before = malloc(net->nn.np * sizeof *before), *sb = malloc(net->nn.ns * sizeof *sb);
        memcpy(before, net->nn.params, net->nn.np * sizeof *before);
        memcpy(sb, net->nn.stats, net->nn.ns * sizeof *sb);
        at_cnn_train_options o = {.threads = 1, .seed = 3};
        CHECK_OK(at_cnn_train(net, &im, NULL, &o, &err), &err);
        /* frozen: byte-unchanged (weight decay would move them if the optimiser touched them) */
        CHECK(memcmp(before, net->nn.params, nf * sizeof *before) == 0);
        CHECK(memcmp(before + nf, net->nn.params + nf, c2->w_n * sizeof *before) != 0); /* c2 trains */
        int stats_same = memcmp(sb, net->nn.stats, net->nn.ns * sizeof *sb) == 0;
        CHECK(stats_same == fbn); /* running statistics fixed only with freeze_bn */
        free(before), free(sb);
        at_cnn_free(net);
    }
    /* unfreeze_after = 1: the first layer trains in the second epoch */
    at_cnn *net = small_net(2, "uniform", "1", 1, 2, 1, 4);
    if (net) {
        at_cnn_fit_standardisation(net, &im);
        float *before = malloc(net->nn.np * sizeof *before);
        memcpy(before, net->nn.params, net->nn.np * sizeof *before);
        at_cnn_train_options o = {.threads = 1, .seed = 3};
        CHECK_OK(at_cnn_train(net, &im, NULL, &o, &err), &err);
        CHECK(memcmp(before, net->nn.params, net->nn.L[0].w_n * sizeof *before) != 0);
        free(before);
        at_cnn_free(net);
    }
    /* bad freeze values */
    at_cnn_spec *spec = NULL;
    char text[2048];
    snprintf(text, sizeof text, SMALL, 1, "uniform", "nope", "false", 0, (size_t)2);
    CHECK_FAIL(at_cnn_spec_parse_text(text, "f.ini", &spec, &err), AT_ERR_CONFIG, &err, "freeze = 'nope': no layer");
    snprintf(text, sizeof text, SMALL, 1, "uniform", "6", "false", 0, (size_t)2);
    CHECK_FAIL(at_cnn_spec_parse_text(text, "f.ini", &spec, &err), AT_ERR_CONFIG, &err, "freezes every layer");
    free_images(&im);
}

static void test_lr_decay(void) {
    at_error err = {0};
    /* two residual blocks: stem, block, block, head */
    const char *text = "[net]\nwidth = 8\nheight = 8\nchannels = 1\nlr_decay = 0.5\n"
                       "[conv]\nfilters = 2\n"                                         /* 0: stem, depth 2 */
                       "[conv]\nfilters = 2\n[conv]\nfilters = 2\n[shortcut]\nfrom = -3\n" /* 1-3: depth 2 */
                       "[conv]\nfilters = 2\n[conv]\nfilters = 2\n[shortcut]\nfrom = -3\n" /* 4-6: depth 1 */
                       "[avgpool]\n[dense]\nunits = 2\n[softmax]\n";                    /* 7-9: head, 0 */
    at_cnn *net = make_net(text, 2, 1);
    if (!net) return;
    CHECK_OK(cnn_transfer_apply(net, 0, &err), &err);
    static const float want[] = {0.25f, 0.25f, 0.25f, 0.25f, 0.5f, 0.5f, 0.5f, 1, 1, 1};
    for (size_t i = 0; i < 10 && net->lr_scale; i++) CHECK_NEAR(net->lr_scale[i], want[i], 1e-7);
    /* one plain SGD step moves each layer by lr * scale * gradient */
    float x[2 * 64], *g = malloc(net->nn.np * sizeof *g), *before = malloc(net->nn.np * sizeof *before);
    int32_t y[2] = {0, 1};
    for (size_t i = 0; i < 128; i++) x[i] = (float)((i * 37) % 11) / 5.0f - 1.0f;
    double loss = 0;
    CHECK_OK(at_cnn_loss_grad(net, x, y, 2, NULL, &loss, g, 1, &err), &err);
    memcpy(before, net->nn.params, net->nn.np * sizeof *before);
    nn_opt_conf c = {.kind = AT_OPT_SGD};
    nn_optim o;
    CHECK_OK(nn_optim_init(&net->nn, &o, &err), &err);
    nn_optim_step(&net->nn, &c, &o, g, 0.1);
    static const size_t layers[] = {0, 4, 8};
    for (size_t q = 0; q < 3; q++) {
        const nn_layer *l = &net->nn.L[layers[q]];
        for (size_t j = 0; j < l->w_n; j++)
            CHECK_NEAR(net->nn.params[l->w_off + j], before[l->w_off + j] - 0.1f * want[layers[q]] * g[l->w_off + j], 1e-6);
    }
    nn_optim_free(&o);
    free(g), free(before);
    at_cnn_free(net);
    /* without shortcuts: every weight layer going down is a block */
    net = small_net(2, "uniform", "0", 0, 1, 0, 1);
    if (!net) return;
    net->spec->p.lr_decay = 0.75;
    CHECK_OK(cnn_transfer_apply(net, 0, &err), &err);
    static const float want2[] = {0.5625f, 0.75f, 0.75f, 1, 1, 1};
    for (size_t i = 0; i < 6 && net->lr_scale; i++) CHECK_NEAR(net->lr_scale[i], want2[i], 1e-7);
    at_cnn_free(net);
}

/* Resume across the unfreeze boundary equals the uninterrupted fine-tuning run. */
static void test_resume_finetune(void) {
    at_error err = {0};
    at_images im;
    random_images(&im, 24, 2, 8);
    at_cnn *src = small_net(3, "uniform", "0", 0, 1, 0, 21);
    if (!src) return;
    save_model(src, tmp_path("pre.h5"));
    at_cnn *a = small_net(2, tmp_path("pre.h5"), "c1", 1, 3, 2, 5), *b1 = small_net(2, tmp_path("pre.h5"), "c1", 1, 1, 2, 5),
           *b2 = small_net(2, tmp_path("pre.h5"), "c1", 1, 3, 2, 5);
    if (a && b1 && b2) {
        CHECK_OK(cnn_init_from_file(a, NULL, &err), &err);
        CHECK_OK(cnn_init_from_file(b1, NULL, &err), &err);
        at_cnn_fit_standardisation(a, &im), at_cnn_fit_standardisation(b1, &im), at_cnn_fit_standardisation(b2, &im);
        at_cnn_train_options o = {.threads = 1, .seed = 9};
        CHECK_OK(at_cnn_train(a, &im, NULL, &o, &err), &err);
        o.checkpoint = tmp_path("ck.h5");
        CHECK_OK(at_cnn_train(b1, &im, NULL, &o, &err), &err);
        o.resume = 1;
        CHECK_OK(at_cnn_train(b2, &im, NULL, &o, &err), &err);
        CHECK(memcmp(a->nn.params, b2->nn.params, a->nn.np * sizeof(float)) == 0);
        CHECK(memcmp(a->nn.stats, b2->nn.stats, a->nn.ns * sizeof(float)) == 0);
    }
    at_cnn_free(a), at_cnn_free(b1), at_cnn_free(b2), at_cnn_free(src);
    free_images(&im);
}

static void test_input_normalisation(void) {
    at_error err = {0};
    at_cnn_spec *spec = NULL;
    const char *bad = "[net]\nwidth = 4\nheight = 4\nchannels = 3\ninput_mean = 0.5,0.5\ninput_std = 1,1,1\n"
                      "[conv]\nfilters = 2\n[avgpool]\n[dense]\nunits = 2\n[softmax]\n";
    CHECK_FAIL(at_cnn_spec_parse_text(bad, "n.ini", &spec, &err), AT_ERR_CONFIG, &err, "input_mean = '0.5,0.5': needs 3");
    const char *half = "[net]\nwidth = 4\nheight = 4\nchannels = 3\ninput_mean = 0.5,0.5,0.5\n"
                       "[conv]\nfilters = 2\n[avgpool]\n[dense]\nunits = 2\n[softmax]\n";
    CHECK_FAIL(at_cnn_spec_parse_text(half, "n.ini", &spec, &err), AT_ERR_CONFIG, &err, "go together");
    const char *ok = "[net]\nwidth = 4\nheight = 4\nchannels = 3\ninput_mean = 0.485,0.456,0.406\n"
                     "input_std = 0.229,0.224,0.225\n[conv]\nfilters = 2\n[avgpool]\n[dense]\nunits = 2\n[softmax]\n";
    CHECK_OK(at_cnn_spec_parse_text(ok, "n.ini", &spec, &err), &err);
    if (spec) {
        CHECK(spec->has_norm);
        CHECK_NEAR(spec->norm_mean[1], 0.456, 1e-7);
        CHECK_NEAR(spec->norm_std[2], 0.225, 1e-7);
        /* kept in the canonical text saved in model files */
        CHECK(strstr(spec->text, "input_std = 0.229,0.224,0.225") != NULL);
        at_cnn_spec_free(spec);
    }
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "%s/at-transfer-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) return 1;
    RUN(test_safetensors_valid);
    RUN(test_safetensors_hostile);
    RUN(test_torchvision_names);
    RUN(test_load_errors);
    RUN(test_load_values_and_log);
    RUN(test_rehead_trains);
    RUN(test_freeze);
    RUN(test_lr_decay);
    RUN(test_resume_finetune);
    RUN(test_input_normalisation);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return harness_done();
}
