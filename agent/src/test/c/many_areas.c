/*
 * many_areas [N]: a process with thousands of mappings (N, default 3000, one page each, alternately
 * read-write and read-only so that neighbours cannot merge), each holding its own content. Exercises
 * limits an engine may hit: more than 1024 iovecs per process_vm_* call, long /proc/PID/maps, many areas
 * in the image. After go: every page and every protection is as it was.
 */
#include "tftest.h"
#include <sys/mman.h>

#define PAGE 4096UL

static uint64_t seed;

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 3000;
	seed = tf_seed();
	/* one reservation, then per-page protections: adjacent pages with different protections stay
	 * separate mappings */
	char *base = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		tf_die("mmap");
	for (size_t i = 0; i < n; i++) {
		uint64_t s = seed ^ (i * 0x9E3779B97F4A7C15ULL);
		for (size_t w = 0; w < PAGE / 8; w++)
			((uint64_t *)(base + i * PAGE))[w] = tf_next(&s);
	}
	for (size_t i = 1; i < n; i += 2)
		if (mprotect(base + i * PAGE, PAGE, PROT_READ) != 0)
			tf_die("mprotect page %zu", i);

	tf_ready();
	tf_wait_go();

	size_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t s = seed ^ (i * 0x9E3779B97F4A7C15ULL);
		for (size_t w = 0; w < PAGE / 8; w++)
			if (((uint64_t *)(base + i * PAGE))[w] != tf_next(&s)) {
				if (bad++ < 5)
					tf_check(0, "page %zu of %zu differs at word %zu", i, n, w);
				break;
			}
	}
	tf_check(bad == 0, "%zu of %zu pages differ", bad, n);
	/* the read-write pages are still writable, the read-only ones still read-only (mincore is no help
	 * here; a write to a read-only page would kill us, so look at /proc/self/maps instead) */
	static char maps[1 << 20];
	tf_read_file("/proc/self/maps", maps, sizeof(maps));
	size_t wrong = 0, seen = 0;
	for (char *line = maps; *line;) {
		unsigned long s, e;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &s, &e, perms) == 3 && s >= (unsigned long)base && e <= (unsigned long)(base + n * PAGE)) {
			for (unsigned long a = s; a < e; a += PAGE) {
				size_t i = (a - (unsigned long)base) / PAGE;
				seen++;
				if (strcmp(perms, i % 2 ? "r--p" : "rw-p") != 0 && wrong++ < 5)
					tf_check(0, "page %zu shows %s", i, perms);
			}
		}
		char *next = strchr(line, '\n');
		if (!next)
			break;
		line = next + 1;
	}
	tf_check(seen == n, "/proc/self/maps covers %zu of the %zu pages", seen, n);
	tf_check(wrong == 0, "%zu pages have the wrong protection", wrong);
	for (size_t i = 0; i < n; i += 2)
		base[i * PAGE] ^= 1;
	return tf_finish();
}
