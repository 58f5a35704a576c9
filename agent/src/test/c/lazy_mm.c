/*
 * lazy_mm: memory that the program drops, moves or reshapes right after "go" behaves as the kernel
 * says, whether or not a lazy restore has filled it yet.
 *
 * Regions of 8 MiB, each page with its own pattern, all dumped. After go, before reading any of them:
 *   dontneed: madvise(MADV_DONTNEED) of MiB 2-4           -> those pages read zero, the rest the pattern
 *   unmapped: munmap of MiB 2-4, MiB 2-3 mapped afresh    -> the fresh MiB reads zero, the rest the pattern
 *   moved:    mremap(MREMAP_FIXED) onto a reserved place  -> the pattern at the new place
 *   grown:    mremap to 16 MiB (may move)                 -> the pattern, then 8 MiB of zeros
 *   kept:     mremap(MREMAP_DONTUNMAP)                    -> the pattern at the new place, zeros at the old
 *   shrunk:   mremap to 4 MiB in place                    -> the pattern in the 4 MiB left
 *   split:    mprotect(PROT_READ) of MiB 1-2              -> the pattern everywhere
 *   read:     MiB 0-1 read, then MADV_DONTNEED of 0-2     -> zeros in 0-2, the pattern after
 */
#include "tftest.h"
#include <sys/mman.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

#define PAGE 4096UL
#define MIB (1UL << 20)
#define SIZE (8 * MIB)

enum { DONTNEED, UNMAPPED, MOVED, GROWN, KEPT, SHRUNK, SPLIT, READ, REGIONS };
static const char *names[REGIONS] = {"dontneed", "unmapped", "moved", "grown", "kept", "shrunk", "split", "read"};

static uint64_t seed;

static void fill_page(uint64_t *p, uint64_t page_seed)
{
	uint64_t s = page_seed * 0x9E3779B97F4A7C15ULL + 1;
	for (size_t w = 0; w < PAGE / 8; w++)
		p[w] = tf_next(&s);
}

/* Pages of [from, to) MiB of region r at a: pattern (or zero); returns how many differ. */
static size_t check(int r, const char *a, size_t from, size_t to, int zero)
{
	size_t bad = 0;
	for (size_t i = from * MIB / PAGE; i < to * MIB / PAGE; i++) {
		const uint64_t *p = (const uint64_t *)(a + i * PAGE);
		uint64_t s = (seed ^ ((uint64_t)r << 32) ^ i) * 0x9E3779B97F4A7C15ULL + 1;
		for (size_t w = 0; w < PAGE / 8; w++) {
			uint64_t want = zero ? 0 : tf_next(&s);
			if (p[w] != want) {
				bad++;
				break;
			}
		}
	}
	return bad;
}

#define EXPECT(r, a, from, to, zero)                                                          \
	do {                                                                                  \
		size_t bad = check(r, a, from, to, zero);                                      \
		tf_check(bad == 0, "%s: %zu pages of MiB %d-%d are not %s", names[r], bad, from, to, \
			 (zero) ? "zero" : "the pattern");                                     \
	} while (0)

int main(void)
{
	char *region[REGIONS];
	seed = tf_seed();
	for (int r = 0; r < REGIONS; r++) {
		region[r] = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (region[r] == MAP_FAILED)
			tf_die("mmap region %s", names[r]);
		for (size_t i = 0; i < SIZE / PAGE; i++)
			fill_page((uint64_t *)(region[r] + i * PAGE), seed ^ ((uint64_t)r << 32) ^ i);
	}
	/* where "moved" goes: a place of its own, reserved before the dump */
	char *place = mmap(NULL, SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (place == MAP_FAILED)
		tf_die("mmap reserved place");

	tf_ready();
	tf_wait_go();

	if (madvise(region[DONTNEED] + 2 * MIB, 2 * MIB, MADV_DONTNEED) != 0)
		tf_die("madvise(MADV_DONTNEED)");
	if (munmap(region[UNMAPPED] + 2 * MIB, 2 * MIB) != 0)
		tf_die("munmap");
	if (mmap(region[UNMAPPED] + 2 * MIB, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
		 0) != region[UNMAPPED] + 2 * MIB)
		tf_die("mmap into the hole");
	char *moved = mremap(region[MOVED], SIZE, SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, place);
	if (moved != place)
		tf_die("mremap(MREMAP_FIXED)");
	char *grown = mremap(region[GROWN], SIZE, 2 * SIZE, MREMAP_MAYMOVE);
	if (grown == MAP_FAILED)
		tf_die("mremap to 16 MiB");
	char *kept = mremap(region[KEPT], SIZE, SIZE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
	if (kept == MAP_FAILED)
		tf_die("mremap(MREMAP_DONTUNMAP)");
	if (mremap(region[SHRUNK], SIZE, 4 * MIB, 0) != region[SHRUNK])
		tf_die("mremap to 4 MiB");
	if (mprotect(region[SPLIT] + MIB, MIB, PROT_READ) != 0)
		tf_die("mprotect");
	EXPECT(READ, region[READ], 0, 1, 0);
	if (madvise(region[READ], 2 * MIB, MADV_DONTNEED) != 0)
		tf_die("madvise(MADV_DONTNEED) of read pages");

	EXPECT(DONTNEED, region[DONTNEED], 0, 2, 0);
	EXPECT(DONTNEED, region[DONTNEED], 2, 4, 1);
	EXPECT(DONTNEED, region[DONTNEED], 4, 8, 0);
	EXPECT(UNMAPPED, region[UNMAPPED], 0, 2, 0);
	EXPECT(UNMAPPED, region[UNMAPPED], 2, 3, 1);
	EXPECT(UNMAPPED, region[UNMAPPED], 4, 8, 0);
	EXPECT(MOVED, moved, 0, 8, 0);
	EXPECT(GROWN, grown, 0, 8, 0);
	EXPECT(GROWN, grown, 8, 16, 1);
	EXPECT(KEPT, kept, 0, 8, 0);
	EXPECT(KEPT, region[KEPT], 0, 8, 1);
	EXPECT(SHRUNK, region[SHRUNK], 0, 4, 0);
	EXPECT(SPLIT, region[SPLIT], 0, 8, 0);
	EXPECT(READ, region[READ], 0, 2, 1);
	EXPECT(READ, region[READ], 2, 8, 0);
	return tf_finish();
}
