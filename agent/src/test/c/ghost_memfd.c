/*
 * ghost_memfd: memfds (dump with --ghost-limit 1M).
 *
 *   fd 10: memfd "tf-shared" (MFD_ALLOW_SEALING), 64 KiB, sealed against growing and shrinking, offset 333;
 *          also mapped MAP_SHARED read-write, and filled with a per-run pattern through the mapping
 *   a memfd "tf-maponly", 3 pages, mapped MAP_SHARED read-only; its descriptor closed
 *   fd 11: memfd "tf-plain" (no sealing allowed), 100 bytes of text written, offset 100
 * After go: the content through the mapping and through the fd; still ONE file (a store through the
 * mapping is read through fd 10 and a pwrite to fd 10 is seen in the mapping); seals; offsets;
 * /proc/self/maps names /memfd:tf-shared and /memfd:tf-maponly at the same addresses; fd links.
 */
#include "tftest.h"
#include <sys/mman.h>
#include <sys/stat.h>

#define SHARED_SIZE (64 * 1024)
#define PAGE 4096

static unsigned char pattern[SHARED_SIZE];
static unsigned char *shared, *maponly;

/* The path in the maps line of the area at addr: 0 when there is no such area. */
static int maps_name(void *addr, char *name, size_t size)
{
	char line[4096];
	if (!tf_maps_line(addr, line, sizeof(line)))
		return 0;
	char *slash = strchr(line, '/');
	snprintf(name, size, "%s", slash ? slash : "");
	return 1;
}

static int link_of(int fd, char *out, size_t size)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(proc, out, size - 1);
	out[n > 0 ? n : 0] = 0;
	return n > 0;
}

int main(void)
{
	uint64_t state = tf_seed();
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (unsigned char)tf_next(&state);

	int fd = memfd_create("tf-shared", MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, SHARED_SIZE) != 0)
		tf_die("memfd tf-shared");
	shared = mmap(NULL, SHARED_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (shared == MAP_FAILED)
		tf_die("mmap tf-shared");
	memcpy(shared, pattern, SHARED_SIZE);
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK) != 0)
		tf_die("F_ADD_SEALS");
	if (dup2(fd, 10) != 10)
		tf_die("dup2");
	close(fd);
	if (lseek(10, 333, SEEK_SET) != 333)
		tf_die("lseek");

	int mo = memfd_create("tf-maponly", MFD_CLOEXEC);
	if (mo < 0 || ftruncate(mo, 3 * PAGE) != 0 || pwrite(mo, pattern + 5, 3 * PAGE, 0) != 3 * PAGE)
		tf_die("memfd tf-maponly");
	maponly = mmap(NULL, 3 * PAGE, PROT_READ, MAP_SHARED, mo, 0);
	if (maponly == MAP_FAILED)
		tf_die("mmap tf-maponly");
	close(mo);

	int pl = memfd_create("tf-plain", 0);
	char text[100];
	memset(text, 'p', sizeof(text));
	if (pl < 0 || write(pl, text, sizeof(text)) != (ssize_t)sizeof(text) || dup2(pl, 11) != 11)
		tf_die("memfd tf-plain");
	close(pl);

	tf_ready();
	tf_wait_go();

	tf_check(memcmp(shared, pattern, SHARED_SIZE) == 0, "the shared mapping's content differs");
	unsigned char buf[SHARED_SIZE];
	tf_check(pread(10, buf, SHARED_SIZE, 0) == SHARED_SIZE && memcmp(buf, pattern, SHARED_SIZE) == 0,
		 "the content read through fd 10 differs");
	tf_check(lseek(10, 0, SEEK_CUR) == 333, "offset of fd 10 is %ld, not 333", (long)lseek(10, 0, SEEK_CUR));
	shared[4321] ^= 0xff;
	tf_check(pread(10, buf, 1, 4321) == 1 && buf[0] == (unsigned char)(pattern[4321] ^ 0xff),
		 "a store through the mapping is not seen through fd 10: not the same file");
	unsigned char b = 0x5a;
	tf_check(pwrite(10, &b, 1, 777) == 1 && shared[777] == 0x5a, "a write to fd 10 is not seen in the mapping");
	int seals = fcntl(10, F_GET_SEALS);
	tf_check(seals == (F_SEAL_GROW | F_SEAL_SHRINK), "seals of fd 10 are 0x%x, not grow|shrink", seals);
	tf_check(ftruncate(10, 2 * SHARED_SIZE) != 0, "a grow-sealed memfd could grow");

	tf_check(memcmp(maponly, pattern + 5, 3 * PAGE) == 0, "the map-only memfd's content differs");
	char name[4096];
	tf_check(maps_name(shared, name, sizeof(name)) && strcmp(name, "/memfd:tf-shared (deleted)") == 0,
		 "maps names the shared area \"%s\"", name);
	tf_check(maps_name(maponly, name, sizeof(name)) && strcmp(name, "/memfd:tf-maponly (deleted)") == 0,
		 "maps names the map-only area \"%s\"", name);
	tf_check(link_of(10, name, sizeof(name)) && strcmp(name, "/memfd:tf-shared (deleted)") == 0,
		 "fd 10 links to \"%s\"", name);

	tf_check(lseek(11, 0, SEEK_CUR) == 100, "offset of fd 11 is %ld, not 100", (long)lseek(11, 0, SEEK_CUR));
	char got[100];
	tf_check(pread(11, got, sizeof(got), 0) == (ssize_t)sizeof(got) && memcmp(got, text, sizeof(got)) == 0,
		 "the content of tf-plain differs");
	tf_check(fcntl(11, F_GET_SEALS) == F_SEAL_SEAL, "tf-plain allows sealing now (seals 0x%x)", fcntl(11, F_GET_SEALS));
	tf_check(link_of(11, name, sizeof(name)) && strcmp(name, "/memfd:tf-plain (deleted)") == 0,
		 "fd 11 links to \"%s\"", name);
	return tf_finish();
}
