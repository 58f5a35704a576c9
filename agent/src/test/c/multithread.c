/*
 * multithread: a process with 4 threads (main + 3). Dump must refuse it (not supported yet) and leave
 * it running and untraced. The three threads wait on a condition variable and bump a counter each
 * time they are woken; after go the main thread wakes them and joins them.
 */
#include "tftest.h"
#include <pthread.h>

#define NTHREADS 3

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int quit;
static int started;
static long woken[NTHREADS];

static void *worker(void *arg)
{
	long i = (long)arg;
	pthread_mutex_lock(&lock);
	started++;
	pthread_cond_broadcast(&cond);
	while (!quit) {
		pthread_cond_wait(&cond, &lock);
		woken[i]++;
	}
	pthread_mutex_unlock(&lock);
	return (void *)(i + 100);
}

int main(void)
{
	pthread_t t[NTHREADS];
	for (long i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)i) != 0)
			tf_die("pthread_create");
	pthread_mutex_lock(&lock);
	while (started < NTHREADS)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);

	tf_ready();
	tf_wait_go();

	pthread_mutex_lock(&lock);
	quit = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	for (long i = 0; i < NTHREADS; i++) {
		void *ret;
		tf_check(pthread_join(t[i], &ret) == 0 && ret == (void *)(i + 100), "thread %ld did not end well", i);
	}
	return tf_finish();
}
