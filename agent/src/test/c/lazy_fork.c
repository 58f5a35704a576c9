/*
 * lazy_fork [MiB]: a fork right after "go", before the memory is touched, sees all of it as dumped.
 *
 * A region (64 MiB unless given) filled with a pseudo-random pattern per page, except every 37th page
 * (written with zeros) and every 101st (never touched). After go the process forks at once; the child
 * forks a grandchild at once too; each of the three then checks every page. A lazy restore is still
 * filling the memory at that point: each child must get its own copy of what is still missing, never
 * zeros. The children report through their exit status.
 */
#include "tftest.h"
#include <sys/mman.h>
#include <sys/wait.h>

#define PAGE 4096UL

static uint64_t seed;

static int untouched(size_t i) { return i % 101 == 100; }
static int zero_written(size_t i) { return !untouched(i) && i % 37 == 36; }

static void fill_page(uint64_t *p, uint64_t page_seed)
{
	uint64_t s = page_seed * 0x9E3779B97F4A7C15ULL + 1;
	for (size_t w = 0; w < PAGE / 8; w++)
		p[w] = tf_next(&s);
}

/* Returns the number of pages that differ. */
static size_t check(const char *a, size_t pages)
{
	size_t bad = 0;
	for (size_t i = 0; i < pages; i++) {
		const uint64_t *p = (const uint64_t *)(a + i * PAGE);
		uint64_t s = (seed ^ i) * 0x9E3779B97F4A7C15ULL + 1;
		int plain = !untouched(i) && !zero_written(i);
		for (size_t w = 0; w < PAGE / 8; w++) {
			uint64_t want = plain ? tf_next(&s) : 0;
			if (p[w] != want) {
				bad++;
				break;
			}
		}
	}
	return bad;
}

/* Exit status of a child: 0 all good, 1 its pages differ, 2 its own child failed. */
static int wait_child(pid_t child)
{
	int status;
	if (waitpid(child, &status, 0) != child)
		return 100;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	size_t pages = (mib << 20) / PAGE;

	seed = tf_seed();
	char *a = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		tf_die("mmap %zu MiB", mib);
	for (size_t i = 0; i < pages; i++) {
		if (zero_written(i))
			memset(a + i * PAGE, 0, PAGE);
		else if (!untouched(i))
			fill_page((uint64_t *)(a + i * PAGE), seed ^ i);
	}

	tf_ready();
	tf_wait_go();

	pid_t child = fork();
	if (child == 0) {
		pid_t grandchild = fork();
		if (grandchild == 0)
			_exit(check(a, pages) == 0 ? 0 : 1);
		if (grandchild < 0)
			_exit(3);
		int mine = check(a, pages) == 0 ? 0 : 1;
		int theirs = wait_child(grandchild);
		_exit(mine ? mine : theirs ? 2 : 0);
	}
	if (child < 0)
		tf_die("fork");
	size_t bad = check(a, pages);
	tf_check(bad == 0, "%zu pages differ in the parent", bad);
	int status = wait_child(child);
	tf_check(status != 1, "pages differ in the child");
	tf_check(status != 2, "pages differ in the grandchild");
	tf_check(status == 0 || status == 1 || status == 2, "the child ended with status %d", status);
	return tf_finish();
}
