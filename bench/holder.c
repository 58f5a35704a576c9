/*
 * holder MIB [THREADS [write]]: the benchmark's target process. Fills MIB MiB of anonymous memory with
 * pseudo-random (incompressible) data, starts THREADS - 1 more threads (default 1 thread in all) that
 * wait in pause(), prints READY and waits in pause() until killed.
 * With "write", the main thread instead writes one word of every page, pass after pass, and prints
 * "pass START_NS END_NS" (CLOCK_REALTIME) after each: what the process pays while a twin lives.
 * With "tick", it counts in the first word of its memory and prints "tick NS COUNT" (CLOCK_REALTIME)
 * every millisecond: the longest gap between two ticks is the downtime of a migration.
 * HOLDER_THP=1 in the environment asks for transparent huge pages (MADV_HUGEPAGE) before the fill.
 * Compiled by bench/run.sh and bench/freeze.sh.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *waiter(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	size_t size = (size_t)strtoul(argc > 1 ? argv[1] : "64", NULL, 10) << 20;
	long threads = argc > 2 ? strtol(argv[2], NULL, 10) : 1;
	uint64_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("holder: mmap");
		return 1;
	}
	const char *thp = getenv("HOLDER_THP");
	if (thp && strcmp(thp, "1") == 0 && madvise(p, size, MADV_HUGEPAGE) != 0) {
		perror("holder: madvise(MADV_HUGEPAGE)");
		return 1;
	}
	uint64_t x = 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid();
	for (size_t i = 0; i < size / 8; i++) { /* xorshift64 */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x;
	}
	for (long t = 1; t < threads; t++) {
		pthread_t id;
		if (pthread_create(&id, NULL, waiter, NULL) != 0) {
			perror("holder: pthread_create");
			return 1;
		}
	}
	if (write(1, "READY\n", 6) != 6)
		return 1;
	if (argc > 3 && strcmp(argv[3], "write") == 0) {
		setvbuf(stdout, NULL, _IOLBF, 0);
		for (;;) {
			struct timespec a, b;
			clock_gettime(CLOCK_REALTIME, &a);
			for (size_t i = 0; i < size / 8; i += 4096 / 8)
				p[i]++;
			clock_gettime(CLOCK_REALTIME, &b);
			printf("pass %lld %lld\n", (long long)a.tv_sec * 1000000000LL + a.tv_nsec,
			       (long long)b.tv_sec * 1000000000LL + b.tv_nsec);
		}
	}
	if (argc > 3 && strcmp(argv[3], "tick") == 0) {
		setvbuf(stdout, NULL, _IOLBF, 0);
		p[0] = 0;
		for (;;) {
			struct timespec t, ms = {0, 1000000};
			p[0]++;
			clock_gettime(CLOCK_REALTIME, &t);
			printf("tick %lld %llu\n", (long long)t.tv_sec * 1000000000LL + t.tv_nsec,
			       (unsigned long long)p[0]);
			nanosleep(&ms, NULL);
		}
	}
	for (;;)
		pause();
}
