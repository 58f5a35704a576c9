/*
 * brk_growth: the program break survives a dump and restore, and the heap can grow and shrink after it.
 *
 * Before READY: a few thousand small malloc blocks (glibc's main arena lives on the brk heap), then
 * sbrk(8 MiB) filled with a pattern; the break is recorded.
 * After go: sbrk(0) is where it was, the [heap] line of /proc/self/maps still ends there, the pattern
 * and the malloc blocks are intact, sbrk(+32 MiB) works and the new memory is writable, sbrk(-16 MiB)
 * works, and malloc/free still work.
 */
#include "tftest.h"

#define GROW (8UL << 20)
#define GROW_AFTER (32UL << 20)
#define NBLOCKS 4000

static uint64_t seed;
static char *blocks[NBLOCKS];
static char *brk_before;

static unsigned long heap_end_in_maps(void)
{
	static char buf[1 << 16];
	if (tf_read_file("/proc/self/maps", buf, sizeof(buf)) < 0)
		return 0;
	char *line = strstr(buf, "[heap]");
	if (!line)
		return 0;
	while (line > buf && line[-1] != '\n')
		line--;
	char *dash = strchr(line, '-');
	return dash ? strtoul(dash + 1, NULL, 16) : 0;
}

int main(void)
{
	seed = tf_seed();
	for (int i = 0; i < NBLOCKS; i++) {
		size_t size = 16 + (size_t)(i % 200);
		blocks[i] = malloc(size);
		if (!blocks[i])
			tf_die("malloc");
		memset(blocks[i], (unsigned char)(i * 31 + 7), size);
	}
	char *grown = sbrk((intptr_t)GROW);
	if (grown == (void *)-1)
		tf_die("sbrk(+8 MiB)");
	uint64_t s = seed;
	for (size_t i = 0; i < GROW / 8; i++)
		((uint64_t *)grown)[i] = tf_next(&s);
	brk_before = sbrk(0);
	unsigned long heap_end_before = heap_end_in_maps();
	tf_info("brk_growth: break at %p, [heap] ends at 0x%lx\n", (void *)brk_before, heap_end_before);

	tf_ready();
	tf_wait_go();

	char *brk_now = sbrk(0);
	tf_check(brk_now == brk_before, "sbrk(0) is %p, was %p", (void *)brk_now, (void *)brk_before);
	unsigned long heap_end = heap_end_in_maps();
	tf_check(heap_end == heap_end_before, "[heap] in /proc/self/maps ends at 0x%lx, was 0x%lx", heap_end, heap_end_before);

	s = seed;
	size_t bad = 0;
	for (size_t i = 0; i < GROW / 8; i++)
		bad += ((uint64_t *)grown)[i] != tf_next(&s);
	tf_check(bad == 0, "%zu words of the sbrk'ed pattern differ", bad);
	for (int i = 0; i < NBLOCKS; i++) {
		size_t size = 16 + (size_t)(i % 200);
		for (size_t j = 0; j < size; j++)
			if ((unsigned char)blocks[i][j] != (unsigned char)(i * 31 + 7)) {
				tf_check(0, "malloc block %d differs at byte %zu", i, j);
				break;
			}
	}

	char *more = sbrk((intptr_t)GROW_AFTER);
	tf_check(more == brk_before, "sbrk(+32 MiB) returned %p, expected %p", (void *)more, (void *)brk_before);
	if (more != (void *)-1) {
		memset(more, 0x5a, GROW_AFTER);
		size_t wrong = 0;
		for (size_t i = 0; i < GROW_AFTER; i += 4096)
			wrong += more[i] != 0x5a || more[i + 4095] != 0x5a;
		tf_check(wrong == 0, "%zu pages of the grown heap do not hold what was written", wrong);
		tf_check(heap_end_in_maps() == (unsigned long)(brk_before + GROW_AFTER + 4095) / 4096 * 4096,
			 "[heap] does not end at the new break after growing");
		tf_check(sbrk(-(intptr_t)(GROW_AFTER / 2)) != (void *)-1, "sbrk(-16 MiB) failed");
		tf_check(sbrk(0) == brk_before + GROW_AFTER / 2, "break not where expected after shrinking");
	}

	for (int i = 0; i < NBLOCKS; i += 2)
		free(blocks[i]);
	for (int i = 0; i < NBLOCKS; i += 2) {
		blocks[i] = malloc(300);
		tf_check(blocks[i] != NULL, "malloc after restore failed");
		if (!blocks[i])
			break;
		memset(blocks[i], 1, 300);
	}
	return tf_finish();
}
