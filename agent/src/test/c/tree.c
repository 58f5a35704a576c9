/*
 * tree KIND [DIR]: a process with children (and grandchildren) that share state with it, dumped and
 * restored as one tree. Every kind checks, after go, that the children are still its children with
 * the PIDs they had, and then what the kind shares:
 *
 *   pipes       a pipe each way between parent and child, bytes buffered in both at the dump
 *   socketpair  a unix stream socket pair between parent and child, bytes queued both ways
 *   zombie      two children that ended before the dump, unreaped: one exit(42), one killed by
 *               SIGTERM; the parent reaps them after go and sees those statuses, and no SIGCHLD
 *               arrives after the restore (the two were delivered before the dump)
 *   session     a child that called setsid() with a grandchild in its session, a child leading its
 *               own process group with a grandchild in it, and a child left in the parent's group
 *   shm         MAP_SHARED anonymous memory written by the child (half of it never touched by the
 *               parent, half read by it too) and read by the parent; after go each side sees what the
 *               other writes
 *   file        a file in DIR opened before fork: parent and child share its offset
 *   listen      a listening TCP socket (127.0.0.1, an ephemeral port) made before fork: the child
 *               accepts on it after go, the parent connects and gets an answer
 *   private     private anonymous memory (8 MiB) written by the parent before it forks two children,
 *               each of which then writes its own pattern over the second half (copy-on-write): after go
 *               each process finds the first half as the parent wrote it and the second half as it did
 *
 * A child waits for its turn on a control pipe, never on the shared object itself, so that nothing is
 * consumed before the dump; it reports by its exit status (0 = its checks passed).
 */
#include "tftest.h"
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define P2C_BYTES 5000
#define C2P_BYTES 3000
#define SHM_PAGES 16

static uint64_t seed;
static pid_t parent_pid;
static volatile sig_atomic_t sigchld_count;

static void on_sigchld(int sig)
{
	(void)sig;
	sigchld_count++;
}

static unsigned char pattern(uint64_t salt, size_t i)
{
	uint64_t s = seed ^ (salt * 0x9E3779B97F4A7C15ULL) ^ (i / 8);
	return (unsigned char)(tf_next(&s) >> (8 * (i % 8)));
}

static void write_pattern(int fd, uint64_t salt, size_t n)
{
	unsigned char buf[P2C_BYTES];
	for (size_t i = 0; i < n; i++)
		buf[i] = pattern(salt, i);
	tf_write_all(fd, (const char *)buf, n);
}

