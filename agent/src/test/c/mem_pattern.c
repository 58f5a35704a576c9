/*
 * mem_pattern [MiB]: anonymous memory survives a dump and restore, bit for bit.
 *
 * Region A (256 MiB unless given): every page filled with a pseudo-random pattern derived from a
 * per-run seed and the page number, except every 37th page, written with zeros (a touched zero page),
 * and every 101st page, never touched at all.
 * Region B (1 GiB of address space, MAP_NORESERVE, between two guard pages): one page in every 256 touched (4 MiB in all), the
 * rest never touched; an engine that stores or restores untouched pages wastes a gigabyte here.
 *
 * After "go" every page is regenerated from the seed and compared; untouched pages must read as zero.
 */
#include "tftest.h"
#include <sys/mman.h>

#define PAGE 4096UL
#define SPARSE_SIZE (1UL << 30)
#define SPARSE_STEP 256 /* pages */

static uint64_t seed;

enum kind { PATTERN, ZERO_WRITTEN, UNTOUCHED };

static enum kind page_kind(size_t i)
{
	if (i % 101 == 100)
		return UNTOUCHED;
	if (i % 37 == 36)
		return ZERO_WRITTEN;
	return PATTERN;
}

static void fill_page(uint64_t *p, uint64_t page_seed)
{
	uint64_t s = page_seed * 0x9E3779B97F4A7C15ULL + 1;
	for (size_t w = 0; w < PAGE / 8; w++)
		p[w] = tf_next(&s);
}

/* Returns the index of the first differing word, or -1. */
static long check_page(const uint64_t *p, uint64_t page_seed)
{
	uint64_t s = page_seed * 0x9E3779B97F4A7C15ULL + 1;
	for (size_t w = 0; w < PAGE / 8; w++)
		if (p[w] != tf_next(&s))
			return (long)w;
	return -1;
}

static long check_zero(const uint64_t *p)
{
	for (size_t w = 0; w < PAGE / 8; w++)
		if (p[w] != 0)
			return (long)w;
	return -1;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	size_t size = mib << 20, pages = size / PAGE;

	seed = tf_seed();
	char *a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		tf_die("mmap %zu MiB", mib);
	/* with a PROT_NONE guard page on each side, so that it stays one mapping of its own */
	char *b = mmap(NULL, SPARSE_SIZE + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (b == MAP_FAILED)
		tf_die("mmap sparse region");
	b += PAGE;
	if (mprotect(b, SPARSE_SIZE, PROT_READ | PROT_WRITE) != 0)
		tf_die("mprotect sparse region");

	for (size_t i = 0; i < pages; i++) {
		uint64_t *p = (uint64_t *)(a + i * PAGE);
		switch (page_kind(i)) {
		case PATTERN:
			fill_page(p, seed ^ i);
			break;
		case ZERO_WRITTEN:
			memset(p, 0, PAGE);
			break;
		case UNTOUCHED:
			break;
		}
	}
	for (size_t i = 0; i < SPARSE_SIZE / PAGE; i += SPARSE_STEP)
		fill_page((uint64_t *)(b + i * PAGE), ~seed ^ i);
	tf_info("mem_pattern: %zu MiB at %p, sparse 1 GiB at %p, seed %llx\n", mib, (void *)a, (void *)b,
		(unsigned long long)seed);

	tf_ready();
	tf_wait_go();

	/* Informational: how much of the untouched sparse space is resident now (before reading it). */
	static unsigned char vec[SPARSE_SIZE / PAGE];
	if (mincore(b, SPARSE_SIZE, vec) == 0) {
		size_t resident = 0;
		for (size_t i = 0; i < SPARSE_SIZE / PAGE; i++)
			resident += vec[i] & 1;
		tf_info("sparse region: %zu of %lu pages resident (%lu touched)\n", resident,
			SPARSE_SIZE / PAGE, SPARSE_SIZE / PAGE / SPARSE_STEP);
	}

	size_t bad = 0;
	for (size_t i = 0; i < pages; i++) {
		const uint64_t *p = (const uint64_t *)(a + i * PAGE);
		long w = page_kind(i) == PATTERN ? check_page(p, seed ^ i) : check_zero(p);
		if (w >= 0 && bad++ < 5)
			tf_check(0, "region A page %zu (%s) differs at byte offset %zu", i,
				 page_kind(i) == PATTERN ? "pattern" : page_kind(i) == ZERO_WRITTEN ? "zero-written" : "untouched",
				 i * PAGE + (size_t)w * 8);
	}
	for (size_t i = 0; i < SPARSE_SIZE / PAGE; i++) {
		const uint64_t *p = (const uint64_t *)(b + i * PAGE);
		long w = i % SPARSE_STEP == 0 ? check_page(p, ~seed ^ i) : check_zero(p);
		if (w >= 0 && bad++ < 10)
			tf_check(0, "sparse region page %zu differs at word %ld", i, w);
	}
	tf_check(bad == 0, "%zu page(s) differ in all", bad);
	return tf_finish();
}
