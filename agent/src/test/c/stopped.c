/*
 * stopped [N]: a process dumped while stopped (SIGSTOP) is restored stopped, and nothing extra
 * happens to it.
 *
 * Keeps a counter in memory (incremented 1000 times before READY) and counts SIGCONT deliveries with
 * a handler (SA_RESTART, so the read of the go line just goes on). The harness stops it after READY,
 * dumps it, restores it with --detach, sees it stopped (state T), sends one SIGCONT and writes go.
 * The program expects exactly N SIGCONT deliveries (default 1): a SIGCONT the engine sent for its own
 * purposes must not reach the program.
 */
#include "tftest.h"
#include <signal.h>

static volatile long counter;
static volatile sig_atomic_t conts;

static void on_cont(int sig)
{
	(void)sig;
	conts++;
}

int main(int argc, char **argv)
{
	long want_conts = argc > 1 ? strtol(argv[1], NULL, 10) : 1;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_cont;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGCONT, &sa, NULL) != 0)
		tf_die("sigaction SIGCONT");
	for (int i = 0; i < 1000; i++)
		counter++;

	tf_ready();
	tf_wait_go();

	tf_check(counter == 1000, "counter is %ld, expected 1000", (long)counter);
	tf_check(conts == want_conts, "SIGCONT handler ran %d times, expected %ld", (int)conts, want_conts);
	return tf_finish();
}
