/* test_json.c - the JSON writer behind metrics.json and the reports: every escape a string can
 * need, non-finite numbers as null, numbers that read back to the same double, and nesting, all
 * against text written out by hand. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/json.h"
#include "harness.h"

static void test_exact_text(void) {
    at_json j;
    at_json_init(&j);
    at_json_begin_object(&j);
    at_json_kv_string(&j, "s", "q\" b\\ n\n r\r t\t c\x01 e\x1f u\xc3\xa9");
    at_json_kv_number(&j, "nan", NAN);
    at_json_kv_number(&j, "inf", -INFINITY);
    at_json_kv_number(&j, "third", 1.0 / 3);
    at_json_kv_number(&j, "big", 1e300);
    at_json_kv_int(&j, "min", INT64_MIN);
    at_json_key(&j, "a");
    at_json_begin_array(&j);
    at_json_bool(&j, 1);
    at_json_null(&j);
    at_json_begin_array(&j);
    at_json_end_array(&j);
    at_json_begin_object(&j);
    at_json_end_object(&j);
    at_json_end_array(&j);
    at_json_end_object(&j);
    const char *want = "{\n"
                       "  \"s\": \"q\\\" b\\\\ n\\n r\\r t\\t c\\u0001 e\\u001f u\xc3\xa9\",\n"
                       "  \"nan\": null,\n"
                       "  \"inf\": null,\n"
                       "  \"third\": 0.3333333333333333,\n"
                       "  \"big\": 1e+300,\n"
                       "  \"min\": -9223372036854775808,\n"
                       "  \"a\": [\n"
                       "    true,\n"
                       "    null,\n"
                       "    [],\n"
                       "    {}\n"
                       "  ]\n"
                       "}";
    CHECK(!j.failed);
    CHECK(j.len == strlen(want) && memcmp(j.buf, want, j.len) == 0);
    if (j.len != strlen(want) || memcmp(j.buf, want, j.len) != 0)
        fprintf(stderr, "  got:\n%.*s\n", (int)j.len, j.buf);
    at_json_free(&j);
}

/* Every number written reads back as the same double (metrics must survive the file). */
static void test_numbers_round_trip(void) {
    const double v[] = {0.1, 2.0 / 3, 1e-310, 5e-324, 1.7976931348623157e308, -0.0, 123456789.125, 0.6};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        at_json j;
        at_json_init(&j);
        at_json_number(&j, v[i]);
        CHECK(!j.failed);
        char *end;
        double back = strtod(j.buf, &end);
        CHECK(end == j.buf + j.len);
        CHECK(memcmp(&back, &v[i], sizeof back) == 0);
        at_json_free(&j);
    }
}

int main(void) {
    RUN(test_exact_text);
    RUN(test_numbers_round_trip);
    return harness_done();
}
