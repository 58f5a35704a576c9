/*
 * pipe_inside: a pipe with both ends in the process, holding bytes written but not yet read.
 *
 * Before READY: pipe2 at fds 5 (read end, O_NONBLOCK) and 6 (write end, FD_CLOEXEC), capacity set to
 * 128 KiB (F_SETPIPE_SZ), 70000 bytes of a per-run pattern written and not read.
 * After go: the capacity and flags are the same; exactly those 70000 bytes come out, in order, then
 * the pipe is empty (EAGAIN); a new write comes out of the read end.
 */
#include "tftest.h"

#define IN_FLIGHT 70000
#define CAPACITY (128 * 1024)

static unsigned char pattern[IN_FLIGHT];

int main(void)
{
	uint64_t s = tf_seed();
	for (size_t i = 0; i < IN_FLIGHT; i++)
		pattern[i] = (unsigned char)tf_next(&s);
	int p[2];
	if (pipe2(p, O_NONBLOCK) != 0 || dup2(p[0], 5) != 5 || dup2(p[1], 6) != 6)
		tf_die("pipe");
	close(p[0]);
	close(p[1]);
	if (fcntl(6, F_SETFL, 0) != 0 || fcntl(6, F_SETFD, FD_CLOEXEC) != 0)
		tf_die("fcntl");
	if (fcntl(5, F_SETPIPE_SZ, CAPACITY) < CAPACITY)
		tf_die("F_SETPIPE_SZ");
	for (size_t done = 0; done < IN_FLIGHT;) {
		ssize_t n = write(6, pattern + done, IN_FLIGHT - done);
		if (n <= 0)
			tf_die("write into the pipe");
		done += (size_t)n;
	}

	tf_ready();
	tf_wait_go();

	tf_check(fcntl(5, F_GETPIPE_SZ) == CAPACITY, "pipe capacity is %d, was %d", fcntl(5, F_GETPIPE_SZ), CAPACITY);
	int fl = fcntl(5, F_GETFL);
	tf_check((fl & O_ACCMODE) == O_RDONLY && (fl & O_NONBLOCK), "read end flags 0%o, expected O_RDONLY|O_NONBLOCK", fl);
	fl = fcntl(6, F_GETFL);
	tf_check((fl & O_ACCMODE) == O_WRONLY && !(fl & O_NONBLOCK), "write end flags 0%o, expected O_WRONLY", fl);
	tf_check(fcntl(5, F_GETFD) == 0, "read end fd flags %d, expected 0", fcntl(5, F_GETFD));
	tf_check(fcntl(6, F_GETFD) == FD_CLOEXEC, "write end fd flags %d, expected FD_CLOEXEC", fcntl(6, F_GETFD));

	static unsigned char got[IN_FLIGHT + 16];
	size_t total = 0;
	for (;;) {
		ssize_t n = read(5, got + total, sizeof(got) - total);
		if (n <= 0) {
			tf_check(n < 0 && errno == EAGAIN, "read from the pipe returned %zd (errno %d) before EAGAIN", n, errno);
			break;
		}
		total += (size_t)n;
	}
	tf_check(total == IN_FLIGHT, "%zu bytes were in the pipe, expected %d", total, IN_FLIGHT);
	if (total >= IN_FLIGHT)
		tf_check(memcmp(got, pattern, IN_FLIGHT) == 0, "the bytes in the pipe differ from what was written");
	char buf[8] = { 0 };
	tf_check(write(6, "again", 5) == 5 && read(5, buf, sizeof(buf)) == 5 && strcmp(buf, "again") == 0,
		 "the pipe does not carry new data");
	return tf_finish();
}
