/* E2E workload: single-threaded, prints an increasing number every second on stdout and appends it
 * (one line per number) to a file kept open for the whole run.
 *   counter [FILE] [START] [COUNT]   FILE defaults to $COUNTER_FILE, then /data/counter.log; START to
 *                                    0; with COUNT, prints COUNT numbers (no sleep after the last)
 *                                    and exits: `counter /dev/null 41 1` is a cheap exec probe.
 * Exits promptly on SIGTERM/SIGINT (it usually runs as a container's PID 1, which has no default
 * signal actions). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void on_term(int sig) { (void)sig; _exit(0); }

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : getenv("COUNTER_FILE");
    if (!path || !*path) path = "/data/counter.log";
    long n = argc > 2 ? atol(argv[2]) : 0;
    long count = argc > 3 ? atol(argv[3]) : -1;
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) { perror(path); /* keep counting on stdout anyway */ }
    for (;; n++) {
        char line[32];
        int len = snprintf(line, sizeof line, "%ld\n", n);
        if (write(1, line, len) < 0) {}
        if (fd >= 0 && write(fd, line, len) != len) perror("write");
        if (count > 0 && --count == 0) return 0;
        struct timespec ts = {1, 0};
        while (nanosleep(&ts, &ts) != 0) {}
    }
}
