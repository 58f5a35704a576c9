/*
 * ghost_fd DIR: descriptors on a file deleted while open (dump with --ghost-limit 4M).
 *
 * Set up in DIR: ghost.dat, 2.5 MiB: a per-run pattern in its first 12 000 bytes and its last 200 KiB,
 * a hole between (so the image stores one chunk without bytes). Then
 *   fd 10: O_RDWR, offset 7777 (in the middle of the data)
 *   fd 11: dup of fd 10 (one open file description: the offset is shared)
 *   fd 12: O_RDONLY|O_CLOEXEC, opened separately, offset 100
 * and ghost.dat is unlinked; a different file is then created under the same name, which the restore
 * must not take for the deleted one (its content, not the new file's, is what the fds must show).
 * After go: the content from each fd's offset, offsets (shared by the dup, not by fd 12), flags, link
 * count 0, size, a write through fd 10 seen through fd 12 (still one file), /proc/self/fd links ending
 * in " (deleted)", and the new file under the old name untouched.
 */
#include "tftest.h"
#include <sys/stat.h>

#define SIZE (2560 * 1024)
#define HEAD 12000
#define TAIL (200 * 1024)

static char path[4096];
static unsigned char head[HEAD], tail[TAIL];

static void fill(unsigned char *buf, size_t len, uint64_t *state)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)tf_next(state);
}

static void pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	if (pwrite(fd, buf, len, off) != (ssize_t)len)
		tf_die("pwrite");
}

static int read_at(int fd, unsigned char *buf, size_t len, off_t off)
{
	return pread(fd, buf, len, off) == (ssize_t)len;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		tf_die("usage: ghost_fd DIR");
	uint64_t state = tf_seed();
	fill(head, sizeof(head), &state);
	fill(tail, sizeof(tail), &state);
	snprintf(path, sizeof(path), "%s/ghost.dat", argv[1]);

	unlink(path); /* a file left by an earlier run would keep its own mode */
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0640);
	if (fd < 0)
		tf_die("create %s", path);
	pwrite_all(fd, head, HEAD, 0);
	pwrite_all(fd, tail, TAIL, SIZE - TAIL);
	if (dup2(fd, 10) != 10 || dup2(fd, 11) != 11)
		tf_die("dup2");
	close(fd);
	int ro = open(path, O_RDONLY | O_CLOEXEC);
	if (ro < 0 || dup3(ro, 12, O_CLOEXEC) != 12)
		tf_die("open read-only");
	close(ro);
	if (lseek(10, 7777, SEEK_SET) != 7777 || lseek(12, 100, SEEK_SET) != 100)
		tf_die("lseek");
	if (unlink(path) != 0)
		tf_die("unlink");
	int other = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (other < 0 || write(other, "a new file\n", 11) != 11)
		tf_die("create the new file under the old name");
	close(other);

	tf_ready();
	tf_wait_go();

	unsigned char buf[HEAD];
	tf_check(lseek(11, 0, SEEK_CUR) == 7777, "offset of fd 11 (dup of 10) is %ld, not 7777", (long)lseek(11, 0, SEEK_CUR));
	ssize_t n = read(10, buf, 1000);
	tf_check(n == 1000 && memcmp(buf, head + 7777, 1000) == 0, "read at offset 7777 of fd 10 gave other bytes (%zd)", n);
	tf_check(lseek(11, 0, SEEK_CUR) == 8777, "the dup fd 11 does not share fd 10's offset (%ld)", (long)lseek(11, 0, SEEK_CUR));
	n = read(12, buf, 50);
	tf_check(n == 50 && memcmp(buf, head + 100, 50) == 0, "read at offset 100 of fd 12 gave other bytes (%zd)", n);
	tf_check(lseek(12, 0, SEEK_CUR) == 150, "offset of fd 12 is %ld, not 150", (long)lseek(12, 0, SEEK_CUR));

	tf_check(read_at(12, buf, HEAD, 0) && memcmp(buf, head, HEAD) == 0, "the head of the file differs");
	static unsigned char tbuf[TAIL];
	tf_check(read_at(12, tbuf, TAIL, SIZE - TAIL) && memcmp(tbuf, tail, TAIL) == 0, "the tail of the file differs");
	static unsigned char zero[4096], hole[4096];
	tf_check(read_at(12, hole, sizeof(hole), SIZE / 2) && memcmp(hole, zero, sizeof(hole)) == 0,
		 "the hole in the middle is not zero");

	int fl10 = fcntl(10, F_GETFL), fl12 = fcntl(12, F_GETFL);
	tf_check((fl10 & O_ACCMODE) == O_RDWR, "fd 10 is not O_RDWR (flags 0%o)", fl10);
	tf_check((fl12 & O_ACCMODE) == O_RDONLY, "fd 12 is not O_RDONLY (flags 0%o)", fl12);
	tf_check(fcntl(12, F_GETFD) == FD_CLOEXEC && fcntl(10, F_GETFD) == 0, "close-on-exec flags differ");

	struct stat st;
	tf_check(fstat(10, &st) == 0 && st.st_nlink == 0, "the file has %lu links, not 0", (unsigned long)st.st_nlink);
	tf_check(st.st_size == SIZE, "size %ld, not %d", (long)st.st_size, SIZE);
	tf_check((st.st_mode & 07777) == 0640, "mode 0%o, not 0640", st.st_mode & 07777);

	pwrite_all(10, "XYZ", 3, 5);
	tf_check(read_at(12, buf, 3, 5) && memcmp(buf, "XYZ", 3) == 0, "a write through fd 10 is not seen through fd 12");

	char link[4200];
	for (int f = 10; f <= 12; f++) {
		char proc[64];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f);
		ssize_t len = readlink(proc, link, sizeof(link) - 1);
		link[len > 0 ? len : 0] = 0;
		tf_check(len > 10 && strcmp(link + len - 10, " (deleted)") == 0, "fd %d links to \"%s\"", f, link);
	}

	int nf = open(path, O_RDONLY);
	n = nf < 0 ? -1 : read(nf, buf, sizeof(buf));
	tf_check(n == 11 && memcmp(buf, "a new file\n", 11) == 0, "the new file under the old name changed");
	close(nf);
	return tf_finish();
}
