/*
 * worker.c: the engine's disk worker of worker.h: a ring of job
 * pointers under a mutex, a condition for "queued" and one for "done".
 */
#include "mitigate/worker.h"

#include "base/xmalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct mit_worker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t queued, finished;
	mit_job_t *q[MIT_WORKER_QUEUE];
	size_t head, n;
	bool stop;
};

static void *run(void *arg)
{
	mit_worker_t *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->n && !w->stop)
			pthread_cond_wait(&w->queued, &w->mu);
		if (!w->n)
			break; /* stopping, nothing left */
		mit_job_t *j = w->q[w->head];
		w->head = (w->head + 1) % MIT_WORKER_QUEUE;
		w->n--;
		pthread_mutex_unlock(&w->mu);
		j->fn(j->arg);
		pthread_mutex_lock(&w->mu);
		atomic_store_explicit(&j->done, true, memory_order_release);
		pthread_cond_broadcast(&w->finished);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int mit_worker_new(mit_worker_t **out)
{
	mit_worker_t *w = xcalloc(1, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->queued, NULL);
	pthread_cond_init(&w->finished, NULL);
	int rc = pthread_create(&w->thread, NULL, run, w);
	if (rc) {
		pthread_cond_destroy(&w->queued);
		pthread_cond_destroy(&w->finished);
		pthread_mutex_destroy(&w->mu);
		free(w);
		*out = NULL;
		return -rc;
	}
	*out = w;
	return 0;
}

bool mit_worker_submit(mit_worker_t *w, mit_job_t *job)
{
	pthread_mutex_lock(&w->mu);
	bool ok = w->n < MIT_WORKER_QUEUE && !w->stop;
	if (ok) {
		atomic_store_explicit(&job->done, false, memory_order_relaxed);
		w->q[(w->head + w->n) % MIT_WORKER_QUEUE] = job;
		w->n++;
		pthread_cond_signal(&w->queued);
	}
	pthread_mutex_unlock(&w->mu);
	return ok;
}

void mit_worker_wait(mit_worker_t *w, mit_job_t *job)
{
	pthread_mutex_lock(&w->mu);
	while (!atomic_load_explicit(&job->done, memory_order_acquire))
		pthread_cond_wait(&w->finished, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

void mit_worker_free(mit_worker_t *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->queued);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->queued);
	pthread_cond_destroy(&w->finished);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
