/* test_config.c - the key table, INI errors with file:line, overrides, did-you-mean. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astrotrain/config_load.h"
#include "astrotrain/forest.h"
#include "astrotrain/gbdt.h"
#include "astrotrain/keys.h"
#include "astrotrain/model.h"
#include "astrotrain/mlp.h"
#include "harness.h"

static char dir[64];

/* A model section's params, as its family's struct. */
#define RF(mc) ((const at_forest_params *)(const void *)(mc).params)
#define GB(mc) ((const at_gbdt_params *)(const void *)(mc).params)
#define NN(mc) ((const at_mlp_params *)(const void *)(mc).params)

static const char *write_ini(const char *name, const char *text) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_defaults(void) {
    at_config c;
    at_config_defaults(&c);
    CHECK(c.run.seed == 42);
    CHECK(strcmp(c.model.type, "random_forest") == 0 && !c.model.table); /* io: no family params yet */
    at_error e;
    CHECK_OK(at_config_load(NULL, NULL, 0, &c, &e), &e);
    CHECK(c.model.table && RF(c.model)->n_trees == 100 && RF(c.model)->max_bins == 256);
    CHECK_NEAR(c.split.train, 0.7, 1e-12);
    CHECK(c.undersample.strategy == 1);
    CHECK(c.normalise.method == 1);
    CHECK(strcmp(c.data.features, "u,g,r,i,z,redshift") == 0);
}

static void test_load_and_override(void) {
    at_error e;
    at_config c;
    const char *p = write_ini("a.ini", "[run]\nseed = 7\n[model]\n  n_trees = 12 ; comment\ncriterion = ENTROPY\n");
    const char *sets[] = {"model.max_depth=5", "split.train=0.8", "split.test = 0.05"};
    CHECK_OK(at_config_load(p, sets, 3, &c, &e), &e);
    CHECK(c.run.seed == 7);
    CHECK(RF(c.model)->n_trees == 12);
    CHECK(RF(c.model)->criterion == 1);
    CHECK(RF(c.model)->max_depth == 5);
    CHECK_NEAR(c.split.train, 0.8, 1e-12);
    CHECK(strcmp(c.run.name, "a") == 0); /* default name = file stem */
}

