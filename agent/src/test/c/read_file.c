/*
 * read_file DIR: open files keep their file, offset, flags and close-on-exec flag.
 *
 * Set up in DIR:
 *   fd 10: DIR/data.bin (8 KiB of a per-run pattern), O_RDONLY, 4 KiB already read (offset 4096)
 *   fd 11: DIR/log.txt, O_WRONLY|O_APPEND, "before\n" written
 *   fd 12: DIR/data.bin again, O_RDONLY|O_NONBLOCK|O_CLOEXEC, offset 6000
 *   fd 13: /dev/null, O_WRONLY
 * After go: offsets, status flags (F_GETFL), fd flags (F_GETFD), device and inode, the rest of the
 * content, an append landing at the end of the log, and no file descriptor more or less than before.
 * Only bytes from offset 4096 on are read after the restore, so the harness may change the first
 * half of data.bin (for the "file changed" test) and the program still passes.
 */
#include "tftest.h"
#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define DATA_SIZE 8192

static uint64_t seed;
static char data_path[4096], log_path[4096];
static unsigned char expected[DATA_SIZE];
static struct stat before[4];
static char fds_before[1024];

static void list_fds(char *out, size_t size)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		tf_die("opendir /proc/self/fd");
	/* the numbers in ascending order, as a bitmap turned into text */
	static unsigned char open_fd[4096];
	memset(open_fd, 0, sizeof(open_fd));
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd != dirfd(d) && fd >= 0 && fd < (int)sizeof(open_fd))
			open_fd[fd] = 1;
	}
	closedir(d);
	size_t len = 0;
	out[0] = 0;
	for (int fd = 0; fd < (int)sizeof(open_fd) && len + 8 < size; fd++)
		if (open_fd[fd])
			len += (size_t)snprintf(out + len, size - len, "%d ", fd);
}

