/*
 * fifo DIR: named pipes (mkfifo) in DIR, with bytes buffered in them at the dump.
 *
 * Before READY:
 *   DIR/own    opened by the process both ways: write end at fd 5 (O_WRONLY, FD_CLOEXEC), read end at
 *              fd 6 (O_RDONLY|O_NONBLOCK); capacity set to 128 KiB; 70000 bytes of a per-run pattern
 *              written and not read. The write-only fd comes first, so the dump has to read the bytes
 *              through something other than that fd.
 *   DIR/shared opened for reading by the parent at fd 7 (blocking), then, separately, for writing by a
 *              child, which writes 3000 bytes into it and waits for its turn on a control pipe.
 * After go:
 *   own        same FIFO (device and inode of DIR/own), same capacity, flags and close-on-exec; exactly
 *              the 70000 bytes come out in order, then EAGAIN; a new write comes out; once fd 5 is
 *              closed, the read end sees end of file (no other writer was left behind by the restore).
 *   shared     the parent reads the child's 3000 bytes in order; the child, given its turn, writes
 *              more, which the parent reads; once the child has exited, the parent sees end of file.
 */
#include "tftest.h"
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define OWN_BYTES 70000
#define CAPACITY (128 * 1024)
#define CHILD_BYTES 3000

static uint64_t seed;

static unsigned char pattern(uint64_t salt, size_t i)
{
	uint64_t s = seed ^ (salt * 0x9E3779B97F4A7C15ULL) ^ (i / 8);
	return (unsigned char)(tf_next(&s) >> (8 * (i % 8)));
}

static void write_pattern(int fd, uint64_t salt, size_t n)
{
	static unsigned char buf[OWN_BYTES];
	for (size_t i = 0; i < n; i++)
		buf[i] = pattern(salt, i);
	tf_write_all(fd, (const char *)buf, n);
}

static void must_dup_to(int fd, int to)
{
	if (dup2(fd, to) != to)
		tf_die("dup2 to %d", to);
	close(fd);
}

static int same_inode(int fd, const char *path)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && S_ISFIFO(a.st_mode) && a.st_dev == b.st_dev
	       && a.st_ino == b.st_ino;
}

static void check_own(const char *own)
{
	tf_check(same_inode(5, own) && same_inode(6, own), "fds 5 and 6 are not on the FIFO %s", own);
	tf_check(fcntl(6, F_GETPIPE_SZ) == CAPACITY, "FIFO capacity is %d, was %d", fcntl(6, F_GETPIPE_SZ), CAPACITY);
	int fl = fcntl(5, F_GETFL);
	tf_check((fl & O_ACCMODE) == O_WRONLY && !(fl & O_NONBLOCK), "write fd flags 0%o, expected O_WRONLY", fl);
	fl = fcntl(6, F_GETFL);
	tf_check((fl & O_ACCMODE) == O_RDONLY && (fl & O_NONBLOCK), "read fd flags 0%o, expected O_RDONLY|O_NONBLOCK",
		 fl);
	tf_check(fcntl(5, F_GETFD) == FD_CLOEXEC, "write fd flags %d, expected FD_CLOEXEC", fcntl(5, F_GETFD));
	tf_check(fcntl(6, F_GETFD) == 0, "read fd flags %d, expected 0", fcntl(6, F_GETFD));

	static unsigned char got[OWN_BYTES + 16];
	size_t total = 0;
	for (;;) {
		ssize_t n = read(6, got + total, sizeof(got) - total);
		if (n <= 0) {
			tf_check(n < 0 && errno == EAGAIN, "read from %s returned %zd (errno %d) before EAGAIN", own, n,
				 errno);
			break;
		}
		total += (size_t)n;
	}
	tf_check(total == OWN_BYTES, "%zu bytes were in %s, expected %d", total, own, OWN_BYTES);
	size_t bad = 0;
	for (size_t i = 0; i < total && i < OWN_BYTES && !bad; i++)
		if (got[i] != pattern(1, i))
			bad = i + 1;
	tf_check(bad == 0, "byte %zu of %s differs from what was written", bad - 1, own);

	char buf[8] = { 0 };
	tf_check(write(5, "again", 5) == 5 && read(6, buf, sizeof(buf)) == 5 && strcmp(buf, "again") == 0,
		 "%s does not carry new data", own);
	close(5);
	ssize_t n = read(6, buf, sizeof(buf));
	tf_check(n == 0, "read from %s after its only writer closed returned %zd (errno %d), not end of file", own, n,
		 errno);
}

