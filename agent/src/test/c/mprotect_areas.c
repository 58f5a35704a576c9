/*
 * mprotect_areas: memory protections and the contents behind them survive a dump and restore.
 *
 * Before READY:
 *   A: 16 pages with a pattern, then mprotect'ed read-only
 *   B: a 64 MiB PROT_NONE reservation (mmap, never touched)
 *   C: 12 pages with a pattern, then split by mprotect into rw- / r-x / --- (4 pages each)
 *   the main stack, used 1 MiB deep by a recursion whose frames hold a pattern: the program waits for
 *   go at the bottom of that recursion and checks the frames on the way back up
 * The protections of a set of probe addresses are read from /proc/self/maps before READY.
 * After go: the same probes show the same protections (mapping boundaries may merge differently, so
 * the check is per address, plus "B is still one 64 MiB PROT_NONE range"); the contents of A, C (the
 * PROT_NONE part after an mprotect back to read) and the stack frames are intact; then the stack grows
 * 4 MiB deeper than ever before, which needs the restored [stack] to be a growing stack again.
 */
#include "tftest.h"
#include <sys/mman.h>
#include <sys/resource.h>

#define PAGE 4096UL
#define A_PAGES 16
#define B_SIZE (64UL << 20)
#define C_PAGES 12
#define FRAME 4096
#define DEPTH 256 /* 256 frames of 4 KiB: 1 MiB of stack */

static uint64_t seed;
static char *a, *b, *c;

#define NPROBES 9
static char *probe[NPROBES];
static char perms_before[NPROBES][8];

static char maps[1 << 17];

static void read_maps(void)
{
	if (tf_read_file("/proc/self/maps", maps, sizeof(maps)) < 0)
		tf_die("read /proc/self/maps");
}

/* Finds the maps line holding addr: its range and permission string. Returns 0 if none. */
static int lookup(const char *addr, unsigned long *start, unsigned long *end, char perms[8])
{
	for (char *line = maps; *line; ) {
		char *next = strchr(line, '\n');
		unsigned long s, e;
		char p[8];
		if (sscanf(line, "%lx-%lx %7s", &s, &e, p) == 3 && (unsigned long)addr >= s && (unsigned long)addr < e) {
			*start = s;
			*end = e;
			memcpy(perms, p, 8);
			return 1;
		}
		if (!next)
			break;
		line = next + 1;
	}
	return 0;
}

static void fill(char *p, size_t len, uint64_t sd)
{
	for (size_t i = 0; i < len / 8; i++)
		((uint64_t *)p)[i] = tf_next(&sd);
}

static int same(const char *p, size_t len, uint64_t sd)
{
	for (size_t i = 0; i < len / 8; i++)
		if (((const uint64_t *)p)[i] != tf_next(&sd))
			return 0;
	return 1;
}

static void check_after_go(void);

/* Each frame holds FRAME bytes of pattern; the deepest one waits for go. */
__attribute__((noinline))
static int recurse(int depth)
{
	volatile char frame[FRAME];
	uint64_t sd = seed ^ (uint64_t)depth * 0x1234567ULL;
	for (int i = 0; i < FRAME; i += 8) {
		uint64_t v = tf_next(&sd);
		memcpy((char *)frame + i, &v, 8);
	}
	int bad = 0;
	if (depth + 1 < DEPTH) {
		bad = recurse(depth + 1);
	} else {
		read_maps();
		for (int i = 0; i < NPROBES; i++) {
			unsigned long s, e;
			if (!lookup(probe[i], &s, &e, perms_before[i]))
				tf_die("probe %d not in /proc/self/maps", i);
		}
		tf_ready();
		tf_wait_go();
		check_after_go();
	}
	sd = seed ^ (uint64_t)depth * 0x1234567ULL;
	for (int i = 0; i < FRAME; i += 8) {
		uint64_t v;
		memcpy(&v, (char *)frame + i, 8);
		if (v != tf_next(&sd)) {
			bad++;
			break;
		}
	}
	return bad;
}