static void test_errors(void) {
    at_error e;
    at_config c;
    const char *p = write_ini("b.ini", "[model]\nn_tres = 10\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "b.ini:2: unknown key 'n_tres' in [model] (did you mean 'n_trees'?)");
    p = write_ini("c.ini", "[modle]\ntype = random_forest\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "c.ini:1: unknown section [modle] (did you mean [model]?)");
    p = write_ini("d.ini", "[model]\nn_trees = lots\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "d.ini:2: [model] n_trees: 'lots' is not an integer");
    p = write_ini("e.ini", "[model]\nn_trees = 1000000000000\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "out of range");
    p = write_ini("f.ini", "[model]\nn_trees = 0\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "f.ini:2:");
    p = write_ini("g.ini", "[split]\ntrain = 0.5\nvalidation = 0.1\ntest = 0.1\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "must be 1");
    p = write_ini("h.ini", "[model]\nn_trees = 1\nn_trees = 2\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "h.ini:3: key 'n_trees' in [model] is set twice (first at line 2)");
    p = write_ini("i.ini", "[run]\n[run]\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "i.ini:2: section [run] appears twice");
    p = write_ini("j.ini", "[run]\nthis is not a key\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "j.ini:2: expected 'key = value'");
    p = write_ini("k.ini", "[model]\ntype = random_forrest\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "k.ini:2: [model] unknown model type 'random_forrest' (did you mean 'random_forest'?)");
    p = write_ini("l.ini", "[model]\ncriterion = gin\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "is not one of gini/entropy");
    p = write_ini("m.ini", "[run]\nname = x\xff\xfe\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "m.ini:2: the line is not valid UTF-8");
    char longline[400];
    memset(longline, 'a', sizeof longline);
    memcpy(longline, "[data]\nfeatures = ", 18);
    longline[398] = '\n';
    longline[399] = '\0';
    p = write_ini("n.ini", longline);
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "n.ini:2: line too long");
    CHECK_FAIL(at_config_load("/nonexistent/x.ini", NULL, 0, &c, &e), AT_ERR_IO, &e, "/nonexistent/x.ini");
    const char *bad[] = {"model.n_tree=3"};
    CHECK_FAIL(at_config_load(NULL, bad, 1, &c, &e), AT_ERR_CONFIG, &e, "--set model.n_tree=3: unknown key 'n_tree' in [model] (did you mean 'n_trees'?)");
    const char *bad2[] = {"nodot"};
    CHECK_FAIL(at_config_load(NULL, bad2, 1, &c, &e), AT_ERR_USAGE, &e, "expected section.key=value");
    p = write_ini("o.ini", "[model]\nmax_features = sqr\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "max_features");
    p = write_ini("r.ini", "[member.a12345678901234567890123456789012345678901234567890]\ntype = mlp\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "r.ini:1: section name too long");
    p = write_ini("q.ini", "[data]\nfeatures = u, g, u\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "'u' is listed twice");
}

/* Ranges are closed intervals checked exactly at their ends, and the split must sum to 1
 * within rounding (1e-9), not roughly. */
static void test_range_ends(void) {
    at_error e;
    at_config c;
    const char *p = write_ini("r1.ini", "[model]\nn_trees = 100000\n");
    CHECK_OK(at_config_load(p, NULL, 0, &c, &e), &e);
    CHECK(RF(c.model)->n_trees == 100000);
    p = write_ini("r2.ini", "[model]\nn_trees = 100001\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e,
               "r2.ini:2: [model] n_trees = 100001 is out of range [1, 100000]");
    p = write_ini("r3.ini", "[model]\nn_trees = 1\n");
    CHECK_OK(at_config_load(p, NULL, 0, &c, &e), &e);
    p = write_ini("r4.ini", "[split]\ntrain = 0.7\nvalidation = 0.15\ntest = 0.145\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "must be 1");
    p = write_ini("r5.ini", "[split]\ntrain = 0.7\nvalidation = 0.1\ntest = 0.2\n");
    CHECK_OK(at_config_load(p, NULL, 0, &c, &e), &e); /* sums to 0.9999999999999999 */
}

static void test_model_sections(void) {
    at_error e;
    at_config c;
    /* Family keys may come before the type; max_depth means each family's own field. */
    const char *p = write_ini("ms.ini", "[model]\nmax_depth = 4\nn_rounds = 7\ntype = gradient_boosting\n"
                                        "[member.rf]\nmax_depth = 9\ntype = random_forest\n"
                                        "[member.nn]\ntype = mlp\nhidden = 8\nclass_weight = balanced\n");
    CHECK_OK(at_config_load(p, NULL, 0, &c, &e), &e);
    CHECK(GB(c.model)->max_depth == 4 && GB(c.model)->n_rounds == 7);
    CHECK(GB(c.model)->max_leaves == 0 && GB(c.model)->max_bin == 255); /* the family's defaults */
    CHECK(c.n_members == 2 && strcmp(c.members[0].name, "rf") == 0);
    CHECK(RF(c.members[0].model)->max_depth == 9 && RF(c.members[0].model)->n_trees == 100);
    CHECK(NN(c.members[1].model)->class_weight == 1 && strcmp(NN(c.members[1].model)->hidden, "8") == 0);
    const char *sets[] = {"member.rf.n_trees=3"};
    CHECK_OK(at_config_load(p, sets, 1, &c, &e), &e);
    CHECK(RF(c.members[0].model)->n_trees == 3);
    char *text = at_config_format(&c);
    CHECK(text && strstr(text, "[member.rf]") && strstr(text, "[member.nn]"));
    free(text);
    p = write_ini("ms2.ini", "[model]\nn_rounds = 7\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e,
               "ms2.ini:2: key 'n_rounds' does not apply to model type 'random_forest' (it is for: gradient_boosting)");
    p = write_ini("ms3.ini", "[model]\ntype = ensemble\n[member.x]\ntype = ensemble\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "cannot be a member of an ensemble");
    p = write_ini("ms4.ini", "[member.a]\nn_trees = 1\nn_trees = 2\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "ms4.ini:3: key 'n_trees' in [member.a] is set twice");
    const char *bad[] = {"member.zz.n_trees=3"};
    CHECK_FAIL(at_config_load(NULL, bad, 1, &c, &e), AT_ERR_CONFIG, &e, "no section [member.zz]");
    p = write_ini("ms5.ini", "[model]\nn_rounds = many\ntype = gradient_boosting\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e, "ms5.ini:2: [model] n_rounds: 'many' is not an integer");
}

static void test_format_roundtrip(void) {
    at_error e;
    at_config c, c2;
    const char *sets[] = {"model.n_trees=33", "data.features=a,b", "clean.sentinel=-99.5"};
    CHECK_OK(at_config_load(NULL, sets, 3, &c, &e), &e);
    char *text = at_config_format(&c);
    CHECK(text && strstr(text, "n_trees = 33"));
    const char *p = write_ini("rt.ini", text);
    CHECK_OK(at_config_load(p, NULL, 0, &c2, &e), &e);
    char *text2 = at_config_format(&c2);
    CHECK(text2 && strcmp(text, text2) == 0);
    free(text);
    free(text2);
    char *doc = at_config_reference();
    CHECK(doc && strstr(doc, "| `n_trees` |") && strstr(doc, "## [split]"));
    free(doc);
}

/* The generic key table: every type parses, formats back and checks its range. */
typedef struct kt {
    int64_t i64;
    int i32;
    size_t sz;
    double r;
    int b, ch;
    char str[8];
} kt;

static const at_key kt_keys[] = {
    {"s", "i64", AT_KEY_INT, AT_KEY_FIELD(kt, i64), "-3", -5, AT_KEY_BIG, NULL, "a"},
    {"s", "i32", AT_KEY_INT, AT_KEY_FIELD(kt, i32), "7", 1, 9, NULL, "b"},
    {"s", "sz", AT_KEY_SIZE, AT_KEY_FIELD(kt, sz), "12", 0, 100, NULL, "c"},
    {"s", "r", AT_KEY_REAL, AT_KEY_FIELD(kt, r), "0.25", 0, 1, NULL, "d"},
    {"s", "b", AT_KEY_BOOL, AT_KEY_FIELD(kt, b), "yes", 0, 0, NULL, "e"},
    {"s", "ch", AT_KEY_CHOICE, AT_KEY_FIELD(kt, ch), "two", 0, 0, "one|two|three", "f"},
    {"s", "str", AT_KEY_STR, AT_KEY_FIELD(kt, str), "", 0, 0, NULL, "g"},
    {"t", "req", AT_KEY_INT, AT_KEY_FIELD(kt, i32), NULL, 0, 3, NULL, "h"},
};
#define N_KT (sizeof kt_keys / sizeof kt_keys[0])

static void test_key_table(void) {
    at_error e;
    kt v;
    memset(&v, 0x5a, sizeof v);
    CHECK_OK(at_keys_defaults(kt_keys, N_KT, NULL, &v, &e), &e);
    CHECK(v.i64 == -3 && v.i32 == 7 && v.sz == 12 && v.r == 0.25 && v.b == 1 && v.ch == 1 && v.str[0] == '\0');
    char out[64];
    const char *want[] = {"-3", "7", "12", "0.25", "true", "two", ""};
    for (size_t i = 0; i < 7; i++) {
        at_key_format(&kt_keys[i], &v, out, sizeof out);
        CHECK(strcmp(out, want[i]) == 0);
    }
    CHECK_OK(at_key_set(&kt_keys[1], &v, " 9 ", &e), &e);
    CHECK(v.i32 == 9 && v.i64 == -3); /* an int field: its neighbour untouched */
    CHECK_FAIL(at_key_set(&kt_keys[1], &v, "10", &e), AT_ERR_CONFIG, &e, "[s] i32 = 10 is out of range [1, 9]");
    CHECK_FAIL(at_key_set(&kt_keys[3], &v, "1.5", &e), AT_ERR_CONFIG, &e, "[s] r = 1.5 is out of range [0, 1]");
    CHECK_OK(at_key_set(&kt_keys[3], &v, "1", &e), &e);
    CHECK_FAIL(at_key_set(&kt_keys[4], &v, "maybe", &e), AT_ERR_CONFIG, &e, "[s] b: 'maybe' is not a boolean");
    CHECK_OK(at_key_set(&kt_keys[4], &v, "off", &e), &e);
    at_key_format(&kt_keys[4], &v, out, sizeof out);
    CHECK(v.b == 0 && strcmp(out, "false") == 0);
    CHECK_FAIL(at_key_set(&kt_keys[5], &v, "four", &e), AT_ERR_CONFIG, &e, "[s] ch: 'four' is not one of one/two/three");
    CHECK_OK(at_key_set(&kt_keys[5], &v, "THREE", &e), &e);
    CHECK(v.ch == 2);
    CHECK_FAIL(at_key_set(&kt_keys[6], &v, "12345678", &e), AT_ERR_CONFIG, &e, "at most 7");
    CHECK_FAIL(at_key_set(&kt_keys[2], &v, "1e3", &e), AT_ERR_CONFIG, &e, "[s] sz: '1e3' is not an integer");
    CHECK_OK(at_key_set(&kt_keys[2], &v, "100", &e), &e);
    CHECK(v.sz == 100);
    CHECK_OK(at_keys_check(kt_keys, N_KT, "s", &v, &e), &e);
    v.i32 = 0; /* set in code, outside the table's range */
    CHECK_FAIL(at_keys_check(kt_keys, N_KT, "s", &v, &e), AT_ERR_CONFIG, &e, "[s] i32 = 0 is out of range [1, 9]");
    CHECK(at_keys_nearest(kt_keys, N_KT, "s", "i33") && strcmp(at_keys_nearest(kt_keys, N_KT, "s", "i33"), "i32") == 0);
    CHECK(at_keys_nearest(kt_keys, N_KT, "s", "zzzzzz") == NULL);
    CHECK(at_key_find(kt_keys, N_KT, "t", NULL) == &kt_keys[7] && !at_key_find(kt_keys, N_KT, "u", NULL));
    char *rows = at_keys_doc_rows(kt_keys, N_KT, NULL, " (x)");
    CHECK(rows && strstr(rows, "| `i64` | integer | `-3` | >= -5 | a (x) |") &&
          strstr(rows, "| `ch` | choice | `two` | one,two,three | f (x) |") && strstr(rows, "| `str` | text | `\"\"` |  | g (x) |") &&
          strstr(rows, "| `req` | integer | required | 0 .. 3 | h (x) |"));
    free(rows);
}

/* Each family's parameters: its own defaults, its own keys (the CNN's class_weight is its
 * own), and params built in code checked against the same table. */
static void test_family_params(void) {
    at_error e;
    at_config c;
    at_config_defaults(&c);
    CHECK(c.source[0] == '\0' && strcmp(c.run.output_dir, "runs") == 0);
    const char *sets[] = {"model.type=zzz"};
    CHECK_FAIL(at_config_load(NULL, sets, 1, &c, &e), AT_ERR_CONFIG, &e, "--set: [model] unknown model type 'zzz'");
    const char *p = write_ini("cnn.ini", "[model]\ntype = cnn\nclass_weight = balanced\n[net]\nwidth = 8\nheight = 8\n"
                                         "[conv]\nfilters = 2\n[avgpool]\n[dense]\nunits = 3\n[softmax]\n");
    CHECK_OK(at_config_load(p, NULL, 0, &c, &e), &e);
    CHECK(((const at_cnn_model_params *)(const void *)c.model.params)->class_weight == 1);
    char *text = at_config_format(&c);
    CHECK(text && strstr(text, "[model]\ntype = cnn\nclass_weight = balanced\n\n[metrics]"));
    free(text);
    p = write_ini("cnn2.ini", "[model]\ntype = cnn\nn_trees = 3\n[net]\n[conv]\nfilters = 2\n[avgpool]\n[dense]\nunits = 3\n[softmax]\n");
    CHECK_FAIL(at_config_load(p, NULL, 0, &c, &e), AT_ERR_CONFIG, &e,
               "cnn2.ini:3: key 'n_trees' does not apply to model type 'cnn' (it is for: random_forest)");
    at_forest_params fp;
    at_forest_params_default(&fp);
    CHECK(fp.n_trees == 100 && fp.max_bins == 256 && fp.bootstrap == 1 && strcmp(fp.max_features, "sqrt") == 0);
    fp.max_depth = 5000;
    at_model *m = NULL;
    CHECK_FAIL(at_model_create("random_forest", &fp, 3, 2, &m, &e), AT_ERR_CONFIG, &e,
               "random_forest: [model] max_depth = 5000 is out of range [0, 1000]");
    CHECK(m == NULL);
    at_mlp_params mp;
    at_mlp_params_default(&mp);
    CHECK(strcmp(mp.hidden, "64,64") == 0 && mp.epochs == 50 && mp.beta2 == 0.999 && mp.init == AT_MLP_INIT_AUTO);
    at_gbdt_params gp;
    at_gbdt_params_default(&gp);
    CHECK(gp.n_rounds == 300 && gp.max_depth == 6 && gp.max_bin == 255 && gp.learning_rate == 0.1);
}

static void test_split_list(void) {
    at_error e;
    char **items;
    size_t n;
    CHECK_OK(at_split_list(" u, g ,r", &items, &n, &e), &e);
    CHECK(n == 3 && strcmp(items[1], "g") == 0);
    for (size_t i = 0; i < n; i++) free(items[i]);
    free(items);
    CHECK_FAIL(at_split_list("u,,g", &items, &n, &e), AT_ERR_CONFIG, &e, "empty item");
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/at_config_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    RUN(test_defaults);
    RUN(test_load_and_override);
    RUN(test_errors);
    RUN(test_range_ends);
    RUN(test_model_sections);
    RUN(test_format_roundtrip);
    RUN(test_split_list);
    RUN(test_key_table);
    RUN(test_family_params);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) return 1;
    return harness_done();
}
