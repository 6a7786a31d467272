/* chunk_pipe.c - the catalogue stream's three-stage pipeline (chunk_pipe.h): POSIX threads,
 * one mutex and one condition variable over three counters (chunks read, worked, written). */
#include "pipeline/chunk_pipe.h"

#include <pthread.h>
#include <string.h>

typedef struct pipe_state {
    void *ctx;
    void *const *slots;
    size_t n_slots;
    const chunk_pipe_stages *st;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t n_read, n_worked, n_written;
    int read_done, work_done; /* the stage has finished (eof, failure or stop) */
    at_status s;              /* the first failure */
    at_error err;
} pipe_state;

/* Records a stage's failure (the first one wins) and wakes every stage. */
static void fail(pipe_state *p, at_status s, const at_error *e) {
    pthread_mutex_lock(&p->mu);
    if (!p->s) {
        p->s = s;
        p->err = *e;
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void *reader(void *arg) {
    pipe_state *p = arg;
    for (size_t i = 0;; i++) {
        pthread_mutex_lock(&p->mu);
        while (!p->s && i - p->n_written >= p->n_slots) pthread_cond_wait(&p->cv, &p->mu);
        int stop = p->s != AT_OK;
        pthread_mutex_unlock(&p->mu);
        if (stop) break;
        at_error e = {0};
        int eof = 0;
        at_status s = p->st->read(p->ctx, p->slots[i % p->n_slots], &eof, &e);
        if (s) {
            fail(p, s, &e);
            break;
        }
        pthread_mutex_lock(&p->mu);
        if (!eof) p->n_read++;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (eof) break;
    }
    pthread_mutex_lock(&p->mu);
    p->read_done = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void *writer(void *arg) {
    pipe_state *p = arg;
    for (size_t i = 0;; i++) {
        pthread_mutex_lock(&p->mu);
        while (!p->s && i >= p->n_worked && !p->work_done) pthread_cond_wait(&p->cv, &p->mu);
        int stop = p->s != AT_OK || i >= p->n_worked;
        pthread_mutex_unlock(&p->mu);
        if (stop) break;
        at_error e = {0};
        at_status s = p->st->write(p->ctx, p->slots[i % p->n_slots], &e);
        if (s) {
            fail(p, s, &e);
            break;
        }
        pthread_mutex_lock(&p->mu);
        p->n_written++;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    /* No failure here means the work stage ended at the reader's end: every chunk is written. */
    pthread_mutex_lock(&p->mu);
    int ok = p->s == AT_OK;
    pthread_mutex_unlock(&p->mu);
    if (ok && p->st->finish) {
        at_error e = {0};
        at_status s = p->st->finish(p->ctx, &e);
        if (s) fail(p, s, &e);
    }
    return NULL;
}

/* The work stage, on the calling thread. */
static void worker(pipe_state *p) {
    for (size_t i = 0;; i++) {
        pthread_mutex_lock(&p->mu);
        while (!p->s && i >= p->n_read && !p->read_done) pthread_cond_wait(&p->cv, &p->mu);
        int stop = p->s != AT_OK || i >= p->n_read;
        pthread_mutex_unlock(&p->mu);
        if (stop) break;
        at_error e = {0};
        at_status s = p->st->work(p->ctx, p->slots[i % p->n_slots], &e);
        if (s) {
            fail(p, s, &e);
            break;
        }
        pthread_mutex_lock(&p->mu);
        p->n_worked++;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_lock(&p->mu);
    p->work_done = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static at_status sequential(void *ctx, void *slot, const chunk_pipe_stages *st, at_error *err) {
    for (;;) {
        int eof = 0;
        at_status s = st->read(ctx, slot, &eof, err);
        if (s) return s;
        if (eof) return st->finish ? st->finish(ctx, err) : AT_OK;
        if ((s = st->work(ctx, slot, err)) || (s = st->write(ctx, slot, err))) return s;
    }
}

at_status chunk_pipe_run(void *ctx, void *const *slots, size_t n_slots, const chunk_pipe_stages *st, at_error *err) {
    if (n_slots < 3) return sequential(ctx, slots[0], st, err);
    pipe_state p;
    memset(&p, 0, sizeof p);
    p.ctx = ctx, p.slots = slots, p.n_slots = n_slots, p.st = st;
    if (pthread_mutex_init(&p.mu, NULL)) return sequential(ctx, slots[0], st, err);
    if (pthread_cond_init(&p.cv, NULL)) {
        pthread_mutex_destroy(&p.mu);
        return sequential(ctx, slots[0], st, err);
    }
    pthread_t rt, wt;
    if (pthread_create(&rt, NULL, reader, &p)) {
        pthread_cond_destroy(&p.cv);
        pthread_mutex_destroy(&p.mu);
        return sequential(ctx, slots[0], st, err);
    }
    int have_writer = pthread_create(&wt, NULL, writer, &p) == 0;
    if (!have_writer) { /* cannot happen in practice: write on this thread after each work */
        at_error e = {0};
        fail(&p, at_fail(&e, AT_ERR_MEMORY, "cannot start the writer thread"), &e);
    }
    worker(&p);
    pthread_join(rt, NULL);
    if (have_writer) pthread_join(wt, NULL);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    if (p.s && err) *err = p.err;
    return p.s;
}
