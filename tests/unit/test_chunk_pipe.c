/* test_chunk_pipe.c - the catalogue stream's three-stage pipeline (src/pipeline/chunk_pipe.c):
 * chunks come out in input order with the work done on each, at most n_slots chunks are in
 * flight (memory flat), the first failure of any stage is returned with its message and
 * stops the others, an empty input writes nothing, and one slot runs the same stages in
 * sequence; the finish stage runs once after a full success, on the writing thread. Stages take uneven time (a spin of pseudo-random length) so the threads
 * overtake one another in every way a real catalogue would. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "harness.h"
#include "pipeline/chunk_pipe.h"

#define MAXC 400

typedef struct slot {
    long id, value;
} slot;

typedef struct ctx {
    long n;                    /* chunks in the input */
    long fail_read, fail_work, fail_write; /* the chunk whose stage fails (-1: none) */
    long next;                 /* read stage */
    long out[MAXC], n_out;     /* write stage */
    atomic_long reads, writes, worst; /* in flight: reads - writes, its maximum */
    pthread_t writer;          /* the thread of the last write */
    int finished, finish_on_writer, fail_finish;
} ctx;

static void spin(long id, long salt) {
    volatile long x = 0;
    long n = ((id * 2654435761L + salt) % 97) * 200;
    for (long i = 0; i < n; i++) x += i;
}

static at_status rd(void *vc, void *vs, int *eof, at_error *err) {
    ctx *c = vc;
    slot *s = vs;
    if (c->next == c->n) {
        *eof = 1;
        return AT_OK;
    }
    if (c->next == c->fail_read) return at_fail(err, AT_ERR_DATA, "read failed at chunk %ld", c->next);
    spin(c->next, 1);
    s->id = c->next++;
    s->value = -1;
    long inflight = atomic_fetch_add(&c->reads, 1) + 1 - atomic_load(&c->writes);
    long w = atomic_load(&c->worst);
    while (inflight > w && !atomic_compare_exchange_weak(&c->worst, &w, inflight)) {
    }
    return AT_OK;
}

static at_status wk(void *vc, void *vs, at_error *err) {
    ctx *c = vc;
    slot *s = vs;
    if (s->id == c->fail_work) return at_fail(err, AT_ERR_MEMORY, "work failed at chunk %ld", s->id);
    spin(s->id, 2);
    s->value = s->id * s->id + 7;
    return AT_OK;
}

static at_status wr(void *vc, void *vs, at_error *err) {
    ctx *c = vc;
    slot *s = vs;
    if (s->id == c->fail_write) return at_fail(err, AT_ERR_IO, "write failed at chunk %ld", s->id);
    spin(s->id, 3);
    if (c->n_out < MAXC) c->out[c->n_out++] = s->value;
    c->writer = pthread_self();
    atomic_fetch_add(&c->writes, 1);
    return AT_OK;
}

static at_status fin(void *vc, at_error *err) {
    ctx *c = vc;
    c->finished++;
    c->finish_on_writer = c->n_out == 0 || pthread_equal(c->writer, pthread_self());
    if (c->fail_finish) return at_fail(err, AT_ERR_IO, "out.csv: cannot write: No space left on device");
    return AT_OK;
}

static const chunk_pipe_stages ST = {rd, wk, wr, fin};

static void reset(ctx *c, long n) {
    memset(c, 0, sizeof *c);
    c->n = n;
    c->fail_read = c->fail_work = c->fail_write = -1;
}

static at_status go(ctx *c, size_t n_slots, at_error *err) {
    slot s[3];
    void *p[3] = {&s[0], &s[1], &s[2]};
    return chunk_pipe_run(c, p, n_slots, &ST, err);
}

static int in_order(const ctx *c, long n) {
    if (c->n_out != n) return 0;
    for (long i = 0; i < n; i++)
        if (c->out[i] != i * i + 7) return 0;
    return 1;
}

static ctx C;

static void test_order(void) {
    at_error err;
    for (size_t slots = 1; slots <= 3; slots += 2) {
        reset(&C, 300);
        CHECK_OK(go(&C, slots, &err), &err);
        CHECK(in_order(&C, 300));
        CHECK(C.finished == 1 && C.finish_on_writer); /* once, after the writes, on their thread */
        CHECK(atomic_load(&C.worst) <= (long)slots);
        CHECK(atomic_load(&C.worst) >= 1);
    }
}

static void test_empty(void) {
    at_error err;
    for (size_t slots = 1; slots <= 3; slots += 2) {
        reset(&C, 0);
        CHECK_OK(go(&C, slots, &err), &err);
        CHECK(C.n_out == 0);
        reset(&C, 1);
        CHECK_OK(go(&C, slots, &err), &err);
        CHECK(in_order(&C, 1));
    }
}

static void test_failures(void) {
    at_error err;
    for (size_t slots = 1; slots <= 3; slots += 2) {
        reset(&C, 200);
        C.fail_read = 50;
        CHECK_FAIL(go(&C, slots, &err), AT_ERR_DATA, &err, "read failed at chunk 50");
        CHECK(C.n_out <= 50 && in_order(&C, C.n_out));
        CHECK(C.next == 50); /* nothing read after the failure */
        CHECK(C.finished == 0);

        reset(&C, 200);
        C.fail_work = 20;
        CHECK_FAIL(go(&C, slots, &err), AT_ERR_MEMORY, &err, "work failed at chunk 20");
        CHECK(C.n_out <= 20 && in_order(&C, C.n_out)); /* none after it written */
        CHECK(C.next <= 20 + (long)slots);

        reset(&C, 200);
        C.fail_write = 30;
        CHECK_FAIL(go(&C, slots, &err), AT_ERR_IO, &err, "write failed at chunk 30");
        CHECK(C.n_out == 30 && in_order(&C, 30));
        CHECK(C.next <= 30 + (long)slots);
        CHECK(C.finished == 0);

        reset(&C, 40); /* the output fails as it is committed */
        C.fail_finish = 1;
        CHECK_FAIL(go(&C, slots, &err), AT_ERR_IO, &err, "No space left on device");
        CHECK(C.finished == 1 && in_order(&C, 40));
    }
}

int main(void) {
    RUN(test_order);
    RUN(test_empty);
    RUN(test_failures);
    return harness_done();
}
