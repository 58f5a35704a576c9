/*
 * fork_flags [late]: memory that a copy-on-write twin does not hold as it was, kept across a dump: a
 * MADV_DONTFORK area (absent from a fork), a MADV_WIPEONFORK area (zero in a fork) and MAP_SHARED
 * anonymous memory, 4 MiB of a pattern each. After go each holds its pattern and the first two are still
 * marked (VmFlags dc, wf), and a fork of the process finds the wipe-on-fork area zero.
 *
 * With "late", a fourth area, plain private memory with its own pattern, is marked MADV_WIPEONFORK when
 * SIGUSR1 arrives: the test sends it while a dump looks at the process. After go it is checked as the
 * others (its pattern, VmFlags wf).
 */
#include "tftest.h"
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define PAGE 4096UL
#define AREA (4UL << 20)

static uint64_t seed;
static char *late;

/* A private anonymous area with a PROT_NONE guard page on each side, so that it stays a mapping of its own. */
static char *guarded(void)
{
	char *p = mmap(NULL, AREA + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || mprotect(p + PAGE, AREA, PROT_READ | PROT_WRITE) != 0)
		tf_die("mmap guarded area");
	return p + PAGE;
}

static void fill(char *p, uint64_t salt)
{
	uint64_t s = seed ^ (salt * 0x9E3779B97F4A7C15ULL);
	for (size_t i = 0; i < AREA / 8; i++)
		((uint64_t *)p)[i] = tf_next(&s);
}

static size_t misses(const char *p, uint64_t salt)
{
	uint64_t s = seed ^ (salt * 0x9E3779B97F4A7C15ULL);
	size_t wrong = 0;
	for (size_t i = 0; i < AREA / 8; i++)
		wrong += ((const uint64_t *)p)[i] != tf_next(&s);
	return wrong;
}

static size_t nonzero(const char *p)
{
	size_t n = 0;
	for (size_t i = 0; i < AREA / 8; i++)
		n += ((const uint64_t *)p)[i] != 0;
	return n;
}

/* Whether the smaps entry of the area that starts at addr lists VmFlags flag. */
static int has_flag(const void *addr, const char *flag)
{
	static char smaps[1 << 20];
	char head[32], want[8];
	if (tf_read_file("/proc/self/smaps", smaps, sizeof(smaps)) < 0)
		return 0;
	snprintf(head, sizeof(head), "%lx-", (unsigned long)addr);
	snprintf(want, sizeof(want), " %s", flag);
	char *entry = strstr(smaps, head);
	if (!entry || (entry != smaps && entry[-1] != '\n'))
		return 0;
	char *flags = strstr(entry, "VmFlags:");
	if (!flags)
		return 0;
	char *end = strchr(flags, '\n');
	size_t len = end ? (size_t)(end - flags) : strlen(flags);
	char line[256];
	if (len >= sizeof(line))
		len = sizeof(line) - 1;
	memcpy(line, flags + 8, len - 8);
	line[len - 8] = 0;
	return strstr(line, want) != NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
	madvise(late, AREA, MADV_WIPEONFORK);
}

int main(int argc, char **argv)
{
	int with_late = argc > 1 && strcmp(argv[1], "late") == 0;
	seed = tf_seed();
	char *dontfork = guarded();
	fill(dontfork, 1);
	char *wipe = guarded();
	fill(wipe, 2);
	if (madvise(dontfork, AREA, MADV_DONTFORK) != 0 || madvise(wipe, AREA, MADV_WIPEONFORK) != 0)
		tf_die("madvise");
	char *shared = mmap(NULL, AREA, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		tf_die("mmap shared");
	fill(shared, 3);
	if (with_late) {
		late = guarded();
		fill(late, 4);
		struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGUSR1, &sa, NULL) != 0)
			tf_die("sigaction");
	}

	tf_ready();
	tf_wait_go();

	tf_check(misses(dontfork, 1) == 0, "%zu words of the MADV_DONTFORK area differ", misses(dontfork, 1));
	tf_check(misses(wipe, 2) == 0, "%zu words of the MADV_WIPEONFORK area differ", misses(wipe, 2));
	tf_check(misses(shared, 3) == 0, "%zu words of the MAP_SHARED area differ", misses(shared, 3));
	tf_check(has_flag(dontfork, "dc"), "the MADV_DONTFORK area is not marked dc any more");
	tf_check(has_flag(wipe, "wf"), "the MADV_WIPEONFORK area is not marked wf any more");
	if (with_late) {
		tf_check(misses(late, 4) == 0, "%zu words of the area marked late differ", misses(late, 4));
		tf_check(has_flag(late, "wf"), "the area marked MADV_WIPEONFORK late is not marked wf");
	}
	pid_t child = fork();
	if (child < 0)
		tf_die("fork");
	if (child == 0)
		_exit(nonzero(wipe) == 0 && misses(shared, 3) == 0 ? 0 : 1);
	int status;
	tf_check(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		 "a fork does not find the wipe-on-fork area zero and the shared area as written (status 0x%x)", status);
	return tf_finish();
}