/* Reads exactly n bytes of the pattern salt from fd; the index of the first wrong byte + 1, -1 if short. */
static long read_pattern(int fd, uint64_t salt, size_t n)
{
	static unsigned char buf[CHILD_BYTES];
	if (tf_read_all(fd, buf, n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (buf[i] != pattern(salt, i))
			return (long)i + 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		tf_die("usage: fifo DIR");
	seed = tf_seed();
	char own[4096], shared[4096];
	snprintf(own, sizeof(own), "%s/own", argv[1]);
	snprintf(shared, sizeof(shared), "%s/shared", argv[1]);
	if (mkfifo(own, 0600) != 0 || mkfifo(shared, 0600) != 0)
		tf_die("mkfifo in %s", argv[1]);

	/* A non-blocking read open succeeds with no writer; the write open then finds a reader. */
	int r = open(own, O_RDONLY | O_NONBLOCK);
	int w = r < 0 ? -1 : open(own, O_WRONLY);
	if (r < 0 || w < 0)
		tf_die("open %s", own);
	must_dup_to(w, 5);
	must_dup_to(r, 6);
	if (fcntl(5, F_SETFD, FD_CLOEXEC) != 0 || fcntl(5, F_SETPIPE_SZ, CAPACITY) < CAPACITY)
		tf_die("fcntl on %s", own);
	write_pattern(5, 1, OWN_BYTES);

	int reader = open(shared, O_RDONLY | O_NONBLOCK);
	if (reader < 0)
		tf_die("open %s", shared);
	must_dup_to(reader, 7);
	if (fcntl(7, F_SETFL, 0) != 0)
		tf_die("fcntl on %s", shared);
	int ctl[2], written[2];
	if (pipe(ctl) || pipe(written))
		tf_die("pipe");
	pid_t child = fork();
	if (child < 0)
		tf_die("fork");
	if (child == 0) {
		close(ctl[1]);
		close(written[0]);
		for (int fd = 5; fd <= 7; fd++)
			close(fd);
		int out = open(shared, O_WRONLY);
		if (out < 0)
			_exit(10);
		write_pattern(out, 2, CHILD_BYTES);
		close(written[1]);
		char c;
		while (read(ctl[0], &c, 1) != 1)
			if (errno != EINTR)
				_exit(11);
		tf_write_all(out, "more", 4);
		_exit(0);
	}
	close(ctl[0]);
	close(written[1]);
	char c;
	if (read(written[0], &c, 1) != 0)
		tf_die("the child did not write into %s", shared);
	close(written[0]);
	int queued = -1;
	if (ioctl(7, FIONREAD, &queued) != 0 || queued != CHILD_BYTES)
		tf_die("%d bytes queued in %s, expected %d", queued, shared, CHILD_BYTES);

	tf_ready();
	tf_wait_go();

	check_own(own);

	tf_check(same_inode(7, shared), "fd 7 is not on the FIFO %s", shared);
	int fl = fcntl(7, F_GETFL);
	tf_check((fl & O_ACCMODE) == O_RDONLY && !(fl & O_NONBLOCK), "fd 7 flags 0%o, expected O_RDONLY", fl);
	long bad = read_pattern(7, 2, CHILD_BYTES);
	tf_check(bad == 0, "the child's bytes in %s: %s %ld", shared, bad < 0 ? "short" : "wrong at byte", bad - 1);
	tf_write_all(ctl[1], "g", 1);
	char buf[8] = { 0 };
	size_t got = 0;
	while (got < 4) {
		ssize_t n = read(7, buf + got, 4 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	tf_check(got == 4 && memcmp(buf, "more", 4) == 0, "the child's new bytes did not come through %s", shared);
	int status;
	tf_check(waitpid(child, &status, 0) == child, "child %d is not our child any more", (int)child);
	tf_check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child ended with status 0x%x", status);
	ssize_t n = read(7, buf, sizeof(buf));
	tf_check(n == 0, "read from %s after the child exited returned %zd (errno %d), not end of file", shared, n,
		 errno);
	return tf_finish();
}
