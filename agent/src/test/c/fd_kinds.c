/*
 * fd_kinds: descriptors that are not files keep their state across a dump and restore.
 *
 *   a pipe whose both ends the process holds, with "hello pipe" buffered in it (read end O_NONBLOCK);
 *   an eventfd with count 5, and one in semaphore mode with count 2;
 *   a timerfd armed for 30 s with a 1 s interval, and one that expired once, unread (next in an hour);
 *   a signalfd for SIGUSR1, with SIGUSR1 blocked and pending;
 *   an epoll watching the eventfd (data 0x1234) and the pipe's read end (data 77), edge-triggered.
 * After go each is read back and checked.
 */
#include "tftest.h"
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <sys/epoll.h>
#include <signal.h>
#include <fcntl.h>
#include <time.h>

int main(void)
{
	int p[2];
	if (pipe2(p, 0) != 0)
		tf_die("pipe2");
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	tf_write_all(p[1], "hello pipe", 10);

	int ev = eventfd(5, EFD_NONBLOCK);
	int sem = eventfd(2, EFD_SEMAPHORE);
	int tf = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	struct itimerspec its = {{1, 0}, {30, 0}};
	if (timerfd_settime(tf, 0, &its, NULL) != 0)
		tf_die("timerfd_settime");
	int expired = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	struct itimerspec once = {{3600, 0}, {0, 10 * 1000 * 1000}};
	timerfd_settime(expired, 0, &once, NULL);
	usleep(30 * 1000);

	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigprocmask(SIG_BLOCK, &m, NULL);
	int sfd = signalfd(-1, &m, SFD_NONBLOCK);
	kill(getpid(), SIGUSR1);

	int ep = epoll_create1(0);
	struct epoll_event e1 = {.events = EPOLLIN | EPOLLET, .data.u64 = 0x1234};
	struct epoll_event e2 = {.events = EPOLLIN, .data.u64 = 77};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e1) != 0 || epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e2) != 0)
		tf_die("epoll_ctl");

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tf_ready();
	tf_wait_go();

	/* epoll first, before anything is read: both registrations, with their data. */
	struct epoll_event got[4];
	int n = epoll_wait(ep, got, 4, 1000);
	int seen_ev = 0, seen_pipe = 0;
	for (int i = 0; i < n; i++) {
		if (got[i].data.u64 == 0x1234)
			seen_ev = 1;
		if (got[i].data.u64 == 77)
			seen_pipe = 1;
	}
	tf_check(n == 2 && seen_ev && seen_pipe, "epoll_wait gave %d events (eventfd %d, pipe %d)", n, seen_ev, seen_pipe);

	char buf[64] = {0};
	ssize_t r = read(p[0], buf, sizeof(buf));
	tf_check(r == 10 && memcmp(buf, "hello pipe", 10) == 0, "pipe held %zd bytes: '%.*s'", r, (int)(r > 0 ? r : 0), buf);
	tf_check((fcntl(p[0], F_GETFL) & O_NONBLOCK) != 0, "the pipe's read end lost O_NONBLOCK");
	tf_check((fcntl(p[1], F_GETFL) & O_ACCMODE) == O_WRONLY, "the pipe's write end is not write-only");
	r = read(p[0], buf, sizeof(buf));
	tf_check(r < 0 && errno == EAGAIN, "the pipe held more than it should (%zd)", r);

	uint64_t v = 0;
	tf_check(read(ev, &v, 8) == 8 && v == 5, "eventfd count is %llu, expected 5", (unsigned long long)v);
	tf_check((fcntl(ev, F_GETFL) & O_NONBLOCK) != 0, "the eventfd lost O_NONBLOCK");
	v = 0;
	tf_check(read(sem, &v, 8) == 8 && v == 1, "semaphore eventfd read %llu, expected 1", (unsigned long long)v);
	tf_check(read(sem, &v, 8) == 8 && v == 1, "semaphore eventfd second read %llu", (unsigned long long)v);

	struct itimerspec cur;
	timerfd_gettime(tf, &cur);
	tf_check(cur.it_interval.tv_sec == 1 && cur.it_interval.tv_nsec == 0, "timer interval is %ld.%09ld",
		 (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);
	tf_check(cur.it_value.tv_sec > 0 && cur.it_value.tv_sec < 30, "timer has %ld s left", (long)cur.it_value.tv_sec);
	uint64_t ticks = 0;
	tf_check(read(expired, &ticks, 8) == 8 && ticks == 1, "the expired timer reads %llu ticks, expected 1",
		 (unsigned long long)ticks);

	struct signalfd_siginfo si;
	r = read(sfd, &si, sizeof(si));
	tf_check(r == sizeof(si) && si.ssi_signo == SIGUSR1, "signalfd read %zd bytes, signal %u", r, r > 0 ? si.ssi_signo : 0);
	return tf_finish();
}
