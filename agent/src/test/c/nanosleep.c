/*
 * nanosleep rel|abs [SECONDS]: a sleep in progress during the dump goes on after the restore.
 *
 * After READY the program sleeps SECONDS (default 3) in ONE clock_nanosleep(CLOCK_MONOTONIC) call, then
 * reads the go line. The harness dumps it during the sleep.
 *
 * What is correct (the kernel's restart rules, as CRIU applies them):
 *  - abs (TIMER_ABSTIME): the interrupted call shows -ERESTARTNOHAND, which a restore can restart
 *    as it was. So the call must return 0, not before the deadline. EINTR is a failure: the program
 *    has no signal handler and nothing may interrupt it.
 *  - rel (relative, with a remainder pointer): the interrupted call shows -ERESTART_RESTARTBLOCK, whose
 *    state (the kernel's restart block) cannot move to a new process. The call may then either return
 *    0 not before SECONDS (restarted, the best result) or fail with EINTR and a remainder in
 *    [0, SECONDS] consistent with the time already slept, as if a signal handler had run; a correct
 *    program then sleeps the remainder (glibc's sleep, coreutils, bash and Python all do). Any other
 *    result (another error, a remainder out of range, waking early) is a failure.
 * In both cases the whole sleep must last at least SECONDS of CLOCK_MONOTONIC (the clock goes on
 * while the process is dumped, so downtime counts) and less than SECONDS + 120 s.
 *
 * With TF_EXPECT_RESTORE=1 in the environment (the harness's dump-and-restore runs) the program also
 * checks that it really was restored during the sleep (its start time in /proc/self/stat changed):
 * otherwise the dump came too late and the test proved nothing.
 */
#include "tftest.h"
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double secs(const struct timespec *ts)
{
	return (double)ts->tv_sec + (double)ts->tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[1], "rel") != 0 && strcmp(argv[1], "abs") != 0))
		tf_die("usage: nanosleep rel|abs [SECONDS]");
	int absolute = strcmp(argv[1], "abs") == 0;
	long seconds = argc > 2 ? strtol(argv[2], NULL, 10) : 3;
	const char *expect = getenv("TF_EXPECT_RESTORE");
	int expect_restore = expect && strcmp(expect, "1") == 0;
	unsigned long long start0 = tf_starttime();

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tf_ready();

	int r;
	double slept;
	if (absolute) {
		struct timespec deadline = { t0.tv_sec + seconds, t0.tv_nsec };
		r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);
		slept = now() - secs(&t0);
		tf_check(r == 0, "absolute clock_nanosleep returned %d (%s), expected 0", r, strerror(r));
		tf_info("absolute sleep returned %d after %.3f s\n", r, slept);
	} else {
		struct timespec req = { seconds, 0 }, rem = { -1, -1 };
		r = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem);
		slept = now() - secs(&t0);
		if (r == 0) {
			tf_info("relative sleep returned 0 after %.3f s\n", slept);
		} else if (r == EINTR) {
			tf_info("relative sleep returned EINTR after %.3f s with %.3f s remaining\n", slept, secs(&rem));
			tf_check(rem.tv_sec >= 0 && rem.tv_nsec >= 0 && rem.tv_nsec < 1000000000L && secs(&rem) <= (double)seconds,
				 "EINTR with a remainder out of range: %ld s %ld ns", (long)rem.tv_sec, rem.tv_nsec);
			tf_check(slept + secs(&rem) >= (double)seconds - 0.001,
				 "slept %.3f s and %.3f s remain: less than the %ld s asked", slept, secs(&rem), seconds);
			/* What a correct program does: sleep the remainder. */
			while (secs(&rem) > 0 && (r = clock_nanosleep(CLOCK_MONOTONIC, 0, &rem, &rem)) == EINTR)
				;
			tf_check(r == 0, "sleeping the remainder returned %d (%s)", r, strerror(r));
			slept = now() - secs(&t0);
		} else {
			tf_check(0, "relative clock_nanosleep returned %d (%s)", r, strerror(r));
		}
	}
	tf_check(slept >= (double)seconds, "woke up after %.3f s, before the %ld s asked", slept, seconds);
	tf_check(slept < (double)seconds + 120, "slept %.3f s, far more than the %ld s asked", slept, seconds);
	unsigned long long start1 = tf_starttime();
	if (expect_restore)
		tf_check(start1 != start0, "TF_EXPECT_RESTORE is set but the sleep was not interrupted by a dump and restore");

	tf_wait_go();
	return tf_finish();
}