/* Reads exactly n bytes and checks them against the pattern; 0 if all match. */
static int read_pattern(int fd, uint64_t salt, size_t n)
{
	unsigned char buf[P2C_BYTES];
	if (tf_read_all(fd, buf, n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (buf[i] != pattern(salt, i))
			return (int)i + 1;
	return 0;
}

static int queued(int fd)
{
	int n = -1;
	if (ioctl(fd, FIONREAD, &n) != 0)
		return -1;
	return n;
}

/* Blocks until the parent writes one byte on the control pipe. */
static void await_turn(int ctl)
{
	char c;
	while (read(ctl, &c, 1) != 1)
		if (errno != EINTR)
			_exit(90);
}

static pid_t must_fork(void)
{
	pid_t pid = fork();
	if (pid < 0)
		tf_die("fork");
	return pid;
}

/* The child is still ours, with the same PID, and exits with status 0. */
static void expect_child_passes(pid_t child, const char *what)
{
	int status;
	tf_check(waitpid(child, &status, 0) == child, "%s %d is not our child any more", what, (int)child);
	tf_check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s %d ended with status 0x%x (its checks failed)",
		 what, (int)child, status);
}

static void wait_queued(int fd, int n)
{
	for (int i = 0; i < 5000 && queued(fd) < n; i++)
		usleep(1000);
	if (queued(fd) != n)
		tf_die("the child did not queue its %d bytes", n);
}

static int run_pipes(void)
{
	int p2c[2], c2p[2], ctl[2];
	if (pipe(p2c) || pipe(c2p) || pipe(ctl))
		tf_die("pipe");
	pid_t child = must_fork();
	if (child == 0) {
		close(p2c[1]);
		close(c2p[0]);
		close(ctl[1]);
		pid_t me = getpid();
		write_pattern(c2p[1], 2, C2P_BYTES);
		await_turn(ctl[0]);
		int bad = getpid() != me || getppid() != parent_pid;
		bad |= read_pattern(p2c[0], 1, P2C_BYTES) != 0;
		bad |= queued(p2c[0]) != 0;
		_exit(bad);
	}
	close(p2c[0]);
	close(c2p[1]);
	close(ctl[0]);
	write_pattern(p2c[1], 1, P2C_BYTES);
	wait_queued(c2p[0], C2P_BYTES);

	tf_ready();
	tf_wait_go();

	tf_check(queued(p2c[1]) == P2C_BYTES, "%d bytes buffered for the child, expected %d", queued(p2c[1]),
		 P2C_BYTES);
	tf_check(queued(c2p[0]) == C2P_BYTES, "%d bytes buffered from the child, expected %d", queued(c2p[0]),
		 C2P_BYTES);
	tf_check(read_pattern(c2p[0], 2, C2P_BYTES) == 0, "the bytes the child had written differ");
	tf_write_all(ctl[1], "g", 1);
	expect_child_passes(child, "the pipe child");
	char c;
	tf_check(read(c2p[0], &c, 1) == 0, "the pipe from the child does not end when the child is gone");
	return tf_finish();
}

static int run_socketpair(void)
{
	int sv[2], ctl[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || pipe(ctl))
		tf_die("socketpair");
	pid_t child = must_fork();
	if (child == 0) {
		close(sv[0]);
		close(ctl[1]);
		write_pattern(sv[1], 4, C2P_BYTES);
		await_turn(ctl[0]);
		int bad = getppid() != parent_pid;
		bad |= read_pattern(sv[1], 3, P2C_BYTES) != 0;
		bad |= write(sv[1], "k", 1) != 1;
		_exit(bad);
	}
	close(sv[1]);
	close(ctl[0]);
	write_pattern(sv[0], 3, P2C_BYTES);
	wait_queued(sv[0], C2P_BYTES);

	tf_ready();
	tf_wait_go();

	tf_check(queued(sv[0]) == C2P_BYTES, "%d bytes queued from the child, expected %d", queued(sv[0]), C2P_BYTES);
	tf_check(read_pattern(sv[0], 4, C2P_BYTES) == 0, "the bytes the child had sent differ");
	tf_write_all(ctl[1], "g", 1);
	char c = 0;
	tf_check(read(sv[0], &c, 1) == 1 && c == 'k', "no answer from the child over the socket pair");
	expect_child_passes(child, "the socket child");
	return tf_finish();
}

static int proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return '?';
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

static int run_zombie(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	pid_t exited = must_fork();
	if (exited == 0)
		_exit(42);
	pid_t killed = must_fork();
	if (killed == 0) {
		for (;;)
			pause();
	}
	kill(killed, SIGTERM);
	for (int i = 0; i < 5000 && (proc_state(exited) != 'Z' || proc_state(killed) != 'Z'); i++)
		usleep(1000);
	if (proc_state(exited) != 'Z' || proc_state(killed) != 'Z')
		tf_die("the children did not become zombies");
	for (int i = 0; i < 1000 && sigchld_count < 2; i++)
		usleep(1000);
	int before = sigchld_count;

	tf_ready();
	tf_wait_go();

	tf_check(proc_state(exited) == 'Z', "child %d is not a zombie after the restore (state %c)", (int)exited,
		 proc_state(exited));
	tf_check(proc_state(killed) == 'Z', "child %d is not a zombie after the restore (state %c)", (int)killed,
		 proc_state(killed));
	char comm[64] = {0}, path[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)exited);
	int cfd = open(path, O_RDONLY);
	tf_check(cfd >= 0 && read(cfd, comm, sizeof(comm) - 1) > 0 && strcmp(comm, "tree\n") == 0,
		 "zombie %d is named \"%s\", not tree", (int)exited, comm);
	if (cfd >= 0)
		close(cfd);
	usleep(20000);
	tf_check(sigchld_count == before, "%d SIGCHLD arrived after the restore", sigchld_count - before);
	int status = 0;
	tf_check(waitpid(exited, &status, 0) == exited, "zombie %d could not be reaped", (int)exited);
	tf_check(WIFEXITED(status) && WEXITSTATUS(status) == 42, "zombie %d ended with 0x%x, not exit(42)",
		 (int)exited, status);
	status = 0;
	tf_check(waitpid(killed, &status, 0) == killed, "zombie %d could not be reaped", (int)killed);
	tf_check(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "zombie %d ended with 0x%x, not SIGTERM",
		 (int)killed, status);
	tf_check(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD, "a child is left after reaping both");
	return tf_finish();
}

