/* E2E workload: a multi-threaded counter. Two worker threads count in a loop of 10 ms sleeps; each
 * second the main thread prints an increasing number if every worker is still reachable through
 * pthread_kill (glibc sends to the thread ID it cached at pthread_create, so a thread restored with
 * another ID is unreachable), still has the ID it started with (gettid) and counted meanwhile; else a
 * line "bad N: ...".
 *   threads [START]
 * Exits promptly on SIGTERM/SIGINT (it runs as a container's PID 1, which has no default signal actions). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 2

static volatile long counts[WORKERS];
static volatile pid_t first_tid[WORKERS];
static volatile pid_t now_tid[WORKERS];

static void on_term(int sig) { (void)sig; _exit(0); }

static void *work(void *arg) {
    long i = (long)arg;
    first_tid[i] = (pid_t)syscall(SYS_gettid);
    for (;;) {
        now_tid[i] = (pid_t)syscall(SYS_gettid);
        counts[i]++;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 0;
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    pthread_t t[WORKERS];
    long last[WORKERS] = {0};
    for (long i = 0; i < WORKERS; i++)
        if (pthread_create(&t[i], NULL, work, (void *)i) != 0) { perror("pthread_create"); return 1; }
    for (;; n++) {
        struct timespec ts = {1, 0};
        while (nanosleep(&ts, &ts) != 0) {}
        char line[200];
        int len = 0, ok = 1;
        for (int i = 0; i < WORKERS; i++) {
            int r = pthread_kill(t[i], 0);
            long c = counts[i];
            if (r != 0 || now_tid[i] != first_tid[i] || c == last[i]) {
                ok = 0;
                len = snprintf(line, sizeof line, "bad %ld: worker %d: pthread_kill %s, tid %d then %d, count %ld\n",
                               n, i, strerror(r), (int)first_tid[i], (int)now_tid[i], c);
                if (write(1, line, len) < 0) {}
            }
            last[i] = c;
        }
        if (ok) {
            len = snprintf(line, sizeof line, "%ld\n", n);
            if (write(1, line, len) < 0) {}
        }
    }
}
