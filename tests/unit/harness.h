/* harness.h - a minimal unit-test harness: each test file is one program that ends with
 * "N passed, N failed, N skipped" and exits non-zero on any failure; tests/run.sh adds them up.
 *
 *   static void test_thing(void) { CHECK(1 + 1 == 2); CHECK_NEAR(x, 0.5, 1e-9); }
 *   static void test_tool(void) { if (!have_tool) SKIP("tool not on PATH"); ... }
 *   int main(void) { RUN(test_thing); RUN(test_tool); return harness_done(); }
 *
 * SKIP(reason) returns from the test function; RUN prints "SKIP name: reason" and counts it
 * as skipped, not passed (a failed CHECK before the SKIP still makes it a failure).
 */
#ifndef ASTROTRAIN_TEST_HARNESS_H
#define ASTROTRAIN_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int harness_checks_failed_;
static int harness_passed_, harness_failed_, harness_skipped_;
static const char *harness_skip_reason_;

/* Inside a test function: stop here and count the test as skipped, giving the reason. */
#define SKIP(reason)                     \
    do {                                 \
        harness_skip_reason_ = (reason); \
        return;                          \
    } while (0)

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            harness_checks_failed_++;                                                \
        }                                                                            \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                             \
    do {                                                                                  \
        double a_ = (a), b_ = (b);                                                        \
        if (!(fabs(a_ - b_) <= (tol))) {                                                  \
            fprintf(stderr, "  %s:%d: %s = %.17g, expected %.17g (tol %g)\n", __FILE__,   \
                    __LINE__, #a, a_, b_, (double)(tol));                                 \
            harness_checks_failed_++;                                                     \
        }                                                                                 \
    } while (0)

/* A call that must return AT_OK; prints the error otherwise. */
#define CHECK_OK(call, errp)                                                              \
    do {                                                                                  \
        int st_ = (call);                                                                 \
        if (st_ != 0) {                                                                   \
            fprintf(stderr, "  %s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #call,   \
                    st_, (errp)->msg);                                                    \
            harness_checks_failed_++;                                                     \
        }                                                                                 \
    } while (0)

/* A call that must fail with this status and a message containing text. */
#define CHECK_FAIL(call, status, errp, text)                                              \
    do {                                                                                  \
        int st_ = (call);                                                                 \
        if (st_ != (status) || !strstr((errp)->msg, (text))) {                            \
            fprintf(stderr, "  %s:%d: %s returned %d \"%s\", expected %d with \"%s\"\n",  \
                    __FILE__, __LINE__, #call, st_, (errp)->msg, (int)(status), (text));  \
            harness_checks_failed_++;                                                     \
        }                                                                                 \
    } while (0)

#define RUN(fn)                                                       \
    do {                                                              \
        harness_checks_failed_ = 0;                                   \
        harness_skip_reason_ = NULL;                                  \
        fn();                                                         \
        if (harness_checks_failed_) {                                 \
            harness_failed_++;                                        \
            fprintf(stderr, "FAIL %s\n", #fn);                        \
        } else if (harness_skip_reason_) {                            \
            harness_skipped_++;                                       \
            fprintf(stderr, "SKIP %s: %s\n", #fn, harness_skip_reason_); \
        } else {                                                      \
            harness_passed_++;                                        \
            fprintf(stderr, "ok   %s\n", #fn);                        \
        }                                                             \
    } while (0)

static inline int harness_done(void) {
    printf("%d passed, %d failed, %d skipped\n", harness_passed_, harness_failed_,
           harness_skipped_);
    return harness_failed_ ? 1 : 0;
}

#endif
