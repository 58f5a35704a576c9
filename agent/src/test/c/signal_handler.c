/*
 * signal_handler: signal dispositions, the blocked mask, pending signals and the alternate signal
 * stack survive a dump and restore.
 *
 * Before READY:
 *   SIGUSR1: SA_SIGINFO|SA_ONSTACK handler with SIGTERM in its sa_mask
 *   SIGUSR2: ignored
 *   SIGINT, SIGQUIT: default (a vessel that ignores them, as a shell's background job does, must not
 *            pass that on)
 *   SIGTRAP: a handler (the restorer's single steps and breakpoints raise SIGTRAP in the vessel; the
 *            kernel resets the disposition of a forced SIGTRAP that is blocked or ignored)
 *   blocked: SIGHUP and SIGQUIT
 *   pending: SIGHUP sent with kill() (process-wide), SIGQUIT with raise() (this thread only)
 *   a 64 KiB sigaltstack
 * After go: every sigaction and the mask are what they were, both signals are still pending; then
 * raise(SIGUSR1) must run the handler on the alternate stack, with SIGUSR1 and SIGTERM blocked and the
 * right siginfo; raise(SIGUSR2) must do nothing; unblocking SIGHUP and SIGQUIT (now with a handler)
 * must deliver each exactly once.
 */
#include "tftest.h"
#include <signal.h>
#include <sys/syscall.h>

#define ALTSTACK_SIZE (64 * 1024)

static char altstack[ALTSTACK_SIZE] __attribute__((aligned(16)));
static struct sigaction before_act[6]; /* SIGUSR1, SIGUSR2, SIGHUP, SIGTRAP, SIGINT, SIGQUIT */
static sigset_t before_mask;
static stack_t before_ss;

static volatile sig_atomic_t usr1_count, usr1_on_altstack, usr1_mask_ok, usr1_info_ok;
static volatile sig_atomic_t hup_count, quit_count, trap_count;

static void on_usr1(int sig, siginfo_t *info, void *uctx)
{
	(void)uctx;
	char local;
	usr1_count++;
	usr1_on_altstack = &local >= altstack && &local < altstack + ALTSTACK_SIZE;
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	usr1_mask_ok = sigismember(&cur, SIGUSR1) && sigismember(&cur, SIGTERM) && sigismember(&cur, SIGHUP);
	usr1_info_ok = sig == SIGUSR1 && info->si_signo == SIGUSR1 && info->si_code == SI_TKILL &&
		       info->si_pid == getpid();
}

static void on_other(int sig)
{
	if (sig == SIGHUP)
		hup_count++;
	if (sig == SIGQUIT)
		quit_count++;
	if (sig == SIGTRAP)
		trap_count++;
}

static int same_sigset(const sigset_t *a, const sigset_t *b)
{
	for (int s = 1; s < 65; s++)
		if (sigismember(a, s) != sigismember(b, s))
			return 0;
	return 1;
}