static void open_at(const char *path, int flags, int want_fd)
{
	int fd = open(path, flags, 0644);
	if (fd < 0)
		tf_die("open %s", path);
	if (fd != want_fd) {
		if (dup3(fd, want_fd, flags & O_CLOEXEC) < 0)
			tf_die("dup3 to %d", want_fd);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2)
		tf_die("usage: read_file DIR");
	snprintf(data_path, sizeof(data_path), "%s/data.bin", argv[1]);
	snprintf(log_path, sizeof(log_path), "%s/log.txt", argv[1]);

	seed = tf_seed();
	uint64_t s = seed;
	for (size_t i = 0; i < DATA_SIZE; i++)
		expected[i] = (unsigned char)tf_next(&s);
	int w = open(data_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (w < 0 || write(w, expected, DATA_SIZE) != DATA_SIZE || close(w) != 0)
		tf_die("write %s", data_path);

	open_at(data_path, O_RDONLY, 10);
	unsigned char half[DATA_SIZE / 2];
	if (read(10, half, sizeof(half)) != (ssize_t)sizeof(half))
		tf_die("read first half");
	open_at(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 11);
	if (write(11, "before\n", 7) != 7)
		tf_die("write log");
	open_at(data_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 12);
	if (lseek(12, 6000, SEEK_SET) != 6000)
		tf_die("lseek fd 12");
	open_at("/dev/null", O_WRONLY, 13);
	for (int i = 0; i < 4; i++)
		if (fstat(10 + i, &before[i]) != 0)
			tf_die("fstat %d", 10 + i);
	list_fds(fds_before, sizeof(fds_before));

	tf_ready();
	tf_wait_go();

	char fds_after[1024];
	list_fds(fds_after, sizeof(fds_after));
	tf_check(strcmp(fds_before, fds_after) == 0, "open fds are [%s], were [%s]", fds_after, fds_before);

	struct stat now;
	for (int i = 0; i < 4; i++) {
		if (fstat(10 + i, &now) != 0) {
			tf_check(0, "fd %d is not open", 10 + i);
			continue;
		}
		tf_check(now.st_dev == before[i].st_dev && now.st_ino == before[i].st_ino && now.st_rdev == before[i].st_rdev,
			 "fd %d is another file: dev %lx ino %lu rdev %lx, was dev %lx ino %lu rdev %lx", 10 + i,
			 (unsigned long)now.st_dev, (unsigned long)now.st_ino, (unsigned long)now.st_rdev,
			 (unsigned long)before[i].st_dev, (unsigned long)before[i].st_ino, (unsigned long)before[i].st_rdev);
	}

	/* fd 10: offset, flags, the second half of the data, then EOF */
	off_t off = lseek(10, 0, SEEK_CUR);
	tf_check(off == DATA_SIZE / 2, "fd 10 offset is %ld, expected %d", (long)off, DATA_SIZE / 2);
	int fl = fcntl(10, F_GETFL);
	tf_check(fl >= 0 && (fl & O_ACCMODE) == O_RDONLY && !(fl & (O_APPEND | O_NONBLOCK)),
		 "fd 10 status flags 0%o, expected O_RDONLY only", fl);
	tf_check(fcntl(10, F_GETFD) == 0, "fd 10 fd flags %d, expected 0", fcntl(10, F_GETFD));
	unsigned char rest[DATA_SIZE / 2];
	ssize_t n = read(10, rest, sizeof(rest));
	tf_check(n == (ssize_t)sizeof(rest), "read of the second half returned %zd", n);
	if (n == (ssize_t)sizeof(rest))
		tf_check(memcmp(rest, expected + DATA_SIZE / 2, sizeof(rest)) == 0, "second half of data.bin differs");
	tf_check(read(10, rest, 1) == 0, "no EOF after the second half");

	/* fd 11: append mode, writes land at the end */
	fl = fcntl(11, F_GETFL);
	tf_check(fl >= 0 && (fl & O_ACCMODE) == O_WRONLY && (fl & O_APPEND), "fd 11 status flags 0%o, expected O_WRONLY|O_APPEND", fl);
	tf_check(fcntl(11, F_GETFD) == 0, "fd 11 fd flags %d, expected 0", fcntl(11, F_GETFD));
	lseek(11, 0, SEEK_SET); /* O_APPEND must ignore this */
	tf_check(write(11, "after\n", 6) == 6, "write to the log failed");
	off = lseek(11, 0, SEEK_CUR);
	tf_check(off == 13, "log offset after the append is %ld, expected 13", (long)off);
	char logbuf[64] = { 0 };
	int lf = open(log_path, O_RDONLY);
	n = lf >= 0 ? read(lf, logbuf, sizeof(logbuf) - 1) : -1;
	if (lf >= 0)
		close(lf);
	tf_check(n == 13 && strcmp(logbuf, "before\nafter\n") == 0, "log.txt holds \"%s\"", logbuf);

	/* fd 12: close-on-exec, non-blocking, offset 6000 */
	tf_check(fcntl(12, F_GETFD) == FD_CLOEXEC, "fd 12 fd flags %d, expected FD_CLOEXEC", fcntl(12, F_GETFD));
	fl = fcntl(12, F_GETFL);
	tf_check(fl >= 0 && (fl & O_ACCMODE) == O_RDONLY && (fl & O_NONBLOCK) && !(fl & O_APPEND),
		 "fd 12 status flags 0%o, expected O_RDONLY|O_NONBLOCK", fl);
	off = lseek(12, 0, SEEK_CUR);
	tf_check(off == 6000, "fd 12 offset is %ld, expected 6000", (long)off);
	n = read(12, rest, 100);
	tf_check(n == 100 && memcmp(rest, expected + 6000, 100) == 0, "read at offset 6000 on fd 12 differs (%zd bytes)", n);

	/* fd 13: /dev/null */
	tf_check(write(13, "x", 1) == 1, "write to /dev/null on fd 13 failed");
	tf_check(fstat(13, &now) == 0 && S_ISCHR(now.st_mode) && now.st_rdev == makedev(1, 3), "fd 13 is not /dev/null");
	return tf_finish();
}
