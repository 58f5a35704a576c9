/*
 * The protocol every self-checking test program follows (CRIU zdtm style):
 *
 *   1. set up some process state;
 *   2. print "READY" on stdout;
 *   3. block reading a line from stdin (fd 0): the harness dumps the process here and restores it;
 *   4. on "go", check the state and print "PASS" (exit 0), or one "FAIL: reason" line per failed check
 *      (exit 1).
 *
 * Everything is written with write(2) on fds 1 and 2, never through stdio buffers, so nothing is lost
 * or duplicated across a dump, and nothing calls malloc behind the program's back.
 * Lines on stderr starting with "# " are informational.
 *
 * Each program also passes when run without a dump in between: `echo go | ./prog`.
 */
#ifndef TFTEST_H
#define TFTEST_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

static int tf_failures;

static inline void tf_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			_exit(3);
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* Reads exactly len bytes, over short reads: 0, or -1 at an early end of file or an error. */
static inline int tf_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A whole small file (such as /proc/self/maps) into buf, NUL-terminated: its length, or -1. */
static inline ssize_t tf_read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	ssize_t n;
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = 0;
	return (ssize_t)len;
}

/* The /proc/self/maps line of the area that starts at addr, without its newline: 1, or 0 if none. */
static inline int tf_maps_line(const void *addr, char *out, size_t size)
{
	static char maps[1 << 16];
	if (tf_read_file("/proc/self/maps", maps, sizeof(maps)) < 0)
		return 0;
	for (char *line = maps; *line;) {
		char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		if (strtoul(line, NULL, 16) == (unsigned long)addr) {
			if (len >= size)
				len = size - 1;
			memcpy(out, line, len);
			out[len] = 0;
			return 1;
		}
		if (!end)
			break;
		line = end + 1;
	}
	return 0;
}

__attribute__((format(printf, 2, 3)))
static inline void tf_printf(int fd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	tf_write_all(fd, buf, (size_t)n);
}

#define tf_info(...) tf_printf(2, "# " __VA_ARGS__)

/* A failed check: reported at once, the program goes on checking and exits 1 in tf_finish(). */
#define tf_check(cond, ...)                                               \
	do {                                                              \
		if (!(cond)) {                                            \
			tf_failures++;                                    \
			tf_printf(1, "FAIL: " __VA_ARGS__);               \
			tf_printf(1, " (%s:%d)\n", __FILE__, __LINE__);   \
		}                                                         \
	} while (0)

/* The set-up (before READY) or something after it could not be done at all. */
#define tf_die(...)                                                       \
	do {                                                              \
		tf_printf(1, "FAIL: " __VA_ARGS__);                       \
		tf_printf(1, " (%s:%d, errno %d %s)\n", __FILE__, __LINE__, \
			  errno, strerror(errno));                         \
		exit(1);                                                  \
	} while (0)

static inline void tf_ready(void)
{
	tf_write_all(1, "READY\n", 6);
}

/*
 * Blocks until the harness writes "go\n" on stdin. The first read(2) is where the dump finds the
 * process: after a restore it must simply go on (the kernel restarts it), so EINTR here is a failure.
 */
static inline void tf_wait_go(void)
{
	char line[64];
	size_t len = 0;
	for (;;) {
		ssize_t n = read(0, line + len, sizeof(line) - 1 - len);
		if (n < 0)
			tf_die("read of the go line failed");
		if (n == 0)
			tf_die("stdin closed before the go line");
		len += (size_t)n;
		line[len] = 0;
		char *nl = strchr(line, '\n');
		if (nl) {
			*nl = 0;
			if (strcmp(line, "go") != 0)
				tf_die("expected the line \"go\" on stdin, got \"%s\"", line);
			return;
		}
		if (len == sizeof(line) - 1)
			tf_die("no newline in the first %zu bytes of stdin", len);
	}
}

static inline int tf_finish(void)
{
	if (tf_failures == 0) {
		tf_write_all(1, "PASS\n", 5);
		return 0;
	}
	tf_printf(2, "# %d check(s) failed\n", tf_failures);
	return 1;
}

/* Start time of this process (field 22 of /proc/self/stat, clock ticks since boot). A restored process
 * is a new process, so this changes across a dump and restore. */
static inline unsigned long long tf_starttime(void)
{
	char buf[1024];
	int fd = open("/proc/self/stat", O_RDONLY);
	if (fd < 0)
		tf_die("open /proc/self/stat");
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		tf_die("read /proc/self/stat");
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* comm may contain spaces */
	if (!p)
		tf_die("bad /proc/self/stat");
	p += 2; /* now at field 3 */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			tf_die("short /proc/self/stat");
		p++;
	}
	return strtoull(p, NULL, 10);
}

/* xorshift64*: a cheap pseudo-random stream, reproducible from its seed. */
static inline uint64_t tf_next(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* A seed that differs from run to run, so that no expected value can be baked into a binary. */
static inline uint64_t tf_seed(void)
{
	uint64_t seed = 0;
	int fd = open("/dev/urandom", O_RDONLY);
	if (fd < 0 || read(fd, &seed, sizeof(seed)) != (ssize_t)sizeof(seed))
		tf_die("read /dev/urandom");
	close(fd);
	return seed | 1;
}

#endif