__attribute__((noinline))
static long grow_stack(long remaining)
{
	volatile char chunk[64 * 1024];
	chunk[0] = (char)remaining;
	chunk[sizeof(chunk) - 1] = (char)remaining;
	if (remaining <= (long)sizeof(chunk))
		return chunk[0] + chunk[sizeof(chunk) - 1];
	return grow_stack(remaining - (long)sizeof(chunk)) + chunk[0];
}

static void check_after_go(void)
{
	read_maps();
	static const char *const names[NPROBES] = { "A start", "A end", "B start", "B middle", "B end", "C rw part",
						    "C r-x part", "C --- part", "the stack" };
	for (int i = 0; i < NPROBES; i++) {
		unsigned long s, e;
		char perms[8] = "none";
		lookup(probe[i], &s, &e, perms);
		tf_check(strcmp(perms, perms_before[i]) == 0, "%s (%p) has protection %s, had %s", names[i],
			 (void *)probe[i], perms, perms_before[i]);
	}
	unsigned long s = 0, e = 0;
	char perms[8] = "";
	tf_check(lookup(b, &s, &e, perms) && s <= (unsigned long)b && e >= (unsigned long)b + B_SIZE,
		 "B is not one PROT_NONE range of 64 MiB: %lx-%lx %s", s, e, perms);

	tf_check(same(a, A_PAGES * PAGE, seed ^ 0xa), "contents of the read-only area A differ");
	tf_check(same(c, 4 * PAGE, seed ^ 0xc), "contents of C's rw- part differ");
	tf_check(same(c + 4 * PAGE, 4 * PAGE, (seed ^ 0xc) + 1), "contents of C's r-x part differ");
	if (mprotect(c + 8 * PAGE, 4 * PAGE, PROT_READ) != 0)
		tf_check(0, "mprotect of C's PROT_NONE part to read failed");
	else
		tf_check(same(c + 8 * PAGE, 4 * PAGE, (seed ^ 0xc) + 2), "contents of C's PROT_NONE part differ");
	c[0] ^= 1; /* the rw- part is still writable */
	c[0] ^= 1;

	/* 4 MiB deeper than the recursion went (if the stack limit allows). */
	struct rlimit rl;
	getrlimit(RLIMIT_STACK, &rl);
	long extra = 4L << 20;
	if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < (long)(DEPTH * FRAME) + extra + (1L << 20))
		extra = (long)rl.rlim_cur - (long)(DEPTH * FRAME) - (1L << 20);
	if (extra > 0)
		grow_stack(extra);
	tf_info("mprotect_areas: stack grew %ld KiB deeper after the restore\n", extra >> 10);
}

int main(void)
{
	seed = tf_seed();
	a = mmap(NULL, A_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b = mmap(NULL, B_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	c = mmap(NULL, C_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED || b == MAP_FAILED || c == MAP_FAILED)
		tf_die("mmap");
	fill(a, A_PAGES * PAGE, seed ^ 0xa);
	fill(c, 4 * PAGE, seed ^ 0xc);
	fill(c + 4 * PAGE, 4 * PAGE, (seed ^ 0xc) + 1);
	fill(c + 8 * PAGE, 4 * PAGE, (seed ^ 0xc) + 2);
	if (mprotect(a, A_PAGES * PAGE, PROT_READ) != 0 ||
	    mprotect(c + 4 * PAGE, 4 * PAGE, PROT_READ | PROT_EXEC) != 0 ||
	    mprotect(c + 8 * PAGE, 4 * PAGE, PROT_NONE) != 0)
		tf_die("mprotect");
	char here;
	char *probes[NPROBES] = { a, a + A_PAGES * PAGE - 1, b, b + B_SIZE / 2, b + B_SIZE - 1, c + PAGE,
				  c + 5 * PAGE, c + 9 * PAGE, &here };
	memcpy(probe, probes, sizeof(probes));

	int bad = recurse(0);
	tf_check(bad == 0, "%d stack frames lost their contents", bad);
	return tf_finish();
}
