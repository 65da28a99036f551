/*
 * worker.h: one thread that does the engine's disk work (hashing a
 * config tree into a snapshot) off the control loop, jobs taken in the
 * order queued. The loop queues a job and later looks at its done flag
 * (the engine does, once per tick); nothing on the loop waits for the
 * thread unless it asks to (mit_worker_wait).
 *
 * Ownership: a job (fn, arg) is borrowed until its done flag is set;
 * the worker never frees it. mit_worker_free runs what is queued, then
 * joins the thread.
 */
#ifndef UMBRA_MITIGATE_WORKER_H
#define UMBRA_MITIGATE_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>

#define MIT_WORKER_QUEUE 8 /* jobs waiting; the engine keeps one in flight */

typedef struct mit_worker mit_worker_t;

/* Runs on the worker thread. */
typedef void (*mit_job_fn)(void *arg);

typedef struct mit_job {
	mit_job_fn fn;
	void *arg;
	atomic_bool done; /* set (release) after fn returned */
} mit_job_t;

/* A new worker with its thread running. 0 or -errno. */
int mit_worker_new(mit_worker_t **out);

/* Queues job (done cleared). false when the queue is full: not queued. */
bool mit_worker_submit(mit_worker_t *w, mit_job_t *job);

/* Blocks until job is done (it must have been queued). */
void mit_worker_wait(mit_worker_t *w, mit_job_t *job);

/* Runs the queued jobs, stops and joins the thread, frees w. NULL ok. */
void mit_worker_free(mit_worker_t *w);

#endif
