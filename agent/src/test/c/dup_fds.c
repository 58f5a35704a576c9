/*
 * dup_fds DIR: descriptors that share one open file description still share it after a restore.
 *
 * Before READY, on DIR/shared.log:
 *   fd 10: opened O_WRONLY, "abc" written (offset 3)
 *   fd 11: dup of fd 10 (same description: same offset and status flags), FD_CLOEXEC set on fd 11 only
 *   fd 12: opened again O_RDONLY (its own description), offset 1
 * After go: fd 11's offset is 3; a write on fd 11 moves fd 10's offset; O_NONBLOCK set on fd 10 shows on
 * fd 11 but not on fd 12; close-on-exec is still per descriptor; fd 12 reads from offset 1; the file
 * holds exactly "abcdef".
 * This is the shape of `prog >log 2>&1`: restored as two descriptions, the two streams overwrite each
 * other.
 */
#include "tftest.h"

int main(int argc, char **argv)
{
	if (argc < 2)
		tf_die("usage: dup_fds DIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/shared.log", argv[1]);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || dup2(fd, 10) != 10 || close(fd) != 0)
		tf_die("open %s", path);
	if (write(10, "abc", 3) != 3)
		tf_die("write");
	if (dup2(10, 11) != 11 || fcntl(11, F_SETFD, FD_CLOEXEC) != 0)
		tf_die("dup2 11");
	fd = open(path, O_RDONLY);
	if (fd < 0 || dup2(fd, 12) != 12 || close(fd) != 0 || lseek(12, 1, SEEK_SET) != 1)
		tf_die("open 12");

	tf_ready();
	tf_wait_go();

	off_t off = lseek(11, 0, SEEK_CUR);
	tf_check(off == 3, "fd 11 (dup of fd 10) is at offset %ld, expected 3", (long)off);
	tf_check(write(11, "def", 3) == 3, "write on fd 11 failed");
	off = lseek(10, 0, SEEK_CUR);
	tf_check(off == 6, "fd 10 is at offset %ld after a write of 3 bytes on its dup fd 11 at 3: not shared", (long)off);
	int fl = fcntl(10, F_GETFL);
	fcntl(10, F_SETFL, fl | O_NONBLOCK);
	tf_check(fcntl(11, F_GETFL) & O_NONBLOCK, "O_NONBLOCK set on fd 10 does not show on its dup fd 11");
	tf_check(!(fcntl(12, F_GETFL) & O_NONBLOCK), "O_NONBLOCK set on fd 10 shows on fd 12, opened separately");
	tf_check(fcntl(10, F_GETFD) == 0, "fd 10 has fd flags %d, expected 0", fcntl(10, F_GETFD));
	tf_check(fcntl(11, F_GETFD) == FD_CLOEXEC, "fd 11 has fd flags %d, expected FD_CLOEXEC", fcntl(11, F_GETFD));
	off = lseek(12, 0, SEEK_CUR);
	tf_check(off == 1, "fd 12 is at offset %ld, expected 1", (long)off);
	char buf[16] = { 0 };
	ssize_t n = read(12, buf, sizeof(buf) - 1);
	tf_check(n == 5 && strcmp(buf, "bcdef") == 0, "read on fd 12 from offset 1 gave \"%s\", expected \"bcdef\"", buf);
	return tf_finish();
}
