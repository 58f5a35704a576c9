/*
 * itimer: an interval timer armed before the dump fires once, at the right time, after the restore.
 *
 * Before READY: setitimer(ITIMER_REAL) for 5 s (one shot) with a SIGALRM handler that records the
 * CLOCK_MONOTONIC time it ran at. After go: waits until the timer must have fired (5 s after it was
 * armed, or 5 s after go if the restore took longer than that), then checks that the handler ran
 * exactly once and not before the 5 s. A restore that drops the timer never fires it.
 */
#include "tftest.h"
#include <signal.h>
#include <sys/time.h>
#include <time.h>

#define DELAY 5

static volatile sig_atomic_t fired;
static struct timespec fired_at;

static void on_alarm(int sig)
{
	(void)sig;
	if (fired++ == 0)
		clock_gettime(CLOCK_MONOTONIC, &fired_at);
}

static double since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART; /* the read of the go line goes on if the timer fires during it */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) != 0)
		tf_die("sigaction");
	struct timespec armed;
	clock_gettime(CLOCK_MONOTONIC, &armed);
	struct itimerval it = { { 0, 0 }, { DELAY, 0 } };
	if (setitimer(ITIMER_REAL, &it, NULL) != 0)
		tf_die("setitimer");

	tf_ready();
	tf_wait_go();

	struct itimerval left;
	getitimer(ITIMER_REAL, &left);
	double remaining = (double)left.it_value.tv_sec + (double)left.it_value.tv_usec / 1e6;
	tf_info("itimer: after go %.3f s since armed, fired %d, %.3f s left on the timer\n", since(&armed), (int)fired, remaining);
	tf_check(fired || remaining > 0, "the timer is gone: not fired and nothing left on it (%.3f s since armed)", since(&armed));

	double wait_until = since(&armed) > DELAY ? since(&armed) + DELAY : DELAY + 1.0;
	while (!fired && since(&armed) < wait_until) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	struct timespec ts = { 0, 300 * 1000 * 1000 }; /* time for a wrong second shot */
	nanosleep(&ts, NULL);
	tf_check(fired == 1, "SIGALRM handler ran %d times, expected once", (int)fired);
	if (fired) {
		double at = (double)(fired_at.tv_sec - armed.tv_sec) + (double)(fired_at.tv_nsec - armed.tv_nsec) / 1e9;
		tf_check(at >= DELAY - 0.01, "the timer fired %.3f s after it was armed, before its %d s", at, DELAY);
	}
	return tf_finish();
}
