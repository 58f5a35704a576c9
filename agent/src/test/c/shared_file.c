/*
 * shared_file DIR: file mappings stay file mappings.
 *
 * Before READY:
 *   DIR/shared.bin (16 pages) mapped MAP_SHARED read-write, a pattern written through the mapping
 *   DIR/private.bin (16 pages of a pattern) mapped MAP_PRIVATE read-write, pages 3 and 7 modified
 *   (copy-on-write: the file keeps the old content)
 * After go:
 *   the shared mapping holds the pattern and so does the file (pread);
 *   a write through the shared mapping shows in the file, a pwrite to the file shows in the mapping
 *   (an engine that restored the mapping as anonymous memory fails here);
 *   the private mapping's pages 3 and 7 hold the modification, the others equal the file, and the file
 *   itself was not modified.
 */
#include "tftest.h"
#include <sys/mman.h>

#define PAGE 4096UL
#define PAGES 16
#define SIZE (PAGES * PAGE)

static uint64_t seed;
static char shared_path[4096], private_path[4096];
static unsigned char *shm, *priv;
static unsigned char file_content[SIZE], buf[SIZE];

static void pattern(unsigned char *p, size_t len, uint64_t sd)
{
	for (size_t i = 0; i < len / 8; i++) {
		uint64_t v = tf_next(&sd);
		memcpy(p + i * 8, &v, 8);
	}
}

static void make_file(const char *path, const unsigned char *content)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, content, SIZE) != (ssize_t)SIZE || close(fd) != 0)
		tf_die("create %s", path);
}

static int pread_all(const char *path, unsigned char *out)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = pread(fd, out, SIZE, 0);
	close(fd);
	return n == (ssize_t)SIZE;
}

static int is_modified_page(int page)
{
	return page == 3 || page == 7;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		tf_die("usage: shared_file DIR");
	snprintf(shared_path, sizeof(shared_path), "%s/shared.bin", argv[1]);
	snprintf(private_path, sizeof(private_path), "%s/private.bin", argv[1]);
	seed = tf_seed();

	memset(buf, 0, SIZE);
	make_file(shared_path, buf);
	int fd = open(shared_path, O_RDWR);
	if (fd < 0)
		tf_die("open %s", shared_path);
	shm = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (shm == MAP_FAILED)
		tf_die("mmap shared");
	close(fd);
	pattern(shm, SIZE, seed);

	pattern(file_content, SIZE, ~seed);
	make_file(private_path, file_content);
	fd = open(private_path, O_RDONLY);
	if (fd < 0)
		tf_die("open %s", private_path);
	priv = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (priv == MAP_FAILED)
		tf_die("mmap private");
	close(fd);
	volatile unsigned char sink = 0;
	for (int p = 0; p < PAGES; p++)
		sink += priv[p * PAGE]; /* read every page in, so the unmodified ones are page-cache pages */
	(void)sink;
	for (int p = 0; p < PAGES; p++)
		if (is_modified_page(p))
			pattern(priv + p * PAGE, PAGE, seed + (uint64_t)p);

	tf_ready();
	tf_wait_go();

	/* shared mapping */
	pattern(buf, SIZE, seed);
	tf_check(memcmp(shm, buf, SIZE) == 0, "the shared mapping lost its content");
	static unsigned char now[SIZE];
	tf_check(pread_all(shared_path, now) && memcmp(now, buf, SIZE) == 0, "shared.bin does not hold what was written through the mapping");
	memcpy(shm + 5 * PAGE, "written after restore", 21);
	tf_check(pread_all(shared_path, now) && memcmp(now + 5 * PAGE, "written after restore", 21) == 0,
		 "a write through the shared mapping after the restore does not reach shared.bin");
	fd = open(shared_path, O_WRONLY);
	tf_check(fd >= 0 && pwrite(fd, "written to the file", 19, 9 * PAGE) == 19, "pwrite to shared.bin failed");
	if (fd >= 0)
		close(fd);
	tf_check(memcmp(shm + 9 * PAGE, "written to the file", 19) == 0,
		 "a pwrite to shared.bin after the restore does not show in the shared mapping");

	/* private mapping */
	tf_check(pread_all(private_path, now) && memcmp(now, file_content, SIZE) == 0, "private.bin was modified");
	for (int p = 0; p < PAGES; p++) {
		if (is_modified_page(p)) {
			pattern(buf, PAGE, seed + (uint64_t)p);
			tf_check(memcmp(priv + p * PAGE, buf, PAGE) == 0, "modified private page %d lost its modification", p);
		} else {
			tf_check(memcmp(priv + p * PAGE, file_content + p * PAGE, PAGE) == 0,
				 "unmodified private page %d differs from private.bin", p);
		}
	}
	return tf_finish();
}
