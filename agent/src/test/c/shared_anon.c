/*
 * shared_anon: a MAP_SHARED|MAP_ANONYMOUS area (shmem: what a later fork would share) keeps its content
 * and stays shared ("rw-s" in /proc/self/maps), next to a private one of the same size.
 */
#include "tftest.h"
#include <sys/mman.h>

#define SIZE (4UL << 20)

static uint64_t seed;
static char *shared, *private_area;

static const char *perms_of(const void *addr)
{
	static char buf[1 << 16];
	static char perms[8];
	if (tf_read_file("/proc/self/maps", buf, sizeof(buf)) < 0)
		return "?";
	for (char *line = buf; *line;) {
		unsigned long s, e;
		if (sscanf(line, "%lx-%lx %7s", &s, &e, perms) == 3 && (unsigned long)addr >= s && (unsigned long)addr < e)
			return perms;
		char *next = strchr(line, '\n');
		if (!next)
			break;
		line = next + 1;
	}
	return "none";
}

static void fill(char *p, uint64_t sd)
{
	for (size_t i = 0; i < SIZE / 8; i++)
		((uint64_t *)p)[i] = tf_next(&sd);
}

static int same(const char *p, uint64_t sd)
{
	for (size_t i = 0; i < SIZE / 8; i++)
		if (((const uint64_t *)p)[i] != tf_next(&sd))
			return 0;
	return 1;
}

int main(void)
{
	seed = tf_seed();
	shared = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	private_area = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED || private_area == MAP_FAILED)
		tf_die("mmap");
	fill(shared, seed);
	fill(private_area, ~seed);
	if (strcmp(perms_of(shared), "rw-s") != 0)
		tf_die("the shared area shows %s", perms_of(shared));

	tf_ready();
	tf_wait_go();

	tf_check(same(shared, seed), "the MAP_SHARED|MAP_ANONYMOUS area lost its content");
	tf_check(same(private_area, ~seed), "the private area lost its content");
	const char *p = perms_of(shared);
	tf_check(strcmp(p, "rw-s") == 0, "the shared anonymous area shows %s in /proc/self/maps, was rw-s", p);
	p = perms_of(private_area);
	tf_check(strcmp(p, "rw-p") == 0, "the private area shows %s in /proc/self/maps, was rw-p", p);
	shared[0] ^= 1; /* still writable */
	shared[0] ^= 1;
	return tf_finish();
}
