/* E2E workload with a lot of memory: fills MIB mebibytes with pseudo-random bytes (incompressible, so
 * a dump takes seconds), then counts like counter.c on stdout, once a second, starting at 0, each number
 * followed by the word at index K * 1048573 mod N (N words): a test that knows the generator checks,
 * line by line, memory spread over the whole area.
 *   memhog MIB
 * Exits on SIGTERM/SIGINT. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void on_term(int sig) { (void)sig; _exit(0); }

int main(int argc, char **argv) {
    long mib = argc > 1 ? atol(argv[1]) : 256;
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    size_t n = (size_t)mib << 17; /* 64-bit words */
    uint64_t *p = malloc(n * sizeof *p), x = 88172645463325252ull;
    if (!p) { perror("malloc"); return 1; }
    for (size_t i = 0; i < n; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; p[i] = x; }
    printf("filled %ld MiB\n", mib); fflush(stdout);
    for (long k = 0;; k++) {
        printf("%ld %lx\n", k, (unsigned long)p[(size_t)k * 1048573 % n]); fflush(stdout);
        struct timespec ts = {1, 0};
        while (nanosleep(&ts, &ts) != 0) {}
    }
}
