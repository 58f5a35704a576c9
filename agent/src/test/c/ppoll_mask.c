/*
 * ppoll_mask: a system call that swaps the signal mask for its duration (ppoll, pselect, epoll_pwait,
 * sigsuspend; bash's sleep uses pselect) is dumped while it waits; afterwards the program's own mask
 * must be back, not the temporary one.
 *
 * While a process waits in ppoll(..., &tmpmask), the kernel's blocked mask is the temporary one and the
 * real one is saved aside, to be put back on the way out. An engine that reads the mask at that moment
 * and restores it as the process's mask leaves the temporary mask in place forever.
 *
 * Before READY: blocked {SIGHUP}. After READY: ppoll(NULL, 0, 3 s, {SIGUSR2}) (the harness dumps during
 * it), must return 0 (timeout: -ERESTARTNOHAND is restartable) after >= 3 s; then the mask must be
 * exactly {SIGHUP}; then the go line.
 */
#include "tftest.h"
#include <poll.h>
#include <signal.h>
#include <time.h>

int main(void)
{
	sigset_t real, tmp, now;
	sigemptyset(&real);
	sigaddset(&real, SIGHUP);
	if (sigprocmask(SIG_SETMASK, &real, NULL) != 0)
		tf_die("sigprocmask");
	sigemptyset(&tmp);
	sigaddset(&tmp, SIGUSR2);

	struct timespec t0, t1, timeout = { 3, 0 };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tf_ready();
	int r = ppoll(NULL, 0, &timeout, &tmp);
	int e = errno;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double slept = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	tf_check(r == 0, "ppoll returned %d (errno %d %s), expected 0 (timeout)", r, r < 0 ? e : 0, r < 0 ? strerror(e) : "");
	tf_check(slept >= 3.0, "ppoll returned after %.3f s, before its 3 s timeout", slept);

	sigprocmask(SIG_BLOCK, NULL, &now);
	for (int s = 1; s < 65; s++)
		if (sigismember(&now, s) != sigismember(&real, s))
			tf_check(0, "after ppoll signal %d is %s, expected %s", s, sigismember(&now, s) ? "blocked" : "not blocked",
				 sigismember(&real, s) ? "blocked" : "not blocked");

	tf_wait_go();
	return tf_finish();
}