static int ppid_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	int ppid = -1;
	if (p)
		sscanf(p + 2, "%*c %d", &ppid);
	return ppid;
}

/* A child that forks a grandchild (which sleeps), sends its PID up the pipe, and sleeps. */
static pid_t spawn_with_grandchild(int up, int how)
{
	pid_t child = must_fork();
	if (child != 0)
		return child;
	if (how == 's' && setsid() < 0)
		_exit(80);
	if (how == 'g' && setpgid(0, 0) < 0)
		_exit(81);
	pid_t grandchild = fork();
	if (grandchild == 0) {
		for (;;)
			pause();
	}
	tf_write_all(up, (const char *)&grandchild, sizeof(grandchild));
	int status;
	waitpid(grandchild, &status, 0); /* killed by the parent at the end */
	for (;;)
		pause();
}

static int run_session(void)
{
	int up[2];
	if (pipe(up))
		tf_die("pipe");
	pid_t leader = spawn_with_grandchild(up[1], 's');
	pid_t group = spawn_with_grandchild(up[1], 'g');
	pid_t plain = must_fork();
	if (plain == 0) {
		for (;;)
			pause();
	}
	pid_t g1 = 0, g2 = 0;
	if (read(up[0], &g1, sizeof(g1)) != (ssize_t)sizeof(g1) || read(up[0], &g2, sizeof(g2)) != (ssize_t)sizeof(g2))
		tf_die("read grandchild PIDs");
	/* which grandchild belongs to which child: by parent */
	pid_t in_session = ppid_of(g1) == leader ? g1 : g2;
	pid_t in_group = in_session == g1 ? g2 : g1;
	for (int i = 0; i < 5000 && (getpgid(group) != group || getsid(leader) != leader); i++)
		usleep(1000);
	pid_t my_sid = getsid(0), my_pgid = getpgrp();

	tf_ready();
	tf_wait_go();

	pid_t sid_now = getsid(0), pgid_now = getpgrp();
	tf_check(getsid(leader) == leader && getpgid(leader) == leader, "the setsid child %d: sid %d pgid %d",
		 (int)leader, (int)getsid(leader), (int)getpgid(leader));
	tf_check(getsid(in_session) == leader && getpgid(in_session) == leader && ppid_of(in_session) == leader,
		 "its grandchild %d: sid %d pgid %d parent %d, expected %d", (int)in_session, (int)getsid(in_session),
		 (int)getpgid(in_session), ppid_of(in_session), (int)leader);
	tf_check(getpgid(group) == group && getsid(group) == sid_now, "the group leader %d: pgid %d sid %d",
		 (int)group, (int)getpgid(group), (int)getsid(group));
	tf_check(getpgid(in_group) == group && getsid(in_group) == sid_now && ppid_of(in_group) == group,
		 "its grandchild %d: pgid %d sid %d parent %d", (int)in_group, (int)getpgid(in_group),
		 (int)getsid(in_group), ppid_of(in_group));
	tf_check(getpgid(plain) == pgid_now && getsid(plain) == sid_now, "the plain child %d: pgid %d sid %d, ours %d %d",
		 (int)plain, (int)getpgid(plain), (int)getsid(plain), (int)pgid_now, (int)sid_now);
	tf_check(ppid_of(leader) == getpid() && ppid_of(group) == getpid() && ppid_of(plain) == getpid(),
		 "a child's parent is not this process");
	tf_info("sid %d pgid %d before, %d %d now\n", (int)my_sid, (int)my_pgid, (int)sid_now, (int)pgid_now);
	/* Each child reaps its own grandchild (it waits for it): only then is the child killed, so that no
	 * grandchild is left to another reaper with its PID still taken when this process has exited. */
	kill(in_session, SIGKILL);
	kill(in_group, SIGKILL);
	for (int i = 0; i < 5000 && (kill(in_session, 0) == 0 || kill(in_group, 0) == 0); i++)
		usleep(1000);
	tf_check(kill(in_session, 0) != 0 && kill(in_group, 0) != 0, "a grandchild was not reaped by its parent");
	pid_t kids[] = {leader, group, plain};
	for (int i = 0; i < 3; i++) {
		kill(kids[i], SIGKILL);
		int status;
		tf_check(waitpid(kids[i], &status, 0) == kids[i], "child %d could not be reaped", (int)kids[i]);
	}
	return tf_finish();
}