static void check_action(int sig, const struct sigaction *want, const char *name)
{
	struct sigaction now;
	if (sigaction(sig, NULL, &now) != 0) {
		tf_check(0, "sigaction(%s) failed", name);
		return;
	}
	tf_check(now.sa_sigaction == want->sa_sigaction, "%s handler is %p, expected %p", name,
		 (void *)now.sa_sigaction, (void *)want->sa_sigaction);
	tf_check(now.sa_flags == want->sa_flags, "%s sa_flags 0x%x, expected 0x%x", name, now.sa_flags, want->sa_flags);
	tf_check(now.sa_restorer == want->sa_restorer, "%s sa_restorer %p, expected %p", name,
		 (void *)now.sa_restorer, (void *)want->sa_restorer);
	tf_check(same_sigset(&now.sa_mask, &want->sa_mask), "%s sa_mask differs", name);
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGTERM);
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		tf_die("sigaction SIGUSR1");
	if (signal(SIGUSR2, SIG_IGN) == SIG_ERR)
		tf_die("signal SIGUSR2");
	if (signal(SIGTRAP, on_other) == SIG_ERR)
		tf_die("signal SIGTRAP");
	stack_t ss = { .ss_sp = altstack, .ss_size = ALTSTACK_SIZE, .ss_flags = 0 };
	if (sigaltstack(&ss, NULL) != 0)
		tf_die("sigaltstack");
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &block, NULL) != 0)
		tf_die("sigprocmask");
	if (kill(getpid(), SIGHUP) != 0 || raise(SIGQUIT) != 0)
		tf_die("sending the pending signals");

	sigaction(SIGUSR1, NULL, &before_act[0]);
	sigaction(SIGUSR2, NULL, &before_act[1]);
	sigaction(SIGHUP, NULL, &before_act[2]);
	sigaction(SIGTRAP, NULL, &before_act[3]);
	sigaction(SIGINT, NULL, &before_act[4]);
	sigaction(SIGQUIT, NULL, &before_act[5]);
	sigprocmask(SIG_BLOCK, NULL, &before_mask);
	sigaltstack(NULL, &before_ss);

	tf_ready();
	tf_wait_go();

	check_action(SIGUSR1, &before_act[0], "SIGUSR1");
	check_action(SIGUSR2, &before_act[1], "SIGUSR2");
	check_action(SIGHUP, &before_act[2], "SIGHUP");
	check_action(SIGTRAP, &before_act[3], "SIGTRAP");
	check_action(SIGINT, &before_act[4], "SIGINT");
	check_action(SIGQUIT, &before_act[5], "SIGQUIT");
	sigset_t mask;
	sigprocmask(SIG_BLOCK, NULL, &mask);
	tf_check(same_sigset(&mask, &before_mask), "the blocked signal mask differs");
	stack_t now_ss;
	sigaltstack(NULL, &now_ss);
	tf_check(now_ss.ss_sp == before_ss.ss_sp && now_ss.ss_size == before_ss.ss_size &&
		 now_ss.ss_flags == before_ss.ss_flags, "sigaltstack is %p+%zu flags %d, expected %p+%zu flags %d",
		 now_ss.ss_sp, now_ss.ss_size, now_ss.ss_flags, before_ss.ss_sp, before_ss.ss_size, before_ss.ss_flags);
	sigset_t pending;
	sigpending(&pending);
	tf_check(sigismember(&pending, SIGHUP), "SIGHUP (sent with kill) is no longer pending");
	tf_check(sigismember(&pending, SIGQUIT), "SIGQUIT (sent with raise) is no longer pending");
	for (int s = 1; s < 65; s++)
		if (s != SIGHUP && s != SIGQUIT && sigismember(&pending, s))
			tf_check(0, "signal %d is pending, it was not", s);

	raise(SIGUSR1);
	tf_check(usr1_count == 1, "SIGUSR1 handler ran %d times", (int)usr1_count);
	tf_check(usr1_on_altstack, "SIGUSR1 handler did not run on the alternate stack");
	tf_check(usr1_mask_ok, "SIGUSR1 handler ran without SIGUSR1, SIGTERM and SIGHUP blocked");
	tf_check(usr1_info_ok, "SIGUSR1 handler got a wrong siginfo");
	sigprocmask(SIG_BLOCK, NULL, &mask);
	tf_check(same_sigset(&mask, &before_mask), "the mask differs after the handler returned");

	raise(SIGUSR2); /* ignored: must not kill */
	raise(SIGTRAP);
	tf_check(trap_count == 1, "SIGTRAP handler ran %d times", (int)trap_count);

	signal(SIGHUP, on_other);
	signal(SIGQUIT, on_other);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	tf_check(hup_count == 1, "SIGHUP delivered %d times after unblocking, expected once", (int)hup_count);
	tf_check(quit_count == 1, "SIGQUIT delivered %d times after unblocking, expected once", (int)quit_count);
	return tf_finish();
}
