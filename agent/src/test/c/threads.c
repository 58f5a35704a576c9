/*
 * threads: a process with four threads in different states keeps them all, with their IDs, across a
 * dump and restore.
 *
 *   waiter   blocked in pthread_cond_wait (a futex wait) until main signals it after go;
 *   sleeper  counting in a loop of 20 ms nanosleeps;
 *   masked   with its own signal mask (SIGUSR1 blocked) and its own sigaltstack, waiting in sigwait-free
 *            pause() for SIGUSR2, whose SA_ONSTACK handler records whether it ran on that altstack;
 *   semmer   blocked in sem_wait.
 * Each thread keeps a thread-local value. After go, main checks: every thread's gettid() is what it was
 * (glibc caches it), pthread_kill reaches the right thread, masks, altstacks and thread-locals are
 * intact, the sleeper went on counting, and every thread can be joined.
 */
#include "tftest.h"
#include <pthread.h>
#include <signal.h>
#include <semaphore.h>
#include <sys/syscall.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int released;
static sem_t sem;
static volatile long sleeper_count;
static volatile int stop_sleeper;
static __thread long local_value;
static pid_t tids[4];
static pid_t tids_after[4];
static long locals_seen[4];
static volatile int on_altstack = -1;
static char altstack_mem[64 * 1024];
static volatile sig_atomic_t usr2_seen;
static sigset_t masked_mask_after;

static pid_t my_tid(void) { return (pid_t)syscall(SYS_gettid); }

static void on_usr2(int sig)
{
	(void)sig;
	char probe;
	on_altstack = (&probe >= altstack_mem && &probe < altstack_mem + sizeof(altstack_mem));
	usr2_seen = 1;
}

static void *waiter(void *arg)
{
	(void)arg;
	local_value = 1001;
	tids[0] = my_tid();
	pthread_mutex_lock(&lock);
	while (!released)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	locals_seen[0] = local_value;
	tids_after[0] = my_tid();
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	local_value = 2002;
	tids[1] = my_tid();
	while (!stop_sleeper) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
		sleeper_count++;
	}
	locals_seen[1] = local_value;
	tids_after[1] = my_tid();
	return NULL;
}

static void *masked(void *arg)
{
	(void)arg;
	local_value = 3003;
	tids[2] = my_tid();
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	stack_t ss = {.ss_sp = altstack_mem, .ss_size = sizeof(altstack_mem), .ss_flags = 0};
	if (sigaltstack(&ss, NULL) != 0)
		tf_die("sigaltstack");
	while (!usr2_seen)
		pause();
	pthread_sigmask(SIG_BLOCK, NULL, &masked_mask_after);
	locals_seen[2] = local_value;
	tids_after[2] = my_tid();
	return NULL;
}

static void *semmer(void *arg)
{
	(void)arg;
	local_value = 4004;
	tids[3] = my_tid();
	while (sem_wait(&sem) != 0 && errno == EINTR)
		;
	locals_seen[3] = local_value;
	tids_after[3] = my_tid();
	return NULL;
}

int main(void)
{
	pthread_t th[4];
	void *(*fn[4])(void *) = {waiter, sleeper, masked, semmer};
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr2;
	sa.sa_flags = SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR2, &sa, NULL) != 0)
		tf_die("sigaction");
	if (sem_init(&sem, 0, 0) != 0)
		tf_die("sem_init");
	local_value = 5005;
	for (int i = 0; i < 4; i++)
		if (pthread_create(&th[i], NULL, fn[i], NULL) != 0)
			tf_die("pthread_create %d", i);
	for (int i = 0; i < 4; i++)
		while (tids[i] == 0)
			usleep(1000);
	usleep(100 * 1000);
	pid_t before[4];
	memcpy(before, tids, sizeof(before));
	pid_t main_tid = my_tid();

	tf_ready();
	tf_wait_go();

	long count_at_go = sleeper_count;
	usleep(200 * 1000);
	tf_check(sleeper_count > count_at_go, "sleeper stopped counting at %ld", count_at_go);
	tf_check(my_tid() == main_tid, "main thread ID changed from %d to %d", main_tid, my_tid());
	tf_check(getpid() == main_tid, "getpid() %d is not the main thread's ID %d", getpid(), main_tid);
	tf_check(local_value == 5005, "main's thread-local is %ld", local_value);

	/* pthread_kill goes through glibc's cached thread ID. */
	tf_check(pthread_kill(th[2], SIGUSR2) == 0, "pthread_kill failed");
	pthread_mutex_lock(&lock);
	released = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	stop_sleeper = 1;
	sem_post(&sem);
	for (int i = 0; i < 4; i++)
		tf_check(pthread_join(th[i], NULL) == 0, "join of thread %d failed", i);

	const long want[4] = {1001, 2002, 3003, 4004};
	for (int i = 0; i < 4; i++) {
		tf_check(tids_after[i] == before[i], "thread %d ID changed from %d to %d", i, before[i], tids_after[i]);
		tf_check(locals_seen[i] == want[i], "thread %d's thread-local is %ld, expected %ld", i,
			 locals_seen[i], want[i]);
	}
	tf_check(usr2_seen, "SIGUSR2 did not reach the masked thread");
	tf_check(on_altstack == 1, "the masked thread's handler did not run on its altstack (%d)", on_altstack);
	tf_check(sigismember(&masked_mask_after, SIGUSR1) == 1, "the masked thread lost its signal mask");
	return tf_finish();
}