static int run_shm(void)
{
	size_t len = SHM_PAGES * 4096;
	unsigned char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int ctl[2], done[2];
	if (mem == MAP_FAILED || pipe(ctl) || pipe(done))
		tf_die("mmap/pipe");
	mem[0] = 1; /* the parent touches the first page only */
	pid_t child = must_fork();
	if (child == 0) {
		close(ctl[1]);
		for (size_t i = 4096; i < len; i++)
			mem[i] = pattern(5, i);
		tf_write_all(done[1], "w", 1);
		await_turn(ctl[0]);
		/* the parent wrote its own pattern over the second half since */
		int bad = 0;
		for (size_t i = len / 2; i < len; i++)
			bad |= mem[i] != pattern(6, i);
		mem[0] = 77;
		_exit(bad);
	}
	close(ctl[0]);
	char c;
	if (read(done[0], &c, 1) != 1)
		tf_die("the child did not write its pages");
	/* The first half now populated in both processes: stored once, with the parent's mapping. */
	volatile unsigned char sum = 0;
	for (size_t i = 0; i < len / 2; i += 4096)
		sum += mem[i];

	tf_ready();
	tf_wait_go();

	size_t wrong = 0;
	for (size_t i = 4096; i < len; i++)
		wrong += mem[i] != pattern(5, i);
	tf_check(wrong == 0, "%zu bytes the child wrote into shared memory differ", wrong);
	for (size_t i = len / 2; i < len; i++)
		mem[i] = pattern(6, i);
	tf_write_all(ctl[1], "g", 1);
	expect_child_passes(child, "the shared memory child (it did not see the parent's writes)");
	tf_check(mem[0] == 77, "the child's write after the restore is not seen by the parent (%d)", mem[0]);
	return tf_finish();
}

static int run_file(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/tree-file.txt", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	int ctl[2], done[2];
	if (fd < 0 || pipe(ctl) || pipe(done))
		tf_die("open %s", path);
	tf_write_all(fd, "parent1\n", 8);
	pid_t child = must_fork();
	if (child == 0) {
		close(ctl[1]);
		tf_write_all(fd, "child-1\n", 8);
		tf_write_all(done[1], "w", 1);
		await_turn(ctl[0]);
		int bad = lseek(fd, 0, SEEK_CUR) != 24;
		tf_write_all(fd, "child-2\n", 8);
		_exit(bad);
	}
	char c;
	if (read(done[0], &c, 1) != 1)
		tf_die("the child did not write");

	tf_ready();
	tf_wait_go();

	tf_check(lseek(fd, 0, SEEK_CUR) == 16, "offset %ld, expected 16 (the child's write moves ours)",
		 (long)lseek(fd, 0, SEEK_CUR));
	tf_write_all(fd, "parent2\n", 8);
	tf_write_all(ctl[1], "g", 1);
	expect_child_passes(child, "the file child (the parent's write did not move its offset)");
	tf_check(lseek(fd, 0, SEEK_CUR) == 32, "offset %ld after the child's last write, expected 32",
		 (long)lseek(fd, 0, SEEK_CUR));
	char buf[64] = {0};
	tf_check(pread(fd, buf, 32, 0) == 32 && memcmp(buf, "parent1\nchild-1\nparent2\nchild-2\n", 32) == 0,
		 "the file holds \"%.32s\"", buf);
	return tf_finish();
}

