/*
 * refused KIND: a process in a state the engine once refused or still refuses. "socket" must be
 * refused (exit 5) and left exactly as it was: running, untraced, intact; the two child kinds were
 * refused before process trees were supported and are now dumped and restored with their child.
 *
 *   child         a child process forked by the main thread
 *   thread-child  a child process forked by a second thread (listed in that thread's
 *                 /proc/PID/task/TID/children, not the main thread's)
 *   socket        a netlink socket (NETLINK_ROUTE) at fd 3 (TCP, UDP and unix sockets are supported;
 *                 other families not yet)
 *
 * After go the program checks that its state is intact (the child is alive, is its child and can be
 * reaped; the socket still answers) and prints PASS.
 */
#include "tftest.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stddef.h>
#include <sys/wait.h>

static pid_t child;
static int netlink = -1;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int forked, quit;

static pid_t fork_child(void)
{
	pid_t pid = fork();
	if (pid < 0)
		tf_die("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
		for (;;)
			pause();
	}
	return pid;
}

/* Forks the child from this (second) thread, then waits until told to quit: the thread must stay
 * alive, or the child would be reparented. */
static void *forker(void *arg)
{
	(void)arg;
	pid_t pid = fork_child();
	pthread_mutex_lock(&lock);
	child = pid;
	forked = 1;
	pthread_cond_broadcast(&cond);
	while (!quit)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void check_child(void)
{
	tf_check(kill(child, 0) == 0, "child %d is gone", (int)child);
	int status;
	tf_check(waitpid(child, &status, WNOHANG) == 0, "child %d is not a running child of ours", (int)child);
	kill(child, SIGKILL);
	tf_check(waitpid(child, &status, 0) == child && WIFSIGNALED(status), "child %d could not be reaped", (int)child);
}

int main(int argc, char **argv)
{
	const char *kind = argc > 1 ? argv[1] : "";
	pthread_t t;
	if (strcmp(kind, "child") == 0) {
		child = fork_child();
	} else if (strcmp(kind, "thread-child") == 0) {
		if (pthread_create(&t, NULL, forker, NULL) != 0)
			tf_die("pthread_create");
		pthread_mutex_lock(&lock);
		while (!forked)
			pthread_cond_wait(&cond, &lock);
		pthread_mutex_unlock(&lock);
	} else if (strcmp(kind, "socket") == 0) {
		netlink = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
		struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
		if (netlink < 0 || bind(netlink, (struct sockaddr *)&nl, sizeof(nl)) != 0)
			tf_die("netlink socket");
	} else {
		tf_die("usage: refused child|thread-child|socket");
	}

	tf_ready();
	tf_wait_go();

	if (strcmp(kind, "child") == 0) {
		check_child();
	} else if (strcmp(kind, "thread-child") == 0) {
		check_child();
		pthread_mutex_lock(&lock);
		quit = 1;
		pthread_cond_broadcast(&cond);
		pthread_mutex_unlock(&lock);
		tf_check(pthread_join(t, NULL) == 0, "join of the forking thread failed");
	} else {
		/* An RTM_GETLINK dump request: the kernel must still answer on the socket. */
		struct {
			struct nlmsghdr h;
			struct rtgenmsg g;
		} req = {.h = {.nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			       .nlmsg_seq = 1},
			 .g = {.rtgen_family = AF_UNSPEC}};
		char reply[8192];
		tf_check(send(netlink, &req, sizeof(req), 0) == (ssize_t)sizeof(req) && recv(netlink, reply, sizeof(reply), 0) > 0,
			 "the netlink socket no longer answers");
	}
	return tf_finish();
}