static int run_listen(void)
{
	int ctl[2];
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr;
	socklen_t alen = sizeof(addr);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof(addr)) || listen(l, 8) ||
	    getsockname(l, (struct sockaddr *)&addr, &alen) || pipe(ctl))
		tf_die("listen on 127.0.0.1");
	pid_t child = must_fork();
	if (child == 0) {
		close(ctl[1]);
		await_turn(ctl[0]);
		int a = accept(l, NULL, NULL);
		char c = 0;
		int bad = a < 0 || read(a, &c, 1) != 1 || c != 'q' || write(a, "a", 1) != 1;
		_exit(bad);
	}
	close(ctl[0]);

	tf_ready();
	tf_wait_go();

	tf_write_all(ctl[1], "g", 1);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	char c = 0;
	tf_check(s >= 0 && connect(s, (struct sockaddr *)&addr, sizeof(addr)) == 0, "cannot connect to port %d again",
		 ntohs(addr.sin_port));
	tf_check(write(s, "q", 1) == 1 && read(s, &c, 1) == 1 && c == 'a', "no answer from the child's accept");
	expect_child_passes(child, "the accepting child");
	return tf_finish();
}

#define PRIVATE_BYTES (8UL << 20)

/* The number of bytes of mem[from, to) that differ from pattern salt. */
static size_t pattern_misses(const unsigned char *mem, uint64_t salt, size_t from, size_t to)
{
	size_t wrong = 0;
	for (size_t i = from; i < to; i++)
		wrong += mem[i] != pattern(salt, i);
	return wrong;
}

static int run_private(void)
{
	unsigned char *mem = mmap(NULL, PRIVATE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ctl[2], done[2];
	if (mem == MAP_FAILED || pipe(ctl) || pipe(done))
		tf_die("mmap/pipe");
	for (size_t i = 0; i < PRIVATE_BYTES; i++)
		mem[i] = pattern(7, i);
	pid_t child[2];
	for (int k = 0; k < 2; k++) {
		child[k] = must_fork();
		if (child[k] == 0) {
			close(ctl[1]);
			for (size_t i = PRIVATE_BYTES / 2; i < PRIVATE_BYTES; i++)
				mem[i] = pattern(8 + k, i);
			tf_write_all(done[1], "w", 1);
			await_turn(ctl[0]);
			_exit(pattern_misses(mem, 7, 0, PRIVATE_BYTES / 2) != 0
			      || pattern_misses(mem, 8 + k, PRIVATE_BYTES / 2, PRIVATE_BYTES) != 0);
		}
	}
	close(ctl[0]);
	char c;
	for (int k = 0; k < 2; k++)
		if (read(done[0], &c, 1) != 1)
			tf_die("a child did not write its pages");

	tf_ready();
	tf_wait_go();

	size_t wrong = pattern_misses(mem, 7, 0, PRIVATE_BYTES);
	tf_check(wrong == 0, "%zu bytes of the parent's private memory differ", wrong);
	tf_write_all(ctl[1], "gg", 2);
	expect_child_passes(child[0], "the first child (its private memory differs)");
	expect_child_passes(child[1], "the second child (its private memory differs)");
	return tf_finish();
}

int main(int argc, char **argv)
{
	const char *kind = argc > 1 ? argv[1] : "";
	seed = tf_seed();
	parent_pid = getpid();
	if (strcmp(kind, "pipes") == 0)
		return run_pipes();
	if (strcmp(kind, "socketpair") == 0)
		return run_socketpair();
	if (strcmp(kind, "zombie") == 0)
		return run_zombie();
	if (strcmp(kind, "session") == 0)
		return run_session();
	if (strcmp(kind, "shm") == 0)
		return run_shm();
	if (strcmp(kind, "file") == 0 && argc > 2)
		return run_file(argv[2]);
	if (strcmp(kind, "listen") == 0)
		return run_listen();
	if (strcmp(kind, "private") == 0)
		return run_private();
	tf_die("usage: tree pipes|socketpair|zombie|session|shm|listen|private|file DIR");
}
